"""The `mashsim` command.

Subcommands live in their own modules (`cli_*.py`), each exposing `register(subparsers)`;
this module owns what they share: the common options, loading a scenario with
`--set` overrides, and turning bad input into exit status 2 with one clear line per
problem and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .errors import ScenarioError
from .progress import own_line
from .safe_text import terminal
from .scenario import Scenario, load_scenario, parse_override

__all__ = ["add_scenario_options", "load_with_overrides", "main", "positive_int",
           "prepare_run", "seed_number", "whole_number"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
# Each module registers its subcommands; a module not yet written is skipped.
COMMAND_MODULES = ("mashsim.cli_run", "mashsim.cli_sweep", "mashsim.cli_report",
                   "mashsim.cli_fit", "mashsim.cli_app")


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`, else a clear usage error."""

    def parse(text: str) -> int:
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
    p.add_argument("--out", type=Path, metavar="DIR", help="also write results files here")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimated memory or time does not fit")


def add_replication_options(p: argparse.ArgumentParser, default: int = 10) -> None:
    p.add_argument("--replications", type=positive_int, default=default,
                   help=f"independent replications (default {default})")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: one per core)")


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
        from .simulate import default_scenario_path

        path = default_scenario_path()
    scenario = load_scenario(path)
    if not overrides:
        return scenario
    return scenario.with_overrides(values, source=f"{path} --set")


def check_out_dir(out: Path | None) -> None:
    """--out must be a folder that can be written (checked before any replication runs)."""
    if out is None:
        return
    from ._io import check_writable

    check_writable(out)  # first: a too-long name cannot even be looked at
    if out.exists() and not out.is_dir():
        raise ScenarioError([f"--out {out}: exists and is not a folder"])


def prepare_run(args: argparse.Namespace, scenarios: Sequence[Scenario], replications: int,
                source: str | Path | None = None, out_is_folder: bool = True) -> int:
    """Refuse what cannot fit in memory or time (unless --force), check --out; workers.

    The number of workers returned is capped at the number of replications to run.
    """
    from .experiment import default_workers
    from .resources import check_fits

    if source is None and getattr(args, "scenario", None) is None:
        from .simulate import default_scenario_path

        source = default_scenario_path()
    where = source or args.scenario
    workers = check_fits(str(where), scenarios, replications,
                         getattr(args, "workers", None) or default_workers(),
                         force=getattr(args, "force", False))
    out = getattr(args, "out", None)
    if out_is_folder:
        check_out_dir(out)
    elif out is not None:
        from ._io import check_writable

        check_writable(out)
    return workers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mashsim",
        description="Simulate multi-agency safeguarding hub staffing: backlogs and "
                    "72-hour breach rates, with confidence intervals.",
    )
    parser.add_argument("--version", action="version", version=f"mashsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input → 2, Ctrl-C (at any point, once or twice) → 130."""
    try:
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            return int(args.handler(args) or 0)
        except ScenarioError as err:
            own_line()
            for problem in err.problems:
                print(f"mashsim: error: {terminal(problem)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            own_line(interrupted=True)
            print("mashsim: interrupted; nothing was written", file=sys.stderr)
            return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # another Ctrl-C while reporting the first
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
