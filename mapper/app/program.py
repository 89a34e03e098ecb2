"""The program a compile folder holds: execution order, number formats, weights (docs/run.md).

``program/program.json`` (schema ``eyeriss-program/1``) lists the steps in
execution order, each an array layer (its bitstream, weight and bias files,
tensors, formats) or a host node (an index into ``program/host.onnx``), and
the format of every float tensor.  Weights are int16 ``.npy`` [M, C/g, R, S],
biases int64 ``.npy`` [M] in the layer's accumulator format.  Everything is
covered by the folder's manifest; ``eyeriss run`` needs nothing else.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.errors import InputError
from cost_models.layer import LayerShape
from frontends.seeded import MODEL_WEIGHTS

PROGRAM_DIR = "program"
PROGRAM_FILE = f"{PROGRAM_DIR}/program.json"
HOST_FILE = f"{PROGRAM_DIR}/host.onnx"
HARDWARE_FILE = f"{PROGRAM_DIR}/hardware.yaml"
REFERENCE_FILE = f"{PROGRAM_DIR}/reference.onnx"
SCHEMA = "eyeriss-program/1"


@dataclass(frozen=True)
class LayerFormats:
    """A layer's number formats as fraction bits; the psum format follows from ifmap and filter."""

    ifmap: int
    filter: int
    ofmap: int

    @property
    def psum(self) -> int:
        return self.ifmap + self.filter

    @property
    def shift(self) -> int:
        return self.psum - self.ofmap

    def as_dict(self) -> dict[str, int]:
        return {"ifmap": self.ifmap, "filter": self.filter, "psum": self.psum, "ofmap": self.ofmap,
                "shift": self.shift}


@dataclass(frozen=True)
class ArrayStep:
    """One array layer: the configured array computes it from its bitstream."""

    index: int  # the report's layer index (bitstream numbering)
    name: str
    layer: LayerShape
    input: str
    input_shape: tuple[int, ...]
    output: str
    output_shape: tuple[int, ...]
    relu: bool
    upper: int | None  # a fused Clip's upper bound, in ofmap words
    formats: LayerFormats
    bitstream: str  # files of the folder
    weights: str
    bias: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "array", "index": self.index, "name": self.name, "shape": layer_dict(self.layer),
                "input": self.input, "input_shape": list(self.input_shape), "output": self.output,
                "output_shape": list(self.output_shape), "relu": self.relu, "upper": self.upper,
                "formats": self.formats.as_dict(), "bitstream": self.bitstream, "weights": self.weights,
                "bias": self.bias}


@dataclass(frozen=True)
class HostStep:
    """One ONNX node the host runs (node ``node`` of program/host.onnx)."""

    node: int
    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "host", "node": self.node, "name": self.name, "op": self.op, "inputs": list(self.inputs),
                "outputs": list(self.outputs)}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape)}


@dataclass(frozen=True)
class Program:
    """What the chip and its host run, in order, and the format of every float tensor."""

    model_name: str
    model_sha256: str
    hardware: str
    layout_id: int
    batch: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    formats: dict[str, int]  # tensor -> fraction bits
    steps: tuple[ArrayStep | HostStep, ...]
    source: str  # where the formats came from
    weights: str = MODEL_WEIGHTS  # the model's own weights, or "seeded:SEED" (frontends.seeded: not a trained model)

    @property
    def array_steps(self) -> list[ArrayStep]:
        return [step for step in self.steps if isinstance(step, ArrayStep)]

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "model": {"name": self.model_name, "sha256": self.model_sha256},
                "hardware": {"name": self.hardware, "layout_id": self.layout_id}, "batch": self.batch,
                "inputs": [t.as_dict() for t in self.inputs], "outputs": [t.as_dict() for t in self.outputs],
                "formats_source": self.source, "weights": self.weights, "formats": dict(sorted(self.formats.items())),
                "steps": [step.as_dict() for step in self.steps]}

    def to_bytes(self) -> bytes:
        return (json.dumps(self.as_dict(), indent=1, allow_nan=False) + "\n").encode()


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as .npy bytes (numpy's format, as ``np.save`` writes it: a version 1.0 header padded to 64
    bytes, then the raw little-endian values), copied once: VGG-16's fc6 is 205 MB of words."""
    values = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
    if values.dtype.hasobject:
        raise ValueError("object arrays have no .npy bytes without pickling")
    if values.dtype.kind in "Mm":  # dates and durations have no buffer view: numpy's own writer
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        return buffer.getvalue()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(values))
    return b"".join((header.getvalue(), memoryview(values.reshape(-1)).cast("B")))


