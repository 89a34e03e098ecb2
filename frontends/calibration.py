"""Measured data statistics: run the model on sample inputs and measure every array layer's real fmaps.

``eyeriss compile --calibration INPUTS`` (``compile_model(calibration=...)``)
runs the network in onnxruntime, the ecosystem's reference runtime, on the
user's samples (``.npy``: the one network input, samples along the first
axis; ``.npz``: one array per graph input name, the same sample count each).
For each array layer it measures the ifmap (the layer node's data input) and
the ofmap (after the fused ReLU/BN: what the chip writes to DRAM [JSSC III-A]):
the share of exact zeros and the size our RLC codec (``cost_models.rlc``)
gives the real tensor, one sample's fmap at a time.

Memory stays bounded: one sample runs at a time (a fixed-batch model: one
batch), and the layer tensors are fetched a few at a time, so that one run
returns at most ``GROUP_BYTES`` of them; onnxruntime frees the rest.

Zeros are exact zeros of the runtime's values.  The chip's 16-bit fixed point
could round tiny values to zero too; its per-layer scale is not known here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import onnx

from cost_models.errors import InputError, foreign_message
from cost_models.files import MAX_CALIBRATION_BYTES, checked_size
from cost_models.rlc import compressed_words
from cost_models.rowstationary import RATIO_ONE
from cost_models.statistics import FmapStatistic
from frontends.arrays import read_arrays
from frontends.loading import read_model
from frontends.seeded import with_seeded_weights
from frontends.shapes import weight_inputs

GROUP_BYTES = 64 << 20  # assumed: layer tensors one run returns (VGG-16's largest fmap is 12.8 MB per image)


@dataclass
class TensorMeasure:
    """Running counts over samples: values seen, zeros, and 16-bit words of their RLC codes."""

    values: int = 0
    zeros: int = 0
    rlc_words: int = 0

    def add(self, array: np.ndarray) -> None:
        """One sample's tensor (encoded on its own, as the chip codes each fmap it writes)."""
        flat = np.asarray(array).ravel()
        self.values += flat.size
        self.zeros += int(flat.size - np.count_nonzero(flat))
        self.rlc_words += compressed_words(flat)

    def statistic(self, samples: int) -> FmapStatistic:
        size = max(1, self.values)
        return FmapStatistic(self.zeros / size, "measured", rlc_ratio=-(-self.rlc_words * RATIO_ONE // size),
                             basis=f"{samples} calibration sample(s)")


@dataclass(frozen=True)
class Calibration:
    """What the samples measured: per array layer (graph node key), ifmap and ofmap statistics."""

    file: str
    samples: int
    layers: dict[str, tuple[FmapStatistic, FmapStatistic]] = field(default_factory=dict)


def load_samples(path: str | os.PathLike, inputs: list[onnx.ValueInfoProto]) -> dict[str, np.ndarray]:
    """The sample arrays per graph input, cast to each input's element type; one error per fault."""
    where = str(path)
    checked_size(path, MAX_CALIBRATION_BYTES, "calibration (.npy/.npz)")
    names = [value.name for value in inputs]
    loaded = read_arrays(path, MAX_CALIBRATION_BYTES, "calibration (.npy/.npz)")  # never unpickled
    if isinstance(loaded, np.ndarray):
        if len(names) != 1:
            raise InputError(f"the model has {len(names)} inputs ({', '.join(names)}); give an .npz with one "
                             "array per input name", where)
        arrays = {names[0]: loaded}
    else:
        missing = [name for name in names if name not in loaded]
        if missing:
            raise InputError(f"no array for model input(s) {', '.join(missing)} (the file holds "
                             f"{', '.join(loaded) or 'nothing'})", where)
        arrays = {name: loaded[name] for name in names}
    counts = {name: array.shape[0] if array.ndim else 0 for name, array in arrays.items()}
    if min(counts.values()) < 1 or len(set(counts.values())) != 1:
        raise InputError(f"every input needs the same number (>= 1) of samples along the first axis, got {counts}",
                         where)
    out = {}
    for value in inputs:
        elem = value.type.tensor_type.elem_type
        array = arrays[value.name]
        if array.dtype.kind not in "biuf":
            raise InputError(f"input '{value.name}': samples of dtype {array.dtype} are not numbers", where)
        if elem:
            with np.errstate(over="ignore", invalid="ignore"):  # 1e300 is inf in float32: refused below, not warned
                array = array.astype(onnx.helper.tensor_dtype_to_np_dtype(elem))
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise InputError(f"calibration input '{value.name}' holds NaN or Inf values (as the model's "
                             f"{array.dtype})", where)
        out[value.name] = array
    return out


def _layer_tensors(graph: nx.DiGraph, proto: onnx.ModelProto) -> dict[str, tuple[str, str]]:
    """Array layer key -> (ifmap tensor, ofmap tensor) names in the ONNX graph.

    The ifmap is the activation tensor on the layer's incoming edge; a layer
    fed straight by the network has none, and reads its ONNX node's first
    non-constant input (or the model's only input).
    """
    constants = {t.name for t in proto.graph.initializer}
    by_name = {node.name: node for node in proto.graph.node if node.name}
    inputs = [value.name for value in proto.graph.input if value.name not in constants]
    out = {}
    for key, data in graph.nodes(data=True):
        if data.get("kind") != "array":
            continue
        incoming = [tensor for _, _, tensor in graph.in_edges(key, data="tensor") if tensor]
        node = by_name.get(data["onnx_node"])
        if incoming:
            ifmap = incoming[0]
        elif node is not None:
            ifmap = next((name for name in node.input if name and name not in constants), node.input[0])
        else:
            ifmap = inputs[0]
        out[key] = (ifmap, data["output"])
    return out


def _groups(tensors: list[str], sizes: dict[str, int]) -> list[list[str]]:
    """Tensors in runs whose outputs stay within GROUP_BYTES (a larger tensor runs alone)."""
    groups: list[list[str]] = [[]]
    held = 0
    for name in tensors:
        if groups[-1] and held + sizes.get(name, 0) > GROUP_BYTES:
            groups.append([])
            held = 0
        groups[-1].append(name)
        held += sizes.get(name, 0)
    return groups


def _session(proto: onnx.ModelProto, outputs: list[str], path: Path | None):
    import onnxruntime as ort  # loaded only when calibrating (it adds ~0.3 s to a start)

    work = onnx.ModelProto()
    work.CopyFrom(proto)
    if path is not None:
        onnx.load_external_data_for_model(work, str(path.parent))
    listed = {value.name for value in work.graph.output}
    work.graph.output.extend(onnx.ValueInfoProto(name=name) for name in outputs if name not in listed)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # One thread: deterministic sums, and the 2-core machine's other thread stays free.
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(work.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise InputError(f"onnxruntime cannot run the model: {foreign_message(error)}") from None


def calibrate(model: str | os.PathLike | onnx.ModelProto, graph: nx.DiGraph,
              samples_path: str | os.PathLike) -> Calibration:
    """Measure every array layer's ifmap and ofmap zeros and RLC size on the samples in ``samples_path``."""
    proto, path, _ = read_model(model)
    where = str(path) if path is not None else "<model>"
    if graph.graph.get("weights_seed") is not None:
        proto = with_seeded_weights(proto, graph.graph["weights_seed"], where)
    if weight_inputs(proto):
        missing = sorted(weight_inputs(proto))[:3]
        raise InputError(f"calibration needs the weights, but the model takes them as graph inputs "
                         f"({', '.join(missing)}{', ...' if len(weight_inputs(proto)) > 3 else ''}); "
                         "export it with its weights, or give --weights seeded (random weights, not a trained model)", where)
    constants = {t.name for t in proto.graph.initializer}
    inputs = [value for value in proto.graph.input if value.name not in constants]
    arrays = load_samples(samples_path, inputs)
    per_layer = _layer_tensors(graph, proto)
    tensors = list(dict.fromkeys(name for pair in per_layer.values() for name in pair))
    session = _session(proto, tensors, path)
    batch = _fixed_batch(session)
    count = next(iter(arrays.values())).shape[0]
    if count % batch:
        raise InputError(f"the model's batch is fixed at {batch}: give a multiple of {batch} samples, got {count}",
                         str(samples_path))
    sizes = _sample_bytes(graph, per_layer)
    measures = {name: TensorMeasure() for name in tensors}
    for group in _groups(tensors, sizes):
        for start in range(0, count, batch):
            feed = {name: array[start:start + batch] for name, array in arrays.items()}
            try:
                values = session.run(group, feed)
            except Exception as error:  # onnxruntime's own types: a bad sample shape or dtype
                raise InputError(f"onnxruntime could not run the samples: {foreign_message(error)}",
                                 str(samples_path)) from None
            for name, value in zip(group, values):
                for one in np.asarray(value).reshape(batch, -1) if batch > 1 else [value]:
                    measures[name].add(one)
    layers = {key: (measures[i].statistic(count), measures[o].statistic(count)) for key, (i, o) in per_layer.items()}
    return Calibration(Path(samples_path).name, count, layers)


def _fixed_batch(session) -> int:
    """The batch each run feeds: the model's fixed leading dimension, else 1 sample."""
    shape = session.get_inputs()[0].shape
    lead = shape[0] if shape else None
    return lead if isinstance(lead, int) and lead > 0 else 1


def _sample_bytes(graph: nx.DiGraph, per_layer: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Float32 bytes of each tensor for one sample, from the layer shapes (padding ignored: an estimate)."""
    sizes: dict[str, int] = {}
    for key, (ifmap, ofmap) in per_layer.items():
        layer = graph.nodes[key]["layer"]
        sizes[ifmap] = max(sizes.get(ifmap, 0), 4 * layer.ifmap_size() // max(1, layer.N))
        sizes[ofmap] = max(sizes.get(ofmap, 0), 4 * layer.ofmap_size() // max(1, layer.N))
    return sizes
