"""Seeded weights (``--weights seeded``): random parameters drawn from a seed for a model without its own.

A shape-only export (the bundled AlexNet, VGG-16, ResNets, MobileNetV2 take their weights as graph inputs:
VGG-16's would be 552 MB) maps from shapes alone; calibrating, simulating on real weights and running need
values.  With a seed, every parameter of the model is drawn: the weight and bias operands of each Conv,
ConvTranspose, Gemm and MatMul and each BatchNormalization's scale, bias, mean and var, whether the model
declares them as graph inputs or holds them as initializers (so a trained model's weights are replaced
too: the result never mixes the two).  Other constants (a Clip's bounds, a Reshape's shape) stay the
model's.

The draw (``RULE``), scaled so activations keep their size layer after layer and the 16-bit formats hold
them: He/Kaiming-normal weights, N(0, 2 / fan_in), for a layer a ReLU or Clip (ReLU6) follows, N(0, 1 /
fan_in) otherwise; biases N(0, 0.05^2); BatchNorm scale and var U(0.5, 1.5), bias and mean N(0, 0.1^2).
float32, one ``numpy.random.default_rng(seed)`` stream, parameters in the order the nodes first read them.
``examples/make_examples.py --weights`` draws its weighted examples with this very function, so
``--weights seeded:18`` on the shape-only ``resnet18.onnx`` is its weighted ResNet-18 to the bit.

Seeded weights are not a trained model: accuracy on them means nothing; the arithmetic (SQNR, saturation,
agreement with onnxruntime) is what they measure.  The report (``options.weights``) and program.json say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from cost_models.errors import InputError

RULE = ("He-normal N(0, 2/fan_in) before a ReLU/ReLU6, N(0, 1/fan_in) otherwise; biases N(0, 0.05^2); "
        "BatchNorm scale, var U(0.5, 1.5), bias, mean N(0, 0.1^2); float32")
DEFAULT_SEED = 0
MAX_SEED = 2**63 - 1
MODEL_WEIGHTS = "model"
_KINDS = {"Conv": ("weight", "bias"), "ConvTranspose": ("weight", "bias"), "Gemm": ("weight", "bias"),
          "MatMul": ("weight",), "BatchNormalization": ("bn_scale", "bn_bias", "bn_mean", "bn_var")}
_STD = {"bias": 0.05, "bn_bias": 0.1, "bn_mean": 0.1}
_ACTIVATIONS = {"Relu", "Clip"}


def parse_weights(value: str | None) -> int | None:
    """``model`` (or None): the model's own weights; ``seeded`` or ``seeded:SEED``: the seed to draw them from."""
    if value is None or value == MODEL_WEIGHTS:
        return None
    head, sep, tail = str(value).partition(":")
    if head == "seeded" and not sep:
        return DEFAULT_SEED
    if head == "seeded" and tail.isdigit() and int(tail) <= MAX_SEED:
        return int(tail)
    raise InputError(f"weights must be 'model', 'seeded' or 'seeded:SEED' (SEED an integer 0..2**63-1), "
                     f"got {str(value)[:40]!r}")


def describe(seed: int | None) -> str:
    """What the report's ``options.weights`` and program.json's ``weights`` say."""
    return MODEL_WEIGHTS if seed is None else f"seeded:{seed}"


def seeded_warning(seed: int | None) -> str | None:
    """The line a compile with seeded weights says, so nobody takes its figures for a trained model's."""
    if seed is None:
        return None
    return (f"the weights are seeded random draws (seed {seed}; {RULE.split(';')[0]}), not a trained model: "
            "its outputs and accuracy mean nothing, its arithmetic (SQNR, saturation) is what runs measure")


def draw(rng: np.random.Generator, shape: list[int], kind: str, relu: bool, fan_in: int) -> np.ndarray:
    """One parameter under ``RULE`` (vectorised float32: VGG-16's 138 M weights take about a second)."""
    if kind in ("bn_var", "bn_scale"):
        value = rng.random(shape, dtype=np.float32)
        value += np.float32(0.5)
        return value
    std = np.sqrt((2.0 if relu else 1.0) / max(1, fan_in)) if kind == "weight" else _STD[kind]
    value = rng.standard_normal(shape, dtype=np.float32)
    value *= np.float32(std)
    return value


