"""mashsim.report.plots: every figure titled and labelled; its data agrees with the core."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from mashsim import ScenarioError, simulate
from mashsim.experiment.results import Results
from mashsim.report import plots

DATA = Path(__file__).resolve().parent / "data"
SWEEP_CSV = DATA / "sweep_reading.csv"


@pytest.fixture(scope="module")
def short(default_scenario):
    return default_scenario.with_overrides({"run.duration_days": 35.0, "run.warmup_days": 7.0})


@pytest.fixture(scope="module")
def results(short) -> Results:
    return simulate(short, replications=3, seed=3)


@pytest.fixture(scope="module")
def more_staff(short) -> Results:
    return simulate(short.with_overrides({"hubs.reading.staff.headcount": 6}), 3, seed=3)


def assert_titled_and_labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    assert fig.get_suptitle(), "figure has no title"
    axes = [ax for ax in fig.axes if ax.get_visible() and getattr(ax, "_colorbar", None) is None]
    assert axes, "figure has no axes"
    for ax in axes:
        assert ax.get_title(), f"axes without a title in {fig.get_suptitle()!r}"
        assert ax.get_xlabel(), f"{ax.get_title()!r}: no x label"
        assert ax.get_ylabel(), f"{ax.get_title()!r}: no y label"
    for cbar_ax in (ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None):
        assert cbar_ax.get_ylabel() or cbar_ax.get_xlabel(), "colour bar without units"
    png = plots.to_png(fig, dpi=40)
    assert png.startswith(b"\x89PNG")


def test_backlog_over_time(results: Results) -> None:
    fig = plots.backlog_over_time(results)
    assert_titled_and_labelled(fig)
    titles = {ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_visible()}
    assert {"all hubs", "Reading", "Milton Keynes"} <= titles  # display names, not ids


def test_no_text_box_covers_the_data(results: Results) -> None:
    """Breach rates go in each panel's title: no text drawn inside the axes over the data."""
    reading = results.summary()["hubs"]["reading"]["metrics"]["decision_target_breach"]
    for fig in (plots.backlog_over_time(results), plots.wait_distribution(
            results, plots.wait_records(results, replications=1))):
        panels = [ax for ax in fig.axes if ax.get_visible()]
        assert all(not ax.texts for ax in panels), [t.get_text() for ax in panels
                                                    for t in ax.texts]
    titles = [ax.get_title() for ax in plots.backlog_over_time(results).axes]
    title = next(t for t in titles if t.startswith("Reading"))
    assert f"target breach {100 * reading['mean']:.0f} %" in title


def test_breach_by_hub(results: Results) -> None:
    assert_titled_and_labelled(plots.breach_by_hub(results))


def test_wait_distribution_and_records(results: Results) -> None:
    waits = plots.wait_records(results, replications=1)
    assert set(waits["grade"]) <= {"high", "medium", "standard"}
    assert (waits["decision_hours"].dropna() >= 0).all()
    assert (waits["staff_wait_hours"].dropna() >= 0).all()
    # The breach share over resolved referrals is exactly the core's per-grade metric.
    run = results.runs[0]
    for hub in ("reading", "oxfordshire"):
        for grade in ("high", "medium", "standard"):
            w = waits[(waits["hub"] == hub) & (waits["grade"] == grade) & waits["resolved"]]
            expected = run.metrics[hub][f"decision_target_breach_{grade}"]
            got = w["breached"].mean() if len(w) else math.nan
            assert got == pytest.approx(expected, nan_ok=True)
    assert_titled_and_labelled(plots.wait_distribution(results, waits))
    assert_titled_and_labelled(plots.wait_distribution(results, waits, hub="reading"))


def test_demand_capacity_heatmap(results: Results) -> None:
    fig = plots.demand_capacity_heatmap(results)
    assert_titled_and_labelled(fig)
    assert_titled_and_labelled(plots.demand_capacity_heatmap(results.scenario, hub="reading"))


def test_staff_hours_per_clock_hour_is_exact() -> None:
    # 2 people from 09:30 to 17:00, nobody otherwise: 1 h at 10:00, 0.5 × 2 at 09:00.
    per_hour = plots._per_clock_hour(np.array([0.0, 9.5, 17.0]), np.array([0, 2, 0]), 24)
    assert per_hour[9] == pytest.approx(1.0)
    assert per_hour[10] == pytest.approx(2.0)
    assert per_hour.sum() == pytest.approx(15.0)


