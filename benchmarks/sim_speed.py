"""Speed of the functional simulator (mapper/chip/simulator.py) on whole networks, measured in one run.

    python benchmarks/sim_speed.py [--only alexnet resnet50] [--flips N] [--baseline [REV]]

Each array layer at batch 1 is mapped (CP-SAT, energy objective, bundled Eyeriss), configured with the
shift ``eyeriss simulate`` picks, and simulated on seeded random operands; "sim s" is the simulation
alone (``check_config``'s clock), "match" says the ofmap and accumulator equal ``reference`` bit for bit
and every count equals the cost model's.  Table 1 is AlexNet per layer, table 2 the per-network totals
against the targets the simulator is held to on this machine (AlexNet's 8 layers under 4 s, ResNet-50's 54
under 40 s; ``eyeriss run`` needs AlexNet in 10 s and ResNet-50 in 60 s end to end on 2 cores).

``--baseline REV`` (default HEAD) also times the simulator as committed at git revision REV on the same
configured layers, side by side ("REV s"): before and after measured in one run.

Table 3 checks that the speed did not come from bypassing the IDs: in a few layers, one ifmap col-ID bit of
``--flips`` clocked PEs (dataclasses.replace on the config's NetworkIds) is flipped and the layer simulated
again; the ofmap must change or the simulator must report a fault.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cost_models.hardware import Hardware, default_hardware  # noqa: E402
from frontends import array_layers, load_onnx  # noqa: E402
from mapper.chip.allocation import NETWORKS  # noqa: E402
from mapper.chip.bitstream import Config, config_for  # noqa: E402
from mapper.chip.simulator import check_config, choose_shift, random_operands, reference, simulate  # noqa: E402
from mapper.search.cpsat import map_layer  # noqa: E402

NETWORKS_RUN = {"alexnet": ("AlexNet", "alexnet.onnx", 4.0), "resnet50": ("ResNet-50", "resnet50.onnx", 40.0)}
FLIP_LAYERS = {"alexnet": ("conv1", "conv3", "gemm1"), "resnet50": ("conv2", "conv15", "conv46")}


def configured(path: Path, hw: Hardware) -> list[tuple[str, Config, np.ndarray, np.ndarray]]:
    """(name, config, weights, ifmap) of every array layer at batch 1; each distinct shape is mapped once."""
    mappings: dict = {}
    out = []
    for index, (name, layer) in enumerate(array_layers(load_onnx(path, batch=1))):
        if layer not in mappings:
            mappings[layer] = map_layer(layer, hw, "energy").mapping
        if mappings[layer] is None:
            raise SystemExit(f"{path.name}: layer {name} has no mapping")
        weights, ifmap = random_operands(layer, index)
        config = config_for(layer, mappings[layer], hw, choose_shift(reference(layer, weights, ifmap)))
        out.append((name, config, weights, ifmap))
    return out


def baseline_simulator(rev: str):
    """mapper/chip/simulator.py as committed at ``rev``, imported as a module of its own."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:mapper/chip/simulator.py"], check=True,
                            capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("baseline_simulator", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module


def timed(module, config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray) -> float:
    start = time.perf_counter()
    module.simulate(config, hw, weights, ifmap)
    return time.perf_counter() - start


def flip_ifmap_col(config: Config, hw: Hardware, pe: tuple[int, int]) -> Config:
    """The config with the lowest bit of PE ``pe``'s ifmap col ID flipped."""
    at = NETWORKS.index("ifmap")
    net = config.networks[at]
    y, x = pe
    cols = [list(row) for row in net.col_ids]
    cols[y][x] ^= 1
    networks = list(config.networks)
    networks[at] = dataclasses.replace(net, col_ids=tuple(tuple(row) for row in cols))
    return dataclasses.replace(config, networks=tuple(networks))


def flip_check(config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray,
               flips: int) -> tuple[str, str, str]:
    """(PEs flipped, how many changed the ofmap / faulted, verdict) for ``flips`` clocked PEs of column 0."""
    clean = simulate(config, hw, weights, ifmap).ofmap
    pes = [(y, 0) for y in range(hw.rows) if config.active[y][0]]
    pes = [pes[i * (len(pes) - 1) // max(1, flips - 1)] for i in range(min(flips, len(pes)))]
    changed = faulted = caught = 0
    for pe in pes:
        result = simulate(flip_ifmap_col(config, hw, pe), hw, weights, ifmap)
        differs = not np.array_equal(result.ofmap, clean)
        faulted += bool(result.faults)
        changed += differs
        caught += differs or bool(result.faults)
    verdict = "steered" if caught == len(pes) else f"NOT CAUGHT on {len(pes) - caught}"
    return ", ".join(f"({y},{x})" for y, x in pes), f"{changed} changed, {faulted} faulted", verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(NETWORKS_RUN), choices=list(NETWORKS_RUN))
    parser.add_argument("--flips", type=int, default=3, help="PEs per layer whose ifmap col ID is flipped (0: skip)")
    parser.add_argument("--baseline", nargs="?", const="HEAD", metavar="REV",
                        help="also time the simulator committed at REV (default HEAD)")
    args = parser.parse_args()
    hw = default_hardware()
    base = baseline_simulator(args.baseline) if args.baseline else None
    before = [f"{args.baseline} s"] if base else []
    console = Console()
    totals = Table(title=f"Simulated networks, batch 1 (load average {os.getloadavg()[0]:.1f} on "
                         f"{os.cpu_count()} cores)")
    for column in ("network", "layers", "sim s", *before, "worst", "its s", "all match", "target s", "met"):
        totals.add_column(column, justify="right", no_wrap=column == "network")
    flips = Table(title="One ifmap col-ID bit flipped per run (the IDs steer the data)")
    for column in ("network", "layer", "PEs flipped (row,col)", "outcome", "verdict"):
        flips.add_column(column)
    for key in args.only:
        title, file, target = NETWORKS_RUN[key]
        layers = configured(ROOT / "examples" / file, hw)
        rows = []
        for name, config, weights, ifmap in layers:
            check = check_config(config, hw, weights, ifmap)
            old = [timed(base, config, hw, weights, ifmap)] if base else []
            rows.append((name, config, check.seconds, check.matched, *old))
        if key == "alexnet":
            table = Table(title=f"{title}: simulation seconds per layer")
            for column in ("layer", "M C H W R S", "n e p q r t g m", "sim s", *before, "match"):
                table.add_column(column, justify="right")
            for name, config, seconds, matched, *old in rows:
                L = config.layer
                table.add_row(name, f"{L.M} {L.C} {L.H} {L.W} {L.R} {L.S}",
                              " ".join(str(v) for v in config.mapping.as_dict().values()), f"{seconds:.3f}",
                              *(f"{v:.3f}" for v in old), "match" if matched else "MISMATCH")
            console.print(table)
        total = sum(row[2] for row in rows)
        old_total = [f"{sum(row[4] for row in rows):.2f}"] if base else []
        slowest = max(rows, key=lambda row: row[2])
        totals.add_row(title, str(len(rows)), f"{total:.2f}", *old_total, slowest[0], f"{slowest[2]:.2f}",
                       "yes" if all(row[3] for row in rows) else "NO", f"{target:.0f}",
                       "yes" if total <= target else "NO")
        if args.flips > 0:
            wanted = FLIP_LAYERS[key]
            for name, config, weights, ifmap in layers:
                if name in wanted:
                    flips.add_row(title, name, *flip_check(config, hw, weights, ifmap, args.flips))
    console.print(totals)
    if args.flips > 0:
        console.print(flips)


if __name__ == "__main__":
    main()
