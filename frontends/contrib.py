"""Shapes of onnxruntime's quantized ``com.microsoft`` operators, which onnx's shape inference does not know.

onnxruntime's QOperator format (``quantize_static(..., quant_format=QuantFormat.QOperator)``)
writes QLinearAdd, QLinearMul, QLinearConcat, QGemm, QLinearGlobalAveragePool, ...
Each is a float ONNX operator with (scale, zero point) pairs around its operands,
so its output shape is the float operator's: we infer it with onnx's own rules on
that float equivalent, one node at a time, and the output's element type is its
zero point's.

Why not onnxruntime's ``SymbolicShapeInference``: it is a second whole-graph
inference engine (it needs sympy, re-derives every standard op, and where it and
onnx disagree, or it meets an op it does not know, the whole model fails), while
this table reuses the inference the rest of the frontend already trusts and
names the one op it cannot place.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import TensorProto, helper, shape_inference

from frontends.loading import FrontendError
from frontends.shapes import infer, static_shapes

DOMAIN = "com.microsoft"


@dataclass(frozen=True)
class Contrib:
    """A com.microsoft op as its float equivalent: which inputs are the operands, where the output's zero point is."""

    float_op: str
    operands: tuple[int, ...] | None  # input slots of the float operands; None: every third from slot 2 (Concat)
    zero_point: int | None  # input slot of the output zero point (None: the output is float)
    attributes: tuple[str, ...] = ()  # attributes the float op shares


CONTRIB = {
    "QLinearAdd": Contrib("Add", (0, 3), 7),
    "QLinearMul": Contrib("Mul", (0, 3), 7),
    "QLinearSigmoid": Contrib("Sigmoid", (0,), 4),
    "QLinearLeakyRelu": Contrib("LeakyRelu", (0,), 4, ("alpha",)),
    "QLinearSoftmax": Contrib("Softmax", (0,), 4, ("axis",)),
    "QLinearGlobalAveragePool": Contrib("GlobalAveragePool", (0,), 4),
    "QLinearAveragePool": Contrib("AveragePool", (0,), 4, ("auto_pad", "ceil_mode", "count_include_pad",
                                                            "kernel_shape", "pads", "strides")),
    "QLinearConcat": Contrib("Concat", None, 1, ("axis",)),
    "QGemm": Contrib("Gemm", (0, 3), 8, ("transA", "transB", "alpha")),
}


def contrib_shape(node: onnx.NodeProto, shapes: dict, dtypes: dict[str, int]) -> tuple[tuple[int, ...], int] | None:
    """(output shape, element type) of a known com.microsoft node whose operand shapes are known, else None."""
    rule = CONTRIB.get(node.op_type) if node.domain == DOMAIN else None
    if rule is None or not node.output:
        return None
    slots = rule.operands if rule.operands is not None else tuple(range(2, len(node.input), 3))
    names = [node.input[slot] for slot in slots if slot < len(node.input) and node.input[slot]]
    if len(names) != len(slots) or any(shapes.get(name) is None for name in names):
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    channels_last = bool(attrs.get("channels_last", 0))
    dims = [list(shapes[name]) for name in names]
    if channels_last:  # NHWC pooling: infer in NCHW, then move the channels back last
        dims = [[d[0], d[-1], *d[1:-1]] for d in dims]
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, d) for i, d in enumerate(dims)]
    equivalent = helper.make_node(rule.float_op, [v.name for v in inputs], ["y"],
                                  **{k: v for k, v in attrs.items() if k in rule.attributes})
    graph = helper.make_graph([equivalent], "contrib", inputs, [helper.make_tensor_value_info("y", 0, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    try:
        out = shape_inference.infer_shapes(model, strict_mode=True).graph.output[0].type.tensor_type
    except (shape_inference.InferenceError, RuntimeError, ValueError):
        return None
    if not all(d.HasField("dim_value") for d in out.shape.dim):
        return None
    shape = [int(d.dim_value) for d in out.shape.dim]
    if channels_last:
        shape = [shape[0], *shape[2:], shape[1]]
    zp = node.input[rule.zero_point] if rule.zero_point is not None and rule.zero_point < len(node.input) else ""
    return tuple(shape), dtypes.get(zp, TensorProto.FLOAT) if zp else TensorProto.FLOAT


# Rounds of whole-graph inference times the graph's nodes (assumed: a QOperator ResNet-152 needs about 50
# rounds over 1500 nodes; a round costs about 10 us per node, so this bounds the alternation to seconds,
# where 4000 com.microsoft nodes each waiting on the one before took minutes).
MAX_CONTRIB_WORK = 300_000


def infer_with_contrib(proto: onnx.ModelProto, where: str) -> onnx.ModelProto:
    """onnx's shape inference, alternating with the com.microsoft table until neither places another shape."""
    proto = infer(proto, where)
    if not any(node.domain == DOMAIN for node in proto.graph.node):
        return proto
    rounds, nodes = 0, len(proto.graph.node)
    while add_contrib_shapes(proto, static_shapes(proto), _element_types(proto)):
        rounds += 1
        if rounds * nodes > MAX_CONTRIB_WORK:
            raise FrontendError(f"the shapes of its com.microsoft nodes need more than {rounds - 1} rounds of shape "
                                f"inference over its {nodes} nodes (each waits on the one before)", where)
        proto = infer(proto, where)
    return proto


def _element_types(proto: onnx.ModelProto) -> dict[str, int]:
    types = {v.name: v.type.tensor_type.elem_type for v in list(proto.graph.input) + list(proto.graph.value_info)
             if v.type.HasField("tensor_type")}
    types.update({t.name: t.data_type for t in proto.graph.initializer})
    return types


def add_contrib_shapes(proto: onnx.ModelProto, shapes: dict, dtypes: dict[str, int]) -> int:
    """Give every com.microsoft node it can place a value_info for its output; returns how many it placed."""
    placed: dict[str, onnx.ValueInfoProto] = {}
    for node in proto.graph.node:
        if node.domain != DOMAIN or not node.output or shapes.get(node.output[0]) is not None:
            continue
        found = contrib_shape(node, shapes, dtypes)
        if found is None:
            continue
        shape, dtype = found
        shapes[node.output[0]] = shape
        placed[node.output[0]] = helper.make_tensor_value_info(node.output[0], dtype, list(shape))
    if placed:  # stale entries for the placed tensors out in one pass (not one scan of value_info per node)
        kept = [value for value in proto.graph.value_info if value.name not in placed]
        del proto.graph.value_info[:]
        proto.graph.value_info.extend(kept + list(placed.values()))
    return len(placed)
