"""The `mashsim` command: one subcommand module each, registered here by name.

Bad input ends in exit status 2 with one clear line per problem and no traceback;
Ctrl-C in exit status 130. Options every subcommand shares live in `common`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mashsim._native import version_lines
from mashsim._version import __version__
from mashsim.cli import app, fit, forecast, report, run, sensitivity, sweep
from mashsim.cli.common import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
from mashsim.errors import ScenarioError
from mashsim.progress import own_line
from mashsim.safe_text import terminal

__all__ = ["COMMANDS", "build_parser", "main"]

# Every subcommand module, imported by name: a misnamed one fails at import, never silently.
COMMANDS = (run, sweep, forecast, report, fit, app, sensitivity)


class _Version(argparse.Action):
    """`mashsim 0.1.0` then `engine: compiled (mypyc)` or `engine: pure Python (why)`:
    argparse's own version action would fold the lines into one."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print("\n".join([f"mashsim {__version__}", *version_lines()]))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mashsim",
        description="Simulate multi-agency safeguarding hub staffing: backlogs and "
                    "72-hour breach rates, with confidence intervals.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and whether the engine is compiled, and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
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
        except BrokenPipeError:  # the reader went away (`mashsim run | head`): stop quietly
            _silence_stdout()
            return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # another Ctrl-C while reporting the first
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush cannot fail too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


