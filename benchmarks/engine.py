"""Engine speed: mashsim `simulate()` against four other M/M/c models, side by side.

The system is M/M/10 at ρ = 0.9 (λ = 9/h, μ = 1/h), ≈100,000 referrals, FCFS. Five models
run it in one process, interleaved (A B C D E, A B C D E, ...; best of --repeats), so a
burst of someone else's work on a shared machine disturbs one try, not one model:

- mashsim      `simulate(mmc_scenario(...), replications=1)`: the public API, draws, event
               loop, records and metrics included;
- tuned simpy  one environment, completions as Timeout callbacks, waiting customers in a
               deque, no process per customer (the fastest simpy model we know how to write);
- minimal simpy the textbook model: a process per customer holding a Resource request;
- Ciw          the Ciw library's M/M/c (`ciw.Simulation`, records included; the `bench`
               extra, `pip install -e '.[bench]'`: left out, with a note, without it);
- exact FCFS   the recursion itself: each customer starts at max(arrival, earliest free
               server), the servers' free times kept in a heap (no event loop at all).

It prints each model's CPU time (time.process_time, what other work on the machine
disturbs least), wall time, referrals per CPU second and mashsim's ratio to each (a ratio
above 1 means mashsim is faster), against the targets of issue 16. Then a correctness
check: the three hand-written models share one stream of draws, so their waits must be
equal referral by referral; mashsim, Ciw and the exact recursion must agree on the mean
wait with each other and with Erlang C within their 95 % confidence intervals (batch
means over 20 batches). Last, mashsim's rate when the backlog grows into the thousands
(ρ = 1.2): the cost per referral must not grow with the queue.

    python benchmarks/engine.py                     # ≈100,000 referrals, best of 3
    python benchmarks/engine.py --repeats 5
    python benchmarks/engine.py --quick             # a few seconds: that it runs, not figures
"""

from __future__ import annotations

import argparse
import gc
import heapq
import importlib.util
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from mashsim import simulate
from mashsim.validation import erlang_c, mmc_scenario

LAMBDA_PER_HOUR, MU_PER_HOUR, SERVERS = 9.0, 1.0, 10  # rho = 0.9
BATCHES = 20  # batch means for the confidence interval of a mean wait
Z95 = 1.96
T95_19 = 2.093  # Student t, 19 degrees of freedom (20 batches), two-sided 95 %
TARGETS = {"tuned simpy": 1.0, "Ciw": 8.0}  # issue 16: mashsim rate / model rate


@dataclass
class Outcome:
    """What one model run returns: referrals served and their waits (hours)."""

    referrals: int
    waits_hours: np.ndarray


