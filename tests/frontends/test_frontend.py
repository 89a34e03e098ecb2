"""The ONNX frontend on models built here with onnx's helper, and on the bundled examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cost_models.layer import LayerShape
from frontends import FrontendError, array_layers, host_ops, load_layer_weights, load_onnx, missing_weights_warning
from harness import Run, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def weight(name, shape, embedded=True, seed=0):
    if embedded:
        return numpy_helper.from_array(np.random.default_rng(seed).normal(size=shape).astype(np.float32), name)
    return vi(name, shape)


def conv_model(x_shape, w_shape, embedded=True, opset=17, **attrs) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)]
    w = weight("w", w_shape, embedded)
    inputs = [vi("x", x_shape)] + ([] if embedded else [w])
    return model(nodes, inputs, [vi("y", None)], [w] if embedded else [], opset)


@pytest.mark.parametrize("embedded", [True, False])
def test_conv_with_asymmetric_pads_dilation_and_groups(embedded):
    m = conv_model([2, 8, 20, 30], [12, 4, 3, 5], embedded, pads=[1, 2, 0, 3], dilations=[2, 1], strides=[1, 2],
                   group=2)
    ((name, layer),) = array_layers(load_onnx(m))
    assert layer == LayerShape(N=2, M=12, C=8, H=20, W=30, R=3, S=5, stride=(1, 2), pads=(1, 2, 0, 3),
                               dilation=(2, 1), groups=2)
    assert (layer.E, layer.F) == (17, 16)  # (20+1-4-1)//1+1, (30+5-5)//2+1
    assert layer.macs() == 2 * 12 * 4 * 3 * 5 * 17 * 16


def test_depthwise_and_1d_conv():
    ((_, dw),) = array_layers(load_onnx(conv_model([1, 32, 14, 14], [32, 1, 3, 3], pads=[1, 1, 1, 1], group=32)))
    assert dw.kind == "depthwise" and dw.groups == 32 and dw.macs() == 32 * 9 * 14 * 14
    ((_, c1),) = array_layers(load_onnx(conv_model([1, 16, 100], [24, 16, 7], pads=[3, 3], strides=[2])))
    assert (c1.H, c1.W, c1.R, c1.S, c1.E, c1.F) == (1, 100, 1, 7, 1, 50)
    assert c1.macs() == 24 * 16 * 7 * 50


def test_dynamic_batch_takes_batch_option_and_other_symbols_are_errors():
    m = conv_model(["batch", 3, 16, 16], [4, 3, 3, 3])
    assert array_layers(load_onnx(m, batch=5))[0][1] == LayerShape(N=5, M=4, C=3, H=16, W=16, R=3, S=3)
    assert array_layers(load_onnx(m))[0][1].macs() == 4 * 3 * 9 * 14 * 14  # default batch 1
    bad = conv_model(["batch", 3, "height", 16], [4, 3, 3, 3])
    with pytest.raises(FrontendError, match="dimension 2 of graph input 'x' is symbolic \\('height'\\)"):
        load_onnx(bad)


def test_bn_and_clip_fuse_into_the_conv_and_nothing_is_dropped():
    bn = [numpy_helper.from_array(np.full(4, v, np.float32), n) for n, v in
          (("s", 2.0), ("b", 0.0), ("mu", 0.0), ("var", 3.0))]
    lo, hi = numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi")
    w = weight("w", [4, 3, 3, 3])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"], ["n"], name="bn"),
             helper.make_node("Clip", ["n", "lo", "hi"], ["r"], name="relu6"),
             helper.make_node("GlobalAveragePool", ["r"], ["y"], name="gap")]
    m = model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)], [w, *bn, lo, hi])
    path = Path(__import__("tempfile").mkdtemp()) / "bn.onnx"
    onnx.save(m, path)
    g = load_onnx(path)
    data = g.nodes["conv"]
    assert data["layer"] == LayerShape(N=1, M=4, C=3, H=8, W=8, R=3, S=3) and data["layer"].macs() == 4 * 27 * 36
    assert data["relu"] and [op for _, op in data["fused"]] == ["BatchNormalization", "Clip"]
    assert host_ops(g) == [("gap", "GlobalAveragePool")]
    covered = {n for _, d in g.nodes(data=True) for n in d["onnx_nodes"]}
    assert covered == {"conv", "bn", "relu6", "gap"}
    folded = load_layer_weights(g, "conv")
    raw = numpy_helper.to_array(w).astype(np.float64)
    assert np.allclose(folded, raw * 2.0 / np.sqrt(3.0 + 1e-5))


def test_matmul_with_weight_is_fc_and_attention_is_batched():
    w = weight("w", [64, 32])
    fc = model([helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")], [vi("x", [2, 10, 64])],
               [vi("y", None)], [w])
    ((_, layer),) = array_layers(load_onnx(fc))
    assert (layer.kind, layer.N, layer.C, layer.M) == ("fc", 20, 64, 32)
    assert layer.macs() == 20 * 64 * 32
    att = model([helper.make_node("MatMul", ["q", "k"], ["y"], name="scores")],
                [vi("q", [1, 4, 10, 16]), vi("k", [1, 4, 16, 10])], [vi("y", None)])
    ((_, scores),) = array_layers(load_onnx(att))
    assert (scores.kind, scores.groups, scores.N, scores.C, scores.M) == ("matmul", 4, 10, 64, 40)
    assert scores.macs() == 4 * 10 * 16 * 10


def test_gemm_trans_b_and_legacy_shape_subgraph_folding():
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="gather"),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0, name="concat"),
             helper.make_node("Reshape", ["x", "target"], ["f"], name="reshape"),
             helper.make_node("Gemm", ["f", "w"], ["y"], transB=1, name="fc")]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array([0], np.int64), "axes"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1"), weight("w", [10, 48])]
    g = load_onnx(model(nodes, [vi("x", ["N", 3, 4, 4])], [vi("y", None)], inits), batch=3)
    ((_, layer),) = array_layers(g)
    assert (layer.N, layer.C, layer.M) == (3, 48, 10)
    assert sorted(g.graph["folded"]) == ["concat", "gather", "shape", "unsqueeze"]


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 2), p=st.integers(0, 2), g=st.sampled_from([1, 2]),
       h=st.integers(12, 24))
def test_lowered_output_size_matches_onnx_shape_inference(k, s, d, p, g, h):
    if p >= (k - 1) * d + 1:
        p = 0
    m = conv_model([1, 4, h, h + 3], [6, 4 // g, k, k], pads=[p] * 4, strides=[s, s], dilations=[d, d], group=g)
    inferred = onnx.shape_inference.infer_shapes(m).graph.output[0].type.tensor_type.shape.dim
    graph = load_onnx(m)
    ((name, array),) = array_layers(graph)
    transform = graph.nodes[name]["transform"]
    layer = array if transform is None else transform.conv  # a patch convolution's matrix product
    assert (layer.E, layer.F) == (inferred[2].dim_value, inferred[3].dim_value)
    assert array.macs() == layer.macs() == 6 * (4 // g) * k * k * layer.E * layer.F


def test_external_weights_are_not_loaded_and_escapes_are_refused(tmp_path):
    m = conv_model([1, 3, 8, 8], [4, 3, 3, 3])
    inside = tmp_path / "model"
    inside.mkdir()
    onnx.save(m, inside / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=0)
    assert array_layers(load_onnx(inside / "m.onnx"))[0][1].M == 4  # its size is checked, its bytes never read
    (inside / "w.bin").unlink()  # an architecture-only export: it maps from shapes, nothing runs
    shapes_only = load_onnx(inside / "m.onnx")
    assert shapes_only.graph["missing_weights"] == ("w.bin",)
    assert array_layers(shapes_only)[0][1].M == 4
    assert "'w.bin' is missing" in missing_weights_warning(shapes_only)
    with pytest.raises(FrontendError, match="initializer .* external data 'w.bin': no such file .*simulate and run"):
        load_layer_weights(shapes_only, array_layers(shapes_only)[0][0])
    (inside / "w.bin").write_bytes(b"0" * 432)
    # escapes, and names the OS cannot take (one check for every path a file names: cost_models.files)
    for location in ("../outside.bin", "/etc/passwd", "w\x00.bin", "w\x1b[2J.bin", "w" * 300 + ".bin",
                     "a/" * 2100 + "w.bin"):
        proto = onnx.load(inside / "m.onnx", load_external_data=False)
        for entry in proto.graph.initializer[0].external_data:
            if entry.key == "location":
                entry.value = location
        onnx.save(proto, inside / "evil.onnx")
        with pytest.raises(FrontendError, match="external data location"):
            load_onnx(inside / "evil.onnx")
    (tmp_path / "secret.bin").write_bytes(b"0" * 432)
    (inside / "link.bin").symlink_to(tmp_path / "secret.bin")
    proto = onnx.load(inside / "m.onnx", load_external_data=False)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "link.bin"
    onnx.save(proto, inside / "link.onnx")
    with pytest.raises(FrontendError, match="outside the model's folder"):
        load_onnx(inside / "link.onnx")


@pytest.mark.parametrize("opset", [11, 13, 18, onnx.defs.onnx_opset_version()])
def test_opsets(opset):
    assert array_layers(load_onnx(conv_model([1, 3, 8, 8], [4, 3, 3, 3], opset=opset)))[0][1].M == 4


def test_alexnet_inspect_json_matches_jssc_workload():
    out = run_cli(["inspect", str(EXAMPLES / "alexnet.onnx"), "--batch", "4", "--json"])
    assert out.code == 0, out.stderr
    data = json.loads(out.stdout)
    convs = [layer for layer in data["layers"] if layer["op"].startswith("Conv")]
    fcs = [layer for layer in data["layers"] if layer["op"] == "Gemm"]
    assert [layer["macs"] for layer in convs] == [421_660_800, 895_795_200, 598_081_536, 448_561_152, 299_040_768]
    assert len(fcs) == 3 and data["totals"]["layers"] == 8
    assert {"name", "op", "shape", "macs"} <= set(data["layers"][0])
    assert set(data["layers"][0]["shape"]) >= {"N", "M", "C", "H", "W", "R", "S", "E", "F", "stride", "groups"}
    assert {"LRN", "MaxPool", "Flatten", "Softmax"} <= {op["op"] for op in data["host_ops"]}


@pytest.mark.parametrize("file,layers", [("lenet5.onnx", 5), ("vgg16.onnx", 16), ("resnet18.onnx", 21),
                                         ("resnet50.onnx", 54), ("mobilenet_v2.onnx", 53)])
def test_examples_load(file, layers):
    g = load_onnx(EXAMPLES / file)
    assert len(array_layers(g)) == layers
    covered = [n for _, d in g.nodes(data=True) for n in d["onnx_nodes"]]
    proto = onnx.load(EXAMPLES / file)
    assert sorted(covered) == sorted(n.name for n in proto.graph.node)  # nothing dropped, nothing twice


def _cli(*args: str) -> Run:
    return run_cli(args)


def test_bad_inputs_give_one_error_line_and_exit_2(tmp_path):
    cases = {"missing": tmp_path / "nope.onnx", "not_onnx": tmp_path / "text.onnx", "truncated": tmp_path / "cut.onnx",
             "symbolic": tmp_path / "sym.onnx"}
    cases["not_onnx"].write_text("hello, I am not a model\n")
    cases["truncated"].write_bytes((EXAMPLES / "lenet5.onnx").read_bytes()[:5000])
    onnx.save(conv_model(["n", 3, "h", "w"], [4, 3, 3, 3]), cases["symbolic"])
    for name, path in cases.items():
        result = _cli("inspect", str(path))
        assert result.code == 2, name
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr and str(path) in result.stderr


def test_weight_inputs_listed_first_do_not_set_the_batch():
    """Weights-absent models declare weights as inputs, sometimes before the data input."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    fixed = model(nodes, [vi("w", [8, 3, 3, 3]), vi("x", [1, 3, 16, 16])], [vi("y", None)])
    graph = load_onnx(fixed, batch=1)
    assert graph.graph["batch"] == 1 and array_layers(graph)[0][1].N == 1
    dynamic = model(nodes, [vi("w", ["m", 3, 3, 3]), vi("x", ["n", 3, 16, 16])], [vi("y", None)])
    with pytest.raises(FrontendError):  # the weight's symbolic dim is not the batch: never bound to it
        load_onnx(dynamic, batch=4)
    dynamic = model(nodes, [vi("w", [8, 3, 3, 3]), vi("x", ["n", 3, 16, 16])], [vi("y", None)])
    ((_, layer),) = array_layers(load_onnx(dynamic, batch=4))
    assert (layer.N, layer.M) == (4, 8)


