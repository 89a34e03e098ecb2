"""Which tensors hold a ReLU's zeros: one rule per tensor, read alike by the layer that writes it and every reader.

The cost model needs each array layer's ifmap and ofmap zeros (zero gating,
RLC size in DRAM).  Without measurements the only zeros the compiler can
assume are a ReLU's: a tensor written by a ReLU (fused into an array layer, a
host ``Relu``, a ``Clip`` with floor 0) is a ReLU output; ops that move or
select values without computing new ones (pooling by max, reshapes, slices,
concatenation, (de)quantization, ...) keep their input's share of ReLU
outputs; every other op's output (residual adds, averages, activations
other than ReLU, ...) and the network input are assumed to hold none.  The
figure for a ReLU output (0.5 by default) is the mapper's; this module only
says which tensors it applies to and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from frontends.graph import clip_is_relu

# Ops whose output holds only values of their inputs (selected, moved or re-encoded, not computed) or
# scales each by a non-zero factor: a zero in stays a zero out, and no new zeros appear beyond padding.
# Assumed, because these ops' definitions (onnx.ai operators) copy or select input elements; LRN divides
# each by (bias + alpha * sum of squares)**beta > 0; (de)quantization maps 0 to the zero point.
ZERO_KEEPING = frozenset({
    "MaxPool", "Reshape", "Flatten", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Dropout", "Slice", "Split",
    "Concat", "Pad", "QuantizeLinear", "DequantizeLinear", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth",
    "Expand", "Tile", "Gather", "ChannelShuffle", "Cast", "LRN",
})
RELU_BASIS = "zeros of a ReLU output"
INPUT_BASIS = "network input: no zeros assumed"
NO_RELU_BASIS = "no ReLU on the ofmap path: no zeros assumed"


@dataclass(frozen=True)
class TensorZeros:
    """A tensor's share of elements that are ReLU outputs (their zeros are the ReLU figure), and why."""

    relu_share: float  # 0: no zeros assumed; 1: a ReLU output throughout; between: a concatenation of both
    basis: str


@dataclass(frozen=True)
class LayerTensors:
    """The tensors an array layer reads (ifmap) and writes (ofmap), by name."""

    ifmap: str
    ofmap: str


def _inputs(graph: nx.DiGraph, node: str) -> list[tuple[str, int]]:
    """The data tensors a node reads, with their element counts (0 where unknown), in edge order."""
    out = []
    for producer, _, edge in graph.in_edges(node, data=True):
        shape = edge.get("shape") or ()
        count = 1
        for dim in shape:
            count *= int(dim)
        out.append((_edge_tensor(graph, producer, edge), count if shape else 0))
    return out


def _edge_tensor(graph: nx.DiGraph, producer: str, edge: dict) -> str:
    """The tensor an edge carries: its name, else the producer's (only) output."""
    return str(edge.get("tensor") or graph.nodes[producer].get("output") or producer)


def layer_tensors(graph: nx.DiGraph) -> dict[str, LayerTensors]:
    """Array layer -> the tensors it reads and writes; a layer fed by no node reads the network input."""
    first_input = graph.graph["inputs"][0][0] if graph.graph.get("inputs") else "input"
    out = {}
    for name, data in graph.nodes(data=True):
        if data.get("kind") != "array":
            continue
        reads = [tensor for tensor, _ in _inputs(graph, name) if tensor and tensor != data.get("weight")]
        out[name] = LayerTensors(reads[0] if reads else first_input, str(data.get("output") or name))
    return out


def tensor_zeros(graph: nx.DiGraph) -> dict[str, TensorZeros]:
    """Every tensor the graph's nodes write (and the network inputs): its ReLU share, in topological order."""
    known = {name: TensorZeros(0.0, INPUT_BASIS) for name, _ in graph.graph.get("inputs", ())}
    constants = graph.graph.get("initializers", {})
    for node in nx.topological_sort(graph):
        data = graph.nodes[node]
        zeros = _written(graph, node, data, known, constants)
        for tensor in {str(data.get("output") or node)} | {_edge_tensor(graph, node, e)
                                                           for _, _, e in graph.out_edges(node, data=True)}:
            known[tensor] = zeros
    return known


def _written(graph: nx.DiGraph, node: str, data: dict, known: dict[str, TensorZeros], constants: dict) -> TensorZeros:
    """What one node's outputs hold, from its op and what its inputs hold."""
    if data.get("kind") == "array":
        return TensorZeros(1.0, RELU_BASIS) if data.get("relu") else TensorZeros(0.0, NO_RELU_BASIS)
    op = data.get("onnx_op") or data.get("op")
    proto = data["protos"][0] if data.get("protos") else None
    if op == "Relu" or (op == "Clip" and proto is not None and clip_is_relu(proto, constants)):
        return TensorZeros(1.0, RELU_BASIS)
    if op in ZERO_KEEPING:
        return _kept(op, [(known.get(t), n) for t, n in _inputs(graph, node)])
    return TensorZeros(0.0, f"{op} output: no zeros assumed")


def _kept(op: str, inputs: list[tuple[TensorZeros | None, int]]) -> TensorZeros:
    """A zero-keeping op's output: its inputs' ReLU share, weighted by their sizes (a Concat of several)."""
    seen = [(zeros, count) for zeros, count in inputs if zeros is not None]
    if not seen:
        return TensorZeros(0.0, f"{op} output: no zeros assumed")
    if len({zeros for zeros, _ in seen}) == 1:
        return seen[0][0]
    total = sum(count for _, count in seen)
    weights = [count / total if total else 1 / len(seen) for _, count in seen]
    share = sum(w * zeros.relu_share for w, (zeros, _) in zip(weights, seen))
    if share in (0.0, 1.0):
        return TensorZeros(share, RELU_BASIS if share else f"{op} output: no zeros assumed")
    return TensorZeros(share, f"{op}: {share:.0%} of it ReLU outputs")
