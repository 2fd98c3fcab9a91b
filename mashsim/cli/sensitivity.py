"""`mashsim sensitivity`: which inputs move a metric most (Morris or Sobol, with SALib)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mashsim.cli.common import (
    add_replication_options,
    add_scenario_options,
    interruptible,
    load_with_overrides,
    positive_int,
    prepare_run,
)
from mashsim.errors import ScenarioError
from mashsim.experiment.runner import replication_runner
from mashsim.experiment.sensitivity import (
    METHODS,
    Vary,
    check_inputs,
    design,
    parse_vary,
    run_sensitivity,
)

__all__ = ["parse_varies", "register"]

DEFAULT_TRAJECTORIES = 10
DEFAULT_SAMPLES = 64


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sensitivity", help="rank the inputs that move a metric most (Morris or Sobol)",
        description="Vary each --vary KEY=LOW:HIGH (a dotted scenario path, as --set takes) "
                    "over its range, run every point with the same replications and seed, "
                    "and rank the inputs by Morris mu* or Sobol ST; --out DIR also writes "
                    "sensitivity.json and a tornado chart, tornado.png.")
    add_scenario_options(p, scenario_optional=True)
    add_replication_options(p, default=2)
    p.add_argument("--vary", action="append", default=[], metavar="KEY=LOW:HIGH",
                   help="an input and its range, e.g. arrivals.referrals_per_day=150:210 "
                        "(repeatable; at least one)")
    p.add_argument("--metric", default="sd_breach_72h",
                   help="the force-wide metric to explain (default sd_breach_72h)")
    p.add_argument("--method", choices=METHODS, default="morris",
                   help="morris (screening, cheap; default) or sobol (variance shares)")
    p.add_argument("--trajectories", type=positive_int, default=DEFAULT_TRAJECTORIES,
                   metavar="N", help="Morris trajectories (points: N × (inputs + 1); "
                                     f"default {DEFAULT_TRAJECTORIES})")
    p.add_argument("--samples", type=positive_int, default=DEFAULT_SAMPLES, metavar="N",
                   help="Sobol base samples, a power of two (points: N × (inputs + 2); "
                        f"default {DEFAULT_SAMPLES})")
    p.set_defaults(handler=_sensitivity)


def parse_varies(texts: list[str], flag: str = "--vary") -> list[Vary]:
    """Every KEY=LOW:HIGH parsed; all problems at once."""
    problems, out = [], []
    for text in texts:
        try:
            out.append(parse_vary(text, flag))
        except ScenarioError as err:
            problems += err.problems
    if problems:
        raise ScenarioError(problems)
    return out


def _sensitivity(args: argparse.Namespace) -> int:
    varies = parse_varies(args.vary)
    scenario = load_with_overrides(args.scenario, args.overrides)
    check_inputs(scenario, varies, args.metric)
    n = args.trajectories if args.method == "morris" else args.samples
    if args.method == "sobol" and n & (n - 1):
        raise ScenarioError([f"--samples {n}: Sobol sampling needs a power of two "
                             f"(e.g. {1 << (n.bit_length() - 1)} or {1 << n.bit_length()})"])
    points = len(design(varies, args.method, n, args.seed))
    workers = prepare_run(args, [scenario], points * args.replications)

    def run() -> int:
        with replication_runner(workers, args.scheduler, args.out, progress=True,
                                delay_s=1.0) as runner:
            result = run_sensitivity(scenario, varies, args.metric, runner, args.method, n,
                                     args.replications, args.seed)
        if args.out is not None:
            write_sensitivity(result, args.out)
        if args.format == "json":
            print(json.dumps(result, indent=2, allow_nan=False))
        else:
            from mashsim.report.sensitivity import format_sensitivity

            print(format_sensitivity(result))
        return 0

    return interruptible(run)


def write_sensitivity(result: dict[str, Any], folder: Path) -> list[Path]:
    """sensitivity.json and tornado.png into `folder`, swapped in as one set."""
    from mashsim._io import atomic_write_bytes, atomic_write_text, output_set
    from mashsim.report.plots import to_png
    from mashsim.report.sensitivity import tornado_chart

    with output_set(folder) as new:
        atomic_write_text(new / "sensitivity.json",
                          json.dumps(result, indent=2, allow_nan=False) + "\n")
        atomic_write_bytes(new / "tornado.png", to_png(tornado_chart(result)))
    return [folder / "sensitivity.json", folder / "tornado.png"]
