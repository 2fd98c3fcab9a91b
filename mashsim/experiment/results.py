"""Results of a set of replications: the summary dict, tidy frames, files.

`summary()` is exactly the JSON object that `mashsim run --format json` prints.
Frames are tidy (one row per replication × hub × metric or date) for pandas users.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mashsim._io import atomic_write_text, output_set
from mashsim._version import __version__
from mashsim.experiment.replications import ReplicationResult, confidence_interval
from mashsim.experiment.uncertainty import uncertainty_summary
from mashsim.metrics.compute import STAGES, metric_bounds, metric_names
from mashsim.safe_text import csv_frame
from mashsim.scenario.schema import Scenario
from mashsim.scenario.uncertain import has_uncertainty

__all__ = ["Results"]


@dataclass
class Results:
    """Replications of one scenario with one seed."""

    scenario: Scenario
    seed: int
    runs: list[ReplicationResult]

    @property
    def replications(self) -> int:
        return len(self.runs)

    def _summarise(self, scope: str) -> dict[str, dict[str, float | None]]:
        return {
            name: confidence_interval((run.metrics[scope][name] for run in self.runs),
                                      bounds=metric_bounds(name))
            for name in metric_names(self.scenario)
        }

    def summary(self) -> dict[str, Any]:
        """{"scenario", "seed", "replications", "metrics", "hubs"} with mean and 95 % CI;
        with uncertain inputs also "uncertainty" and "uncertainty_design" (see
        `mashsim.experiment.uncertainty`)."""
        out = {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replications": self.replications,
            "mashsim_version": __version__,
            "metrics": self._summarise("overall"),
            "hubs": {hub: {"metrics": self._summarise(hub)} for hub in self.scenario.hubs},
        }
        if has_uncertainty(self.scenario):
            out |= uncertainty_summary(self.scenario, self.runs,
                                       metric_names(self.scenario))
        return out

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2, allow_nan=False)

    def metrics_frame(self):  # -> pandas.DataFrame
        """One row per replication × scope (overall or hub), one column per metric."""
        import pandas as pd

        names = metric_names(self.scenario)
        rows = [
            {"replication": run.replication, "hub": scope, **{m: vals[m] for m in names}}
            for run in self.runs
            for scope, vals in run.metrics.items()
        ]
        return pd.DataFrame(rows)

    def backlog_daily(self):  # -> pandas.DataFrame
        """Backlog by stage at the end of each day: replication, hub, date, stages, backlog."""
        import pandas as pd

        start = self.scenario.run.start_date
        frames = []
        for run in self.runs:
            for hub, counts in run.daily.items():
                days = (counts["day_end_hours"] // 24).astype(int) - 1
                frames.append(pd.DataFrame({
                    "replication": run.replication,
                    "hub": hub,
                    "date": [start + dt.timedelta(days=int(d)) for d in days],
                    **{s: counts[s] for s in (*STAGES, "backlog")},
                }))
        if not frames:
            return pd.DataFrame(columns=["replication", "hub", "date", *STAGES, "backlog"])
        return pd.concat(frames, ignore_index=True)

    def summary_frame(self):  # -> pandas.DataFrame
        """One row per scope × metric with mean and CI bounds."""
        import pandas as pd

        s = self.summary()
        scopes = {"overall": s["metrics"], **{h: v["metrics"] for h, v in s["hubs"].items()}}
        return pd.DataFrame(
            [{"hub": scope, "metric": m, **ci} for scope, ms in scopes.items()
             for m, ci in ms.items()]
        )

    def write(self, folder: str | Path) -> list[Path]:
        """summary.json and CSVs into `folder`, swapped in as one set (see `output_set`)."""
        folder = Path(folder)
        files = {
            "summary.json": self.to_json() + "\n",
            "summary.csv": _csv(self.summary_frame()),
            "replications.csv": _csv(self.metrics_frame()),
            "backlog_daily.csv": _csv(self.backlog_daily()),
        }
        with output_set(folder) as new:
            for name, text in files.items():
                atomic_write_text(new / name, text)
        return [folder / name for name in files]


def _csv(frame) -> str:
    buf = io.StringIO()
    csv_frame(frame).to_csv(buf, index=False)  # scenario text never runs as a formula
    return buf.getvalue()
