"""Search speed: CP-SAT against exhaustive enumeration, measured in one run.

    python benchmarks/compile_speed.py [--enum-budget SECONDS]

Table 1, per network on the bundled Eyeriss description: array layers,
distinct shapes (solved once each), the CP-SAT wall time of the whole
network, the share of layers proven OPTIMAL, the exhaustive enumerator's wall
time over the same distinct layers, and their ratio; "agree" says whether both
found the same optimum for every layer.  Both sides use every core: the
search solves distinct layers side by side (mapper.search.parallel.solve_each), the
enumerator runs one process per core.

Table 2, a larger design point (cost_models/data/large.yaml: 32 x 32 PEs,
2 kB spads, 1 MB buffer): CP-SAT against the enumerator per layer, the
enumerator time-boxed (it usually does not finish).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cost_models.hardware import default_hardware, load_hardware  # noqa: E402
from frontends import load_onnx  # noqa: E402
from mapper.search.exhaustive import ExhaustiveResult, enumerate_best  # noqa: E402
from mapper.search.network import map_network  # noqa: E402
from mapper.search.parallel import cores  # noqa: E402
from mapper.search.cpsat import map_layer  # noqa: E402

NETWORKS = (
    ("AlexNet", "alexnet.onnx", 4),
    ("VGG-16", "vgg16.onnx", 3),
    ("ResNet-18", "resnet18.onnx", 1),
    ("ResNet-50", "resnet50.onnx", 1),
    ("MobileNetV2", "mobilenet_v2.onnx", 1),
)


def _enumerate(task: tuple) -> ExhaustiveResult:
    """One distinct layer in a worker process."""
    layer, hw, ratios, budget = task
    return enumerate_best(layer, hw, "energy", ratios, time_budget=budget)


def network_table(console: Console, enum_budget: float) -> None:
    hw = default_hardware()
    table = Table(title=f"Whole-network search on Eyeriss (12 x 14), energy objective, {cores()} cores")
    for column in ("network", "N", "array layers", "distinct", "CP-SAT s", "OPTIMAL", "enumerator s", "enum / CP-SAT", "agree"):
        table.add_column(column, justify="right")
    for title, file, batch in NETWORKS:
        path = ROOT / "examples" / file
        if not path.exists():
            table.add_row(title, str(batch), "-", "-", "-", "-", "-", "-", f"missing {file}")
            continue
        graph = load_onnx(path, batch=batch)
        start = time.perf_counter()
        result = map_network(graph, hw, "energy")
        search_s = time.perf_counter() - start
        distinct = [entry for entry in result.layers if entry.shared_with is None]
        optimal = sum(entry.result.status == "OPTIMAL" for entry in result.layers)
        mapped = [entry for entry in distinct if entry.result.ok]
        start = time.perf_counter()
        context = multiprocessing.get_context("spawn")  # no fork of a process that has run OR-tools threads
        with ProcessPoolExecutor(max_workers=cores(), mp_context=context) as pool:
            oracles = list(pool.map(_enumerate, [(entry.layer, hw, entry.ratios, enum_budget) for entry in mapped]))
        enum_s = time.perf_counter() - start
        finished = all(oracle.complete for oracle in oracles)
        agree = len(mapped) == len(distinct) and all(
            oracle.complete and oracle.objective_value == entry.result.objective_value
            for entry, oracle in zip(mapped, oracles))
        table.add_row(title, str(batch), str(len(result.layers)), str(len(distinct)), f"{search_s:.2f}",
                      f"{optimal}/{len(result.layers)}", f"{enum_s:.2f}" + ("" if finished else "+"),
                      f"{enum_s / search_s:.1f}x", "yes" if agree else "NO")
    console.print(table)


def large_table(console: Console, enum_budget: float) -> None:
    hw = load_hardware(ROOT / "cost_models" / "data" / "large.yaml")
    graph = load_onnx(ROOT / "examples" / "alexnet.onnx", batch=4)
    table = Table(title=f"Design point {hw.name}: {hw.rows} x {hw.cols} PEs, spads {hw.filter_spad}/{hw.ifmap_spad}/"
                        f"{hw.psum_spad} words, buffer {hw.glb_banks * hw.bank_words * 2 // 1024} kB (AlexNet, N=4)")
    for column in ("layer", "CP-SAT s", "status", "enumerator s", "evaluated", "enum / CP-SAT"):
        table.add_column(column, justify="right")
    for name, data in sorted(graph.nodes(data=True), key=lambda item: item[1].get("order", 0)):
        if data.get("kind") != "array":
            continue
        result = map_layer(data["layer"], hw, "energy")
        oracle = enumerate_best(data["layer"], hw, "energy", time_budget=enum_budget)
        enum = f"{oracle.wall_s:.1f}" + ("" if oracle.complete else " (stopped)")
        ratio = f"{oracle.wall_s / result.wall_s:.0f}x" + ("" if oracle.complete else "+")
        table.add_row(name, f"{result.wall_s:.2f}", result.status, enum, f"{oracle.evaluated:,}", ratio)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enum-budget", type=float, default=60.0, help="seconds per layer for the enumerator")
    args = parser.parse_args()
    console = Console(width=120)
    network_table(console, args.enum_budget)
    large_table(console, args.enum_budget)


if __name__ == "__main__":
    main()
