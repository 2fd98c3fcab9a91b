"""Event-log reading and writing: bad data reported by kind with file line numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mashsim import ScenarioError, default_scenario_path, load_scenario
from mashsim.calibrate.eventlog import EventLogReader, simulated_log_frame, write_event_log
from mashsim.cli import main
from mashsim.model.replication import run_replication

HEADER = ("referral_id,hub,referral_type,created_at,risk_grade,officer_assessment_at,"
          "staff_start_at,decision_at,shared_with_partners,strategy_discussion_at,"
          "handling_minutes")
GOOD = "r{i},reading,child,2025-04-07T10:00:00,high,2025-04-07T12:00:00,,,,,"

BAD_LOG = [
    HEADER,
    GOOD.format(i=1),                                                      # line 2
    "r2,reading,child,2025-04-07T10:00:00,high",                           # 3 field count
    "r3,reading,child,not-a-time,high,,,,,,",                              # 4 timestamp
    "r4,reading,child,2025-04-07T10:00:00,urgent,,,,,,",                   # 5 grade
    "r5,reading,child,2025-04-07T10:00:00,high,2025-04-06T10:00:00,,,,,",  # 6 order
    GOOD.format(i=1),                                                      # 7 duplicate
    "r7,,child,2025-04-07T10:00:00,high,,,,,,",                            # 8 blank hub
    "r8,reading,child,2025-04-07T10:00:00,high,,,,maybe,,",                # 9 flag
    "r9,reading,child,2025-04-07T10:00:00,high,,,,,,-3",                   # 10 number
    "r10,reading,child,2025-04-07T10:00:00,high,,2025-04-08T10:00:00,2025-04-08T09:00:00,"
    "yes,,20",                                                             # 11 order
    GOOD.format(i=11),                                                     # 12 ok
]
EXPECTED = {"wrong_field_count": [3], "bad_timestamp": [4], "bad_grade": [5],
            "out_of_order": [6, 11], "duplicate_id": [7], "missing_value": [8],
            "bad_flag": [9], "bad_number": [10]}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(path: Path, **kw: object) -> tuple[EventLogReader, list]:
    reader = EventLogReader(path, **kw)
    return reader, list(reader.chunks())


def test_every_problem_kind_is_counted_with_its_line_numbers(tmp_path: Path) -> None:
    reader, chunks = _read(_write(tmp_path / "bad.csv", BAD_LOG), chunk_rows=4)
    assert reader.problems.lines == EXPECTED
    assert reader.problems.counts == {k: len(v) for k, v in EXPECTED.items()}
    assert reader.problems.rows == 11 and reader.problems.bad_rows == 9
    assert sorted(int(x) for c in chunks for x in c["line"]) == [2, 12]
    with pytest.raises(ScenarioError) as err:
        reader.check(skip_bad_rows=False)
    text = "\n".join(err.value.problems)
    assert "1 row(s) duplicate referral_id" in text and "line(s) 7" in text
    assert "2 row(s) timestamps out of order" in text and "line(s) 6, 11" in text
    assert "9 of 11 data row(s) have problems" in text
    assert "skipped 9 bad row(s) of 11" in reader.check(skip_bad_rows=True)[-1]


def test_unknown_hubs_and_types_against_a_scenario(tmp_path: Path) -> None:
    lines = [HEADER, GOOD.format(i=1), GOOD.format(i=2).replace("reading", "atlantis"),
             GOOD.format(i=3).replace("child", "burglary")]
    reader, _ = _read(_write(tmp_path / "l.csv", lines), known_hubs=["reading"],
                      known_types=["child"])
    assert reader.problems.lines == {"unknown_hub": [3], "unknown_type": [4]}


def test_missing_required_columns_is_fatal_even_when_skipping(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture
                                                             ) -> None:
    log = _write(tmp_path / "l.csv", ["referral_id,hub,created_at", "r1,reading,2025-04-07"])
    rc = main(["fit", str(log), "--out", str(tmp_path / "f.toml"), "--skip-bad-rows"])
    assert rc == 2
    assert "missing required column(s) referral_type, risk_grade" in capsys.readouterr().err
    assert not (tmp_path / "f.toml").exists()


def test_cli_fit_exits_2_on_bad_rows_and_proceeds_when_asked(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture
                                                             ) -> None:
    log = _write(tmp_path / "bad.csv", BAD_LOG)
    out = tmp_path / "f.toml"
    assert main(["fit", str(log), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line(s) 3" in err and "--skip-bad-rows" in err and not out.exists()
    # Clean rows exist but are too few to fit every distribution: fit still succeeds.
    assert main(["fit", str(log), "--out", str(out), "--skip-bad-rows"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "skipped 9 bad row(s) of 11" in err
    assert load_scenario(out).hub_names == ["reading"]


def test_offsets_are_converted_to_local_wall_clock(tmp_path: Path) -> None:
    lines = [HEADER,
             "a,reading,child,2025-07-01T09:00:00+00:00,high,,,,,,",   # BST: 10:00 local
             "b,reading,child,2025-07-01T10:00:00,high,,,,,,",         # naive: local
             "c,reading,child,2025-01-15T09:00:00Z,high,,,,,,"]        # GMT: 09:00 local
    _, chunks = _read(_write(tmp_path / "l.csv", lines))
    hod = (chunks[0]["created"].to_numpy() % 24).round(6)
    assert hod.tolist() == [10.0, 10.0, 9.0]
    _, chunks = _read(tmp_path / "l.csv", timezone="UTC")
    assert (chunks[0]["created"].to_numpy() % 24).round(6).tolist() == [9.0, 10.0, 9.0]


def test_simulated_log_round_trips_through_the_csv(tmp_path: Path) -> None:
    sc = load_scenario(default_scenario_path()).with_overrides(
        {"run.duration_days": 21, "run.warmup_days": 7})
    frame = simulated_log_frame(sc, run_replication(sc, 3, 0), sc.warmup_hours,
                                sc.horizon_hours)
    assert write_event_log(tmp_path / "s.csv", [frame]) == len(frame) > 1000
    reader, chunks = _read(tmp_path / "s.csv", chunk_rows=1000)
    assert reader.check(False) == [] and sum(map(len, chunks)) == len(frame)
    back = np.concatenate([c["created"].to_numpy() for c in chunks])
    assert np.abs(back - frame["created"].to_numpy()).max() < 1 / 3600 + 1e-9
    for col in ("officer", "decision", "sd", "shared"):
        got = np.concatenate([c[col].to_numpy() for c in chunks])
        assert np.array_equal(np.isnan(got), np.isnan(frame[col].to_numpy()))
    # Nothing after the extract end is known: undecided referrals have no handling time.
    undecided = np.isnan(frame["decision"].to_numpy())
    assert undecided.any() and np.isnan(frame["handling_minutes"].to_numpy()[undecided]).all()


def test_missing_default_zone_blames_the_system_not_a_flag(tmp_path: Path, monkeypatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """Without a zone database (Windows, no tzdata) the user who gave no flag is not blamed."""
    import zoneinfo

    import mashsim.calibrate.eventlog as ev

    def no_database(name: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(f"No time zone found with key {name}")

    monkeypatch.setattr(ev, "ZoneInfo", no_database)
    log = _write(tmp_path / "l.csv", [HEADER, GOOD.format(i=1)])
    out = tmp_path / "f.toml"
    assert main(["fit", str(log), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--timezone Europe/London" not in err[0], err
    assert "tzdata" in err[0] and not out.exists()
    assert main(["fit", str(log), "--out", str(out), "--timezone", "Mars/Olympus"]) == 2
    assert "--timezone Mars/Olympus: unknown time zone" in capsys.readouterr().err


def test_tzdata_is_a_dependency() -> None:
    """The zone database ships with the install, so the default zone works on Windows too."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.split(">")[0].split("=")[0].strip() == "tzdata" for d in deps)


