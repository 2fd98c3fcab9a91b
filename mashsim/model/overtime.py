"""Overtime: extra staff-hours when a hub is under pressure, up to a weekly cap.

A controller checks its trigger every `block_hours` inside the permitted overtime hours
(a roster of its own); when the trigger measure passes the threshold and the week's cap
allows a whole block, it adds `extra_staff` people to the pool for one block. The cap is
per hub and per week (Monday 00:00 to Monday 00:00), in staff-hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator

import simpy

from mashsim.model.engine import Pool
from mashsim.model.staffing import CapacitySchedule
from mashsim.scenario.schema import Overtime

__all__ = ["OvertimeController"]


class OvertimeController:
    """Adds overtime blocks to a pool; `log` holds (start hour, staff-hours) per block."""

    def __init__(
        self,
        env: simpy.Environment,
        pool: Pool,
        cfg: Overtime,
        measure: Callable[[], float],
        permitted: CapacitySchedule,
        start: dt.date,
    ) -> None:
        self.env, self.pool, self.cfg, self.measure = env, pool, cfg, measure
        self.permitted = permitted
        self.week_offset_hours = start.weekday() * 24.0
        self.log: list[tuple[float, float]] = []
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, None, None]:
        cfg, env = self.cfg, self.env
        block_staff_hours = cfg.extra_staff * cfg.block_hours
        week, used = -1, 0.0
        while True:
            now = env.now
            this_week = int((now + self.week_offset_hours) // 168.0)
            if this_week != week:
                week, used = this_week, 0.0
            if (
                used + block_staff_hours <= cfg.weekly_cap_hours + 1e-9
                and self.permitted.at(now) > 0
                and self.measure() > cfg.threshold
            ):
                used += block_staff_hours
                self.log.append((now, block_staff_hours))
                self.pool.set_extra(self.pool.extra + cfg.extra_staff)
                yield env.timeout(cfg.block_hours)
                self.pool.set_extra(self.pool.extra - cfg.extra_staff)
            else:
                yield env.timeout(cfg.block_hours)