def draws(n: int, lam: float, mu: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrival times and service times (hours), one stream shared by the hand-written
    models, so their sample paths are the same and their waits must be equal."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1 / lam, n)), rng.exponential(1 / mu, n)


# ------------------------------------------------------------------ the five models


def mashsim_model(n: int, lam: float, mu: float, c: int, seed: int) -> Outcome:
    """Public API: one replication of the M/M/c scenario, metrics included."""
    sc = mmc_scenario(lam, mu, c, horizon_hours=n / lam, warmup_hours=0.0)
    run = simulate(sc, replications=1, seed=seed).runs[0]
    return Outcome(int(run.metrics["overall"]["referrals_arrived"]), np.empty(0))


def mashsim_waits(n: int, lam: float, mu: float, c: int, seed: int) -> np.ndarray:
    """The same run's per-referral waits (untimed: keeping outcomes costs extra)."""
    sc = mmc_scenario(lam, mu, c, horizon_hours=n / lam, warmup_hours=0.0)
    outcomes = simulate(sc, replications=1, seed=seed, outcomes=1).runs[0].outcomes
    assert outcomes is not None
    waits = outcomes["mmc"]["staff_wait_hours"]
    return waits[~np.isnan(waits)]


def tuned_simpy(n: int, lam: float, mu: float, c: int, seed: int) -> Outcome:
    """Callbacks and a deque: an arrival chain of Timeouts, a completion Timeout per
    service whose callback takes the next waiting customer; no process per customer."""
    arrivals, services = draws(n, lam, mu, seed)
    arr, svc = arrivals.tolist(), services.tolist()
    env = simpy.Environment()
    waiting: deque[int] = deque()
    waits = [math.nan] * n
    free, arrived = [c], [0]  # servers free; customers arrived so far
    timeout = env.timeout

    def start(i: int, now: float) -> None:
        waits[i] = now - arr[i]
        timeout(svc[i]).callbacks.append(finish)

    def finish(_event: simpy.Event) -> None:
        if waiting:
            start(waiting.popleft(), env.now)
        else:
            free[0] += 1

    def arrive(_event: simpy.Event) -> None:
        i = arrived[0]
        arrived[0] = i + 1
        if i + 1 < n:
            timeout(arr[i + 1] - arr[i]).callbacks.append(arrive)
        if free[0]:
            free[0] -= 1
            start(i, env.now)
        else:
            waiting.append(i)

    timeout(arr[0]).callbacks.append(arrive)
    env.run()
    return Outcome(n, np.asarray(waits))


def minimal_simpy(n: int, lam: float, mu: float, c: int, seed: int) -> Outcome:
    """The textbook simpy M/M/c: a process per customer holding a Resource request."""
    arrivals, services = draws(n, lam, mu, seed)
    gaps = np.diff(arrivals, prepend=0.0).tolist()
    svc = services.tolist()
    env = simpy.Environment()
    staff = simpy.Resource(env, capacity=c)
    waits = [math.nan] * n

    def referral(i: int):
        arrived = env.now
        with staff.request() as req:
            yield req
            waits[i] = env.now - arrived
            yield env.timeout(svc[i])

    def source():
        for i, gap in enumerate(gaps):
            yield env.timeout(gap)
            env.process(referral(i))

    env.process(source())
    env.run()
    return Outcome(n, np.asarray(waits))


def ciw_model(n: int, lam: float, mu: float, c: int, seed: int) -> Outcome:
    """Ciw's M/M/c over the same horizon; waits of the customers it finished."""
    import ciw  # the `bench` extra (optional): only this model needs it

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[c])
    ciw.seed(seed)  # Ciw draws from the global `random` module: its only seeding
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(n / lam)
    waits = np.fromiter((r.waiting_time for r in sim.get_all_records()), dtype=float)
    return Outcome(len(waits), waits)


def exact_fcfs(n: int, lam: float, mu: float, c: int, seed: int) -> Outcome:
    """FCFS M/M/c by recursion: start = max(arrival, earliest free server)."""
    arrivals, services = draws(n, lam, mu, seed)
    free_at = [0.0] * c  # a heap of the servers' next free times
    waits = []
    for a, s in zip(arrivals.tolist(), services.tolist(), strict=True):
        start = max(a, free_at[0])
        heapq.heapreplace(free_at, start + s)
        waits.append(start - a)
    return Outcome(n, np.asarray(waits))


HAVE_CIW = importlib.util.find_spec("ciw") is not None  # pip install -e '.[bench]'
MODELS: dict[str, Callable[[int, float, float, int, int], Outcome]] = {
    "mashsim": mashsim_model,
    "tuned simpy": tuned_simpy,
    "minimal simpy": minimal_simpy,
    **({"Ciw": ciw_model} if HAVE_CIW else {}),
    "exact FCFS": exact_fcfs,
}


# ------------------------------------------------------------------ timing


@dataclass
class Timing:
    cpu_s: float = math.inf
    wall_s: float = math.inf
    outcome: Outcome | None = None


def interleaved(models: dict[str, Callable[[], Outcome]], repeats: int) -> dict[str, Timing]:
    """Best CPU and wall time of each model over `repeats` rounds, the models taking
    turns within a round; garbage from one run is collected before the next starts."""
    best = {name: Timing() for name in models}
    for _ in range(repeats):
        for name, fn in models.items():
            gc.collect()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            out = fn()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            t = best[name]
            t.cpu_s, t.wall_s, t.outcome = min(t.cpu_s, cpu), min(t.wall_s, wall), out
    return best


def rate_table(best: dict[str, Timing]) -> None:
    """Each model's times and rate, and mashsim's ratio to it (> 1: mashsim faster)."""
    mash = best["mashsim"]
    assert mash.outcome is not None
    mash_rate = mash.outcome.referrals / mash.cpu_s
    print(f"  {'model':<14}{'referrals':>10}{'CPU s':>9}{'wall s':>9}"
          f"{'referrals/CPU s':>17}{'mashsim/model':>15}")
    for name, t in best.items():
        assert t.outcome is not None
        rate = t.outcome.referrals / t.cpu_s
        target = f"  (target >= {TARGETS[name]:g})" if name in TARGETS else ""
        print(f"  {name:<14}{t.outcome.referrals:>10,}{t.cpu_s:>9.3f}{t.wall_s:>9.3f}"
              f"{rate:>17,.0f}{mash_rate / rate:>15.2f}{target}")


