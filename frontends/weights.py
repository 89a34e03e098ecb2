"""Real weights of an array layer, read only when asked (the simulator needs them; compiling does not)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
from onnx import numpy_helper

from frontends.loading import FrontendError, check_external_data


@lru_cache(maxsize=2)
def _initializers(path: str, mtime: float) -> dict[str, onnx.TensorProto]:
    proto = onnx.load(path, load_external_data=False)
    check_external_data(proto, Path(path))
    try:
        onnx.external_data_helper.load_external_data_for_model(proto, str(Path(path).parent))
    except (OSError, ValueError) as error:
        raise FrontendError(f"cannot read external weight data: {error}", path) from None
    return {t.name: t for t in proto.graph.initializer}


def _array(tensors: dict[str, onnx.TensorProto], name: str, path: str) -> np.ndarray | None:
    tensor = tensors.get(name)
    if tensor is None:
        return None
    try:
        values = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError) as error:  # data that disagrees with its dims or type
        raise FrontendError(f"weight tensor {name!r} is malformed: {error}", path) from None
    expected = int(np.prod(tensor.dims, dtype=np.int64))
    if values.size != expected:
        raise FrontendError(f"weight tensor {name!r} holds {values.size} values, its dims {list(tensor.dims)} "
                            f"need {expected}", path)
    return values.astype(np.float64)


def load_layer_weights(graph: nx.DiGraph, name: str) -> np.ndarray | None:
    """The layer's weights as float64 [M, C/groups, R, S], BatchNormalization folded in; None if the model has none."""
    data = graph.nodes[name]
    path = graph.graph.get("path")
    if data.get("kind") != "array" or data.get("weight") is None or path is None:
        return None
    tensors = _initializers(path, Path(path).stat().st_mtime)
    weights = _array(tensors, data["weight"], path)
    if weights is None:
        return None
    layer = data["layer"]
    layout = data.get("weight_layout", "MCRS")
    if layout in ("MC", "CM"):
        matrix = weights.reshape((layer.M, layer.C) if layout == "MC" else (layer.C, layer.M))
        weights = (matrix if layout == "MC" else matrix.T).reshape(layer.M, layer.C, 1, 1)
    elif layout == "CMRS":  # ConvTranspose: [C, M/g, ...] -> the equivalent convolution's [M, C/g, ...], flipped
        g, c_in = layer.groups, weights.shape[0]
        spatial = weights.shape[2:]
        w = weights.reshape(g, c_in // g, layer.M // g, *spatial).swapaxes(1, 2)
        weights = np.flip(w.reshape(layer.M, c_in // g, *spatial), axis=tuple(range(2, 2 + len(spatial))))
    if weights.ndim == 3:  # 1-D convolution
        weights = weights[:, :, None, :]
    for fused_name, fused_op in data.get("fused", ()):
        if fused_op == "BatchNormalization":
            weights = _fold_bn(weights, tensors, graph, fused_name)
    return np.ascontiguousarray(weights)


def _fold_bn(weights: np.ndarray, tensors: dict, graph: nx.DiGraph, bn_name: str) -> np.ndarray:
    path = graph.graph["path"]
    proto = onnx.load(path, load_external_data=False)
    node = next((n for n in proto.graph.node if n.name == bn_name), None)
    if node is None:
        return weights
    scale, _, _, var = (_array(tensors, n, path) for n in node.input[1:5])
    eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    if scale is None or var is None:
        return weights
    return weights * (scale / np.sqrt(var + eps))[:, None, None, None]
