"""Map every array layer of a network: shared shapes solved once, batch chosen, latency budgets kept."""

from __future__ import annotations

import time
from functools import partial
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import networkx as nx

from cost_models.cost import Cost
from cost_models.errors import InputError
from cost_models.hardware import Hardware
from cost_models.rlc import DEFAULT_ZERO_FRACTION
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping as LayerMapping
from cost_models.rowstationary import DataRatios
from cost_models.rules import DEFAULT_SPACE, NESTED, SPACES, check_space
from cost_models.statistics import FmapStatistic, LayerStatistics
from frontends.zeros import LayerTensors, layer_tensors, tensor_zeros
from mapper.search.cache import ResultCache
from mapper.search.result import PINNED, LayerResult
from mapper.search.pinned import pinned_result
from mapper.search.parallel import solve_each, wall_budget

Key = tuple[LayerShape, DataRatios]  # one distinct layer: its shape and data ratios


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
    optimum: LayerResult | None = None  # a pinned layer's searched optimum (same space, objective, bound)

    @property
    def pinned(self) -> bool:
        """The mapping is the user's (``--mapping``), evaluated, not searched."""
        return self.result.status == PINNED

    @property
    def searched(self) -> LayerResult | None:
        """The search's answer for this layer: its result, or for a pinned layer the optimum (if searched)."""
        return self.optimum if self.pinned else self.result

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
    mapping_space: str = DEFAULT_SPACE  # the space every layer was searched in (cost_models.rules)
    # map_network(compare_spaces=True): each distinct layer's optimum in every space, its own included
    space_results: Mapping[tuple[Key, str], LayerResult] = field(default_factory=dict)

    @property
    def unmapped(self) -> list[MappedLayer]:
        return [entry for entry in self.layers if not entry.result.ok]


def _first_layers(graph: nx.DiGraph) -> set[str]:
    """Array layers fed by the network input with no array layer in between (their ifmap is not RLC-coded)."""
    array = {n for n, d in graph.nodes(data=True) if d.get("kind") == "array"}
    # One pass in topological order (an ancestors() search per layer was quadratic: 10 000 Convs took a minute).
    behind_array: set[str] = set()  # nodes with an array layer upstream
    for node in nx.topological_sort(graph):
        if any(p in array or p in behind_array for p in graph.predecessors(node)):
            behind_array.add(node)
    return array - behind_array


def layer_statistics(graph: nx.DiGraph, zero_fraction: float = DEFAULT_ZERO_FRACTION, *,
                     zero_fraction_given: bool = False,
                     given: Mapping[str, tuple[float, float | None]] | None = None,
                     measured: Mapping[str, tuple[FmapStatistic, FmapStatistic]] | None = None
                     ) -> dict[str, LayerStatistics]:
    """Zeros and RLC sizes per array layer, each with its source (cost_models.statistics).

    One figure per tensor, read alike by the layer that writes it and every
    layer that reads it.  Precedence per tensor: a ``given`` figure
    (``--zero-fraction NAME=Z[,ZO]`` names a layer's ifmap or ofmap), then a
    ``measured`` one (calibration inputs), then the rule of frontends.zeros:
    a ReLU output (or a pooled, reshaped, concatenated, quantized one) has
    ``zero_fraction`` zeros (given when ``zero_fraction_given``, else the
    default); the network input and every other op's output have none.  Every
    fmap is RLC-coded in DRAM except the network input [JSSC IV-B].
    """
    tensors = layer_tensors(graph)
    relu_source = "given" if zero_fraction_given else "default"
    figures = {tensor: FmapStatistic(zeros.relu_share * zero_fraction, relu_source if zeros.relu_share else "default",
                                     basis=zeros.basis)
               for tensor, zeros in tensor_zeros(graph).items()}
    for name, (ifmap, ofmap) in (measured or {}).items():
        if name in tensors:
            figures[tensors[name].ifmap], figures[tensors[name].ofmap] = ifmap, ofmap
    figures.update(_given_figures(tensors, given or {}))
    unknown = FmapStatistic(0.0, "default", basis="no producer found: no zeros assumed")
    first = _first_layers(graph)
    return {name: LayerStatistics(figures.get(t.ifmap, unknown), figures.get(t.ofmap, unknown),
                                  ifmap_coded=name not in first) for name, t in tensors.items()}


