"""``eyeriss report OUTDIR|report.json``: the network view, or one layer's view."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from cost_models.errors import InputError

SCHEMA_RE = re.compile(r"^eyeriss-report/(\d+)$")
READS = 1  # the newest schema version this viewer reads
MAX_REPORT_BYTES = 256 * 1024 * 1024

# The keys the viewer relies on, per layer with a mapping and at the top level.
TOP_KEYS = {"schema": str, "model": dict, "batch": int, "objective": str, "hardware": dict, "layers": list,
            "host_ops": list, "totals": dict}
LAYER_KEYS = {"name": str, "op": str, "kind": str, "shape": dict, "macs": int, "solver": dict,
              "mapping": (dict, type(None))}
MAPPED_KEYS = {"active_pes": int, "passes": int, "energy": dict, "latency": dict,
               "accesses": dict, "spads": dict, "glb_banks": dict, "lower_bound": dict, "bitstream": dict}


# What a damaged value deep inside a report raises while it is drawn: bad input, not a bug.
MALFORMED = (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError, IndexError, OverflowError)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="view a compiled model's report in the terminal")
    parser.add_argument("path", help="compile output folder or its report.json")
    parser.add_argument("--layer", help="show one layer: PE array, spad fill, energy, loop nest")
    parser.add_argument("--sort", choices=("energy", "latency"), help="order the layer table (default: network order)")
    parser.add_argument("--json", action="store_true", help="print the report (or the layer's entry) as JSON")
    parser.set_defaults(run=run)


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
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise InputError("larger than 256 MB; not an eyeriss report", where=where)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file (give a compile output folder or its report.json)", where=where) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read: {error}", where=where) from None
    try:
        report = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputError(f"not valid JSON: {error}", where=where) from None
    if not isinstance(report, dict):
        raise InputError("not an eyeriss report (the top level is not an object)", where=where)
    match = SCHEMA_RE.match(str(report.get("schema", "")))
    if not match:
        raise InputError(f"not an eyeriss report (schema is {report.get('schema')!r}, expected 'eyeriss-report/1')",
                         where=where)
    if int(match.group(1)) > READS:
        raise InputError(f"report schema {report['schema']} is newer than this eyeriss reads (eyeriss-report/{READS}); "
                         "upgrade eyeriss", where=where)
    _require(report, TOP_KEYS, where)
    for index, entry in enumerate(report["layers"]):
        at = f"{where}: layers[{index}]"
        if not isinstance(entry, dict):
            raise InputError("layer entry is not an object", where=at)
        _require(entry, LAYER_KEYS, at)
        if entry.get("mapping") is not None:
            _require(entry, MAPPED_KEYS, at)
    return report


def run(args: argparse.Namespace) -> int:
    from mapper.report_view import find_layer, layer_view, network_view

    report = load_report(args.path)
    console = Console()
    if args.layer is not None:
        entry = find_layer(report, args.layer)
        if entry is None:
            names = ", ".join(e["name"] for e in report["layers"][:20])
            raise InputError(f"no layer named {args.layer!r} (have: {names}{', ...' if len(report['layers']) > 20 else ''})",
                             where=str(args.path))
        if args.json:
            print(json.dumps(entry, indent=1))
            return 0
        try:
            console.print(layer_view(report, entry))
        except MALFORMED as error:
            raise InputError(f"layer entry is malformed: {type(error).__name__}: {error}",
                             where=f"{args.path}: layer {args.layer}") from None
        return 0
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    try:
        console.print(network_view(report, args.sort))
    except MALFORMED as error:
        raise InputError(f"report is malformed: {type(error).__name__}: {error}", where=str(args.path)) from None
    return 0
