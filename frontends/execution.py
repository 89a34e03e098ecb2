"""What running a compiled network needs from its ONNX model: each array layer's operands, and the host graph.

Mapping needs shapes only; running needs values.  For an array layer: the
tensors it reads and writes (ONNX names and shapes), its real weights
(BatchNormalization folded in, ``frontends.weights``), its bias (a Conv's B,
a Gemm's beta * C, each fused BatchNormalization's shift) and the clamp of a
fused ReLU/Clip.  Every ONNX node no array layer stands for runs on the host:
``host_model`` gathers them, in order, with the constants they read, as one
ONNX model (``mapper.app.host`` runs it node by node).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import onnx
from onnx import helper, numpy_helper

from cost_models.errors import InputError
from frontends.loading import FrontendError
from frontends.weights import load_constant, load_layer_weights

RUNNABLE_OPS = {"Conv", "Gemm", "MatMul"}
HOST_IR_VERSION = 8


@dataclass(frozen=True)
class LayerOperands:
    """One array layer as a program runs it: tensors, bias, output clamp (its weights: ``layer_weights``, read
    when its step is reached, so a network's weights are never all held at once)."""

    name: str
    input: str
    input_shape: tuple[int, ...]
    output: str
    output_shape: tuple[int, ...]
    bias: np.ndarray  # float64 [M]
    relu: bool
    upper: float | None  # a fused Clip's upper bound (ReLU6), None for none


def tensor_shapes(graph: nx.DiGraph) -> dict[str, tuple[int, ...]]:
    """Static shapes of the activation tensors: graph inputs and outputs and every edge's tensor."""
    shapes = {name: tuple(shape) for name, shape in graph.graph["inputs"] + graph.graph["outputs"] if shape}
    for _, _, data in graph.edges(data=True):
        if data.get("shape") and data.get("tensor"):
            shapes[data["tensor"]] = tuple(data["shape"])
    return shapes


def not_runnable(graph: nx.DiGraph, name: str) -> str | None:
    """Why array layer ``name`` cannot be run in fixed point yet (None: it can)."""
    if graph.graph.get("missing_weights"):
        return f"the model's external weights file '{graph.graph['missing_weights'][0][:200]}' is missing"
    data = graph.nodes[name]
    main = data["protos"][0]
    fused_ops = {op for _, op in data["fused"]}
    if data.get("transform") is not None:
        return f"{data['onnx_op']} '{data['onnx_node']}' is computed as rewritten parts ({data['part']}); " \
               "running rewritten nodes is not supported yet"
    if data["onnx_op"] not in RUNNABLE_OPS:
        return f"{data['onnx_op']} layers (quantized operators) are not run in the chip's fixed point yet"
    if fused_ops & {"QuantizeLinear", "DequantizeLinear"}:
        return "a layer with fused (de)quantization (a QDQ model) is not run yet: give the float model"
    if data.get("weight") is None or len(main.input) < 2 or main.input[1] != data["weight"]:
        return "the layer has no weight operand in the second input (activation x activation, or weight x data)"
    if data["onnx_op"] == "Gemm" and _attribute(main, "transA", 0):
        return "Gemm with transA is not run yet"
    try:
        weights = load_constant(graph, data["weight"])
    except InputError as error:  # e.g. larger than a weight tensor may be: the shapes still map
        return f"its weights '{data['weight']}' cannot be read: {error.message}"
    if weights is None:
        return f"its weights '{data['weight']}' are not in the model (a graph input: the model is shape-only)"
    return None


def _attribute(node: onnx.NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def layer_operands(graph: nx.DiGraph, name: str, shapes: dict[str, tuple[int, ...]]) -> LayerOperands:
    """The operands of a runnable array layer (``not_runnable`` is None), its weights aside."""
    data = graph.nodes[name]
    layer, main = data["layer"], data["protos"][0]
    bias = np.zeros(layer.M, dtype=np.float64)
    if len(main.input) > 2 and main.input[2]:
        value = load_constant(graph, main.input[2])
        if value is None:
            raise FrontendError(f"the bias '{main.input[2]}' of layer '{name}' is not a constant of the model")
        scale = _attribute(main, "beta", 1.0) if data["onnx_op"] == "Gemm" else 1.0
        bias = np.broadcast_to(np.asarray(value, dtype=np.float64).reshape(-1), (layer.M,)) * scale
    upper = None
    for proto in data["protos"][1:]:
        if proto.op_type == "BatchNormalization":
            bias = _bn_shift(graph, proto, bias)
        elif proto.op_type == "Clip":
            upper = _clip_upper(graph, proto)
    source, target = main.input[0], data["output"]
    if source not in shapes or target not in shapes:
        raise FrontendError(f"layer '{name}': the shape of its input or output tensor is not known")
    return LayerOperands(name, source, shapes[source], target, shapes[target], np.array(bias), data["relu"], upper)


def layer_weights(graph: nx.DiGraph, name: str) -> np.ndarray:
    """A runnable array layer's real weights [M, C/groups, R, S] (``load_layer_weights``), a Gemm's alpha applied."""
    data = graph.nodes[name]
    weights = load_layer_weights(graph, name)
    if weights is None:
        raise FrontendError(f"the weights of layer '{name}' are not constants of the model")
    alpha = _attribute(data["protos"][0], "alpha", 1.0) if data["onnx_op"] == "Gemm" else 1.0
    return weights.astype(np.float64) * alpha if alpha != 1.0 else weights


def _bn_shift(graph: nx.DiGraph, node: onnx.NodeProto, bias: np.ndarray) -> np.ndarray:
    """The bias after a BatchNormalization: (b - mean) * scale / sqrt(var + eps) + B."""
    scale, shift, mean, var = (np.asarray(load_constant(graph, n), dtype=np.float64) for n in node.input[1:5])
    factor = scale / np.sqrt(var + _attribute(node, "epsilon", 1e-5))
    return (bias - mean) * factor + shift


def _clip_upper(graph: nx.DiGraph, node: onnx.NodeProto) -> float | None:
    upper = _attribute(node, "max", None)
    if len(node.input) > 2 and node.input[2]:
        value = load_constant(graph, node.input[2])
        upper = None if value is None else float(np.asarray(value).reshape(-1)[0])
    return None if upper is None else float(upper)


def host_model(graph: nx.DiGraph, layer_outputs: set[str]) -> onnx.ModelProto:
    """Every host node in order, with the constants it reads, as one ONNX model.

    Its inputs are the tensors the host reads from outside: the network inputs
    and the array layers' outputs (``layer_outputs``), all float.
    """
    shapes = tensor_shapes(graph)
    nodes = [data["protos"][0] for _, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["order"])
             if data["kind"] == "host"]
    produced = {out for node in nodes for out in node.output} | layer_outputs
    external = [name for name, _ in graph.graph["inputs"]] + sorted(layer_outputs)
    initializers, seen = [], set(produced) | set(external)
    for node in nodes:
        for tensor in node.input:
            if not tensor or tensor in seen:
                continue
            value = load_constant(graph, tensor)
            if value is None:
                raise FrontendError(f"host node '{node.name}' reads '{tensor}', which is neither computed by the "
                                    "network nor a constant of the model")
            initializers.append(numpy_helper.from_array(np.asarray(value), tensor))
            seen.add(tensor)
    inputs = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(shapes.get(name, ())) or None)
              for name in external]
    outputs = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
               for name, _ in graph.graph["outputs"]]
    domains = sorted({node.domain for node in nodes if node.domain not in ("", "ai.onnx")})
    opsets = [helper.make_opsetid("", int(graph.graph["opset"]))] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(helper.make_graph(nodes, "host", inputs, outputs, initializers), opset_imports=opsets,
                              producer_name="eyeriss-compiler host program")
    model.ir_version = HOST_IR_VERSION
    return model