def _given_figures(tensors: Mapping[str, LayerTensors], given: Mapping[str, tuple[float, float | None]]
                   ) -> dict[str, FmapStatistic]:
    """``--zero-fraction NAME=Z[,ZO]`` on the tensors those layers read and write; two figures for one tensor
    (a layer's ofmap and its reader's ifmap) are refused."""
    claimed: dict[str, tuple[str, float]] = {}
    for name, (z_in, z_out) in given.items():
        if name not in tensors:
            continue
        for tensor, figure, role in ((tensors[name].ifmap, z_in, "ifmap"), (tensors[name].ofmap, z_out, "ofmap")):
            if figure is None:
                continue
            before = claimed.get(tensor)
            if before is not None and before[1] != figure:
                raise InputError(f"--zero-fraction gives tensor '{tensor}' two figures: {before[1]} ({before[0]}) and "
                                 f"{figure} ({name}'s {role}); it is one tensor, written once and read as written")
            claimed[tensor] = (f"{name}'s {role}", figure)
    return {tensor: FmapStatistic(figure, "given", basis="--zero-fraction for this layer")
            for tensor, (_, figure) in claimed.items()}


def layer_ratios(graph: nx.DiGraph, zero_fraction: float,
                 overrides: Mapping[str, tuple[float, float]] | None = None) -> dict[str, DataRatios]:
    """DRAM compression and zero-gating figures per array layer (``layer_statistics`` without sources)."""
    stats = layer_statistics(graph, zero_fraction, given=overrides)
    return {name: s.ratios() for name, s in stats.items()}


def array_nodes(graph: nx.DiGraph) -> list[tuple[str, dict]]:
    nodes = [(n, d) for n, d in graph.nodes(data=True) if d.get("kind") == "array"]
    return sorted(nodes, key=lambda item: item[1].get("order", 0))


