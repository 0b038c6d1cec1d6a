"""Compliance: contact gate, language check, personal data, audit trail, complaints."""
