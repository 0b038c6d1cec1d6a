"""``enqueue_rows``: many prepared messages in one statement, and the id of each key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from daihou.db.engine import transaction
from daihou.notify.models import OutboxMessage
from daihou.notify.outbox import build_row, enqueue_rows
from tests.notify.conftest import SMS_ZH, VARS, add_customers, make_template


def _row(session: Any, customer_id: str, key: str) -> dict[str, Any]:
    return build_row(
        session,
        customer_id=customer_id,
        loan_id="L1",
        case_id=None,
        channel="sms",
        purpose="collection",
        template="overdue",
        language="zh-CN",
        variables=VARS,
        dedupe_key=key,
    )


def test_ids_are_the_stored_ones_for_new_and_already_queued_keys(engine: Engine) -> None:
    make_template(engine, channel="sms", name="overdue", body=SMS_ZH)
    a, b = add_customers(engine, 2)
    with transaction(engine) as s:
        first = enqueue_rows(s, [_row(s, a, "k-a")])
    assert first.new == 1
    with transaction(engine) as s:
        rows = [_row(s, a, "k-a"), _row(s, b, "k-b"), _row(s, b, "k-b"), _row(s, a, "k-c")]
        again = enqueue_rows(s, rows)
    with transaction(engine) as s:
        stored = dict(s.execute(select(OutboxMessage.dedupe_key, OutboxMessage.id)).tuples().all())
    assert again.ids == stored and first.ids == {"k-a": stored["k-a"]}
    # the new rows keep the ids drawn for them; a repeated key: the first row wins
    assert again.new == 2
    assert stored["k-b"] == rows[1]["id"] and stored["k-c"] == rows[3]["id"]
    assert stored["k-a"] != rows[0]["id"]
    with transaction(engine) as s:
        assert enqueue_rows(s, []) == ({}, 0)
