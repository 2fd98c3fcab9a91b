"""The metrics layer: one replication's records → named metrics.

`registry` declares every metric once (name, kind → unit and bounds, labels, format, and
the function computing it); `window` holds the arrays those functions share; `compute`
runs them per scope and gives the daily backlog series.
"""

from __future__ import annotations

from mashsim.metrics.compute import (
    METRICS,
    breach_flags,
    daily_backlog,
    metric_bounds,
    metric_names,
    replication_metrics,
)
from mashsim.metrics.registry import (
    METRIC_INFO,
    WAIT_OVER_PATTERN,
    MetricInfo,
    metric_info,
    metrics_help,
)

__all__ = [
    "METRICS",
    "METRIC_INFO",
    "WAIT_OVER_PATTERN",
    "MetricInfo",
    "breach_flags",
    "daily_backlog",
    "metric_bounds",
    "metric_info",
    "metric_names",
    "metrics_help",
    "replication_metrics",
]
