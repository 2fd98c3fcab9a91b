"""Engine throughput: mashsim vs a minimal idiomatic simpy M/M/c model, same process.

Prints referrals per second for both and their ratio (target: mashsim ≥ 0.5 × the
minimal model), peak traced memory of each, throughput when the backlog grows into the
thousands (the per-referral cost must not grow with the queue), and the wall time of
one replication of the bundled default scenario.

    python benchmarks/engine.py [--referrals 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import simpy

from mashsim import default_scenario_path, load_scenario
from mashsim.experiment.replications import single_run
from mashsim.model.replication import run_replication
from mashsim.validation import mmc_scenario

LAMBDA_PER_HOUR, MU_PER_HOUR, SERVERS = 9.0, 1.0, 10  # rho = 0.9


def minimal_simpy(n: int, lam: float, mu: float, c: int, seed: int) -> list[float]:
    """The textbook simpy M/M/c: a process per customer holding a Resource request."""
    rng = np.random.default_rng(seed)
    gaps, services = rng.exponential(1 / lam, n).tolist(), rng.exponential(1 / mu, n).tolist()
    env = simpy.Environment()
    staff = simpy.Resource(env, capacity=c)
    waits: list[float] = []

    def referral(service: float):
        arrived = env.now
        with staff.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(service)

    def source():
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            env.process(referral(service))

    env.process(source())
    env.run()
    return waits


def mashsim_mmc(n: int, lam: float, mu: float, c: int, seed: int) -> int:
    """The same system through mashsim's full replication (draws, event loop, records)."""
    sc = mmc_scenario(lam, mu, c, horizon_hours=n / lam, warmup_hours=0.0)
    records = run_replication(sc, seed, 0)
    return len(records["mmc"].referrals.created)


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--referrals", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, lam, mu, c = args.referrals, LAMBDA_PER_HOUR, MU_PER_HOUR, SERVERS

    t_min, _ = best_of(args.repeats, lambda: minimal_simpy(n, lam, mu, c, 1))
    t_mash, got = best_of(args.repeats, lambda: mashsim_mmc(n, lam, mu, c, 1))
    rate_min, rate_mash = n / t_min, int(got) / t_mash
    print(f"M/M/{c}, rho={lam / (c * mu):.2f}, ~{n:,} referrals (best of {args.repeats})")
    print(f"  minimal simpy model : {rate_min:12,.0f} referrals/s")
    print(f"  mashsim             : {rate_mash:12,.0f} referrals/s")
    print(f"  ratio mashsim/minimal: {rate_mash / rate_min:.2f}  (target >= 0.5)")

    m_min = peak_mib(lambda: minimal_simpy(n, lam, mu, c, 1))
    m_mash = peak_mib(lambda: mashsim_mmc(n, lam, mu, c, 1))
    print(f"  peak traced memory  : minimal {m_min:.1f} MiB, mashsim {m_mash:.1f} MiB "
          f"(ratio {m_mash / m_min:.2f})")

    # Overload (rho = 1.2): the backlog grows to thousands; per-referral cost must not.
    over = lam * 1.2 / 0.9
    t_over, got_over = best_of(args.repeats, lambda: mashsim_mmc(n, over, mu, c, 2))
    final_backlog = (over - c * mu) * (n / over)
    print(f"  overloaded (rho=1.2, backlog grows to ~{final_backlog:,.0f}): "
          f"{int(got_over) / t_over:,.0f} referrals/s "
          f"(ratio to stable {int(got_over) / t_over / rate_mash:.2f})")

    sc = load_scenario(default_scenario_path())
    t_default, _ = best_of(args.repeats, lambda: single_run(sc, 1, 0))
    arrived = single_run(sc, 1, 0).metrics["overall"]["referrals_arrived"]
    print(f"default scenario ({sc.name}): one replication in {t_default:.2f} s "
          f"({len(sc.hubs)} hubs, {sc.run.duration_days:g} days, "
          f"{arrived:,.0f} referrals after warm-up), metrics included")


if __name__ == "__main__":
    main()