def test_paired_differences_self_is_zero_and_crn_pairs(results: Results,
                                                       more_staff: Results) -> None:
    same = plots.paired_differences(results, results)
    assert (same["diff_mean"].dropna() == 0).all()
    d = plots.paired_differences(results, more_staff).set_index(["scope", "metric"])
    # Arrivals do not depend on staffing: under common random numbers they match exactly.
    assert d.loc[("reading", "referrals_arrived"), "diff_mean"] == 0
    assert bool(d["crn"].all())
    # Every metric in every scope is there, with a paired CI.
    assert len(d) == len(same)
    assert set(d.reset_index()["scope"]) == {"overall", *results.scenario.hub_names}


def test_comparison_chart(results: Results, more_staff: Results) -> None:
    fig = plots.comparison_chart(results, {"reading 6 staff": more_staff,
                                           "again": more_staff})
    assert_titled_and_labelled(fig)


def _bar_labels(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_comparison_chart_shows_the_hubs_that_changed(results: Results,
                                                      more_staff: Results) -> None:
    """Force-wide bars alone would hide Reading's change: it gets its own bar by default."""
    assert plots.changed_hubs(results.scenario, more_staff.scenario) == ["reading"]
    assert plots.changed_hubs(results.scenario, results.scenario) == []
    others = {"reading 6 staff": more_staff}
    assert _bar_labels(plots.comparison_chart(results, others)) == ["all hubs", "Reading"]
    asked = plots.comparison_chart(results, others, hubs=["oxfordshire", "slough"])
    assert _bar_labels(asked) == ["all hubs", "Oxfordshire", "Slough"]
    assert _bar_labels(plots.comparison_chart(results, others, hubs=[])) == ["all hubs"]
    with pytest.raises(ScenarioError, match="nowhere"):
        plots.comparison_chart(results, others, hubs=["nowhere"])


def test_dollar_signs_in_names_are_plain_text(results: Results, more_staff: Results) -> None:
    """`$...$` in a scenario's name or a comparison's name is text, not mathtext."""
    named = Results(results.scenario.model_copy(update={"name": r"Cost $\nosuchmacro$"}),
                    results.seed, results.runs)
    fig = plots.comparison_chart(named, {r"plan $\frac{1}{$ b": more_staff})
    plots.to_png(fig, dpi=30)  # raised ValueError when the text reached mathtext
    assert r"\$" in fig.get_suptitle()
    assert plots._plain("a $x$") == r"a \$x\$"


def test_sweep_chart_from_fixture() -> None:
    frame = plots.read_sweep(SWEEP_CSV)
    assert plots.sweep_paths(frame) == ["hubs.reading.staff.headcount"]
    fig = plots.sweep_chart(frame, target=0.05)
    assert_titled_and_labelled(fig)
    assert "Reading" in fig.get_suptitle()
    assert_titled_and_labelled(plots.sweep_chart(frame, scope="overall", target=None))


def test_read_sweep_folder_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "sweep.csv").write_text(SWEEP_CSV.read_text())
    assert len(plots.read_sweep(tmp_path)) == len(plots.read_sweep(SWEEP_CSV))
    bad = tmp_path / "bad.csv"
    bad.write_text("point,scope,metric,mean\n0,overall,x,1\n")
    with pytest.raises(ScenarioError, match="missing column"):
        plots.read_sweep(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        plots.read_sweep(tmp_path / "absent.csv")


def test_metric_labels_cover_every_metric(results: Results) -> None:
    from mashsim.metrics.compute import metric_names

    for name in metric_names(results.scenario):
        label, unit, scale = plots.metric_label(name)
        assert label and scale in (1.0, 100.0)
        assert unit, f"{name}: no unit, so the report would show a share as 0.29"


def test_core_and_cli_never_import_matplotlib() -> None:
    code = ("import sys, mashsim, mashsim.cli; mashsim.cli.build_parser(); "
            "import mashsim.report.stress; "
            "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
