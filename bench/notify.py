#!/usr/bin/env python3
"""Benchmark notifications: N payment reminders queued, then delivered by the worker
through the contact gate to a local SMS sink.

    python bench/notify.py                      # 100,000 reminders, temporary SQLite
    python bench/notify.py --db postgresql://postgres@127.0.0.1:5432/test
    python bench/notify.py --ci                 # 2,000: proves it works

The sink is a JSON-over-HTTP gateway in a separate process (stdlib ``http.server``,
keep-alive) that counts the requests it receives per idempotency key. Prints figures
only — nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import func, insert, select, text

from daihou.auth.actor import Actor
from daihou.compliance.gate.models import ContactAttempt
from daihou.compliance.language.models import MessageTemplate
from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    Keyring,
    current_keyring,
    install_keyring,
)
from daihou.db.engine import database_url, make_engine, transaction
from daihou.db.models import Base
from daihou.loans.models import Customer
from daihou.notify.models import OutboxMessage
from daihou.notify.outbox import build_row, enqueue_rows
from daihou.notify.settings import NotifySettings
from daihou.notify.templates import activate, add_template, preview_template
from daihou.notify.worker import Worker

SINK = r"""
import json, sys, threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
posts = Counter(); lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def reply(self, data):
        body = json.dumps(data).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        with lock:
            posts[key] += 1
        self.reply({"message_id": "P" + key[:12]})
    def do_GET(self):
        with lock:
            self.reply({"requests": sum(posts.values()), "keys": len(posts),
                        "max_per_key": max(posts.values(), default=0)})
    def log_message(self, *a):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H); server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""

OFFICER = Actor(user_id="bench", roles=frozenset({"compliance-officer"}))
BODY = "{{ name }}您好，您的贷款{{ loan_id }}将于{{ due_date }}到期，应还{{ amount | money }}元。"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ci", action="store_true", help="2,000 messages: proves it works")
    args = parser.parse_args(argv)
    if args.ci:
        args.messages = 2_000
    try:
        current_keyring()
    except KeyNotConfigured:
        install_keyring(Keyring.generate())

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    with tempfile.TemporaryDirectory(prefix="daihou-bench-") as tmp:
        url = args.db or f"sqlite:///{tmp}/bench.db"
        schema = admin = None
        if database_url(url).startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            base = database_url(url)
            url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        try:
            Base.metadata.create_all(engine)
            n = args.messages
            started = time.perf_counter()
            with transaction(engine) as s:
                for start in range(0, n, 10_000):
                    s.execute(
                        insert(Customer),
                        [
                            {
                                "id": f"C{i:07d}",
                                "name": "王小明",
                                "id_number": "110101199001011234",
                                "phone": f"139{i:08d}",
                            }
                            for i in range(start, min(n, start + 10_000))
                        ],
                    )
                t = add_template(
                    s, channel="sms", language="zh-CN", name="due-3", body=BODY, actor=OFFICER
                )
                preview_template(s, t.id, actor=OFFICER)
                activate(s, t.id, actor=OFFICER)
            print(f"setup: {n:,} customers in {time.perf_counter() - started:.1f} s")

            started = time.perf_counter()
            cpu_queue = _cpu(resource.RUSAGE_SELF)
            due = datetime.now(UTC).date() + timedelta(days=3)
            cache: dict[tuple[str, str, str], MessageTemplate] = {}
            with transaction(engine) as s:
                for start in range(0, n, 5_000):
                    rows = [
                        build_row(
                            s,
                            customer_id=f"C{i:07d}",
                            loan_id=None,
                            case_id=None,
                            channel="sms",
                            purpose="reminder",
                            template="due-3",
                            language="zh-CN",
                            variables={
                                "name": "王*",
                                "loan_id": f"L{i:07d}",
                                "due_date": due.isoformat(),
                                "amount": "1234.56",
                            },
                            dedupe_key=f"due-3:L{i:07d}:{due}",
                            templates=cache,
                        )
                        for i in range(start, min(n, start + 5_000))
                    ]
                    enqueue_rows(s, rows)
            queued = time.perf_counter() - started
            cpu_queue = _cpu(resource.RUSAGE_SELF) - cpu_queue

            settings = NotifySettings.model_validate(
                {
                    "sms": {"url": f"http://127.0.0.1:{port}/sms"},
                    "batch_size": args.batch,
                    "concurrency": args.concurrency,
                }
            )
            tomorrow = datetime.now(UTC).date() + timedelta(days=1)
            at = datetime.combine(tomorrow, clock_time(2, 0), UTC)  # 10:00 in Shanghai
            worker = Worker(engine=engine, settings=settings, clock=lambda: at)
            started = time.perf_counter()
            cpu_before = _cpu(resource.RUSAGE_SELF)
            stats = worker.run_once()
            delivered = time.perf_counter() - started
            cpu_worker = _cpu(resource.RUSAGE_SELF) - cpu_before
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/count") as answer:
                sink_counts = json.loads(answer.read())
            with transaction(engine) as s:
                sent = s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "sent")
                )
                attempts = s.scalar(select(func.count()).select_from(ContactAttempt))
        finally:
            engine.dispose()
            sink.terminate()
            sink.wait()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

    total = queued + delivered
    print(f"database:        {engine.dialect.name}")
    print(f"messages:        {n:,}")
    print(f"queue:           {queued:.2f} s ({n / queued:,.0f}/s, rendered + inserted)")
    print(
        f"deliver:         {delivered:.2f} s ({n / delivered:,.0f}/s; batch {args.batch}, "
        f"{args.concurrency} in flight; gate check + attempt per message)"
    )
    print(f"total:           {total:.2f} s")
    print(f"worker stats:    {stats.as_dict()}")
    print(f"sent (table):    {sent:,}; contact attempts recorded: {attempts:,}")
    print(
        f"sink:            {sink_counts['requests']:,} requests, {sink_counts['keys']:,} keys, "
        f"at most {sink_counts['max_per_key']} per key"
    )
    cpu_sink = _cpu(resource.RUSAGE_CHILDREN)
    print(
        f"cpu seconds:     queue {cpu_queue:.2f}, worker {cpu_worker:.2f} "
        f"(SQL client, gate, HTTP client), sink {cpu_sink:.2f} (its own process)"
    )
    print(
        f"on 2 idle cores: about {cpu_queue + max(cpu_worker, (cpu_worker + cpu_sink) / 2):.1f} s "
        "CPU-bound estimate (queue + deliver, worker and sink in parallel; database "
        "server time on PostgreSQL not included)"
    )
    print(f"load average:    {os.getloadavg()[0]:.2f} (other work on the machine skews)")
    return 0 if sent == n and sink_counts["max_per_key"] == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
