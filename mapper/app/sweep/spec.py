"""The sweep specification: a YAML file, validated like the hardware files (one error per bad field, named).

    base: eyeriss.yaml              # a hardware file (relative to the spec), or "eyeriss" for the bundled chip
    vary:                           # dotted fields of the hardware file: a list, or a range
      array.rows: [8, 12, 16]
      glb.banks: {from: 16, to: 64, step: 16}
    networks:
      - {model: ../examples/alexnet.onnx, batch: 4}    # batch: an integer or auto
      - {model: dynamic.onnx, input_shapes: {x: [1, 3, 64, 64]}}  # --input-shape, per graph input (optional)
    objective: energy               # energy | latency | edp
    mapping_space: full             # full | jssc (the chip team's mapping rules, cost_models.rules; optional)
    constraints:                    # optional; a point breaking one is infeasible, with the reason
      max_area_mm2: 20
      max_latency_ms: 50            # per network (or {network name: ms})
      max_power_mw: 400
    time_limit: 60                  # search seconds per distinct layer (optional)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost_models.errors import InputError
from cost_models.files import checked_path_text
from cost_models.hardware import SCHEMA, Hardware, load_hardware, parse_yaml, default_hardware
from cost_models.rowstationary import OBJECTIVES
from cost_models.rules import DEFAULT_SPACE, SPACES

TOP = ("base", "vary", "networks", "objective", "constraints", "time_limit", "mapping_space")
CONSTRAINTS = ("max_area_mm2", "max_latency_ms", "max_power_mw")
MAX_POINTS = 100_000      # assumed: beyond this a sweep is a typo in a range, not a plan
MAX_SPEC_BYTES = 1 << 20
MAX_BATCH = 1024


class SpecError(InputError):
    """A sweep specification we refuse."""


@dataclass(frozen=True)
class Network:
    model: Path
    batch: int | str | None    # an int, or "auto"; None: the model's (only with input_shapes)
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # compile's --input-shape (frontends.input_shapes)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]] | None:
        """``input_shapes`` as load_onnx and compile_model take it (None: the model's own)."""
        return dict(self.input_shapes) or None

    @property
    def name(self) -> str:
        return self.model.stem


@dataclass(frozen=True)
class Spec:
    source: str
    base: Hardware
    base_file: dict[str, Any]              # the parsed base hardware file, the layout points edit
    vary: tuple[tuple[str, tuple[int, ...]], ...]
    networks: tuple[Network, ...]
    objective: str
    max_area_mm2: float | None
    max_latency_ms: tuple[tuple[str, float], ...]   # (network name or "*", ms)
    max_power_mw: float | None
    time_limit: float
    mapping_space: str = DEFAULT_SPACE  # every layer is searched in it (cost_models.rules)

    def latency_bound(self, network: str) -> float | None:
        bounds = dict(self.max_latency_ms)
        return bounds.get(network, bounds.get("*"))


def varyable_fields() -> list[str]:
    """Every integer field of the hardware file (the cost model reads each; see cost_models.hardware)."""
    out: list[str] = []

    def walk(node: dict, prefix: str) -> None:
        for key, sub in node.items():
            if isinstance(sub, dict):
                walk(sub, f"{prefix}{key}.")
            elif sub[0] == "int" and key != "word_bits":   # only 16-bit words are modelled
                out.append(prefix + key)

    walk(SCHEMA, "")
    return out


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"must be an integer, got {value!r}", where)
    return value


def _values(field: str, node: Any, where: str) -> tuple[int, ...]:
    if isinstance(node, list):
        if not node:
            raise SpecError("must list at least one value", where)
        values = tuple(_int(v, f"{where}[{i}]") for i, v in enumerate(node))
    elif isinstance(node, dict):
        extra = sorted(set(map(str, node)) - {"from", "to", "step"})
        if extra or "from" not in node or "to" not in node:
            raise SpecError("a range is {from: A, to: B, step: S} (step optional, default 1)", where)
        start, stop = _int(node["from"], f"{where}.from"), _int(node["to"], f"{where}.to")
        step = _int(node.get("step", 1), f"{where}.step")
        if step < 1 or stop < start:
            raise SpecError(f"empty range from {start} to {stop} step {step}", where)
        count = (stop - start) // step + 1  # counted, never listed: a range of 10^9 is refused before any work
        if count > MAX_POINTS:
            raise SpecError(f"{count} values; at most {MAX_POINTS}", where)
        values = tuple(range(start, stop + 1, step))
    else:
        values = (_int(node, where),)
    if len(set(values)) != len(values):
        raise SpecError("lists a value twice", where)
    return values


