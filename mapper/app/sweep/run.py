"""Run a sweep: the distinct layer searches once, on an executor; then every point x network as compile does.

Stage 1 collects every (layer shape, relevant hardware, objective, data
ratios) the sweep needs, across networks, batches and points, drops those the
result cache already holds and those equal to another (mapper.search.cache's
key), and solves the rest on the executor; the client stores each answer in
the cache.  Stage 2 compiles each point's networks with ``compile_model`` on
that cache, so a point's figures are those of a plain ``eyeriss compile`` of
the network on the point's hardware.  Each finished point is written at once
(OUTDIR/points/NNNNNN.json, atomically); a rerun reuses every point whose
inputs match and every search the cache holds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cost_models.area import area
from cost_models.errors import InputError
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import DataRatios
from mapper.app.atomic import atomic_write_bytes
from mapper.app.sweep.executors import Executor, LocalExecutor
from mapper.app.sweep.pareto import front
from mapper.app.sweep.points import Point, points
from mapper.app.sweep.spec import Spec
from mapper.search.cache import ResultCache, open_cache, package_version, task_key
from mapper.search.cpsat import map_layer
from mapper.search.result import LayerResult

SCHEMA = "eyeriss-sweep/1"
AUTO_BATCHES = range(1, 17)   # what compile's --batch auto tries (cost_models.choices.DEFAULT_MAX_BATCH)
FIGURES = ("area_mm2", "energy_pj_per_inference", "latency_ms", "edp_pj_ms", "power_mw", "utilization",
           "dram_words", "layers", "unmapped", "statuses", "feasible", "reason", "pareto")


@dataclass(frozen=True)
class Task:
    """One layer search, small enough to ship to a worker."""

    layer: LayerShape
    hardware: Hardware
    objective: str
    ratios: DataRatios
    time_limit: float
    space: str = "full"  # the mapping space (cost_models.rules)


# Searches per chain: a layer's searches at consecutive design points, one worker task.  Longer chains pass
# more proofs along; shorter ones balance the workers better (a chain runs on one core).
CHAIN_LENGTH = 8


def solve_chain(chain: tuple[Task, ...]) -> tuple[LayerResult, ...]:
    """What a worker runs (module level, so Dask can pickle it by name): one layer at neighbouring points.

    Each search starts from the previous point's answer (``map_layer(known=...)``): the neighbour one
    field away usually still fits, and its cost caps this point's search.  A proven answer is the same
    as without it; an unproven one is never cached, so the point's compile (stage 2) searches it afresh.
    """
    results: list[LayerResult] = []
    known = None
    for task in chain:
        result = map_layer(task.layer, task.hardware, task.objective, ratios=task.ratios,
                           time_limit=task.time_limit, space=task.space, known=known)
        results.append(result)
        known = result.mapping or known
    return tuple(results)


def chains(tasks: list[Task]) -> list[tuple[Task, ...]]:
    """``tasks`` (in point order) grouped per layer search, each group cut into chains of CHAIN_LENGTH."""
    groups: dict[tuple, list[Task]] = {}
    for task in tasks:
        groups.setdefault((task.layer, task.ratios, task.objective, task.space, task.time_limit), []).append(task)
    return [tuple(group[i:i + CHAIN_LENGTH]) for group in groups.values()
            for i in range(0, len(group), CHAIN_LENGTH)]


@dataclass
class Progress:
    """Counts for a progress display: tasks and points done, cache hits, elapsed time."""

    tasks: int = 0         # distinct layer searches solved in this run
    tasks_done: int = 0
    cache_hits: int = 0    # distinct layer searches the result cache answered
    points: int = 0
    points_done: int = 0
    points_resumed: int = 0
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class SweepResult:
    fields: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    progress: Progress

    @property
    def front(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["pareto"]]


def _graphs(spec: Spec):
    from frontends import load_onnx

    for net in spec.networks:
        graph = load_onnx(net.model, batch=None if net.batch == "auto" else net.batch, input_shapes=net.shapes)
        if net.batch == "auto" and graph.graph["batch_symbolic"]:
            yield from (load_onnx(net.model, batch=b, input_shapes=net.shapes) for b in AUTO_BATCHES)
        else:
            yield graph


def _shapes(spec: Spec) -> list[tuple[LayerShape, DataRatios]]:
    """Every distinct (layer, ratios) of every network and batch, ratios as compile's defaults give them."""
    from mapper.search.network import array_nodes, layer_statistics

    seen: dict[tuple[LayerShape, DataRatios], None] = {}
    for graph in _graphs(spec):
        stats = layer_statistics(graph)
        for name, data in array_nodes(graph):
            seen.setdefault((data["layer"], stats[name].ratios()), None)
    return list(seen)


