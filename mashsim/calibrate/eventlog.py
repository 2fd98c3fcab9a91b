"""The referral event log: a force's case-management extract as CSV, one row per referral.

Reading is streamed in chunks (`EventLogReader.chunks()`), every row is validated, and
each problem is counted by kind with its file line numbers, so a million-row extract is
checked and summarised in bounded memory. The one structure that grows with the log is
the duplicate-ID index: a sorted array of 64-bit hashes, 8 bytes per row.

Times become float hours since 1970-01-01 00:00 *local wall-clock* time in the stated
zone, because the model's clock is naive local wall-clock time (every day 24 h): naive
timestamps are read as wall-clock time in `timezone`, timestamps with an offset are
converted to it. Writing produces the same format from a simulation run
(`simulated_log_frame` + `write_event_log`).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from mashsim.errors import ScenarioError
from mashsim.model.replication import HubRecord
from mashsim.scenario.schema import GRADES, Scenario

__all__ = [
    "DEFAULT_TIMEZONE",
    "OPTIONAL_COLUMNS",
    "PROBLEM_KINDS",
    "REQUIRED_COLUMNS",
    "TIME_COLUMNS",
    "BadRows",
    "EventLogReader",
    "epoch_hours",
    "hours_to_date",
    "simulated_log_frame",
    "write_event_log",
]

REQUIRED_COLUMNS = ("referral_id", "hub", "referral_type", "created_at", "risk_grade")
OPTIONAL_COLUMNS = ("officer_assessment_at", "staff_start_at", "decision_at",
                    "shared_with_partners", "strategy_discussion_at", "handling_minutes")
TIME_COLUMNS = ("created_at", "officer_assessment_at", "staff_start_at", "decision_at",
                "strategy_discussion_at")
# Parsed frames carry these columns; times are hours since 1970-01-01 local wall clock.
_TIME_FIELD = {"created_at": "created", "officer_assessment_at": "officer",
               "staff_start_at": "staff_start", "decision_at": "decision",
               "strategy_discussion_at": "sd"}

# A real row is well under 1 KB: a longer line is a broken extract, skipped without
# being read whole (an unterminated multi-GB line must not exhaust memory).
MAX_LINE_CHARS = 65_536
# Later timestamps are typos (2205 for 2025) that would stretch the extract end by years.
FUTURE_YEARS = 5
PROBLEM_KINDS = {
    "bad_encoding": "malformed: not UTF-8 text (save the extract as UTF-8)",
    "line_too_long": f"malformed: a line longer than {MAX_LINE_CHARS:,} characters (skipped "
                     "unread)",
    "bad_csv": "malformed: not readable as CSV (an unclosed quote, or a field over the CSV "
               "field size limit)",
    "wrong_field_count": "malformed: wrong number of fields",
    "missing_value": "malformed: a required field is blank",
    "bad_timestamp": "malformed: a timestamp that is not ISO 8601",
    "far_future": f"malformed: a timestamp more than {FUTURE_YEARS} years after today",
    "bad_grade": "malformed: risk_grade is not high, medium or standard",
    "bad_name": "malformed: hub or referral_type is not a usable name",
    "bad_number": "malformed: handling_minutes is not a finite number >= 0",
    "bad_flag": "malformed: shared_with_partners is not yes/no, true/false or 1/0",
    "unknown_hub": "unknown hub (not in the scenario)",
    "unknown_type": "unknown referral_type (not in the scenario)",
    "out_of_order": "timestamps out of order (an event before creation, or decision "
                    "before staff start)",
    "duplicate_id": "duplicate referral_id (an earlier row has it)",
}
_GRADE_CODES = {g: i for i, g in enumerate(GRADES)}
_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)
_OFFSET = r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"
_EPOCH = dt.date(1970, 1, 1)
_NS_PER_HOUR = 3_600_000_000_000
SHOW_LINES = 10
DEFAULT_TIMEZONE = "Europe/London"  # the model's clock (README: local wall-clock time)


def epoch_hours(day: dt.date) -> float:
    """Hours from 1970-01-01 00:00 to 00:00 on `day` (the parsed frames' time origin)."""
    return float((day - _EPOCH).days * 24)


def hours_to_date(hours: float) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(np.floor(hours / 24.0)))


