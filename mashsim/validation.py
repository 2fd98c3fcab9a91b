"""Analytic references used to verify the engine: Erlang C and the M/M/c scenario.

The M/M/c special case of the MASH model (one hub, constant Poisson arrivals,
exponential handling, c staff always on duty, no RPA delay, no strategy discussions)
has a closed-form waiting-time distribution, so the simulator's mean wait and
P(wait > t) can be checked against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mashsim.scenario.schema import Scenario

__all__ = ["ErlangC", "cobham_waits_hours", "erlang_c", "mmc_scenario", "servers_needed",
           "tandem_scenario"]


@dataclass(frozen=True)
class ErlangC:
    """Steady-state M/M/c figures (times in hours)."""

    arrival_rate_per_hour: float
    service_rate_per_hour: float
    servers: int
    p_wait: float
    mean_wait_hours: float

    @property
    def utilisation(self) -> float:
        return self.arrival_rate_per_hour / (self.servers * self.service_rate_per_hour)

    @property
    def mean_queue_length(self) -> float:
        """Lq = λ Wq (Little's law)."""
        return self.arrival_rate_per_hour * self.mean_wait_hours

    @property
    def mean_in_system(self) -> float:
        """L = λ (Wq + 1/μ)."""
        return self.arrival_rate_per_hour * (
            self.mean_wait_hours + 1.0 / self.service_rate_per_hour
        )

    def p_wait_over(self, t_hours: float) -> float:
        """P(wait > t) = C · exp(-(cμ - λ) t)."""
        decay = self.servers * self.service_rate_per_hour - self.arrival_rate_per_hour
        return self.p_wait * math.exp(-decay * t_hours)


def erlang_c(arrival_rate_per_hour: float, service_rate_per_hour: float, servers: int) -> ErlangC:
    """Erlang C via the numerically stable Erlang B recursion; needs λ < cμ."""
    lam, mu, c = arrival_rate_per_hour, service_rate_per_hour, int(servers)
    if lam <= 0 or mu <= 0 or c < 1:
        raise ValueError("need arrival and service rates > 0 and at least one server")
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable: offered load {a:.3g} needs more than {c} servers")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    p_wait = c * b / (c - a * (1.0 - b))
    return ErlangC(lam, mu, c, p_wait, p_wait / (c * mu - lam))


def servers_needed(
    arrival_rate_per_hour: float, service_rate_per_hour: float, wait_hours: float,
    max_p_wait_over: float,
) -> int:
    """Fewest servers with P(wait > wait_hours) ≤ max_p_wait_over."""
    c = max(1, math.floor(arrival_rate_per_hour / service_rate_per_hour) + 1)
    while erlang_c(arrival_rate_per_hour, service_rate_per_hour, c).p_wait_over(
        wait_hours
    ) > max_p_wait_over:
        c += 1
    return c


def mmc_scenario(
    arrival_rate_per_hour: float,
    service_rate_per_hour: float,
    servers: int,
    horizon_hours: float = 10_000.0,
    warmup_hours: float = 500.0,
) -> Scenario:
    """The M/M/c special case as a Scenario (one hub named `mmc`)."""
    handling = {"dist": "exponential", "mean": 60.0 / service_rate_per_hour}
    grade = {"decision_target": {"amount": 72.0, "clock": "elapsed_hours"},
             "handling_minutes": handling}
    always = {"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
              "start": "00:00", "end": "24:00", "long_shift": True}
    return Scenario.from_dict({
        "name": f"M/M/{servers} (lambda={arrival_rate_per_hour:g}/h, "
                f"mu={service_rate_per_hour:g}/h)",
        "description": "Erlang C check: constant Poisson arrivals, exponential handling, "
                       "c staff always on duty, no RPA delay, no strategy discussions.",
        "run": {"duration_days": horizon_hours / 24.0, "warmup_days": warmup_hours / 24.0},
        "arrivals": {"mode": "constant", "referrals_per_day": arrival_rate_per_hour * 24.0},
        "referral_types": {"referral": {
            "share": 1.0, "grade_mix": {"high": 0.0, "medium": 0.0, "standard": 1.0}}},
        "grades": {
            "high": {"priority": 0, **grade},
            "medium": {"priority": 1, **grade},
            "standard": {"priority": 2, **grade},
        },
        "officer_assessment": {"delay_hours": {"dist": "fixed", "value": 0.0}},
        "rpa": {"enabled": False, "early_notification": False},
        "sharing": {"share_with_partners": 0.0},
        "queue": {"discipline": "fifo"},
        "hubs": {"mmc": {
            "demand_share": 1.0,
            "staff": {"headcount": servers, "shifts": [always]},
            "sd_attendees": {"headcount": 0, "shifts": [always]},
        }},
    }, source="mmc_scenario")


ALWAYS_ON = {"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
             "start": "00:00", "end": "24:00", "long_shift": True}


def tandem_scenario(
    arrival_rate_per_hour: float,
    stages: Sequence[tuple[str, float, int]],
    horizon_hours: float = 10_000.0,
    warmup_hours: float = 500.0,
) -> Scenario:
    """Tandem M/M/c stages as a Scenario: one hub (`tandem`), constant Poisson arrivals,
    and for each (stage_name, service_rate_per_hour, servers) a stage with exponential
    handling done by its own always-on role of the same name (FIFO queues, no RPA delay,
    sharing or strategy discussions; the last stage decides). By Jackson's theorem each
    stage is an M/M/c at the arrival rate."""
    if not stages:
        raise ValueError("need at least one stage")
    base = mmc_scenario(arrival_rate_per_hour, stages[0][1], 1, horizon_hours,
                        warmup_hours).to_dict()
    base["name"] = f"tandem of {len(stages)} M/M/c stages (lambda={arrival_rate_per_hour:g}/h)"
    base["description"] = ("Jackson check: constant Poisson arrivals through stages with "
                           "exponential handling, each done by its own always-on role.")
    base["stages"] = {name: {"handling_minutes": {"dist": "exponential", "mean": 60.0 / mu},
                             "discipline": "fifo", "decides": i == len(stages) - 1}
                      for i, (name, mu, _c) in enumerate(stages)}
    hub = base["hubs"].pop("mmc")
    hub.pop("staff")
    hub["roles"] = {name: {"headcount": int(c), "shifts": [ALWAYS_ON], "skills": [name]}
                    for name, _mu, c in stages}
    base["hubs"] = {"tandem": hub}
    return Scenario.from_dict(base, source="tandem_scenario")


def cobham_waits_hours(
    arrival_rates_per_hour: Sequence[float], service_rate_per_hour: float, servers: int,
) -> list[float]:
    """Mean waits of non-preemptive priority classes (first = highest) sharing an M/M/c
    with one service rate (Cobham 1954): W_k = C / (cμ (1 − σ_{k−1})(1 − σ_k)), where C is
    Erlang C at the total rate and σ_k the load of classes 1..k."""
    total = sum(arrival_rates_per_hour)
    c, mu = int(servers), service_rate_per_hour
    p_wait = erlang_c(total, mu, c).p_wait
    out, sigma = [], 0.0
    for lam in arrival_rates_per_hour:
        before, sigma = sigma, sigma + lam / (c * mu)
        out.append(p_wait / (c * mu * (1.0 - before) * (1.0 - sigma)))
    return out