def _tasks(spec: Spec, pts: list[Point], cache: ResultCache, progress: Progress) -> list[Task]:
    shapes = _shapes(spec)
    tasks: dict[str, Task] = {}
    cached: set[str] = set()   # so a search two points share counts once, solved or cached
    for point in pts:
        if point.hardware is None:
            continue
        for layer, ratios in shapes:
            key = task_key(layer, point.hardware, spec.objective, ratios, None, cache.version, spec.mapping_space)
            if key in tasks or key in cached:
                continue
            if cache.get(layer, point.hardware, spec.objective, ratios, space=spec.mapping_space) is not None:
                cached.add(key)
                progress.cache_hits += 1
                continue
            tasks[key] = Task(layer, point.hardware, spec.objective, ratios, spec.time_limit, spec.mapping_space)
    return list(tasks.values())


def _network_row(spec: Spec, point: Point, net, cache: ResultCache) -> dict[str, Any]:
    """One point x network, compiled as ``eyeriss compile`` would."""
    from mapper.app.compiler import compile_model

    hw = point.hardware
    row: dict[str, Any] = {"area_mm2": area(hw).core_mm2}
    try:
        result = compile_model(net.model, batch=net.batch, objective=spec.objective, hardware=hw,
                               time_limit=spec.time_limit, cache=cache, mapping_space=spec.mapping_space,
                               compare_spaces=False, input_shapes=net.shapes)
    except InputError as error:
        return row | {"feasible": False, "reason": str(error), "layers": 0, "unmapped": 0}
    # The typed result, not result.report(): the same figures without each layer's report entry (its binding
    # limits, placement and bitstream digest), a third of a row's CPU in the sweep's parent process.
    t = result.totals
    mapped = [layer for layer in result.layers if layer.ok]
    statuses: dict[str, int] = {}
    for layer in result.layers:
        statuses[layer.result.status] = statuses.get(layer.result.status, 0) + 1
    ms, pj = t.latency.total_ms, t.energy.total_pj
    row |= {"batch": result.batch, "energy_pj_per_inference": t.energy.per_inference_pj, "latency_ms": ms,
            "edp_pj_ms": round(pj * ms, 3), "power_mw": round(pj / ms * 1e-6, 6) if ms else None,
            "utilization": round(t.average_active_pes / hw.pes, 6) if t.average_active_pes else None,
            "dram_words": sum(layer.result.cost.level_total("dram") for layer in mapped),
            "layers": len(result.layers), "unmapped": t.unmapped,
            "statuses": " ".join(f"{k}={v}" for k, v in sorted(statuses.items()))}
    unmapped: dict[str, list[str]] = {}   # one reason, the layers it stops (often every conv for one cause)
    for layer in result.unmapped:
        unmapped.setdefault(layer.result.reason or layer.result.status, []).append(layer.name)
    reasons = [f"{'layer' if len(names) == 1 else 'layers'} {', '.join(names)}: no valid mapping: {why}"
               for why, names in unmapped.items()]
    reasons += _broken_constraints(spec, net.name, row)
    return row | {"feasible": not reasons, "reason": "; ".join(reasons) or None}


