"""Whole-network mapping: shared shapes, sparsity per layer, batch choice, latency budgets."""

from __future__ import annotations

import threading
import time

import networkx as nx
import pytest
from mapper.search import cpsat_api as cp

import mapper.search.network as network
import mapper.search.parallel as parallel
from cost_models.layer import LayerShape
from cost_models.rowstationary import RATIO_ONE
from mapper.search.result import as_ms
from mapper.search.network import choose_batch, layer_ratios, map_network
from mapper.search.cpsat import solve


def small_net(batch: int = 1) -> nx.DiGraph:
    g = nx.DiGraph(name="toy", batch=batch)
    conv1 = LayerShape(batch, 16, 3, 32, 32, 3, 3, pads=(1, 1, 1, 1))
    conv2 = LayerShape(batch, 32, 16, 16, 16, 3, 3, pads=(1, 1, 1, 1))
    g.add_node("input", kind="host", op="Input", layer=None, order=0)
    g.add_node("conv1", kind="array", op="Conv", layer=conv1, order=1, relu=True)
    g.add_node("pool", kind="host", op="MaxPool", layer=None, order=2)
    g.add_node("conv2", kind="array", op="Conv", layer=conv2, order=3, relu=True)
    g.add_node("conv3", kind="array", op="Conv", layer=conv2.with_batch(batch), order=4, relu=True)
    g.add_node("fc", kind="array", op="Gemm", layer=LayerShape(batch, 10, 32 * 16 * 16, 1, 1, 1, 1, kind="fc"),
               order=5, relu=False)
    for u, v in [("input", "conv1"), ("conv1", "pool"), ("pool", "conv2"), ("conv2", "conv3"), ("conv3", "fc")]:
        g.add_edge(u, v)
    return g


def test_layers_in_order_shared_shapes_solved_once(hw):
    result = map_network(small_net(), hw, "energy")
    assert [entry.name for entry in result.layers] == ["conv1", "conv2", "conv3", "fc"]
    assert result.layers[2].shared_with == "conv2"
    assert result.layers[2].result is result.layers[1].result
    assert all(entry.result.status == "OPTIMAL" for entry in result.layers)
    assert result.host_ops == (("input", "Input"), ("pool", "MaxPool"))


def test_network_input_is_not_compressed_and_relu_outputs_are(hw):
    ratios = layer_ratios(small_net(), 0.6)
    assert ratios["conv1"].ifmap_dram == RATIO_ONE and ratios["conv1"].ifmap_nonzero == RATIO_ONE
    assert ratios["conv2"].ifmap_dram < RATIO_ONE and ratios["conv2"].ifmap_nonzero < RATIO_ONE
    assert ratios["conv1"].ofmap_dram < ratios["fc"].ofmap_dram  # fc has no ReLU: dense output
    measured = layer_ratios(small_net(), 0.6, {"conv2": (0.9, 0.1)})
    assert measured["conv2"].ifmap_dram < ratios["conv2"].ifmap_dram


def test_network_latency_budget_trades_energy_for_speed(hw):
    free = map_network(small_net(), hw, "energy")
    fastest = map_network(small_net(), hw, "latency")
    cycles = lambda r: sum(e.result.cost.total_cycles for e in r.layers)  # noqa: E731
    energy = lambda r: sum(e.result.cost.energy_total_units for e in r.layers)  # noqa: E731
    assert cycles(fastest) < cycles(free)
    budget = (cycles(fastest) + cycles(free)) // 2
    bounded = map_network(small_net(), hw, "energy", max_network_cycles=budget)
    assert cycles(bounded) <= budget
    assert energy(free) <= energy(bounded) <= energy(fastest)
    impossible = map_network(small_net(), hw, "energy", max_network_cycles=cycles(fastest) - 1)
    assert impossible.unmapped and {e.result.status for e in impossible.layers} == {"OVER_BUDGET"}
    assert f"the fastest mappings need {as_ms(cycles(fastest), hw)}" in impossible.unmapped[0].result.reason
    anyway = map_network(small_net(), hw, "energy", max_network_cycles=cycles(fastest) - 1, over_budget="fastest")
    assert not anyway.unmapped and cycles(anyway) == cycles(fastest)


def test_layer_latency_bound(hw):
    free = map_network(small_net(), hw, "energy")
    slowest = max(e.result.cost.total_cycles for e in free.layers)
    bounded = map_network(small_net(), hw, "energy", max_layer_cycles=slowest - 1)
    assert all(e.result.cost.total_cycles <= slowest - 1 for e in bounded.layers if e.result.ok)


