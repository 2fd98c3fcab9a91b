"""The issue-16 benchmarks run (in --quick mode) so they never rot; speed is not asserted.

Each script runs as a user would run it, in a fresh interpreter with this checkout on the
path, and must exit 0 and print the rows and ratios its README promises.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_engine_benchmark_quick() -> None:
    out = run_quick("engine.py")
    for model in ("mashsim", "tuned simpy", "minimal simpy", "exact FCFS"):
        assert f"\n  {model} " in out, out
    assert "mashsim/model" in out and "(target >= 1)" in out
    # the three hand-written models share their draws: their waits must be equal
    assert "waits equal referral by referral" in out, out
    assert "Erlang C: 0.6687" in out  # M/M/10, rho = 0.9
    has_ciw = importlib.util.find_spec("ciw") is not None
    ciw_row = re.search(r"\n  Ciw +[\d,]+ ", out) is not None  # a timed row, not the note
    assert ciw_row == has_ciw and ("Ciw left out" in out) != has_ciw, out


def test_national_benchmark_quick() -> None:
    out = run_quick("national.py")
    for row in ("default ", "18 hubs ", "summer_2023 "):
        assert f"\n  {row}" in out, out
    assert "per-referral cost, 18 hubs / 9 hubs:" in out
    assert "peak bytes per referral, 18 hubs:" in out
    assert "per-referral cost, summer_2023 / default:" in out


def test_plan_benchmark_quick() -> None:
    out = run_quick("plan.py")
    assert "\n  fixed 20 " in out and "\n  sequential " in out, out
    assert "replications, fixed / sequential:" in out


def test_fixed_cost_benchmark_quick() -> None:
    out = run_quick("fixed_cost.py")
    for phase in ("draws", "streams", "queues", "staff", "loop", "records", "metrics",
                  "total"):
        assert f"\n  {phase} " in out, out
    assert "fixed ms" in out and "µs/referral" in out
