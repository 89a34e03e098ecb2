"""The functional simulator: bit-exact ofmaps, the cost model's access counts, and a check that can fail.

Every count the simulator makes (DRAM, buffer, array, spads, MACs) must equal
the cost model's for the same mapping, including the work the fixed IDs cause
in idle PEs (docs/bitstream.md, "What the fixed IDs cost"); ``matched`` requires it.
"""

from __future__ import annotations

import dataclasses
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_models.hardware import default_hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from mapper.chip import simulator
from mapper.chip.bitstream import HEADER, config_for, decode, encode, layout
from mapper.app.cli import main
from mapper.chip.simulator import (
    check_config, choose_shift, quantize_weights, random_operands, reference, saturate, simulate,
)
from test_allocation import PUBLISHED, layer_and_mapping  # tests/mapper/chip is on sys.path (prepend import mode)

HW = default_hardware()
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def ceil(a: int, b: int) -> int:
    return -(-a // b)


def assert_counts(check) -> None:
    """Every simulated count (DRAM, buffer, array, spads, MACs) equals the cost model's."""
    assert check.count_deltas == {}, check.count_deltas


def run_check(layer: LayerShape, mapping: Mapping, seed: int = 0, bits: int = 16):
    weights, ifmap = random_operands(layer, seed, bits)
    shift = choose_shift(reference(layer, weights, ifmap))
    config = decode(encode(config_for(layer, mapping, HW, shift), HW), HW).config
    return check_config(config, HW, weights, ifmap)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_alexnet_and_depthwise_bit_exact(name: str) -> None:
    """Full-size AlexNet layers at N = 1 (CONV1 at N = 2: two strips-of-batch blocks)."""
    layer, mapping = PUBLISHED[name]
    layer = layer.with_batch(2 if name == "conv1" else 1)
    mapping = dataclasses.replace(mapping, n=min(mapping.n, layer.N))
    check = run_check(layer, mapping)
    assert check.matched, check.faults
    assert_counts(check)


def test_full_alexnet_layer_is_fast() -> None:
    layer, mapping = PUBLISHED["conv3"]
    layer = layer.with_batch(4)
    weights, ifmap = random_operands(layer, 1)
    config = config_for(layer, mapping, HW, 20)
    start = time.process_time()  # this process's CPU time: what a saturated machine's other jobs do not inflate
    result = simulate(config, HW, weights, ifmap)
    assert time.process_time() - start < 10.0
    assert result.macs == layer.macs()


def test_lenet5_every_layer() -> None:
    from frontends import array_layers, load_layer_weights, load_onnx
    from mapper.search.cpsat import map_layer

    graph = load_onnx(EXAMPLES / "lenet5.onnx", batch=2)
    layers = array_layers(graph)
    assert len(layers) == 5
    for index, (name, layer) in enumerate(layers):
        mapping = map_layer(layer, HW, time_limit=5).mapping
        weights, ifmap = random_operands(layer, index)
        weights = quantize_weights(load_layer_weights(graph, name))  # the trained weights, not random ones
        shift = choose_shift(reference(layer, weights, ifmap))
        check = check_config(config_for(layer, mapping, HW, shift), HW, weights, ifmap)
        assert check.matched, (name, check.faults)
        assert_counts(check)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layer_and_mapping(), st.integers(0, 2**16), st.sampled_from((8, 16)))
def test_random_layers_bit_exact_and_counted(case: tuple[LayerShape, Mapping], seed: int, bits: int) -> None:
    layer, mapping = case
    check = run_check(layer, mapping, seed, bits)
    assert check.matched, check.faults
    assert_counts(check)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layer_and_mapping(), st.integers(0, 2**16))
