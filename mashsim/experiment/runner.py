"""Running replications: serially or on worker processes, in replication order.

A replication's seed streams depend only on (seed, r), so the results are identical
whatever the number of workers and in whatever order they finish.
"""

from __future__ import annotations

from collections.abc import Callable

from mashsim.experiment.executors import ProcessExecutor, SerialExecutor, Task
from mashsim.experiment.replications import ReplicationResult
from mashsim.scenario.schema import Scenario

__all__ = ["run_replications"]


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
) -> list[ReplicationResult]:
    """Run replications 0..n-1, in order of replication number whatever the workers."""
    tasks = [Task(scenario, seed, r) for r in range(replications)]
    workers = min(workers, replications)
    out: list[ReplicationResult | None] = [None] * replications
    with ProcessExecutor(workers) if workers > 1 else SerialExecutor() as executor:
        for i, res in executor.run(tasks):
            out[i] = res
            if on_done:
                on_done()
    return [r for r in out if r is not None]
