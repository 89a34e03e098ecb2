"""``eyeriss sweep SPEC.yaml``: hardware design points x networks, every layer proven optimal."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from mapper.app.commands.compile import add_cache_arguments, cache_choice
from mapper.app.untrusted import printable, text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sweep", help="design-space sweep: hardware points x networks, Pareto front, plots")
    parser.add_argument("spec", help="sweep specification (YAML; see docs/sweep.md)")
    parser.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default: ./<spec name>)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="where the layer searches run: the local cores, or a Dask cluster (--address)")
    parser.add_argument("--address", metavar="ADDR", help="a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--connect-timeout", metavar="SECONDS", type=_seconds, default=None,
                        help="how long the Dask scheduler may take to answer (default 10)")
    add_cache_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print points.json instead of tables")


def _seconds(value: str) -> float:
    """A finite wait in (0, MAX_CONNECT_SECONDS] seconds, else a usage error naming the value."""
    from mapper.app.sweep.executors import MAX_CONNECT_SECONDS

    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_CONNECT_SECONDS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{printable(value[:40])!s} is not a number of seconds in (0, "
                                         f"{MAX_CONNECT_SECONDS}]")
    return seconds


def run(args: argparse.Namespace) -> int:
    from mapper.app.atomic import atomic_write_bytes
    from mapper.app.sweep.executors import make_executor
    from mapper.app.sweep.plots import write_plots
    from mapper.app.sweep.run import points_csv, points_json, sweep
    from mapper.app.sweep.spec import load_spec
    from mapper.app.sweep.tables import counts_lines, front_table, infeasible_lines, names_line
    from mapper.search.cache import open_cache

    spec = load_spec(args.spec)
    out = Path(args.output) if args.output else Path.cwd() / Path(args.spec).stem
    executor = make_executor(args.executor, args.address, connect_seconds=args.connect_timeout)  # before any write
    out.mkdir(parents=True, exist_ok=True)
    cache = open_cache(cache_choice(args))  # one object: its write failure is warned once, after the sweep
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
            result = sweep(spec, out, executor=executor, cache=cache, on_progress=on_progress)
        finally:
            executor.close()
    if cache is not None and cache.warning():
        print(printable(f"warning: {cache.warning()}"), file=sys.stderr)
    atomic_write_bytes(out / "points.json", points_json(result, spec))
    atomic_write_bytes(out / "points.csv", points_csv(result))
    written = write_plots(result.rows, [n.name for n in spec.networks], out, [f for f, _ in spec.vary])
    networks = [n.name for n in spec.networks]
    if args.json:
        sys.stdout.write(points_json(result, spec).decode())
    else:
        varied = [f for f, _ in spec.vary]
        console = Console()
        console.print(front_table(result.front, varied, networks))
        legend = names_line(varied)
        if legend is not None:
            console.print(legend)
        lines = infeasible_lines(result.rows, varied, networks)
        if lines:
            console.print(Text("Infeasible:", style="bold"))
            for line in lines:
                console.print(line)
        for line in counts_lines(result.progress, result.rows, len(result.front), len(networks)):
            console.print(Text(line))
        shown = _shown(out)
        console.print(text(f"wrote {shown / 'points.json'}, points.csv, {', '.join(w.name for w in written)}"))
    print(f"sweep took {time.perf_counter() - start:.1f} s", file=sys.stderr)   # timings: the terminal only
    return 0


def _shown(path: Path) -> Path:
    """``path`` relative to the working folder when it is inside it (as the user typed it, mostly)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
