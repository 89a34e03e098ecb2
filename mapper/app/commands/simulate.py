"""``eyeriss simulate MODEL.onnx``: map, emit, decode and simulate each layer; compare with numpy.

Exit 0 only if every simulated layer's ofmap equals the reference convolution
bit for bit and every access count equals the cost model's (docs/bitstream.md
section 6); a layer with no mapping counts as a failure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cost_models.errors import InputError
from cost_models.hardware import default_hardware, load_hardware
from cost_models.rowstationary import OBJECTIVES
from frontends import array_layers, load_layer_weights, load_node_weights, load_onnx
from mapper.chip.bitstream import config_for, decode, encode
from mapper.app.commands.compile import positive
from mapper.app.commands.inspect import compact
from mapper.app.untrusted import text
from mapper.chip.simulator import check_config, choose_shift, quantize_weights, random_operands, reference


def _seed(text: str) -> int:
    """A seed numpy takes: an integer in 0..2**63-1."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2**63-1, got {text[:40]!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("simulate", help="prove each layer's bitstream by simulating the configured array")
    parser.add_argument("model", help="ONNX file")
    parser.add_argument("--layer", action="append", help="simulate only this layer (repeatable)")
    parser.add_argument("--batch", type=int, help="value of a symbolic batch dimension (default 1)")
    parser.add_argument("--hardware", help="hardware YAML (default: the bundled Eyeriss)")
    parser.add_argument("--objective", default="energy", choices=OBJECTIVES)
    parser.add_argument("--time-limit", type=positive, metavar="S",
                        help="stop each layer's search after S seconds (default: no clock, deterministic work)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the random ifmap (and of weights a model lacks)")
    parser.add_argument("--emit", metavar="DIR", help="also write each layer's bitstream to DIR/<index>_<name>.bin")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _operands(graph, name: str, layer, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    weights_rand, ifmap = random_operands(layer, seed)
    real = load_layer_weights(graph, name)
    if real is None:
        return weights_rand, ifmap, "random"
    if real.shape != (layer.M, layer.Cg, layer.R, layer.S):
        raise InputError(f"weights have shape {real.shape}, the layer needs {(layer.M, layer.Cg, layer.R, layer.S)}",
                         where=name)
    return quantize_weights(real), ifmap, "model"


def _node_operands(graph, name: str, source, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """int16 weights and ifmap of a rewritten ONNX node, in the node's own layout (its parts slice them)."""
    rng = np.random.default_rng(seed)
    ifmap = rng.integers(-2**15, 2**15, source.ifmap_shape, dtype=np.int64).astype(np.int16)
    real = load_node_weights(graph, name)
    if real is None:
        return rng.integers(-2**15, 2**15, source.weight, dtype=np.int64).astype(np.int16), ifmap, "random"
    return quantize_weights(real), ifmap, "model"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "layer"


def _groups(graph, wanted: list[str] | None, where: str) -> list[list[tuple[int, str, object]]]:
    """Array layers (index, name, shape) grouped by the ONNX node they compute; ``wanted`` names layers or nodes."""
    groups: dict[str, list[tuple[int, str, object]]] = {}
    for index, (name, layer) in enumerate(array_layers(graph)):
        groups.setdefault(graph.nodes[name].get("onnx_node", name), []).append((index, name, layer))
    if not wanted:
        return list(groups.values())
    known = {name for parts in groups.values() for _, name, _ in parts} | set(groups)
    for name in wanted:
        if name not in known:
            raise InputError(f"no array layer named {name!r} (have: {', '.join(sorted(known))})", where=where)
    return [parts for node, parts in groups.items() if node in wanted or any(n in wanted for _, n, _ in parts)]


def _simulate_layer(args, hw, graph, index: int, name: str, layer, operands, shift: int | None):
    """Map, encode, decode and simulate one array layer; the row for the table and the simulated accumulator."""
    from mapper.search.cpsat import map_layer

    result = map_layer(layer, hw, args.objective, time_limit=args.time_limit)
    if result.mapping is None:
        return {"name": name, "matched": False, "reason": result.reason or result.status}, None
    weights, ifmap, source = operands
    shift = choose_shift(reference(layer, weights, ifmap)) if shift is None else shift
    config = config_for(layer, result.mapping, hw, shift)
    data = encode(config, hw, index)
    if args.emit:
        from mapper.app.atomic import atomic_write_bytes

        try:
            Path(args.emit).mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(Path(args.emit) / f"{index:03d}_{_safe(name)}.bin", data)
        except OSError as error:
            raise InputError(f"cannot write the bitstream: {error.strerror or error}", where=args.emit) from None
    decoded = decode(data, hw, where=name).config
    if decoded != config:
        return {"name": name, "matched": False, "reason": "decode(encode(config)) != config"}, None
    check = check_config(decoded, hw, weights, ifmap)
    return {"name": name, "matched": check.matched, "mapping": result.mapping.as_dict(), "shift": shift,
            "weights": source, "seconds": round(check.seconds, 3), "faults": check.faults,
            "macs": check.macs, "count_deltas": check.count_deltas}, check.accumulator


def _simulate_group(args, hw, graph, parts) -> list[dict]:
    """Every part of one ONNX node; a rewritten node's parts are recombined and checked against onnx's reference."""
    index, name, layer = parts[0]
    transform = graph.nodes[name].get("transform")
    if transform is None:
        return [_simulate_layer(args, hw, graph, index, name, layer, _operands(graph, name, layer, args.seed + index),
                                None)[0]]
    source = transform.source
    weights, ifmap, origin = _node_operands(graph, name, source, args.seed + index)
    expected = source.reference(ifmap, weights)
    shift = choose_shift(expected)  # one shift for the whole node: its parts write one ofmap
    recombined = np.zeros(source.output_shape, dtype=np.int64)
    rows = []
    for index, name, layer in parts:
        part = graph.nodes[name]["transform"]
        row, acc = _simulate_layer(args, hw, graph, index, name, layer,
                                   (part.weights(weights), part.ifmap(ifmap), origin), shift)
        rows.append(row)
        if acc is not None:
            part.place(recombined, acc)
    exact = bool(np.array_equal(recombined, expected))
    for row in rows:
        row["recombined"] = exact
        row["matched"] = row["matched"] and exact
    return rows


def run(args: argparse.Namespace) -> int:
    hw = load_hardware(args.hardware) if args.hardware else default_hardware()
    graph = load_onnx(args.model, batch=args.batch)
    rows = [row for parts in _groups(graph, args.layer, args.model) for row in _simulate_group(args, hw, graph, parts)]
    ok = all(row["matched"] for row in rows)
    if args.json:
        print(json.dumps({"model": graph.graph["name"], "matched": ok, "layers": rows}, sort_keys=True))
        return 0 if ok else 1
    _print_table(graph, rows)
    return 0 if ok else 1


def _print_table(graph, rows: list[dict]) -> None:
    table = Table(title=text(f"{graph.graph['name']}: simulated {len(rows)} layer(s)"), box=box.SIMPLE_HEAD,
                  padding=(0, 1),
                  caption="counts: simulated minus cost model where they differ (array level and MACs; "
                          "spad counts follow); docs/bitstream.md section 6")
    for column in ("layer", "result", "n e p q r t g m", "shift", "wts", "sim s", "counts vs cost model"):
        table.add_column(column, no_wrap=column != "counts vs cost model")
    for row in rows:
        if "mapping" not in row:
            table.add_row(text(row["name"]), Text("FAIL", style="red"), text(row["reason"]), "", "", "", "")
            continue
        deltas = row["count_deltas"]
        shown = {k.replace("array_", ""): v for k, v in deltas.items() if not k.startswith("rf_")} or deltas
        counts = "equal" if not deltas else " ".join(f"{k} {'+' if v > 0 else '-'}{compact(abs(v))}"
                                                     for k, v in shown.items())
        result = Text("match", style="green") if row["matched"] else text("MISMATCH " + "; ".join(row["faults"]),
                                                                          style="red")
        if row.get("recombined") is False:
            result.append(" (recombined output differs from onnx's reference)", style="red")
        table.add_row(text(row["name"]), result, " ".join(str(v) for v in row["mapping"].values()), str(row["shift"]),
                      row["weights"], f"{row['seconds']:.2f}", counts)
    Console().print(table)
