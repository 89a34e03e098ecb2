"""Real weights of an array layer, read only when asked (the simulator needs them; compiling does not)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from cost_models.files import open_regular, read_range
from frontends.loading import (MAX_MODEL_BYTES, FrontendError, Identity, check_external_data, external_span,
                               file_identity)
from frontends.seeded import with_seeded_weights
from frontends.shapes import WEIGHT_PREP, evaluate_node
from frontends.wire import WireError, read_without_weights


# Largest weight tensor read for simulation (assumed: 256 MB holds VGG-16's fc6, the largest layer of the
# bundled models, at 16 bits; the simulator refuses larger layers before it gets here).
MAX_WEIGHT_BYTES = 256 * 2**20


# Initializers of more elements than this are indexed, not parsed: their raw bytes are read from the file when
# a layer asks (assumed: 4096 keeps every shape and small constant in memory, and no layer's weights).
INDEX_ELEMENTS = 4096
Span = tuple[int, int, Identity]  # (offset, length) of a tensor's raw_data in that model file
Tensors = dict[str, tuple[onnx.TensorProto, Span | None]]  # each initializer, and where its values lie if not in it
# Types whose raw bytes are the array itself (little-endian, as ONNX stores raw_data): viewed, read-only.
_VIEWED = {onnx.TensorProto.FLOAT: np.dtype("<f4"), onnx.TensorProto.DOUBLE: np.dtype("<f8")}


def _identity(path: str) -> Identity:
    """The file's identity now (frontends.loading.file_identity); a file gone since it was loaded is refused."""
    identity = file_identity(path)
    if identity is None:
        raise FrontendError("the model file cannot be read any more (moved or deleted since it was loaded)", path)
    return identity


@lru_cache(maxsize=2)
def _initializers(path: str, identity: Identity, seed: int | None = None
                  ) -> tuple[Tensors, dict[str, onnx.NodeProto]]:
    """The model's initializers, each with where its raw values lie in the file if they were left there, and, by
    output name, the nodes that may prepare weights; with a ``seed``, its parameters are the seeded draws
    (frontends.seeded) instead.  The file is not parsed whole: a 550 MB model is never held in memory."""
    spans: list[tuple[int, int] | None] = []
    try:
        handle, size = open_regular(path, MAX_MODEL_BYTES, "ONNX model")
        with handle:
            proto = onnx.load_model_from_string(read_without_weights(handle, size, INDEX_ELEMENTS, spans=spans))
    except (WireError, DecodeError, RuntimeError, ValueError, UnicodeDecodeError, OSError) as error:
        raise FrontendError(f"not a valid ONNX model any more (changed since it was loaded?): "
                            f"{str(error)[:200]}", path) from None
    check_external_data(proto, Path(path))
    left = {}
    for tensor, span in zip(proto.graph.initializer, spans):
        left[tensor.name] = None if span is None else (*span, identity)
    if seed is not None:
        proto = with_seeded_weights(proto, seed, path)
    producers = {node.output[0]: node for node in proto.graph.node
                 if node.domain in ("", "ai.onnx") and node.op_type in WEIGHT_PREP | {"Constant"} and node.output}
    # A drawn parameter holds its values; only a tensor still without them is read from its span.
    return {t.name: (t, None if t.raw_data else left.get(t.name)) for t in proto.graph.initializer}, producers


def _loaded(tensor: onnx.TensorProto, span: Span | None, path: str) -> onnx.TensorProto:
    """``tensor`` with its values read in (bounded) from where they lie: the model file's span, or external data."""
    if span is not None:
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.raw_data = _span_bytes(tensor, span, path)
        return copy
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return tensor
    file, offset, length = external_span(tensor, Path(path).parent.resolve(), Path(path))
    data = read_range(file, offset, length, MAX_WEIGHT_BYTES, f"weight tensor '{tensor.name[:80]}'")
    copy = onnx.TensorProto()
    copy.CopyFrom(tensor)
    copy.ClearField("external_data")
    copy.data_location = onnx.TensorProto.DEFAULT
    copy.raw_data = data
    return copy


def _span_bytes(tensor: onnx.TensorProto, span: Span, path: str) -> bytes:
    """The raw values the model file holds at ``span``, bounded as the file is (they were accepted with it), from
    the very file that was indexed (``_model_tensors`` checked it just before): one replaced or rewritten while
    they were read (another inode, size or mtime) is refused."""
    offset, length, identity = span
    data = read_range(Path(path), offset, length, MAX_MODEL_BYTES, f"weight tensor '{tensor.name[:80]}'")
    if _identity(path) != identity:
        raise FrontendError("the model file changed while its weights were read; compile it again", path)
    return data


def _raw(tensors: Tensors, name: str, path: str) -> np.ndarray | None:
    if name not in tensors:
        return None
    tensor, span = tensors[name]
    if span is not None and tensor.data_type in _VIEWED:  # the file's bytes as they are: no second copy of fc6
        values = np.frombuffer(_span_bytes(tensor, span, path), dtype=_VIEWED[tensor.data_type])
        return values.reshape(tuple(tensor.dims))
    tensor = _loaded(tensor, span, path)
    try:
        values = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError) as error:  # data that disagrees with its dims or type
        raise FrontendError(f"weight tensor {name!r} is malformed: {error}", path) from None
    expected = int(np.prod(tensor.dims, dtype=np.int64))
    if values.size != expected:
        raise FrontendError(f"weight tensor {name!r} holds {values.size} values, its dims {list(tensor.dims)} "
                            f"need {expected}", path)
    return values


