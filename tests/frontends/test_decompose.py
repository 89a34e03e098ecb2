"""ConvTranspose phases and patch convolutions: exact rewrites, checked against onnx's reference evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from frontends import FrontendError, array_layers, load_layer_weights, load_node_weights, load_onnx
from frontends.decompose import onnx_reference
from mapper.chip.simulator import reference


def _model(op: str, x_shape, w_shape, seed=0, name="", **attrs) -> onnx.ModelProto:
    w = np.random.default_rng(seed).integers(-4, 5, w_shape).astype(np.float32)
    node = helper.make_node(op, ["x", "w"], ["y"], name=name, **attrs)
    graph = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weights(m: onnx.ModelProto) -> np.ndarray:
    """The model's weight as int64, 1-D widened to height 1 (the node's layout, as load_node_weights gives it)."""
    w = numpy_helper.to_array(m.graph.initializer[0]).astype(np.int64)
    return w[:, :, None] if w.ndim == 3 else w


def _recombined(graph, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Every part computed as the plain convolution it is lowered to, then put back in place."""
    layers = array_layers(graph)
    source = graph.nodes[layers[0][0]]["transform"].source
    y = np.zeros(source.output_shape, dtype=np.int64)
    for name, layer in layers:
        part = graph.nodes[name]["transform"]
        part.place(y, reference(layer, part.weights(w), part.ifmap(x)))
    return y


def _axis_macs(size: int, k: int, s: int, d: int, pad: int, out: int) -> tuple[int, int]:
    """(array MACs, real products) along one axis of a transposed convolution, by enumeration.

    Array MACs: per phase (outputs of one residue mod s), every output from the first to the last
    that some input reaches costs every tap of the phase, as a dense padded convolution does.
    """
    macs = real = 0
    for residue in range(s):
        taps = [t for t in range(k) if (residue + pad - t * d) % s == 0]
        reached = []
        for o in range(residue, out, s):
            inside = [t for t in taps if 0 <= (o + pad - t * d) // s < size]
            real += len(inside)
            if inside:
                reached.append(o)
        if reached:
            macs += ((reached[-1] - reached[0]) // s + 1) * len(taps)
    return macs, real


def _deconv_attrs(k, s, d, pads, out_pad, g, spatial):
    return {"strides": [s] * spatial, "dilations": [d] * spatial, "pads": pads, "group": g,
            "output_padding": [out_pad] * spatial}


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 6), k=st.integers(1, 5), s=st.integers(1, 4), d=st.integers(1, 2), g=st.sampled_from([1, 2]),
       pads=st.lists(st.integers(0, 3), min_size=4, max_size=4), out_pad=st.integers(0, 3),
       spatial=st.sampled_from([1, 2]), seed=st.integers(0, 2**16))
def test_transposed_phases_recombine_to_onnx_reference(h, k, s, d, g, pads, out_pad, spatial, seed):
    out_pad = out_pad % s  # < stride: what every exporter writes (onnx's evaluator refuses the rest)
    pads = pads[:2] if spatial == 1 else pads
    out = [s * (h - 1 + i) + out_pad + (k - 1) * d + 1 - pads[i] - pads[i + spatial] for i in range(spatial)]
    if min(out) < 1:
        return
    C, Mg = 2 * g, 3
    x_shape, w_shape = [1, C] + [h, h + 1][:spatial], [C, Mg] + [k, k][:spatial]
    m = _model("ConvTranspose", x_shape, w_shape, seed, **_deconv_attrs(k, s, d, pads, out_pad, g, spatial))
    per_axis = [_axis_macs(size, k, s, d, pads[i], out[i]) for i, size in enumerate(x_shape[2:])]
    if not all(macs for macs, _ in per_axis):  # the padding crops every product away: an all-zero layer
        with pytest.raises(FrontendError, match="crops away every product"):
            load_onnx(m)
        return
    graph = load_onnx(m)
    layers = array_layers(graph)
    assert 1 <= len(layers) <= s ** spatial and all(layer.stride == (1, 1) for _, layer in layers)
    source = graph.nodes[layers[0][0]]["transform"].source
    rng = np.random.default_rng(seed)
    x = rng.integers(-100, 100, source.ifmap_shape)
    w = _weights(m)
    assert np.array_equal(_recombined(graph, x, w), source.reference(x, w))
    # MACs, counted by brute force: each output pixel that any input reaches costs every tap of its phase
    # (a tap reading past the input edge reads padding, as any padded convolution's does); real products
    # (input pixel x tap landing inside the output) are never more.
    assert sum(layer.macs() for _, layer in layers) == C * Mg * np.prod([a for a, _ in per_axis])
    assert C * Mg * np.prod([r for _, r in per_axis]) <= sum(layer.macs() for _, layer in layers)


