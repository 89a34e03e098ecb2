"""A compiled folder's own bitstreams, decoded and checked: what ``eyeriss simulate`` proves.

The compile wrote one bitstream per array layer and a report that says what
each one configures.  Checking the folder means reading every file against
its manifest hash, decoding each shipped bitstream (CRC, layout, field
ranges), comparing what it decodes to with the report's row (shape, mapping,
shift, layer number), and simulating the decoded configuration on the
folder's own int16 weights (seeded random ones when the folder holds no
program) and a seeded random ifmap, against the plain integer convolution
and the cost model's counts (mapper.chip.simulator.check_config).  A layer
that disagrees anywhere fails; nothing is mapped again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cost_models.errors import InputError
from cost_models.hardware import Hardware, default_hardware, hardware_from_dict, load_hardware, parse_yaml
from mapper.app.outdir import read_verified
from mapper.app.program import HARDWARE_FILE, PROGRAM_FILE, layer_dict, npy_array, program_from_bytes
from mapper.app.report import report_from_text
from mapper.chip.bitstream import Config, decode
from mapper.chip.simulator import check_config, random_operands

REPORT_FILE = "report.json"


@dataclass(frozen=True)
class ShippedLayer:
    """One array layer of a compiled folder: its row, its decoded bitstream, its weights."""

    index: int  # the report's layer index (the bitstream header's)
    name: str
    onnx_node: str
    file: str | None  # the bitstream's path in the folder; None: the layer has no mapping
    data: bytes | None  # the bitstream's bytes
    config: Config | None  # decoded; None when ``problem`` says why not
    weights: np.ndarray | None  # the program's int16 weights; None: the folder holds none (simulate draws them)
    problem: str | None  # why the layer fails before any simulation


@dataclass(frozen=True)
class ShippedFolder:
    model: str
    hardware: Hardware
    layers: tuple[ShippedLayer, ...]


def read_folder(outdir: str | Path, hardware: str | Path | None = None) -> ShippedFolder:
    """Every array layer of ``outdir`` decoded and compared with its report row (InputError: not a folder of ours,
    a file changed since the compile, an unreadable report or program)."""
    out = Path(outdir)
    where = str(out)
    files = read_verified(out)
    if REPORT_FILE not in files:
        raise InputError("holds no report.json", where)
    report = report_from_text(files[REPORT_FILE].decode("utf-8", "replace"), f"{where}/{REPORT_FILE}")
    hw = _hardware(files, hardware, where)
    weights = _program_weights(files, where)
    layers = tuple(_shipped(row, files, hw, weights, where) for row in report["layers"])
    model = report.get("model")
    return ShippedFolder(str(model.get("name", out.name) if isinstance(model, dict) else out.name), hw, layers)


def _hardware(files: dict[str, bytes], hardware: str | Path | None, where: str) -> Hardware:
    """The folder's own hardware file when it has one (a folder with a program), else ``hardware``."""
    if HARDWARE_FILE not in files:
        return load_hardware(hardware) if hardware else default_hardware()
    if hardware:
        raise InputError(f"the folder names its own hardware ({HARDWARE_FILE}); --hardware applies only to a folder "
                         "without a program", where)
    return hardware_from_dict(parse_yaml(files[HARDWARE_FILE].decode("utf-8", "replace"), HARDWARE_FILE),
                              f"{where}/{HARDWARE_FILE}")


def _program_weights(files: dict[str, bytes], where: str) -> dict[str, np.ndarray]:
    """Layer name -> the program's int16 weights (empty for a folder without a program)."""
    if PROGRAM_FILE not in files:
        return {}
    program = program_from_bytes(files[PROGRAM_FILE], f"{where}/{PROGRAM_FILE}")
    out = {}
    for step in program.array_steps:
        if step.weights not in files:
            raise InputError(f"layer '{step.name}': {step.weights} is not in the folder's manifest", where)
        out[step.name] = npy_array(files[step.weights], f"{where}/{step.weights}")
    return out


