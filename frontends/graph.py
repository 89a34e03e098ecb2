"""The layer graph: every ONNX node lowered to an array layer, fused into one, or kept as a host op.

Fusion follows the chip: BatchNormalization folds into the preceding
convolution's weights; Relu and Clip(min >= 0) run in the ReLU module on the
ofmap path [JSSC III-A]; quantize/dequantize steps on a layer's own input or
output path belong to it; nodes that only transform weights (a Transpose or
DequantizeLinear of a constant) belong to the layer that consumes them.
Nothing is dropped: each ONNX node is named by exactly one graph node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import onnx

from frontends.host import host_reason
from frontends.loading import FrontendError
from frontends.lowering import ARRAY_OPS, Lowered, MissingShape, is_array_op, lower
from frontends.shapes import WEIGHT_PREP, shape_origin, weight_inputs

OUTPUT_PATH = {"BatchNormalization", "Relu", "Clip", "QuantizeLinear", "DequantizeLinear"}


@dataclass(frozen=True)
class BatchNorm:
    """What folding a BatchNormalization into its layer's weights needs: its scale and variance tensors, epsilon."""

    scale: str
    var: str
    epsilon: float


@dataclass
class _Tensors:
    """Who produces and consumes each tensor, and which tensors are activations or weights."""

    nodes: list[onnx.NodeProto]
    producer: dict[str, onnx.NodeProto]
    consumers: dict[str, list[onnx.NodeProto]]
    activation: set[str]
    is_weight: set[str]
    inputs: list[str]  # real graph inputs (not weights)
    outputs: set[str]
    computed: set[str]  # names of the nodes that read an activation (the others compute constants)


@dataclass
class _Fusion:
    """Array layers by ONNX node name and the ONNX nodes folded into each."""

    lowered: dict[str, Lowered]
    owner: dict[str, str] = field(default_factory=dict)  # ONNX node name -> the ONNX node whose graph node names it
    fused: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    relu: dict[str, bool] = field(default_factory=dict)
    batchnorm: dict[str, list[BatchNorm]] = field(default_factory=dict)
    output_of: dict[str, str] = field(default_factory=dict)


def build_graph(proto: onnx.ModelProto, shapes: dict, folded: list[str], where: str,
                stripped: set[str] = frozenset(), weights: set[str] | None = None) -> nx.DiGraph:
    """The layer graph of a checked, shape-inferred model; ``weights`` is ``weight_inputs(proto)`` if known."""
    nodes = _unique_names(list(proto.graph.node))
    _refuse_control_flow(nodes, where)
    tensors = _tensors(proto, nodes, stripped, weights)
    fusion = _Fusion(_lower_all(tensors, shapes, where))  # 1. array layers
    _fuse_output_paths(tensors, fusion, proto)  # 2. BN, ReLU/Clip, (de)quantize after each layer
    _fuse_input_paths(tensors, fusion)  # 3. dequantization and weight preparation before it
    _fuse_constant_feeders(tensors, fusion)
    g = nx.DiGraph()
    keys = _add_nodes(g, tensors, fusion)  # 4. graph nodes in ONNX's topological order
    _add_edges(g, tensors, keys, shapes)  # 5. activation tensors between them
    g.graph["inputs"] = [(name, shapes.get(name)) for name in tensors.inputs]
    g.graph["outputs"] = [(v.name, shapes.get(v.name)) for v in proto.graph.output]
    g.graph["folded"] = list(folded)
    # The small constants the model kept (large weights are read from the file on demand: frontends.weights).
    g.graph["initializers"] = {tensor.name: tensor for tensor in proto.graph.initializer}
    if not _is_acyclic(g):
        raise FrontendError("the graph has a cycle", where)
    return g


