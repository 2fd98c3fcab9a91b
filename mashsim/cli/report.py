"""`mashsim report`: the self-contained HTML planning report.

Plotting is imported only when the command runs, so `mashsim --help` and `mashsim run`
never load matplotlib.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from mashsim._io import check_writable, output_set
from mashsim.cli.common import (
    RESUME_HELP,
    add_replication_options,
    add_scenario_options,
    interruptible,
    load_with_overrides,
    prepare_run,
)
from mashsim.errors import ScenarioError
from mashsim.experiment.runner import replication_runner
from mashsim.experiment.simulate import simulate
from mashsim.progress import stage

__all__ = ["register"]


def _share(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share such as 0.05 or 5%, got {text!r}"
                                         ) from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (or 0% and 100%), got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="simulate and write a self-contained HTML planning report",
        usage="%(prog)s SCENARIO --out REPORT.html|DIR [--compare OTHER.toml]...\n"
              + " " * 22 + "[--sweep RESULTS] [--breach-target SHARE] [--replications N]\n"
              + " " * 22 + "[--seed S] [--set PATH=VALUE]... [--format table|json] "
              "[--workers N]\n"
              + " " * 22 + "[--scheduler tcp://HOST:PORT] [--force] [--hub HUB]... "
              "[-h]\n"
              + " " * 22 + "[--sensitivity KEY=LOW:HIGH]... [--sensitivity-metric METRIC]"
              + " [--plan]",
        # argparse would show --out as optional
        description="Simulate SCENARIO (and any --compare scenarios, with the same seed) and "
                    "write a self-contained HTML report. --out FILE.html writes one file; "
                    "--out FOLDER writes report.html plus each plot as PNG and each table "
                    "as CSV.")
    add_scenario_options(p)
    add_replication_options(p)
    for action in p._actions:  # same --out flag as `run`, with the report's meaning
        if action.dest == "out":
            action.metavar = "REPORT.html|DIR"
            action.help = ("where to write: a .html file, or a folder for report.html plus "
                           "PNG and CSV files (required)" + RESUME_HELP
                           + " (a folder only: a single .html file keeps nothing)")
        elif action.dest == "format":
            action.help = "what to print on stdout: a line (table) or JSON with the summary"
    p.add_argument("--compare", action="append", default=[], type=Path, metavar="OTHER.toml",
                   help="another scenario to compare with SCENARIO (repeatable); the same "
                        "--set overrides and seed apply to it")
    p.add_argument("--sweep", type=Path, metavar="RESULTS",
                   help="a sweep.csv (or a folder holding one) to chart breach vs headcount")
    p.add_argument("--breach-target", type=_share, default=0.05, metavar="SHARE",
                   help="target line for breach rates, e.g. 0.05 or 5%% (default 5%%)")
    p.add_argument("--hub", action="append", default=None, metavar="HUB",
                   help="a hub to show beside the force in the comparison (repeatable; "
                        "default: every hub whose inputs differ from SCENARIO's)")
    p.add_argument("--sensitivity", action="append", default=[], metavar="KEY=LOW:HIGH",
                   help="an input to rank in a 'Which inputs matter' section (repeatable): "
                        "Morris screening of --sensitivity-metric over these ranges")
    p.add_argument("--sensitivity-metric", default="sd_breach_72h", metavar="METRIC",
                   help="the metric that section explains (default sd_breach_72h)")
    p.add_argument("--plan", action="store_true",
                   help="also run `mashsim plan` (every role of every hub, the scenario's "
                        "[targets]) and open the answer with the plan and its cost")
    p.set_defaults(handler=_report)


def _names(paths: list[Path], base: Path) -> list[str]:
    """Short unique labels from file stems (the baseline's stem is taken first)."""
    seen, out = {base.stem}, []
    for path in paths:
        name, i = path.stem, 2
        while name in seen:
            name, i = f"{path.stem}_{i}", i + 1
        seen.add(name)
        out.append(name)
    return out


def _command(args: argparse.Namespace) -> str:
    """The exact command that reproduces this report (defaults made explicit)."""
    words = ["mashsim", "report", str(args.scenario)]
    for other in args.compare:
        words += ["--compare", str(other)]
    if args.sweep is not None:
        words += ["--sweep", str(args.sweep)]
    words += ["--replications", str(args.replications), "--seed", str(args.seed)]
    for text in args.overrides:
        words += ["--set", text]
    for hub in args.hub or []:
        words += ["--hub", hub]
    for text in args.sensitivity:
        words += ["--sensitivity", text]
    if args.sensitivity and args.sensitivity_metric != "sd_breach_72h":
        words += ["--sensitivity-metric", args.sensitivity_metric]
    if args.breach_target != 0.05:
        words += ["--breach-target", f"{args.breach_target:g}"]
    if getattr(args, "plan", False):
        words += ["--plan"]
    words += ["--out", str(args.out)]
    return shlex.join(words)


def _report(args: argparse.Namespace) -> int:
    if args.out is None:
        raise ScenarioError(["--out: required: a file ending in .html, or a folder"])
    out: Path = args.out
    is_file = out.suffix.lower() in (".html", ".htm")
    check_writable(out)  # a too-long or unwritable name: say so before anything runs
    if is_file and out.is_dir():
        raise ScenarioError([f"--out {out}: is a folder, not an .html file"])
    if not is_file and out.exists() and not out.is_dir():
        raise ScenarioError([f"--out {out}: exists and is not a folder (name a .html file "
                             "to write a single page)"])
    base = load_with_overrides(args.scenario, args.overrides)
    problems = [f"--hub {hub}: no such hub in {args.scenario} (hubs: "
                f"{', '.join(base.hub_names)})" for hub in args.hub or [] if hub not in base.hubs]
    others = []
    for path in args.compare:
        try:
            others.append(load_with_overrides(path, args.overrides))
        except ScenarioError as err:
            problems += err.problems
    sweep = None
    if args.sweep is not None:
        from mashsim.report.plots import read_sweep

        try:
            sweep = read_sweep(args.sweep)
        except ScenarioError as err:
            problems += err.problems
    varies = []
    if args.sensitivity:
        from mashsim.cli.sensitivity import parse_varies
        from mashsim.experiment.sensitivity import check_inputs

        try:
            varies = parse_varies(args.sensitivity, "--sensitivity")
            check_inputs(base, varies, args.sensitivity_metric, "--sensitivity")
        except ScenarioError as err:
            problems += err.problems
    if getattr(args, "plan", False):  # a plan needs the scenario's targets: say so now
        from mashsim.experiment.plan_targets import plan_targets

        if not base.targets:
            problems.append(f"{args.scenario}: targets: --plan meets the scenario's "
                            "[targets]; it has none (e.g. sd_breach_72h = \"<=0.05\")")
        else:
            try:
                plan_targets(base, (), str(args.scenario))
            except ScenarioError as err:
                problems += err.problems
    if problems:
        raise ScenarioError(problems)

    try:
        import mashsim.report.page  # noqa: F401 - a damaged install fails before any run
    except ModuleNotFoundError as err:  # a damaged install: matplotlib is a dependency
        raise ScenarioError([f"report: needs {err.name} (a mashsim dependency): "
                             f"pip install {err.name}"]) from None

    scenarios = [base, *others]
    workers = prepare_run(args, scenarios, args.replications, out_is_folder=not is_file)
    return interruptible(lambda: _write(args, scenarios, sweep, workers, is_file, varies))


def _write(args: argparse.Namespace, scenarios: list, sweep: object, workers: int,
           is_file: bool, varies: list | None = None) -> int:
    """Simulate (the baseline keeping the waits its figures draw), then build and write."""
    from mashsim.report.page import WAIT_REPLICATIONS, build_report, write_report

    out: Path = args.out
    cache = None if is_file else out  # one rule: replications are saved in a --out folder
    with replication_runner(workers, args.scheduler, cache, progress=True,
                            delay_s=1.0) as runner:
        results = [simulate(sc, args.replications, args.seed, runner=runner,
                            outcomes=WAIT_REPLICATIONS if i == 0 else 0)
                   for i, sc in enumerate(scenarios)]
        sensitivity = None
        if varies:
            from mashsim.experiment.sensitivity import REPORT_TRAJECTORIES, run_sensitivity

            stage("ranking the inputs that matter (Morris screening)")
            sensitivity = run_sensitivity(scenarios[0], varies, args.sensitivity_metric,
                                          runner, "morris", REPORT_TRAJECTORIES,
                                          min(args.replications, 2), args.seed)
    plan_frame = None
    if getattr(args, "plan", False):
        from mashsim.experiment.plan import plan

        stage("planning the least-cost staffing (mashsim plan)")
        plan_frame = plan(scenarios[0], (), "all", replications=max(2, args.replications),
                          seed=args.seed, workers=workers, scheduler=args.scheduler,
                          out=cache, progress=True, source=str(args.scenario))
    stage("drawing figures and writing the report")
    comparisons = dict(zip(_names(args.compare, args.scenario), results[1:], strict=True))
    report = build_report(results[0], comparisons, sweep, command=_command(args),
                          breach_target=args.breach_target, base_name=args.scenario.stem,
                          hubs=args.hub, sensitivity=sensitivity, plan=plan_frame)
    if is_file:
        written = write_report(report, out)
    else:  # a folder: written whole beside it and swapped in (one complete set)
        with output_set(out) as new:
            written = [out / p.relative_to(new) for p in write_report(report, new)]
    if args.format == "json":
        import json

        print(json.dumps({"report": str(written[-1]), "files": [str(p) for p in written],
                          "summary": results[0].summary()}, indent=2, allow_nan=False))
    else:
        print(f"wrote {written[-1]}" + (f" and {len(written) - 1} file(s) beside it"
                                       if len(written) > 1 else ""))
    return 0