@dataclass(frozen=True)
class Parameter:
    name: str
    shape: tuple[int, ...]
    kind: str  # weight, bias, bn_scale, bn_bias, bn_mean, bn_var
    relu: bool  # a ReLU or Clip reads the layer's output (after a BatchNormalization)
    fan_in: int


def _attribute(node: onnx.NodeProto, name: str, default: int) -> int:
    return next((int(helper.get_attribute_value(a)) for a in node.attribute if a.name == name), default)


def _fan_in(node: onnx.NodeProto, shape: tuple[int, ...]) -> int:
    """Inputs summed into one output: C/g x R x S of a Conv, K of a Gemm or MatMul."""
    if node.op_type == "Gemm":
        return shape[1] if _attribute(node, "transB", 0) else shape[0]
    if node.op_type == "MatMul":
        return shape[-2] if len(shape) > 1 else shape[0]
    if node.op_type == "ConvTranspose":
        return shape[0] // max(1, _attribute(node, "group", 1)) * int(np.prod(shape[2:], dtype=np.int64))
    return int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else shape[0]


def parameters(proto: onnx.ModelProto, where: str) -> list[Parameter]:
    """The model's parameters in the order the nodes first read them; a dynamic dimension is refused."""
    graph = proto.graph
    dims = {t.name: tuple(t.dims) for t in graph.initializer}
    for value in graph.input:
        if value.name not in dims and value.type.HasField("tensor_type"):
            shape = value.type.tensor_type.shape.dim
            dims[value.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in shape)
    readers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node.op_type)
    followed = {}  # a layer's output -> whether an activation reads it (through one BatchNormalization)
    for node in graph.node:
        if node.op_type == "BatchNormalization" and node.output:
            followed[node.input[0]] = bool(_ACTIVATIONS & set(readers.get(node.output[0], ())))
    data = {value.name for value in graph.input} - _parameter_names(graph)
    out: dict[str, Parameter] = {}
    for node in graph.node:
        kinds = _KINDS.get(node.op_type, ())
        for slot, kind in enumerate(kinds, start=1):
            name = node.input[slot] if slot < len(node.input) else ""
            if not name or name in out or name not in dims or name in data:
                continue
            shape = dims[name]
            if any(d <= 0 for d in shape):
                raise InputError(f"--weights seeded: parameter '{name[:80]}' has a dynamic dimension "
                                 f"{list(shape)}; its shape must be static to draw it", where)
            output = node.output[0] if node.output else ""
            relu = bool(_ACTIVATIONS & set(readers.get(output, ()))) or followed.get(output, False)
            out[name] = Parameter(name, shape, kind, relu, _fan_in(node, shape) if kind == "weight" else 0)
    return list(out.values())


def _parameter_names(graph: onnx.GraphProto) -> set[str]:
    """Every tensor read at a parameter slot (slot >= 1 of the ops above)."""
    return {node.input[slot] for node in graph.node for slot in range(1, len(_KINDS.get(node.op_type, ())) + 1)
            if slot < len(node.input) and node.input[slot]}


def seeded_arrays(proto: onnx.ModelProto, seed: int, where: str) -> dict[str, np.ndarray]:
    """Every parameter of ``proto`` drawn from ``seed`` (the same values on every call and machine)."""
    rng = np.random.default_rng(seed)
    found = parameters(proto, where)
    if not found:
        raise InputError("--weights seeded: the model has no Conv, Gemm, MatMul or BatchNormalization "
                         "parameter to draw", where)
    return {p.name: draw(rng, list(p.shape), p.kind, p.relu, p.fan_in) for p in found}


def seeded_bytes(proto: onnx.ModelProto, where: str) -> int:
    """Bytes the seeded parameters take (float32), without drawing them."""
    return sum(4 * int(np.prod(p.shape, dtype=np.int64)) for p in parameters(proto, where))


def with_seeded_weights(proto: onnx.ModelProto, seed: int, where: str) -> onnx.ModelProto:
    """A copy of ``proto`` whose parameters are seeded initializers (no longer graph inputs)."""
    arrays = seeded_arrays(proto, seed, where)
    work = onnx.ModelProto()
    work.CopyFrom(proto)
    graph = work.graph
    kept_inputs = [value for value in graph.input if value.name not in arrays]
    kept_inits = [tensor for tensor in graph.initializer if tensor.name not in arrays]
    del graph.input[:]
    graph.input.extend(kept_inputs)
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in arrays.items())
    return work
