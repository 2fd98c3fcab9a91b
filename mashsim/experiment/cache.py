"""Resumable runs: every finished replication is saved under the output folder at once.

A replication is a pure function of (scenario, seed, replication), so its result can be
stored under a key made of a hash of the scenario (which encodes the sweep point or the
headcount being tried), the seed and the mashsim code (version and a hash of its source,
so an upgrade or a local edit never reuses stale results), and reused by any later sweep
or plan that needs the same replication. Files are written atomically as each replication
completes, so Ctrl-C (or a crash) loses at most the replications that were running.

The files are JSON, not pickle, so reading an output folder never runs code; floats
round-trip exactly (`repr`), NaN included.

Layout: `<out>/cache/<scenario-hash>/r<replication>.json`. Each file also records the
replication index, seed and scenario hash it holds; a file whose record does not match
its place (copied or renamed by hand, or damaged) is ignored with a warning on stderr and
the replication is run again and overwritten, so a cache can never change a result.
The cache folder is carried into each new result set when the folder is swapped
(`_io.output_set`), so resuming works after any number of completed runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mashsim._io import atomic_write_text, recover_kept
from mashsim._version import __version__
from mashsim.experiment.executors import Task, task_parts
from mashsim.experiment.replications import ReplicationResult
from mashsim.scenario.schema import Scenario

__all__ = [
    "Interrupted",
    "ReplicationCache",
    "code_fingerprint",
    "scenario_hash",
]

CACHE_FOLDER = "cache"


@functools.cache
def code_fingerprint() -> str:
    """Hash of mashsim's own source: results cached by other code are never reused."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parents[1]  # the whole mashsim package
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def scenario_hash(scenario: Scenario, seed: int) -> str:
    """A stable 20-hex-digit key for (scenario contents, seed, mashsim code)."""
    text = json.dumps({"scenario": scenario.to_dict(), "seed": seed,
                       "code": code_fingerprint()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _arrays(d: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {hub: {k: {"dtype": str(a.dtype), "values": a.tolist()} for k, a in cols.items()}
            for hub, cols in d.items()}


def _unarrays(d: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, np.ndarray]]:
    return {hub: {k: np.asarray(v["values"], dtype=v["dtype"]) for k, v in cols.items()}
            for hub, cols in d.items()}


def _encode(res: ReplicationResult, seed: int | None = None, key: str | None = None) -> str:
    doc: dict[str, Any] = {"replication": res.replication, "seed": seed,
                           "scenario_hash": key, "metrics": res.metrics,
                           "daily": _arrays(res.daily)}
    if res.outcomes is not None:
        doc["outcomes"] = _arrays(res.outcomes)
    return json.dumps(doc, default=_plain)


def _plain(value: object) -> object:
    if isinstance(value, np.generic):  # a numpy scalar among the metrics
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in the replication cache")


def _check(data: dict[str, Any], expect: dict[str, object] | None) -> None:
    for name, want in (expect or {}).items():
        if data.get(name) != want:
            raise ValueError(f"it holds {name} {data.get(name)!r}, expected {want!r}")


def _decode(text: str, expect: dict[str, object] | None = None) -> ReplicationResult:
    """The result in `text`; ValueError when its record differs from `expect`."""
    data = json.loads(text)
    _check(data, expect)
    outcomes = data.get("outcomes")
    return ReplicationResult(replication=int(data["replication"]), metrics=data["metrics"],
                             daily=_unarrays(data["daily"]),
                             outcomes=None if outcomes is None else _unarrays(outcomes))


class ReplicationCache:
    """Replication results on disk under `folder/cache`; `folder=None` keeps nothing.

    A task that asks for per-referral outcomes is a miss on a file saved without them
    (it is run again and the file overwritten with the fuller result); a task that does
    not ask gets the result without them, exactly as a fresh run gives it.
    """

    def __init__(self, folder: str | Path | None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.root = None if folder is None else Path(folder) / CACHE_FOLDER
        self._keys: dict[tuple[int, str], tuple[Scenario, int, str]] = {}
        self._warn = warn or _warn_stderr
        self.rejected = 0  # files ignored because their record did not match
        if folder is not None:
            recover_kept(Path(folder))

    def _key(self, task: Task) -> str:
        job = "" if task.job is None else task.job.cache_key()
        entry = self._keys.get((id(task.scenario), job))
        if entry is None or entry[0] is not task.scenario or entry[1] != task.seed:
            key = scenario_hash(task.scenario, task.seed)
            if job:  # another reduction of the same replication: its own folder
                key = hashlib.sha256(f"{key}\n{job}".encode()).hexdigest()[:20]
            entry = (task.scenario, task.seed, key)
            self._keys[(id(task.scenario), job)] = entry
        return entry[2]

    def _path(self, task: Task) -> Path | None:
        if self.root is None:
            return None
        return self.root / self._key(task) / f"r{task.replication:05d}.json"

    def get(self, task: Task) -> Any:
        """The saved result of `task`, or None (not saved, or unusable: run it again).
        A task made of parts (`Job.parts`) is saved when every part is."""
        parts = task_parts(task)
        if parts is not None:
            got = [self.get(t) for t in parts]
            return None if any(r is None for r in got) else got
        path = self._path(task)
        if path is None or not path.exists():
            return None
        expect = {"replication": task.replication, "seed": task.seed,
                  "scenario_hash": self._key(task)}
        try:
            text = path.read_text(encoding="utf-8")
            if task.job is not None:
                data = json.loads(text)
                _check(data, expect)
                return task.job.decode(data["result"])
            res = _decode(text, expect)
        except (OSError, ValueError, KeyError, TypeError) as err:
            self.rejected += 1
            self._warn(f"{path}: ignored ({err}); running replication "
                       f"{task.replication} again")
            return None
        if task.outcomes and res.outcomes is None:
            return None  # saved without the per-referral outcomes this task needs
        if not task.outcomes:
            res.outcomes = None
        return res

    def put(self, task: Task, result: Any) -> None:
        parts = task_parts(task)
        if parts is not None:
            for t, res in zip(parts, result, strict=True):
                self.put(t, res)
            return
        path = self._path(task)
        if path is None:
            return
        if task.job is not None:
            text = json.dumps({"replication": task.replication, "seed": task.seed,
                               "scenario_hash": self._key(task),
                               "result": task.job.encode(result)}, default=_plain)
        else:
            text = _encode(result, task.seed, self._key(task))
        atomic_write_text(path, text)


def _warn_stderr(message: str) -> None:
    print(f"mashsim: warning: {message}", file=sys.stderr)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while the runner runs replications: what was saved and what was lost."""

    def __init__(self, done: int, total: int, in_flight: int, folder: Path | None) -> None:
        super().__init__(f"interrupted after {done} of {total} replications")
        self.done, self.total, self.in_flight, self.folder = done, total, in_flight, folder

    def message(self) -> str:
        lost = (f"{self.in_flight} replication(s) in flight were lost" if self.in_flight
                else "none in flight was lost")
        if self.folder is None:
            return f"interrupted: {self.done} of {self.total} replications done, not saved " \
                   "(no --out folder); " + lost
        return (f"interrupted: {self.done} of {self.total} replications are saved under "
                f"{self.folder}; {lost}. Run the same command with the same --out to resume.")

