"""Choosing every tensor's 16-bit format by running the quantized network itself on calibration samples.

The chip keeps, per layer, the 16 bits of the product its dynamic range needs
[JSSC V-C]; this module chooses them.  It walks the program in execution
order over all samples at once: a network input's format fits its largest
sample value; a layer's filter format fits its largest weight; its ofmap
format is the finest whose rounded write-back of the *integer* accumulator
plus bias fits 16 bits on every sample; a host node's outputs, computed from
already quantized inputs, get the finest format that holds them.  So nothing
saturates on the samples the formats were chosen on: by construction, not by
a margin.

Samples: the user's ``--calibration`` file, else ``DEFAULT_SAMPLES`` seeded
N(0, 1) inputs with ``DEFAULT_HEADROOM`` spare bit on every tensor (assumed:
image networks take normalised inputs; one bit allows real data twice the
peaks a few random inputs reach).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import onnx
import yaml

from cost_models.errors import InputError
from cost_models.hardware import Hardware
from frontends.calibration import load_samples
from frontends.execution import LayerOperands, host_model, layer_operands, layer_weights, not_runnable, tensor_shapes
from frontends.seeded import describe, seeded_bytes, with_seeded_weights
from mapper.app.execute import accumulate, host_feeds
from mapper.app.host import HostRunner
from mapper.app.program import (HARDWARE_FILE, HOST_FILE, PROGRAM_DIR, PROGRAM_FILE, REFERENCE_FILE, ArrayStep,
                                HostStep, LayerFormats, Program, TensorSpec, npy_bytes)
from mapper.chip.bitstream import layout_id
from mapper.chip.fixedpoint import MAX_FRAC, MAX_SHIFT, MIN_FRAC, frac_for, quantize, shift_for, write_back

DEFAULT_SAMPLES = 4
DEFAULT_HEADROOM = 1
# Values of one tensor held across the samples while formats are chosen (assumed: 2**26 int64 accumulator
# values are 512 MB); a network with larger tensors uses fewer of the calibration samples.
MAX_FORMAT_VALUES = 2**26
# The float model is kept in the folder for `run --reference` up to this size (assumed: larger models are
# given again with --reference MODEL.onnx rather than copied into every compile).
MAX_REFERENCE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Built:
    """A program and the files that hold it; or, with ``program`` None, why the model cannot be run."""

    program: Program | None
    files: dict[str, bytes]
    reason: str | None = None
    formats: dict[str, LayerFormats] | None = None  # per array layer


def file_stem(index: int, name: str) -> str:
    """The per-layer file name stem the bitstream, weights and bias share; numbered as the report's rows (the
    terminal's ``#``, from 1), while ``index`` is the report's 0-based position, as the bitstream header holds it."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "layer"
    return f"{index + 1:03d}_{safe}"


def _why_not(graph: nx.DiGraph, layers: list[tuple[int, str, bool]], hw: Hardware) -> str | None:
    if graph.graph.get("path") is None:
        return "the model was given as an in-memory proto: compile it from its file to get a runnable program"
    if hw.source is None:
        return "the hardware description has no file form to store with the program"
    for _, name, mapped in layers:
        if not mapped:
            return f"layer '{name}' has no mapping"
        reason = not_runnable(graph, name)
        if reason:
            return f"layer '{name}': {reason}"
    return None


def _plan(graph: nx.DiGraph, layers: list[tuple[int, str, bool]],
          shapes: dict) -> tuple[list[Any], dict[str, LayerOperands], onnx.ModelProto]:
    """Steps in execution order (array layers still without formats), their operands and the host model."""
    index_of = {name: index for index, name, _ in layers}
    operands = {name: layer_operands(graph, name, shapes) for name in index_of}
    host = host_model(graph, {op.output for op in operands.values()})
    steps: list[Any] = []
    host_index = 0
    for key, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["order"]):
        if data["kind"] == "array":
            steps.append(key)
        else:
            node = data["protos"][0]
            steps.append(HostStep(host_index, key, node.op_type, tuple(node.input), tuple(o for o in node.output if o)))
            host_index += 1
    return steps, operands, host


