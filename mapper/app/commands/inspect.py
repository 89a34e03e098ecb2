"""``eyeriss inspect MODEL.onnx``: the layer graph the compiler will map."""

from __future__ import annotations

import argparse
import json
import sys

import networkx as nx
from rich import box
from rich.console import Console
from rich.table import Table

from frontends import array_layers, host_ops, load_onnx
from mapper.app.untrusted import text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("inspect", help="show the layer graph of an ONNX model")
    parser.add_argument("model", help="ONNX file")
    parser.add_argument("--batch", type=int, help="value of a symbolic batch dimension (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(run=run)


def layer_entry(name: str, data: dict) -> dict:
    """The per-layer keys the inspect and compile reports share."""
    layer = data["layer"]
    return {"name": name, "op": data["op"], "shape": layer.as_dict(), "macs": layer.macs(),
            "weights": layer.weights(), "kind": layer.kind, "relu": bool(data.get("relu")),
            "fused": [op for _, op in data.get("fused", ())]}


def summary(graph: nx.DiGraph) -> dict:
    layers = [layer_entry(name, graph.nodes[name]) for name, _ in array_layers(graph)]
    hosts = [{"name": name, "op": op} for name, op in host_ops(graph)]
    return {
        "model": graph.graph["name"], "sha256": graph.graph["sha256"], "batch": graph.graph["batch"],
        "opset": graph.graph["opset"], "layers": layers, "host_ops": hosts,
        "folded": len(graph.graph.get("folded", ())),
        "totals": {"macs": sum(entry["macs"] for entry in layers), "layers": len(layers), "host_ops": len(hosts),
                   "weights": sum(entry["weights"] for entry in layers)},
    }


def compact(value: int) -> str:
    """1234567 -> 1.23M: keeps the table inside 80 columns."""
    for limit, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return str(value)


def run(args: argparse.Namespace) -> int:
    graph = load_onnx(args.model, batch=args.batch)
    data = summary(graph)
    if args.json:
        print(json.dumps(data, sort_keys=True, indent=1))
        return 0
    console = Console()
    table = Table(title=text(f"{data['model']}: {data['totals']['layers']} array layers, batch {data['batch']}"),
                  caption="U = stride; /gN = N groups", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("name", "kind", "M", "C", "HxW", "RxS", "ExF", "U", "MACs", "wts"):
        table.add_column(column, justify="left" if column in ("name", "op") else "right", no_wrap=True,
                         min_width=8 if column == "name" else None)
    for entry in data["layers"]:
        s = entry["shape"]
        op = {"depthwise": "dw"}.get(entry["kind"], entry["kind"]) + (f"/g{s['groups']}" if s["groups"] > 1 else "")
        table.add_row(text(entry["name"]), op, str(s["M"]), str(s["C"]), f"{s['H']}x{s['W']}",
                      f"{s['R']}x{s['S']}", f"{s['E']}x{s['F']}", str(s["stride"][0]) if s["stride"][0] == s["stride"][1] else "x".join(map(str, s["stride"])),
                      compact(entry["macs"]), compact(entry["weights"]))
    console.print(table)
    if data["host_ops"]:
        ops: dict[str, int] = {}
        for entry in data["host_ops"]:
            ops[entry["op"]] = ops.get(entry["op"], 0) + 1
        console.print(text("host ops: " + ", ".join(f"{op} x{count}" for op, count in sorted(ops.items()))))
    console.print(f"total: {data['totals']['macs']:,} MACs, {data['totals']['weights']:,} weights, "
                  f"{data['folded']} shape-computation nodes folded")
    sys.stdout.flush()
    return 0
