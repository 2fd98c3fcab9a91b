"""One home for neutralising text that came from a scenario, a file name or a data file.

Scenario names, descriptions, labels and file names are data, never instructions, but
each output medium has characters that turn data into instructions:

- a spreadsheet runs a CSV cell starting with `=`, `+`, `-`, `@`, TAB or CR as a formula
  (`=HYPERLINK(...)`); `csv_cell` / `csv_frame` prefix such cells with an apostrophe
  (the OWASP rule), leaving numbers as numbers;
- a terminal obeys control characters (ESC sequences clear the screen or rewrite lines,
  bidirectional overrides reorder what is read); `terminal` shows them as visible escapes;
- matplotlib reads text between `$` signs as mathtext and fails on bad TeX; `plot_label`
  escapes `$` so a label is drawn literally (mashsim never turns on `text.usetex`);
- HTML: `html_text` escapes `& < > " '` (what `mashsim.report` does for every value).

Output code calls these at the point where text leaves the program, one call per place.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["csv_cell", "csv_frame", "html_text", "plot_label", "terminal"]

CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# C0 controls (TAB and newline included: a table cell or an error line stays one line),
# DEL, C1 controls (0x9B is a one-byte CSI), line/paragraph separators and the Unicode
# bidirectional controls used to make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                      "\u202a-\u202e\u2066-\u2069]")


def csv_cell(value: Any) -> Any:
    """A CSV cell value a spreadsheet will show, never run: formula starts get a `'`.

    Non-text values and text that is a plain number (`-3.5`) are returned unchanged.
    """
    if not isinstance(value, str) or not value.startswith(CSV_FORMULA_STARTS):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_frame(frame: Any) -> Any:  # pandas.DataFrame -> pandas.DataFrame
    """A copy of `frame` with every text cell and column name passed through `csv_cell`.

    Numeric, boolean and date-time columns are left as they are.
    """
    import pandas as pd

    out = frame.copy()
    out.columns = [csv_cell(c) for c in out.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        kinds = (pd.api.types.is_numeric_dtype, pd.api.types.is_bool_dtype,
                 pd.api.types.is_datetime64_any_dtype)
        if not any(kind(col.dtype) for kind in kinds):
            out.isetitem(i, col.map(csv_cell))
    return out


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: Any) -> str:
    """`text` safe to print: control characters become visible escapes such as `\\x1b`."""
    return _CONTROL.sub(_visible, str(text))


def plot_label(text: Any) -> str:
    """`text` drawn literally by matplotlib: every `$` escaped, so no mathtext is parsed,
    and control characters shown as escapes (the fonts have no glyph for them)."""
    return terminal(text).replace("$", r"\$")


def html_text(text: Any) -> str:
    """`text` as HTML character data or a quoted attribute value: markup characters
    escaped; control characters (HTML forbids them) and bidirectional overrides shown as
    escapes; TAB, LF and CR kept as the whitespace they are."""
    shown = _CONTROL.sub(lambda m: m.group() if m.group() in "\t\n\r" else _visible(m), str(text))
    return html.escape(shown, quote=True)
