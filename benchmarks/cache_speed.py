"""The result cache: a second identical compile against the first.

    python benchmarks/cache_speed.py [--model examples/resnet50.onnx] [--batch 1]

Runs ``eyeriss compile`` twice as a user would (a fresh process each time)
against an empty cache folder, and prints per run the wall time of the whole
command, the compile time (frontend, search, costs,
bitstreams; measured in-process, a second cache) and the search time (the per-layer solver wall times summed,
0 for a layer answered by the cache), with the ratios.  Targets on 2 cores:
the second run searches >= 20x less and the whole command ends in < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent


def run_once(model: Path, batch: str, out: Path, env: dict[str, str]) -> float:
    """Wall time of one `eyeriss compile` command in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mapper", "compile", str(model), "--batch", batch, "-o", str(out),
                           "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"compile failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall


def in_process(model: Path, batch: str, cache: Path) -> tuple[float, float]:
    """(compile s, summed solver s) of one compile_model call (the report holds no timing: it is byte-stable)."""
    from mapper import compile_model

    result = compile_model(model, batch=int(batch) if batch.isdigit() else batch, cache=cache)
    searched = sum(layer.result.wall_s for layer in result.layers if layer.shared_with is None)
    return result.compile_s, searched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "examples" / "resnet50.onnx")
    parser.add_argument("--batch", default="1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / "cache"), NO_COLOR="1")
        # Python's own bytecode cache as on a user's machine: the first run writes __pycache__, the second
        # reads it (some sandboxes set PYTHONDONTWRITEBYTECODE, which would recompile every module each start).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cold = (run_once(args.model, args.batch, Path(tmp) / "a", env),
                *in_process(args.model, args.batch, Path(tmp) / "cache2"))
        warm = (run_once(args.model, args.batch, Path(tmp) / "b", env),
                *in_process(args.model, args.batch, Path(tmp) / "cache2"))
    table = Table(title=f"{args.model.name} batch {args.batch}: compile twice, one cache "
                        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for column in ("run", "command s", "compile s", "search s"):
        table.add_column(column, justify="right")
    table.add_row("first (cold)", *(f"{x:.3f}" for x in cold))
    table.add_row("second (cached)", *(f"{x:.3f}" for x in warm))
    ratio = lambda a, b: f"{a / b:.1f}x" if b else "inf"  # noqa: E731
    table.add_row("first / second", ratio(cold[0], warm[0]), ratio(cold[1], warm[1]), ratio(cold[2], warm[2]))
    Console().print(table)
    print(f"target: search >= 20x less: {'met' if warm[2] * 20 <= cold[2] else 'MISSED'}; "
          f"whole second command < 1 s: {'met' if warm[0] < 1.0 else 'MISSED'} ({warm[0]:.3f} s)")


if __name__ == "__main__":
    main()