def map_network(graph: nx.DiGraph, hardware: Hardware, objective: str = "energy", *,
                time_limit: float | None = None, total_time_limit: float | None = None,
                max_layer_cycles: int | None = None, max_network_cycles: int | None = None,
                zero_fraction: float = DEFAULT_ZERO_FRACTION,
                zero_fractions: Mapping[str, tuple[float, float]] | None = None,
                statistics: Mapping[str, LayerStatistics] | None = None,
                on_layer: Callable[[str, LayerResult], None] | None = None,
                cache: ResultCache | None = None, mapping_space: str = DEFAULT_SPACE,
                over_budget: str = "error", pinned: Mapping[str, LayerMapping] | None = None,
                search_pinned: bool = True, compare_spaces: bool = False) -> NetworkResult:
    """Map every array layer of ``graph`` (``frontends.load_onnx``) in ``mapping_space`` (full, jssc: cost_models.rules).

    ``statistics`` (``layer_statistics``: measured, given or default zeros and
    RLC sizes per layer) replaces ``zero_fraction`` / ``zero_fractions``.
    ``cache`` (mapper.search.cache) answers each distinct layer it already
    knows and keeps each new proven answer.  ``over_budget``: what a
    ``max_network_cycles`` below the fastest mappings gives (mapper.search.budget).
    ``pinned``: layer name -> the user's mapping (checked against the space's
    limits beforehand: mapper.app.mapping_file), evaluated instead of searched;
    with ``search_pinned`` each pinned layer's optimum is searched too
    (``MappedLayer.optimum``), so the report can say what the search gains.
    ``compare_spaces``: each distinct layer is searched in every space too
    (``solve_spaces``: the narrower first, whose answer speeds the wider one),
    kept in ``NetworkResult.space_results`` for ``space_optima``; not with a
    network budget, whose searches are coupled.
    """
    pinned = pinned or {}
    space_results: dict[tuple[Key, str], LayerResult] = {}  # filled by the searches, one key each
    check_space(mapping_space)
    layer_search = cache.map_layer if cache is not None else _map_layer
    search = partial(layer_search, space=mapping_space)
    start = time.perf_counter()
    if statistics is None:
        statistics = layer_statistics(graph, zero_fraction, given=zero_fractions)
    ratios = {name: stats.ratios() for name, stats in statistics.items()}
    nodes = array_nodes(graph)
    # The searched layers first, so a searched layer never names a pinned one as the layer it shares a solve with.
    searched = [(name, data) for name, data in nodes if name not in pinned] + \
        [(name, data) for name, data in nodes if search_pinned and name in pinned]
    if max_network_cycles is not None:
        results = _map_budgeted(nodes, ratios, hardware, max_network_cycles, (time_limit, total_time_limit),
                                search, over_budget, bool(pinned), on_layer)
    else:
        spaces = SPACES if compare_spaces else (mapping_space,)

        def solve(layer: LayerShape, layer_ratios: DataRatios) -> LayerResult:
            found = solve_spaces(layer_search, layer, hardware, objective, spaces, ratios=layer_ratios,
                                 time_limit=wall_budget(start, time_limit, total_time_limit),
                                 max_cycles=max_layer_cycles)
            space_results.update({((layer, layer_ratios), space): result for space, result in found.items()})
            return found[mapping_space]

        results = _map_distinct(searched, ratios, solve, on_layer)
    layers = tuple(_pinned(name, data, pinned[name], results.get(name), hardware, objective, ratios[name],
                           statistics[name], max_layer_cycles) if name in pinned else
                   MappedLayer(name, data["op"], data["layer"], ratios[name], *results[name], statistics[name])
                   for name, data in nodes)
    host = tuple((n, d["op"]) for n, d in sorted(graph.nodes(data=True), key=lambda item: item[1].get("order", 0))
                 if d.get("kind") == "host")
    return NetworkResult(layers, host, int(graph.graph.get("batch", 1)), objective, hardware,
                         time.perf_counter() - start, mapping_space=mapping_space, space_results=space_results)


def _map_budgeted(nodes: list[tuple[str, dict]], ratios: Mapping[str, DataRatios], hardware: Hardware,
                  max_network_cycles: int, limits: tuple[float | None, float | None],
                  search: Callable[..., LayerResult], over_budget: str, pinned: bool,
                  on_layer: Callable[[str, LayerResult], None] | None) -> dict[str, tuple[LayerResult, str | None]]:
    """map_network under a network latency budget (mapper.search.budget); ``search`` keeps the space."""
    if pinned:
        raise InputError("a network latency budget couples every layer's mapping; it cannot be kept with "
                         "pinned mappings (--mapping): give --layer-latency-ms instead")
    from mapper.search.budget import map_with_network_budget  # OR-tools: loaded when a search runs
    results = map_with_network_budget(nodes, ratios, hardware, max_network_cycles, limits, search, over_budget)
    if on_layer is not None:
        for name, _ in nodes:
            on_layer(name, results[name][0])
    return results


def solve_spaces(search: Callable[..., LayerResult], layer: LayerShape, hardware: Hardware, objective: str,
                 spaces: Iterable[str], known: Mapping[str, LayerResult] | None = None,
                 **options) -> dict[str, LayerResult]:
    """``layer``'s optimum in each of ``spaces`` not in ``known``, the narrowest first (cost_models.rules.NESTED).

    Each answer is a valid mapping of every wider space, so it caps the wider
    search (``map_layer(known=...)``): the same proven optimum, found sooner.
    ``search`` is ``map_layer`` or a cache's; ``options`` its keywords.
    """
    found = dict(known or {})
    narrower: LayerMapping | None = None
    for space in NESTED:
        if space in spaces and space not in found:
            found[space] = search(layer, hardware, objective, space=space, known=narrower, **options)
        if space in found and found[space].mapping is not None:
            narrower = found[space].mapping
    return {space: found[space] for space in spaces}


