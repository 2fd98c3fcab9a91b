"""Progress on stderr that never garbles messages: bars, stage lines, a clean next line.

Progress bars (tqdm) write through `stream()`, which remembers whether the last thing
written ended a line. `own_line()` then starts the next message on a line of its own
(after a bar, or a `^C` the terminal echoed), so an error or "interrupted" message is never
glued to a progress bar. `stage(msg)` tells the user what a long silent step is doing,
e.g. `stage("drawing figures")` before the plots of a report.
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["own_line", "stage", "stream"]

# The stderr object whose last progress output left the cursor mid-line (or after "\r"):
# kept per stream, so a bar left open on a stream since replaced (a test's capture, a
# notebook cell) never puts a stray blank line on the next one.
_open_on: object | None = None  # held, not its id: a freed stream's id can be reused


class _Tracked:
    """A file-like view of the current sys.stderr that remembers how the last write ended."""

    def write(self, text: str) -> int:
        global _open_on
        if text:
            _open_on = None if text.endswith("\n") else sys.stderr
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return _isatty(sys.stderr)

    @property
    def encoding(self) -> str:
        return getattr(sys.stderr, "encoding", None) or "utf-8"


def stream() -> _Tracked:
    """Give this to tqdm as `file=`: stderr, with line tracking for `own_line`."""
    return _Tracked()


def _isatty(fh: TextIO) -> bool:
    try:
        return fh.isatty()
    except (AttributeError, ValueError):
        return False


def own_line(interrupted: bool = False) -> None:
    """End any line a progress bar left open, so the next stderr message starts afresh.

    After Ctrl-C on a terminal, always move to a new line: the terminal echoed `^C` where
    the cursor was.
    """
    global _open_on
    if _open_on is sys.stderr or (interrupted and _isatty(sys.stderr)):
        sys.stderr.write("\n")
        sys.stderr.flush()
    _open_on = None


def stage(message: str) -> None:
    """One status line on stderr ("mashsim: drawing figures…") for a long silent step."""
    own_line()
    print(f"mashsim: {message}…", file=sys.stderr, flush=True)