def test_transposed_costs_the_layers_macs_not_stride_squared():
    # The example: 16 -> 8 channels, 4x4 kernel, stride 2 on 32x32: 2.10 M MACs (torch's count,
    # N * C * M/g * K*K * H*W), where a zero-inserted input costs 4x (8.39 M).
    graph = load_onnx(_model("ConvTranspose", [1, 16, 32, 32], [16, 8, 4, 4], strides=[2, 2], pads=[1, 1, 1, 1]))
    layers = array_layers(graph)
    assert sum(layer.macs() for _, layer in layers) == 16 * 8 * 4 * 4 * 32 * 32 == 2_097_152
    assert [(layer.R, layer.S, layer.E, layer.F) for _, layer in layers] == [(2, 2, 32, 32)] * 4
    assert {graph.nodes[name]["onnx_node"] for name, _ in layers} == {"ConvTranspose_0"}
    assert [graph.nodes[name]["part"] for name, _ in layers] == [f"phase {i},{j} of 4" for i in (0, 1) for j in (0, 1)]


def test_transposed_kernel_smaller_than_stride_leaves_phases_empty():
    m = _model("ConvTranspose", [1, 4, 5, 5], [4, 2, 2, 2], strides=[3, 3])
    graph = load_onnx(m)
    layers = array_layers(graph)
    assert len(layers) == 4  # residues 0 and 1 of 3 on each axis; residue 2 only ever gets zeros
    x = np.random.default_rng(1).integers(-9, 9, (1, 4, 5, 5))
    w = _weights(m)
    y = _recombined(graph, x, w)
    assert np.array_equal(y, graph.nodes[layers[0][0]]["transform"].source.reference(x, w))
    assert not y[:, :, 2::3].any() and sum(layer.macs() for _, layer in layers) == 4 * 2 * 4 * 25


@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_transposed_output_shape_and_auto_pad(auto_pad):
    attrs = {"strides": [2, 2], "output_shape": [10, 11]}
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    m = _model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], **attrs)
    graph = load_onnx(m)
    source = graph.nodes[array_layers(graph)[0][0]]["transform"].source
    assert source.output_shape == (1, 3, 10, 11)
    # full output 11 x 11: the one row of padding goes at the end for SAME_UPPER, at the start otherwise.
    assert source.pads == ((0, 0, 1, 0) if auto_pad == "SAME_UPPER" else (1, 0, 0, 0))
    x = np.random.default_rng(2).integers(-9, 9, (1, 2, 5, 5))
    w = _weights(m)
    assert np.array_equal(_recombined(graph, x, w), source.reference(x, w))
    explicit = {"strides": [2, 2], "pads": list(source.pads[:2]) + list(source.pads[2:])}
    assert np.array_equal(source.reference(x, w), onnx_reference("ConvTranspose", explicit, x, w, 2))


def test_transposed_auto_pad_same_without_output_shape():
    m = _model("ConvTranspose", [1, 2, 4, 4], [2, 2, 3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    graph = load_onnx(m)
    source = graph.nodes[array_layers(graph)[0][0]]["transform"].source
    assert source.output_shape == (1, 2, 8, 8)
    x = np.random.default_rng(3).integers(-9, 9, (1, 2, 4, 4))
    w = _weights(m)
    assert np.array_equal(_recombined(graph, x, w), source.reference(x, w))


def test_contradictory_output_shape_is_one_clear_error():
    with pytest.raises(FrontendError, match="output_shape \\[12, 12\\] is larger than the full transposed output"):
        load_onnx(_model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], name="up", strides=[2, 2],
                         output_shape=[12, 12]))
    with pytest.raises(FrontendError, match="output_shape \\[10\\] must give 2 positive spatial sizes"):
        load_onnx(_model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_shape=[10]))
    with pytest.raises(FrontendError, match="output_padding \\[2, 2\\] must be"):
        load_onnx(_model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_padding=[2, 2]))