def _vary(node: Any, where: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if not isinstance(node, dict) or not node:
        raise SpecError("must map hardware fields (e.g. array.rows) to a list or a range", where)
    allowed = varyable_fields()
    out = []
    for field, values in node.items():
        if field not in allowed:
            raise SpecError(f"not a hardware field the sweep can vary (one of: {', '.join(allowed)})",
                            f"{where}.{field}")
        out.append((field, _values(field, values, f"{where}.{field}")))
    if math.prod(len(v) for _, v in out) > MAX_POINTS:
        raise SpecError(f"{math.prod(len(v) for _, v in out)} design points; at most {MAX_POINTS}", where)
    return tuple(out)


def _networks(node: Any, folder: Path, where: str) -> tuple[Network, ...]:
    if not isinstance(node, list) or not node:
        raise SpecError("must list at least one {model: FILE.onnx, batch: N or auto}", where)
    out = []
    for i, item in enumerate(node):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"model": item}
        if not isinstance(item, dict) or "model" not in item or set(map(str, item)) - {"model", "batch",
                                                                                      "input_shapes"}:
            raise SpecError("must be {model: FILE.onnx, batch: N or auto, input_shapes: {NAME: [D, ...]}}", at)
        if not isinstance(item["model"], str) or not item["model"]:
            raise SpecError("must be a file name", f"{at}.model")
        path = (folder / checked_path_text(item["model"], "model file", f"{at}.model")).resolve()
        if not path.is_file():
            raise SpecError("no such file", f"{at}.model")
        shapes = _input_shapes(item.get("input_shapes"), f"{at}.input_shapes")
        # Without a batch, one the input shapes give a symbolic batch is the batch (load_onnx); else 1.
        batch = item.get("batch", None if shapes else 1)
        if batch is not None and batch != "auto":
            batch = _int(batch, f"{at}.batch")
            if not 1 <= batch <= MAX_BATCH:
                raise SpecError(f"must be between 1 and {MAX_BATCH} or auto", f"{at}.batch")
        out.append(Network(path, batch, shapes))
    names = [n.name for n in out]
    if len(set(names)) != len(names):
        raise SpecError("two networks share a file name; results are keyed by it", where)
    return tuple(out)


def _input_shapes(node: Any, where: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """A network's ``input_shapes``: graph input name -> its whole shape, as compile's --input-shape."""
    from frontends.input_shapes import InputShapeError, input_shape_map

    if node is None:
        return ()
    if not isinstance(node, dict) or not node:
        raise SpecError("must map graph input names to their shapes, e.g. {x: [1, 3, 64, 64]}", where)
    if any(not isinstance(dims, list) for dims in node.values()):
        raise SpecError("each shape must be a list of integers, e.g. [1, 3, 64, 64]", where)
    try:
        return tuple(input_shape_map({str(name): dims for name, dims in node.items()}).items())
    except InputShapeError as error:
        raise SpecError(error.message, where) from None


def _positive(node: Any, where: str) -> float:
    if not isinstance(node, (int, float)) or isinstance(node, bool) or not math.isfinite(node) or node <= 0:
        raise SpecError(f"must be a positive number, got {node!r}", where)
    return float(node)


def _constraints(node: Any, networks: tuple[Network, ...], where: str) -> tuple[Any, ...]:
    if node is None:
        return None, (), None
    if not isinstance(node, dict):
        raise SpecError(f"must map {', '.join(CONSTRAINTS)} to numbers", where)
    extra = sorted(str(k) for k in node if k not in CONSTRAINTS)
    if extra:
        raise SpecError(f"unknown constraint (expected one of: {', '.join(CONSTRAINTS)})", f"{where}.{extra[0]}")
    area = _positive(node["max_area_mm2"], f"{where}.max_area_mm2") if "max_area_mm2" in node else None
    power = _positive(node["max_power_mw"], f"{where}.max_power_mw") if "max_power_mw" in node else None
    latency: list[tuple[str, float]] = []
    bound = node.get("max_latency_ms")
    if isinstance(bound, dict):
        known = {n.name for n in networks}
        for name, ms in bound.items():
            if name not in known:
                raise SpecError(f"names no network (networks: {', '.join(sorted(known))})",
                                f"{where}.max_latency_ms.{name}")
            latency.append((str(name), _positive(ms, f"{where}.max_latency_ms.{name}")))
    elif bound is not None:
        latency.append(("*", _positive(bound, f"{where}.max_latency_ms")))
    return area, tuple(latency), power


def _base(node: Any, folder: Path, where: str) -> tuple[Hardware, dict[str, Any]]:
    if node is None or node == "eyeriss":
        hw = default_hardware()
    elif isinstance(node, str) and node:
        hw = load_hardware(folder / checked_path_text(node, "hardware file", where))
    else:
        raise SpecError("must be a hardware file name or eyeriss", where)
    return hw, hw.as_dict()


def spec_from_dict(data: Any, folder: Path, where: str) -> Spec:
    """Validate a parsed spec; paths in it are relative to ``folder``."""
    if not isinstance(data, dict):
        raise SpecError("must be a mapping", where)
    extra = sorted(str(k) for k in data if k not in TOP)
    if extra:
        raise SpecError(f"unknown field (expected one of: {', '.join(TOP)})", f"{where}: {extra[0]}")
    for required in ("vary", "networks"):
        if required not in data:
            raise SpecError("missing field", f"{where}: {required}")
    base, base_file = _base(data.get("base"), folder, f"{where}: base")
    networks = _networks(data["networks"], folder, f"{where}: networks")
    objective = data.get("objective", "energy")
    if objective not in OBJECTIVES:
        raise SpecError(f"must be one of {', '.join(OBJECTIVES)}, got {objective!r}", f"{where}: objective")
    space = data.get("mapping_space", DEFAULT_SPACE)
    if space not in SPACES:
        raise SpecError(f"must be one of {', '.join(SPACES)}, got {space!r}", f"{where}: mapping_space")
    area, latency, power = _constraints(data.get("constraints"), networks, f"{where}: constraints")
    return Spec(where, base, base_file, _vary(data["vary"], f"{where}: vary"), networks, objective, area,
                latency, power, _positive(data.get("time_limit", 60.0), f"{where}: time_limit"), space)


def load_spec(path: str | Path) -> Spec:
    """Read and validate a sweep spec file (the hardware files' strict YAML loader)."""
    from cost_models.files import read_text_bounded

    path = Path(path)
    text = read_text_bounded(path, MAX_SPEC_BYTES, "sweep spec")
    return spec_from_dict(parse_yaml(text, str(path)), path.resolve().parent, str(path))
