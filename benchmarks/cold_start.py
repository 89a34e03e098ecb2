"""Cold and warm starts of ``eyeriss compile``, whole process, and where a cold start's time goes.

    python benchmarks/cold_start.py [--repeat 5]

Table 1, per network (AlexNet, ResNet-50, batch 1): the median wall and CPU time of a whole-process compile
(``python -m mapper compile FILE --batch 1``) cold (``--no-cache``), with every search answered by the result cache
the first compile filled but its output cache emptied ("layers cached": mapper.search.cache), and warm (the same
compile again: the output cache, mapper.app.output_cache, writes the stored folder), against issue 28's targets
(idle 2-core machine: AlexNet cold <= 0.5 s, ResNet-50 cold <= 1.2 s, ResNet-50 warm <= 0.4 s).  Runs alternate,
a repetition at a time, so a busy period hits every kind.
CPU is the child's user + system time (``os.wait4``).  Every child reads Python's bytecode cache, which an unmeasured
first run writes (a user's machine has it: pip byte-compiles a wheel), even where PYTHONDONTWRITEBYTECODE is set.

Table 2: ``python -X importtime`` of a cold AlexNet compile, the packages that take the most import time
(each with what it pulls in; a package counts where another imports it, so the rows overlap) and the sum of every
import: the floor a cold start cannot go below without importing less.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {"AlexNet": "alexnet.onnx", "ResNet-50": "resnet50.onnx"}
TARGETS = {("AlexNet", "cold"): 0.5, ("ResNet-50", "cold"): 1.2, ("ResNet-50", "warm"): 0.4}  # issue 28, seconds
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def compile_once(model: Path, out: Path, cache: Path | None, importtime: bool = False) -> tuple[float, float, str]:
    """One whole-process compile: wall seconds, CPU seconds, its stderr."""
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "mapper", "compile", str(model),
               "--batch", "1", "-o", str(out), *(["--no-cache"] if cache is None else [])]
    env = dict(os.environ, XDG_CACHE_HOME=str(cache or out.parent / "unused-cache"), PYTHONPYCACHEPREFIX=str(
        out.parent / "pycache"))
    # Python's own bytecode cache as on a user's machine (a wheel install byte-compiles; an editable one writes it
    # on its first run): some sandboxes set PYTHONDONTWRITEBYTECODE, which recompiles every module at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    err = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"compile of {model.name} failed (exit {child.returncode}): {err.strip()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime, err


def import_table(stderr: str, shown: int = 10) -> tuple[list[tuple[str, float]], float]:
    """Packages by the import time they cost (seconds, their own submodules and what they pull in included),
    and the sum over every top-level import.

    ``-X importtime`` prints a module after its imports, two spaces of indent per level; a module counts for
    its package where the module importing it belongs to another package (``onnx`` under ``frontends``).
    """
    lines = [(len(m.group(3)) // 2, m.group(4).split(".")[0], int(m.group(2)) / 1e6)
             for m in map(IMPORT_LINE.match, stderr.splitlines()) if m]
    packages: dict[str, float] = {}
    parents: list[str] = []  # the package at each level above the line, read from the end (parents first)
    for level, package, seconds in reversed(lines):
        del parents[level:]
        if not parents or parents[-1] != package:
            packages[package] = packages.get(package, 0.0) + seconds
        parents.append(package)
    total = sum(seconds for level, _, seconds in lines if level == 0)
    return sorted(packages.items(), key=lambda item: -item[1])[:shown], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        compile_once(ROOT / "examples" / NETWORKS["AlexNet"], Path(tmp) / "warm-up", None)  # writes the bytecode
        for rep in range(args.repeat):
            for name, file in NETWORKS.items():
                cache = Path(tmp) / f"cache-{name}-{rep}"
                model = ROOT / "examples" / file
                times.setdefault((name, "cold"), []).append(compile_once(model, Path(tmp) / "c", None)[:2])
                compile_once(model, Path(tmp) / "fill", cache)  # fills the caches the other runs read
                shutil.rmtree(cache / "eyeriss" / "compiles")  # the layer answers stay, the whole compile goes
                times.setdefault((name, "layers cached"), []).append(compile_once(model, Path(tmp) / "l", cache)[:2])
                times.setdefault((name, "warm"), []).append(compile_once(model, Path(tmp) / "w", cache)[:2])
        stderr = compile_once(ROOT / "examples" / "alexnet.onnx", Path(tmp) / "i", None, importtime=True)[2]
    console = Console()
    table = Table(title=f"whole-process compile, batch 1, median of {args.repeat} "
                        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                        f"load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d')})")
    for column in ("network", "start", "wall s", "CPU s", "target wall s", "met"):
        table.add_column(column, justify="right")
    for (name, start), runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        target = TARGETS.get((name, start))
        table.add_row(name, start, f"{wall:.2f}", f"{cpu:.2f}", "" if target is None else f"{target:.1f}",
                      "" if target is None else "yes" if wall <= target else "no")
    console.print(table)
    ranked, total = import_table(stderr)
    imports = Table(title=f"python -X importtime, cold AlexNet compile: {total:.2f} s of imports in all")
    imports.add_column("package")
    imports.add_column("import s (with what it pulls in)", justify="right")
    for package, seconds in ranked:
        imports.add_row(package, f"{seconds:.3f}")
    console.print(imports)


if __name__ == "__main__":
    main()
