"""National scale: cost and memory per referral at 387 hubs against the 9-hub default.

The national scenario is the default's nine hubs copied 43 times (one copy per force of
England and Wales: 387 hubs), the force-wide demand scaled to --referrals-per-day
(default 8,000 a day, ≈2.9 M a year; ≈186 a day per copy against the default's 180, so
each hub's load is within 4 % of the default's), every other setting as the default's.
One replication (`simulate(..., replications=1)`, metrics included) of each case:

- default     the 9-hub default scenario, run for --days (365) with no warm-up;
- N hubs      the copied scenario (--copies 43 → 387 hubs), same run length;
- summer_2023 the summer scenario as shipped (150 days, no warm-up), whose overtime
              controller the default does not use.

Each run is a fresh child process (so its peak resident memory is its own) and prints
its CPU time (time.process_time) and wall time, µs of CPU per referral, and peak bytes
per referral: the growth of the child's peak resident set size (ru_maxrss) during the
run, over the referrals that arrived (a day of M/M/c runs first, untimed, so that lazy
imports count in neither). Then the ratios of issue 16: per-referral cost at
N hubs over the default's (target ≤ 1.2), bytes per referral (target ≤ 300), and
summer_2023's per-referral cost over the default's (target ≤ 1.3).

    python benchmarks/national.py                    # 9 hubs, 387 hubs, summer_2023
    python benchmarks/national.py --copies 20 43     # 180 and 387 hubs
    python benchmarks/national.py --repeats 2        # interleaved rounds, best kept
    python benchmarks/national.py --quick            # 18 hubs, 14 days: that it works
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mashsim import Scenario, default_scenario_path, load_scenario, simulate
from mashsim.validation import mmc_scenario

FORCES = 43  # police forces in England and Wales: 43 × 9 = 387 hubs
SUMMER = Path(default_scenario_path()).with_name("summer_2023.toml")
TARGET_HUBS_RATIO, TARGET_BYTES, TARGET_SUMMER_RATIO = 1.2, 300.0, 1.3  # issue 16


def national_scenario(base: Scenario, copies: int, referrals_per_day: float) -> Scenario:
    """`base`'s hubs copied `copies` times (hub_00, hub_01, ...), demand shares as they
    are, force-wide demand set to `referrals_per_day`."""
    data = base.to_dict()
    hubs = data["hubs"]
    data["hubs"] = {f"{name}_{k:02d}": copy.deepcopy(spec)
                    for k in range(copies) for name, spec in hubs.items()}
    data["arrivals"]["referrals_per_day"] = referrals_per_day
    data["name"] = f"{base.name} × {copies} ({len(data['hubs'])} hubs)"
    return Scenario.from_dict(data, source=f"national_scenario(copies={copies})")


def case_scenario(case: str, days: float, referrals_per_day: float) -> Scenario:
    """'default', 'summer_2023' (as shipped) or 'copies=N', built the same way in every
    process."""
    if case == "summer_2023":
        return load_scenario(SUMMER)
    base = load_scenario(default_scenario_path()).with_overrides(
        {"run.duration_days": days, "run.warmup_days": 0.0})
    if case == "default":
        return base
    copies = int(case.removeprefix("copies="))
    return national_scenario(base, copies, referrals_per_day * copies / FORCES)


# ------------------------------------------------------------------ the child process


def maxrss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes
    on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure(case: str, args: argparse.Namespace) -> dict[str, float]:
    """One replication of `case` here; the scenario is built before the clocks start."""
    sc = case_scenario(case, args.days, args.referrals_per_day)
    # A day of M/M/c first: the imports and first calls the engine makes lazily are
    # neither the run's time nor its memory (its own peak is far below the run's).
    simulate(mmc_scenario(9.0, 1.0, 10, horizon_hours=24.0, warmup_hours=0.0), 1)
    gc.collect()
    rss0, cpu0, wall0 = maxrss_bytes(), time.process_time(), time.perf_counter()
    res = simulate(sc, replications=1, seed=args.seed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"hubs": len(sc.hubs), "days": sc.run.duration_days,
            "referrals": res.runs[0].metrics["overall"]["referrals_arrived"],
            "cpu_s": cpu, "wall_s": wall, "peak_growth_bytes": maxrss_bytes() - rss0}


def in_child(case: str, args: argparse.Namespace) -> dict[str, float]:
    """`measure` in a fresh interpreter, so the peak memory is this run's alone."""
    cmd = [sys.executable, __file__, "--child", case, "--days", str(args.days),
           "--referrals-per-day", str(args.referrals_per_day), "--seed", str(args.seed)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.splitlines()[-1])


