"""kill -9 at random points: every restart ends in the state and ledger of a clean run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine

from daihou.db.engine import transaction
from daihou.ledger.service import trial_balance
from tests.eod.helpers import book_state, eod, today
from tests.eod.test_equivalence import START, make_book

DAYS = 60
KILLS = 20

RUNNER = """
import sys
from datetime import date
from daihou.db.engine import make_engine
from daihou.eod.runner import run_eod
print("ready", flush=True)
run_eod(make_engine(sys.argv[1]), through=date.fromisoformat(sys.argv[2]))
"""


def test_killed_end_of_day_resumes_to_the_clean_state(
    engine: Engine, other_engine: Engine, tmp_path: Path
) -> None:
    loans = make_book(engine, tmp_path, seed=21, n=20)
    make_book(other_engine, tmp_path, seed=21, n=20)
    end = START + timedelta(days=DAYS)
    eod(other_engine, end)  # the clean run
    url = engine.url.render_as_string(hide_password=False)
    rng = random.Random(7)
    kills = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    while today(engine) <= end:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, url, end.isoformat()], env=env, stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        if kills < KILLS:  # kill while it works: inside a step, between steps, at close
            time.sleep(rng.uniform(0.01, 0.25))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        assert proc.wait(timeout=600) in (0, -signal.SIGKILL)
    assert kills >= KILLS
    dates = [START + timedelta(days=k) for k in range(DAYS + 1)]
    crashed, clean = book_state(engine, loans, dates), book_state(other_engine, loans, dates)
    assert crashed == clean
    with transaction(engine) as s:
        tb_crashed = [(r.account, r.debit, r.credit) for r in trial_balance(s).rows]
    with transaction(other_engine) as s:
        assert tb_crashed == [(r.account, r.debit, r.credit) for r in trial_balance(s).rows]
    assert today(engine) == end + timedelta(days=1) == date.fromordinal(end.toordinal() + 1)