def test_batch_auto_minimises_energy_per_inference(hw):
    result = choose_batch(small_net, hw, "energy", candidates=range(1, 5))
    per_inference = dict(result.batch_scan)
    assert set(per_inference) == {1, 2, 3, 4}
    assert result.batch == min(per_inference, key=lambda b: (per_inference[b], b))
    assert all(entry.layer.N == result.batch for entry in result.layers)


def test_unmappable_layer_does_not_stop_the_network(hw):
    g = small_net()
    g.add_node("tall", kind="array", op="Conv", layer=LayerShape(1, 4, 4, 20, 20, 13, 3), order=6, relu=False)
    g.add_edge("fc", "tall")
    result = map_network(g, hw, "energy")
    assert [e.name for e in result.unmapped] == ["tall"]
    assert result.layers[0].result.ok


def test_layers_solved_side_by_side_match_one_at_a_time_and_report_in_order(hw, monkeypatch):
    seen: list[str] = []
    side_by_side = map_network(small_net(), hw, "energy", on_layer=lambda name, result: seen.append(name))
    assert seen == ["conv1", "conv2", "conv3", "fc"]  # graph order, shared layers included
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    serial = map_network(small_net(), hw, "energy")
    assert [e.result.mapping for e in side_by_side.layers] == [e.result.mapping for e in serial.layers]


def test_interrupting_the_caller_stops_the_searches_running_beside_it(monkeypatch):
    """A Ctrl-C while layers are solved side by side stops every CP-SAT search at once."""
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    started = threading.Event()

    def solve_one(key: str):
        if key == "quick":
            started.wait(5)
            return key
        model = cp.Model()  # factor a 62-bit semiprime: CP-SAT does not finish in a minute
        x, y = model.new_int_var(2, 2**32, "x"), model.new_int_var(2, 2**32, "y")
        model.add_multiplication_equality(2147483629 * 2147483587, [x, y])
        model.add(x <= y)
        solver = cp.Solver()
        solver.parameters.max_time_in_seconds = 60
        solver.parameters.num_workers = 1
        started.set()
        return solve(solver, model)

    def on_result(key, result):
        raise KeyboardInterrupt

    begin = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        parallel.solve_each(["quick", "hard"], solve_one, on_result)
    assert started.is_set()
    assert time.perf_counter() - begin < 10
    trivial = cp.Model()  # the stop is over: searches run again
    trivial.new_int_var(0, 1, "z")
    assert solve(cp.Solver(), trivial) == cp.OPTIMAL


def test_network_latency_budget_is_the_brute_force_optimum(hw):
    """The frontier walk plus the one-point-per-layer choice equals trying every combination of every
    layer's brute-force energy / latency frontier (mapper.search.exhaustive), at three bounds."""
    import itertools

    from mapper.search.exhaustive import energy_latency_frontier

    graph = small_net()
    ratios = layer_ratios(graph, 0.5)
    groups: dict = {}
    for name, data in graph.nodes(data=True):
        if data["kind"] == "array":
            groups.setdefault((data["layer"], ratios[name]), []).append(name)
    frontiers = [energy_latency_frontier(layer, hw, ratio) for layer, ratio in groups]
    counts = [len(names) for names in groups.values()]
    fastest = sum(f[0][0] * n for f, n in zip(frontiers, counts))
    frugal = sum(f[-1][0] * n for f, n in zip(frontiers, counts))
    assert fastest < frugal  # the bound below really trades
    for bound in (fastest, (fastest + frugal) // 2, frugal - 1):
        best = min(sum(e * n for (_, e), n in zip(combo, counts)) for combo in itertools.product(*frontiers)
                   if sum(c * n for (c, _), n in zip(combo, counts)) <= bound)
        result = map_network(graph, hw, "energy", max_network_cycles=bound)
        assert not result.unmapped
        assert sum(e.result.cost.total_cycles for e in result.layers) <= bound
        assert sum(e.result.cost.objective_units["energy"] for e in result.layers) == best
        assert {e.result.status for e in result.layers} == {"OPTIMAL"}


def test_first_layers_are_those_with_no_array_layer_upstream_in_one_pass():
    """Two input branches (one through a host op) and a 20 000-layer chain behind them: only the two heads are
    'first' (their ifmap is the uncompressed network input).  A search of ancestors per layer took minutes here."""
    g = nx.DiGraph()
    g.add_node("input", kind="host")
    g.add_node("pad", kind="host")
    g.add_node("a", kind="array")
    g.add_node("b", kind="array")
    g.add_edges_from([("input", "a"), ("input", "pad"), ("pad", "b")])
    previous = "a"
    for i in range(20_000):
        g.add_node(f"c{i}", kind="array" if i % 2 else "host")
        g.add_edges_from([(previous, f"c{i}"), ("b", f"c{i}")] if i == 0 else [(previous, f"c{i}")])
        previous = f"c{i}"
    assert network._first_layers(g) == {"a", "b"}
