"""Searches side by side: the cores a process may use, independent solves across them, the user's clock.

Kept apart from mapper.search.network so that what runs the searches (network, budget, the compiler's
extra solves) shares one pool rule and no module imports the one that imports it.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Hashable, TypeVar

from mapper.search.stopping import stop_all_searches

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def cores() -> int:
    """CPU cores this process may use (the affinity mask, not the host's count, in a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def solve_each(keys: list[K], solve_one: Callable[[K], V],
               on_result: Callable[[K, V], None] | None = None) -> dict[K, V]:
    """``solve_one`` of every key, side by side on the machine's cores; ``on_result`` in the keys' order.

    Layer searches are independent and each runs on one thread first
    (mapper.search.cpsat), so distinct layers fill the cores.  A Ctrl-C in the
    calling thread stops every search before it re-raises.
    """
    results: dict[K, V] = {}
    jobs = min(cores(), len(keys))
    if jobs <= 1:
        for key in keys:
            results[key] = solve_one(key)
            if on_result is not None:
                on_result(key, results[key])
        return results
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="layer")
    futures: list[Future] = [pool.submit(solve_one, key) for key in keys]
    try:
        for key, future in zip(keys, futures):
            while not future.done():  # a short wait, so that Ctrl-C reaches this thread
                wait([future], timeout=0.05, return_when=FIRST_COMPLETED)
            results[key] = future.result()
            if on_result is not None:
                on_result(key, results[key])
    except BaseException:
        with stop_all_searches():
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def wall_budget(start: float, time_limit: float | None, total_time_limit: float | None) -> float | None:
    """The wall-clock limit of one solve: the user's per-layer limit within what is left of their total.

    None (no clock at all) unless the user gave a limit: what the search returns
    is decided by deterministic work (mapper.search.cpsat).  Once the total is
    spent each solve gets a token 10 ms (and still a first mapping).
    """
    limits = [time_limit] if time_limit is not None else []
    if total_time_limit is not None:
        limits.append(max(0.01, total_time_limit - (time.perf_counter() - start)))
    return min(limits) if limits else None
