"""A network latency budget (``--network-latency-ms``): least total energy with the layers' cycles summed under it.

Split from ``mapper.search.network`` because it is the one search that couples
layers: each layer's energy / latency trade-offs, then one choice over all of them.
"""

from __future__ import annotations

import time
from typing import Callable

from mapper.search import cpsat_api as cp

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import DataRatios
from mapper.search.cpsat import solve
from mapper.search.parallel import solve_each, wall_budget
from mapper.search.result import OVER_BUDGET, LayerResult, as_ms

# A layer has few energy / latency trade-offs (measured with the bound midway between the energy and
# the latency optimum: at most 4 per layer on AlexNet N=4, VGG-16, ResNet-18, MobileNetV2); past this
# many the frontier is cut, the layer's fastest mapping closes it and the network's result is FEASIBLE
# with its gap.
MAX_FRONTIER_POINTS = 48
CHOICE_WORK = 10.0  # deterministic work units of the one-point-per-layer choice (a small knapsack: milliseconds)


def map_with_network_budget(nodes: list[tuple[str, dict]], ratios: dict[str, DataRatios], hw: Hardware,
                             max_cycles: int, limits: tuple[float | None, float | None],
                             search: Callable[..., LayerResult], over_budget: str = "error"
                             ) -> dict[str, tuple[LayerResult, str | None]]:
    """Least total energy with the sum of layer latencies <= ``max_cycles``.

    Each distinct layer is first solved alone for latency and for energy: if
    the fastest mappings together exceed the bound, no mapping set meets it (a
    proof when those solves are optimal); if the most frugal ones meet it, they
    are the answer.  Otherwise each layer's energy / latency frontier is walked
    (per-layer searches with a latency bound, ``_frontier``) and one point per
    layer is chosen (``_choose``).  (A single CP-SAT model of every layer at
    once, tried first, took 60+ work units on AlexNet without closing a 0.5 %
    gap; the frontiers are small and each point is an ordinary proven search.)
    A bound below the fastest mappings' total makes every layer OVER_BUDGET
    (the reason names the bound and that total), or, with ``over_budget="fastest"``,
    gives every layer its fastest mapping.
    """
    start = time.perf_counter()
    time_limit, total_time_limit = limits

    def budget() -> float | None:
        return wall_budget(start, time_limit, total_time_limit)

    groups: dict[tuple[LayerShape, DataRatios], list[str]] = {}
    for name, data in nodes:
        groups.setdefault((data["layer"], ratios[name]), []).append(name)

    def spread(pick: Callable[[tuple[LayerShape, DataRatios]], LayerResult]) -> dict[str, tuple[LayerResult, str | None]]:
        return {name: (pick(key), names[0] if position else None)
                for key, names in groups.items() for position, name in enumerate(names)}

    fast = solve_each(list(groups), lambda key: search(key[0], hw, "latency", ratios=key[1], time_limit=budget()))
    settled = _settled_by_fastest(fast, groups, hw, max_cycles, over_budget)
    if settled is not None:
        return spread(settled)
    frugal = solve_each(list(groups), lambda key: search(key[0], hw, "energy", ratios=key[1], time_limit=budget()))
    if all(result.ok for result in frugal.values()) and sum(
            frugal[key].cost.total_cycles * len(names) for key, names in groups.items()) <= max_cycles:
        return spread(lambda key: frugal[key])
    return spread(_traded(groups, fast, frugal, hw, max_cycles, search, budget, start))


Key = tuple[LayerShape, DataRatios]  # one distinct layer: its shape and data ratios


def _settled_by_fastest(fast: dict[Key, LayerResult], groups: dict[Key, list[str]], hw: Hardware,
                        max_cycles: int, over_budget: str = "error") -> Callable[[Key], LayerResult] | None:
    """Every layer's answer when the fastest mappings already decide the bound (a layer unmapped, or too slow)."""
    broken = {key: result for key, result in fast.items() if not result.ok}
    if broken:
        return lambda key: broken.get(key) or LayerResult(
            None, None, "INFEASIBLE", "energy", None, None, 0.0,
            reason="another layer has no valid mapping, so the network latency bound cannot be checked")
    fastest_total = sum(fast[key].cost.total_cycles * len(names) for key, names in groups.items())
    if fastest_total <= max_cycles:
        return None
    if over_budget == "fastest":
        return lambda key: fast[key]
    proven = all(result.status == "OPTIMAL" for result in fast.values())
    reason = (f"no set of mappings meets the network latency bound of {as_ms(max_cycles, hw)}: the fastest "
              f"mappings {'need' if proven else 'found (not proven fastest: the search was cut short) need'} "
              f"{as_ms(fastest_total, hw)}")
    return lambda key: LayerResult(None, None, OVER_BUDGET, "energy", None, None, fast[key].wall_s, reason=reason)


