"""Map every array layer of a network: shared shapes solved once, batch chosen, latency budgets kept."""

from __future__ import annotations

import time
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import networkx as nx
from ortools.sat.python import cp_model

from cost_models.cost import evaluate
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import RATIO_ONE, DataRatios, RowStationary, Vars, layer_limits
from mapper.cpsat_expr import Tracer
from mapper.search import KEYS, LayerResult, map_layer
from mapper.space import ranges, to_mapping

# Assumed share of zeros in an ifmap or ofmap after a ReLU when no real tensor
# is at hand: AlexNet's measured average is 57.5 % [JSSC Table V]; 0.5 is the
# round, slightly conservative default.  The network input has none.
DEFAULT_ZERO_FRACTION = 0.5


@dataclass(frozen=True)
class MappedLayer:
    name: str
    op: str
    layer: LayerShape
    ratios: DataRatios
    result: LayerResult
    shared_with: str | None = None  # the first layer of the same shape, whose solve this reuses


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


def layer_ratios(graph: nx.DiGraph, zero_fraction: float,
                 overrides: Mapping[str, tuple[float, float]] | None = None) -> dict[str, DataRatios]:
    """DRAM compression and zero-gating figures per array layer.

    Every fmap is RLC-coded in DRAM except the network input [JSSC IV-B]; the
    network input has no zeros; an ofmap after the chip's ReLU has
    ``zero_fraction`` zeros, any other none.  ``overrides`` maps a layer name to
    measured (ifmap, ofmap) zero fractions, e.g. from real tensors.
    """
    from cost_models.rlc import ratio_from_zero_fraction

    first = _first_layers(graph)
    out: dict[str, DataRatios] = {}
    for name, data in graph.nodes(data=True):
        if data.get("kind") != "array":
            continue
        z_in = 0.0 if name in first else zero_fraction
        z_out = zero_fraction if data.get("relu") else 0.0
        if overrides and name in overrides:
            z_in, z_out = overrides[name]
        out[name] = DataRatios(
            ifmap_dram=RATIO_ONE if name in first else ratio_from_zero_fraction(z_in),
            ofmap_dram=ratio_from_zero_fraction(z_out),
            ifmap_nonzero=int(round(RATIO_ONE * (1 - z_in))),
        )
    return out


def array_nodes(graph: nx.DiGraph) -> list[tuple[str, dict]]:
    nodes = [(n, d) for n, d in graph.nodes(data=True) if d.get("kind") == "array"]
    return sorted(nodes, key=lambda item: item[1].get("order", 0))


def map_network(graph: nx.DiGraph, hardware: Hardware, objective: str = "energy", *,
                time_limit: float = 60.0, total_time_limit: float | None = None,
                max_layer_cycles: int | None = None, max_network_cycles: int | None = None,
                zero_fraction: float = DEFAULT_ZERO_FRACTION,
                zero_fractions: Mapping[str, tuple[float, float]] | None = None,
                on_layer: Callable[[str, LayerResult], None] | None = None) -> NetworkResult:
    """Map every array layer of ``graph`` (as built by ``frontends.load_onnx``)."""
    start = time.perf_counter()
    ratios = layer_ratios(graph, zero_fraction, zero_fractions)
    nodes = array_nodes(graph)
    if max_network_cycles is not None:
        results = _map_with_network_budget(nodes, ratios, hardware, max_network_cycles, time_limit, total_time_limit)
    else:
        results = {}
        solved: dict[tuple[LayerShape, DataRatios], tuple[str, LayerResult]] = {}
        for name, data in nodes:
            key = (data["layer"], ratios[name])
            if key in solved:
                first, result = solved[key]
                results[name] = (result, first)
            else:
                remaining = time_limit
                if total_time_limit is not None:
                    remaining = max(0.05, min(time_limit, total_time_limit - (time.perf_counter() - start)))
                result = map_layer(data["layer"], hardware, objective, ratios=ratios[name],
                                   time_limit=remaining, max_cycles=max_layer_cycles)
                solved[key] = (name, result)
                results[name] = (result, None)
            if on_layer is not None:
                on_layer(name, results[name][0])
    layers = tuple(MappedLayer(name, data["op"], data["layer"], ratios[name], *results[name]) for name, data in nodes)
    host = tuple((n, d["op"]) for n, d in sorted(graph.nodes(data=True), key=lambda item: item[1].get("order", 0))
                 if d.get("kind") == "host")
    return NetworkResult(layers, host, int(graph.graph.get("batch", 1)), objective, hardware,
                         time.perf_counter() - start)