def _samples(graph: nx.DiGraph, calibration: str | os.PathLike | None, batch: int,
             shapes: dict) -> tuple[list[dict[str, np.ndarray]], int, str]:
    """Calibration chunks of ``batch`` samples, the headroom bits, and where they came from."""
    names = [name for name, _ in graph.graph["inputs"]]
    per_sample = max(int(np.prod(shape[1:])) for shape in shapes.values() if len(shape) > 1) if shapes else 1
    limit = max(1, MAX_FORMAT_VALUES // max(1, per_sample) // batch)  # chunks
    if calibration is None:
        rng = np.random.default_rng(0)
        count = -(-DEFAULT_SAMPLES // batch)
        arrays = {name: rng.standard_normal((count * batch, *shapes[name][1:])).astype(np.float32) for name in names}
        source = f"default: {count * batch} seeded N(0, 1) input sample(s), {DEFAULT_HEADROOM} bit of headroom"
        headroom = DEFAULT_HEADROOM
    else:
        values = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, list(shapes[n])) for n in names]
        arrays = load_samples(calibration, values)
        count = next(iter(arrays.values())).shape[0] // batch
        if count < 1:
            raise InputError(f"give at least {batch} calibration samples (the compiled batch)", str(calibration))
        source, headroom = f"calibration: {os.path.basename(str(calibration))}", 0
    for name, array in arrays.items():
        if array.shape[1:] != shapes[name][1:]:
            raise InputError(f"calibration input '{name}' has samples of shape {list(array.shape[1:])}, the model "
                             f"takes {list(shapes[name][1:])}", str(calibration))
        if not np.isfinite(array).all():
            raise InputError(f"calibration input '{name}' holds NaN or Inf values", str(calibration))
    count = min(count, limit)
    chunks = [{name: arrays[name][k * batch:(k + 1) * batch] for name in names} for k in range(count)]
    if calibration is not None:
        source += f", {count * batch} sample(s) used"
    return chunks, headroom, source


def _layer_formats(step: ArrayStep, op: LayerOperands, weights: np.ndarray, fx: int, chunks: list[dict],
                   headroom: int):
    """The finest filter and ofmap formats whose write-back holds every sample; the quantized weights and bias."""
    fw = frac_for(max(abs(float(weights.min())), abs(float(weights.max()))) if weights.size else 0.0)
    words = np.concatenate([chunk[step.input] for chunk in chunks])  # every sample in one convolution
    while True:
        w, _ = quantize(weights, fw)
        bias = np.rint(np.ldexp(op.bias, fx + fw)).astype(np.int64)
        acc = accumulate(step, w, words)
        per_filter = (0, *range(2, acc.ndim))  # extremes per output channel, then its bias: no wide copy
        wide_low = int((acc.min(axis=per_filter) + bias).min())
        wide_high = int((acc.max(axis=per_filter) + bias).max())
        if op.relu:
            wide_low = max(wide_low, 0)
        if op.upper is not None:
            wide_high = min(wide_high, int(np.ceil(np.ldexp(op.upper, fx + fw))))
        shift = max(shift_for(wide_low, wide_high, headroom), fx + fw - MAX_FRAC)
        if shift <= MAX_SHIFT or fw <= MIN_FRAC:
            break
        fw -= shift - MAX_SHIFT  # the 5-bit shift field cannot reach: coarser weights
    formats = LayerFormats(fx, fw, max(MIN_FRAC, fx + fw - min(shift, MAX_SHIFT)))
    return formats, w, bias, np.split(acc, len(chunks))


def _upper_words(upper: float | None, frac: int) -> int | None:
    return None if upper is None else int(min(2**15 - 1, np.floor(np.ldexp(upper, frac))))


def _choose(graph: nx.DiGraph, steps: list[Any], operands: dict[str, LayerOperands], host: HostRunner,
            chunks: list[dict], headroom: int, layers: dict[str, tuple[int, Any]],
            free: Any) -> tuple[list[Any], dict[str, int], dict[str, bytes], dict]:
    """Walk the program over all chunks at once, fixing each tensor's format as it is produced.

    A layer's real weights are read at its step and dropped after it; only their .npy bytes are kept."""
    formats: dict[str, int] = {}
    for name in list(chunks[0]):
        formats[name] = frac_for(max(float(np.abs(c[name]).max()) for c in chunks), headroom)
        for chunk in chunks:
            chunk[name] = quantize(chunk[name], formats[name])[0]
    done, weights, biases = [], {}, {}
    for position, step in enumerate(steps):
        if isinstance(step, HostStep):
            done.append(step)
            _host_formats(step, host, chunks, formats, headroom)
            free(position)
            continue
        op, (index, layer) = operands[step], layers[step]
        stem = file_stem(index, step)
        array = ArrayStep(index, step, layer, op.input, op.input_shape, op.output, op.output_shape, op.relu, None,
                          LayerFormats(formats[op.input], 0, 0), f"bitstreams/{stem}.bin",
                          f"{PROGRAM_DIR}/weights/{stem}.npy", f"{PROGRAM_DIR}/bias/{stem}.npy")
        fmt, words, biases[step], accs = _layer_formats(array, op, layer_weights(graph, step), formats[op.input],
                                                        chunks, headroom)
        weights[step] = npy_bytes(words)
        del words
        upper = _upper_words(op.upper, fmt.ofmap)
        array = ArrayStep(*[getattr(array, f) for f in ("index", "name", "layer", "input", "input_shape", "output",
                                                       "output_shape", "relu")], upper, fmt, array.bitstream,
                          array.weights, array.bias)
        formats[op.output] = fmt.ofmap
        for chunk, acc in zip(chunks, accs):
            chunk[op.output] = write_back(acc, biases[step], fmt.shift, op.relu, upper)[0].reshape(op.output_shape)
        done.append(array)
        free(position)
    return done, formats, weights, biases


