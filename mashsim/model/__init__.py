"""The model layer: one replication of the MASH process on simpy.

`engine` (pools of people serving queues), `policies` (queue disciplines), `arrivals`,
`calendar` (working time), `rpa`, `referrals`, `staffing` (rosters and absences),
`overtime`, `streams` (named random streams), `hub` (one hub's job books and queues),
`wiring` (a replication's model, built by one function per staffing mechanism) and
`replication` (run and record one replication).
A replication is a pure function of (scenario, replication index, seed).
"""

from __future__ import annotations

from mashsim.model.replication import (
    HubRecord,
    Referrals,
    TeamRecord,
    build_calendar,
    run_replication,
)

__all__ = [
    "HubRecord",
    "Referrals",
    "TeamRecord",
    "build_calendar",
    "run_replication",
]
