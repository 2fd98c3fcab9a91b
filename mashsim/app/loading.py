"""Scenarios for the page: the shipped ones, an uploaded TOML, and the plan's table.

An upload is validated by `load_scenario` itself (same checks, same messages); its
problems name the uploaded file as the user knows it, not the temporary copy.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from mashsim.errors import InputError
from mashsim.experiment.simulate import default_scenario_path
from mashsim.scenario import Scenario, display_label, load_scenario

__all__ = ["MAX_UPLOAD_BYTES", "load_upload", "markdown_text", "plan_table",
           "shipped_scenarios"]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a scenario is a few kB; the server refuses more too
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")


def shipped_scenarios(first: str | Path | None = None) -> dict[str, Path]:
    """Label → path: `first` (the command line's), then the bundled scenarios."""
    folder = default_scenario_path().parent
    paths = sorted(folder.glob("*.toml"), key=lambda p: (p != default_scenario_path(), p.name))
    if first is not None:
        paths = [Path(first), *(p for p in paths if p.resolve() != Path(first).resolve())]
    return {(p.name if i or first is None else f"{p.name} (from the command line)"): p
            for i, p in enumerate(paths)}


def _upload_name(name: str) -> str:
    base = _UNSAFE_NAME.sub("_", Path(name or "").name).strip(" .")[:100]
    return base or "upload.toml"


def load_upload(name: str, data: bytes) -> Scenario:
    """Validate an uploaded TOML; problems read `NAME: key.path: message`."""
    shown = _upload_name(name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError([f"{shown}: too large ({len(data):,} bytes; a scenario is a few kB, "
                          f"at most {MAX_UPLOAD_BYTES:,})"])
    with tempfile.TemporaryDirectory(prefix="mashsim-upload-") as tmp:
        path = Path(tmp) / shown
        path.write_bytes(data)
        try:
            return load_scenario(path)
        except InputError as err:
            prefix = f"{tmp}{os.sep}"
            raise InputError([p.removeprefix(prefix) for p in err.problems]) from None


def markdown_text(text: str) -> str:
    """Scenario text shown literally where the page renders Markdown (labels, captions)."""
    return _MARKDOWN.sub(r"\\\1", text)


def plan_table(scenario: Scenario, frame: pd.DataFrame) -> pd.DataFrame:
    """The plan, as a manager reads it: posts now and needed (per role where the hub has
    roles), rostered hours, and the cost over the run where roles have an hourly cost."""
    rows: list[dict[str, Any]] = []
    for _, r in frame.iterrows():
        needed = r["headcount_needed"]
        feasible = bool(r["feasible"])
        row: dict[str, Any] = {"Hub": display_label(r["hub"], scenario.hubs[r["hub"]].label)}
        if isinstance(r.get("role"), str):
            row["Role"] = r["role"].replace("_", " ")
        rows.append({
            **row,
            "Posts now": int(r["headcount_now"]),
            "Posts needed": int(needed) if feasible else f"none up to {int(r['search_limit'])}",
            "Change": f"{int(needed) - int(r['headcount_now']):+d}" if feasible else "n/a",
            "Staff-hours a week now": f"{r['staff_hours_per_week_now']:.0f}",
            "Staff-hours a week needed": (f"{r['staff_hours_per_week_needed']:.0f}"
                                          if feasible else "n/a"),
        })
        if frame.attrs.get("costed"):  # roles with an hourly cost: £ over the run's window
            rows[-1]["Cost now (£)"] = f"{r['staff_hours_cost_now_mean']:,.0f}"
            rows[-1]["Cost needed (£)"] = (f"{r['staff_hours_cost_at_needed_mean']:,.0f}"
                                           if feasible else "n/a")
    return pd.DataFrame(rows)