@pytest.mark.parametrize("patch,size,channels", [(16, 32, 3), (8, 24, 4)])
def test_patch_convolution_is_a_matrix_product_over_patches(patch, size, channels, tmp_path):
    # ViT's 16 x 16 patch embedding and the stride-8 case: beyond the chip's strides as convolutions.
    m = _model("Conv", [2, channels, size, size], [5, channels, patch, patch], strides=[patch, patch])
    onnx.save(m, tmp_path / "patches.onnx")
    graph = load_onnx(tmp_path / "patches.onnx")
    ((name, layer),) = array_layers(graph)
    patches = (size // patch) ** 2
    assert (layer.kind, layer.N, layer.C, layer.M, layer.R, layer.stride) == (
        "fc", 2 * patches, channels * patch * patch, 5, 1, (1, 1))
    assert layer.macs() == 2 * 5 * channels * patch * patch * patches  # N * M * C*R*S * E*F
    transform = graph.nodes[name]["transform"]
    x = np.random.default_rng(4).integers(-50, 50, (2, channels, size, size))
    w = load_node_weights(graph, name).astype(np.int64)
    y = np.zeros(transform.output_shape, dtype=np.int64)
    transform.place(y, reference(layer, transform.weights(w), transform.ifmap(x)))
    assert np.array_equal(y, transform.reference(x, w))
    assert np.array_equal(load_layer_weights(graph, name), transform.weights(load_node_weights(graph, name)))


def test_overlapping_or_padded_strided_conv_stays_a_convolution():
    for attrs in ({"strides": [2, 2]}, {"strides": [4, 4], "pads": [1, 1, 1, 1]}):
        graph = load_onnx(_model("Conv", [1, 3, 16, 16], [4, 3, 4, 4], **attrs))
        ((name, layer),) = array_layers(graph)
        assert layer.kind == "conv" and graph.nodes[name]["transform"] is None


def test_batchnorm_of_unnamed_nodes_is_folded(tmp_path: Path):
    # graph.py names unnamed nodes in its working copy; the weights path must not look them up by that name.
    rng = np.random.default_rng(5)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    gamma, beta, mean = (rng.normal(size=4).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    bn = [numpy_helper.from_array(v, n) for v, n in ((gamma, "s"), (beta, "b"), (mean, "mu"), (var, "var"))]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"], ["y"], epsilon=1e-3)]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, *bn])
    path = tmp_path / "unnamed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    g = load_onnx(path)
    ((name, _),) = array_layers(g)
    expected = numpy_helper.to_array(w) * (gamma / np.sqrt(var + np.float32(1e-3)))[:, None, None, None]
    assert np.allclose(load_layer_weights(g, name), expected, rtol=1e-6)
    assert not np.allclose(load_layer_weights(g, name), numpy_helper.to_array(w))


@pytest.mark.parametrize("k,s", [(2, 2), (4, 2), (6, 2), (3, 1), (3, 3), (4, 4), (5, 1), (8, 4)])
def test_transposed_macs_equal_torchs_count_for_the_usual_padding(k, s):
    # torch counts N * C * M/g * K*K * H*W for a transposed convolution; with pads (K - S) / 2 the phases
    # compute exactly that, on every input size.
    for h in (3, 8):
        graph = load_onnx(_model("ConvTranspose", [1, 2, h, h + 1], [2, 3, k, k], strides=[s, s],
                                 pads=[(k - s) // 2] * 4))
        assert sum(layer.macs() for _, layer in array_layers(graph)) == 2 * 3 * k * k * h * (h + 1)


def test_batchnorm_folds_into_grouped_transposed_weights_per_output_channel(tmp_path: Path):
    rng = np.random.default_rng(6)
    C, Mg, g = 4, 3, 2
    w = rng.normal(size=(C, Mg, 3, 3)).astype(np.float32)
    gamma, var = rng.normal(size=Mg * g).astype(np.float32), rng.uniform(0.5, 2, Mg * g).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")] + [numpy_helper.from_array(v, n) for v, n in (
        (gamma, "s"), (np.zeros(6, np.float32), "b"), (np.zeros(6, np.float32), "mu"), (var, "var"))]
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["u"], strides=[2, 2], group=g),
             helper.make_node("BatchNormalization", ["u", "s", "b", "mu", "var"], ["y"])]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "bn.onnx")
    g_ = load_onnx(tmp_path / "bn.onnx")
    name = array_layers(g_)[0][0]
    source = g_.nodes[name]["transform"].source
    x = rng.normal(size=(1, C, 4, 4))
    factor = gamma / np.sqrt(var + np.float32(1e-5))
    folded = source.reference(x * 1e6, load_node_weights(g_, name) * 1e6) / 1e12  # the evaluator rounds to ints
    assert np.allclose(folded, source.reference(x * 1e6, w * 1e6) / 1e12 * factor[None, :, None, None], atol=1e-5)
