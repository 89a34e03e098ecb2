"""``eyeriss inspect MODEL.onnx``: the layer graph the compiler will map."""

from __future__ import annotations

import argparse
import json
import sys

import networkx as nx
from rich import box
from rich.console import Console
from rich.table import Table

from frontends import array_layers, host_ops, load_onnx, missing_weights_warning
from mapper.app.commands.compile import add_input_shape_argument, input_shapes
from mapper.app.report_view import MAX_TABLE_ROWS
from mapper.app.untrusted import printable, text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("inspect", help="show the layer graph of an ONNX model")
    parser.add_argument("model", help="ONNX file")
    parser.add_argument("--batch", type=int, help="value of a symbolic batch dimension (default 1)")
    add_input_shape_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


SHORT_OP = {"Conv": "conv", "ConvDepthwise": "dw", "ConvTranspose": "convT", "ConvInteger": "iconv",
            "QLinearConv": "qconv", "Gemm": "gemm", "MatMul": "mm", "MatMulInteger": "imm", "QLinearMatMul": "qmm",
            "BatchedMatMul": "bmm", "QGemm": "qgemm"}
SHORT_FUSED = {"BatchNormalization": "b", "Relu": "r", "Clip": "c", "QuantizeLinear": "q", "DequantizeLinear": "d"}
OP_CAPTION = ("op: convT = ConvTranspose phase, conv>fc = patch convolution as a matrix product, /gN = N groups; "
              "fused: b BatchNorm, r ReLU, c Clip, q/d (de)quantize, w weight preparation; U = stride")


def layer_entry(name: str, data: dict) -> dict:
    """The per-layer keys of the inspect report: the shape, and which ONNX node (and nodes fused into it) it computes."""
    layer = data["layer"]
    return {"name": name, "op": data["op"], "onnx_op": data.get("onnx_op", data["op"]),
            "onnx_node": data.get("onnx_node", name), "part": data.get("part"), "shape": layer.as_dict(),
            "macs": layer.macs(), "weights": layer.weights(), "kind": layer.kind, "relu": bool(data.get("relu")),
            "fused": [op for _, op in data.get("fused", ())],
            "fused_nodes": [{"name": node, "op": op} for node, op in data.get("fused", ())]}


def summary(graph: nx.DiGraph) -> dict:
    layers = [layer_entry(name, graph.nodes[name]) for name, _ in array_layers(graph)]
    hosts = [{"name": name, "op": op, "reason": graph.nodes[name].get("reason")} for name, op in host_ops(graph)]
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


def short_op(entry: dict) -> str:
    """conv, dw/g32, convT, conv>fc, ... with the fused nodes as a suffix (+br: BatchNorm, ReLU)."""
    s = entry["shape"]
    op = SHORT_OP.get(entry["op"], entry["op"][:6].lower())
    if entry["part"] and "patches" in entry["part"]:
        op += ">fc"
    if s["groups"] > 1:
        op += f"/g{s['groups']}"
    fused = "".join(SHORT_FUSED.get(node["op"], "w") for node in entry["fused_nodes"])
    return op + (f"+{fused}" if fused else "")


def run(args: argparse.Namespace) -> int:
    graph = load_onnx(args.model, batch=args.batch, input_shapes=input_shapes(args))
    warning = missing_weights_warning(graph)
    if warning:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    data = summary(graph)
    if args.json:
        print(json.dumps(data, sort_keys=True, indent=1))
        return 0
    console = Console()
    # The terminal shows the first MAX_TABLE_ROWS layers (rich lays out a 10 000-row table in seconds); --json has all.
    rows = [[entry["name"], short_op(entry), *_shape_cells(entry["shape"]), compact(entry["macs"]),
             compact(entry["weights"])] for entry in data["layers"][:MAX_TABLE_ROWS]]
    table = Table(title=text(f"{data['model']}: {data['totals']['layers']} array layers, batch {data['batch']}"),
                  caption=OP_CAPTION, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    columns = ("name", "op", "M", "C", "HxW", "RxS", "ExF", "U", "MACs", "wts")
    widths = [max([len(column)] + [len(row[index]) for row in rows]) for index, column in enumerate(columns)]
    # Every column but the name keeps its width; a long name is cut with an ellipsis (JSON has it whole).
    # Each column takes one space of padding either side and one of rule (SIMPLE_HEAD), less the outer pads.
    name_width = max(8, min(console.width, 80) - sum(widths[1:]) - 3 * len(columns) + 1)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index < 2 else "right", no_wrap=True)
    for row in rows:
        name = row[0] if len(row[0]) <= name_width else row[0][:name_width - 1] + "…"
        table.add_row(text(name), text(row[1]), *row[2:])
    console.print(table)
    if len(data["layers"]) > len(rows):
        console.print(f"... and {len(data['layers']) - len(rows)} more array layers (--json lists every one)")
    _print_host_ops(console, data["host_ops"])
    console.print(f"total: {data['totals']['macs']:,} MACs, {data['totals']['weights']:,} weights, "
                  f"{data['folded']} shape-computation nodes folded")
    sys.stdout.flush()
    return 0


def _shape_cells(s: dict) -> list[str]:
    stride = str(s["stride"][0]) if s["stride"][0] == s["stride"][1] else "x".join(map(str, s["stride"]))
    return [str(s["M"]), str(s["C"]), f"{s['H']}x{s['W']}", f"{s['R']}x{s['S']}", f"{s['E']}x{s['F']}", stride]


def _print_host_ops(console: Console, hosts: list[dict]) -> None:
    """Host ops grouped by why they are not on the array, each group's op types counted."""
    by_reason: dict[str, dict[str, int]] = {}
    for entry in hosts:
        ops = by_reason.setdefault(entry["reason"] or "", {})
        ops[entry["op"]] = ops.get(entry["op"], 0) + 1
    if by_reason:
        console.print(f"host ops ({len(hosts)}), not on the array:")
    for reason, ops in sorted(by_reason.items()):
        console.print(text(f"  {reason}:"))
        console.print(text("    " + ", ".join(f"{op} x{count}" for op, count in sorted(ops.items()))))
