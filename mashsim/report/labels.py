"""Names for readers: a hub's or scenario's display label, wherever the report shows one."""

from __future__ import annotations

from typing import Any

from mashsim.scenario.schema import display_label as scenario_display_label

__all__ = ["display_label", "hub_label"]


def display_label(obj: Any, ident: str) -> str:
    """A hub's or scenario's name for readers: its `label` where the scenario gives one,
    else the id title-cased (the rule lives in `scenario.display_label`).

    Hubs carry no id of their own (it is their key in `Scenario.hubs`), so it is passed.
    """
    return scenario_display_label(ident, getattr(obj, "label", None))


def hub_label(sc: Any, hub: str) -> str:
    """The display name of hub id `hub` in scenario `sc`."""
    return display_label(sc.hubs.get(hub), hub)
