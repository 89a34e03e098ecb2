"""Functional simulator of the row-stationary array as a decoded configuration sets it up.

The proof that a bitstream is right: the controller walks the cost model's loop
nest (``cost_models.rowstationary``) and tags every value it reads from the
buffer with the (row, col) tag of ``mapper.chip.allocation``; a value reaches a PE
only where the *decoded* IDs match and the PE is not clock gated.  Each PE then
runs its 1-D primitives on what its spads received, psums climb the local links
(PEs whose ``psum_from_ln`` bit is set) or enter from the psum GIN, and chain
tops are read back over the GON by tag.  A wrong ID bit therefore changes the
ofmap.

Speed (numpy): the tag matching depends only on a pass's shape (how full its
filter and channel sets are, strip width, images, psums over the GIN or not),
so the controller matches once per shape (``_Plan``) and passes of that shape
reuse the verdicts and counts; where a pass sits only offsets the operands the
tags carry.  The filter passes of one channel block touch disjoint buffer
words, so they run side by side.  A read chain's output is one matrix product
of what its computing PEs hold, and chains sharing filter or ifmap operands
share the product (see ``_Array._chains``).

Arithmetic rule (also ``reference``): 16-bit operands, exact 32-bit products,
accumulation in int64 (psums in the buffer are kept wide), and the ofmap word is
``saturate_int16(accumulator >> shift)`` (arithmetic shift) when written back.

Physical rules the counts follow (see docs/bitstream.md, "Simulator"):
a delivery is one 16-bit word written into one PE's spad; a PE clears its
spads' valid bits at the start of a pass and computes only on operands it
received in that pass; a PE computes whenever it holds filters and an ifmap
row, whether or not the controller will read its result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cost_models.errors import InputError

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.accesses import DATA_TYPES, Accesses, Words
from cost_models.cost import variables
from cost_models.mapping import Mapping, placement
from cost_models.rowstationary import Counts, RowStationary
from cost_models.noc import group_rows
from mapper.chip.allocation import allocate
from mapper.chip.bitstream import Config



@dataclass
class SimResult:
    """What one simulated layer produced, and what it cost in accesses."""

    ofmap: np.ndarray  # int16 [N, M, E, F]
    accumulator: np.ndarray  # int64 [N, M, E, F], before the shift
    accesses: Accesses  # words moved, per level and data type
    macs: int  # MACs performed
    faults: list[str] = field(default_factory=list)  # missing or doubly matched data, buffer overflow


def saturate(acc: np.ndarray, shift: int) -> np.ndarray:
    """The truncation rule: keep bits [shift, shift + 16) of the wide value, saturating."""
    return np.clip(acc >> shift, -32768, 32767).astype(np.int16)


def padded_ifmap(layer: LayerShape, ifmap: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """The ifmap with its zero pads, as integers (non-integer input is truncated) held in ``dtype``."""
    top, left, bottom, right = layer.pads
    values = ifmap if ifmap.dtype.kind in "iu" else ifmap.astype(np.int64)
    return np.pad(values.astype(dtype), ((0, 0), (0, 0), (top, bottom), (left, right)))


def _peak(values: np.ndarray) -> int:
    """The largest magnitude of integer(-truncated) values, as a Python int (no int64 overflow)."""
    if not values.size:
        return 0
    if values.dtype.kind not in "iu":
        values = values.astype(np.int64)
    return max(abs(int(values.min())), abs(int(values.max())))


# Filter weights widened per matrix product (assumed: 4 M values, 32 MB at 8 bytes; VGG-16's conv layers fit
# whole, its fc6 goes in 25 slices).
REFERENCE_SLICE = 1 << 22


def reference(layer: LayerShape, weights: np.ndarray, ifmap: np.ndarray) -> np.ndarray:
    """Plain integer convolution (int64 accumulator) [N, M, E, F]: what the array must reproduce.

    ``ifmap`` may hold any number of images (its first axis), so calibration samples go through at once.
    One matrix product per filter tap (r, s) over every group: each reads a strided view of the padded
    ifmap, so nothing R * S times the ifmap's size is ever built.  Exact in float64 whenever the largest
    possible sum is below 2**53 (every partial sum is then an integer float64 holds), else in int64.
    """
    L = layer
    N, (U, V), (DH, DW) = ifmap.shape[0], L.stride, L.dilation
    G, Mg, Cg, E, F = L.groups, L.Mg, L.Cg, L.E, L.F
    exact_float = L.Cg * L.R * L.S * _peak(weights) * _peak(ifmap) < 2**53
    kind = np.float64 if exact_float else np.int64
    x = padded_ifmap(L, ifmap, kind).reshape(N, G, Cg, L.Hp, L.Wp)
    w = (weights if weights.dtype.kind in "iu" else weights.astype(np.int64)).reshape(G, Mg, Cg, L.R, L.S)
    out = np.zeros((N, G, Mg, E * F), dtype=kind)
    rows = max(1, REFERENCE_SLICE // max(1, G * Cg))
    for r in range(L.R):
        for s in range(L.S):
            tap = x[:, :, :, r * DH:r * DH + (E - 1) * U + 1:U, s * DW:s * DW + (F - 1) * V + 1:V]
            if Cg == 1:  # depthwise: an elementwise product per group, not G matrix products of one column
                out += w[None, :, :, 0, r, s, None].astype(kind) * tap.reshape(N, G, 1, E * F)
                continue
            columns = tap.reshape(N, G, Cg, E * F)
            for m in range(0, Mg, rows):  # filters in slices: fc6's 103 M weights are never all widened at once
                out[:, :, m:m + rows] += np.matmul(w[:, m:m + rows, :, r, s].astype(kind), columns)
    out = out.reshape(N, L.M, E, F)
    return out.astype(np.int64) if exact_float else out  # exact integers already: no rounding to do


def _last_match(match: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: index of the last True column (the value that stays in the spad) and the match count."""
    count = match.sum(axis=1)
    last = match.shape[1] - 1 - np.argmax(match[:, ::-1], axis=1)
    return np.where(count > 0, last, -1), count