def _host_formats(step: HostStep, host: HostRunner, chunks: list[dict], formats: dict[str, int],
                  headroom: int) -> None:
    probe = Program("", "", "", 0, 1, (), (), formats, (), "")
    results = [host.run(step.node, host_feeds(step, probe, chunk)) for chunk in chunks]
    for name in results[0]:
        if results[0][name].dtype.kind != "f":
            for chunk, result in zip(chunks, results):
                chunk[name] = result[name]
            continue
        peak = max(float(np.abs(r[name]).max()) if r[name].size else 0.0 for r in results)
        if not np.isfinite(peak):
            raise InputError(f"host node '{step.name}' computes NaN or Inf on the calibration samples")
        formats[name] = frac_for(peak, headroom)
        for chunk, result in zip(chunks, results):
            chunk[name] = quantize(result[name], formats[name])[0]


def _free(chunks: list[dict], steps: list[Any], operands: dict[str, LayerOperands], position: int,
          keep: set[str]) -> None:
    """Drop the tensors no later step reads (the walk holds every sample of a tensor at once)."""
    later = set(keep)
    for step in steps[position + 1:]:
        later.update(step.inputs if isinstance(step, HostStep) else (operands[step].input,))
    for chunk in chunks:
        for name in [n for n in chunk if n not in later]:
            del chunk[name]


def build_program(graph: nx.DiGraph, layers: list[tuple[int, str, bool]], hw: Hardware, batch: int,
                  calibration: str | os.PathLike | None = None) -> Built:
    """The runnable program of a compiled network; ``layers``: (report index, name, mapped) in order."""
    reason = _why_not(graph, layers, hw)
    if reason:
        return Built(None, {}, reason)
    shapes = tensor_shapes(graph)
    steps, operands, model = _plan(graph, layers, shapes)
    host = HostRunner(model)
    chunks, headroom, source = _samples(graph, calibration, batch, shapes)
    outputs = {name for name, _ in graph.graph["outputs"]}
    shape_of = {name: graph.nodes[name]["layer"] for _, name, _ in layers}
    index_of = {name: (index, shape_of[name]) for index, name, _ in layers}
    done, formats, weights, biases = _choose(graph, steps, operands, host, chunks, headroom, index_of,
                                             lambda position: _free(chunks, steps, operands, position, outputs))
    program = Program(graph.graph["name"], graph.graph["sha256"], hw.name, layout_id(hw), batch,
                      tuple(TensorSpec(name, shapes[name]) for name, _ in graph.graph["inputs"]),
                      tuple(TensorSpec(name, shapes[name]) for name, _ in graph.graph["outputs"] if name in shapes),
                      formats, tuple(done), source, describe(graph.graph.get("weights_seed")))
    missing = [spec.name for spec in program.outputs if spec.name not in formats]
    if missing or len(program.outputs) != len(graph.graph["outputs"]):
        return Built(None, {}, f"the network output {missing[0] if missing else '?'} is not a float tensor of "
                               "known shape")
    files = {PROGRAM_FILE: program.to_bytes(), HOST_FILE: model.SerializeToString(deterministic=True),
             HARDWARE_FILE: yaml.safe_dump(dict(hw.source), sort_keys=True).encode()}
    for step in program.array_steps:
        files[step.weights] = weights.pop(step.name)
        files[step.bias] = npy_bytes(biases[step.name])
    reference = _reference_bytes(graph)
    if reference is not None:
        files[REFERENCE_FILE] = reference
    return Built(program, files, None, {step.name: step.formats for step in program.array_steps})


def _reference_bytes(graph: nx.DiGraph) -> bytes | None:
    """The float model's own bytes, kept for ``run --reference`` when small and self-contained."""
    path, seed = graph.graph["path"], graph.graph.get("weights_seed")
    if os.path.getsize(path) > MAX_REFERENCE_BYTES:
        return None
    data = open(path, "rb").read()
    model = onnx.load_model_from_string(data)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        return None
    if seed is None:
        return data
    if seeded_bytes(model, path) > MAX_REFERENCE_BYTES:  # a large seeded model is not drawn just to be dropped
        return None
    return with_seeded_weights(model, seed, path).SerializeToString(deterministic=True)
