"""Notifications (通知): the transactional outbox, the worker, SMS/e-mail channels,
delivery receipts and message templates. Documents (PDF) live in ``daihou.documents``.

``enqueue`` is the entry point for the code that decides a message should go out.
"""

from __future__ import annotations

from daihou.notify.outbox import cancel, enqueue, retry

__all__ = ["cancel", "enqueue", "retry"]
