"""The layer graph: every ONNX node lowered to an array layer, fused into one, or kept as a host op.

Fusion follows the chip: BatchNormalization folds into the preceding
convolution's weights; Relu and Clip(min >= 0) run in the ReLU module on the
ofmap path [JSSC III-A]; quantize/dequantize steps on a layer's own input or
output path belong to it; nodes that only transform weights (a Transpose or
DequantizeLinear of a constant) belong to the layer that consumes them.
Nothing is dropped: each ONNX node is named by exactly one graph node.
"""

from __future__ import annotations

import networkx as nx
import onnx

from frontends.loading import FrontendError
from frontends.lowering import ARRAY_OPS, Lowered, lower
from frontends.shapes import WEIGHT_PREP, weight_inputs

OUTPUT_PATH = {"BatchNormalization", "Relu", "Clip", "QuantizeLinear", "DequantizeLinear"}


def build_graph(proto: onnx.ModelProto, shapes: dict, folded: list[str], where: str,
                stripped: set[str] = frozenset()) -> nx.DiGraph:
    nodes = list(proto.graph.node)
    for index, node in enumerate(nodes):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
    names = [node.name for node in nodes]
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for index, node in enumerate(nodes):
            if node.name in seen:
                node.name = f"{node.name}_{index}"
            seen.add(node.name)
    _refuse_control_flow(nodes, where)

    constants = {t.name for t in proto.graph.initializer} | set(stripped)
    weights_in = weight_inputs(proto) - constants
    is_weight = constants | weights_in
    # Activations: anything computed from a real graph input.
    activation = {v.name for v in proto.graph.input if v.name not in constants and v.name not in weights_in}
    producer: dict[str, onnx.NodeProto] = {}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        if any(name in activation for name in node.input if name):
            activation.update(o for o in node.output if o)
        else:
            is_weight.update(o for o in node.output if o)
        for out in node.output:
            producer[out] = node
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(node)
    graph_outputs = {v.name for v in proto.graph.output}

    owner: dict[str, str] = {}  # ONNX node name -> graph node name
    g = nx.DiGraph()
    order = 0
    # 1. Array layers.
    lowered: dict[str, Lowered] = {}
    for node in nodes:
        if node.op_type in ARRAY_OPS and node.domain in ("", "ai.onnx"):
            low = lower(node, shapes, is_weight, where)
            if not any(name in activation for name in low.data_inputs) and low.weight is None:
                continue  # a product of constants: leave it to the host pass below
            lowered[node.name] = low
            owner[node.name] = node.name
    # 2. Fuse the output path (BN, ReLU/Clip, (de)quantize) into each array layer.
    fused: dict[str, list[tuple[str, str]]] = {name: [] for name in lowered}
    relu: dict[str, bool] = {name: False for name in lowered}
    output_of: dict[str, str] = {}
    for name in lowered:
        node = next(n for n in nodes if n.name == name)
        tensor = node.output[0]
        while tensor not in graph_outputs and len(consumers.get(tensor, [])) == 1:
            nxt = consumers[tensor][0]
            if nxt.op_type not in OUTPUT_PATH or nxt.input[0] != tensor or nxt.name in owner:
                break
            if nxt.op_type == "BatchNormalization" and relu[name]:
                break
            if nxt.op_type == "Clip" and not _clip_is_relu(nxt, proto):
                break
            owner[nxt.name] = name
            fused[name].append((nxt.name, nxt.op_type))
            relu[name] |= nxt.op_type in ("Relu", "Clip")
            tensor = nxt.output[0]
        output_of[name] = tensor
    # 3. Input-path dequantization and weight preparation belong to their layer.
    for name, low in lowered.items():
        node = next(n for n in nodes if n.name == name)
        for tensor in node.input:
            prod_node = producer.get(tensor)
            while prod_node is not None and prod_node.name not in owner and prod_node.op_type in WEIGHT_PREP \
                    and len(consumers.get(prod_node.output[0], [])) == 1:
                if prod_node.op_type not in ("DequantizeLinear", "QuantizeLinear") and tensor in activation:
                    break
                owner[prod_node.name] = name
                fused[name].insert(0, (prod_node.name, prod_node.op_type))
                tensor = prod_node.input[0]
                prod_node = producer.get(tensor)
    # Nodes that only compute constants for an array layer (folded leftovers) are fused too.
    for node in nodes:
        if node.name in owner or any(n in activation for n in node.input if n):
            continue
        users = {owner.get(c.name) for out in node.output for c in consumers.get(out, [])}
        if len(users) == 1 and next(iter(users)) in lowered:
            target = next(iter(users))
            owner[node.name] = target
            fused[target].insert(0, (node.name, node.op_type))

    # 4. Graph nodes in ONNX's topological order.
    for node in nodes:
        key = owner.get(node.name)
        if key is not None and key in lowered and key == node.name:
            low = lowered[key]
            g.add_node(key, kind="array", op=low.op, layer=low.layer, fused=tuple(fused[key]),
                       onnx_nodes=(key, *(n for n, _ in fused[key])), order=order, relu=relu[key], weight=low.weight,
                       weight_layout=low.weight_layout, output=output_of[key])
            order += 1
        elif key is None:
            owner[node.name] = node.name
            g.add_node(node.name, kind="host", op=node.op_type, layer=None, fused=(), onnx_nodes=(node.name,),
                       order=order, relu=False, weight=None, output=node.output[0] if node.output else None)
            order += 1
    # 5. Edges: activation tensors from their producer's graph node to each consumer's.
    for node in nodes:
        dst = owner[node.name]
        for tensor in node.input:
            if not tensor or tensor not in activation or tensor not in producer:
                continue
            src = owner[producer[tensor].name]
            if src != dst:
                g.add_edge(src, dst, tensor=tensor, shape=shapes.get(tensor))
    g.graph["inputs"] = [(v.name, shapes.get(v.name)) for v in proto.graph.input
                         if v.name not in constants and v.name not in weights_in]
    g.graph["outputs"] = [(v.name, shapes.get(v.name)) for v in proto.graph.output]
    g.graph["folded"] = list(folded)
    if not nx.is_directed_acyclic_graph(g):
        raise FrontendError("the graph has a cycle", where)
    return g


def _clip_is_relu(node: onnx.NodeProto, proto: onnx.ModelProto) -> bool:
    """Clip with a lower bound of 0 (ReLU, ReLU6): the ReLU module's job; the upper clamp rides along."""
    from onnx import numpy_helper

    low = None
    for attribute in node.attribute:
        if attribute.name == "min":
            low = attribute.f
    if len(node.input) > 1 and node.input[1]:
        for tensor in proto.graph.initializer:
            if tensor.name == node.input[1]:
                low = float(numpy_helper.to_array(tensor).reshape(-1)[0])
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
