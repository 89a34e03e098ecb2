"""The chip's 16-bit run of every bundled network against onnxruntime's float run (issue 26's accuracy targets).

    python benchmarks/run_accuracy.py [--inputs 100] [--only NAME ...] [--work DIR]

Each network (seeded real weights, benchmarks/weighted.py) is compiled at batch 1 and run by ``mapper.run``
on the same seeded N(0, 1) inputs as onnxruntime.  Printed per network: top-1 agreement over the inputs,
the output SQNR over all inputs and the lowest per input, the largest absolute error, and the chip
simulation's time per inference.  Targets: top-1 identical on at least 99 of 100 inputs, output SQNR of at
least 40 dB for every network.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from weighted import NETWORKS, compiled  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def per_input_sqnr(chip: np.ndarray, ref: np.ndarray) -> np.ndarray:
    signal = (ref.astype(np.float64) ** 2).reshape(len(ref), -1).sum(axis=1)
    noise = ((ref.astype(np.float64) - chip) ** 2).reshape(len(ref), -1).sum(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(signal / noise)


def measure(name: str, work: Path, count: int) -> list[str]:
    from mapper.app.run import load_program, run

    folder = compiled(name, work)
    data = load_program(folder)
    spec = data.program.inputs[0]
    inputs = np.random.default_rng(2026).standard_normal((count, *spec.shape[1:])).astype(np.float32)
    result = run(folder, {spec.name: inputs}, reference=work / f"{name}.onnx", data=data)
    out = result.output
    output = result.outputs[out.name]
    worst = float(per_input_sqnr(output, result.reference_outputs[out.name]).min())
    agree = round(out.top1_agreement * count) if out.top1_agreement is not None else None
    db = lambda v: "exact" if v is None or math.isinf(v) else f"{v:.1f}"  # noqa: E731
    return [name, f"{agree}/{count}" if agree is not None else "-", db(out.sqnr_db), db(worst),
            f"{out.max_abs_error:.3g}", f"{result.seconds_per_batch:.2f}",
            str(sum(result.saturations.values()))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100)
    parser.add_argument("--only", nargs="*", choices=NETWORKS)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "eyeriss-weighted-examples")
    args = parser.parse_args()
    table = Table(title=f"chip (16-bit, simulated array) vs onnxruntime float, {args.inputs} seeded inputs "
                        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for column in ("network", "top-1 same", "output SQNR dB", "worst input dB", "max |error|", "s / inference",
                   "saturated words"):
        table.add_column(column, justify="right")
    for name in args.only or NETWORKS:
        table.add_row(*measure(name, args.work, args.inputs))
    Console().print(table)


if __name__ == "__main__":
    main()
