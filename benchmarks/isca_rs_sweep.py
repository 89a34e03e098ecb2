"""The ISCA 2016 row-stationary findings, reproduced with the sweep's pieces (eyeriss.md section 7.4).

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
NOTE = """Why ours differs from the paper (measured 2026-12-02, table above):
* the batch finding reproduces within the figure's reading error (0.93 / 0.93 against 0.94 / 0.94);
* throughput from 32 to 288 PEs rises ~5x (total cycles) or ~6.5x (compute only), not > 10x: the search
  minimises energy, and the energy-optimal mappings of AlexNet's 3 x 13 and 5 x 27 PE sets leave part of a
  16 x 18 array idle (ISCA's delay = 1 / active PEs counts the PEs a mapping uses, and its arrays are
  shaped for the layers); our total cycles also keep DRAM transfers unoverlapped over the 64-b link;
* energy per MAC without static energy falls ~8 % to 168 PEs and then rises, ending within 2 % of the
  32-PE figure instead of +13 %: our 32-PE point still has a 484 kB GLB under the same area, which holds
  more reuse than ISCA's smaller arrays get, and our energy table is the chip's normalised one
  [ISCA Table IV] without ISCA's per-size RF and array energies; with the calibrated static energy per
  cycle (clock, leakage) included, the slow small arrays pay far more (x 0.39 at 256 PEs)."""


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


def pe_sweep(cache: ResultCache, batch: int) -> Table:
    base = default_hardware()
    reference = area(design(base, 16, 16, 32))            # 256 PEs, 128 kB GLB [ISCA VII]
    budget = reference.storage
    per_bank = area(design(base, 16, 16, 2)).glb / 2
    table = Table(title=f"1. PE count at fixed storage area ({budget:.2f} mm2), AlexNet CONV1-5, N={batch}")
    for column in ("PEs", "GLB kB", "storage mm2", "cycles", "throughput x", "compute-only x", "energy/MAC", "x",
                   "no static", "x"):
        table.add_column(column, justify="right")
    first = None
    for rows, cols in ARRAYS:
        spads = area(design(base, rows, cols, 1))
        banks = max(1, int((budget - spads.spads - spads.filter_buffer) / per_bank))
        hw = design(base, rows, cols, banks)
        energy, energy_dyn, cycles, compute = conv_figures(hw, batch, cache)
        first = first or (energy, energy_dyn, cycles, compute)
        table.add_row(str(hw.pes), f"{banks * hw.bank_words * 2 / 1024:.0f}", f"{area(hw).storage:.2f}",
                      f"{cycles:,}", f"{first[2] / cycles:.2f}", f"{first[3] / compute:.2f}", f"{energy:.2f}", f"{energy / first[0]:.3f}",
                      f"{energy_dyn:.2f}", f"{energy_dyn / first[1]:.3f}")
    table.caption = f"paper: throughput {PAPER_PE['throughput_x']}x from 32 to 288 PEs, energy {PAPER_PE['energy_rise']}"
    return table


def batch_sweep(cache: ResultCache) -> Table:
    hw = design(default_hardware(), 16, 16, 32)
    table = Table(title="2. RS at 256 PEs (16 x 16, 128 kB GLB): normalized energy per op, AlexNet CONV1-5")
    for column in ("N", "ours", "ours, no static", "paper (Fig. 12a, +-0.03)"):
        table.add_column(column, justify="right")
    base = None
    for n, paper in PAPER_BATCH.items():
        energy, energy_dyn, _, _ = conv_figures(hw, n, cache)
        base = base or (energy, energy_dyn)
        table.add_row(str(n), f"{energy / base[0]:.3f}", f"{energy_dyn / base[1]:.3f}", f"{paper:.2f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="batch of the PE-count sweep (ISCA: N=16)")
    parser.add_argument("--cache", help="result cache folder (default: a fresh temporary one)")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResultCache(Path(args.cache or tmp))
        console = Console(width=130)
        console.print(pe_sweep(cache, args.batch))
        console.print(batch_sweep(cache))
    print(NOTE)
    print(f"{time.perf_counter() - start:.0f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
