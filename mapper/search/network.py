"""Map every array layer of a network: shared shapes solved once, batch chosen, latency budgets kept."""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Mapping, TypeVar

import networkx as nx
from ortools.sat.python import cp_model

from cost_models.cost import Cost, evaluate, variables
from cost_models.hardware import Hardware
from cost_models.rlc import DEFAULT_ZERO_FRACTION
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping as LayerMapping
from cost_models.rowstationary import VARIABLES, DataRatios, Vars
from cost_models.statistics import FmapStatistic, LayerStatistics
from mapper.search.symbolic import Tracer
from mapper.search.cache import ResultCache
from mapper.search.cpsat import LayerResult, add_layer, as_ms, map_layer, solve, stop_all_searches
from mapper.search.space import to_mapping

NETWORK_GAP_LIMIT = 1e-3
JOINT_WORK = 60.0  # deterministic work units for the joint latency-budget model (mapper.search.cpsat)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class MappedLayer:
    """One array layer as the search left it: its shape, data ratios and result (shared with an identical layer)."""

    name: str
    op: str
    layer: LayerShape
    ratios: DataRatios
    result: LayerResult
    shared_with: str | None = None  # the first layer of the same shape, whose solve this reuses
    statistics: LayerStatistics | None = None  # the zeros and RLC sizes behind ``ratios``, with their sources

    @property
    def mapping(self) -> LayerMapping | None:
        return self.result.mapping

    @property
    def cost(self) -> Cost | None:
        return self.result.cost

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass(frozen=True)
class NetworkResult:
    layers: tuple[MappedLayer, ...]
    host_ops: tuple[tuple[str, str], ...]
    batch: int
    objective: str
    hardware: Hardware
    search_s: float
    batch_scan: tuple[tuple[int, float], ...] = field(default=())  # (batch, energy units per inference) tried

    @property
    def unmapped(self) -> list[MappedLayer]:
        return [entry for entry in self.layers if not entry.result.ok]


def _first_layers(graph: nx.DiGraph) -> set[str]:
    """Array layers fed by the network input with no array layer in between (their ifmap is not RLC-coded)."""
    array = {n for n, d in graph.nodes(data=True) if d.get("kind") == "array"}
    return {n for n in array if not (nx.ancestors(graph, n) & array)}


def layer_statistics(graph: nx.DiGraph, zero_fraction: float = DEFAULT_ZERO_FRACTION, *,
                     zero_fraction_given: bool = False,
                     given: Mapping[str, tuple[float, float | None]] | None = None,
                     measured: Mapping[str, tuple[FmapStatistic, FmapStatistic]] | None = None
                     ) -> dict[str, LayerStatistics]:
    """Zeros and RLC sizes per array layer, each with its source (cost_models.statistics).

    Precedence per fmap: a per-layer ``given`` figure (``--zero-fraction
    NAME=Z``), then a ``measured`` one (calibration inputs), then the rule:
    the network input has no zeros, an ofmap after the chip's ReLU has
    ``zero_fraction`` zeros (given when ``zero_fraction_given``, else the
    default), any other ofmap none.  Every fmap is RLC-coded in DRAM except the
    network input [JSSC IV-B].
    """
    first = _first_layers(graph)
    given, measured = given or {}, measured or {}
    relu_source = "given" if zero_fraction_given else "default"
    out: dict[str, LayerStatistics] = {}
    for name, data in graph.nodes(data=True):
        if data.get("kind") != "array":
            continue
        z_in, z_out = given.get(name, (None, None))
        seen = measured.get(name)
        if z_in is not None:
            ifmap = FmapStatistic(z_in, "given", basis="--zero-fraction for this layer")
        elif seen is not None:
            ifmap = seen[0]
        elif name in first:
            ifmap = FmapStatistic(0.0, "default", basis="network input: no zeros assumed")
        else:
            ifmap = FmapStatistic(zero_fraction, relu_source, basis="zeros of a ReLU output")
        if z_out is not None:
            ofmap = FmapStatistic(z_out, "given", basis="--zero-fraction for this layer")
        elif seen is not None:
            ofmap = seen[1]
        elif data.get("relu"):
            ofmap = FmapStatistic(zero_fraction, relu_source, basis="zeros of a ReLU output")
        else:
            ofmap = FmapStatistic(0.0, "default", basis="no ReLU on the ofmap path: no zeros assumed")
        out[name] = LayerStatistics(ifmap, ofmap, ifmap_coded=name not in first)
    return out


def layer_ratios(graph: nx.DiGraph, zero_fraction: float,
                 overrides: Mapping[str, tuple[float, float]] | None = None) -> dict[str, DataRatios]:
    """DRAM compression and zero-gating figures per array layer (``layer_statistics`` without sources)."""
    stats = layer_statistics(graph, zero_fraction, given=overrides)
    return {name: s.ratios() for name, s in stats.items()}


def array_nodes(graph: nx.DiGraph) -> list[tuple[str, dict]]:
    nodes = [(n, d) for n, d in graph.nodes(data=True) if d.get("kind") == "array"]
    return sorted(nodes, key=lambda item: item[1].get("order", 0))


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


