"""`mashsim report`: builds for the default scenario and a comparison; valid, offline HTML."""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mashsim import __version__
from mashsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "data" / "one_role" / "thames_valley.toml"  # one-role form (conftest)
SWEEP_CSV = Path(__file__).resolve().parent / "data" / "sweep_reading.csv"
SHORT = ["--set", "run.duration_days=35", "--set", "run.warmup_days=7",
         "--replications", "2", "--workers", "1"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
URL_ATTRS = {"src", "href", "action", "poster", "srcset", "data"}


class Checker(HTMLParser):
    """Collects tags, every URL-bearing attribute and style text; checks nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.styles: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in URL_ATTRS and value is not None:
                self.urls.append(value)
            if name == "style" and value:
                self.styles.append(value)
        self._in_style = tag == "style"
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def check_html(text: str) -> Checker:
    assert text.lstrip().lower().startswith("<!doctype html>")
    c = Checker()
    c.feed(text)
    c.close()
    assert not c.errors, c.errors[:5]
    assert not c.stack, f"unclosed tags: {c.stack}"
    for url in c.urls:
        assert url.startswith(("data:", "#")), f"external reference {url[:60]!r}"
    for style in c.styles:
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", style):
            assert url.startswith("data:"), f"external url() {url[:60]!r}"
    assert "http://" not in text and "https://" not in text
    assert "@media print" in text
    return c


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_scenario_report_single_file(capsys: pytest.CaptureFixture,
                                             tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, _ = run(capsys, "report", str(DEFAULT), *SHORT, "--seed", "7",
                          "--out", str(out))
    assert code == 0
    assert str(out) in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temp files left
    text = out.read_text(encoding="utf-8")
    c = check_html(text)
    assert c.tags.count("img") >= 4
    assert all(u.startswith("data:image/png;base64,") for u in c.urls)
    body = " ".join(c.text)
    for heading in ("Answer", "Backlog over time", "Waiting times by risk grade",
                    "Demand and staff by hour of week", "Model description (STRESS-DES)",
                    "Objectives", "Logic", "Data", "Experimentation", "Implementation",
                    "Reproduce"):
        assert heading in body, heading
    assert "worst hub" in body
    # The caption says where the targets start counting, as the legend does (MASH receipt).
    assert "Solid: MASH receipt to decision" in body
    assert "creation to decision" not in body
    assert "assumption" in body and "changed from 182" in body  # the --set is flagged
    assert f"mashsim {__version__}" in body
    assert "--seed 7" in body and "run.duration_days=35" in body
    assert "Comparison" not in body  # nothing to compare


def test_comparison_and_sweep_to_folder(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    other = tmp_path / "more_staff.toml"
    other.write_text(DEFAULT.read_text().replace(
        "[hubs.reading]\ndemand_share = 174\nstaff = { headcount = 4",
        "[hubs.reading]\ndemand_share = 174\nstaff = { headcount = 7"))
    assert other.read_text() != DEFAULT.read_text()
    out = tmp_path / "report"
    code, _, _ = run(capsys, "report", str(DEFAULT), "--compare", str(other),
                     "--sweep", str(SWEEP_CSV), *SHORT, "--out", str(out))
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "backlog.png", "waits.png", "demand_capacity.png",
            "breach_by_hub.png", "comparison.png", "sweep.png", "hubs.csv", "summary.csv",
            "comparison.csv", "comparison_more_staff.csv", "inputs.csv", "sweep.csv"} <= names
    assert not [n for n in names if n.startswith(".")]
    c = check_html((out / "report.html").read_text(encoding="utf-8"))
    body = " ".join(c.text)
    assert "Comparison" in body and "Staffing sweep" in body
    assert "common random numbers" in body
    # Only Reading's inputs changed: its own row shows the change force-wide figures dilute.
    assert "By hub: More Staff − Thames Valley" in body
    page = (out / "report.html").read_text(encoding="utf-8")
    by_hub = page[page.index("By hub:"):]
    by_hub = by_hub[:by_hub.index("</table>")]
    assert re.findall(r"<tr><td>([^<]+)</td>", by_hub) == ["all hubs", "Reading"]
    with (out / "comparison.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["metric", "thames_valley", "more_staff",
                             "more_staff − thames_valley"]
    arrived = next(r for r in rows if r["metric"].startswith("referrals arrived"))
    assert arrived["more_staff − thames_valley"].startswith("0.0")  # CRN: same referrals
    with (out / "comparison_more_staff.csv").open() as fh:
        full = list(csv.DictReader(fh))
    scopes = {r["scope"] for r in full}
    assert {"overall", "reading"} <= scopes
    reading_util = next(r for r in full if r["scope"] == "reading"
                        and r["metric"] == "staff_utilisation")
    assert float(reading_util["diff_mean"]) < 0  # twice the staff, less busy each
    assert (out / "backlog.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("extra", "message"), [
    ([], "--out: required"),
    (["--set", "hubs.nowhere.staff.headcount=3", "--out", "{tmp}/r.html"], "nowhere"),
    (["--sweep", "{tmp}/missing.csv", "--out", "{tmp}/r.html"], "cannot read sweep"),
    (["--compare", "{tmp}/absent.toml", "--out", "{tmp}/r.html"], "cannot read"),
    (["--out", "{tmp}/afile"], "not a folder"),
    (["--hub", "nowhere", "--out", "{tmp}/r.html"], "--hub nowhere: no such hub"),
])
def test_bad_input_exit_2_nothing_written(capsys: pytest.CaptureFixture, tmp_path: Path,
                                          extra: list[str], message: str) -> None:
    (tmp_path / "afile").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    code, _, err = run(capsys, "report", str(DEFAULT), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_answer_paragraph_names_worst_hub(default_scenario) -> None:
    from mashsim import simulate
    from mashsim.report.page import answer_paragraph

    sc = default_scenario.with_overrides({"run.duration_days": 35.0, "run.warmup_days": 7.0,
                                          "hubs.slough.staff.headcount": 1})
    res = simulate(sc, 2, seed=2)
    text = answer_paragraph(res)
    assert "The worst hub is Slough" in text  # its display name, not the id
    assert "staff-hours" in text and "strategy discussions" in text


def test_staffing_table_shows_planned_and_realised_shrinkage_and_the_audit() -> None:
    from mashsim import load_scenario, simulate
    from mashsim.model.staffing import planned_shrinkage
    from mashsim.report.page import staffing_table

    sc = load_scenario(Path(__file__).resolve().parent.parent / "scenarios/summer_2023.toml")
    sc = sc.with_overrides({"run.duration_days": 110.0})
    res = simulate(sc, replications=2, seed=3)
    table = staffing_table(res)
    assert list(table["hub"])[:2] == ["all hubs", "Oxfordshire"]
    assert table.loc[0, "shrinkage planned (%)"] == f"{100 * planned_shrinkage(sc.staffing):.1f}"
    realised = res.summary()["metrics"]["realised_shrinkage"]["mean"]
    assert table.loc[0, "shrinkage realised (%)"].startswith(f"{100 * realised:.1f}")
    assert table.loc[1, "vacant"] == 4
    assert "SD pending >72h on 2023-07-17" in table.columns


@pytest.fixture(scope="module")
def summer():
    """Summer 2023 as found (12 of 57 posts vacant), 110 days, 2 replications: the one-role
    form it had before stages and roles, whose posts these tests count."""
    from mashsim import load_scenario, simulate

    sc = load_scenario(ROOT / "tests/data/one_role/summer_2023.toml")
    return simulate(sc.with_overrides({"run.duration_days": 110.0}), replications=2, seed=3)


def test_answer_counts_posts_filled_and_time_available_as_the_heatmap_does(summer) -> None:
    """Staff time in the answer is filled posts less realised shrinkage, and the heatmap
    quotes the very same weekly figures."""
    from mashsim.model.staffing import roster_schedule
    from mashsim.report import plots
    from mashsim.report.page import answer_paragraph, report_balance

    sc, s = summer.scenario, summer.summary()
    b = report_balance(summer)
    text = answer_paragraph(summer, balance=b)
    assert "45 of 57 caseworker posts filled" in text
    assert "11 of its 15 caseworker posts filled" in text  # the worst hub's vacancies too
    # Independently: rostered hours × filled share × (1 − realised shrinkage), per hub.
    weeks = (sc.horizon_hours - sc.warmup_hours) / 168.0
    expected = 0.0
    for hub, h in sc.hubs.items():
        rostered = roster_schedule(h.staff, sc.run.start_date, sc.horizon_hours).staff_hours(
            sc.warmup_hours, sc.horizon_hours) / weeks
        lost = s["hubs"][hub]["metrics"]["realised_shrinkage"]["mean"]
        expected += rostered * (1 - h.staff.vacant_posts / h.staff.headcount) * (1 - lost)
    # Hour-of-week averages over 15.7 weeks weight weekdays unevenly: within 2 %.
    assert b.available_hours_per_week == pytest.approx(expected, rel=0.02)
    busy = f"busy {100 * b.work_hours_per_week / b.available_hours_per_week:.0f} % of their"
    assert busy in text
    title = plots.demand_capacity_heatmap(summer).get_suptitle()
    for figure in (f"{b.available_hours_per_week:,.0f} ", f"{b.work_hours_per_week:,.0f} ",
                   f"{b.rostered_hours_per_week:,.0f} ", f"{100 * b.shrinkage:.1f} %"):
        assert figure in text and figure in title, figure


def test_hub_inputs_fit_four_columns_and_keep_every_input(summer) -> None:
    from mashsim.report.page import _inputs_html

    page = _inputs_html(summer).replace("<wbr>", "")
    hub_part = page[page.index("<h3>Hub inputs</h3>"):]
    table = hub_part[:hub_part.index("</table>")]
    assert table.count("<th>") == 4  # input, value, kind, basis: fits A4 however many hubs
    for path in ("staff.vacancy_share", "staff.vacancies", "staff.headcount", "demand_share",
                 "initial_backlog.age_days"):
        assert f"<code>hubs.*.{path}</code>" in table, path
    assert "Oxfordshire: 4 ⚑" in table  # the one hub with a count of vacancies
    assert "Milton Keynes" in table and "milton_keynes" not in table


def test_display_names() -> None:
    from types import SimpleNamespace

    from mashsim.report.page import display_label, hub_label

    assert display_label(None, "summer_2023_recovery") == "Summer 2023 Recovery"
    assert display_label(None, "Summer 2023 as found") == "Summer 2023 as found"  # not an id
    assert display_label(SimpleNamespace(label="Oxon MASH"), "oxfordshire") == (
        "Oxon MASH")  # a label from the scenario wins
    sc = SimpleNamespace(hubs={"milton_keynes": SimpleNamespace()})
    assert hub_label(sc, "milton_keynes") == "Milton Keynes"
