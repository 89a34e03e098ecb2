"""Why a mapping won: binding limits as defined (tight, or broken by one parameter's next value), cycle parts that
add up to the model's total, and the term that keeps AlexNet's FC layers from their bound under --objective latency."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cost_models.cost import binding_limits, check, evaluate, variables
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import CYCLE_PARTS, VARIABLES, RowStationary, Vars
from mapper import compile_model
from mapper.search.cpsat import map_layer

ROOT = Path(__file__).resolve().parents[3]
CONV1 = LayerShape(N=4, M=96, C=3, H=227, W=227, R=11, S=11, stride=(4, 4))
CONV3 = LayerShape(N=4, M=384, C=256, H=13, W=13, R=3, S=3, pads=(1, 1, 1, 1))
CONV4 = LayerShape(N=4, M=384, C=384, H=13, W=13, R=3, S=3, pads=(1, 1, 1, 1))


def _next(mapping: Mapping, name: str) -> Mapping:
    if name == "m":
        return replace(mapping, m=mapping.m + mapping.p * mapping.t)
    return replace(mapping, **{name: getattr(mapping, name) + 1})


@pytest.mark.parametrize("layer", [CONV1, CONV3])
@pytest.mark.parametrize("objective", ["energy", "latency"])
def test_binding_limits_follow_their_definition(hw, layer, objective):
    mapping = map_layer(layer, hw, objective).mapping
    model = RowStationary(layer, hw)
    limits = {limit.name: limit for limit in model.limits(variables(mapping))}
    found = {b.name: b for b in binding_limits(layer, mapping, hw)}
    assert found and all(limits[name].lhs == b.used and limits[name].rhs == b.capacity for name, b in found.items())
    for name, limit in limits.items():
        breakers = []
        for param in "nepqrtgm":
            step = _next(mapping, param)
            if param == "e" and step.e > layer.E:
                broken = {"e_range"}
            else:
                stepped = {lim.name: lim for lim in model.limits(variables(step))}
                broken = {key for key, lim in stepped.items() if not lim.lhs <= lim.rhs}
            if name in broken and (f"{param}_range" not in broken or name == f"{param}_range"):
                breakers.append(param)
        tight = limit.lhs == limit.rhs and name != "groups_or_filters"
        trivial = name.endswith("_range") and limit.rhs == (1 if name[0] in "negpq" else 0)
        if (tight or breakers) and not trivial:
            assert found[name].raised_by == tuple(breakers) and found[name].tight == tight
        else:
            assert name not in found
    for b in found.values():  # a next value that breaks a limit is a mapping evaluate refuses
        for param in b.raised_by:
            assert check(layer, _next(mapping, param), hw)


def test_a_latency_bound_binds_when_the_next_value_is_slower(hw):
    bound = map_layer(CONV4, hw, "latency").cost.total_cycles  # the fastest: a bound that must bind
    bounded = map_layer(CONV4, hw, "energy", max_cycles=bound)
    latency = [b for b in binding_limits(CONV4, bounded.mapping, hw, max_cycles=bound) if b.name == "latency_bound"]
    assert latency and latency[0].used == bounded.cost.total_cycles == bound and latency[0].tight
    assert not [b for b in binding_limits(CONV4, bounded.mapping, hw, max_cycles=10 * bound) if b.name == "latency_bound"]
    for param in latency[0].raised_by:
        assert RowStationary(CONV4, hw).counts(variables(_next(bounded.mapping, param))).cycles.total > bound


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 55), st.integers(1, 16), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 8), st.integers(1, 12))
def test_cycle_parts_add_up_to_the_total(n, e, p, q, r, t, k):
    from cost_models.hardware import default_hardware

    hw = default_hardware()
    mapping = Mapping(n=n, e=e, p=p, q=q, r=r, t=t, g=1, m=min(k * p * t, CONV1.Mg))
    if check(CONV1, mapping, hw):
        return
    cost = evaluate(CONV1, mapping, hw)
    assert set(cost.cycle_parts) == set(CYCLE_PARTS)
    assert sum(cost.cycle_parts.values()) == cost.total_cycles and min(cost.cycle_parts.values()) >= 0
    assert cost.cycle_parts["compute"] == cost.compute_cycles


def test_cycle_parts_on_every_mapping_at_once(hw):
    """The same sum over arrays of mappings (the enumerator's numbers)."""
    model = RowStationary(CONV3, hw)
    grid = np.array(np.meshgrid([1, 2, 4], [13], [1, 4, 16], [1, 2, 4], [1, 2], [1, 2], [1], [1, 3])).reshape(8, -1)
    v = Vars(*[np.ascontiguousarray(row) for row in grid])
    cycles = model.counts(v).cycles
    assert np.array_equal(sum(cycles.parts.values()), cycles.total)


def test_alexnet_fc_layers_under_latency_say_what_limits_them():
    report = compile_model(ROOT / "examples" / "alexnet.onnx", batch=4, objective="latency", compare_spaces=False).report()
    fc = {layer["name"]: layer for layer in report["layers"] if layer["kind"] == "fc"}
    assert len(fc) == 3
    for layer in fc.values():
        bound = layer["lower_bound"]
        parts = layer["latency"]["parts"]
        assert sum(parts.values()) == layer["latency"]["total_cycles"]
        gap = bound["gap_parts"]
        assert sum(gap.values()) == bound["gap_cycles"] == layer["latency"]["total_cycles"] - bound["cycles"]
        assert bound["limited_by"] == max(gap, key=gap.get)
        if layer["name"] != "gemm3":  # gemm3's latency optimum is tied by mappings limited differently
            assert bound["limited_by"] in ("filter_dram", "streaming")  # the DRAM link or an operand bus, not compute
        if bound["limited_by"] == "streaming":
            streams = layer["latency"]["stream_cycles"]
            assert bound["slowest_stream"] == max(streams, key=streams.get)
            assert bound["slowest_stream"] in bound["limited_by_what"]
    assert fc["gemm1"]["lower_bound"]["limited_by"] == "filter_dram"  # 37.7 M filter words over the link


TINY = LayerShape(N=2, M=8, C=4, H=6, W=6, R=3, S=3)


def _every_mapping(layer: LayerShape, hw, objective: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Every mapping of the search space as arrays, whether it keeps every limit, and its objective."""
    from mapper.search.space import ranges

    bounds = ranges(layer, hw)
    axes = [np.arange(1, high + 1) for _, high in bounds.items()]
    grid = [np.ascontiguousarray(a.ravel()) for a in np.meshgrid(*axes, indexing="ij")]
    v = Vars(*grid)
    model = RowStationary(layer, hw)
    ok = np.ones(grid[0].shape, dtype=bool)
    for limit in model.limits(v):
        ok &= np.asarray(limit.lhs <= limit.rhs)
    values = dict(zip(VARIABLES, grid))
    values["m"] = np.minimum(values["m_per_pt"] * values["p"] * values["t"], layer.Mg)
    return values, ok, np.asarray(model.objective(v, objective))


@pytest.mark.parametrize("objective", ["energy", "latency"])
def test_runner_ups_are_the_best_without_each_value_and_their_gap_is_two_evaluates(hw, objective):
    from mapper.search.runner_ups import runner_ups

    best = map_layer(TINY, hw, objective)
    values, ok, score = _every_mapping(TINY, hw, objective)
    assert score[ok].min() == best.objective_value  # the enumeration sees the same optimum
    found = runner_ups(TINY, hw, best)
    assert [r.parameter for r in found] == list("nepqrtgm")
    for r in found:
        others = ok & (values[r.parameter] != r.excluded)
        if r.mapping is None:
            assert r.status == "INFEASIBLE" and not others.any()
            continue
        assert r.status == "OPTIMAL" and getattr(r.mapping, r.parameter) != r.excluded
        assert r.objective_value == score[others].min()  # proven: the best with another value
        gap = (evaluate(TINY, r.mapping, hw).objective_units[objective]
               - evaluate(TINY, best.mapping, hw).objective_units[objective])
        assert r.gain_over_optimum == gap >= 0


def test_explain_is_off_by_default_and_reported_when_asked(tmp_path):
    plain = compile_model(ROOT / "examples" / "lenet5.onnx").report()
    assert all(layer["runner_ups"] is None for layer in plain["layers"]) and plain["options"]["explain"] is False
    explained = compile_model(ROOT / "examples" / "lenet5.onnx", explain=True).report()
    for layer in explained["layers"]:
        assert [r["parameter"] for r in layer["runner_ups"]] == list("nepqrtgm")
        for r in layer["runner_ups"]:
            if r["mapping"] is not None:
                assert r["objective_value"] - layer["solver"]["objective_value"] == r["gain_over_optimum"] >= 0 and "gap" not in r


def test_batch_scan_side_by_side_is_the_scan_one_size_at_a_time(hw, monkeypatch):
    """The sizes solved side by side choose the batch and report the scan a one-size-at-a-time run does."""
    from mapper.search import parallel

    done = []
    together = compile_model(ROOT / "examples" / "lenet5.onnx", batch="auto", max_batch=4, compare_spaces=False,
                             on_batch=lambda batch, _: done.append(batch))
    assert done == [1, 2, 3, 4]  # reported in order, whichever finished first
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    alone = compile_model(ROOT / "examples" / "lenet5.onnx", batch="auto", max_batch=4, compare_spaces=False)
    assert together.batch_scan == alone.batch_scan and together.batch == alone.batch
    strip = lambda report: [{k: v for k, v in layer.items() if k != "solver"} for layer in report["layers"]]  # noqa: E731
    assert strip(together.report()) == strip(alone.report())


def test_a_binding_latency_bound_is_shown_in_ms(hw):
    from mapper.app.report_view import why_lines

    report = compile_model(ROOT / "examples" / "lenet5.onnx").report()
    entry = report["layers"][0]
    cycles, ms = entry["latency"]["total_cycles"], entry["latency"]["total_ms"]
    entry["binding_limits"] = [{"name": "latency_bound", "what": "latency bound: total cycles", "used": cycles,
                                "capacity": cycles, "tight": True, "raised_by": [], "kind": "hardware"}]
    line = why_lines(entry)[0].plain
    assert f"latency bound {ms:.6g} ms/{ms:.6g} ms full" in line and str(cycles) not in line


def test_compile_explain_prints_the_runner_ups_in_the_terminal():
    from rich.console import Console

    from mapper.app.report_view import network_summary

    report = compile_model(ROOT / "examples" / "lenet5.onnx", explain=True).report()
    console = Console(width=80, record=True, color_system=None)
    with console.capture() as capture:
        console.print(network_summary(report))
    out = capture.get()
    assert "runner-ups" in out and max(len(line) for line in out.splitlines()) <= 80
    first = report["layers"][0]
    shown = [r for r in first["runner_ups"] if r["mapping"] is not None][0]
    assert f"{shown['parameter']}={shown['mapping'][shown['parameter']]}" in out
