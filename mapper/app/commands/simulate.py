"""``eyeriss simulate OUTDIR|MODEL.onnx``: a compile's own bitstreams, decoded and simulated; compared with numpy.

Given a folder it checks the files in it (mapper.app.verify); given a model it
compiles it first, with the same options as ``compile``, and checks what that
wrote.  Exit 0 only if every layer's bitstream decodes to what the report says,
its simulated ofmap equals the reference convolution bit for bit and every
access count equals the cost model's (docs/bitstream.md section 6); a layer
with no mapping, or a bitstream that does not decode, fails (exit 1); a folder
changed since the compile is refused (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cost_models.errors import InputError
from frontends import load_node_weights, load_onnx, require_weights
from mapper.app.commands.compile import add_compile_options, compile_options
from mapper.app.commands.inspect import compact
from mapper.app.untrusted import printable, text
from mapper.app.verify import ShippedFolder, ShippedLayer, check_layer, read_folder
from mapper.chip.simulator import quantize_weights


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
    parser = sub.add_parser("simulate", help="prove a compile's bitstreams by simulating the configured array")
    parser.add_argument("model", help="a folder `eyeriss compile` wrote, or an ONNX file (compiled first, with the "
                                      "same options as compile)")
    parser.add_argument("--layer", action="append", help="simulate only this layer (repeatable)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the random ifmap (and of weights a folder lacks)")
    parser.add_argument("--emit", metavar="DIR", help="also write each checked bitstream to DIR, named as in the folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_compile_options(parser, explain=False)


def run(args: argparse.Namespace) -> int:
    if Path(args.model).is_dir():
        given = [option for dest, default, option in args.compile_options
                 if dest != "hardware" and getattr(args, dest) != default]
        if given:
            raise InputError(f"{', '.join(given)}: compile options; a folder is checked as it was compiled (give "
                             "the ONNX model to compile and check it)", args.model)
        folder, graph = read_folder(args.model, args.hardware), None
    else:
        folder, graph = _compile_and_read(args)
    rows = [row for group in _groups(folder, args.layer, args.model)
            for row in _check_group(folder, graph, group, args.seed)]
    if args.emit:
        _emit(Path(args.emit), folder, {row["name"] for row in rows})
    ok = all(row["matched"] for row in rows)
    if args.json:
        print(json.dumps({"model": folder.model, "matched": ok, "layers": rows}, sort_keys=True))
    else:
        _print_table(folder.model, rows)
    return 0 if ok else 1


def _compile_and_read(args: argparse.Namespace) -> tuple[ShippedFolder, object]:
    """``simulate MODEL``: compile it (as ``compile`` would, into a temporary folder) and read that folder back."""
    import tempfile

    from mapper.app.compiler import compile_model

    options = compile_options(args)
    graph = load_onnx(args.model, batch=args.batch if isinstance(args.batch, int) else None,
                      input_shapes=options["input_shapes"])
    require_weights(graph, args.model)  # simulating needs them; refuse before the search, not after
    result = compile_model(args.model, **options)
    for warning in result.all_warnings:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="eyeriss-simulate-") as scratch:
        folder = read_folder(result.save(Path(scratch) / "compiled"))
    return folder, graph if args.batch != "auto" else load_onnx(args.model, batch=result.batch,
                                                                 input_shapes=options["input_shapes"])


def _groups(folder: ShippedFolder, wanted: list[str] | None, where: str) -> list[list[ShippedLayer]]:
    """Array layers grouped by the ONNX node they compute; ``wanted`` names layers or nodes."""
    groups: dict[str, list[ShippedLayer]] = {}
    for layer in folder.layers:
        groups.setdefault(layer.onnx_node, []).append(layer)
    if not wanted:
        return list(groups.values())
    known = {layer.name for layer in folder.layers} | set(groups)
    for name in wanted:
        if name not in known:
            raise InputError(f"no array layer named {name!r} (have: {', '.join(sorted(known))})", where=where)
    return [parts for node, parts in groups.items() if node in wanted or any(p.name in wanted for p in parts)]


def _check_group(folder: ShippedFolder, graph, parts: list[ShippedLayer], seed: int) -> list[dict]:
    """Every part of one ONNX node; with the model at hand, a rewritten node's parts are also put back together
    and compared with onnx's reference of the whole node."""
    transform = graph.nodes[parts[0].name].get("transform") if graph is not None else None
    if transform is None or any(part.config is None for part in parts):
        return [check_layer(part, folder.hardware, seed)[0] for part in parts]
    source = transform.source
    weights, ifmap, origin = _node_operands(graph, parts[0].name, source, seed + (parts[0].index or 0))
    expected = source.reference(ifmap, weights)
    recombined = np.zeros(source.output_shape, dtype=np.int64)
    rows = []
    for part in parts:
        piece = graph.nodes[part.name]["transform"]
        row, acc = check_layer(part, folder.hardware, seed, (piece.weights(weights), piece.ifmap(ifmap), origin))
        rows.append(row)
        if acc is not None:
            piece.place(recombined, acc)
    exact = bool(np.array_equal(recombined, expected))
    for row in rows:
        row["recombined"] = exact
        row["matched"] = row["matched"] and exact
    return rows


def _node_operands(graph, name: str, source, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """int16 weights and ifmap of a rewritten ONNX node, in the node's own layout (its parts slice them)."""
    rng = np.random.default_rng(seed)
    ifmap = rng.integers(-2**15, 2**15, source.ifmap_shape, dtype=np.int64).astype(np.int16)
    real = load_node_weights(graph, name)
    if real is None:
        return rng.integers(-2**15, 2**15, source.weight, dtype=np.int64).astype(np.int16), ifmap, "random"
    return quantize_weights(real), ifmap, "model"



def _emit(out: Path, folder: ShippedFolder, names: set[str]) -> None:
    """``--emit DIR``: the checked bitstreams, byte for byte as the folder holds them."""
    from mapper.app.atomic import atomic_write_bytes

    try:
        out.mkdir(parents=True, exist_ok=True)
        for layer in folder.layers:
            if layer.name in names and layer.data is not None:
                atomic_write_bytes(out / Path(layer.file).name, layer.data)
    except OSError as error:
        raise InputError(f"cannot write the bitstream: {error.strerror or error}", where=str(out)) from None


def _print_table(model: str, rows: list[dict]) -> None:
    table = Table(title=text(f"{model}: simulated {len(rows)} layer(s)"), box=box.SIMPLE_HEAD,
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
