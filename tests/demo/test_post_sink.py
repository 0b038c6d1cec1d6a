"""The demo's local sink hands the day's deliveries over once (``drain``), and keeps
every message it took for a provider look-up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from daihou.collection.run import run_collections
from daihou.db.engine import transaction
from daihou.demo.behaviour import load_behaviour
from daihou.demo.post import DemoPost, LocalSink
from daihou.demo.simulate import SimContext
from daihou.eod.runner import run_eod
from daihou.notify.channels.base import Outgoing
from daihou.notify.models import OutboxMessage
from tests.collection.test_outbox_link import DUE, START, book


def test_drain_gives_what_was_taken_since_the_last_drain() -> None:
    sink = LocalSink()
    for mid in ("m1", "m2"):
        sink.send(Outgoing(mid, "13800138000", "body", None))
    assert sink.drain() == {"m1", "m2"}
    assert sink.drain() == set()
    sink.send(Outgoing("m3", "13800138000", "body", None))
    sink.send(Outgoing("m1", "13800138000", "body", None))  # sent again: the caller decides
    assert sink.drain() == {"m3", "m1"}
    assert set(sink.taken) == {"m1", "m2", "m3"}
    found = sink.lookup("m2")
    assert found is not None and found.provider_message_id == "sink-m2"
    assert sink.lookup("m9") is None


def test_the_days_letters_are_the_ones_the_worker_sent(engine: Engine, tmp_path: Path) -> None:
    """``deliver`` finds the letters by the ids the worker noted: the same letters as
    every letter message the outbox says was sent, each counted once."""
    book(engine, tmp_path)
    d = DUE + timedelta(days=30)  # T+30: letters for L1 and L2
    run_eod(engine, through=d)
    run_collections(engine, d)
    post = DemoPost(tmp_path / "letters")
    ctx = SimContext(seed=1, behaviour=load_behaviour(), start=START)
    post.deliver(engine, d + timedelta(days=1), ctx)
    with transaction(engine) as s:
        sent = set(
            s.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.channel == "letter", OutboxMessage.status == "sent"
                )
            )
        )
    assert len(sent) == 2 and sent <= post.seen and ctx.counts["letter"] == 2
    post.deliver(engine, d + timedelta(days=2), ctx)  # nothing new: counted once
    assert ctx.counts["letter"] == 2
