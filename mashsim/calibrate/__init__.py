"""The calibration layer: from a force's event log to a scenario, and back.

`eventlog` (reading and writing the log), `fit_dist` (distribution fits), `fit` (a
scenario from a log) and `backtest` (does a scenario reproduce the log?).
"""

from __future__ import annotations

from mashsim.calibrate.eventlog import (
    DEFAULT_TIMEZONE,
    OPTIONAL_COLUMNS,
    PROBLEM_KINDS,
    REQUIRED_COLUMNS,
    TIME_COLUMNS,
    BadRows,
    EventLogReader,
    epoch_hours,
    hours_to_date,
    simulated_log_frame,
    write_event_log,
)
from mashsim.calibrate.fit import (
    FitResult,
    ProfileFit,
    Reservoir,
    fit_event_log,
    fit_profile,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "OPTIONAL_COLUMNS",
    "PROBLEM_KINDS",
    "REQUIRED_COLUMNS",
    "TIME_COLUMNS",
    "BadRows",
    "EventLogReader",
    "FitResult",
    "ProfileFit",
    "Reservoir",
    "epoch_hours",
    "fit_event_log",
    "fit_profile",
    "hours_to_date",
    "simulated_log_frame",
    "write_event_log",
]