def _scalar(name, value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def test_qlinearconv_is_an_array_layer():
    w = numpy_helper.from_array(np.ones((16, 8, 3, 3), np.int8), "w")
    inits = [w, _scalar("xs", 0.1, np.float32), _scalar("xz", 0, np.uint8), _scalar("ws", 0.05, np.float32),
             _scalar("wz", 0, np.int8), _scalar("ys", 0.2, np.float32), _scalar("yz", 0, np.uint8)]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], name="qconv",
                            pads=[1, 1, 1, 1], strides=[2, 2])
    m = model([node], [vi("x", [1, 8, 32, 32], TensorProto.UINT8)], [vi("y", None, TensorProto.UINT8)], inits)
    ((name, layer),) = array_layers(load_onnx(m))
    assert name == "qconv"
    assert layer == LayerShape(N=1, M=16, C=8, H=32, W=32, R=3, S=3, stride=(2, 2), pads=(1, 1, 1, 1))
    assert layer.macs() == 16 * 8 * 9 * 16 * 16


def test_convinteger_is_an_array_layer():
    w = numpy_helper.from_array(np.ones((4, 2, 5, 5), np.uint8), "w")
    node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], name="iconv", group=2)
    inits = [w, _scalar("xz", 0, np.uint8), _scalar("wz", 0, np.uint8)]
    m = model([node], [vi("x", [2, 4, 12, 12], TensorProto.UINT8)], [vi("y", None, TensorProto.INT32)], inits)
    ((_, layer),) = array_layers(load_onnx(m))
    assert layer == LayerShape(N=2, M=4, C=4, H=12, W=12, R=5, S=5, groups=2)
    assert layer.macs() == 2 * 4 * 2 * 25 * 8 * 8


