"""``eyeriss sweep SPEC.yaml``: hardware design points x networks, every layer proven optimal."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from mapper.app.commands.compile import add_cache_arguments, cache_choice
from mapper.app.untrusted import printable, text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sweep", help="design-space sweep: hardware points x networks, Pareto front, plots")
    parser.add_argument("spec", help="sweep specification (YAML; see docs/sweep.md)")
    parser.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default: ./<spec name>)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="where the layer searches run: the local cores, or a Dask cluster (--address)")
    parser.add_argument("--address", metavar="ADDR", help="a running Dask scheduler, e.g. tcp://host:8786")
    add_cache_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print points.json instead of tables")


def _front_table(result, spec) -> Table:
    table = Table(title="Pareto front (energy, latency, area) per network", title_style="bold")
    varied = [f for f, _ in spec.vary]
    for column in ("network", *varied, "mm2", "uJ/inf", "ms", "util", "statuses"):
        table.add_column(column, justify="left" if column in ("network", "statuses") else "right")
    for row in result.front:
        table.add_row(text(row["network"]), *(str(row[f]) for f in varied), f"{row['area_mm2']:.3g}",
                      f"{row['energy_pj_per_inference'] / 1e6:.4g}", f"{row['latency_ms']:.4g}",
                      f"{row['utilization']:.2f}" if row["utilization"] is not None else "-", text(row["statuses"]))
    return table


def run(args: argparse.Namespace) -> int:
    from mapper.app.atomic import atomic_write_bytes
    from mapper.app.sweep.executors import make_executor
    from mapper.app.sweep.plots import write_plots
    from mapper.app.sweep.run import points_csv, points_json, sweep
    from mapper.app.sweep.spec import load_spec

    spec = load_spec(args.spec)
    out = Path(args.output) if args.output else Path.cwd() / Path(args.spec).stem
    executor = make_executor(args.executor, args.address)   # refused before anything is written
    out.mkdir(parents=True, exist_ok=True)
    err = Console(stderr=True)
    bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[info]}", markup=False), TimeRemainingColumn(), console=err,
                   transient=True, disable=not err.is_terminal)
    start = time.perf_counter()
    with bar:
        job = bar.add_task("searches", total=None, info="")

        def on_progress(p) -> None:
            if p.tasks_done < p.tasks:
                bar.update(job, description="layer searches", completed=p.tasks_done, total=p.tasks,
                           info=f"{p.cache_hits} cache hits")
            else:
                bar.update(job, description="design points", completed=p.points_done, total=p.points,
                           info=f"{p.cache_hits} cache hits, {p.points_resumed} resumed")

        try:
            result = sweep(spec, out, executor=executor, cache=cache_choice(args), on_progress=on_progress)
        finally:
            executor.close()
    atomic_write_bytes(out / "points.json", points_json(result, spec))
    atomic_write_bytes(out / "points.csv", points_csv(result))
    written = write_plots(result.rows, [n.name for n in spec.networks], out)
    p = result.progress
    if args.json:
        sys.stdout.write(points_json(result, spec).decode())
    else:
        console = Console()
        console.print(_front_table(result, spec))
        infeasible = sum(1 for row in result.rows if not row["feasible"])
        console.print(text(f"{p.points} design points x {len(spec.networks)} network(s): {infeasible} row(s) "
                           f"infeasible, {len(result.front)} on the front; {p.tasks} layer searches run, "
                           f"{p.cache_hits} from the cache, {p.points_resumed} point(s) resumed; "
                           f"{time.perf_counter() - start:.1f} s"))
        console.print(text(f"wrote {out / 'points.json'}, points.csv, {', '.join(w.name for w in written)}"))
    for row in result.rows:
        if not row["feasible"] and row["reason"] and not args.json:
            print(printable(f"point {row['point']} {row['network']}: {row['reason']}"), file=sys.stderr)
    return 0
