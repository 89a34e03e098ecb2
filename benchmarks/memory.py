"""Peak memory of the frontend and of a whole compile on a model with ~550 MB of embedded weights.

    python benchmarks/memory.py [--keep]

Builds VGG-16 with its 138 M weights embedded as float32 initializers (the
bundled examples/vgg16.onnx is shape-only), then measures, each in a fresh
process (peak resident set from wait4):

* ``onnx.load`` of the file, what a naive frontend does (bytes + message);
* ``eyeriss inspect`` and ``eyeriss compile`` on it;
* the same two commands on the shape-only model, the baseline of the code
  itself (Python, onnx, OR-tools).

The weight cost of our commands is their peak minus the shape-only peak;
the table gives it as a share of the file size (the target: well under 1,
i.e. the weights are never held, let alone twice).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent


def with_weights(source: Path, target: Path) -> int:
    """Turn every weight graph input of ``source`` into an embedded random float32 initializer."""
    model = onnx.load(str(source))
    rng = np.random.default_rng(0)
    feeds = {node_input for node in model.graph.node for node_input in node.input}
    keep = []
    for value in model.graph.input:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.name in feeds and dims and all(d > 0 for d in dims) and value.name != model.graph.input[0].name:
            array = rng.random(dims, dtype=np.float32) - np.float32(0.5)
            model.graph.initializer.append(numpy_helper.from_array(array, value.name))
        else:
            keep.append(value)
    del model.graph.input[:]
    model.graph.input.extend(keep)
    onnx.save(model, str(target))
    return target.stat().st_size


def peak_mb(argv: list[str]) -> tuple[float, int]:
    """Peak RSS in MB of ``argv`` run in a fresh process (its own VmHWM: a forked child's
    ru_maxrss would start from the parent's), and its exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as report:
        process = subprocess.run([sys.executable, __file__, "--measure", report.name, "--", *argv[1:]],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if process.returncode not in (0, 1):
            sys.stderr.write(process.stderr)
        return int(report.read() or 0) / 1024, process.returncode


def measure(out: str, argv: list[str]) -> int:
    """Child side: run ``-m module args`` or ``-c code`` in this process, then record VmHWM (kB)."""
    import runpy

    code = 0
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            exec(argv[1], {})
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    status = Path("/proc/self/status").read_text()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    Path(out).write_text(peak)
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the generated model")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        raise SystemExit(measure(args.measure, args.child))
    console = Console()
    folder = Path(tempfile.mkdtemp(prefix="eyeriss-mem-"))
    shape_only = ROOT / "examples" / "vgg16.onnx"
    heavy = folder / "vgg16_weights.onnx"
    with console.status("writing VGG-16 with embedded weights"):
        size_mb = with_weights(shape_only, heavy) / 2**20
    py = sys.executable
    runs = [
        ("onnx.load", [py, "-c", f"import onnx; onnx.load({str(heavy)!r})"], None),
        ("eyeriss inspect", [py, "-m", "mapper", "inspect", "{model}"], "inspect"),
        ("eyeriss compile", [py, "-m", "mapper", "compile", "{model}", "--batch", "3", "--time-limit", "10",
                                       "-o", str(folder / "out")], "compile"),
    ]
    table = Table(title=f"Peak memory, VGG-16 with {size_mb:.0f} MB of embedded weights")
    for column in ("run", "shape-only MB", "weights MB", "extra MB", "extra / file"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for title, argv, _ in runs:
        light, light_code = peak_mb([a.replace("{model}", str(shape_only)) for a in argv]) if "{model}" in argv else (None, 0)

        full, code = peak_mb([a.replace("{model}", str(heavy)) for a in argv])
        title += f" (exit {code})" if light is None else f" (exit {light_code}/{code})"
        if light is None:
            table.add_row(title, "-", f"{full:.0f}", "-", f"{full / size_mb:.2f} (all)")
            continue
        cost = full - light
        table.add_row(title, f"{light:.0f}", f"{full:.0f}", f"{cost:.0f}", f"{cost / size_mb:.3f}")
    console.print(table)
    if not args.keep:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    else:
        console.print(f"kept {heavy}")


if __name__ == "__main__":
    main()