def npy_array(data: bytes, where: str) -> np.ndarray:
    """A .npy file's array; pickled objects are refused, never loaded."""
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"not a .npy array without objects: {' '.join(str(error).split())[:200]}", where) from None


def layer_dict(layer: LayerShape) -> dict[str, Any]:
    return {"N": layer.N, "M": layer.M, "C": layer.C, "H": layer.H, "W": layer.W, "R": layer.R, "S": layer.S,
            "stride": list(layer.stride), "pads": list(layer.pads), "dilation": list(layer.dilation),
            "groups": layer.groups, "kind": layer.kind}


def layer_from_dict(data: dict[str, Any]) -> LayerShape:
    """The shape ``layer_dict`` wrote (LayerShape checks every value)."""
    return LayerShape(**{k: data[k] for k in ("N", "M", "C", "H", "W", "R", "S", "groups", "kind")},
                      **{k: tuple(data[k]) for k in ("stride", "pads", "dilation")})


# ---------------------------------------------------------------- reading program.json back
def _field(data: dict, key: str, kind: type | tuple, where: str):
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise InputError(f"program.json: '{key}' is missing or not {getattr(kind, '__name__', kind)}", where)
    return value


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise InputError("program.json: a tensor shape is not a list of positive integers", where)
    return tuple(value)


def _array_step(data: dict, where: str) -> ArrayStep:
    formats = _field(data, "formats", dict, where)
    try:
        layer = layer_from_dict(_field(data, "shape", dict, where))
        fmt = LayerFormats(*(int(_field(formats, k, int, where)) for k in ("ifmap", "filter", "ofmap")))
    except (TypeError, ValueError, KeyError) as error:
        raise InputError(f"program.json: a layer entry is malformed ({error})", where) from None
    upper = data.get("upper")
    if upper is not None and (not isinstance(upper, int) or isinstance(upper, bool)):
        raise InputError("program.json: 'upper' is not an integer", where)
    return ArrayStep(_field(data, "index", int, where), _field(data, "name", str, where), layer,
                     _field(data, "input", str, where), _shape(data.get("input_shape"), where),
                     _field(data, "output", str, where), _shape(data.get("output_shape"), where),
                     bool(_field(data, "relu", bool, where)), upper, fmt, _field(data, "bitstream", str, where),
                     _field(data, "weights", str, where), _field(data, "bias", str, where))


def _host_step(data: dict, where: str) -> HostStep:
    names = [_field(data, key, list, where) for key in ("inputs", "outputs")]
    if not all(isinstance(n, str) for group in names for n in group):
        raise InputError("program.json: a host step's tensor names are not strings", where)
    return HostStep(_field(data, "node", int, where), _field(data, "name", str, where), _field(data, "op", str, where),
                    tuple(names[0]), tuple(names[1]))


def program_from_bytes(data: bytes, where: str) -> Program:
    """program.json read back and checked; a foreign or damaged file is bad input naming the fault."""
    try:
        doc = json.loads(data)
    except ValueError as error:
        raise InputError(f"program.json is not JSON: {error}", where) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else None
        raise InputError(f"program.json has schema {str(found)[:40]!r}; this eyeriss runs {SCHEMA}", where)
    model, hardware = _field(doc, "model", dict, where), _field(doc, "hardware", dict, where)
    steps = []
    for step in _field(doc, "steps", list, where):
        kind = step.get("kind") if isinstance(step, dict) else None
        if kind not in ("array", "host"):
            raise InputError("program.json: a step is neither an array layer nor a host node", where)
        steps.append(_array_step(step, where) if kind == "array" else _host_step(step, where))
    formats = _field(doc, "formats", dict, where)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in formats.values()):
        raise InputError("program.json: a tensor format is not an integer", where)
    specs = [tuple(TensorSpec(_field(t, "name", str, where), _shape(t.get("shape"), where))
                   for t in _field(doc, key, list, where)) for key in ("inputs", "outputs")]
    return Program(_field(model, "name", str, where), _field(model, "sha256", str, where),
                   _field(hardware, "name", str, where), _field(hardware, "layout_id", int, where),
                   _field(doc, "batch", int, where), specs[0], specs[1], dict(formats), tuple(steps),
                   _field(doc, "formats_source", str, where), _weights(doc, where))


def _weights(doc: dict, where: str) -> str:
    """What the weights are; a folder written before the field existed holds the model's own."""
    value = doc.get("weights", MODEL_WEIGHTS)
    if not isinstance(value, str) or not (value == MODEL_WEIGHTS or value.startswith("seeded:")):
        raise InputError("program.json: 'weights' is neither 'model' nor 'seeded:SEED'", where)
    return value
