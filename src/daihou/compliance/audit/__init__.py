"""Tamper-evident audit trail (审计日志): hash-chained, append-only records.

``service.record`` appends, ``service.verify`` walks the chain; see ``service``.
"""