def map_network(graph: nx.DiGraph, hardware: Hardware, objective: str = "energy", *,
                time_limit: float | None = None, total_time_limit: float | None = None,
                max_layer_cycles: int | None = None, max_network_cycles: int | None = None,
                zero_fraction: float = DEFAULT_ZERO_FRACTION,
                zero_fractions: Mapping[str, tuple[float, float]] | None = None,
                statistics: Mapping[str, LayerStatistics] | None = None,
                on_layer: Callable[[str, LayerResult], None] | None = None,
                cache: ResultCache | None = None) -> NetworkResult:
    """Map every array layer of ``graph`` (as built by ``frontends.load_onnx``).

    ``statistics`` (``layer_statistics``: measured, given or default zeros and
    RLC sizes per layer) replaces ``zero_fraction`` / ``zero_fractions``.
    ``cache`` (mapper.search.cache) answers each distinct layer it already
    knows and keeps each new proven answer.
    """
    search = cache.map_layer if cache is not None else map_layer
    start = time.perf_counter()
    if statistics is None:
        statistics = layer_statistics(graph, zero_fraction, given=zero_fractions)
    ratios = {name: stats.ratios() for name, stats in statistics.items()}
    nodes = array_nodes(graph)
    if max_network_cycles is not None:
        results = _map_with_network_budget(nodes, ratios, hardware, max_network_cycles,
                                           (time_limit, total_time_limit), search)
        if on_layer is not None:
            for name, _ in nodes:
                on_layer(name, results[name][0])
    else:
        first: dict[tuple[LayerShape, DataRatios], str] = {}  # each distinct shape's first layer
        for name, data in nodes:
            first.setdefault((data["layer"], ratios[name]), name)

        def solve_one(key: tuple[LayerShape, DataRatios]) -> LayerResult:
            return search(key[0], hardware, objective, ratios=key[1],
                          time_limit=wall_budget(start, time_limit, total_time_limit), max_cycles=max_layer_cycles)

        done: dict[tuple[LayerShape, DataRatios], LayerResult] = {}
        reported = 0

        def report(key: tuple[LayerShape, DataRatios], result: LayerResult) -> None:
            """``on_layer`` for every layer, in graph order, as soon as its shape is solved."""
            nonlocal reported
            done[key] = result
            while on_layer is not None and reported < len(nodes):
                name, data = nodes[reported]
                if (data["layer"], ratios[name]) not in done:
                    break
                on_layer(name, done[(data["layer"], ratios[name])])
                reported += 1

        solved = solve_each(list(first), solve_one, report)
        results = {name: (solved[key], None if first[key] == name else first[key])
                   for name, data in nodes for key in [(data["layer"], ratios[name])]}
    layers = tuple(MappedLayer(name, data["op"], data["layer"], ratios[name], *results[name], statistics[name])
                   for name, data in nodes)
    host = tuple((n, d["op"]) for n, d in sorted(graph.nodes(data=True), key=lambda item: item[1].get("order", 0))
                 if d.get("kind") == "host")
    return NetworkResult(layers, host, int(graph.graph.get("batch", 1)), objective, hardware,
                         time.perf_counter() - start)


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


def _map_with_network_budget(nodes: list[tuple[str, dict]], ratios: dict[str, DataRatios], hw: Hardware,
                             max_cycles: int, limits: tuple[float | None, float | None],
                             search: Callable[..., LayerResult] = map_layer
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


def choose_batch(build_graph: Callable[[int], nx.DiGraph], hardware: Hardware, objective: str,
                 candidates: Iterable[int] = range(1, 17),
                 on_batch: Callable[[int, NetworkResult], None] | None = None, **options) -> NetworkResult:
    """``--batch auto``: the batch size minimising energy per inference ([JSSC IV-A]: N=4 for AlexNet).

    Each size's search is independent, so the sizes are solved side by side
    (``solve_each``; each size's distinct layers side by side again).  The
    choice is made over the sizes in order once all are done, and every search
    is bounded by deterministic work, so neither it nor the report depends on
    which size finished first.  ``on_batch(batch, result)`` reports each size
    in order as soon as it and the sizes before it are done.
    """
    sizes = list(candidates)
    results = solve_each(sizes, lambda batch: map_network(build_graph(batch), hardware, objective, **options),
                         on_batch)
    best: NetworkResult | None = None
    best_key: tuple[Fraction, int] | None = None
    scan = []
    for batch in sizes:
        result = results[batch]
        if result.unmapped:
            continue
        energy = sum(entry.result.cost.energy_total_units for entry in result.layers)
        scan.append((batch, energy / batch))
        key = (Fraction(energy, batch), batch)
        if best_key is None or key < best_key:
            best, best_key = result, key
    if best is None:
        return results[min(sizes)]
    return NetworkResult(best.layers, best.host_ops, best.batch, best.objective, best.hardware, best.search_s,
                         tuple(scan))
