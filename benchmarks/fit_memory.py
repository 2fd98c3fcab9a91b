"""Time and peak memory of `mashsim fit` on a large synthetic event log.

    python benchmarks/fit_memory.py              # 1,000,000 rows (and 100,000 to compare)
    python benchmarks/fit_memory.py --rows 200000

Each fit runs in a fresh process so that its peak resident memory (ru_maxrss) is its own.
The log is synthetic (a year of referrals from three hubs with known distributions), so
no simulation is needed to make a million rows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mashsim import default_scenario_path
from mashsim.calibrate.eventlog import epoch_hours, write_event_log

CHILD = """
import resource, sys, time
from mashsim.calibrate.fit import fit_event_log
t0 = time.perf_counter()
res = fit_event_log(sys.argv[1], sys.argv[2])
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      res.summary["log"]["referrals_used"])
"""


def synthetic_log(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = epoch_hours(pd.Timestamp("2024-01-01").date())
    hubs = ["oxfordshire", "reading", "slough"]

    def frames():
        done = 0
        while done < n:
            m = min(100_000, n - done)
            created = np.sort(rng.uniform(0, 365 * 24, m)) + start
            dec = created + rng.gamma(2, 20, m)
            yield pd.DataFrame({
                "referral_id": [f"x{done + i}" for i in range(m)],
                "hub": rng.choice(hubs, m),
                "referral_type": rng.choice(["domestic_abuse", "child", "vulnerable_adult"], m),
                "grade": rng.integers(0, 3, m).astype(np.int8), "created": created,
                "officer": created + rng.lognormal(3, 1, m), "staff_start": (created + dec) / 2,
                "decision": dec, "sd": np.where(rng.random(m) < 0.05, dec + 10, np.nan),
                "shared": (rng.random(m) < 0.7).astype(float),
                "handling_minutes": rng.triangular(15, 25, 45, m)})
            done += m

    write_event_log(path, frames())


def measure(path: Path) -> tuple[float, float, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(default_scenario_path())],
                         capture_output=True, text=True, check=True)
    secs, kib, used = out.stdout.split()
    return float(secs), int(kib) / 1024.0, int(used)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--compare", type=int, default=100_000, help="smaller log to compare")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for n in (args.compare, args.rows):
            path = Path(tmp) / f"log_{n}.csv"
            t0 = time.perf_counter()
            synthetic_log(path, n)
            made = time.perf_counter() - t0
            secs, mib, used = measure(path)
            results[n] = (secs, mib)
            print(f"{n:>9,} rows ({path.stat().st_size / 2**20:,.0f} MiB CSV, written in "
                  f"{made:.1f} s): fit {secs:.1f} s ({n / secs:,.0f} rows/s), peak RSS "
                  f"{mib:.0f} MiB, {used:,} referrals used")
        (s0, m0), (s1, m1) = results[args.compare], results[args.rows]
        print(f"rows ×{args.rows / args.compare:.0f}: time ×{s1 / s0:.1f}, peak memory "
              f"×{m1 / m0:.2f} (+{(m1 - m0) * 2**20 / (args.rows - args.compare):.0f} "
              "bytes per extra row)")


if __name__ == "__main__":
    main()
