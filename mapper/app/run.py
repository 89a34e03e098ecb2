"""``mapper.run``: a compiled folder run as the chip runs it, optionally against the float model in onnxruntime.

The folder is checked first (every file against its manifest hash, the
program's schema, the hardware it was made for, each weight and bitstream
against the program); then each array layer's bitstream is decoded and the
simulated array is configured from what it reads back.  Inputs are float
samples along the first axis, run in batches of the compiled batch size.
docs/run.md describes the folder, the numeric rules and the command.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from cost_models.errors import InputError, foreign_message
from cost_models.files import checked_size, read_bounded
from cost_models.hardware import hardware_from_dict, parse_yaml
from frontends.arrays import read_arrays
from mapper.app.execute import BACKENDS, ProgramData, execute
from mapper.app.host import HostRunner
from mapper.app.outdir import read_unverified, read_verified
from mapper.app.program import HARDWARE_FILE, HOST_FILE, PROGRAM_FILE, REFERENCE_FILE, Program, npy_array, \
    program_from_bytes
from mapper.chip.bitstream import decode, layout_id
from mapper.chip.fixedpoint import dequantize

MAX_INPUT_BYTES = 2**31  # assumed, as for calibration samples: a few thousand images
LABELS = "labels"


@dataclass(frozen=True)
class LayerComparison:
    """One array layer's ofmap on the chip against the float model's, over every input."""

    name: str
    sqnr_db: float | None  # None: no float figure to compare (or the layer's float output is all zero)
    saturations: int  # ofmap words that saturated at write-back


@dataclass(frozen=True)
class OutputComparison:
    """The network output on the chip against onnxruntime's float output."""

    name: str
    sqnr_db: float | None  # inf when they are equal
    max_abs_error: float
    top1_agreement: float | None  # share of inputs whose top class is the same (class-vector outputs)
    top5_agreement: float | None  # share of inputs whose five top classes are the same set


@dataclass(frozen=True)
class RunResult:
    """What ``run`` computed: the outputs (float, from the chip's words) and, with a reference, the comparison."""

    outputs: dict[str, np.ndarray]
    saturations: dict[str, int]
    seconds_per_batch: float
    batches: int
    backend: str
    layers: tuple[LayerComparison, ...] = ()
    output: OutputComparison | None = None
    reference_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    accuracy: dict[str, float] | None = None  # with labels: top-1 accuracy of "chip" and of "reference"

    def top5(self, name: str | None = None) -> np.ndarray | None:
        """Per input, the five highest classes (a class-vector output), best first."""
        value = self.outputs[name or next(iter(self.outputs))]
        if value.ndim != 2 or value.shape[1] < 2:
            return None
        return np.argsort(-value, axis=1, kind="stable")[:, :5]


def load_program(outdir: str | os.PathLike, check_hashes: bool = True) -> ProgramData:
    """The folder's program with its weights, decoded bitstreams and host nodes, every part checked."""
    out = Path(outdir)
    where = str(out)
    files = read_verified(out) if check_hashes else read_unverified(out)
    if PROGRAM_FILE not in files:
        raise InputError("holds no program (compiled from a shape-only model, or by an older eyeriss; "
                         "its report.json says why under 'program')", where)
    program = program_from_bytes(files[PROGRAM_FILE], f"{where}/{PROGRAM_FILE}")
    hw = hardware_from_dict(parse_yaml(files[HARDWARE_FILE].decode("utf-8", "replace"), HARDWARE_FILE),
                            f"{where}/{HARDWARE_FILE}")
    if layout_id(hw) != program.layout_id:
        raise InputError(f"the program was made for hardware '{program.hardware}' (layout {program.layout_id:#010x}), "
                         f"its hardware file describes layout {layout_id(hw):#010x}", where)
    host = HostRunner(_host_model(files[HOST_FILE], where))
    data = ProgramData(program, hw, {}, {}, {}, host)
    for step in program.array_steps:
        _load_layer(data, step, files, where)
    return data


def _host_model(data: bytes, where: str) -> onnx.ModelProto:
    try:
        return onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf's decode errors vary by version
        raise InputError(f"{HOST_FILE} is not an ONNX model", where) from None