def _problems(path: Path, **kw: object) -> dict[str, list[int]]:
    reader, _ = _read(path, **kw)
    return reader.problems.lines


def test_bytes_that_are_not_utf8_are_a_bad_row_with_its_line(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture
                                                            ) -> None:
    path = tmp_path / "latin1.csv"
    body = [HEADER, GOOD.format(i=1), "r2,Reading,child,2025-04-07T10:00:00,high,,,,,,",
            GOOD.format(i=3)]
    path.write_bytes("\n".join(body).replace("Reading", "Réading").encode("latin-1") + b"\n")
    assert _problems(path) == {"bad_encoding": [3]}
    out = tmp_path / "f.toml"
    assert main(["fit", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "line(s) 3" in err and "Traceback" not in err


def test_a_header_that_is_not_utf8_or_names_a_column_twice_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(HEADER.replace("hub", "hüb").encode("latin-1") + b",\n")
    twice = _write(tmp_path / "twice.csv", [HEADER + ",decision_at", GOOD.format(i=1) + ","])
    for path, says in ((latin, "not UTF-8"), (twice, "decision_at appear more than once")):
        assert main(["fit", str(path), "--out", str(tmp_path / "f.toml")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0] and "line 1" in err[0], err


@pytest.mark.parametrize("value", ["inf", "1e999", "-inf", "nan", "Infinity"])
def test_infinite_handling_minutes_are_bad_numbers(tmp_path: Path, value: str) -> None:
    row = f"r2,reading,child,2025-04-07T10:00:00,high,,,,,,{value}"
    path = _write(tmp_path / "l.csv", [HEADER, GOOD.format(i=1), row, GOOD.format(i=3)])
    assert _problems(path) == {"bad_number": [3]}


def test_a_field_over_the_csv_limit_is_a_bad_row_and_reading_goes_on(tmp_path: Path) -> None:
    # An unclosed quote swallows the next lines until csv's field size limit (131,072).
    open_quote = 'r2,reading,"' + "x" * 60_000
    lines = [HEADER, GOOD.format(i=1), open_quote, "x" * 60_000, "x" * 60_000,
             GOOD.format(i=6), GOOD.format(i=7)]
    reader, chunks = _read(_write(tmp_path / "l.csv", lines))
    assert list(reader.problems.lines) == ["bad_csv"]
    assert [int(x) for c in chunks for x in c["line"]] == [2, 6, 7]


def test_an_unterminated_huge_line_is_skipped_without_reading_it_whole(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "l.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("\n".join([HEADER, GOOD.format(i=1), ""]))
        fh.write("r2," + "y" * 40_000_000 + "\n")  # 40 MB: line 3
        fh.write(GOOD.format(i=4))  # and a last line without a newline
    tracemalloc.start()
    try:
        reader, chunks = _read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reader.problems.lines == {"line_too_long": [3]}
    assert [int(x) for c in chunks for x in c["line"]] == [2, 4]
    assert peak < 8_000_000, peak


def test_a_far_future_timestamp_is_a_bad_row(tmp_path: Path) -> None:
    import datetime as dt

    rows = [HEADER, GOOD.format(i=1),
            "r2,reading,child,2029-12-31T10:00:00,high,,,,,,",   # 3: inside 5 years, fine
            "r3,reading,child,2031-01-02T10:00:00,high,,,,,,",   # 4: too far
            "r4,reading,child,2025-04-07T10:00:00,high,2205-04-07T10:00:00,,,,,"]  # 5
    path = _write(tmp_path / "l.csv", rows)
    assert _problems(path, today=dt.date(2025, 6, 1)) == {"far_future": [4, 5]}
