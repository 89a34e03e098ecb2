"""onnxruntime's QOperator models, detectors with a data-dependent tail, and errors that name the real cause."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from frontends import FrontendError, array_layers, host_ops, load_onnx
from frontends.contrib import infer_with_contrib
from frontends.host import DYNAMIC, ELEMENTWISE
from frontends.shapes import static_shapes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "qoperator"))
from make import quantize  # noqa: E402  (the fixture's generator, also a script)


def _int(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _weight(name: str, shape, seed: int = 0) -> onnx.TensorProto:
    return numpy_helper.from_array(np.random.default_rng(seed).normal(size=shape).astype(np.float32), name)


def _model(nodes, inputs, outputs, inits=(), opset=18, extra=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra])


# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_quantized_and_dynamic")


@pytest.fixture(scope="module")
def qoperator_mobilenet(tmp_path_factory) -> Path:
    return quantize(ROOT / "examples" / "mobilenet_v2.onnx", tmp_path_factory.mktemp("q") / "mobilenet_v2_q.onnx")


def test_qoperator_mobilenet_v2_compiles_with_qgemm_on_the_array(qoperator_mobilenet):
    from mapper import compile_model

    proto = onnx.load(qoperator_mobilenet, load_external_data=False)
    contrib = {n.op_type for n in proto.graph.node if n.domain == "com.microsoft"}
    assert {"QLinearAdd", "QGemm"} <= contrib  # what onnxruntime's QOperator quantizer writes
    graph = load_onnx(qoperator_mobilenet)
    floating = load_onnx(ROOT / "examples" / "mobilenet_v2.onnx")
    layers = array_layers(graph)
    assert [layer for _, layer in layers] == [layer for _, layer in array_layers(floating)]
    assert graph.nodes[layers[-1][0]]["onnx_op"] == "QGemm" and layers[-1][1].kind == "fc"
    adds = [name for name, op in host_ops(graph) if op == "QLinearAdd"]
    assert len(adds) == 10 and {graph.nodes[n]["reason"] for n in adds} == {ELEMENTWISE}
    result = compile_model(qoperator_mobilenet, time_limit=20, compare_spaces=False)
    assert not result.unmapped and len(result.layers) == 53
    assert result.totals.macs == sum(layer.macs() for _, layer in array_layers(floating))


def _contrib(op: str, inputs: list[str], shapes: dict, **attrs) -> tuple[int, ...] | None:
    """The output shape the table gives one com.microsoft node, its data inputs of ``shapes``."""
    values = [helper.make_tensor_value_info(name, TensorProto.UINT8, shape) for name, shape in shapes.items()]
    consts = [numpy_helper.from_array(np.array(1.0, np.float32), "s"),
              numpy_helper.from_array(np.array(0, np.uint8), "z")]
    node = helper.make_node(op, inputs, ["y"], domain="com.microsoft", **attrs)
    model = _model([node], values, [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], consts,
                   extra=[helper.make_opsetid("com.microsoft", 1)])
    return static_shapes(infer_with_contrib(model, "<t>")).get("y")


def test_contrib_shapes_follow_the_float_operators():
    assert _contrib("QLinearAdd", ["a", "s", "z", "b", "s", "z", "s", "z"], {"a": [1, 8, 4, 4], "b": [1, 8, 1, 1]}) \
        == (1, 8, 4, 4)
    assert _contrib("QLinearConcat", ["s", "z", "a", "s", "z", "b", "s", "z"], {"a": [1, 3, 4, 4], "b": [1, 5, 4, 4]},
                    axis=1) == (1, 8, 4, 4)
    assert _contrib("QLinearGlobalAveragePool", ["a", "s", "z", "s", "z"], {"a": [2, 7, 5, 5]}) == (2, 7, 1, 1)
    assert _contrib("QLinearGlobalAveragePool", ["a", "s", "z", "s", "z"], {"a": [2, 5, 5, 7]},
                    channels_last=1) == (2, 1, 1, 7)
    assert _contrib("QLinearAveragePool", ["a", "s", "z", "s", "z"], {"a": [1, 4, 9, 9]}, kernel_shape=[3, 3],
                    strides=[2, 2], pads=[1, 1, 1, 1]) == (1, 4, 5, 5)
    assert _contrib("QGemm", ["a", "s", "z", "b", "s", "z", "", "s", "z"], {"a": [3, 16], "b": [10, 16]},
                    transB=1) == (3, 10)
    for op in ("QLinearSigmoid", "QLinearLeakyRelu"):
        assert _contrib(op, ["a", "s", "z", "s", "z"], {"a": [1, 6, 3, 3]}) == (1, 6, 3, 3)
    assert _contrib("FusedThing", ["a"], {"a": [1, 2]}) is None  # not in the table: left without a shape


def _ssd() -> onnx.ModelProto:
    """A conv backbone with an SSD-style tail: NonMaxSuppression inside an If, TopK of a computed k, NonZero;
    the head reads a Resize whose sizes come from shape arithmetic (static once the input size is fixed)."""
    inits = [_weight("w1", [8, 3, 3, 3]), _weight("w2", [16, 8, 3, 3]), _weight("wb", [4, 16, 1, 1]),
             _weight("ws", [2, 16, 1, 1]), _int("shp_b", [1, 4, -1]), _int("shp_s", [1, 2, -1]), _int("hw_i", [2, 3]),
             _int("two", [2, 2]), _int("zero", [0]), _int("one", [1]), _int("maxout", [10]), _int("zshape", [0, 3]),
             numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
             numpy_helper.from_array(np.array([0.1], np.float32), "thr")]
    then = helper.make_graph([helper.make_node("NonMaxSuppression", ["boxes", "scores", "maxout", "iou", "thr"],
                                               ["sel"])], "then", [],
                             [helper.make_tensor_value_info("sel", TensorProto.INT64, ["n", 3])])
    other = helper.make_graph([helper.make_node("ConstantOfShape", ["zshape"], ["sel0"],
                                                value=numpy_helper.from_array(np.array([0], np.int64)))], "else", [],
                              [helper.make_tensor_value_info("sel0", TensorProto.INT64, ["n", 3])])
    n = helper.make_node
    nodes = [n("Conv", ["x", "w1"], ["c1"], pads=[1] * 4, strides=[2, 2]), n("Relu", ["c1"], ["r1"]),
             n("Conv", ["r1", "w2"], ["c2"], pads=[1] * 4), n("Relu", ["c2"], ["r2"]),
             n("Shape", ["r2"], ["s"]), n("Gather", ["s", "hw_i"], ["hw"]), n("Mul", ["hw", "two"], ["hw2"]),
             n("Slice", ["s", "zero", "hw_i"], ["nc"]), n("Concat", ["nc", "hw2"], ["sizes"], axis=0),
             n("Resize", ["r2", "", "", "sizes"], ["up"], mode="nearest"),
             n("Conv", ["up", "wb"], ["box_map"]), n("Conv", ["up", "ws"], ["score_map"]),
             n("Reshape", ["box_map", "shp_b"], ["b3"]), n("Transpose", ["b3"], ["boxes"], perm=[0, 2, 1]),
             n("Reshape", ["score_map", "shp_s"], ["scores"]), n("ReduceMax", ["scores"], ["best"], keepdims=0),
             n("Greater", ["best", "thr"], ["any"]), n("Squeeze", ["any"], ["cond"]),
             n("If", ["cond"], ["selected"], then_branch=then, else_branch=other),
             n("Shape", ["selected"], ["ss"]), n("Gather", ["ss", "zero"], ["k"]),
             n("ReduceMax", ["scores", "one"], ["flat"], keepdims=0), n("TopK", ["flat", "k"], ["top", "top_i"]),
             n("NonZero", ["top"], ["nz"])]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                  [helper.make_tensor_value_info("top_i", TensorProto.INT64, [1, "k"]),
                   helper.make_tensor_value_info("nz", TensorProto.INT64, [2, "z"])], inits)


def test_ssd_style_model_compiles_its_backbone_and_lists_the_tail_as_host_work():
    from mapper import compile_model

    model = _ssd()
    onnx.checker.check_model(model)
    graph = load_onnx(model)
    layers = array_layers(graph)
    # The head convolutions read the Resize output: its sizes were folded, so they have shapes (32 x 32).
    assert [(layer.M, layer.H) for _, layer in layers] == [(8, 32), (16, 16), (4, 32), (2, 32)]
    assert {"sizes", "hw2"} <= set(graph.graph["folded"])  # (unnamed nodes: listed by output)
    reasons = {graph.nodes[name]["op"]: graph.nodes[name]["reason"] for name, _ in host_ops(graph)}
    assert {op for op, reason in reasons.items() if reason == DYNAMIC} == {"If", "TopK", "NonZero"}
    result = compile_model(model, time_limit=10, compare_spaces=False)
    assert not result.unmapped and len(result.layers) == 4
    assert {h["op"] for h in result.report()["host_ops"] if h["reason"] == DYNAMIC} == {"If", "TopK", "NonZero"}
    assert result.totals.macs == 8 * 27 * 16 * 16 + 16 * 72 * 16 * 16 + (4 + 2) * 16 * 32 * 32


def test_a_layer_fed_by_data_dependent_shapes_names_the_cause():
    nodes = [helper.make_node("NonZero", ["x"], ["nz"], name="where"),
             helper.make_node("Cast", ["nz"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["f", "ax"], ["u"]), helper.make_node("Unsqueeze", ["u", "ax"], ["u2"]),
             helper.make_node("Conv", ["u2", "w"], ["y"], name="conv")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                   [_weight("w", [2, 1, 1, 1]), _int("ax", [0])])
    with pytest.raises(FrontendError) as error:
        load_onnx(model)
    message = str(error.value)
    assert "input 'u2' of Conv node 'conv' has no static shape: it comes from NonZero node 'where'" in message
    assert "depends on the data" in message and "fixed input sizes" not in message


def test_a_layer_fed_by_an_unknown_custom_op_names_it():
    nodes = [helper.make_node("Mystery", ["x"], ["m"], name="mystery", domain="com.example"),
             helper.make_node("Conv", ["m", "w"], ["y"], name="conv")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [_weight("w", [2, 1, 3, 3])],
                   extra=[helper.make_opsetid("com.example", 1)])
    with pytest.raises(FrontendError, match="Mystery node 'mystery' of domain 'com.example', which onnx's shape "
                                            "inference does not know"):
        load_onnx(model)


def test_upsampling_size_from_float_shape_arithmetic_is_folded():
    # floor(H * 2.0) as TorchScript writes F.interpolate(size=...) with a computed size: static once H is.
    n = helper.make_node
    nodes = [n("Shape", ["x"], ["s"]), n("Gather", ["s", "i23"], ["hw"]),
             n("Cast", ["hw"], ["hwf"], to=TensorProto.FLOAT), n("Mul", ["hwf", "two"], ["hw2f"]), n("Floor", ["hw2f"], ["fl"]),
             n("Cast", ["fl"], ["hw2"], to=TensorProto.INT64), n("Slice", ["s", "zero", "i23"], ["nc"]),
             n("Concat", ["nc", "hw2"], ["sizes"], axis=0), n("Resize", ["x", "", "", "sizes"], ["up"], mode="nearest"),
             n("Conv", ["up", "w"], ["y"], name="conv", pads=[1] * 4)]
    inits = [_weight("w", [4, 8, 3, 3]), _int("i23", [2, 3]), _int("zero", [0]),
             numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    graph = load_onnx(_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 10, 10])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits))
    ((_, layer),) = array_layers(graph)
    assert (layer.H, layer.W) == (20, 20) and {"hw2f", "sizes"} <= set(graph.graph["folded"])