def _load_layer(data: ProgramData, step, files: dict[str, bytes], where: str) -> None:
    L = step.layer
    for name in (step.bitstream, step.weights, step.bias):
        if name not in files:
            raise InputError(f"layer '{step.name}': {name} is not in the folder's manifest", where)
    weights = npy_array(files[step.weights], f"{where}/{step.weights}")
    bias = npy_array(files[step.bias], f"{where}/{step.bias}")
    if weights.dtype != np.int16 or weights.shape != (L.M, L.Cg, L.R, L.S):
        raise InputError(f"layer '{step.name}': weights are {weights.dtype} {list(weights.shape)}, the layer needs "
                         f"int16 {[L.M, L.Cg, L.R, L.S]}", f"{where}/{step.weights}")
    if bias.dtype != np.int64 or bias.shape != (L.M,):
        raise InputError(f"layer '{step.name}': bias is {bias.dtype} {list(bias.shape)}, the layer needs int64 "
                         f"[{L.M}]", f"{where}/{step.bias}")
    config = decode(files[step.bitstream], data.hardware, where=f"{where}/{step.bitstream}").config
    if config.layer != L:
        raise InputError(f"layer '{step.name}': its bitstream configures another layer shape than the program's",
                         f"{where}/{step.bitstream}")
    if config.shift != step.formats.shift:
        raise InputError(f"layer '{step.name}': its bitstream's shift {config.shift} differs from the program's "
                         f"{step.formats.shift}", f"{where}/{step.bitstream}")
    data.weights[step.name], data.biases[step.name], data.configs[step.name] = weights, bias, config