def _shipped(row: dict, files: dict[str, bytes], hw: Hardware, weights: dict[str, np.ndarray],
             where: str) -> ShippedLayer:
    name, index = str(row["name"]), row.get("index")
    node = str(row.get("onnx_node") or name)

    def failed(problem: str, file: str | None = None, data: bytes | None = None) -> ShippedLayer:
        return ShippedLayer(index, name, node, file, data, None, None, problem)

    if row.get("mapping") is None:
        return failed("no mapping in the report: " + str(row.get("solver", {}).get("status", "unmapped")))
    file = str(row["bitstream"].get("file"))
    if file not in files:
        return failed(f"{file} is not in the folder's manifest", file)
    data = files[file]
    try:
        decoded = decode(data, hw, where=f"{where}/{file}")
    except InputError as error:
        return failed(f"{file}: {error.message}", file, data)
    problem = disagreement(decoded.layer_index, decoded.config, row)
    if problem:
        return failed(f"{file}: {problem}", file, data)
    own = weights.get(name)
    L = decoded.config.layer
    if own is not None and (own.dtype != np.int16 or own.shape != (L.M, L.Cg, L.R, L.S)):
        return failed(f"the program's weights are {own.dtype} {list(own.shape)}, the bitstream's layer needs int16 "
                      f"{[L.M, L.Cg, L.R, L.S]}", file, data)
    return ShippedLayer(index, name, node, file, data, decoded.config, own, None)


def disagreement(header_index: int, config: Config, row: dict) -> str | None:
    """What a decoded bitstream configures that its report row does not say, or None."""
    if header_index != row.get("index"):
        return f"its header numbers layer {header_index}, the report's row is layer {row.get('index')}"
    shape = {k: v for k, v in layer_dict(config.layer).items() if k != "kind"}
    reported = {k: row["shape"].get(k) for k in shape}
    shape = json.loads(json.dumps(shape))  # tuples as lists, as the report holds them
    for key in shape:
        if shape[key] != reported[key]:
            return f"it configures {key} = {shape[key]}, the report says {reported[key]}"
    if config.layer.kind != row.get("kind"):
        return f"it configures a {config.layer.kind} layer, the report says {row.get('kind')}"
    mapping = {k: v for k, v in row["mapping"].items() if k != "placement"}
    for key, value in config.mapping.as_dict().items():
        if mapping.get(key) != value:
            return f"its mapping has {key} = {value}, the report's {key} = {mapping.get(key)}"
    shift = (row.get("formats") or {}).get("shift")
    if shift is not None and shift != config.shift:
        return f"its write-back shift is {config.shift}, the report's formats say {shift}"
    return None


def check_layer(layer: ShippedLayer, hw: Hardware, seed: int,
                operands: tuple[np.ndarray, np.ndarray, str] | None = None) -> tuple[dict, np.ndarray | None]:
    """Simulate one shipped layer's decoded configuration; the result row and the simulated accumulator.

    ``operands`` (weights, ifmap, their source) replace the folder's weights and the seeded ifmap (a rewritten
    node's parts are fed slices of one node-level draw, so that their results can be put back together)."""
    if layer.config is None:
        return {"name": layer.name, "file": layer.file, "matched": False, "reason": layer.problem}, None
    if operands is None:
        drawn_weights, ifmap = random_operands(layer.config.layer, seed + (layer.index or 0))
        weights, source = (layer.weights, "folder") if layer.weights is not None else (drawn_weights, "random")
    else:
        weights, ifmap, source = operands
    check = check_config(layer.config, hw, weights, ifmap)
    return {"name": layer.name, "file": layer.file, "matched": check.matched, "mapping": layer.config.mapping.as_dict(),
            "shift": layer.config.shift, "weights": source, "seconds": round(check.seconds, 3),
            "faults": check.faults, "macs": check.macs, "count_deltas": check.count_deltas}, check.accumulator