def test_energy_is_the_simulated_accesses_priced(case: tuple[LayerShape, Mapping], seed: int) -> None:
    """The cost model's energy, level by level, is what the simulator's own access counts cost at the
    hardware's per-access prices (dense data: no zero gating, no compression).

    The counts come from running the configured array, not from the model's formulas, so this checks
    the model's energy against an independent count instead of restating it.
    """
    from cost_models.cost import evaluate

    layer, mapping = case
    check = run_check(layer, mapping, seed)
    counted = check.accesses  # what the simulated array moved
    cost = evaluate(layer, mapping, HW)
    price = {"dram": HW.energy_dram, "glb": HW.energy_glb, "array": HW.energy_array, "rf": HW.energy_rf}
    for level, unit in price.items():
        assert cost.energy_units[level] == unit * counted.level(level).total
    for dt in ("ifmap", "filter", "psum"):
        assert cost.energy_units_by_type[dt] == sum(unit * counted.level(level).of(dt) for level, unit in price.items())
    assert cost.energy_units["mac"] == cost.energy_units_by_type["mac"] == HW.energy_mac * check.macs
    assert check.macs == layer.macs() + cost.idle_macs
    # Static energy is per cycle; the simulator does not time, so cycles are the model's.
    assert cost.energy_units["static"] == HW.energy_static_per_cycle * cost.total_cycles
    assert cost.energy_total_units == sum(cost.energy_units_by_type.values())


def test_truncation_rule() -> None:
    acc = np.array([-(2**40), -5, -1, 0, 1, 5, 2**20 - 1, 2**40], dtype=np.int64)
    assert saturate(acc, 4).tolist() == [-32768, -1, -1, 0, 0, 0, 32767, 32767]
    assert saturate(acc, 0).tolist() == [-32768, -5, -1, 0, 1, 5, 32767, 32767]


# ------------------------------------------------------------ the check can fail
CORRUPT_LAYER = LayerShape(1, 8, 6, 8, 9, 3, 3)
CORRUPT_MAPPING = Mapping(1, 6, 2, 2, 2, 2, 1, 4)  # CB = 2: the psum GIN is used; t = 2 stacks, r = 2 sets


