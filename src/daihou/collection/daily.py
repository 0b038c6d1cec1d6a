"""The steps every daily collections run takes after its tasks (the default of
``run_collections``' ``hooks``), kept here so ``run.py`` imports them lazily and the
step modules may import what they need without a cycle.

- ``messages``: planned SMS, e-mail and letter treatments become outbox messages
  (``daihou.collection.outbox_link.queue_messages``).
"""

from __future__ import annotations

from daihou.collection.outbox_link import queue_messages
from daihou.collection.run import Hook

DEFAULT_STEPS: list[tuple[str, Hook]] = [("messages", queue_messages)]
