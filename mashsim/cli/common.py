"""What every `mashsim` subcommand shares: the common options, loading a scenario with
`--set` overrides, and checking a run fits the machine before it starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mashsim.errors import ScenarioError
from mashsim.scenario.schema import Scenario, load_scenario, parse_override

__all__ = ["EXIT_BAD_INPUT", "EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "RESUME_HELP",
           "add_execution_options",
           "add_replication_options", "add_scenario_options", "check_out_dir",
           "interruptible", "load_with_overrides", "positive_int", "prepare_run",
           "seed_number", "whole_number", "write_json_and_csv"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a pipe's reader leaving early
#: The one resume rule of `run`, `sweep`, `plan`, `report` and `backtest` (in --out's help).
RESUME_HELP = ("; each replication is saved in DIR/cache as it finishes, so the same "
               "command with the same --out resumes an interrupted run")


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`, else a clear usage error."""

    def parse(text: str) -> int:
        value: int | None
        try:
            value = int(text)
        except ValueError:
            value = _integral_float(text)  # "1e6" is a whole number too
        if value is None:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _integral_float(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


positive_int = whole_number(1)
seed_number = whole_number(0)


def add_scenario_options(p: argparse.ArgumentParser, scenario_optional: bool = False) -> None:
    """SCENARIO, --seed, --set, --format, --out: the options every run-like command takes."""
    if scenario_optional:
        p.add_argument("scenario", nargs="?", type=Path,
                       help="scenario TOML (default: the bundled thames_valley.toml)")
    else:
        p.add_argument("scenario", type=Path, help="scenario TOML")
    p.add_argument("--seed", type=seed_number, default=1, help="base random seed (default 1)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="PATH=VALUE", help="override a scenario value, e.g. "
                   "hubs.reading.staff.headcount=12 (repeatable)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output on stdout (default table)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="also write results files here" + RESUME_HELP)
    p.add_argument("--force", action="store_true",
                   help="run even when the estimated memory or time does not fit")


def add_replication_options(p: argparse.ArgumentParser, default: int = 10) -> None:
    p.add_argument("--replications", type=positive_int, default=default,
                   help=f"independent replications (default {default})")
    add_execution_options(p)


def add_execution_options(p: argparse.ArgumentParser) -> None:
    """--workers and --scheduler: where the replication runner runs (same results)."""
    p.add_argument("--workers", type=positive_int, default=None,
                   help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="run on an existing Dask distributed cluster (needs mashsim[dask])")


def interruptible(run: Callable[[], int]) -> int:
    """Run a command; Ctrl-C during its replications says what was saved, exit 130."""
    from mashsim.experiment.cache import Interrupted
    from mashsim.progress import own_line

    try:
        return run()
    except Interrupted as err:
        own_line(interrupted=True)
        print(f"mashsim: {err.message()}", file=sys.stderr)
        return EXIT_INTERRUPTED


def load_with_overrides(path: Path | None, overrides: Sequence[str]) -> Scenario:
    """Load SCENARIO (or the bundled default) and apply every --set, validated."""
    problems, values = [], {}
    for text in overrides:  # first: `--set key 5` also makes 5 the scenario file
        try:
            key, value = parse_override(text)
            values[key] = value
        except ScenarioError as err:
            problems += err.problems
    if problems:
        raise ScenarioError(problems)
    if path is None:
        from mashsim.experiment.simulate import default_scenario_path

        path = default_scenario_path()
    scenario = load_scenario(path)
    if not overrides:
        return scenario
    return scenario.with_overrides(values, source=f"{path} --set")


def check_out_dir(out: Path | None) -> None:
    """--out must be a folder that can be written (checked before any replication runs)."""
    if out is not None:
        from mashsim._io import check_out_folder

        check_out_folder(out)


def prepare_run(args: argparse.Namespace, scenarios: Sequence[Scenario], replications: int,
                source: str | Path | None = None, out_is_folder: bool = True) -> int:
    """Refuse what cannot fit in memory or time (unless --force), check --out; workers.

    The number of workers returned is capped at the number of replications to run.
    """
    from mashsim.experiment.replications import default_workers
    from mashsim.experiment.resources import check_fits

    if source is None and getattr(args, "scenario", None) is None:
        from mashsim.experiment.simulate import default_scenario_path

        source = default_scenario_path()
    where = source or args.scenario
    workers = check_fits(str(where), scenarios, replications,
                         getattr(args, "workers", None) or default_workers(),
                         force=getattr(args, "force", False))
    out = getattr(args, "out", None)
    if out_is_folder:
        check_out_dir(out)
    elif out is not None:
        from mashsim._io import check_writable

        check_writable(out)
    return workers


def write_json_and_csv(out: str | Path, stem: str, text: str, frame: Any) -> None:
    """`stem`.json (the document printed) and `stem`.csv (its DataFrame, with text cells
    made safe for spreadsheets) into `out`, swapped in as one set."""
    from mashsim._io import atomic_write_text, output_set
    from mashsim.safe_text import csv_frame

    with output_set(Path(out)) as new:
        atomic_write_text(new / f"{stem}.json", text + "\n")
        atomic_write_text(new / f"{stem}.csv", csv_frame(frame).to_csv(index=False))
