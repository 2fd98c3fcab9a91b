"""The metric registry: bounds from a metric's kind (never its name), families, and a new
metric added by one declaration."""

from __future__ import annotations

import math

import pytest

from mashsim.experiment.plan import is_breach_metric, is_fraction_metric
from mashsim.metrics.compute import METRICS, metric_bounds, metric_names, replication_metrics
from mashsim.metrics.registry import (
    COUNT,
    FRACTION,
    KINDS,
    REGISTRY,
    Family,
    Metric,
    Registry,
    metric_info,
)
from mashsim.metrics.window import Window
from mashsim.model.replication import run_replication
from mashsim.report.plots import metric_label

SHORT = {"run.duration_days": 21.0, "run.warmup_days": 7.0}


def test_a_breach_count_is_not_clipped_to_one() -> None:
    """The old rule read bounds from the name ("breach" ⇒ 0–1): a breach *count* would have
    had its CI cut at 1. The registry reads them from the kind."""
    reg = Registry([Metric("asm_breach", COUNT, "ASMs held late", "ASMs late"),
                    Metric("asm_share", FRACTION, "share of ASMs", "ASM share")])
    assert reg.info("asm_breach").bounds == (0.0, math.inf)
    assert reg.info("asm_share").bounds == (0.0, 1.0)  # a fraction without "breach" in it


def test_every_metric_reads_its_bounds_scale_and_unit_from_its_kind(default_scenario) -> None:
    sc = default_scenario.with_overrides({"reporting.wait_thresholds_hours": [1.5, 24]})
    names = metric_names(sc)
    assert {"staff_wait_over_1p5h", "staff_wait_over_24h"} <= set(names)
    for name in names:
        info = metric_info(name)
        assert info.kind in KINDS
        assert metric_bounds(name) == info.kind.bounds
        assert is_fraction_metric(name) == (info.kind == FRACTION)
        assert metric_label(name)[1:] == (info.kind.symbol, info.kind.scale)
    assert {n for n in names if is_breach_metric(n)} == {
        "decision_target_breach", "decision_target_breach_high",
        "decision_target_breach_medium", "decision_target_breach_standard", "sd_breach_72h"}


def test_families_expand_by_grade_and_by_scenario_value(default_scenario) -> None:
    assert [n for n in METRICS if n.startswith("decision_target_breach_")] == [
        "decision_target_breach_high", "decision_target_breach_medium",
        "decision_target_breach_standard"]
    assert not any(n.startswith("staff_wait_over_") for n in METRICS)  # scenario-dependent
    assert "staff_wait_over_{h}h" in REGISTRY.documented_names()
    sc = default_scenario.with_overrides({"reporting.wait_thresholds_hours": [0.5, 72]})
    waits = [n for n in metric_names(sc) if n.startswith("staff_wait_over_")]
    assert waits == ["staff_wait_over_0p5h", "staff_wait_over_72h"]
    assert metric_info("staff_wait_over_0p5h").label == "share waiting for staff over 0.5 hours"
    with pytest.raises(KeyError):
        metric_info("decision_target_breach_urgent")  # not a grade
    with pytest.raises(KeyError):
        metric_info("no_such_metric")


def test_adding_a_metric_is_one_declaration(default_scenario) -> None:
    """A new metric and a new scenario-dependent family, declared with their functions,
    are computed beside the existing ones, which keep their values."""
    sc = default_scenario.with_overrides(SHORT)
    reg = Registry([
        *REGISTRY.entries,
        Metric("referrals_arrived_twice", COUNT, "twice the arrivals", "2 × arrivals",
               lambda w: 2.0 * float(w.incl.sum())),
        Family("staff_wait_over_{h}h_high", FRACTION, "high-risk share over {} hours",
               "high waits over {}h", lambda s: [(f"{h:g}", h) for h in
                                                 s.reporting.wait_thresholds_hours],
               lambda w, h: float((w.wait[w.queued & (w.refs.grade_idx == 0)] > h).mean()),
               fixed=False),
    ])
    records = run_replication(sc, 1, 0)
    window = Window(list(records.values()), sc, force_wide=True)
    new = reg.compute(window)
    old = replication_metrics(records, sc)["overall"]
    assert list(new)[:len(old)] == list(old)
    assert all(new[k] == old[k] or (math.isnan(new[k]) and math.isnan(old[k])) for k in old)
    assert new["referrals_arrived_twice"] == 2 * old["referrals_arrived"]
    assert [n for n in new if n.startswith("staff_wait_over_") and n.endswith("_high")] == [
        f"staff_wait_over_{h:g}h_high" for h in sc.reporting.wait_thresholds_hours]
    assert reg.info("staff_wait_over_4h_high").label == "high-risk share over 4 hours"
    assert reg.info("staff_wait_over_4h").label == "share waiting for staff over 4 hours"