# ---------------------------------------------------------------- inputs
def load_inputs(source: str | os.PathLike | dict[str, np.ndarray], program: Program
                ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The float inputs per network input (samples along the first axis) and labels if given; checked."""
    where = str(source) if not isinstance(source, dict) else "inputs"
    arrays = _read_arrays(source, program, where) if not isinstance(source, dict) else dict(source)
    labels = arrays.pop(LABELS, None)
    names = [spec.name for spec in program.inputs]
    unknown = sorted(set(arrays) - set(names))
    if unknown:
        raise InputError(f"no network input is named {unknown[0][:80]!r} (inputs: {', '.join(names)})", where)
    missing = [name for name in names if name not in arrays]
    if missing:
        raise InputError(f"no array for network input(s) {', '.join(missing)}", where)
    out = {spec.name: _checked_input(arrays[spec.name], spec, program.batch, where) for spec in program.inputs}
    counts = {array.shape[0] for array in out.values()}
    if len(counts) != 1:
        raise InputError(f"the inputs hold different numbers of samples: {sorted(counts)}", where)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" or labels.shape != (next(iter(counts)),):
            raise InputError(f"'{LABELS}' must be integers, one per sample, got {labels.dtype} {list(labels.shape)}",
                             where)
    return out, labels


def _read_arrays(path: str | os.PathLike, program: Program, where: str) -> dict[str, np.ndarray]:
    checked_size(path, MAX_INPUT_BYTES, "inputs (.npy/.npz)")
    loaded = read_arrays(path, MAX_INPUT_BYTES, "inputs (.npy/.npz)")  # object arrays refused, never unpickled
    if isinstance(loaded, np.ndarray):
        if len(program.inputs) != 1:
            raise InputError(f"the network has {len(program.inputs)} inputs: give an .npz with one array per "
                             "input name", where)
        return {program.inputs[0].name: loaded}
    return loaded


def _checked_input(array: np.ndarray, spec, batch: int, where: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise InputError(f"input '{spec.name}': dtype {array.dtype} is not a real number type", where)
    if array.ndim != len(spec.shape) or array.shape[1:] != spec.shape[1:]:
        raise InputError(f"input '{spec.name}': samples of shape {list(array.shape)}, the network takes "
                         f"[K, {', '.join(str(d) for d in spec.shape[1:])}]", where)
    if array.shape[0] < 1 or array.shape[0] % batch:
        raise InputError(f"input '{spec.name}': {array.shape[0]} samples; give a positive multiple of the compiled "
                         f"batch {batch}", where)
    with np.errstate(over="ignore", invalid="ignore"):  # a float64 of 1e300 is inf in float32: refused below
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"input '{spec.name}' holds NaN or Inf values (as float32, what the network reads)", where)
    return array


# ---------------------------------------------------------------- the run and the comparison
class _Sums:
    """Running signal and noise energy of one tensor over the batches."""

    def __init__(self) -> None:
        self.signal, self.noise = 0.0, 0.0

    def add(self, reference: np.ndarray, chip: np.ndarray) -> None:
        ref = reference.astype(np.float64).reshape(-1)
        self.signal += float(ref @ ref)
        diff = ref - chip.astype(np.float64).reshape(-1)
        self.noise += float(diff @ diff)

    @property
    def sqnr_db(self) -> float | None:
        if self.signal == 0.0:
            return None
        return math.inf if self.noise == 0.0 else 10 * math.log10(self.signal / self.noise)


def reference_session(model: bytes, outputs: list[str]):
    """onnxruntime on the float model, fetching ``outputs`` (the array layers' and the network's)."""
    import onnxruntime as ort

    proto = onnx.load_model_from_string(model)
    listed = {value.name for value in proto.graph.output}
    proto.graph.output.extend(onnx.ValueInfoProto(name=name) for name in outputs if name not in listed)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise InputError(f"onnxruntime cannot run the reference model: {foreign_message(error)}") from None


def _reference_model(data: ProgramData, files_dir: Path, reference: bool | str | os.PathLike) -> bytes:
    """The float model's bytes: the folder's copy, or the file given, which must be the model compiled."""
    if reference is True:
        path = files_dir / REFERENCE_FILE
        if not path.exists():
            raise InputError("the folder keeps no copy of the float model (it was large or had external data): "
                             "give it with --reference MODEL.onnx", str(files_dir))
        return read_bounded(path, 2**31, "reference model")
    model = read_bounded(reference, 2**31, "reference model")
    if hashlib.sha256(model).hexdigest() != data.program.model_sha256:
        raise InputError("is not the model this folder was compiled from (its sha256 differs)", str(reference))
    return model


def run(outdir: str | os.PathLike, inputs: str | os.PathLike | dict[str, np.ndarray],
        reference: bool | str | os.PathLike = False, backend: str = "chip",
        data: ProgramData | None = None) -> RunResult:
    """Run the compiled folder on ``inputs`` (.npy/.npz path or arrays by input name, optional ``labels``)."""
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {str(backend)[:40]!r}")
    data = data or load_program(outdir)
    program = data.program
    arrays, labels = load_inputs(inputs, program)
    count = next(iter(arrays.values())).shape[0]
    layer_outputs = [step.output for step in program.array_steps]
    session = None
    if reference:
        session = reference_session(_reference_model(data, Path(outdir), reference),
                                    layer_outputs + [spec.name for spec in program.outputs])
    sums = {name: _Sums() for name in layer_outputs}
    chip_out: dict[str, list[np.ndarray]] = {spec.name: [] for spec in program.outputs}
    ref_out: dict[str, list[np.ndarray]] = {spec.name: [] for spec in program.outputs}
    saturations: dict[str, int] = {}
    start = time.perf_counter()
    for first in range(0, count, program.batch):
        chunk = {name: array[first:first + program.batch] for name, array in arrays.items()}
        result = execute(data, chunk, backend, keep=set(layer_outputs) if session else None)
        for name, value in result.saturations.items():
            saturations[name] = saturations.get(name, 0) + value
        for name in chip_out:
            chip_out[name].append(dequantize(result.values[name], program.formats[name]))
        if session is not None:
            _compare_batch(session, chunk, result.values, program, sums, ref_out)
    seconds = (time.perf_counter() - start) / max(1, count // program.batch)
    outputs = {name: np.concatenate(parts) for name, parts in chip_out.items()}
    refs = {name: np.concatenate(parts) for name, parts in ref_out.items() if parts}
    return _result(program, outputs, refs, saturations, seconds, count // program.batch, backend, sums, labels)


def _compare_batch(session, chunk: dict[str, np.ndarray], values: dict[str, np.ndarray], program: Program,
                   sums: dict[str, _Sums], ref_out: dict[str, list[np.ndarray]]) -> None:
    names = list(sums) + [name for name in ref_out if name not in sums]
    try:
        floats = dict(zip(names, session.run(names, chunk)))
    except Exception as error:  # onnxruntime raises its own exception types
        raise InputError(f"onnxruntime could not run the inputs: {foreign_message(error)}") from None
    for name, total in sums.items():
        total.add(np.asarray(floats[name]), dequantize(values[name], program.formats[name]))
    for name in ref_out:
        ref_out[name].append(np.asarray(floats[name], dtype=np.float32))


def _result(program: Program, outputs: dict, refs: dict, saturations: dict, seconds: float, batches: int,
            backend: str, sums: dict[str, _Sums], labels: np.ndarray | None) -> RunResult:
    layers = tuple(LayerComparison(step.name, sums[step.output].sqnr_db if refs else None,
                                   saturations.get(step.name, 0)) for step in program.array_steps)
    name = program.outputs[0].name
    output = _output_comparison(name, outputs[name], refs[name]) if refs else None
    accuracy = None
    if labels is not None and outputs[name].ndim == 2:
        accuracy = {"chip": float(np.mean(np.argmax(outputs[name], axis=1) == labels))}
        if refs:
            accuracy["reference"] = float(np.mean(np.argmax(refs[name], axis=1) == labels))
    return RunResult(outputs, saturations, seconds, batches, backend, layers, output, refs, accuracy)


def _output_comparison(name: str, chip: np.ndarray, ref: np.ndarray) -> OutputComparison:
    total = _Sums()
    total.add(ref, chip)
    error = float(np.abs(ref.astype(np.float64) - chip).max()) if ref.size else 0.0
    top1 = top5 = None
    if chip.ndim == 2 and chip.shape[1] >= 2:
        order_chip = np.argsort(-chip, axis=1, kind="stable")
        order_ref = np.argsort(-ref, axis=1, kind="stable")
        top1 = float(np.mean(order_chip[:, 0] == order_ref[:, 0]))
        k = min(5, chip.shape[1])
        top5 = float(np.mean([set(a[:k]) == set(b[:k]) for a, b in zip(order_chip, order_ref)]))
    return OutputComparison(name, total.sqnr_db, error, top1, top5)
