"""Sweep speed: a cold sweep, its re-run, and the Dask executor with 1 and 2 local workers.

    python benchmarks/sweep_speed.py [--points 100] [--networks alexnet resnet18 mobilenet_v2] [--no-dask]

The default sweep is 100 design points (array rows 8..16 x columns 8..16 x 4 GLB sizes) x AlexNet (N=4),
ResNet-18 and MobileNetV2 (N=1), energy objective.  Each run starts from an empty cache and output folder,
except the re-run, which reuses the cold run's (every point resumed); the unchained run is the cold one with
every layer search on its own (mapper.app.sweep.run.CHAIN_LENGTH = 1), the chains' gain.  Printed per run: wall
time, this process's CPU and the Dask workers', design points per minute, cache hit rate (searches answered by
the cache over searches needed), speed-up over the local executor.  Targets on 2 cores (issue 28): cold < 150 s,
re-run < 10 s, 2 Dask workers 1.8x one, the parent's CPU under 10 % of the workers'.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapper.app.sweep.executors import DaskExecutor, LocalExecutor  # noqa: E402
import mapper.app.sweep.run as run  # noqa: E402
from mapper.app.sweep.run import sweep  # noqa: E402
from mapper.app.sweep.spec import spec_from_dict  # noqa: E402

BATCH = {"alexnet": 4}
AXES = {"array.rows": [8, 10, 12, 14, 16], "array.cols": [8, 10, 12, 14, 16], "glb.banks": [16, 25, 32, 48]}


def spec_for(points: int, networks: list[str]):
    """The first ``points`` combinations of AXES (last axis fastest), as one list per axis."""
    combos = list(itertools.product(*AXES.values()))[:points]
    # A sweep is a cartesian product: take the smallest leading block of the full grid covering ``points``.
    values = {name: sorted({c[i] for c in combos}) for i, name in enumerate(AXES)}
    doc = {"base": "eyeriss", "vary": values,
           "networks": [{"model": str(ROOT / "examples" / f"{n}.onnx"), "batch": BATCH.get(n, 1)} for n in networks]}
    return spec_from_dict(doc, ROOT, "benchmark sweep")


def timed(spec, out: Path, cache: Path, executor) -> tuple[float, float, object]:
    """Wall seconds, this process's CPU seconds (every thread), the result."""
    start, cpu = time.perf_counter(), time.process_time()
    result = sweep(spec, out, executor=executor, cache=cache)
    return time.perf_counter() - start, time.process_time() - cpu, result


def unchained(spec, out: Path, cache: Path) -> tuple[float, float, object]:
    """``timed`` with every search on its own (no neighbour's answer to start from): the chains' gain."""
    saved = run.CHAIN_LENGTH
    run.CHAIN_LENGTH = 1
    try:
        return timed(spec, out, cache, LocalExecutor())
    finally:
        run.CHAIN_LENGTH = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--networks", nargs="+", default=["alexnet", "resnet18", "mobilenet_v2"])
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask runs")
    parser.add_argument("--no-chains", action="store_true", help="skip the unchained run (the chains' gain)")
    args = parser.parse_args()
    spec = spec_for(args.points, args.networks)
    runs: list[tuple[str, float, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        runs.append(("local, cold", *timed(spec, tmp_path / "o1", tmp_path / "c1", LocalExecutor()), None))
        runs.append(("local, re-run", *timed(spec, tmp_path / "o1", tmp_path / "c1", LocalExecutor()), None))
        if not args.no_chains:
            runs.append(("local, cold, unchained", *unchained(spec, tmp_path / "o2", tmp_path / "c2"), None))
        if not args.no_dask:
            from distributed import Client, LocalCluster

            for workers in (1, 2):
                with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, Client(cluster) as client:
                    measured = timed(spec, tmp_path / f"d{workers}", tmp_path / f"dc{workers}", DaskExecutor(client))
                    worker_cpu = sum(client.run(time.process_time).values())
                    runs.append((f"dask, {workers} worker(s), cold", *measured, worker_cpu))
    points = runs[0][3].progress.points
    table = Table(title=f"{points} design points x {', '.join(args.networks)} "
                        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    # CPU s: this process (every thread); worker CPU s: the Dask workers'; vs local: the cold local run's wall
    # time over this run's
    for column in ("run", "wall s", "CPU s", "worker CPU s", "points/min", "searches", "cache hits", "hit rate",
                   "vs local"):
        table.add_column(column, justify="right", no_wrap=column == "run")
    for name, wall, cpu, result, worker_cpu in runs:
        p = result.progress
        needed = p.tasks + p.cache_hits
        table.add_row(name, f"{wall:.1f}", f"{cpu:.1f}", "" if worker_cpu is None else f"{worker_cpu:.1f}",
                      f"{points / wall * 60:.1f}", str(p.tasks), str(p.cache_hits),
                      f"{p.cache_hits / needed:.0%}" if needed else "- (all points resumed)",
                      f"{runs[0][1] / wall:.2f}x" if name.startswith("dask") else "")
    Console(width=max(Console().width, 130)).print(table)  # a log file too gets every column
    cold, rerun = runs[0][1], runs[1][1]
    print(f"targets: cold < 150 s: {'met' if cold < 150 else 'MISSED'} ({cold:.0f} s); "
          f"re-run < 10 s: {'met' if rerun < 10 else 'MISSED'} ({rerun:.1f} s)")
    by_name = {name: (wall, cpu, worker_cpu) for name, wall, cpu, _, worker_cpu in runs}
    if "local, cold, unchained" in by_name:
        print(f"chains: the cold run took {by_name['local, cold'][1] / by_name['local, cold, unchained'][1]:.0%} "
              "of the unchained run's CPU")
    if "dask, 2 worker(s), cold" in by_name:
        one, two = by_name["dask, 1 worker(s), cold"], by_name["dask, 2 worker(s), cold"]
        print(f"dask: 2 workers {one[0] / two[0]:.2f}x the speed of 1 (target 1.8x); parent CPU "
              f"{two[1] / two[2]:.0%} of the workers' (target 10 %)")


if __name__ == "__main__":
    main()
