"""``eyeriss diff A B``: what differs between two compiles, per layer and in total, largest impact first.

A and B are output folders or report.json files.  Layers are matched by name.
Two compiles of the same input are byte-identical (docs/report.md), so the
diff of a compile with itself is empty.  A layer's impact is the larger of its
energy change over A's network energy and its latency change over A's network
latency; a layer mapped in one and not the other comes first.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table

from cost_models.errors import InputError
from mapper.app.report import flatten, load_report
from mapper.app.report_view import MAX_TABLE_ROWS, energy_j, name_list
from mapper.app.untrusted import printable, text

PARAMS = ("n", "e", "p", "q", "r", "t", "g", "m")
# Run settings compared at the top level (where a difference explains every layer's).
RUN_KEYS = (("model", "sha256"), ("batch",), ("objective",), ("hardware", "name"), ("options",))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("diff", help="what differs between two compiles (mapping, energy, latency, PEs, status)")
    parser.add_argument("a", help="compile output folder or report.json (the baseline)")
    parser.add_argument("b", help="compile output folder or report.json (compared with A)")
    parser.add_argument("--json", action="store_true", help="print the differences as one JSON object")


def _pick(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _change(a: float | None, b: float | None) -> dict[str, Any] | None:
    """``{a, b, delta}`` when the two figures differ, else None (delta None unless both are numbers:
    a damaged report's figure can be any JSON value)."""
    if a == b:
        return None
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    delta = round(b - a, 6) if numbers else None
    return {"a": a, "b": b, "delta": delta}


def _figures(entry: dict[str, Any] | None) -> dict[str, Any]:
    """The compared figures of one layer entry (None for every figure of an unmapped layer)."""
    mapped = bool(entry and entry.get("mapping"))
    return {
        "status": entry["solver"]["status"] if entry else None,
        "mapping": {k: entry["mapping"][k] for k in PARAMS} if mapped else None,
        "energy_pj": entry["energy"]["total_pj"] if mapped else None,
        "by_level_pj": dict(entry["energy"]["by_level"]["pj"]) if mapped else {},
        "latency_ms": entry["latency"]["total_ms"] if mapped else None,
        "active_pes": entry["active_pes"] if mapped else None,
    }


def layer_diff(name: str, a: dict[str, Any] | None, b: dict[str, Any] | None,
               scale: tuple[float, float]) -> dict[str, Any] | None:
    """What differs in one layer between A and B, with its impact; None when nothing does."""
    fa, fb = _figures(a), _figures(b)
    out: dict[str, Any] = {"name": name}
    if fa["status"] != fb["status"]:
        out["status"] = {"a": fa["status"], "b": fb["status"]}
    if fa["mapping"] != fb["mapping"] and fa["mapping"] and fb["mapping"]:
        ma, mb = fa["mapping"] or {}, fb["mapping"] or {}
        out["mapping"] = {k: {"a": ma.get(k), "b": mb.get(k)} for k in PARAMS if ma.get(k) != mb.get(k)}
    for key in ("energy_pj", "latency_ms", "active_pes"):
        change = _change(fa[key], fb[key])
        if change:
            out[key] = change
    levels = {level: _change(fa["by_level_pj"].get(level), fb["by_level_pj"].get(level))
              for level in dict.fromkeys([*fa["by_level_pj"], *fb["by_level_pj"]])}
    levels = {level: change for level, change in levels.items() if change}
    if levels:
        out["energy_by_level_pj"] = levels
    if len(out) == 1:
        return None
    both = fa["mapping"] is not None and fb["mapping"] is not None
    energy, latency = scale
    out["impact"] = round(max(abs((out.get("energy_pj") or {}).get("delta") or 0) / energy,
                              abs((out.get("latency_ms") or {}).get("delta") or 0) / latency), 6) if both else None
    return out


def _totals(ra: dict[str, Any], rb: dict[str, Any]) -> dict[str, Any]:
    ta, tb = ra["totals"], rb["totals"]
    figures = {"energy_pj": ("energy", "total_pj"), "per_inference_pj": ("energy", "per_inference_pj"),
               "latency_ms": ("latency", "total_ms"), "inferences_per_s": ("inferences_per_s",),
               "layers_mapped": ("layers",), "average_active_pes": ("average_active_pes",)}
    out = {key: _change(_pick(ta, path), _pick(tb, path)) for key, path in figures.items()}
    out = {key: change for key, change in out.items() if change}
    la, lb = _pick(ta, ("energy", "by_level_pj")) or {}, _pick(tb, ("energy", "by_level_pj")) or {}
    levels = {level: _change(la.get(level), lb.get(level)) for level in dict.fromkeys([*la, *lb])}
    levels = {level: change for level, change in levels.items() if change}
    if levels:
        out["energy_by_level_pj"] = levels
    return out


def diff_reports(ra: dict[str, Any], rb: dict[str, Any]) -> dict[str, Any]:
    """Every difference between two reports: run settings, totals, and per layer sorted by impact."""
    # A list setting (an input shape) is one value: one line when one report has it and the other not.
    settings_a = flatten({".".join(path): _pick(ra, path) for path in RUN_KEYS}, lists=False)
    settings_b = flatten({".".join(path): _pick(rb, path) for path in RUN_KEYS}, lists=False)
    run = {key: {"a": settings_a.get(key), "b": settings_b.get(key)} for key in dict.fromkeys([*settings_a, *settings_b])
           if settings_a.get(key) != settings_b.get(key)}
    by_name_a = {entry["name"]: entry for entry in ra["layers"]}
    by_name_b = {entry["name"]: entry for entry in rb["layers"]}
    scale = (ra["totals"]["energy"]["total_pj"] or 1.0, ra["totals"]["latency"]["total_ms"] or 1.0)
    names = list(dict.fromkeys([*by_name_a, *by_name_b]))
    order = {name: position for position, name in enumerate(names)}
    layers = [d for name in names if name in by_name_a and name in by_name_b
              for d in [layer_diff(name, by_name_a[name], by_name_b[name], scale)] if d]
    layers.sort(key=lambda d: (d["impact"] is not None, -(d["impact"] or 0), order[d["name"]]))
    return {"run": run, "totals": _totals(ra, rb), "layers": layers,
            "only_in_a": [n for n in names if n not in by_name_b], "only_in_b": [n for n in names if n not in by_name_a]}


def is_empty(diff: dict[str, Any]) -> bool:
    return not any(diff[key] for key in ("run", "totals", "layers", "only_in_a", "only_in_b"))


def _delta(change: dict[str, Any] | None, show=lambda v: f"{v:.4g}") -> str:
    """``+1.2 mJ (+3.4%)``, or ``10.7 mJ -> -`` when one side has no figure."""
    if not change:
        return ""
    if change["delta"] is None:
        return f"{'-' if change['a'] is None else show(change['a'])} -> {'-' if change['b'] is None else show(change['b'])}"
    ratio = f" ({100 * (change['b'] / change['a'] - 1):+.3g}%)" if change["a"] else ""
    return f"{'+' if change['delta'] >= 0 else '-'}{show(abs(change['delta']))}{ratio}"


def _ms(value: float) -> str:
    return f"{value:.4g} ms"


def _what(d: dict[str, Any]) -> str:
    parts = []
    if "status" in d:
        parts.append(f"status {d['status']['a']} -> {d['status']['b']}")
    if d.get("impact") is None:  # mapped on one side only: the other figures are that
        return parts[0] if parts else "mapped on one side only"
    if d.get("mapping"):
        parts.append(" ".join(f"{k} {c['a']}->{c['b']}" for k, c in d["mapping"].items()))
    if "active_pes" in d:
        parts.append(f"PEs {d['active_pes']['a']}->{d['active_pes']['b']}")
    levels = d.get("energy_by_level_pj") or {}
    moved = sorted((c for c in levels.items() if c[1]["delta"] is not None), key=lambda c: -abs(c[1]["delta"]))
    if moved:
        level, change = moved[0]
        parts.append(f"most in {level} ({_delta(change, energy_j).split(' (')[0]})")
    return "; ".join(parts)


def view(diff: dict[str, Any], a: str, b: str) -> RenderableType:
    if is_empty(diff):
        return text(f"no differences between {a} and {b} (search timing aside)")
    parts: list[RenderableType] = [text(f"{b} compared with {a}", style="bold")]
    for key, change in diff["run"].items():
        parts.append(text(f"{key}: {json.dumps(change['a'])} -> {json.dumps(change['b'])}"))
    t = diff["totals"]
    if t:
        figures = [("energy", _delta(t.get("energy_pj"), energy_j)), ("latency", _delta(t.get("latency_ms"), _ms)),
                   ("layers mapped", _delta(t.get("layers_mapped"), str))]
        parts.append(text("total: " + ", ".join(f"{what} {shown}" for what, shown in figures if shown)))
    if diff["layers"]:
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
        table.add_column("layer", no_wrap=True, overflow="fold")
        table.add_column("what changed", overflow="fold")
        table.add_column("energy", justify="right", no_wrap=True)
        table.add_column("latency", justify="right", no_wrap=True)
        for d in diff["layers"][:MAX_TABLE_ROWS]:  # the largest impacts; --json has every one
            table.add_row(text(d["name"]), text(_what(d)),
                          _delta(d.get("energy_pj"), energy_j), _delta(d.get("latency_ms"), _ms))
        parts.append(table)
        if len(diff["layers"]) > MAX_TABLE_ROWS:
            parts.append(text(f"... and {len(diff['layers']) - MAX_TABLE_ROWS} more layers differ (--json lists every "
                              "one)"))
    for side, names in (("A", diff["only_in_a"]), ("B", diff["only_in_b"])):
        if names:
            parts.append(text(f"only in {side}: {name_list(names, -1, shown=20)}"))
    return Group(*parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_compared(report: dict[str, Any], where: str) -> None:
    """Every figure the diff computes with has its type: a damaged report is one error naming the key and
    the file (load_report checks the keys every reader needs, not the figures only the diff reads)."""
    def need(ok: bool, key: str, wanted: str, value: Any, at: str) -> None:
        if not ok:
            raise InputError(f"key '{key}' should be {wanted}, got {type(value).__name__}", where=at)

    for path in (("totals", "energy", "total_pj"), ("totals", "latency", "total_ms")):
        value = _pick(report, path)
        need(_is_number(value), ".".join(path), "a number", value, where)
    for index, entry in enumerate(report["layers"]):
        at = f"{where}: layers[{index}]"
        need(isinstance(entry["solver"].get("status"), str), "solver.status", "a string", entry["solver"].get("status"), at)
        if not entry.get("mapping"):
            continue
        mapping = entry["mapping"]
        need(isinstance(mapping, dict), "mapping", "an object", mapping, at)
        for key in PARAMS:
            need(isinstance(mapping.get(key), int) and not isinstance(mapping.get(key), bool), f"mapping.{key}",
                 "an integer", mapping.get(key), at)
        for path in (("energy", "total_pj"), ("latency", "total_ms"), ("active_pes",)):
            value = _pick(entry, path)
            need(_is_number(value), ".".join(path), "a number", value, at)
        levels = _pick(entry, ("energy", "by_level", "pj"))
        need(isinstance(levels, dict), "energy.by_level.pj", "an object", levels, at)
        for level, value in levels.items():
            need(_is_number(value), f"energy.by_level.pj.{level}", "a number", value, at)


def run(args: argparse.Namespace) -> int:
    ra, rb = load_report(args.a), load_report(args.b)
    for report, path in ((ra, args.a), (rb, args.b)):
        check_compared(report, str(path))
    diff = diff_reports(ra, rb)
    if args.json:
        print(json.dumps({"a": printable(args.a), "b": printable(args.b), **diff}, indent=1))
        return 0
    Console().print(view(diff, args.a, args.b))
    return 0