def _map_with_network_budget(nodes: list[tuple[str, dict]], ratios: dict[str, DataRatios], hw: Hardware,
                             max_cycles: int, time_limit: float, total_time_limit: float | None
                             ) -> dict[str, tuple[LayerResult, str | None]]:
    """Minimise total energy subject to the sum of layer latencies <= ``max_cycles`` (one joint CP-SAT model)."""
    start = time.perf_counter()
    tracer = Tracer()
    groups: dict[tuple[LayerShape, DataRatios], list[str]] = {}
    for name, data in nodes:
        groups.setdefault((data["layer"], ratios[name]), []).append(name)
    energy_terms, cycle_terms, per_group = [], [], {}
    unmappable: dict[str, str] = {}
    for index, ((layer, ratio), names) in enumerate(groups.items()):
        problems = layer_limits(layer, hw)
        if problems:
            for name in names:
                unmappable[name] = "; ".join(problems)
            continue
        v = Vars(**{key: tracer.new(1, high, f"{key}{index}") for key, high in ranges(layer, hw).items()})
        model = RowStationary(layer, hw, ratio)
        for limit in model.limits(v):
            constraint = limit.lhs <= limit.rhs
            if isinstance(constraint, bool):
                if not constraint:
                    tracer.model.AddBoolOr([])
            else:
                tracer.model.Add(constraint)
        counts = model.counts(v)
        energy_terms.append(model.objective_from_counts(counts, "energy") * len(names))
        cycle_terms.append(counts["total_cycles"] * len(names))
        per_group[(layer, ratio)] = v
    tracer.model.Add(sum(term.expr for term in cycle_terms) <= max_cycles)
    tracer.model.Minimize(sum(term.expr for term in energy_terms))
    solver = cp_model.CpSolver()
    limit = time_limit * max(1, len(per_group)) if total_time_limit is None else total_time_limit
    solver.parameters.max_time_in_seconds = max(0.1, limit)
    solver.parameters.random_seed = 0
    status = solver.Solve(tracer.model)
    wall = time.perf_counter() - start
    name_status = solver.StatusName(status)
    results: dict[str, tuple[LayerResult, str | None]] = {}
    for (layer, ratio), names in groups.items():
        for position, name in enumerate(names):
            shared = names[0] if position else None
            if name in unmappable:
                result = LayerResult(None, None, "UNMAPPABLE", "energy", None, None, 0.0, reason=unmappable[name])
            elif status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                result = LayerResult(None, None, name_status, "energy", None, None, wall,
                                     reason=f"no set of mappings meets the network latency bound of {max_cycles} cycles")
            else:
                v = per_group[(layer, ratio)]
                mapping = to_mapping(layer, {key: int(solver.Value(getattr(v, key).expr)) for key in KEYS})
                cost = evaluate(layer, mapping, hw, ratio)
                value = cost.objective_units["energy"]
                gap_bound = value if status == cp_model.OPTIMAL else None
                result = LayerResult(mapping, cost, name_status, "energy", value, gap_bound, wall / max(1, len(groups)))
            results[name] = (result, shared)
    return results


def choose_batch(build_graph: Callable[[int], nx.DiGraph], hardware: Hardware, objective: str,
                 candidates: Iterable[int] = range(1, 17), **options) -> NetworkResult:
    """``--batch auto``: the batch size minimising energy per inference ([JSSC IV-A]: N=4 for AlexNet)."""
    best: NetworkResult | None = None
    best_key: tuple[Fraction, int] | None = None
    scan = []
    for batch in candidates:
        result = map_network(build_graph(batch), hardware, objective, **options)
        if result.unmapped:
            continue
        energy = sum(entry.result.cost.energy_total_units for entry in result.layers)
        scan.append((batch, energy / batch))
        key = (Fraction(energy, batch), batch)
        if best_key is None or key < best_key:
            best, best_key = result, key
    if best is None:
        return map_network(build_graph(min(candidates)), hardware, objective, **options)
    return NetworkResult(best.layers, best.host_ops, best.batch, best.objective, best.hardware, best.search_s,
                         tuple(scan))