# ------------------------------------------------------------------ the table


@dataclass
class Case:
    label: str
    hubs: int = 0
    days: float = 0.0
    referrals: float = 0.0
    cpu_s: float = math.inf
    wall_s: float = math.inf
    peak_bytes: float = math.inf

    def keep_best(self, m: dict[str, float]) -> None:
        self.hubs, self.days, self.referrals = int(m["hubs"]), m["days"], m["referrals"]
        self.cpu_s, self.wall_s = min(self.cpu_s, m["cpu_s"]), min(self.wall_s, m["wall_s"])
        self.peak_bytes = min(self.peak_bytes, m["peak_growth_bytes"])

    @property
    def us_per_referral(self) -> float:
        return 1e6 * self.cpu_s / self.referrals

    @property
    def bytes_per_referral(self) -> float:
        return self.peak_bytes / self.referrals


def print_table(cases: dict[str, Case]) -> None:
    print(f"  {'case':<13}{'hubs':>6}{'days':>6}{'referrals':>11}{'CPU s':>9}{'wall s':>9}"
          f"{'µs/referral':>13}{'peak MiB':>10}{'bytes/referral':>16}")
    for c in cases.values():
        print(f"  {c.label:<13}{c.hubs:>6}{c.days:>6g}{c.referrals:>11,.0f}{c.cpu_s:>9.2f}"
              f"{c.wall_s:>9.2f}{c.us_per_referral:>13.1f}{c.peak_bytes / 2**20:>10.1f}"
              f"{c.bytes_per_referral:>16,.0f}")


def print_ratios(cases: dict[str, Case]) -> None:
    base = cases["default"]
    for key, c in cases.items():
        if key.startswith("copies="):
            print(f"  per-referral cost, {c.hubs} hubs / 9 hubs: "
                  f"{c.us_per_referral / base.us_per_referral:.2f}  "
                  f"(target <= {TARGET_HUBS_RATIO:g})")
    for c in cases.values():
        print(f"  peak bytes per referral, {c.label}: {c.bytes_per_referral:,.0f}  "
              f"(target <= {TARGET_BYTES:g})")
    if "summer_2023" in cases:
        ratio = cases["summer_2023"].us_per_referral / base.us_per_referral
        print(f"  per-referral cost, summer_2023 / default: {ratio:.2f}  "
              f"(target <= {TARGET_SUMMER_RATIO:g})")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, nargs="+", default=[FORCES],
                    help=f"copies of the default's 9 hubs (default {FORCES}: 387 hubs)")
    ap.add_argument("--days", type=float, default=365.0, help="run length (default 365)")
    ap.add_argument("--referrals-per-day", type=float, default=8000.0,
                    help=f"force-wide demand at {FORCES} copies, scaled with --copies")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved rounds; best kept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-summer", action="store_true", help="leave summer_2023 out")
    ap.add_argument("--quick", action="store_true",
                    help="2 copies (18 hubs), 14 days (summer_2023 as shipped): "
                         "that it works, not figures")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # one measurement, as a JSON line, for the parent
        print(json.dumps(measure(args.child, args)))
        return 0
    if args.quick:
        args.copies, args.days, args.repeats = [2], 14.0, 1

    keys = ["default", *(f"copies={k}" for k in args.copies)]
    keys += [] if args.no_summer else ["summer_2023"]
    cases = {k: Case(k if not k.startswith("copies=") else f"{9 * int(k[7:])} hubs")
             for k in keys}
    print(f"one replication each, metrics included, {args.days:g} days (summer_2023: "
          f"as shipped), best of {args.repeats} interleaved rounds; CPU time of a child "
          f"process each")
    for _ in range(args.repeats):
        for key, case in cases.items():
            case.keep_best(in_child(key, args))
    print_table(cases)
    print_ratios(cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