def normalise_name(text: str) -> str:
    """'Milton Keynes' → 'milton_keynes': extracts rarely use scenario-style names."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


@dataclass
class BadRows:
    """Rows with problems: count and first file line numbers per kind."""

    path: str
    counts: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    bad_rows: int = 0
    rows: int = 0

    def add(self, kind: str, lines: Iterable[int]) -> None:
        lines = list(lines)
        if not lines:
            return
        self.counts[kind] = self.counts.get(kind, 0) + len(lines)
        shown = self.lines.setdefault(kind, [])
        shown.extend(lines[: max(0, SHOW_LINES - len(shown))])

    def messages(self) -> list[str]:
        """One line per problem kind; line numbers are file lines (the header is line 1)."""
        out = []
        for kind, n in self.counts.items():
            shown = ", ".join(map(str, self.lines[kind]))
            more = f" and {n - len(self.lines[kind])} more" if n > len(self.lines[kind]) else ""
            out.append(f"{self.path}: {n} row(s) {PROBLEM_KINDS[kind]}: line(s) {shown}{more}")
        return out

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "bad_rows": self.bad_rows, "counts": dict(self.counts),
                "first_lines": {k: list(v) for k, v in self.lines.items()}}


def _zone(name: str | None) -> ZoneInfo:
    """The zone of naive timestamps; None means DEFAULT_TIMEZONE, which the user never typed.

    A missing default is this system's fault (no time-zone database, e.g. Windows
    without the `tzdata` package), so the message says that instead of blaming a flag.
    """
    try:
        return ZoneInfo(DEFAULT_TIMEZONE if name is None else name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        if name is not None:
            raise ScenarioError([f"--timezone {name}: unknown time zone"]) from None
        raise ScenarioError([
            f"the default time zone {DEFAULT_TIMEZONE} is not available on this system (no "
            "time-zone database): pip install tzdata, or give --timezone"]) from None


def _parse_times(s: pd.Series, zone: ZoneInfo) -> np.ndarray:
    """ISO 8601 strings → float hours since 1970 local wall clock; NaN where unparsable.

    The fast path handles chunks that are all naive (or share one offset); mixed chunks
    are split by a regex for the offset.
    """
    try:
        t = pd.to_datetime(s, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):
        t = None
    if t is not None and isinstance(t.dtype, pd.DatetimeTZDtype):
        t = t.dt.tz_convert(zone).dt.tz_localize(None)
    elif t is None or t.dtype == object:
        aware = s.str.contains(_OFFSET, regex=True)
        naive = pd.to_datetime(s.where(~aware), format="ISO8601", errors="coerce")
        conv = pd.to_datetime(s.where(aware), format="ISO8601", errors="coerce", utc=True)
        conv = conv.dt.tz_convert(zone).dt.tz_localize(None)
        t = naive.where(~aware, conv)
    ns = t.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out = ns / _NS_PER_HOUR
    out[pd.isna(t).to_numpy()] = np.nan
    return out


def _parse_flag(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    low = s.str.strip().str.lower()
    yes, no = low.isin(_TRUE).to_numpy(), low.isin(_FALSE).to_numpy()
    bad = ~(yes | no) & (low != "").to_numpy()
    return np.where(yes, 1.0, np.where(no, 0.0, np.nan)), bad


def _capped_lines(fh: TextIO, too_long: list[int]) -> Iterator[str]:
    """The file's lines, none longer than MAX_LINE_CHARS, for `csv.reader`.

    A longer line is read in bounded pieces and thrown away; its number goes to
    `too_long` and a blank line stands in for it, so csv's line numbers stay right.
    """
    number = 0
    while line := fh.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) <= MAX_LINE_CHARS or line.endswith(("\n", "\r")):
            yield line
            continue
        too_long.append(number)
        while line and not line.endswith(("\n", "\r")):
            line = fh.readline(MAX_LINE_CHARS)
        yield "\n"


def _next_row(reader: Iterator[list[str]], bad_csv: list[int]) -> list[str] | None:
    """The next CSV row, None at the end; a row csv cannot parse is noted and skipped."""
    while True:
        try:
            return next(reader)
        except StopIteration:
            return None
        except csv.Error:
            bad_csv.append(reader.line_num)  # type: ignore[attr-defined]


def _undecodable_rows(raw: pd.DataFrame) -> np.ndarray:
    """Rows holding bytes that were not UTF-8; one cheap search when there are none."""
    bad = np.zeros(len(raw), dtype=bool)
    if not _UNDECODABLE.search("".join(raw.to_numpy().ravel().tolist())):
        return bad
    for i in range(raw.shape[1]):  # by position: unknown columns may share a name
        bad |= raw.iloc[:, i].str.contains(_UNDECODABLE, regex=True).to_numpy()
    return bad


class EventLogReader:
    """Streams validated chunks of an event log; problems are collected in `.problems`.

    Iterate `chunks()` once; afterwards call `check(skip_bad_rows)`, which raises
    `ScenarioError` listing every problem kind unless the user asked to skip bad rows.
    `known_hubs` / `known_types` (scenario names) turn other names into bad rows.
    Timestamps more than FUTURE_YEARS after `today` (default: the real today) are bad rows.
    """

    def __init__(
        self,
        path: str | Path,
        timezone: str | None = None,
        known_hubs: Sequence[str] | None = None,
        known_types: Sequence[str] | None = None,
        chunk_rows: int = 50_000,
        today: dt.date | None = None,
    ) -> None:
        self.path = Path(path)
        self.zone = _zone(timezone)
        self.known_hubs = None if known_hubs is None else frozenset(known_hubs)
        self.known_types = None if known_types is None else frozenset(known_types)
        self.chunk_rows = chunk_rows
        self.problems = BadRows(str(self.path))
        self.columns: tuple[str, ...] = ()
        self.renamed: dict[str, str] = {}  # original name → normalised, hubs and types
        self.max_time_hours = -np.inf  # latest timestamp seen: the extract's end
        self._ids = np.empty(0, dtype=np.uint64)
        today = dt.date.today() if today is None else today
        self.latest_hours = epoch_hours(today.replace(year=today.year + FUTURE_YEARS,
                                                      day=min(today.day, 28)))

    @property
    def optional_present(self) -> tuple[str, ...]:
        return tuple(c for c in OPTIONAL_COLUMNS if c in self.columns)

    def chunks(self) -> Iterator[pd.DataFrame]:
        try:
            # Bytes that are not UTF-8 become lone surrogates: a bad row, not a crash.
            fh = open(self.path, encoding="utf-8-sig", errors="surrogateescape",  # noqa: SIM115
                      newline="")
        except OSError as err:
            raise ScenarioError([f"{self.path}: cannot read: {err.strerror or err}"]) from None
        with fh:
            unreadable: dict[str, list[int]] = {"line_too_long": [], "bad_csv": []}
            reader = csv.reader(_capped_lines(fh, unreadable["line_too_long"]))
            self.columns = tuple(self._header(reader, unreadable))
            width = len(self.columns)
            rows: list[list[str]] = []
            lines: list[int] = []
            unreadable["wrong_field_count"] = []
            while (row := _next_row(reader, unreadable["bad_csv"])) is not None:
                if len(row) == width:
                    rows.append(row)
                    lines.append(reader.line_num)
                elif row:  # a blank line is not a row
                    unreadable["wrong_field_count"].append(reader.line_num)
                if len(rows) >= self.chunk_rows:
                    yield from self._finish_chunk(rows, lines, unreadable)
                    rows, lines = [], []
            yield from self._finish_chunk(rows, lines, unreadable)

    def _header(self, reader: Iterator[list[str]], unreadable: dict[str, list[int]]
                ) -> list[str]:
        """Line 1, checked: any fault in the header is fatal (no row could be read)."""
        row = _next_row(reader, unreadable["bad_csv"])
        where = f"{self.path}: line 1 (the header)"
        if unreadable["line_too_long"] or unreadable["bad_csv"]:
            raise ScenarioError([f"{where}: not a CSV header line (over "
                                 f"{MAX_LINE_CHARS:,} characters, or an unclosed quote)"])
        header = [h.strip().lower() for h in row or []]
        if any(_UNDECODABLE.search(h) for h in header):
            raise ScenarioError([f"{where}: not UTF-8 text; save the extract as UTF-8"])
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ScenarioError([f"{self.path}: missing required column(s) "
                                 f"{', '.join(missing)} (header is line 1: "
                                 f"{', '.join(header) or 'empty file'})"])
        twice = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if header.count(c) > 1]
        if twice:
            raise ScenarioError([f"{where}: column(s) {', '.join(twice)} appear more than "
                                 "once; keep one of each"])
        return header

    def _finish_chunk(
        self, rows: list[list[str]], lines: list[int], unreadable: dict[str, list[int]]
    ) -> Iterator[pd.DataFrame]:
        """Count the rows that could not be read as rows, then validate the others."""
        for kind, bad_lines in unreadable.items():
            self.problems.add(kind, bad_lines)
            self.problems.rows += len(bad_lines)
            self.problems.bad_rows += len(bad_lines)
            bad_lines.clear()
        self.problems.rows += len(rows)
        if not rows:
            return
        raw = pd.DataFrame(rows, columns=list(self.columns), dtype=object)
        frame, bad = self._validate(raw, np.asarray(lines, dtype=np.int64))
        self.problems.bad_rows += int(bad.sum())
        clean = frame[~bad].reset_index(drop=True)
        if len(clean):
            yield clean

    def _validate(self, raw: pd.DataFrame, line: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        n = len(raw)
        bad = np.zeros(n, dtype=bool)

        def flag(kind: str, mask: np.ndarray) -> None:
            nonlocal bad
            mask = mask & ~bad  # one kind per row: the first problem found
            self.problems.add(kind, line[mask].tolist())
            bad |= mask

        undecodable = _undecodable_rows(raw)
        flag("bad_encoding", undecodable)
        raw.loc[undecodable, :] = ""  # lone surrogates cannot be hashed or printed
        req = {c: raw[c].str.strip() for c in REQUIRED_COLUMNS}
        flag("missing_value", np.logical_or.reduce([(v == "").to_numpy() for v in req.values()]))
        out = pd.DataFrame({"line": line, "referral_id": req["referral_id"]})
        for col in ("hub", "referral_type"):
            mapping = {u: normalise_name(u) for u in req[col].unique()}
            names = req[col].map(mapping)
            self.renamed.update({u: v for u, v in mapping.items() if u and u != v})
            out[col] = names
            flag("bad_name", ~names.str.match(_NAME).to_numpy())
        grade = req["risk_grade"].str.lower().map(_GRADE_CODES)
        flag("bad_grade", grade.isna().to_numpy())
        out["grade"] = grade.fillna(-1).astype(np.int8).to_numpy()
        for col, name in _TIME_FIELD.items():
            if col not in raw:
                out[name] = np.nan
                continue
            text = raw[col].str.strip()
            hours = _parse_times(text, self.zone)
            flag("bad_timestamp", np.isnan(hours) & (text != "").to_numpy())
            with np.errstate(invalid="ignore"):
                flag("far_future", hours > self.latest_hours)
            out[name] = hours
        if "handling_minutes" in raw:
            text = raw["handling_minutes"].str.strip()
            num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                flag("bad_number", (~np.isfinite(num) | (num < 0)) & (text != "").to_numpy())
            out["handling_minutes"] = num
        else:
            out["handling_minutes"] = np.nan
        if "shared_with_partners" in raw:
            shared, bad_flag = _parse_flag(raw["shared_with_partners"])
            flag("bad_flag", bad_flag)
            out["shared"] = shared
        else:
            out["shared"] = np.nan
        if self.known_hubs is not None:
            flag("unknown_hub", ~out["hub"].isin(self.known_hubs).to_numpy())
        if self.known_types is not None:
            flag("unknown_type", ~out["referral_type"].isin(self.known_types).to_numpy())
        c = out["created"].to_numpy()
        with np.errstate(invalid="ignore"):
            order = ((out["officer"].to_numpy() < c) | (out["staff_start"].to_numpy() < c)
                     | (out["decision"].to_numpy() < c) | (out["sd"].to_numpy() < c)
                     | (out["decision"].to_numpy() < out["staff_start"].to_numpy()))
        flag("out_of_order", order)
        flag("duplicate_id", self._duplicates(out["referral_id"], bad))
        times = out[list(_TIME_FIELD.values())].to_numpy()[~bad]
        if times.size and np.isfinite(times).any():
            self.max_time_hours = max(self.max_time_hours, float(np.nanmax(times)))
        return out, bad

    def _duplicates(self, ids: pd.Series, bad: np.ndarray) -> np.ndarray:
        """Rows whose ID an earlier row (clean, in this or an earlier chunk) had."""
        h = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        dup = np.zeros(len(h), dtype=bool)
        if self._ids.size:
            pos = np.minimum(np.searchsorted(self._ids, h), self._ids.size - 1)
            dup = self._ids[pos] == h
        ok = ~bad & ~dup
        first = np.zeros(len(h), dtype=bool)
        _, idx = np.unique(h[ok], return_index=True)
        first[np.flatnonzero(ok)[idx]] = True
        dup |= ok & ~first
        fresh = h[first]
        merged = np.concatenate((self._ids, fresh))
        merged.sort()
        self._ids = merged
        return dup

    def check(self, skip_bad_rows: bool) -> list[str]:
        """Raise unless clean or skipping; returns the warning lines when skipping."""
        p = self.problems
        if not p.counts:
            return []
        msgs = p.messages()
        if not skip_bad_rows:
            raise ScenarioError([*msgs, f"{self.path}: {p.bad_rows} of {p.rows} data row(s) "
                                 "have problems; fix them, or rerun with --skip-bad-rows to "
                                 f"use the {p.rows - p.bad_rows} clean row(s)"])
        return [*msgs, f"{self.path}: skipped {p.bad_rows} bad row(s) of {p.rows}; "
                f"used {p.rows - p.bad_rows} clean row(s)"]


# -- writing -------------------------------------------------------------------------


def simulated_log_frame(
    scenario: Scenario,
    records: dict[str, HubRecord],
    window_start_hours: float,
    extract_end_hours: float,
    window_end_hours: float | None = None,
) -> pd.DataFrame:
    """The referrals created in [window_start, window_end) of one replication, as a log.

    `window_end_hours` defaults to the extract end (model hours, like the others).

    Model hours become parsed-frame hours (since 1970, local wall clock). Events after
    the extract end are blank, as in a real extract: an assessment not yet submitted,
    a referral not yet decided (then its sharing flag and handling time are unknown too).
    """
    origin = epoch_hours(scenario.run.start_date)
    parts = []
    types = np.asarray(scenario.type_names, dtype=object)
    for hub, rec in records.items():
        r = rec.referrals
        end = extract_end_hours if window_end_hours is None else window_end_hours
        keep = (r.created >= window_start_hours) & (r.created < min(end, extract_end_hours))
        keep &= r.entered == r.created  # not the initial backlog
        idx = np.flatnonzero(keep)

        def known(t: np.ndarray, idx: np.ndarray = idx) -> np.ndarray:
            t = np.asarray(t, dtype=float)[idx]
            return np.where(t <= extract_end_hours, t + origin, np.nan)

        officer = known(r.created + r.officer_delay_hours)
        decision = known(rec.staff_end)
        decided = np.isfinite(decision)
        parts.append(pd.DataFrame({
            "referral_id": [f"{hub}-{i:07d}" for i in range(len(idx))],
            "hub": hub,
            "referral_type": types[r.type_idx[idx]],
            "grade": r.grade_idx[idx].astype(np.int8),
            "created": r.created[idx] + origin,
            "officer": officer,
            "staff_start": known(rec.staff_start),
            "decision": decision,
            "sd": known(rec.sd_held),
            "shared": np.where(decided, r.shared[idx].astype(float), np.nan),
            "handling_minutes": np.where(decided, r.handling_minutes[idx], np.nan),
        }))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values("created", kind="stable").reset_index(drop=True)


def _format_times(hours: np.ndarray) -> np.ndarray:
    secs = np.round(np.nan_to_num(hours, nan=0.0) * 3600.0).astype(np.int64)
    text = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    return np.where(np.isfinite(hours), text, "")


def _format_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "referral_id": frame["referral_id"],
        "hub": frame["hub"],
        "referral_type": frame["referral_type"],
        "created_at": _format_times(frame["created"].to_numpy()),
        "risk_grade": np.asarray(GRADES, dtype=object)[frame["grade"].to_numpy()],
    })
    for col in ("officer_assessment_at", "staff_start_at", "decision_at"):
        out[col] = _format_times(frame[_TIME_FIELD[col]].to_numpy())
    shared = frame["shared"].to_numpy()
    out["shared_with_partners"] = np.where(np.isnan(shared), "",
                                           np.where(shared > 0.5, "true", "false"))
    out["strategy_discussion_at"] = _format_times(frame["sd"].to_numpy())
    hm = frame["handling_minutes"].to_numpy()
    out["handling_minutes"] = np.where(np.isnan(hm), "", np.char.mod("%.2f", np.nan_to_num(hm)))
    return out


def write_event_log(path: str | Path, frames: Iterable[pd.DataFrame]) -> int:
    """Write parsed-form frames as an event-log CSV (naive local timestamps); atomic.

    Returns the number of rows written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    rows = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            header = True
            for frame in frames:
                _format_chunk(frame).to_csv(fh, index=False, header=header, lineterminator="\n")
                header = False
                rows += len(frame)
            if header:
                fh.write(",".join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rows
