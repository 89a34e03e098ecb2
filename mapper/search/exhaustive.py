"""Exhaustive enumeration of a layer's mapping space with numpy: the search's test oracle.

It scores every mapping in the same space as the CP-SAT model (``mapper.search.space``)
with the cost model's own formulas evaluated on int64 arrays, in bounded-size
chunks.  Partial limits prune early stages (spads, then array shape, then
set counts); the full limit list is applied to every survivor before scoring.
Ties are broken like the search (``mapper.search.ties``): the least energy or
latency among the optimal mappings, then the lexicographically smallest (n, e, p, q, r,
t, g, m_per_pt).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import VARIABLES, DataRatios, RowStationary, Vars, layer_limits
from cost_models.rules import DEFAULT_SPACE, check_space, space_limits
from mapper.search.space import ranges, to_mapping
from mapper.search.ties import TIES

CHUNK = 1 << 20  # mappings scored per numpy batch


@dataclass(frozen=True)
class ExhaustiveResult:
    mapping: Mapping | None
    objective_value: int | None
    evaluated: int  # mappings that passed every limit and were scored
    wall_s: float
    complete: bool = True  # False when the time budget ran out (the optimum is then not proven)


def _cross(a: dict[str, np.ndarray], name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """Cartesian product of a table of rows with one more column."""
    size = len(next(iter(a.values()))) if a else 1
    out = {key: np.repeat(col, len(values)) for key, col in a.items()}
    out[name] = np.tile(values, size)
    return out


def _ragged(a: dict[str, np.ndarray], name: str, upper: np.ndarray) -> dict[str, np.ndarray]:
    """For each row, one copy per value 1..upper[row] of a new column."""
    upper = np.maximum(upper, 0)
    counts = upper.astype(np.int64)
    out = {key: np.repeat(col, counts) for key, col in a.items()}
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    out[name] = np.arange(int(counts.sum()), dtype=np.int64) - starts + 1
    return out


def _mask(a: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {key: col[keep] for key, col in a.items()}


def enumerate_best(layer: LayerShape, hw: Hardware, objective: str = "energy",
                   ratios: DataRatios = DataRatios(), max_cycles: int | None = None,
                   time_budget: float | None = None, space: str = DEFAULT_SPACE) -> ExhaustiveResult:
    """The optimum of ``objective`` over every valid mapping of ``space``, by brute force (optionally time-boxed)."""
    check_space(space)
    start = time.perf_counter()
    if layer_limits(layer, hw):
        return ExhaustiveResult(None, None, 0, time.perf_counter() - start)
    model = RowStationary(layer, hw, ratios)
    best: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    evaluated, complete = 0, True
    for part in _chunks(layer, hw, model):
        if time_budget is not None and time.perf_counter() - start > time_budget:
            complete = False
            break
        scored, candidate = _chunk_best(model, part, objective, max_cycles, space)
        evaluated += scored
        if candidate is not None and (best is None or candidate < best):
            best = candidate
    wall = time.perf_counter() - start
    if best is None:
        return ExhaustiveResult(None, None, evaluated, wall, complete)
    return ExhaustiveResult(to_mapping(layer, dict(zip(VARIABLES, best[1]))), best[0][0], evaluated, wall, complete)


def _chunks(layer: LayerShape, hw: Hardware, model: RowStationary) -> Iterator[dict[str, np.ndarray]]:
    """Every mapping of the space in chunks of about CHUNK rows, pruned stage by stage by partial limits."""
    b = ranges(layer, hw)
    R, S = layer.R, layer.S
    ar = lambda high: np.arange(1, high + 1, dtype=np.int64)  # noqa: E731

    # Stage 1: inside one PE.
    t1 = _cross({"p": ar(b.p)}, "q", ar(b.q))
    t1 = _mask(t1, (t1["p"] * t1["q"] * S <= hw.filter_spad) & (t1["q"] * S <= hw.ifmap_spad))
    # Stage 2: the shape of one stack of r sets.
    t2 = _cross(_cross(t1, "r", ar(b.r)), "e", ar(b.e))
    seg = model.t_segments[t2["e"]]
    t2 = _mask(t2, (t2["r"] * seg * R <= hw.rows) & (t2["q"] * (t2["r"] - 1) < layer.Cg))
    # Stages 3 and 4 expand ragged columns chunk by chunk, so memory stays bounded
    # however large the array: t up to the free slots, g (only with t = 1), m_per_pt up
    # to the psum blocks, then n.
    def slots(tab: dict[str, np.ndarray]) -> np.ndarray:
        return (hw.rows // (tab["r"] * model.t_segments[tab["e"]] * R)) * model.t_across[tab["e"]]

    def t_upper(tab):
        return np.minimum(np.minimum(slots(tab), b.t), (layer.Mg - 1) // tab["p"] + 1)

    def g_upper(tab):
        return np.where(tab["t"] == 1, np.minimum(slots(tab), b.g), 1)

    def m_per_pt_upper(tab):
        return -(-layer.Mg // (tab["p"] * tab["t"]))

    tables = _expand(_expand(_expand([t2], "t", t_upper), "g", g_upper), "m_per_pt", m_per_pt_upper)
    for tab in tables:
        yield _cross(tab, "n", ar(b.n))


def _expand(tables: Iterable[dict[str, np.ndarray]], name: str,
            upper: Callable[[dict[str, np.ndarray]], np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    """Each table with a ragged column ``name`` = 1..upper(row), cut into chunks of about CHUNK rows."""
    for tab in tables:
        if not len(tab["p"]):
            continue
        high = upper(tab)
        total = np.cumsum(high)
        lo = 0
        while lo < len(high):
            base = total[lo - 1] if lo else 0
            hi = lo + max(1, int(np.searchsorted(total[lo:] - base, CHUNK, side="right")))
            yield _ragged(_mask(tab, slice(lo, hi)), name, high[lo:hi])
            lo = hi


def _chunk_best(model: RowStationary, part: dict[str, np.ndarray], objective: str, max_cycles: int | None,
                space: str = DEFAULT_SPACE) -> tuple[int, tuple[tuple[int, ...], tuple[int, ...]] | None]:
    """(mappings scored, the chunk's ((objective, *TIES figures), variables) optimum, lexicographically smallest)."""
    v = Vars(**{key: part[key] for key in VARIABLES})
    ok = np.ones(len(part["n"]), dtype=bool)
    for limit in space_limits(model, v, space):
        ok &= np.asarray(limit.lhs <= limit.rhs)
    if max_cycles is not None:
        ok &= model.counts(v).cycles.total <= max_cycles
    if not ok.any():
        return 0, None
    part = _mask(part, ok)
    v = Vars(**{key: part[key] for key in VARIABLES})
    counts = model.counts(v)
    size = part["n"].shape
    figures = [np.broadcast_to(np.asarray(model.objective_from_counts(counts, kind), dtype=np.int64), size)
               for kind in (objective, *TIES[objective])]
    tied = np.arange(size[0])
    for figure in figures:  # keep the least of each figure in turn; sort only what is left
        tied = tied[figure[tied] == figure[tied].min()]
    top = tied[np.lexsort(tuple(part[key][tied] for key in reversed(VARIABLES)))[0]]
    return size[0], (tuple(int(figure[top]) for figure in figures), tuple(int(part[key][top]) for key in VARIABLES))


def energy_latency_frontier(layer: LayerShape, hw: Hardware, ratios: DataRatios = DataRatios()) -> list[tuple[int, int]]:
    """Every (cycles, energy units) trade-off of the layer, by brute force: the Pareto frontier over all
    valid mappings, fastest first (the oracle of ``mapper.search.budget``)."""
    if layer_limits(layer, hw):
        return []
    model = RowStationary(layer, hw, ratios)
    best: dict[int, int] = {}  # cycles -> least energy at exactly those cycles
    for part in _chunks(layer, hw, model):
        v = Vars(**{key: part[key] for key in VARIABLES})
        ok = np.ones(len(part["n"]), dtype=bool)
        for limit in model.limits(v):
            ok &= np.asarray(limit.lhs <= limit.rhs)
        if not ok.any():
            continue
        part = _mask(part, ok)
        v = Vars(**{key: part[key] for key in VARIABLES})
        counts = model.counts(v)
        cycles = np.broadcast_to(np.asarray(counts.cycles.total, dtype=np.int64), part["n"].shape)
        energy = np.broadcast_to(np.asarray(model.objective_from_counts(counts, "energy"), dtype=np.int64), part["n"].shape)
        for c, e in zip(*np.unique(np.stack([cycles, energy]), axis=1)):
            best[int(c)] = min(best.get(int(c), int(e)), int(e))
    frontier: list[tuple[int, int]] = []
    for c in sorted(best):
        if not frontier or best[c] < frontier[-1][1]:
            frontier.append((c, best[c]))
    return frontier