# ------------------------------------------------------------------ agreement


def batch_mean_ci(waits: np.ndarray, batches: int = BATCHES) -> tuple[float, float]:
    """Mean wait and the half-width of its 95 % CI from `batches` consecutive batch
    means (waits at ρ = 0.9 are strongly autocorrelated; batches of thousands are not)."""
    means = np.array([b.mean() for b in np.array_split(waits, batches)])
    return float(means.mean()), T95_19 * float(means.std(ddof=1)) / math.sqrt(batches)


def agreement(waits: dict[str, np.ndarray], lam: float, mu: float, c: int) -> bool:
    """Print each model's mean wait ± CI; True when every CI holds Erlang C's mean and
    every pair differs by less than the CI of the difference (independent runs)."""
    theory = erlang_c(lam, mu, c).mean_wait_hours
    ci = {name: batch_mean_ci(w) for name, w in waits.items()}
    ok = True
    print(f"mean wait for staff, hours (Erlang C: {theory:.4f}); 95 % CI, {BATCHES} batch means")
    for name, (m, h) in ci.items():
        inside = abs(m - theory) <= h
        ok &= inside
        print(f"  {name:<14}{m:8.4f} ± {h:.4f}  {'holds' if inside else 'MISSES'} Erlang C")
    names = list(ci)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (ma, ha), (mb, hb) = ci[a], ci[b]
            if abs(ma - mb) > math.hypot(ha, hb):
                ok = False
                print(f"  {a} and {b} DISAGREE: {ma:.4f} vs {mb:.4f}")
    return ok


def same_path(outcomes: Sequence[Outcome]) -> bool:
    """The hand-written models share their draws: equal waits referral by referral."""
    first = outcomes[0].waits_hours
    return all(np.allclose(o.waits_hours, first, rtol=0, atol=1e-9) for o in outcomes[1:])


# ------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--referrals", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3, help="rounds; best time kept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true",
                    help="2,000 referrals, one round, no overload run, means not judged: "
                         "that it works, not figures")
    args = ap.parse_args(argv)
    n, repeats = (2_000, 1) if args.quick else (args.referrals, args.repeats)
    lam, mu, c, seed = LAMBDA_PER_HOUR, MU_PER_HOUR, SERVERS, args.seed

    print(f"M/M/{c}, rho = {lam / (c * mu):.2f}, ~{n:,} referrals; best of {repeats} "
          f"interleaved rounds; CPU time (time.process_time) and wall time")
    best = interleaved({name: partial(fn, n, lam, mu, c, seed)
                        for name, fn in MODELS.items()}, repeats)
    rate_table(best)
    if not HAVE_CIW:
        print("  Ciw left out: not installed (pip install -e '.[bench]')")

    outs = {name: t.outcome for name, t in best.items() if t.outcome is not None}
    hand = [outs["tuned simpy"], outs["minimal simpy"], outs["exact FCFS"]]
    path_ok = same_path(hand)
    print(f"tuned simpy, minimal simpy and exact FCFS share their draws: waits "
          f"{'equal referral by referral' if path_ok else 'DIFFER'}")
    waits = {"mashsim": mashsim_waits(n, lam, mu, c, seed),
             **({"Ciw": outs["Ciw"].waits_hours} if HAVE_CIW else {}),
             "exact FCFS": outs["exact FCFS"].waits_hours}
    mean_ok = agreement(waits, lam, mu, c) or args.quick
    if args.quick:
        print("  (--quick: too few referrals, from an empty start, to judge the means)")

    if not args.quick:  # rho = 1.2: the backlog grows to thousands; the cost must not
        over = lam * 1.2 / 0.9
        stable = best["mashsim"]
        t_over = interleaved({"over": partial(mashsim_model, n, over, mu, c, seed)}, repeats)
        o = t_over["over"]
        assert o.outcome is not None and stable.outcome is not None
        ratio = (o.outcome.referrals / o.cpu_s) / (stable.outcome.referrals / stable.cpu_s)
        print(f"overloaded (rho = 1.2, backlog grows to ~{(over - c * mu) * n / over:,.0f}): "
              f"mashsim {o.outcome.referrals / o.cpu_s:,.0f} referrals/CPU s, "
              f"{ratio:.2f} x the stable rate")
    return 0 if path_ok and mean_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