def _flip(data: bytes, bit: int) -> bytes:
    """Flip one payload bit and re-seal the CRC: the file decodes, only its content is wrong."""
    body = bytearray(data[HEADER.size:])
    body[bit // 8] ^= 0x80 >> (bit % 8)
    crc = zlib.crc32(data[:16] + bytes(body))
    return data[:16] + struct.pack(">I", crc) + bytes(body)


def _offsets() -> dict[str, int]:
    out, at = {}, 0
    for field in layout(HW):
        out[field.name] = at
        at += field.bits
    return out


def _corrupt_fields() -> list[tuple[str, int]]:
    """One field per network and per PE bit, each on a PE or X-bus the layer uses, with each bit position."""
    config = config_for(CORRUPT_LAYER, CORRUPT_MAPPING, HW)
    active = [(y, x) for y in range(HW.rows) for x in range(HW.cols) if config.active[y][x]]
    y0, x0 = active[len(active) // 2]
    bottom = next((y, x) for y, x in active if not config.psum_from_ln[y][x])
    top = next((y, x) for y, x in active if y == 0)
    fields = [(f"filter.row_id[{y0}]", b) for b in range(HW.row_id_bits)]
    fields += [(f"filter.col_id[{y0}][{x0}]", b) for b in range(HW.col_id("filter"))]
    fields += [(f"ifmap.row_id[{y0}]", b) for b in range(HW.row_id_bits)]
    fields += [(f"ifmap.col_id[{y0}][{x0}]", b) for b in range(HW.col_id("ifmap"))]
    fields += [(f"psum.row_id[{bottom[0]}]", b) for b in range(HW.row_id_bits)]
    fields += [(f"psum.col_id[{bottom[0]}][{bottom[1]}]", b) for b in range(HW.col_id("psum"))]
    fields += [(f"output.row_id[{top[0]}]", b) for b in range(HW.row_id_bits)]
    fields += [(f"output.col_id[{top[0]}][{top[1]}]", b) for b in range(HW.col_id("output"))]
    fields += [(f"pe.psum_from_ln[{y0}][{x0}]", 0), (f"pe.psum_from_ln[{bottom[0]}][{bottom[1]}]", 0),
               (f"pe.active[{y0}][{x0}]", 0)]
    return fields


def test_uncorrupted_config_passes() -> None:
    weights, ifmap = random_operands(CORRUPT_LAYER, 5)
    config = config_for(CORRUPT_LAYER, CORRUPT_MAPPING, HW, 10)
    assert check_config(config, HW, weights, ifmap).matched


@pytest.mark.parametrize("field, bit", _corrupt_fields())
def test_one_flipped_bit_fails_the_check(field: str, bit: int) -> None:
    weights, ifmap = random_operands(CORRUPT_LAYER, 5)
    config = config_for(CORRUPT_LAYER, CORRUPT_MAPPING, HW, 10)
    width = next(f.bits for f in layout(HW) if f.name == field)
    corrupted = decode(_flip(encode(config, HW), _offsets()[field] + width - 1 - bit), HW).config
    assert corrupted != config
    assert not check_config(corrupted, HW, weights, ifmap).matched


def test_other_hardware() -> None:
    """ID widths and array size follow the hardware file: an 8 x 10 array with 4-bit ifmap col IDs."""
    import random

    from cost_models.cost import check
    from cost_models.hardware import hardware_from_dict

    data = dict(HW.as_dict())
    data["array"] = {"rows": 8, "cols": 10}
    data["noc"] = {**data["noc"], "col_id_bits": {**data["noc"]["col_id_bits"], "ifmap": 4}}
    hw = hardware_from_dict(data)
    rng = random.Random(7)
    done = 0
    while done < 30:
        R, S, U, Cg, Mg, G = rng.randint(1, 4), rng.randint(1, 4), rng.choice((1, 2, 4)), rng.randint(1, 5), \
            rng.randint(1, 7), rng.choice((1, 2))
        layer = LayerShape(rng.randint(1, 2), Mg * G, Cg * G, rng.randint(R, R + 25), rng.randint(S, S + 8), R, S,
                           stride=(U, 1), groups=G)
        p, q = rng.randint(1, Mg), rng.randint(1, Cg)
        t = rng.randint(1, ceil(Mg, p))
        g, r = 1 if t > 1 else rng.randint(1, G), rng.randint(1, ceil(Cg, q))
        mapping = Mapping(rng.randint(1, layer.N), rng.randint(1, layer.E), p, q, r, t, g,
                          min(p * t * rng.randint(1, 2), Mg))
        if check(layer, mapping, hw):
            continue
        weights, ifmap = random_operands(layer, done)
        config = decode(encode(config_for(layer, mapping, hw, 12), hw), hw).config
        assert check_config(config, hw, weights, ifmap).matched, (layer, mapping)
        done += 1


def test_simulate_cli(capsys) -> None:
    path = EXAMPLES / "lenet5.onnx"
    assert main(["simulate", str(path), "--time-limit", "5", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["matched"] and len(data["layers"]) == 5
    assert main(["simulate", str(path), "--layer", "nope"]) == 2


def test_simulate_cli_recombines_rewritten_nodes_bit_exact(tmp_path, capsys) -> None:
    """ConvTranspose phases and a patch convolution's matrix: each part simulated, then put back together and
    compared with onnx's reference evaluator on the whole node (docs/bitstream.md section 6)."""
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    nodes = [helper.make_node("ConvTranspose", ["x", "wt"], ["u"], strides=[2, 2], pads=[1, 1, 1, 1],
                              output_padding=[1, 1]),
             helper.make_node("Relu", ["u"], ["r"]),
             helper.make_node("Conv", ["r", "wp"], ["y"], strides=[4, 4])]
    inits = [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "wt"),
             numpy_helper.from_array(rng.normal(size=(5, 3, 4, 4)).astype(np.float32), "wp")]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "rewrites.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert main(["simulate", str(path), "--time-limit", "5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [row["name"] for row in data["layers"]]
    assert names == [f"ConvTranspose_0/phase{i}{j}" for i in (0, 1) for j in (0, 1)] + ["Conv_2"]
    assert data["matched"] and all(row["recombined"] and row["weights"] == "model" for row in data["layers"])
    # 12 x 12 output of the deconvolution: real MACs 4*3*9*36, none on inserted zeros.
    assert sum(row["macs"] for row in data["layers"][:4]) == 4 * 3 * 9 * 6 * 6
    assert main(["simulate", str(path), "--time-limit", "5", "--layer", "ConvTranspose_0"]) == 0
    assert capsys.readouterr().out.count("match") == 4


def test_simulate_cli_fails_when_phases_recombine_wrong(tmp_path, capsys, monkeypatch) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from frontends.decompose import Phase

    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2])
    w = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    graph = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "up.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    place = Phase.place
    monkeypatch.setattr(Phase, "place", lambda self, y, out: place(self, y, out) if self.index != (1, 0) else None)
    assert main(["simulate", str(path), "--time-limit", "5"]) == 1
    assert "recombined output differs" in capsys.readouterr().out


def _naive_convolution(layer: LayerShape, weights: np.ndarray, ifmap: np.ndarray) -> np.ndarray:
    """The convolution's definition, one output value at a time in Python integers."""
    L = layer
    top, left = L.pads[0], L.pads[1]
    out = np.zeros((ifmap.shape[0], L.M, L.E, L.F), dtype=object)
    for n, m, e, f in np.ndindex(*out.shape):
        gi = m // L.Mg
        total = 0
        for c, r, s in np.ndindex(L.Cg, L.R, L.S):
            h = e * L.stride[0] + r * L.dilation[0] - top
            w = f * L.stride[1] + s * L.dilation[1] - left
            if 0 <= h < L.H and 0 <= w < L.W:
                total += int(weights[m, c, r, s]) * int(ifmap[n, gi * L.Cg + c, h, w])
        out[n, m, e, f] = total
    return out


@st.composite
def _small_layers(draw) -> LayerShape:
    groups, R, S = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    extent = ((R - 1) * dilation[0] + 1, (S - 1) * dilation[1] + 1)
    pads = (draw(st.integers(0, extent[0] - 1)), draw(st.integers(0, extent[1] - 1)),
            draw(st.integers(0, extent[0] - 1)), draw(st.integers(0, extent[1] - 1)))
    H = draw(st.integers(max(1, extent[0] - pads[0] - pads[2]), 7))
    W = draw(st.integers(max(1, extent[1] - pads[1] - pads[3]), 7))
    return LayerShape(N=draw(st.integers(1, 2)), C=groups * draw(st.integers(1, 3)), H=H, W=W,
                      M=groups * draw(st.integers(1, 3)), R=R, S=S, groups=groups,
                      stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), pads=pads, dilation=dilation)