def _store(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Operand values as the array's stores keep them, and a bound on their magnitude.

    int16 when the values fit (what the chip stores: a quarter of int64's memory and gather traffic),
    else int64 (non-integer input is truncated, as ``padded_ifmap`` does).
    """
    if values.dtype.kind not in "iu":
        values = values.astype(np.int64)
    if np.can_cast(values.dtype, np.int16):
        return values.astype(np.int16, copy=False), 2**15
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if -(2**15) <= lo and hi < 2**15:
        return values.astype(np.int16), 2**15
    return values.astype(np.int64, copy=False), max(abs(lo), abs(hi))


class _Plan:
    """What every pass of one shape does, wherever the pass sits in the loop nest.

    A pass's tag verdicts (which PE keeps which filter tag, ifmap send, psum and output tag), which
    PEs compute, the chains the controller reads and every count depend only on the pass's shape:
    filters per filter set, channels per channel set, the groups of its block, the strip width, the
    images, and whether psums enter over the GIN.  Where the pass sits (first filter, channel, row,
    image, group block) only offsets the operands the tags carry.  The controller matches tags
    against the decoded IDs once per shape (``_Array._plan``) and every pass of that shape reuses the
    verdicts.

    The value side is kept per chain the controller reads: the PEs that climb into its top (``mem``,
    following the decoded ``psum_from_ln`` and gating bits, only those that compute, padded with a
    dummy PE holding nothing), the operand indices each of those PEs received (relative to the
    pass's offsets), the psum-GIN word its bottom received and the buffer words its top's GON answer
    is written to.
    """

    __slots__ = ("counts", "macs", "faults", "reads", "K", "f_rel", "f_ok", "f_full", "c_rel", "c_ok", "i_row",
                 "classes", "cells", "gin", "out")

    def __init__(self, counts: dict, macs: int, faults: list[str]) -> None:
        self.counts = tuple((key, value) for key, value in counts.items() if value)
        self.macs, self.faults = macs, tuple(faults)
        self.reads = 0


class _Array:
    """The array as a decoded configuration sets it up, driven by a controller that walks the loop nest."""

    # Largest filter operand block (chains x filters x products) gathered at once for passes of one shape.
    BATCH_ELEMENTS = 2**22

    def __init__(self, config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray) -> None:
        L, mp = config.layer, config.mapping
        self.L, self.mp, self.hw, self.config = L, mp, hw, config
        self.rows, self.cols, self.P = hw.rows, hw.cols, hw.rows * hw.cols
        # The layer's derived sizes, once (LayerShape computes them on every access).
        self.N, self.M, self.C, self.G = L.N, L.M, L.C, L.groups
        self.Mg, self.Cg, self.E, self.F, self.S, self.R = L.Mg, L.Cg, L.E, L.F, L.S, L.R
        self.Hp, self.Wp = L.Hp, L.Wp
        self.faults: list[str] = []
        self.moved = {(level, dt): 0 for level in ("dram", "glb", "array") for dt in DATA_TYPES}  # words, as counted
        self.macs = 0
        # Array side: only the decoded IDs, gating and psum-source bits.
        self.active = np.array(config.active, dtype=bool)
        self.from_ln = np.array(config.psum_from_ln, dtype=bool)
        self.above_ln = np.zeros_like(self.from_ln)  # the clocked PE above takes this PE's psum over the LN
        self.above_ln[1:] = self.from_ln[:-1] & self.active[:-1]
        # Where each PE's psum input comes from: the PE below over the LN (clocked, LN bit set, not the
        # bottom row), else the psum GIN.  below[h] = the PE feeding h over the LN, or -1.
        ln = self.from_ln & self.active
        ln[-1] = False
        self.below = np.where(ln.reshape(-1), np.arange(self.P) + self.cols, -1)
        # Controller side: tags derived from the mapping.
        alloc = allocate(L, mp, hw)
        place = placement(L, mp, hw)
        self.alloc = alloc
        self.f_key = np.array([k for k, _ in alloc.filter_tags], dtype=np.int64).reshape(-1, 3)  # stack, ri, i
        self.f_match = self._match("filter", [tag for _, tag in alloc.filter_tags])
        sends = alloc.ifmap_sends
        self.i_key = np.array([(s.stack, s.ri, s.group, s.x) for s in sends], dtype=np.int64).reshape(-1, 4)
        self.i_match = self._match("ifmap", [(s.row, s.col) for s in sends])
        self.ch_key = np.array([k for k, _, _ in alloc.chain_tags], dtype=np.int64).reshape(-1, 3)  # stack, segment, x
        self.p_match = self._match("psum", [tag for _, tag, _ in alloc.chain_tags])
        self.o_match = self._match("output", [tag for _, _, tag in alloc.chain_tags])
        slot = self.ch_key[:, 0] % place.across
        self.ch_j = self.ch_key[:, 1] * self.cols + self.ch_key[:, 2] - slot * place.width  # set column of a chain
        # Operand stores with one zero entry appended (index M / Cg / C) for absent filters and channels.
        w, w_max = _store(weights)
        self.wpad = np.zeros((L.M + 1, L.Cg + 1, L.R, L.S), dtype=w.dtype)
        self.wpad[:L.M, :L.Cg] = w
        x, x_max = _store(ifmap)
        top, left, bottom, right = L.pads
        self.xpad = np.zeros((L.N, L.C + 1, L.Hp, L.Wp), dtype=x.dtype)
        self.xpad[:, :L.C, top:top + L.H, left:left + L.W] = x
        self.wflat = self.wpad.reshape(-1, L.S)  # rows: (filter, channel, filter row), S taps each
        self.xflat = self.xpad.reshape(-1)
        self.product_max = w_max * x_max  # largest |weight * ifmap| product
        self.win = np.arange(L.S)[:, None] * L.dilation[1] + np.arange(L.F)[None, :] * L.stride[1]  # [S, F]
        self.ofmap_acc = np.zeros((L.N, L.M, L.E, L.F), dtype=np.int64)
        self.ifmap_banks = sum(1 for b in config.psum_banks if not b)
        self.psum_banks = len(config.psum_banks) - self.ifmap_banks
        self._need: dict[int, np.ndarray] = {}
        self._plans: dict[tuple, _Plan] = {}

    def _match(self, name: str, tags: list[tuple[int, int]]) -> np.ndarray:
        """[PE, tag]: the multicast controllers' verdict (X-bus row ID and PE col ID match, PE clocked)."""
        net = self.config.network(name)
        row = np.repeat(np.array(net.row_ids, dtype=np.int64), self.cols)
        col = np.array(net.col_ids, dtype=np.int64).reshape(-1)
        tag = np.array(tags, dtype=np.int64).reshape(-1, 2)
        return self.active.reshape(-1)[:, None] & (row[:, None] == tag[None, :, 0]) & (col[:, None] == tag[None, :, 1])

    def _needed(self, e_used: int) -> np.ndarray:
        """[send]: whether the strip's live columns need the send's row (what the cost model counts)."""
        if e_used not in self._need:
            U, D = self.L.stride[0], self.L.dilation[0]
            out = np.zeros(len(self.i_key), dtype=bool)
            for k, members in enumerate(self.alloc.grouping.groups):
                rows_k = group_rows(members, e_used, self.cols, U, D)
                out |= (self.i_key[:, 2] == k) & np.isin(self.i_key[:, 3], rows_k)
            self._need[e_used] = out
        return self._need[e_used]

    # ------------------------------------------------------------ the loop nest
    def run(self) -> SimResult:
        mp = self.mp
        N, G, Mg, Cg, E, F, Wp = self.N, self.G, self.Mg, self.Cg, self.E, self.F, self.Wp
        U, R, D = self.L.stride[0], self.R, self.L.dilation[0]
        n, e, p, q, r, t, g = mp.n, mp.e, mp.p, mp.q, mp.r, mp.t, mp.g
        m = self.m_alloc = min(mp.m, Mg)
        for gb in range(-(-G // g)):
            g_valid = np.arange(g) + gb * g < G
            g_count = int(g_valid.sum())
            for n0 in range(0, N, n):
                nn = min(n, N - n0)
                for j0 in range(0, E, e):
                    e_used = min(e, E - j0)
                    strip_rows = (e_used - 1) * U + (R - 1) * D + 1
                    for mf0 in range(0, Mg, m):
                        m_block = min(m, Mg - mf0)
                        # The buffer's psum block, kept [group, filter, column, image, F] (every block m
                        # filters deep): a chain's words for one filter are one row of n' * F.
                        glb = np.zeros((g, m, e_used, nn, F), dtype=np.int64)
                        if g_count * nn * m_block * e_used * F > self.psum_banks * self.hw.bank_words:
                            self.faults.append(f"a psum block of {g_count * nn * m_block * e_used * F} words "
                                               f"overflows the {self.psum_banks} psum banks")
                        # The filter passes of a channel block: all full but perhaps the last.
                        f0s = np.arange(mf0, mf0 + m_block, p * t)
                        full = m_block // (p * t)
                        for cb, c0 in enumerate(range(0, Cg, q * r)):
                            loaded = g_count * nn * min(q * r, Cg - c0) * strip_rows * Wp
                            if loaded > self.ifmap_banks * self.hw.bank_words:
                                self.faults.append(f"an ifmap block of {loaded} words overflows the "
                                                   f"{self.ifmap_banks} ifmap banks")
                            self.moved["dram", "ifmap"] += loaded
                            self.moved["glb", "ifmap"] += loaded  # buffer fill
                            q_of = np.clip(Cg - c0 - np.arange(r) * q, 0, q)
                            for batch in (f0s[:full], f0s[full:]):
                                if len(batch):
                                    p_of = np.clip(mf0 + m_block - int(batch[0]) - np.arange(t) * p, 0, p)
                                    plan = self._plan(p_of, q_of, g_valid, e_used, nn, cb > 0)
                                    self._passes(plan, glb, batch, gb, n0, nn, j0 * U, mf0, c0)
                        self._drain(gb, g_valid, n0, nn, j0, mf0, m_block, glb)
        array = Words(**{dt: self.moved["array", dt] for dt in DATA_TYPES})
        # The spads' counts follow from the deliveries and the MACs by the PE's own rule.
        accesses = Accesses(**{level: Words(**{dt: self.moved[level, dt] for dt in DATA_TYPES})
                               for level in ("dram", "glb")}, array=array, rf=RowStationary.rf(array, self.macs))
        return SimResult(saturate(self.ofmap_acc, self.config.shift), self.ofmap_acc, accesses, self.macs, self.faults)

    def _drain(self, gb: int, g_valid: np.ndarray, n0: int, nn: int, j0: int, mf0: int, m_block: int,
               glb: np.ndarray) -> None:
        """After the last channel block the buffer's psums are final: read them out to DRAM."""
        Mg = self.Mg
        _, _, e_used, _, F = glb.shape
        for gi in np.flatnonzero(g_valid):
            base = (gb * self.mp.g + gi) * Mg + mf0
            self.moved["glb", "psum"] += nn * m_block * e_used * F
            self.moved["dram", "psum"] += nn * m_block * e_used * F
            self.ofmap_acc[n0:n0 + nn, base:base + m_block, j0:j0 + e_used] = glb[gi, :m_block].transpose(2, 0, 1, 3)

    # ------------------------------------------------------------ one pass shape: the tag verdicts
    def _plan(self, p_of: np.ndarray, q_of: np.ndarray, g_valid: np.ndarray, e_used: int, nn: int,
              gin_on: bool) -> _Plan:
        """The verdicts and counts of a pass of this shape, matched once (see ``_Plan``)."""
        key = (p_of.tobytes(), q_of.tobytes(), g_valid.tobytes(), e_used, nn, gin_on)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._make_plan(p_of, q_of, g_valid, e_used, nn, gin_on)
        return plan

    def _make_plan(self, p_of: np.ndarray, q_of: np.ndarray, g_valid: np.ndarray, e_used: int, nn: int,
                   gin_on: bool) -> _Plan:
        counts = {(level, dt): 0 for level in ("dram", "glb", "array") for dt in DATA_TYPES}
        faults: list[str] = []
        filters = self._filters(p_of, q_of, g_valid, counts, faults)
        ifmaps = self._ifmaps(p_of, q_of, g_valid, self._needed(e_used), nn, counts, faults)
        pf, qf, qx = filters[-2], filters[-1], ifmaps[-1]
        runs = (pf > 0) & (qx > 0)  # every PE holding filters and an ifmap row runs its 1-D primitives
        macs = int((pf * np.minimum(qf, qx) * runs).sum()) * nn * self.F * self.S
        own_words = np.where(runs, pf * nn * self.F, 0)
        live = self._live_chains(p_of, g_valid, e_used)
        if gin_on:
            gin_tag, gin_words = self._psum_in(p_of, live, nn, counts)
        else:
            gin_tag, gin_words = np.full(self.P, -1), np.zeros(self.P, dtype=np.int64)
        self._climb(own_words, gin_words, counts)
        reads = self._read_out(p_of, live, nn, counts, faults)
        plan = _Plan(counts, macs, faults)
        self._chains(plan, reads, runs, gin_tag, p_of, filters, ifmaps, e_used, nn)
        return plan

    def _filters(self, p_of: np.ndarray, q_of: np.ndarray, g_valid: np.ndarray, counts: dict,
                 faults: list[str]) -> tuple[np.ndarray, ...]:
        """One send per (stack, ri, filter row i) carries p' x q' rows of S weights; spads keep what matched.

        Per PE: the filters (within the pass, minus its first) and channels (minus the block's first) of
        the tag it kept, which of them exist, its filter row, and how many filters and channels it holds.
        """
        mp, key, Mg = self.mp, self.f_key, self.Mg
        p, q, S = mp.p, mp.q, self.S
        gi, ti = np.divmod(key[:, 0], mp.t)
        pk, qk = p_of[ti], q_of[key[:, 1]]
        sent = g_valid[gi] & (pk > 0) & (qk > 0)
        words = np.where(sent, pk * qk * S, 0)
        counts["glb", "filter"] += 2 * int(words.sum())  # filter buffer fill + read
        counts["dram", "filter"] += int(words.sum())
        match = self.f_match & sent[None, :]
        chosen, count = _last_match(match)
        counts["array", "filter"] += int((match * words[None, :]).sum())
        if (count > 1).any():
            faults.append(f"{int((count > 1).sum())} PE(s) matched two filter tags in one pass")
        frel = gi[:, None] * Mg + ti[:, None] * p + np.arange(p)[None, :]  # [tag, p] + gb * g * Mg + f0
        fok = np.arange(p)[None, :] < pk[:, None]  # else the zero filter
        crel = key[:, 1:2] * q + np.arange(q)[None, :]  # [tag, q] + c0
        cok = np.arange(q)[None, :] < qk[:, None]  # else the zero channel
        has = chosen >= 0
        sel = np.where(has, chosen, 0)
        return (frel[sel], fok[sel] & has[:, None], crel[sel], cok[sel], key[sel, 2],
                np.where(has, pk[sel], 0), np.where(has, qk[sel], 0))

    def _ifmaps(self, p_of: np.ndarray, q_of: np.ndarray, g_valid: np.ndarray, need: np.ndarray, nn: int,
                counts: dict, faults: list[str]) -> tuple[np.ndarray, ...]:
        """One send per needed strip row of each (stack group, ri, row-ID group): n' x q' rows of Wp words.

        Per PE: the channels (minus gb * g * Cg + c0) and strip row of the send it kept, which channels
        exist, and how many it holds.
        """
        mp, key = self.mp, self.i_key
        stack, ri = key[:, 0], key[:, 1]
        gi = np.where(stack >= 0, stack // mp.t, 0)  # stack -1: shared by every stack (g = 1)
        qi = q_of[ri]
        sent = need & g_valid[gi] & (qi > 0)
        words = np.where(sent, nn * qi * self.Wp, 0)
        counts["glb", "ifmap"] += int(words.sum())
        match = self.i_match & sent[None, :]
        chosen, count = _last_match(match)
        counts["array", "ifmap"] += int((match * words[None, :]).sum())
        if (count > 1).any():
            faults.append(f"{int((count > 1).sum())} PE(s) matched two ifmap tags in one pass")
        has = chosen >= 0
        sel = np.where(has, chosen, 0)
        chan = gi[sel][:, None] * self.Cg + ri[sel][:, None] * mp.q + np.arange(mp.q)[None, :]  # [P, q]
        ok = (np.arange(mp.q)[None, :] < qi[sel][:, None]) & has[:, None]  # else the zero channel
        return chan, ok, np.where(has, key[sel, 3], 0), np.where(has, qi[sel], 0)

    def _live_chains(self, p_of: np.ndarray, g_valid: np.ndarray, e_used: int) -> np.ndarray:
        """[chain]: the chain computes an existing ofmap row of an existing group with some filters."""
        gi, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        return g_valid[gi] & (p_of[ti] > 0) & (self.ch_j < e_used)

    def _psum_in(self, p_of: np.ndarray, live: np.ndarray, nn: int, counts: dict) -> tuple[np.ndarray, np.ndarray]:
        """Channel blocks after the first: the buffer's psums go to the chain bottoms over the psum GIN.

        Per PE: the psum tag it takes from the GIN (or -1) and the words it receives.
        """
        _, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        pc = p_of[ti]
        words = np.where(live, pc * nn * self.F, 0)
        counts["glb", "psum"] += int(words.sum())
        match = self.p_match & live[None, :]
        counts["array", "psum"] += int((match * words[None, :]).sum())
        chosen, _ = _last_match(match & ~self.from_ln.reshape(-1)[:, None])  # LN-fed PEs ignore the GIN
        has = chosen >= 0
        return chosen, np.where(has, pc[np.where(has, chosen, 0)] * nn * self.F, 0)

    def _climb(self, own_words: np.ndarray, gin_words: np.ndarray, counts: dict) -> None:
        """Psums climb the local links from the bottom row up; the words each LN hop carries."""
        rows, cols = self.rows, self.cols
        own_words, gin_words = own_words.reshape(rows, cols), gin_words.reshape(rows, cols)
        out_words = np.zeros((rows, cols), dtype=np.int64)
        for y in range(rows - 1, -1, -1):
            if y + 1 < rows:
                ln = self.from_ln[y] & self.active[y]
                carried_words = np.where(ln, out_words[y + 1], gin_words[y])
            else:
                carried_words = gin_words[y]
            out_words[y] = np.maximum(carried_words, own_words[y])
        counts["array", "psum"] += int((out_words * self.above_ln).sum())  # LN hops

    def _read_out(self, p_of: np.ndarray, live: np.ndarray, nn: int, counts: dict,
                  faults: list[str]) -> list[tuple[int, int]]:
        """The controller reads each live chain top by GON tag: (tag, the PE that answers) per read."""
        _, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        chosen, count = _last_match((self.o_match & live[None, :]).T)  # per tag: the PE that answers
        if (live & (chosen < 0)).any():
            faults.append(f"{int((live & (chosen < 0)).sum())} output tag(s) matched no PE")
        if (count > 1).any():
            faults.append(f"{int((count > 1).sum())} output tag(s) matched several PEs")
        reads = [(int(k), int(chosen[k])) for k in np.flatnonzero(live & (chosen >= 0))]
        words = sum(int(p_of[ti[k]]) for k, _ in reads) * nn * self.F
        counts["array", "psum"] += words
        counts["glb", "psum"] += words
        return reads

    def _chains(self, plan: _Plan, reads: list[tuple[int, int]], runs: np.ndarray, gin_tag: np.ndarray,
                p_of: np.ndarray, filters: tuple, ifmaps: tuple, e_used: int, nn: int) -> None:
        """Per read chain: the computing PEs whose psums climb into the answering PE, their operands, the
        psum-GIN word entering at the chain's bottom and where the answer goes in the buffer.

        A PE's output is its own psums plus its input: the output of the PE below when its LN bit is set
        (and it is clocked and not on the bottom row), else what it took from the psum GIN.  Unrolled,
        a chain top's output is the sum over its chain's computing PEs of (filters held) x (ifmap windows
        held), plus the GIN word at the chain's bottom: one matrix product, the members' operands laid
        side by side.  Chains whose PEs received the same filters (a stack's columns) share the filter
        matrix, chains whose PEs received the same ifmap rows (a column across stacks) share the ifmap
        matrix; the chains linked by such sharing form a component, whose products are one matmul of
        its distinct filter matrices by its distinct ifmap matrices.  If that would compute far more
        products than there are chains (a corrupted configuration), each chain is its own component.
        """
        if not reads:
            return
        mem, bottoms = self._members(reads, runs, gin_tag)
        held = self._held(mem, filters, ifmaps)
        f_rel, f_ok, c_rel, c_ok, i_row, x_chan, x_ok, x_row = held
        wu = _rows_inverse(np.concatenate([f_rel, f_ok, c_rel, c_ok, i_row[:, :, None]], axis=2).reshape(len(mem), -1))
        xu = _rows_inverse(np.concatenate([x_chan, x_ok, x_row[:, :, None]], axis=2).reshape(len(mem), -1))
        w_table, pair_read, pair_j = self._products(plan, reads, self._components(wu, xu), wu, xu, held, p_of,
                                                    e_used)
        # Distinct filter matrices [matrix, pass, p, member, q] (the S taps follow): rows of wflat, relative
        # to the pass's first filter (f_rel) and the block's first channel (c_rel).
        w_first = _holder(wu)[w_table]
        plan.f_ok = f_ok[w_first].transpose(0, 2, 1)[:, None, :, :, None]
        plan.f_full = bool(plan.f_ok.all())
        plan.f_rel = (f_rel[w_first] * ((self.Cg + 1) * self.R)).transpose(0, 2, 1)[:, None, :, :, None]
        plan.c_rel = c_rel[w_first][:, None, None, :, :]
        plan.c_ok = c_ok[w_first][:, None, None, :, :]
        plan.i_row = i_row[w_first][:, None, None, :, None]
        plan.reads, plan.K = len(mem), mem.shape[1] * self.mp.q * self.S
        plan.cells = sum(nc * nw * nx for _, nc, nw, nx, *_ in plan.classes)
        # The psum-GIN words: a word written whose chain bottom took a psum tag carrying that filter.
        gi, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        kk = bottoms[pair_read]
        gin = (kk >= 0) & (pair_j < p_of[ti[np.maximum(kk, 0)]])
        plan.gin = None
        if gin.any():
            kk, j = kk[gin], pair_j[gin]
            rows = self._glb_rows(gi[kk], ti[kk] * self.mp.p + j, self.ch_j[kk], e_used)
            plan.gin = np.flatnonzero(gin), rows[:, None]

    def _members(self, reads: list[tuple[int, int]], runs: np.ndarray, gin_tag: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """[read, member]: the computing PEs of each read chain, from its top down the local links (padded
        with P, a dummy PE holding nothing), and per read the psum tag its bottom took from the GIN (or -1)."""
        members, bottoms = [], []
        for _, top in reads:
            chain, h = [], top
            while True:
                if runs[h]:
                    chain.append(h)
                if self.below[h] < 0:
                    break
                h = int(self.below[h])
            members.append(chain)
            bottoms.append(int(gin_tag[h]))
        mem = np.full((len(reads), max(1, max(len(chain) for chain in members))), self.P)
        for r, chain in enumerate(members):
            mem[r, :len(chain)] = chain
        return mem, np.array(bottoms, dtype=np.int64)

    def _held(self, mem: np.ndarray, filters: tuple, ifmaps: tuple) -> tuple[np.ndarray, ...]:
        """What each member PE holds ([read, member, ...]), with entries that select nothing zeroed so that
        equal operands compare equal: filter (f_rel, f_ok), channel (c_rel, c_ok) and filter row of its
        filters, ifmap channel (x_chan, x_ok) and strip row of its ifmap."""

        def pe(values: np.ndarray, fill) -> np.ndarray:  # per-PE values with the dummy PE appended, by member
            return np.concatenate([values, np.full((1, *values.shape[1:]), fill, dtype=values.dtype)])[mem]

        frel, fok, crel, cok, irow = filters[:5]
        f_ok, c_ok = pe(fok, False), pe(cok, False)  # [read, member, p], [read, member, q]
        chan, ok, xrow = ifmaps[:3]
        x_ok = pe(ok, False)
        return (pe(frel, 0) * f_ok, f_ok, pe(crel, 0) * c_ok, c_ok, pe(irow, 0) * f_ok.any(axis=2),
                pe(chan, 0) * x_ok, x_ok, pe(xrow, 0) * x_ok.any(axis=2))

    @staticmethod
    def _components(wu: np.ndarray, xu: np.ndarray) -> list[tuple[list[int], list[int], list[int]]]:
        """Read chains linked by a shared filter (``wu``) or ifmap (``xu``) matrix: per component its distinct
        filter and ifmap matrices and its chains; one chain per component if components waste products."""
        comp = list(range(len(wu)))

        def root(a: int) -> int:
            while comp[a] != a:
                comp[a] = comp[comp[a]]
                a = comp[a]
            return a

        for labels in (wu, xu):
            first: dict[int, int] = {}
            for r, label in enumerate(labels.tolist()):
                if label in first:
                    comp[root(r)] = root(first[label])
                else:
                    first[label] = r
        groups: dict[int, list[int]] = {}
        for r in range(len(wu)):
            groups.setdefault(root(r), []).append(r)
        parts = [(sorted(set(wu[g].tolist())), sorted(set(xu[g].tolist())), g) for g in groups.values()]
        if sum(len(ws) * len(xs) for ws, xs, _ in parts) > 2 * len(wu):
            parts = [([int(wu[r])], [int(xu[r])], [r]) for r in range(len(wu))]
        return parts

    def _products(self, plan: _Plan, reads: list[tuple[int, int]], parts: list, wu: np.ndarray, xu: np.ndarray,
                  held: tuple, p_of: np.ndarray, e_used: int) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Components of equal size are one batched matmul (a "class", ``plan.classes``): its ifmap matrices'
        indices, and per buffer word written the row of the products holding it (``plan.out``: the word's
        buffer row).  Returns the filter matrices in class order (a class's operand is a slice of them) and
        per word written its read chain and filter within the pass's filter set."""
        p = self.mp.p
        gi, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        pc = p_of[ti]  # filters per chain
        x_of = _holder(xu)
        classes: dict[tuple[int, int], list] = {}
        for part in parts:
            classes.setdefault((len(part[0]), len(part[1])), []).append(part)
        w_table, plan.classes, pair_read, pair_j, out_rows = [], [], [], [], []
        for (nw, nx), comps in classes.items():
            # Per read chain of the class: its component and positions of its matrices within it.
            rr, cc, uu, vv = (np.array(v, dtype=np.int64) for v in zip(*[
                (r, c, ws.index(int(wu[r])), xs.index(int(xu[r]))) for c, (ws, xs, chains) in enumerate(comps)
                for r in chains]))
            k = np.array([reads[r][0] for r in rr.tolist()], dtype=np.int64)
            count = pc[k]  # words of filters each read chain writes back
            j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
            rep = lambda v: np.repeat(v, count)  # noqa: E731  per buffer word written
            # Row of a word in the class's products viewed [component, nw, pass, p, nx] x (n' F): per
            # pass count nf, (c * nw + u) * p * nx * nf + pass * p * nx + j * nx + v.
            x_sel = x_of[np.array([xs for _, xs, _ in comps])]
            plan.classes.append((len(w_table), len(comps), nw, nx, *self._x_rows(x_sel, *held[5:]),
                                 rep((cc * nw + uu) * p * nx)[:, None], (rep(vv) + j * nx)[:, None], p * nx))
            w_table += [w for ws, _, _ in comps for w in ws]
            pair_read.append(rep(rr)), pair_j.append(j)
            out_rows.append(self._glb_rows(gi[rep(k)], ti[rep(k)] * p + j, self.ch_j[rep(k)], e_used))
        plan.out = np.concatenate(out_rows)[:, None]  # buffer row written, minus (f0 - mf0) * e_used
        return w_table, np.concatenate(pair_read), np.concatenate(pair_j)

    @staticmethod
    def _x_rows(first: np.ndarray, x_chan: np.ndarray, x_ok: np.ndarray, x_row: np.ndarray) -> tuple[np.ndarray, ...]:
        """A class's ifmap matrices as indices laid out [component, member, q, S, nx, n', F]: the ifmap
        channel (relative to the pass's first channel of the group block) and strip row of each;
        ``first`` [component, nx] names a read chain holding each matrix."""
        move = lambda v: np.moveaxis(v[first], 1, -1)[:, :, :, None, :, None, None]  # noqa: E731
        return move(x_chan), move(x_ok), move(x_row[:, :, None])

    def _glb_rows(self, gi: np.ndarray, f: np.ndarray, col: np.ndarray, e_used: int) -> np.ndarray:
        """Row of the buffer's psum block (viewed [g * m * e_used] x (n' F)) of group ``gi``, filter ``f`` of
        the pass (minus the block's first) and set column ``col``."""
        return (gi * self.m_alloc + f) * e_used + col

    # ------------------------------------------------------------ passes of one shape: the values
    def _passes(self, plan: _Plan, glb: np.ndarray, f0s: np.ndarray, gb: int, n0: int, nn: int, row0: int,
                mf0: int, c0: int) -> None:
        """Run the passes of one channel block whose first filters are ``f0s``, all of ``plan``'s shape.

        Each pass delivers its filters and ifmap rows by the plan's verdicts, its chains compute and
        climb, bottoms add the buffer's psums from the GIN, tops write the buffer.  Such passes touch
        disjoint filters of the buffer (each its own p * t), so they are computed side by side, the
        passes' filters stacked as rows of the chains' filter matrices.
        """
        passes = len(f0s)
        for key, value in plan.counts:
            self.moved[key] += value * passes
        self.macs += plan.macs * passes
        if plan.faults:
            self.faults.extend(plan.faults * passes)
        if not plan.reads:
            return
        p, g, F, Hp, Wp = self.mp.p, self.mp.g, self.F, self.Hp, self.Wp
        K, nF, e_used = plan.K, nn * F, glb.shape[2]
        # A chain sums K products: exact in float64 below 2**53 (every partial sum is an integer).
        exact_float = K * self.product_max < 2**53
        kind = np.float64 if exact_float else np.int64
        # The ifmap matrices [component, K, nx * n' * F]: the same for every filter pass of the block.
        image = ((n0 + np.arange(nn)) * ((self.C + 1) * Hp * Wp))[:, None] + self.win[:, None, :]
        image = image[:, None]  # [S, 1, n', F]: flat offsets of the images' window taps
        xs = []
        for _, nc, nw, nx, x_chan, x_ok, x_row, *_ in plan.classes:
            chan = np.where(x_ok, x_chan + (gb * g * self.Cg + c0), self.C)
            x = np.take(self.xflat, (chan * Hp + (x_row + row0)) * Wp + image)
            xs.append(x.reshape(nc, K, nx * nF).astype(kind))
        c_part = np.where(plan.c_ok, plan.c_rel + c0, self.Cg) * self.R + plan.i_row
        stride = (self.Cg + 1) * self.R
        glb2 = glb.reshape(-1, nF)
        step = max(1, self.BATCH_ELEMENTS // (p * (2 * len(plan.f_rel) * K + plan.cells * nF)))
        for at in range(0, passes, step):
            f0 = f0s[at:at + step]
            nf = len(f0)
            f_part = plan.f_rel + ((gb * g * self.Mg + f0) * stride)[:, None, None, None]
            if not plan.f_full:
                f_part = np.where(plan.f_ok, f_part, self.M * stride)  # the zero filter
            w = np.take(self.wflat, f_part + c_part, axis=0).reshape(len(f_part), nf * p, K).astype(kind)
            values = []
            for (w0, nc, nw, nx, _, _, _, a, b, fstep), xc in zip(plan.classes, xs):
                acc = np.matmul(w[w0:w0 + nc * nw].reshape(nc, nw * nf * p, K), xc)
                values.append(np.take(acc.reshape(-1, nF), a * nf + b + np.arange(nf) * fstep, axis=0))
            out = (values[0] if len(values) == 1 else np.concatenate(values)).astype(np.int64)  # [word, pass, n'F]
            rel = ((f0 - mf0) * e_used)[None, :]  # the passes' first filters within the buffer's m block
            if plan.gin is not None:
                at_write, rows = plan.gin
                out[at_write] += np.take(glb2, rows + rel, axis=0)
            glb2[plan.out + rel] = out


def _holder(labels: np.ndarray) -> np.ndarray:
    """Per label (0..max): an index whose label it is (labels from ``_rows_inverse``: every one occurs)."""
    out = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    out[labels] = np.arange(len(labels))
    return out


def _rows_inverse(rows: np.ndarray) -> np.ndarray:
    """Per row of a 2-D integer array: the index of its distinct value (equal rows, equal index)."""
    rows = np.ascontiguousarray(rows.astype(np.int64))
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).reshape(-1)
    return np.unique(keys, return_inverse=True)[1].reshape(-1)


def simulate(config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray) -> SimResult:
    """Run the layer through the configured array; ``weights`` [M, C/groups, R, S], ``ifmap`` [N, C, H, W], int16."""
    L = config.layer
    if weights.shape != (L.M, L.Cg, L.R, L.S):
        raise ValueError(f"weights shape {weights.shape} != {(L.M, L.Cg, L.R, L.S)}")
    if ifmap.shape != (L.N, L.C, L.H, L.W):
        raise ValueError(f"ifmap shape {ifmap.shape} != {(L.N, L.C, L.H, L.W)}")
    return _Array(config, hw, weights, ifmap).run()


# ---------------------------------------------------------------- the check
@dataclass
class LayerCheck:
    """Outcome of simulating one layer against the reference convolution and the cost model."""

    matched: bool  # ofmap and accumulator equal the reference bit for bit, no faults, counts equal the model's
    faults: list[str]
    accesses: Accesses  # simulated
    macs: int  # simulated
    model: Counts  # the cost model's, uncompressed (default DataRatios)
    seconds: float
    accumulator: np.ndarray | None = None  # the simulated int64 ofmap [N, M, E, F], before the shift

    @property
    def count_deltas(self) -> dict[str, int]:
        """Simulated minus cost-model count (``level_type`` or ``macs``), for the counts that differ."""
        simulated = {**self.accesses.named(), "macs": self.macs}
        model = {**self.model.accesses.named(), "macs": self.model.macs}
        return {k: simulated[k] - int(model[k]) for k in simulated if simulated[k] != model[k]}


def model_counts(layer: LayerShape, mapping: Mapping, hw: Hardware) -> Counts:
    """The cost model's counts for the mapping (ints), uncompressed (default ``DataRatios``)."""
    return RowStationary(layer, hw).counts(variables(mapping))


def choose_shift(acc: np.ndarray) -> int:
    """Per-layer shift keeping the top 16 bits of the largest accumulator (the paper's offline choice)."""
    peak = int(np.abs(acc).max()) if acc.size else 0
    return min(31, max(0, peak.bit_length() - 15))


def check_config(config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray) -> LayerCheck:
    """Simulate ``config`` and compare with ``reference`` (same shift) and with the cost model's counts."""
    import time

    start = time.perf_counter()
    result = simulate(config, hw, weights, ifmap)
    seconds = time.perf_counter() - start
    acc = reference(config.layer, weights, ifmap)
    model = model_counts(config.layer, config.mapping, hw)
    matched = (not result.faults and np.array_equal(acc, result.accumulator)
               and np.array_equal(saturate(acc, config.shift), result.ofmap)
               and result.accesses == model.accesses and result.macs == model.macs)
    return LayerCheck(matched, result.faults, result.accesses, result.macs, model, seconds, result.accumulator)


def quantize_weights(weights: np.ndarray) -> np.ndarray:
    """Real weights to 16-bit fixed point: the largest power-of-two scale that fits int16."""
    peak = float(np.abs(weights).max()) if weights.size else 0.0
    if peak == 0.0 or not np.isfinite(peak):
        return np.zeros(weights.shape, dtype=np.int16)
    frac = int(np.floor(np.log2(32767.0 / peak)))
    return np.clip(np.rint(np.ldexp(weights, frac)), -32768, 32767).astype(np.int16)


# Largest layer the simulator draws operands for (assumed: 2^26 values, 512 MB as int64 while drawn, cover
# AlexNet's fc6 (37.7 M weights) but not VGG-16's fc6 (103 M)); larger ones are refused, not swapped.
MAX_SIM_ELEMENTS = 2**26


def random_operands(layer: LayerShape, seed: int, bits: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Seeded int16 weights [M, Cg, R, S] and ifmap [N, C, H, W] drawn from ``bits``-bit signed ranges."""
    elements = layer.M * layer.Cg * layer.R * layer.S + layer.N * layer.C * layer.H * layer.W
    if elements > MAX_SIM_ELEMENTS:
        raise InputError(f"the layer's weights and ifmap hold {elements} values, more than the {MAX_SIM_ELEMENTS} "
                         "the simulator handles (compile maps it; simulate it with a smaller shape)")
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1)
    w = rng.integers(lo, hi, (layer.M, layer.Cg, layer.R, layer.S), dtype=np.int64).astype(np.int16)
    x = rng.integers(lo, hi, (layer.N, layer.C, layer.H, layer.W), dtype=np.int64).astype(np.int16)
    return w, x
