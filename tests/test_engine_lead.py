"""The loop's merged feeder (`Env.lead`): deliveries in exactly the heap's order,
same-time ties included (time, then priority, then the order events were scheduled)."""

from __future__ import annotations

import simpy
from simpy.events import URGENT

from mashsim.model.engine import Env, Feeder


def _log(lead: bool) -> list[tuple[str, int, float]]:
    env = Env()
    log: list[tuple[str, int, float]] = []
    # f2 is built first, so its first delivery (2.0) is scheduled before f1's second
    # (also 2.0, scheduled when f1 delivers at 1.0): the heap delivers f2's first
    f2 = Feeder(env, [2.0, 3.0, 5.0], [0, 1, 2], lambda i: log.append(("f2", i, env.now)))
    f1 = Feeder(env, [1.0, 2.0, 2.0, 3.0, 4.0, 6.0], [0, 1, 2, 3, 4, 5],
                lambda i: log.append(("f1", i, env.now)))
    assert f2.n == 3

    def urgent_at(t: float, tag: int) -> None:  # a same-time event of higher priority
        ev = simpy.Event(env)
        ev._ok, ev._value = True, None
        ev.callbacks.append(lambda _e: log.append(("urgent", tag, env.now)))
        env.schedule(ev, URGENT, t)

    def normal_at(t: float, tag: int) -> None:
        env.timeout(t).callbacks.append(lambda _e: log.append(("timeout", tag, env.now)))

    urgent_at(3.0, 0)
    normal_at(4.0, 1)   # scheduled before f1's delivery at 4.0: first
    normal_at(6.0, 2)
    if lead:
        env.lead(f1)
    env.run(until=5.0)
    env.run(until=7.0)  # the pending delivery went back on the heap in between
    return log


def test_merged_feeder_keeps_the_heap_order() -> None:
    plain, merged = _log(lead=False), _log(lead=True)
    assert merged == plain
    # the ties the merge must break as the heap does
    assert plain.index(("f2", 0, 2.0)) < plain.index(("f1", 1, 2.0))
    assert plain.index(("urgent", 0, 3.0)) < plain.index(("f1", 3, 3.0))
    assert plain.index(("timeout", 1, 4.0)) < plain.index(("f1", 4, 4.0))
    assert ("f1", 5, 6.0) in plain and ("f2", 2, 5.0) in plain


def test_only_the_first_feeder_named_leads() -> None:
    env = Env()
    a = Feeder(env, [1.0], [0], lambda i: None)
    b = Feeder(env, [1.0], [0], lambda i: None)
    env.lead(a)
    env.lead(b)
    env.run(until=2.0)
    assert a.merged is False and a.pending is None and b.merged is False


def test_the_engine_keys_events_at_simpys_normal_priority() -> None:
    from simpy.events import NORMAL as SIMPY_NORMAL

    from mashsim.model.engine import NORMAL

    assert NORMAL == SIMPY_NORMAL