def test_qdq_conv_is_an_array_layer_and_quantize_nodes_are_covered():
    """QDQ format (onnxruntime's quantizer, torch's exporters of quantized models): Q/DQ around a float Conv."""
    w = numpy_helper.from_array(np.ones((6, 3, 3, 3), np.int8), "wq")
    inits = [w, _scalar("s", 0.1, np.float32), _scalar("z", 0, np.int8), _scalar("ws", 0.02, np.float32)]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq_in"),
             helper.make_node("DequantizeLinear", ["wq", "ws", "z"], ["wd"], name="dq_w"),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("QuantizeLinear", ["r", "s", "z"], ["y"], name="q_out")]
    m = model(nodes, [vi("x", [1, 3, 10, 10])], [vi("y", None, TensorProto.INT8)], inits)
    g = load_onnx(m)
    ((name, layer),) = array_layers(g)
    assert layer == LayerShape(N=1, M=6, C=3, H=10, W=10, R=3, S=3, pads=(1, 1, 1, 1))
    assert g.nodes[name]["relu"]
    covered = {n for _, d in g.nodes(data=True) for n in d["onnx_nodes"]}
    assert covered == {"q_in", "dq_in", "dq_w", "conv", "relu", "q_out"}  # nothing silently dropped


def test_clip_with_a_nonzero_floor_is_not_the_relu_module():
    lo, hi = numpy_helper.from_array(np.array(0.5, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="clip")]
    g = load_onnx(model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)], [weight("w", [4, 3, 3, 3]), lo, hi]))
    assert not g.nodes["conv"].get("relu")
    assert ("clip", "Clip") in host_ops(g)
