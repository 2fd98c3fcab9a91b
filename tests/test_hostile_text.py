"""Text from a scenario or a file name is data in every medium: CSV, terminal, plots, HTML."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from mashsim.cli import main
from mashsim.safe_text import csv_cell, csv_frame, html_text, plot_label, terminal

from .conftest import one_hub

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_NAME = '=HYPERLINK("http://evil.example";"open") \x1b[2J\x1b]0;pwned\x07 $\\frac$ <script>'
HOSTILE_DESCRIPTION = "@SUM(1+1) <img src=x onerror=alert(1)> \u202eevil\u202c \x9b2J"


@pytest.mark.parametrize("text", ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1", "\r=1",
                                  '=HYPERLINK("x";"y")', "-", "=", "-inf"])
def test_formula_starts_get_an_apostrophe(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-3.5", "+2", "-1e-05", "12", "reading", "a=b", "", None,
                                   -3.5, 7, True])
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert csv_cell(value) == value


def test_csv_frame_neutralises_text_cells_and_headers_only() -> None:
    frame = pd.DataFrame({"name": ["=1+2", "ok", None], "mean": [-0.5, 1.0, 2.0],
                          "=cmd": [True, False, True]})
    out = csv_frame(frame)
    assert list(out.columns) == ["name", "mean", "'=cmd"]
    assert out["name"].tolist()[:2] == ["'=1+2", "ok"] and pd.isna(out["name"].iloc[2])
    assert out["mean"].tolist() == [-0.5, 1.0, 2.0]  # numbers stay numbers
    assert frame["name"].iloc[0] == "=1+2"  # the caller's frame is untouched


def test_terminal_shows_control_characters_as_escapes() -> None:
    text = terminal("a\x1b[2Jb\x9bc\u202ed\ne\tf\x00")
    assert text == "a\\x1b[2Jb\\x9bc\\u202ed\\ne\\tf\\x00"
    assert terminal("Thames Valley — 95 % ± café") == "Thames Valley — 95 % ± café"


def test_plot_label_draws_dollars_literally() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def render(title: str) -> None:
        fig = Figure()
        FigureCanvasAgg(fig)
        fig.suptitle(title)
        fig.canvas.draw()

    with pytest.raises(ValueError):
        render("Q3 $\\frac$ plan")  # the crash this guards against
    render(plot_label("Q3 $\\frac$ plan"))
    assert html_text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _write_scenarios(default_scenario, folder: Path) -> tuple[Path, Path]:
    base = one_hub(default_scenario, **{"run.duration_days": 21.0, "run.warmup_days": 7.0,
                                        "name": HOSTILE_NAME,
                                        "description": HOSTILE_DESCRIPTION})
    base_path = folder / "@SUM(1+1) $^$.toml"
    base.to_toml(base_path)
    other_path = folder / '=HYPERLINK("x";"y") $\\frac$ <b>bold</b>.toml'
    base.with_overrides({"hubs.reading.staff.headcount": 12}).to_toml(other_path)
    return base_path, other_path


def test_report_with_hostile_names_csv_html_and_plots(capsys: pytest.CaptureFixture,
                                                      tmp_path: Path, default_scenario) -> None:
    """Names, descriptions and file names full of formulas, escapes, `$` and HTML: the report
    is written (no mathtext crash), no CSV cell is a live formula, the HTML shows the text."""
    base_path, other_path = _write_scenarios(default_scenario, tmp_path)
    out = tmp_path / "report"
    code = main(["report", str(base_path), "--compare", str(other_path), "--replications", "2",
                 "--workers", "1", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    tables = sorted(out.glob("*.csv"))
    assert {"comparison.csv", "inputs.csv", "summary.csv"} <= {p.name for p in tables}
    cells = [c for p in tables for c in _cells(p)]
    assert any(c.startswith("'=HYPERLINK") for c in cells)  # the name reached a CSV ...
    live = [c for c in cells if c.startswith(FORMULA_STARTS) and not _is_number(c)]
    assert not live  # ... and no cell a spreadsheet would run
    page = (out / "report.html").read_text(encoding="utf-8")
    for raw in ("<script>", "<img src=x", "<b>bold", "\x1b"):
        assert raw not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert (out / "comparison.png").read_bytes().startswith(b"\x89PNG")


def test_run_table_and_errors_carry_no_control_characters(capsys: pytest.CaptureFixture,
                                                          tmp_path: Path,
                                                          default_scenario) -> None:
    base_path, _ = _write_scenarios(default_scenario, tmp_path)
    code = main(["run", str(base_path), "--replications", "2", "--workers", "1"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out  # shown, not obeyed

    bad = tmp_path / "bad\x1b[2J\u202e.toml"
    bad.write_text("name = 3\n")
    code = main(["validate", str(bad)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "\x1b" not in err and "\u202e" not in err and "bad\\x1b[2J\\u202e.toml" in err
    lines = err.strip().splitlines()  # one line per problem, each naming the file
    assert lines and all(line.startswith("mashsim: error: ") and "bad\\x1b" in line
                         for line in lines)


def test_sweep_csv_values_are_data(tmp_path: Path) -> None:
    from mashsim.experiment.sweep import SWEEP_COLUMNS, write_sweep

    frame = pd.DataFrame([{**dict.fromkeys(SWEEP_COLUMNS, 0.0), "point": 0, "scope": "overall",
                           "metric": "sd_breach_72h", "mean": -0.0,
                           "description": "=cmd|' /C calc'!A0"}])
    write_sweep(frame, tmp_path)
    cells = _cells(tmp_path / "sweep.csv")
    assert "'=cmd|' /C calc'!A0" in cells and "-0.0" in cells
