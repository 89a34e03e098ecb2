"""Ifmap multicast IDs: the one part of the allocation circuit that costs GLB reads.

Every value the buffer sends carries a (row, col) tag; it reaches the X-buses
whose row ID and the PEs whose col ID match ([JSSC V-B]).  In a PE set, PE
(i, j) needs ifmap row ``j*U + i*D`` (filter row i, ofmap row j), so one send
of an ifmap row reaches its whole diagonal when the PEs' col IDs are that row
index.  The ifmap GIN's col IDs are only 5 bits: when a set's rows span more
than 32, its X-buses are split into row-ID groups, each with its own ID range,
and a row needed by two groups is sent twice.  The cost model counts those
sends and the bitstream emitter writes these same IDs: both call this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class IfmapGroups:
    """X-bus groups of one set: ``groups[k]`` lists (segment, set_row) X-buses; ``base[k]`` is its lowest row."""

    groups: tuple[tuple[tuple[int, int], ...], ...]
    base: tuple[int, ...]
    budget: int

    def group_of(self, segment: int, set_row: int) -> int:
        for k, members in enumerate(self.groups):
            if (segment, set_row) in members:
                return k
        raise KeyError((segment, set_row))


def rows_needed(segment: int, i: int, e_used: int, cols: int, U: int, D: int) -> range:
    """Ifmap rows X-bus (segment, filter row i) needs when a strip's first ``e_used`` columns are live."""
    first = segment * cols
    last = min(e_used, first + cols) - 1
    if last < first:
        return range(0)
    return range(first * U + i * D, last * U + i * D + 1, U)


def ifmap_groups(e: int, R: int, U: int, D: int, cols: int, budget: int) -> IfmapGroups:
    """Group a set's X-buses so that each group's PEs fit ``budget`` col IDs.

    X-bus (segment, i) needs rows ``i*D + j*U``: all congruent to ``i*D`` mod U.
    Buses of one residue class get one row ID and PE col ID ``(row - base) // U``,
    so with stride 4 an 11 x 7 set needs 9 IDs, not 35, and every row is sent
    once.  A class whose IDs still overflow the budget is split greedily; a row
    needed by two of its groups is then sent twice.  One X-bus alone always
    fits: it holds at most min(e, cols) PEs, one ID each, and the budget is at
    least that because the hardware file guarantees 2**id_bits >= cols (so no
    mapping is ever refused for want of IDs; it only costs extra sends).
    """
    buses = sorted(((i * D) % U, segment, i) for segment in range(-(-e // cols)) for i in range(R))
    groups: list[list[tuple[int, int]]] = []
    bases: list[int] = []
    lo = hi = residue_of_group = -1
    for residue, segment, i in buses:
        rows = rows_needed(segment, i, e, cols, U, D)
        if groups and residue == residue_of_group and (max(hi, rows[-1]) - min(lo, rows[0])) // U + 1 <= budget:
            groups[-1].append((segment, i))
            lo, hi = min(lo, rows[0]), max(hi, rows[-1])
            bases[-1] = lo
        else:
            groups.append([(segment, i)])
            lo, hi, residue_of_group = rows[0], rows[-1], residue
            bases.append(lo)
    return IfmapGroups(tuple(tuple(g) for g in groups), tuple(bases), budget)


def group_rows(members: tuple[tuple[int, int], ...], e_used: int, cols: int, U: int, D: int) -> list[int]:
    """The rows one row-ID group's X-buses need in a strip of ``e_used`` live columns, ascending: each is sent once."""
    rows: set[int] = set()
    for segment, i in members:
        rows.update(rows_needed(segment, i, e_used, cols, U, D))
    return sorted(rows)


def ifmap_sends(grouping: IfmapGroups, e_used: int, cols: int, U: int, D: int) -> int:
    """Ifmap rows the buffer sends for one channel of one image in one strip."""
    return sum(len(group_rows(members, e_used, cols, U, D)) for members in grouping.groups)


def idle_column_hits(grouping: IfmapGroups, e: int, e_last: int, cols: int, U: int, D: int) -> tuple[int, int, int]:
    """What the idle columns of a last strip narrower than the set (``e_last < e``) still do.

    IDs are fixed for the layer, so idle PE (i, j), j >= e_last, matches the
    send of row ``j*U + i*D`` whenever a live PE of its row-ID group needs that
    row: it receives it, computes with the filters it holds, and its psums
    climb its chain, which the controller never reads.  Returns (PEs that
    receive a row, idle columns with any such PE, the sum over those columns
    of the lowest such PE's filter row i), per set.
    """
    hits, lowest = 0, {}
    for members in grouping.groups:
        sent = set(group_rows(members, e_last, cols, U, D))
        for segment, i in members:
            for j in range(max(e_last, segment * cols), min(e, (segment + 1) * cols)):
                if j * U + i * D in sent:
                    hits += 1
                    lowest[j] = max(lowest.get(j, 0), i)
    return hits, len(lowest), sum(lowest.values())


def ifmap_budget(id_bits: int, cols: int, e: int, distinct_across: bool) -> int:
    """Col IDs one set may use: the whole 5-bit space, or a share when differing sets sit side by side."""
    space = 2**id_bits
    if not distinct_across:
        return space
    return space // (cols // min(e, cols))


@dataclass(frozen=True)
class IfmapTables:
    """Per-e lookup tables (index e = 1..E; index 0 unused) for one layer on one array.

    ``sends[k][e]`` is the total ifmap rows sent per channel per image over all
    strips; k = 0 when all side-by-side sets share their ifmap (g = 1), k = 1
    when they do not (g > 1).  ``idle[k][e]`` holds ``idle_column_hits`` of the
    last strip as three columns.
    """

    sends: tuple[np.ndarray, np.ndarray]
    idle: tuple[np.ndarray, np.ndarray]


@lru_cache(maxsize=4096)
def ifmap_tables(E: int, R: int, U: int, D: int, cols: int, id_bits: int, e_max: int) -> IfmapTables:
    """Tables up to ``e_max`` (the widest set the array can hold; the pe_rows limit refuses wider)."""
    sends = (np.zeros(E + 1, dtype=np.int64), np.zeros(E + 1, dtype=np.int64))
    idle = (np.zeros((E + 1, 3), dtype=np.int64), np.zeros((E + 1, 3), dtype=np.int64))
    for e in range(1, min(E, e_max) + 1):
        strips = -(-E // e)
        e_last = E - (strips - 1) * e
        for k, distinct in enumerate((False, True)):
            budget = ifmap_budget(id_bits, cols, e, distinct)
            grouping = ifmap_groups(e, R, U, D, cols, budget)
            sends[k][e] = (strips - 1) * ifmap_sends(grouping, e, cols, U, D) + ifmap_sends(grouping, e_last, cols, U, D)
            idle[k][e] = idle_column_hits(grouping, e, e_last, cols, U, D)
    for table in (*sends, *idle):
        table.setflags(write=False)
    return IfmapTables(sends, idle)
