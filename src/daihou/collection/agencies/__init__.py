"""Outsourcing agencies (委外): registry, placement batches, recall, recoveries and
commission, KPIs and ranking, and the agency users' view of their cases."""
