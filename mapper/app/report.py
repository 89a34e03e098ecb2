"""The ``eyeriss-report/1`` document (docs/report.md): its writer and its reader, in one place.

The writer turns a compiled layer's cost into the report's per-layer entry and
(mapper.app.totals makes the network totals); the reader loads a report back and checks every key the
viewer relies on, so a damaged or foreign file is bad input, not a crash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from cost_models import figures
from cost_models.area import area
from cost_models.errors import InputError
from cost_models.files import read_text_bounded

if TYPE_CHECKING:  # the report's readers (eyeriss report, a compile from the output cache) load no cost model
    from cost_models.cost import Cost
    from cost_models.hardware import Hardware
    from mapper.search.result import LayerResult


SCHEMA = "eyeriss-report/1"
REPORT_FILE = "report.json"
BITSTREAM_DIR = "bitstreams"
# A layer is "far from its bounds" when its latency is more than this many times its
# roofline (lower_bound.roofline_cycles) or its DRAM traffic more than this many times
# the compulsory words (assumed: past 2x, more than half the layer's time or traffic is
# neither useful MACs nor data that every mapping must move, so it is worth a look).
FAR_FROM_BOUND = 2.0
SCHEMA_RE = re.compile(r"^eyeriss-report/(\d+)$")
READS = 1  # the newest schema version this viewer reads
MAX_REPORT_BYTES = 64 * 1024 * 1024  # ~20 000 layers at 3 kB each (assumed; the bundled models write under 200 kB); JSON parses at ~15 MB/s under load

# The keys the viewer relies on, per layer with a mapping and at the top level.
TOP_KEYS = {"schema": str, "model": dict, "batch": int, "objective": str, "hardware": dict, "layers": list,
            "host_ops": list, "totals": dict}
LAYER_KEYS = {"name": str, "op": str, "kind": str, "shape": dict, "macs": int, "solver": dict,
              "mapping": (dict, type(None))}
MAPPED_KEYS = {"active_pes": int, "passes": int, "energy": dict, "latency": dict,
               "accesses": dict, "spads": dict, "glb_banks": dict, "lower_bound": dict, "bitstream": dict}
# A layer's optimum in each mapping space (cost_models.rules; absent from reports written before them).
SPACE_KEYS = {"full": dict, "jssc": dict, "full_gain": (float, int, type(None))}
SPACE_RESULT_KEYS = {"status": str, "objective_value": (int, type(None)), "mapping": (dict, type(None))}




def spad_fill(cost: Cost) -> dict[str, list[int]]:
    """[used, capacity] of each scratchpad and buffer the mapping fills (the model's utilisation)."""
    return {name: [use.used, use.capacity] for name, use in cost.utilisation.items()}


def spaces_entry(spaces: dict[str, LayerResult] | None) -> dict[str, Any] | None:
    """The layer's optimum in each mapping space and ``full_gain``, the share of the chip-rule (jssc) optimum's
    objective that the full space saves (null when either space has no mapping)."""
    if spaces is None:
        return None
    out: dict[str, Any] = {space: {"status": r.status, "objective_value": r.objective_value,
                                   "mapping": r.mapping.as_dict() if r.mapping is not None else None,
                                   "reason": r.reason} for space, r in spaces.items()}
    full, jssc = spaces["full"].objective_value, spaces["jssc"].objective_value
    out["full_gain"] = round(1 - full / jssc, 6) if full is not None and jssc else None
    return out


def pinned_entry(layer: Any) -> dict[str, Any] | None:
    """A pinned layer's (``--mapping``) searched optimum and ``gain``, the share of the pinned mapping's objective
    the optimum saves (null when evaluated without a search, or when the search found no mapping); None for a
    searched layer.  ``layer``: a ``mapper.search.network.MappedLayer``."""
    if not layer.pinned:
        return None
    optimum = layer.optimum
    pinned = layer.result.objective_value
    gain = None
    if optimum is not None and optimum.objective_value is not None and pinned:
        gain = round(1 - optimum.objective_value / pinned, 6)
    return {"optimum": None if optimum is None else {
                "status": optimum.status, "objective_value": optimum.objective_value, "bound": optimum.bound,
                "mapping": optimum.mapping.as_dict() if optimum.mapping is not None else None,
                "reason": optimum.reason},
            "gain": gain}


def hardware_entry(hw: Hardware) -> dict[str, Any]:
    """The report's ``hardware`` object: identity, the file as parsed, and its area (cost_models.area)."""
    return {"name": hw.name, "pes": hw.pes, "rows": hw.rows, "cols": hw.cols, "area": area(hw).as_dict(),
            "description": hw.as_dict()}


def energy_entry(cost: Cost, hw: Hardware) -> dict[str, Any]:
    units_by_type = dict(cost.energy_units_by_type)
    return {
        "total_pj": cost.energy_pj,
        "total_units": cost.energy_total_units,
        "by_level": {"units": dict(cost.energy_units),
                     "pj": dict(cost.energy_pj_by_level)},
        "by_type": {"units": units_by_type,
                    "pj": {k: figures.units_pj(v, hw.pj_per_unit) for k, v in units_by_type.items()}},
    }


def failures(unmapped: Iterable[dict[str, str]]) -> list[tuple[list[str], str]]:
    """The report's ``unmapped`` entries grouped by reason, first appearance first: a network-level
    failure (every layer carries the same reason) is then said once."""
    groups: dict[str, list[str]] = {}
    for entry in unmapped:
        groups.setdefault(str(entry["reason"]), []).append(str(entry["name"]))
    return [(names, reason) for reason, names in groups.items()]


def flatten(node: Any, prefix: str = "", lists: bool = True) -> dict[str, Any]:
    """Nested keys as one level, ``energy.by_level.pj.dram``; list items by position, ``spads.ifmap_spad.0``
    (with ``lists`` False a list is one value: an input shape stays ``[1, 3, 224, 224]``)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if lists and isinstance(node, list) else None
    if items is None:
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key), lists))
    return out


def layer_rows(report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every figure of every layer entry, one flat row per layer; columns in first-appearance order
    (a layer with no mapping leaves the mapped layers' columns empty)."""
    rows = [flatten(entry) for entry in report["layers"]]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def _require(node: dict, keys: dict[str, type | tuple[type, ...]], where: str) -> None:
    for key, kind in keys.items():
        if key not in node:
            raise InputError(f"missing key '{key}'", where=where)
        value = node[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise InputError(f"key '{key}' should be {wanted}, got {type(value).__name__}", where=where)


def load_report(path: str | Path) -> dict[str, Any]:
    """Read and check a report; InputError names what is wrong and where."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    where = str(path)
    try:
        text = read_text_bounded(path, MAX_REPORT_BYTES, "report")
    except InputError as error:
        if error.message == "no such file":
            error.message = "no such file (give a compile output folder or its report.json)"
        raise
    return report_from_text(text, where)


def report_from_text(text: str, where: str) -> dict[str, Any]:
    """A report's JSON text checked (schema, version, the keys every reader relies on)."""
    try:
        report = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputError(f"not valid JSON: {error}", where=where) from None
    if not isinstance(report, dict):
        raise InputError("not an eyeriss report (the top level is not an object)", where=where)
    schema = report.get("schema")
    match = SCHEMA_RE.match(schema) if isinstance(schema, str) else None
    if not match:
        shown = repr(schema)[:60] + ("..." if len(repr(schema)) > 60 else "")
        raise InputError(f"not an eyeriss report (schema is {shown}, expected 'eyeriss-report/1')", where=where)
    version = match.group(1)  # compared as digits: a 5000-digit version is newer, not an int() overflow
    if version.startswith("0"):  # eyeriss-report/0 or /01: no eyeriss ever wrote it (the first schema is 1)
        raise InputError(f"report schema eyeriss-report/{version[:12]} is no schema eyeriss writes (it reads "
                         f"eyeriss-report/{READS})", where=where)
    if len(version.lstrip("0")) > len(str(READS)) or int(version) > READS:
        shown = version if len(version) <= 12 else f"{version[:12]}... ({len(version)} digits)"
        raise InputError(f"report schema eyeriss-report/{shown} is newer than this eyeriss reads "
                         f"(eyeriss-report/{READS}); upgrade eyeriss", where=where)
    _require(report, TOP_KEYS, where)
    for index, entry in enumerate(report["layers"]):
        at = f"{where}: layers[{index}]"
        if not isinstance(entry, dict):
            raise InputError("layer entry is not an object", where=at)
        _require(entry, LAYER_KEYS, at)
        if entry.get("mapping") is not None:
            _require(entry, MAPPED_KEYS, at)
        if entry.get("mapping_spaces") is not None:
            _require_spaces(entry["mapping_spaces"], f"{at}: mapping_spaces")
    return report


def _require_spaces(node: Any, where: str) -> None:
    if not isinstance(node, dict):
        raise InputError("should be an object or null", where=where)
    _require(node, SPACE_KEYS, where)
    for space in ("full", "jssc"):
        _require(node[space], SPACE_RESULT_KEYS, f"{where}: {space}")


def program_entry(built: Any) -> dict[str, Any] | None:
    """The report's ``program``: whether the folder runs (``eyeriss run``), where its formats came from, or why not.
    ``built``: a ``mapper.app.quantize.Built``, or None when the compile was asked for no program."""
    if built is None:
        return None
    if built.program is None:
        return {"runnable": False, "reason": built.reason}
    program = built.program
    return {"runnable": True, "reason": None, "formats_source": program.source,
            "array_steps": len(program.array_steps), "host_steps": len(program.steps) - len(program.array_steps),
            "files": sorted(built.files)}