def _unique_names(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Name unnamed nodes ``<op>_<index>`` and make repeated names unique (in the working copy only)."""
    for index, node in enumerate(nodes):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
    seen: set[str] = set()
    for index, node in enumerate(nodes):
        if node.name in seen:
            node.name = f"{node.name}_{index}"
        seen.add(node.name)
    return nodes


def _tensors(proto: onnx.ModelProto, nodes: list[onnx.NodeProto], stripped: set[str],
             weights: set[str] | None) -> _Tensors:
    constants = {t.name for t in proto.graph.initializer} | set(stripped)
    weights_in = (weight_inputs(proto) if weights is None else weights) - constants
    is_weight = constants | weights_in
    # Activations: anything computed from a real graph input.
    inputs = [v.name for v in proto.graph.input if v.name not in constants and v.name not in weights_in]
    activation = set(inputs) - {""}  # "" is an omitted optional input, never an activation
    producer: dict[str, onnx.NodeProto] = {}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    computed: set[str] = set()
    for node in nodes:
        node_inputs, node_outputs = node.input, node.output
        if activation.isdisjoint(node_inputs):
            is_weight.update(node_outputs)
        else:
            activation.update(node_outputs)
            activation.discard("")  # an omitted optional output
            computed.add(node.name)
        for out in node_outputs:
            producer[out] = node
        for name in node_inputs:
            consumers.setdefault(name, []).append(node)
    is_weight.discard("")
    consumers.pop("", None)
    return _Tensors(nodes, producer, consumers, activation, is_weight, inputs, {v.name for v in proto.graph.output},
                    computed)


def _lower_all(t: _Tensors, shapes: dict, where: str) -> dict[str, Lowered]:
    lowered: dict[str, Lowered] = {}
    for node in t.nodes:
        if is_array_op(node):
            try:
                low = lower(node, shapes, t.is_weight, where)
            except MissingShape as error:
                raise FrontendError(f"{error.message}: {shape_origin(error.tensor, t.producer, shapes)}", where) \
                    from None
            if not any(name in t.activation for name in low.data_inputs) and low.weight is None:
                continue  # a product of constants: leave it to the host pass
            lowered[node.name] = low
    return lowered


def _fuse_output_paths(t: _Tensors, f: _Fusion, proto: onnx.ModelProto) -> None:
    """Follow each layer's output through single-consumer BN, ReLU/Clip and (de)quantize nodes."""
    by_name = {node.name: node for node in t.nodes}
    initializers = {tensor.name: tensor for tensor in proto.graph.initializer}  # one look-up per Clip, not a scan
    for name in f.lowered:
        f.owner[name] = name
        f.fused[name], f.relu[name], f.batchnorm[name] = [], False, []
    for name in f.lowered:
        tensor = by_name[name].output[0]
        while tensor not in t.outputs and len(t.consumers.get(tensor, [])) == 1:
            nxt = t.consumers[tensor][0]
            if nxt.op_type not in OUTPUT_PATH or nxt.input[0] != tensor or nxt.name in f.owner:
                break
            if nxt.op_type == "BatchNormalization" and f.relu[name]:
                break
            if nxt.op_type == "Clip" and not clip_is_relu(nxt, initializers):
                break
            f.owner[nxt.name] = name
            f.fused[name].append((nxt.name, nxt.op_type))
            f.relu[name] |= nxt.op_type in ("Relu", "Clip")
            if nxt.op_type == "BatchNormalization":
                epsilon = next((a.f for a in nxt.attribute if a.name == "epsilon"), 1e-5)
                f.batchnorm[name].append(BatchNorm(nxt.input[1], nxt.input[4], epsilon))
            tensor = nxt.output[0]
        f.output_of[name] = tensor


def _fuse_input_paths(t: _Tensors, f: _Fusion) -> None:
    """Input-path dequantization and weight preparation belong to the layer they feed."""
    by_name = {node.name: node for node in t.nodes}
    for name in f.lowered:
        for tensor in by_name[name].input:
            prod_node = t.producer.get(tensor)
            while prod_node is not None and prod_node.name not in f.owner and prod_node.op_type in WEIGHT_PREP \
                    and len(t.consumers.get(prod_node.output[0], [])) == 1:
                if prod_node.op_type not in ("DequantizeLinear", "QuantizeLinear") and tensor in t.activation:
                    break
                f.owner[prod_node.name] = name
                f.fused[name].insert(0, (prod_node.name, prod_node.op_type))
                tensor = prod_node.input[0]
                prod_node = t.producer.get(tensor)


def _fuse_constant_feeders(t: _Tensors, f: _Fusion) -> None:
    """Nodes that only compute constants for one array layer (folded leftovers) are fused into it."""
    for node in t.nodes:
        if node.name in f.owner or node.name in t.computed:
            continue
        users = {f.owner.get(c.name) for out in node.output for c in t.consumers.get(out, [])}
        if len(users) == 1 and next(iter(users)) in f.lowered:
            target = next(iter(users))
            f.owner[node.name] = target
            f.fused[target].insert(0, (node.name, node.op_type))


def _add_nodes(g: nx.DiGraph, t: _Tensors, f: _Fusion) -> dict[str, list[str]]:
    """One graph node per host op and per array layer part; returns ONNX node name -> its graph nodes' keys.

    The ONNX nodes a layer stands for are listed on its first part only, so that
    each ONNX node is named by exactly one graph node.
    """
    keys: dict[str, list[str]] = {}
    by_name = {node.name: node for node in t.nodes}
    for node in t.nodes:
        name = node.name
        key = f.owner.get(name)
        if key is not None and key == name:
            low = f.lowered[key]
            part_keys = [_free_key(g, part.key) for part in low.parts]
            for index, (part, part_key) in enumerate(zip(low.parts, part_keys)):
                g.add_node(
                    part_key, kind="array", op=low.op, onnx_op=node.op_type, layer=part.layer, onnx_node=key,
                    part=getattr(part.transform, "label", None), transform=part.transform, reason=None,
                    fused=tuple(f.fused[key]), onnx_nodes=(key, *(n for n, _ in f.fused[key])) if index == 0 else (),
                    order=len(g), relu=f.relu[key], weight=low.weight, weight_layout=low.weight_layout,
                    batchnorm=tuple(f.batchnorm[key]), output=f.output_of[key],
                    protos=(node, *(by_name[n] for n, _ in f.fused[key])))
            keys[key] = part_keys
        elif key is None:
            f.owner[name] = name
            op, outputs, host_key = node.op_type, node.output, _free_key(g, name)
            g.add_node(host_key, kind="host", op=op, onnx_op=op, layer=None, onnx_node=name, part=None, transform=None,
                       reason=host_reason(node, name not in t.computed), fused=(), onnx_nodes=(name,), order=len(g),
                       relu=False, weight=None, batchnorm=(), output=outputs[0] if outputs else None,
                       protos=(node,))
            keys[name] = [host_key]
    for name, owner in f.owner.items():
        keys.setdefault(name, keys[owner])
    return keys


def _free_key(g: nx.DiGraph, key: str) -> str:
    """``key``, or ``key~2``, ``key~3``... if a graph node has it: a ConvTranspose 'up' makes 'up/phase00', and
    a node of the model may have that name too (each would silently overwrite the other's layer)."""
    if key not in g:
        return key
    suffix = 2
    while f"{key}~{suffix}" in g:
        suffix += 1
    return f"{key}~{suffix}"


def _add_edges(g: nx.DiGraph, t: _Tensors, keys: dict[str, list[str]], shapes: dict) -> None:
    """Activation tensors from their producer's graph nodes to each consumer's."""
    for node in t.nodes:
        targets = keys[node.name]
        for tensor in node.input:
            if tensor not in t.activation or tensor not in t.producer:
                continue
            sources = keys[t.producer[tensor].name]
            if sources == targets:
                continue
            for src in sources:
                for dst in targets:
                    if src != dst:
                        g.add_edge(src, dst, tensor=tensor, shape=shapes.get(tensor))


def _is_acyclic(g: nx.DiGraph) -> bool:
    """Every edge runs forward in the nodes' order (the common case, one pass), or networkx finds no cycle."""
    order = {key: data["order"] for key, data in g.nodes(data=True)}
    return all(order[src] < order[dst] for src, dst in g.edges()) or nx.is_directed_acyclic_graph(g)


def clip_is_relu(node: onnx.NodeProto, initializers: dict[str, onnx.TensorProto]) -> bool:
    """Clip with a lower bound of 0 (ReLU, ReLU6): the ReLU module's job; the upper clamp rides along."""
    from onnx import numpy_helper

    low = None
    for attribute in node.attribute:
        if attribute.name == "min":
            low = attribute.f
    tensor = initializers.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    if tensor is not None:
        values = numpy_helper.to_array(tensor).reshape(-1)  # a scalar, if the model is right
        low = float(values[0]) if values.size == 1 and values.dtype.kind in "fiub" else None
    return low == 0.0  # a higher floor (Clip(0.5, ...)) is not what the ReLU module does


def _refuse_control_flow(nodes: list[onnx.NodeProto], where: str) -> None:
    for node in nodes:
        for attribute in node.attribute:
            subgraphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
            for sub in subgraphs:
                inner = {n.op_type for n in sub.node} & ARRAY_OPS
                if inner:
                    raise FrontendError(
                        f"{node.op_type} node '{node.name}' contains {', '.join(sorted(inner))} inside a control-flow "
                        "subgraph; the array needs a static layer sequence (unroll or export without control flow)",
                        where)