def _frontier(key: Key, fast: LayerResult, frugal: LayerResult, cap: int, hw: Hardware,
              search: Callable[..., LayerResult], budget: Callable[[], float | None]) -> tuple[list[LayerResult], bool]:
    """The layer's energy / latency trade-offs: for each cycle bound, the least energy within it.

    From the energy optimum (or, if that is slower than the bound leaves this
    layer, the least energy within ``cap`` cycles) down to the fastest mapping,
    each next point is the layer searched with a bound one cycle below the last
    point's latency.  That walks exactly the Pareto frontier (every point the
    least energy for its latency), in at most MAX_FRONTIER_POINTS searches; each
    is an ordinary per-layer search, proven and cached like any other.
    ``complete`` says the walk reached the fastest mapping with every point proven.
    """
    layer, ratios = key
    fastest = fast.cost.total_cycles
    first = frugal if frugal.cost.total_cycles <= cap else search(
        layer, hw, "energy", ratios=ratios, time_limit=budget(), max_cycles=cap)
    points, complete = [first], first.status == "OPTIMAL" and first.ok
    while points[-1].ok and points[-1].cost.total_cycles > fastest:
        if len(points) >= MAX_FRONTIER_POINTS:
            return [*points, fast], False
        points.append(search(layer, hw, "energy", ratios=ratios, time_limit=budget(),
                             max_cycles=points[-1].cost.total_cycles - 1))
        complete = complete and points[-1].status == "OPTIMAL"
    return [point for point in points if point.ok] + ([] if points[-1].ok else [fast]), complete and points[-1].ok


def _choose(groups: dict[Key, list[str]], frontiers: dict[Key, list[LayerResult]], max_cycles: int
            ) -> tuple[dict[Key, LayerResult], bool, int | None]:
    """One point per layer, least total energy within ``max_cycles`` (a multiple-choice knapsack, CP-SAT).

    Returns the choice, whether it is proven optimal over these points, and the solver's bound.
    """
    model = cp.Model()
    picks = {key: [model.new_bool_var(f"layer{index}_point{k}") for k in range(len(frontiers[key]))]
             for index, key in enumerate(groups)}
    energy, cycles = [], []
    for key, names in groups.items():
        model.add_exactly_one(picks[key])
        for pick, point in zip(picks[key], frontiers[key]):
            energy.append(point.cost.objective_units["energy"] * len(names) * pick)
            cycles.append(point.cost.total_cycles * len(names) * pick)
    model.add(sum(cycles) <= max_cycles)
    model.minimize(sum(energy))
    solver = cp.Solver()
    solver.parameters.random_seed = 0
    solver.parameters.num_workers = 1  # one thread within deterministic work: the choice is a function of the input
    solver.parameters.max_deterministic_time = CHOICE_WORK
    status = solve(solver, model)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):  # cannot happen: every layer's fastest point fits
        return {key: frontiers[key][-1] for key in groups}, False, None
    chosen = {key: next(point for pick, point in zip(picks[key], frontiers[key]) if solver.value(pick))
              for key in groups}
    return chosen, status == cp.OPTIMAL, int(solver.best_objective_bound)


def _traded(groups: dict[Key, list[str]], fast: dict[Key, LayerResult], frugal: dict[Key, LayerResult],
            hw: Hardware, max_cycles: int, search: Callable[..., LayerResult], budget: Callable[[], float | None],
            start: float) -> Callable[[Key], LayerResult]:
    """Each layer's trade-off frontier, then the one point per layer the bound allows at least energy.

    Each layer's result carries the network's status and relative gap: OPTIMAL
    when every frontier is complete and proven and the choice is proven.
    """
    fastest_total = sum(fast[key].cost.total_cycles * len(names) for key, names in groups.items())
    caps = {key: fast[key].cost.total_cycles + (max_cycles - fastest_total) // len(names)
            for key, names in groups.items()}  # slower than this, the other layers at their fastest miss the bound
    walked = solve_each(list(groups), lambda key: _frontier(key, fast[key], frugal[key], caps[key],
                                                            hw, search, budget))
    frontiers = {key: points for key, (points, _) in walked.items()}
    chosen, proven, bound = _choose(groups, frontiers, max_cycles)
    total = sum(chosen[key].cost.objective_units["energy"] * len(names) for key, names in groups.items())
    lower = sum((frugal[key].bound or 0) * len(names) for key, names in groups.items())
    optimal = proven and all(complete for _, complete in walked.values())
    bound = total if optimal else max(lower, min(bound or lower, total))
    wall = (time.perf_counter() - start) / max(1, len(groups))

    def result(key: Key) -> LayerResult:
        point = chosen[key]
        value = point.cost.objective_units["energy"]
        layer_bound = value * bound // total if total else value  # the network's relative gap (docs/report.md)
        return LayerResult(point.mapping, point.cost, "OPTIMAL" if optimal else "FEASIBLE", "energy", value,
                           layer_bound, wall)

    return result
