"""The ISCA 2016 row-stationary findings, reproduced with the sweep's pieces (eyeriss-facts.md section 7.4).

    python benchmarks/isca_rs_sweep.py [--batch 16]

1. PE count from 32 to 288 at fixed total storage area [ISCA VII]: "throughput rises > 10x while energy
   rises only 13 %".  Each array keeps the chip's spads per PE; the GLB gets the storage area left of the
   256-PE design's (512 B RF/PE, 128 kB GLB), in whole 4 kB banks, by cost_models/area.py.
2. Normalized energy per op of RS at 256 PEs for N = 1, 16, 64 [ISCA Fig. 12(a)]: 1.00 / 0.94 / 0.94.

Workload: AlexNet CONV1-5 (examples/alexnet.onnx), every layer proven optimal for energy.  Energy is shown
with and without the model's calibrated static energy per cycle (ISCA counts accesses only); throughput
from the model's total cycles (DRAM transfers not overlapped, as the chip measures) and from compute
cycles alone (ISCA takes delay as 1 / active PEs).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cost_models.area import area  # noqa: E402
from cost_models.hardware import Hardware, default_hardware  # noqa: E402
from frontends import load_onnx  # noqa: E402
from mapper.search.cache import ResultCache  # noqa: E402
from mapper.search.network import map_network  # noqa: E402

# 32 .. 288 PEs.  At least 11 rows each: a PE set is R filter rows tall and sets taller than the array
# are not supported [JSSC IV-A], so AlexNet's 11 x 11 CONV1 needs 11 rows (a 4 x 8 array maps no CONV1).
ARRAYS = ((16, 2), (16, 4), (16, 8), (12, 14), (16, 16), (16, 18))
PAPER_PE = {"throughput_x": "> 10", "energy_rise": "+13 %"}
PAPER_BATCH = {1: 1.00, 16: 0.94, 64: 0.94}
NOTE = """Why ours differs from the paper (figures from the tables above):
* the batch finding: {n16:.2f} / {n64:.2f} against 0.94 / 0.94 (the figure's reading error is +-0.03);
* throughput from 32 to 288 PEs rises {thr:.1f}x (total cycles) or {comp:.1f}x (compute only), not > 10x: the
  search minimises energy, and the energy-optimal mappings of AlexNet's 3 x 13 and 5 x 27 PE sets leave part
  of a large array idle (ISCA's delay = 1 / active PEs counts the PEs a mapping uses, and its arrays are
  shaped for the layers); our total cycles also keep DRAM transfers unoverlapped over the 64-b link;
* energy per MAC without static energy is lowest at {low_pes} PEs (x {low:.3f}) and ends at x {end:.3f} of the
  32-PE figure instead of +13 %: our 32-PE point still has a large GLB under the same area, which holds
  more reuse than ISCA's smaller arrays get, and our energy table is the chip's normalised one
  [ISCA Table IV] without ISCA's per-size RF and array energies; with the calibrated static energy per
  cycle (clock, leakage) included, the slow small arrays pay far more (x {static256:.3f} at 256 PEs)."""


def design(base: Hardware, rows: int, cols: int, banks: int) -> Hardware:
    ids = tuple((net, 5) for net, _ in base.col_id_bits)   # 5-bit IDs address up to 32 rows / columns
    return dataclasses.replace(base, name=f"rs-{rows}x{cols}", rows=rows, cols=cols, glb_banks=banks,
                               row_id_bits=5, col_id_bits=ids)


def conv_figures(hw: Hardware, batch: int, cache: ResultCache) -> tuple[float, float, int, int]:
    """(energy units per MAC, same without static, total cycles, compute cycles) of AlexNet CONV1-5."""
    graph = load_onnx(ROOT / "examples" / "alexnet.onnx", batch=batch)
    network = map_network(graph, hw, "energy", cache=cache)
    convs = [e for e in network.layers if e.layer.kind == "conv"]
    bad = [e.name for e in convs if not e.result.ok]
    if bad:
        raise SystemExit(f"{hw.name}: no mapping for {bad}")
    macs = sum(e.result.cost.macs for e in convs)
    total = sum(e.result.cost.energy_total_units for e in convs)
    static = sum(e.result.cost.energy_units.get("static", 0) for e in convs)
    return (total / macs, (total - static) / macs, sum(e.result.cost.total_cycles for e in convs),
            sum(e.result.cost.compute_cycles for e in convs))


def pe_sweep(cache: ResultCache, batch: int) -> tuple[Table, dict[str, float]]:
    base = default_hardware()
    reference = area(design(base, 16, 16, 32))            # 256 PEs, 128 kB GLB [ISCA VII]
    budget = reference.storage
    per_bank = area(design(base, 16, 16, 2)).glb / 2
    table = Table(title=f"1. PE count at fixed storage area ({budget:.2f} mm2), AlexNet CONV1-5, N={batch}")
    for column in ("PEs", "GLB kB", "storage mm2", "cycles", "throughput x", "compute-only x", "energy/MAC", "x",
                   "no static", "x"):
        table.add_column(column, justify="right")
    first, rows_seen = None, []
    for rows, cols in ARRAYS:
        spads = area(design(base, rows, cols, 1))
        banks = max(1, int((budget - spads.spads - spads.filter_buffer) / per_bank))
        hw = design(base, rows, cols, banks)
        energy, energy_dyn, cycles, compute = conv_figures(hw, batch, cache)
        first = first or (energy, energy_dyn, cycles, compute)
        rows_seen.append((hw.pes, first[2] / cycles, first[3] / compute, energy / first[0], energy_dyn / first[1]))
        table.add_row(str(hw.pes), f"{banks * hw.bank_words * 2 / 1024:.0f}", f"{area(hw).storage:.2f}",
                      f"{cycles:,}", f"{first[2] / cycles:.2f}", f"{first[3] / compute:.2f}", f"{energy:.2f}", f"{energy / first[0]:.3f}",
                      f"{energy_dyn:.2f}", f"{energy_dyn / first[1]:.3f}")
    table.caption = f"paper: throughput {PAPER_PE['throughput_x']}x from 32 to 288 PEs, energy {PAPER_PE['energy_rise']}"
    lowest = min(rows_seen, key=lambda row: row[4])
    summary = {"thr": rows_seen[-1][1], "comp": rows_seen[-1][2], "low_pes": lowest[0], "low": lowest[4],
               "end": rows_seen[-1][4], "static256": next(row[3] for row in rows_seen if row[0] == 256)}
    return table, summary


def batch_sweep(cache: ResultCache) -> tuple[Table, dict[str, float]]:
    hw = design(default_hardware(), 16, 16, 32)
    table = Table(title="2. RS at 256 PEs (16 x 16, 128 kB GLB): normalized energy per op, AlexNet CONV1-5")
    for column in ("N", "ours", "ours, no static", "paper (Fig. 12a, +-0.03)"):
        table.add_column(column, justify="right")
    base, ratios = None, {}
    for n, paper in PAPER_BATCH.items():
        energy, energy_dyn, _, _ = conv_figures(hw, n, cache)
        base = base or (energy, energy_dyn)
        ratios[f"n{n}"] = energy / base[0]
        table.add_row(str(n), f"{energy / base[0]:.3f}", f"{energy_dyn / base[1]:.3f}", f"{paper:.2f}")
    return table, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="batch of the PE-count sweep (ISCA: N=16)")
    parser.add_argument("--cache", help="result cache folder (default: a fresh temporary one)")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResultCache(Path(args.cache or tmp))
        console = Console(width=130)
        pe_table, pe_figures = pe_sweep(cache, args.batch)
        console.print(pe_table)
        batch_table, batch_figures = batch_sweep(cache)
        console.print(batch_table)
    print(NOTE.format(**pe_figures, **batch_figures))
    print(f"{time.perf_counter() - start:.0f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