def _array(tensors: Tensors, name: str, path: str) -> np.ndarray | None:
    values = _raw(tensors, name, path)
    return None if values is None else values.astype(np.float64)


def _prepared(tensors: Tensors, producers: dict[str, onnx.NodeProto], name: str,
              path: str, opset: int, depth: int = 0) -> np.ndarray | None:
    """A weight as the model computes it from constants (QDQ's QuantizeLinear -> DequantizeLinear,
    Transpose, Cast, ...), with onnx's reference evaluator; None where it depends on anything else."""
    values = _raw(tensors, name, path)
    if values is not None:
        return values
    node = producers.get(name)
    if node is None or depth > 8:
        return None
    feeds = {}
    for source in (n for n in node.input if n):
        value = _prepared(tensors, producers, source, path, opset, depth + 1)
        if value is None:
            return None
        feeds[source] = value
    from onnx.reference import ReferenceEvaluator

    if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
        # The reference evaluator implements these from opset 19; integer Q/DQ is unchanged since opset 13.
        opset = max(opset, 19)
    try:
        return evaluate_node(ReferenceEvaluator, node, feeds, opset)
    except Exception as error:  # noqa: BLE001 - the evaluator's own error types vary by op
        raise FrontendError(f"cannot compute weight tensor {name!r} from node {node.name or node.op_type!r}: "
                            f"{error}", path) from None


def _model_tensors(graph: nx.DiGraph, path: str) -> tuple[Tensors, dict[str, onnx.NodeProto]]:
    identity, loaded = _identity(path), graph.graph.get("file_identity")
    if loaded is not None and identity != tuple(loaded):  # the graph's shapes are another file's
        raise FrontendError("the model file changed since it was loaded; compile it again", path)
    return _initializers(path, identity, graph.graph.get("weights_seed"))


def load_constant(graph: nx.DiGraph, name: str) -> np.ndarray | None:
    """A constant tensor of the model as stored or computed from constants (the file is read for large ones);
    None where the model has no such constant."""
    kept = graph.graph.get("initializers", {}).get(name)
    if kept is not None and graph.graph.get("weights_seed") is None:  # seeded: a kept weight is not the one drawn
        return numpy_helper.to_array(kept)
    path = graph.graph.get("path")
    if path is None:
        return None
    tensors, producers = _model_tensors(graph, path)
    return _prepared(tensors, producers, name, path, int(graph.graph.get("opset", 17)))


def load_layer_weights(graph: nx.DiGraph, name: str) -> np.ndarray | None:
    """The layer's weights [M, C/groups, R, S] as real values: float32 as stored (possibly a read-only view of
    the file's bytes), else float64 (BatchNormalization folded in, other types widened); None if the model has none.

    A part of a rewritten node (a ConvTranspose phase, a patch convolution's
    matrix) gets its share of the node's weights through the part's transform.
    """
    source = load_node_weights(graph, name)
    if source is None:
        return None
    transform = graph.nodes[name].get("transform")
    weights = source if transform is None else transform.weights(source)
    return np.ascontiguousarray(weights)


def load_node_weights(graph: nx.DiGraph, name: str) -> np.ndarray | None:
    """The weights of the ONNX node that array layer ``name`` computes, 4-D in the node's own layout
    ([M, C/g, R, S]; a ConvTranspose's [C, M/g, R, S]), BatchNormalization folded in; dtypes as
    ``load_layer_weights`` says (float32 may be a read-only view)."""
    data = graph.nodes[name]
    path = graph.graph.get("path")
    if data.get("kind") != "array" or data.get("weight") is None or path is None:
        return None
    tensors, producers = _model_tensors(graph, path)
    weights = _prepared(tensors, producers, data["weight"], path, int(graph.graph.get("opset", 17)))
    if weights is None:
        return None
    layout = data.get("weight_layout", "MCRS")
    if layout in ("MC", "CM"):
        layer = data["layer"]
        matrix = weights.reshape((layer.M, layer.C) if layout == "MC" else (layer.C, layer.M))
        weights = (matrix if layout == "MC" else matrix.T).reshape(layer.M, layer.C, 1, 1)
    if weights.ndim == 3:  # 1-D convolution: height 1
        weights = weights[:, :, None, :]
    if weights.dtype == np.float32 and not data.get("batchnorm"):
        # As stored: float32 values are exact in every wider step after (quantize widens slice by slice), and
        # VGG-16's fc6 (103 M weights) is not held again at 8 bytes each.
        return np.ascontiguousarray(weights)
    weights = weights.astype(np.float64, order="C")  # one copy, in row order; BatchNormalization folds in float64
    for batchnorm in data.get("batchnorm", ()):
        weights = _fold_bn(weights, tensors, batchnorm, path, transposed=layout == "CMRS")
    return weights


def _fold_bn(weights: np.ndarray, tensors: dict, bn, path: str, transposed: bool) -> np.ndarray:
    """Scale each output channel by gamma / sqrt(var + eps) (the shift is a bias: not the array's work)."""
    scale, var = _array(tensors, bn.scale, path), _array(tensors, bn.var, path)
    if scale is None or var is None:
        return weights
    factor = scale / np.sqrt(var + bn.epsilon)
    if transposed:  # [C, M/g, R, S]: output channel m = group * M/g + j
        C, Mg = weights.shape[:2]
        groups = factor.size // Mg
        w = weights.reshape(groups, C // groups, Mg, *weights.shape[2:])
        return (w * factor.reshape(groups, 1, Mg, 1, 1)).reshape(weights.shape)
    return weights * factor[:, None, None, None]