def _pinned(name: str, data: dict, mapping: LayerMapping, optimum: tuple[LayerResult, str | None] | None,
            hardware: Hardware, objective: str, ratios: DataRatios, statistics: LayerStatistics,
            max_cycles: int | None) -> MappedLayer:
    """A pinned layer: the user's mapping evaluated, beside the search's optimum (shared with no layer: the
    optimum may be another layer's answer, the pinned mapping is this layer's alone)."""
    result = pinned_result(name, data["layer"], mapping, hardware, objective, ratios, max_cycles)
    return MappedLayer(name, data["op"], data["layer"], ratios, result, None, statistics,
                       optimum=None if optimum is None else optimum[0])


def _map_distinct(nodes: list[tuple[str, dict]], ratios: Mapping[str, DataRatios],
                  solve: Callable[[LayerShape, DataRatios], LayerResult],
                  on_layer: Callable[[str, LayerResult], None] | None) -> dict[str, tuple[LayerResult, str | None]]:
    """Each distinct (shape, data ratios) solved once; every layer gets its result and the first layer that had it."""
    first: dict[tuple[LayerShape, DataRatios], str] = {}  # each distinct shape's first layer
    for name, data in nodes:
        first.setdefault((data["layer"], ratios[name]), name)
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

    solved = solve_each(list(first), lambda key: solve(*key), report)
    return {name: (solved[key], None if first[key] == name else first[key])
            for name, data in nodes for key in [(data["layer"], ratios[name])]}


def _map_layer(*args, **options) -> LayerResult:
    """``mapper.search.cpsat.map_layer``, imported on the first search: a compile that the result
    cache answers entirely never loads OR-tools (mapper.search.result)."""
    from mapper.search.cpsat import map_layer
    return map_layer(*args, **options)


def space_optima(network: NetworkResult, max_cycles: int | None = None, cache: ResultCache | None = None,
                 time_limit: float | None = None, reuse: bool = True) -> dict[str, dict[str, LayerResult]]:
    """Each array layer's optimum in every mapping space (cost_models.rules): what the wider space buys.

    Distinct layers are searched once per space, side by side (``solve_each``)
    and through ``cache``, for the network's objective under the layer latency
    bound ``max_cycles``.  ``reuse``: the network's own results are such
    optima in its space (no network latency budget coupled them), as are its
    ``space_results``, so only what they lack is searched (``solve_spaces``).
    """
    search = cache.map_layer if cache is not None else _map_layer
    firsts: dict[Key, MappedLayer] = {}
    for entry in network.layers:
        firsts.setdefault((entry.layer, entry.ratios), entry)
    known: dict[Key, dict[str, LayerResult]] = {key: {} for key in firsts}
    if reuse:
        for (key, space), result in network.space_results.items():
            if key in known:
                known[key][space] = result
        for key, entry in firsts.items():
            if entry.searched is not None:  # a pinned layer's own result is no optimum
                known[key].setdefault(network.mapping_space, entry.searched)
    missing = [key for key in firsts if any(space not in known[key] for space in SPACES)]
    solved = solve_each(missing, lambda key: solve_spaces(
        search, key[0], network.hardware, network.objective, SPACES, known[key], ratios=key[1],
        time_limit=time_limit, max_cycles=max_cycles))
    return {entry.name: solved.get(key) or {space: known[key][space] for space in SPACES}
            for entry in network.layers for key in [(entry.layer, entry.ratios)]}


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
                         tuple(scan), best.mapping_space)
