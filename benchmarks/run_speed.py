"""Time and memory of ``eyeriss run`` from a compiled folder, layer by layer (issue 26's speed targets).

    python benchmarks/run_speed.py [--only alexnet resnet50] [--work DIR]

Each network (seeded real weights, benchmarks/weighted.py) is compiled at batch 1; then one inference is
run in this process on the simulated chip, timing every step and measuring the peak of numpy's and
Python's allocations within it (tracemalloc), and once more as a user would, a fresh ``eyeriss run``
process whose wall time and peak RSS are measured.  Targets on 2 cores: AlexNet in at most 10 s,
ResNet-50 in at most 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from weighted import compiled  # noqa: E402


def per_step(folder: Path, inputs: dict[str, np.ndarray]) -> list[tuple[str, str, float, float]]:
    """(step, op, seconds, peak MB) of one inference, in order."""
    from mapper.app.execute import execute
    from mapper.app.run import load_program

    data = load_program(folder)
    rows: list[tuple[str, str, float, float]] = []
    clock = [time.perf_counter()]
    tracemalloc.start()

    def observe(step) -> None:
        now = time.perf_counter()
        op = "array" if hasattr(step, "formats") else step.op
        rows.append((step.name, op, now - clock[0], tracemalloc.get_traced_memory()[1] / 2**20))
        tracemalloc.reset_peak()
        clock[0] = time.perf_counter()

    execute(data, inputs, "chip", observe=observe)
    tracemalloc.stop()
    return rows


# The child reports its own peak from /proc (VmHWM: per address space, so it starts afresh at exec);
# a forked child's ru_maxrss would start at this large process's own peak.
_CHILD = """
import sys
from mapper.app.cli import main
try:
    code = main(sys.argv[2:])
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    open(sys.argv[1], "w").write(hwm)
raise SystemExit(code)
"""


def whole_process(folder: Path, inputs: Path) -> tuple[float, float]:
    """(wall s, peak RSS MB) of `eyeriss run` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "vmhwm_kb"
        argv = [sys.executable, "-c", _CHILD, str(peak), "run", str(folder), "--inputs", str(inputs), "--json"]
        start = time.perf_counter()
        child = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if child.returncode:
            raise SystemExit(f"eyeriss run failed: {child.stderr[-1000:].decode(errors='replace')}")
        return wall, int(peak.read_text()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["alexnet", "resnet50"])
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "eyeriss-weighted-examples")
    args = parser.parse_args()
    console = Console()
    summary = Table(title=f"eyeriss run, batch 1, one inference (load average {os.getloadavg()[0]:.1f} on "
                          f"{os.cpu_count()} cores)")
    for column in ("network", "process wall s", "peak RSS MB", "array s", "host s", "largest step peak MB"):
        summary.add_column(column, justify="right")
    for name in args.only:
        folder = compiled(name, args.work)
        from mapper.app.run import load_program

        spec = load_program(folder).program.inputs[0]
        x = np.random.default_rng(0).standard_normal(spec.shape).astype(np.float32)
        np.save(args.work / f"{name}_input.npy", x)
        rows = per_step(folder, {spec.name: x})
        table = Table(title=f"{name}: per step")
        for column in ("step", "op", "s", "peak MB"):
            table.add_column(column, justify="right")
        for step, op, seconds, peak in rows:
            table.add_row(step, op, f"{seconds:.3f}", f"{peak:.1f}")
        console.print(table)
        wall, rss = whole_process(folder, args.work / f"{name}_input.npy")
        array = sum(s for _, op, s, _ in rows if op == "array")
        host = sum(s for _, op, s, _ in rows if op != "array")
        summary.add_row(name, f"{wall:.2f}", f"{rss:.0f}", f"{array:.2f}", f"{host:.2f}",
                        f"{max(p for *_, p in rows):.0f}")
    console.print(summary)


if __name__ == "__main__":
    main()
