"""The staffing plan in the report (issue 14): the answer's first sentence and a table.

`mashsim report SCENARIO --plan` runs `mashsim plan` on every role of every hub against
the scenario's `[targets]`; the report's answer paragraph then opens with the plan and
its cost, and a section gives the plan per hub (posts and cost a year, now → needed).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["plan_sentence", "plan_table"]


def _posts(frame: pd.DataFrame, column: str) -> int | None:
    values = frame[column]
    if values.isna().any():
        return None
    return int(values.sum())


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"£{x:,.0f}"


def plan_sentence(frame: pd.DataFrame) -> str:
    """"The cheapest staffing meeting every target: N posts, £X a year (now M posts, £Y)."
    — or, where no staffing up to the search limit meets them at some hub, which hubs."""
    doc = frame.attrs["plan"]
    targets = " and ".join(doc["targets"])
    now_posts = int(frame["headcount_now"].sum())
    now = f"now {now_posts} posts, {_money(doc['cost_per_year_now'])}"
    needed = _posts(frame, "headcount_needed")
    if needed is None or doc["cost_per_year_needed"] is None:
        hubs = ", ".join(dict.fromkeys(frame.loc[~frame["feasible"], "hub"]))
        return (f"No staffing up to the search limit meets every target ({targets}, 95 % "
                f"confidence) at {hubs} ({now}).")
    lead = ("The cheapest staffing meeting every target" if doc["objective"] == "cost"
            else "The fewest posts meeting every target")
    confirmed = ("" if doc["confirmed"] else " Re-run with fresh seeds, the answer or a "
                 "one-below did not repeat at every hub: treat posts at the margin with care.")
    return (f"{lead} ({targets}, each with 95 % confidence): {needed} posts, "
            f"{_money(doc['cost_per_year_needed'])} a year ({now}).{confirmed}")


def plan_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per hub (and role): posts and cost a year now → needed."""
    cols: dict[str, Any] = {"hub": frame["hub"]}
    if "role" in frame.columns:
        cols["role"] = frame["role"]
    cols.update({
        "posts now": frame["headcount_now"],
        "posts needed": frame["headcount_needed"].map(
            lambda x: "none meets" if pd.isna(x) else str(int(x))),
        "cost £/yr now": frame["cost_per_year_now"].map(lambda x: f"{x:,.0f}"),
        "cost £/yr needed": frame["cost_per_year_needed"].map(
            lambda x: "n/a" if pd.isna(x) else f"{x:,.0f}"),
    })
    return pd.DataFrame(cols)
