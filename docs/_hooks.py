"""mkdocs hook: a docstring's bracketed code never fails the strict docs build.

Docstrings are plain Markdown written for readers of the code, where `result[point][i]`
is an index, not a link; autorefs reads it as a cross-reference and warns, which
`--strict` turns into a failed build. Such warnings from text pulled out of `mashsim/`
sources become INFO (still printed with `--verbose`); a broken reference written in a
page under docs/ still fails the build.
"""

from __future__ import annotations

import logging
import re

_AUTOREFS = "mkdocs.plugins.mkdocs_autorefs._internal.plugin"


class _DocstringRefs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if (record.levelno == logging.WARNING and "Could not find cross-reference" in text
                and re.search(r"[\\/]mashsim[\\/]", text.split("Could not find", 1)[0])):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_startup(*, command: str, dirty: bool) -> None:
    """Installed once per mkdocs process (a second call would add a second filter)."""
    logger = logging.getLogger(_AUTOREFS)
    if not any(isinstance(f, _DocstringRefs) for f in logger.filters):
        logger.addFilter(_DocstringRefs())