@settings(max_examples=150, deadline=None)
@given(_small_layers(), st.integers(0, 2**16), st.sampled_from((4, 16, 28)), st.integers(1, 3),
       st.sampled_from((1, 8, simulator.REFERENCE_SLICE)))
def test_the_reference_convolution_is_the_definition(layer: LayerShape, seed: int, bits: int, images: int,
                                                     widened: int) -> None:
    """Every kind of convolution, 16-bit operands (the float64 path) and 28-bit ones (the int64 path: sums may
    pass 2**53, never 2**63), an ifmap of another number of images than the layer's N (calibration samples go
    through at once), and the filters widened whole or in slices of one or a few."""
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1)
    weights = rng.integers(lo, hi, (layer.M, layer.Cg, layer.R, layer.S), dtype=np.int64)
    ifmap = rng.integers(lo, hi, (images, layer.C, layer.H, layer.W), dtype=np.int64)
    if bits == 16:
        weights, ifmap = weights.astype(np.int16), ifmap.astype(np.int16)
    default, simulator.REFERENCE_SLICE = simulator.REFERENCE_SLICE, widened
    try:
        got = reference(layer, weights, ifmap)
    finally:
        simulator.REFERENCE_SLICE = default
    assert got.dtype == np.int64 and got.shape == (images, layer.M, layer.E, layer.F)
    assert np.array_equal(got.astype(object), _naive_convolution(layer, weights, ifmap))
