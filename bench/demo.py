#!/usr/bin/env python3
"""Benchmark the demo simulator: where a simulated day's CPU goes.

    DAIHOU_DATA_KEY=… python bench/demo.py --loans 10000 --days 120
    python bench/demo.py --loans 800 --days 92 --seed 7    # the calibration test's book

Runs ``daihou.demo.run.run_simulation`` on a fresh SQLite file and prints the summary,
then the wall and CPU seconds of the whole run and this process's CPU seconds per part
of the day (``SimSummary.cpu``): borrowers (deciding the payments), payments (posting
the batch file), end of day, collections run, messages (outbox worker), collectors
(working the task lists through the gate and the contact log) and supervisor (referrals,
placements, plans, waivers, complaints). SQLite works in-process, so its time is in the
CPU figures. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from daihou.compliance.privacy.crypto import (
    KeyNotConfigured,
    Keyring,
    current_keyring,
    install_keyring,
)
from daihou.demo.run import run_simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ci", action="store_true", help="150 loans × 10 days")
    args = parser.parse_args()
    if args.ci:
        args.loans, args.days = 150, 10
    try:
        current_keyring()
    except KeyNotConfigured:  # a throwaway database: a throwaway data key
        install_keyring(Keyring.generate())
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_simulation(
            f"sqlite:///{Path(tmp) / 'demo.db'}", loans=args.loans, days=args.days, seed=args.seed
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for label, value in summary.rows():
        print(f"{label:24} {value}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{args.loans} loans × {args.days} days: wall {wall:.1f} s, CPU {cpu:.1f} s (load {load})"
    )
    days = sum(summary.cpu.values())
    print(f"building the world: CPU {cpu - days:.1f} s")
    for part, seconds in sorted(summary.cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {part:16} CPU {seconds:7.1f} s  {seconds / days:6.1%}")


if __name__ == "__main__":
    main()
