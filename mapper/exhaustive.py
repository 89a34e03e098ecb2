"""Exhaustive enumeration of a layer's mapping space with numpy: the search's test oracle.

It scores every mapping in the same space as the CP-SAT model (``mapper.space``)
with the cost model's own formulas evaluated on int64 arrays, in bounded-size
chunks.  Partial limits prune early stages (spads, then array shape, then
set counts); the full limit list is applied to every survivor before scoring.
Ties are broken like the search: the lexicographically smallest (n, e, p, q,
r, t, g, k) among the optimal mappings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import DataRatios, RowStationary, Vars, layer_limits
from mapper.space import ranges, to_mapping

CHUNK = 1 << 20  # mappings scored per numpy batch


@dataclass(frozen=True)
class ExhaustiveResult:
    mapping: Mapping | None
    objective_value: int | None
    evaluated: int  # mappings that passed every limit and were scored
    wall_s: float


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
                   ratios: DataRatios = DataRatios(), max_cycles: int | None = None) -> ExhaustiveResult:
    """The optimum of ``objective`` over every valid mapping, by brute force."""
    start = time.perf_counter()
    if layer_limits(layer, hw):
        return ExhaustiveResult(None, None, 0, time.perf_counter() - start)
    b = ranges(layer, hw)
    model = RowStationary(layer, hw, ratios)
    R, S = layer.R, layer.S
    ar = lambda high: np.arange(1, high + 1, dtype=np.int64)  # noqa: E731

    # Stage 1: inside one PE.
    t1 = _cross({"p": ar(b.p)}, "q", ar(b.q))
    t1 = _mask(t1, (t1["p"] * t1["q"] * S <= hw.filter_spad) & (t1["q"] * S <= hw.ifmap_spad))
    # Stage 2: the shape of one stack of r sets.
    t2 = _cross(_cross(t1, "r", ar(b.r)), "e", ar(b.e))
    seg = model.t_segments[t2["e"]]
    t2 = _mask(t2, (t2["r"] * seg * R <= hw.rows) & (t2["q"] * (t2["r"] - 1) < layer.Cg))
    # Stage 3: how many stacks.
    t3 = _cross(_cross(t2, "t", ar(b.t)), "g", ar(b.g))
    seg = model.t_segments[t3["e"]]
    slots = (hw.rows // (t3["r"] * seg * R)) * model.t_across[t3["e"]]
    t3 = _mask(t3, (t3["t"] * t3["g"] <= slots) & (t3["p"] * (t3["t"] - 1) < layer.Mg)
               & ((t3["t"] == 1) | (t3["g"] == 1))
               & (t3["g"] * t3["p"] * t3["t"] * t3["q"] * t3["r"] * R * S <= hw.filter_buffer_words))
    # Stage 4: batch and psum block, ragged (k only up to the block count), in chunks.
    kmax = -(-layer.Mg // (t3["p"] * t3["t"]))
    best_value, best_row, evaluated = None, None, 0
    sizes = kmax * b.n
    lo = 0
    while lo < len(kmax):
        hi = lo + max(1, int(np.searchsorted(np.cumsum(sizes[lo:]), CHUNK, side="right")))
        part = _ragged(_mask(t3, slice(lo, hi)), "k", kmax[lo:hi])
        part = _cross(part, "n", ar(b.n))
        lo = hi
        v = Vars(**{key: part[key] for key in ("n", "e", "p", "q", "r", "t", "g", "k")})
        ok = np.ones(len(part["n"]), dtype=bool)
        for limit in model.limits(v):
            ok &= np.asarray(limit.lhs <= limit.rhs)
        counts = None
        if max_cycles is not None:
            counts = model.counts(v)
            ok &= counts["total_cycles"] <= max_cycles
        if not ok.any():
            continue
        part = _mask(part, ok)
        v = Vars(**{key: part[key] for key in ("n", "e", "p", "q", "r", "t", "g", "k")})
        value = np.broadcast_to(np.asarray(model.objective(v, objective), dtype=np.int64), part["n"].shape)
        evaluated += len(value)
        order = np.lexsort(tuple(part[key] for key in reversed(("n", "e", "p", "q", "r", "t", "g", "k"))) + (value,))
        top = order[0]
        candidate = (int(value[top]), tuple(int(part[key][top]) for key in ("n", "e", "p", "q", "r", "t", "g", "k")))
        if best_value is None or candidate < (best_value, best_row):
            best_value, best_row = candidate
    wall = time.perf_counter() - start
    if best_row is None:
        return ExhaustiveResult(None, None, evaluated, wall)
    mapping = to_mapping(layer, dict(zip(("n", "e", "p", "q", "r", "t", "g", "k"), best_row)))
    return ExhaustiveResult(mapping, best_value, evaluated, wall)
