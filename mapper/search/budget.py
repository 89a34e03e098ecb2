"""A network latency budget (``--network-latency-ms``): least total energy with the layers' cycles summed under it.

Split from ``mapper.search.network`` because it is the one search that couples
layers: a joint CP-SAT model over every distinct layer.
"""

from __future__ import annotations

import time
from typing import Callable

from ortools.sat.python import cp_model

from cost_models.cost import evaluate, variables
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import VARIABLES, DataRatios, Vars
from mapper.search.cpsat import add_layer, solve
from mapper.search.network import solve_each, wall_budget
from mapper.search.result import LayerResult, as_ms
from mapper.search.space import to_mapping
from mapper.search.symbolic import Tracer

NETWORK_GAP_LIMIT = 1e-3
JOINT_WORK = 60.0  # deterministic work units for the joint latency-budget model (mapper.search.cpsat)


def map_with_network_budget(nodes: list[tuple[str, dict]], ratios: dict[str, DataRatios], hw: Hardware,
                             max_cycles: int, limits: tuple[float | None, float | None],
                             search: Callable[..., LayerResult]
                             ) -> dict[str, tuple[LayerResult, str | None]]:
    """Least total energy with the sum of layer latencies <= ``max_cycles``.

    Each distinct layer is first solved alone for latency and for energy: if
    the fastest mappings together exceed the bound, no mapping set meets it (a
    proof when those solves are optimal); if the most frugal ones meet it, they
    are the answer.  Otherwise one joint CP-SAT model couples the layers,
    started from the fastest mappings (a feasible hint), and its status and
    gap are the joint solve's.
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
    settled = _settled_by_fastest(fast, groups, hw, max_cycles)
    if settled is not None:
        return spread(settled)
    frugal = solve_each(list(groups), lambda key: search(key[0], hw, "energy", ratios=key[1], time_limit=budget()))
    if all(result.ok for result in frugal.values()) and sum(
            frugal[key].cost.total_cycles * len(names) for key, names in groups.items()) <= max_cycles:
        return spread(lambda key: frugal[key])
    return spread(_joint_solve(groups, fast, frugal, hw, max_cycles, budget(), start))


Key = tuple[LayerShape, DataRatios]  # one distinct layer: its shape and data ratios


def _settled_by_fastest(fast: dict[Key, LayerResult], groups: dict[Key, list[str]], hw: Hardware,
                        max_cycles: int) -> Callable[[Key], LayerResult] | None:
    """Every layer's answer when the fastest mappings already decide the bound (a layer unmapped, or too slow)."""
    broken = {key: result for key, result in fast.items() if not result.ok}
    if broken:
        return lambda key: broken.get(key) or LayerResult(
            None, None, "INFEASIBLE", "energy", None, None, 0.0,
            reason="another layer has no valid mapping, so the network latency bound cannot be checked")
    fastest_total = sum(fast[key].cost.total_cycles * len(names) for key, names in groups.items())
    if fastest_total <= max_cycles:
        return None
    proven = all(result.status == "OPTIMAL" for result in fast.values())
    reason = (f"no set of mappings meets the network latency bound of {as_ms(max_cycles, hw)}: the fastest "
              f"mappings {'need' if proven else 'found need'} {as_ms(fastest_total, hw)}")
    return lambda key: LayerResult(None, None, "INFEASIBLE" if proven else "UNKNOWN", "energy", None, None,
                                   fast[key].wall_s, reason=reason)


def _joint_model(groups: dict[Key, list[str]], fast: dict[Key, LayerResult], frugal: dict[Key, LayerResult],
                 hw: Hardware, max_cycles: int) -> tuple[Tracer, dict[Key, Vars], int]:
    """One CP-SAT model of every distinct layer: total cycles bounded, total energy minimised, hinted fastest."""
    tracer = Tracer()
    energy_terms, cycle_terms, per_group = [], [], {}
    for index, ((layer, ratio), names) in enumerate(groups.items()):
        v, model, counts = add_layer(tracer, layer, hw, ratio, str(index))
        energy_terms.append(model.objective_from_counts(counts, "energy") * len(names))
        cycle_terms.append(counts.cycles.total * len(names))
        per_group[(layer, ratio)] = v
        hint = variables(fast[(layer, ratio)].mapping)
        for key in VARIABLES:
            tracer.model.AddHint(getattr(v, key).expr, int(getattr(hint, key)))
    # Each layer alone can do no better than its unconstrained optimum: a valid
    # cut that gives the solver a strong bound from the start.
    lower = sum((frugal[key].bound or 0) * len(names) for key, names in groups.items())
    tracer.model.Add(sum(term.expr for term in cycle_terms) <= max_cycles)
    tracer.model.Add(sum(term.expr for term in energy_terms) >= lower)
    tracer.model.Minimize(sum(term.expr for term in energy_terms))
    return tracer, per_group, lower


def _joint_solve(groups: dict[Key, list[str]], fast: dict[Key, LayerResult], frugal: dict[Key, LayerResult],
                 hw: Hardware, max_cycles: int, time_limit: float | None, start: float
                 ) -> Callable[[Key], LayerResult]:
    """The joint model solved; each layer's result carries the joint solve's status and relative gap.

    ``start``: when the budgeted mapping began (each layer's wall time is its share since then).
    """
    tracer, per_group, lower = _joint_model(groups, fast, frugal, hw, max_cycles)
    solver = cp_model.CpSolver()
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.random_seed = 0
    # One thread within deterministic work: the joint answer is then a function of the input alone
    # (a racing portfolio stopped at a gap returns whichever thread got there first).
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = JOINT_WORK
    # Stop once within 0.1 % of the bound (assumed: below the cost model's own
    # accuracy); the gap is reported, and "OPTIMAL" only when it is zero.
    solver.parameters.relative_gap_limit = NETWORK_GAP_LIMIT
    status = solve(solver, tracer.model)
    wall = (time.perf_counter() - start) / max(1, len(groups))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = {key: to_mapping(key[0], {k: int(solver.Value(getattr(v, k).expr)) for k in VARIABLES})
                  for key, v in per_group.items()}
        bound = max(lower, int(round(solver.BestObjectiveBound())))
    else:  # the time ran out before the joint model improved on its hint: keep the fastest mappings
        chosen = {key: fast[key].mapping for key in groups}
        bound = lower
    # The network's energy as the cost model scores the chosen mappings (not the solver's figure, which
    # can lie above it for a time-limited solution; see map_layer).
    costs = {key: evaluate(key[0], chosen[key], hw, key[1]) for key in groups}
    total = sum(costs[key].objective_units["energy"] * len(names) for key, names in groups.items())
    name_status = "OPTIMAL" if bound >= total else "FEASIBLE"

    def result(key: Key) -> LayerResult:
        cost = costs[key]
        value = cost.objective_units["energy"]
        # The joint solve's relative gap, carried by every layer (docs/report.md).
        layer_bound = value * bound // total if total else value
        return LayerResult(chosen[key], cost, name_status, "energy", value, layer_bound, wall)

    return result
