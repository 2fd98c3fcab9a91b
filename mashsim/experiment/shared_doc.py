"""A result frame's JSON document, kept in `DataFrame.attrs` and shared, never copied.

pandas deep-copies a frame's `attrs` into every frame it derives (a row, a column, a
filter: `NDFrame.__finalize__`). A plan's document (every hub's metrics at every
staffing) is large, so printing the plan's table, which takes a few hundred rows and
columns, spent ≈4 s copying it. Derived frames now share the one document; treat it as
read-only (it is what `plan` and `forecast` print as JSON).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SharedDoc"]


class SharedDoc(dict[str, Any]):
    """A dict that `copy.deepcopy` returns as itself (JSON and pickling as a dict)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedDoc:
        return self
