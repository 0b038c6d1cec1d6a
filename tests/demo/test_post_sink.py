"""The demo's local sink hands the day's deliveries over once (``drain``), and keeps
every message it took for a provider look-up."""

from __future__ import annotations

from daihou.demo.post import LocalSink
from daihou.notify.channels.base import Outgoing


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