def _broken_constraints(spec: Spec, network: str, row: dict[str, Any]) -> list[str]:
    out = []
    if spec.max_area_mm2 is not None and row["area_mm2"] > spec.max_area_mm2:
        out.append(f"area {row['area_mm2']:.4g} mm2 > {spec.max_area_mm2:g} mm2")
    bound = spec.latency_bound(network)
    if bound is not None and row["latency_ms"] > bound:
        out.append(f"latency {row['latency_ms']:.4g} ms > {bound:g} ms")
    if spec.max_power_mw is not None and row["power_mw"] is not None and row["power_mw"] > spec.max_power_mw:
        out.append(f"power {row['power_mw']:.4g} mW > {spec.max_power_mw:g} mW")
    return out


def _point_rows(spec: Spec, point: Point, cache: ResultCache) -> list[dict[str, Any]]:
    head = {"point": point.index, **dict(point.values)}
    if point.hardware is None:
        return [head | {"network": net.name, "feasible": False, "reason": point.reason} for net in spec.networks]
    return [head | {"network": net.name} | _network_row(spec, point, net, cache) for net in spec.networks]


def _resumed(path: Path, key: str) -> list[dict[str, Any]] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(doc.get("rows"), list):
        return None
    return doc["rows"]


def mark_front(fields: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every column (None where a figure does not exist), the front marked per network."""
    full = [{name: row.get(name) for name in fields} for row in rows]
    for network in dict.fromkeys(row["network"] for row in full):
        mine = [row for row in full if row["network"] == network and row["feasible"]]
        marks = front([(r["energy_pj_per_inference"], r["latency_ms"], r["area_mm2"]) for r in mine])
        for row, mark in zip(mine, marks):
            row["pareto"] = mark
    for row in full:
        row["pareto"] = bool(row["pareto"])
    return full


def sweep(spec: Spec, outdir: str | Path | None = None, *, executor: Executor | None = None,
          cache: ResultCache | str | Path | bool | None = True,
          on_progress: Callable[[Progress], None] | None = None) -> SweepResult:
    """Run ``spec``; with ``outdir``, write each finished point there and resume from what it holds."""
    store = open_cache(cache) or ResultCache(Path(outdir or ".") / ".cache")
    progress = Progress()
    pts = list(points(spec))
    progress.points = len(pts)
    version = package_version()
    keys = {p.index: p.key(spec, version) for p in pts}
    folder = Path(outdir) / "points" if outdir is not None else None
    done: dict[int, list[dict[str, Any]]] = {}
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for p in pts:
            rows = _resumed(folder / f"{p.index:06d}.json", keys[p.index])
            if rows is not None:
                done[p.index] = rows
        progress.points_resumed = progress.points_done = len(done)
    notify = on_progress or (lambda _: None)
    tasks = _tasks(spec, [p for p in pts if p.index not in done], store, progress)
    progress.tasks = len(tasks)
    notify(progress)
    own = executor is None
    executor = executor or LocalExecutor()
    work = chains(tasks)
    try:
        for index, results in executor.run(solve_chain, work):
            for task, result in zip(work[index], results):
                store.put(task.layer, task.hardware, task.objective, task.ratios, None, result, task.space)
                progress.tasks_done += 1
            notify(progress)
    finally:
        if own:
            executor.close()
    for p in pts:
        if p.index in done:
            continue
        done[p.index] = _point_rows(spec, p, store)
        if folder is not None:
            atomic_write_bytes(folder / f"{p.index:06d}.json",
                               json.dumps({"key": keys[p.index], "rows": done[p.index]}).encode())
        progress.points_done += 1
        notify(progress)
    fields = ["point", *(f for f, _ in spec.vary), "network", "batch", *FIGURES]
    rows = mark_front(fields, [row for p in pts for row in done[p.index]])
    return SweepResult(tuple(fields), tuple(rows), progress)


def points_json(result: SweepResult, spec: Spec) -> bytes:
    """points.json: the same bytes for the same spec, whichever executor ran it (no timings)."""
    doc = {"schema": SCHEMA, "objective": spec.objective, "base": spec.base.name,
           "vary": {f: list(v) for f, v in spec.vary}, "networks": [n.name for n in spec.networks],
           "pareto_over": ["energy_pj_per_inference", "latency_ms", "area_mm2"], "fields": list(result.fields),
           "rows": list(result.rows)}
    return (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()


def points_csv(result: SweepResult) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(result.fields), lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue().encode()
