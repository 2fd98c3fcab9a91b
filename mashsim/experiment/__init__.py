"""The experiment layer: many replications and what is built from them.

`replications` (running them, CIs), `executors` (serial, processes, Dask), `cache`
(resumable runs), `resources` (does it fit?), `precision` (how many replications),
`results`, `sweep`, `plan` and `simulate` (the one-call entry point).
"""

from __future__ import annotations

from mashsim.experiment.replications import (
    ReplicationResult,
    confidence_interval,
    default_workers,
    single_run,
)
from mashsim.experiment.results import (
    Results,
)
from mashsim.experiment.runner import (
    run_replications,
)

__all__ = [
    "ReplicationResult",
    "Results",
    "confidence_interval",
    "default_workers",
    "run_replications",
    "single_run",
]
