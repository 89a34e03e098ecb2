"""``eyeriss decode FILE.bin``: every field of a configuration bitstream, checked and shown."""

from __future__ import annotations

import argparse
import json

from rich import box
from rich.console import Console
from rich.table import Table

from cost_models.hardware import Hardware, default_hardware, load_hardware
from mapper.chip.allocation import NETWORKS
from mapper.chip.bitstream import CHIP_BITS, Config, Decoded, layout_id, read_file
from mapper.app.untrusted import printable, text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("decode", help="check and print a per-layer configuration bitstream")
    parser.add_argument("file", help="bitstream file (.bin)")
    parser.add_argument("--hardware", help="hardware YAML the file was written for (default: the bundled Eyeriss)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def as_json(decoded: Decoded, hw: Hardware, path: str) -> dict:
    """Every field, JSON-ready; keys sorted on output so the text is deterministic."""
    cfg = decoded.config
    shape = cfg.layer.as_dict()
    shape.update(N=cfg.layer.N, kind=cfg.layer.kind)
    banks = [int(b) for b in cfg.psum_banks]
    return {
        "file": path, "layer_index": decoded.layer_index, "payload_bits": decoded.bits,
        "layout_id": f"{layout_id(hw):08x}", "hardware": hw.name, "chip_bits": CHIP_BITS,
        "layer": shape, "mapping": cfg.mapping.as_dict(), "shift": cfg.shift,
        "networks": {name: {"row_ids": list(cfg.network(name).row_ids),
                            "col_ids": [list(row) for row in cfg.network(name).col_ids]} for name in NETWORKS},
        "psum_from_ln": [[int(v) for v in row] for row in cfg.psum_from_ln],
        "active": [[int(v) for v in row] for row in cfg.active],
        "glb": {"psum_banks_mask": banks, "ifmap_banks": banks.count(0), "psum_banks": banks.count(1)},
    }


def _grid(title: str, cfg: Config, cells, row_label) -> Table:
    table = Table(title=title, box=box.SIMPLE, padding=(0, 0), pad_edge=False, title_justify="left")
    table.add_column("X-bus", justify="right", no_wrap=True)
    for x in range(len(cfg.active[0])):
        table.add_column(str(x), justify="right", no_wrap=True, min_width=3)
    for y, row in enumerate(cfg.active):
        table.add_row(row_label(y), *[cells(y, x) if row[x] else "[dim]·[/dim]" for x in range(len(row))])
    return table


def run(args: argparse.Namespace) -> int:
    hw = load_hardware(args.hardware) if args.hardware else default_hardware()
    decoded = read_file(args.file, hw)
    if args.json:
        print(json.dumps(as_json(decoded, hw, args.file), sort_keys=True))
        return 0
    cfg = decoded.config
    console = Console()
    head = text(args.file, style="bold")
    head.append(printable(f": layer {decoded.layer_index}, {decoded.bits} payload bits (chip: {CHIP_BITS}), "
                          f"layout {layout_id(hw):08x} for hardware '{hw.name}', CRC ok"))
    console.print(head)
    L, m = cfg.layer, cfg.mapping
    console.print(f"layer: {L.kind} N={L.N} M={L.M} C={L.C} H={L.H} W={L.W} R={L.R} S={L.S} stride={L.stride} "
                  f"pads={L.pads} dilation={L.dilation} groups={L.groups}  (E={L.E} F={L.F})")
    console.print("mapping: " + " ".join(f"{k}={v}" for k, v in m.as_dict().items())
                  + f"   shift={cfg.shift} (ofmap = sat16(acc >> {cfg.shift}))")
    for name in NETWORKS:
        ids = cfg.network(name)
        console.print(_grid(f"{name} network: row ID per X-bus | col ID per PE (· = gated)", cfg,
                            lambda y, x, ids=ids: str(ids.col_ids[y][x]), lambda y, ids=ids: f"{y}:{ids.row_ids[y]:>2}"))
    console.print(_grid("psum source: L = local link from the PE below, G = psum GIN", cfg,
                        lambda y, x: "L" if cfg.psum_from_ln[y][x] else "G", str))
    active = sum(sum(row) for row in cfg.active)
    console.print(f"clock gating: {active} of {hw.pes} PEs active, {hw.pes - active} gated")
    banks = "".join("P" if b else "I" for b in cfg.psum_banks)
    console.print(f"GLB banks (I = ifmap, P = psum): {banks}  -> {banks.count('I')} ifmap, {banks.count('P')} psum")
    return 0
