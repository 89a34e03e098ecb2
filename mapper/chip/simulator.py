"""Functional simulator of the row-stationary array as a decoded configuration sets it up.

The proof that a bitstream is right: the controller walks the cost model's loop
nest (``cost_models.rowstationary``) and tags every value it reads from the
buffer with the (row, col) tag of ``mapper.chip.allocation``; a value reaches a PE
only where the *decoded* IDs match and the PE is not clock gated.  Each PE then
runs its 1-D primitives on what its spads received, psums climb the local links
(PEs whose ``psum_from_ln`` bit is set) or enter from the psum GIN, and chain
tops are read back over the GON by tag.  A wrong ID bit therefore changes the
ofmap.  Everything is vectorised over the PEs of a pass (numpy).

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


def padded_ifmap(layer: LayerShape, ifmap: np.ndarray) -> np.ndarray:
    top, left, bottom, right = layer.pads
    return np.pad(ifmap.astype(np.int64), ((0, 0), (0, 0), (top, bottom), (left, right)))


def reference(layer: LayerShape, weights: np.ndarray, ifmap: np.ndarray) -> np.ndarray:
    """Plain integer convolution (int64 accumulator) [N, M, E, F]: what the array must reproduce."""
    L = layer
    x = padded_ifmap(L, ifmap)
    rr = np.arange(L.R)[:, None, None, None] * L.dilation[0] + np.arange(L.E)[None, None, :, None] * L.stride[0]
    ss = np.arange(L.S)[None, :, None, None] * L.dilation[1] + np.arange(L.F)[None, None, None, :] * L.stride[1]
    exact_float = L.Cg * L.R * L.S < 2**22  # |sum| < 2**52: float64 matmul is exact
    out = np.empty((L.N, L.M, L.E, L.F), dtype=np.int64)
    for gi in range(L.groups):
        xs = x[:, gi * L.Cg:(gi + 1) * L.Cg]  # [N, Cg, Hp, Wp]
        cols = xs[:, :, rr, ss]  # [N, Cg, R, S, E, F]
        cols = cols.reshape(L.N, L.Cg * L.R * L.S, L.E * L.F)
        w = weights[gi * L.Mg:(gi + 1) * L.Mg].reshape(L.Mg, -1).astype(np.int64)
        if exact_float:
            res = np.rint(np.matmul(w.astype(np.float64), cols.astype(np.float64))).astype(np.int64)
        else:
            res = np.matmul(w, cols)
        out[:, gi * L.Mg:(gi + 1) * L.Mg] = res.reshape(L.N, L.Mg, L.E, L.F)
    return out


def _last_match(match: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: index of the last True column (the value that stays in the spad) and the match count."""
    count = match.sum(axis=1)
    last = match.shape[1] - 1 - np.argmax(match[:, ::-1], axis=1)
    return np.where(count > 0, last, -1), count


@dataclass(frozen=True)
class _Pass:
    """Where one processing pass sits in the loop nest, and how full its sets are."""

    gb: int  # group block
    n0: int  # first image
    nn: int  # images in the pass
    row0: int  # first padded ifmap row of the strip
    e_used: int  # ofmap rows of the strip
    mf0: int  # first filter of the m block (within the group)
    cb: int  # channel block
    c0: int  # first channel of the block (within the group)
    f0: int  # first filter of the pass (within the group)
    p_of: np.ndarray  # [t] filters of filter set ti
    q_of: np.ndarray  # [r] channels of channel set ri
    g_valid: np.ndarray  # [g] group set gi has a group in this block
    need: np.ndarray  # [ifmap send] the strip's live columns need this row


class _Array:
    """The array as a decoded configuration sets it up, driven by a controller that walks the loop nest."""

    def __init__(self, config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray) -> None:
        L, mp = config.layer, config.mapping
        self.L, self.mp, self.hw, self.config = L, mp, hw, config
        self.rows, self.cols, self.P = hw.rows, hw.cols, hw.rows * hw.cols
        self.faults: list[str] = []
        self.moved = {(level, dt): 0 for level in ("dram", "glb", "array") for dt in DATA_TYPES}  # words, as counted
        self.macs = 0
        # Array side: only the decoded IDs, gating and psum-source bits.
        self.active = np.array(config.active, dtype=bool)
        self.from_ln = np.array(config.psum_from_ln, dtype=bool)
        self.above_ln = np.zeros_like(self.from_ln)  # the clocked PE above takes this PE's psum over the LN
        self.above_ln[1:] = self.from_ln[:-1] & self.active[:-1]
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
        # Operand stores with one zero entry appended (index M / C) for absent filters and channels.
        self.wpad = np.zeros((L.M + 1, L.Cg + 1, L.R, L.S), dtype=np.int64)
        self.wpad[:L.M, :L.Cg] = weights
        x = padded_ifmap(L, ifmap)
        self.xpad = np.concatenate([x, np.zeros((L.N, 1, L.Hp, L.Wp), dtype=np.int64)], axis=1)
        self.win = np.arange(L.S)[:, None] * L.dilation[1] + np.arange(L.F)[None, :] * L.stride[1]  # [S, F]
        self.ofmap_acc = np.zeros((L.N, L.M, L.E, L.F), dtype=np.int64)
        self.ifmap_banks = sum(1 for b in config.psum_banks if not b)
        self.psum_banks = len(config.psum_banks) - self.ifmap_banks
        self._need: dict[int, np.ndarray] = {}

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
        L, mp = self.L, self.mp
        N, G, Mg, Cg, E, F, Wp = L.N, L.groups, L.Mg, L.Cg, L.E, L.F, L.Wp
        n, e, p, q, r, t, g = mp.n, mp.e, mp.p, mp.q, mp.r, mp.t, mp.g
        m = min(mp.m, Mg)
        for gb in range(-(-G // g)):
            g_valid = np.arange(g) + gb * g < G
            g_count = int(g_valid.sum())
            for n0 in range(0, N, n):
                nn = min(n, N - n0)
                for j0 in range(0, E, e):
                    e_used = min(e, E - j0)
                    strip_rows = (e_used - 1) * L.stride[0] + (L.R - 1) * L.dilation[0] + 1
                    for mf0 in range(0, Mg, m):
                        m_block = min(m, Mg - mf0)
                        glb = np.zeros((g, nn, m_block, e_used, F), dtype=np.int64)
                        if g_count * nn * m_block * e_used * F > self.psum_banks * self.hw.bank_words:
                            self.faults.append(f"a psum block of {g_count * nn * m_block * e_used * F} words "
                                               f"overflows the {self.psum_banks} psum banks")
                        for cb, c0 in enumerate(range(0, Cg, q * r)):
                            loaded = g_count * nn * min(q * r, Cg - c0) * strip_rows * Wp
                            if loaded > self.ifmap_banks * self.hw.bank_words:
                                self.faults.append(f"an ifmap block of {loaded} words overflows the "
                                                   f"{self.ifmap_banks} ifmap banks")
                            self.moved["dram", "ifmap"] += loaded
                            self.moved["glb", "ifmap"] += loaded  # buffer fill
                            q_of = np.clip(Cg - c0 - np.arange(r) * q, 0, q)
                            for f0 in range(mf0, mf0 + m_block, p * t):
                                p_of = np.clip(mf0 + m_block - f0 - np.arange(t) * p, 0, p)
                                self._pass(_Pass(gb, n0, nn, j0 * L.stride[0], e_used, mf0, cb, c0, f0, p_of, q_of,
                                                 g_valid, self._needed(e_used)), glb)
                        self._drain(gb, g_valid, n0, nn, j0, mf0, glb)
        array = Words(**{dt: self.moved["array", dt] for dt in DATA_TYPES})
        # The spads' counts follow from the deliveries and the MACs by the PE's own rule.
        accesses = Accesses(**{level: Words(**{dt: self.moved[level, dt] for dt in DATA_TYPES})
                               for level in ("dram", "glb")}, array=array, rf=RowStationary.rf(array, self.macs))
        return SimResult(saturate(self.ofmap_acc, self.config.shift), self.ofmap_acc, accesses, self.macs, self.faults)

    def _drain(self, gb: int, g_valid: np.ndarray, n0: int, nn: int, j0: int, mf0: int, glb: np.ndarray) -> None:
        """After the last channel block the buffer's psums are final: read them out to DRAM."""
        Mg = self.L.Mg
        _, _, m_block, e_used, F = glb.shape
        for gi in np.flatnonzero(g_valid):
            base = (gb * self.mp.g + gi) * Mg + mf0
            self.moved["glb", "psum"] += nn * m_block * e_used * F
            self.moved["dram", "psum"] += nn * m_block * e_used * F
            self.ofmap_acc[n0:n0 + nn, base:base + m_block, j0:j0 + e_used] = glb[gi]

    # ------------------------------------------------------------ one pass
    def _pass(self, ps: _Pass, glb: np.ndarray) -> None:
        """Deliver filters and ifmap rows by tag, compute, feed and climb psums, read chain tops over the GON."""
        w_pe, pf, qf = self._filters(ps)
        x_pe, qx = self._ifmaps(ps)
        own, own_words = self._compute(ps, w_pe, pf, qf, x_pe, qx)
        live = self._live_chains(ps)
        gin, gin_words = self._psum_in(ps, glb, live) if ps.cb > 0 else (np.zeros_like(own), np.zeros_like(own_words))
        out = self._climb(own, own_words, gin, gin_words)
        self._read_out(ps, glb, live, out)

    def _filters(self, ps: _Pass) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One send per (stack, ri, filter row i) carries p' x q' rows of S weights; spads keep what matched."""
        L, mp, key = self.L, self.mp, self.f_key
        p, q, S = mp.p, mp.q, L.S
        gi, ti = np.divmod(key[:, 0], mp.t)
        pk, qk = ps.p_of[ti], ps.q_of[key[:, 1]]
        sent = ps.g_valid[gi] & (pk > 0) & (qk > 0)
        words = np.where(sent, pk * qk * S, 0)
        self.moved["glb", "filter"] += 2 * int(words.sum())  # filter buffer fill + read
        self.moved["dram", "filter"] += int(words.sum())
        match = self.f_match & sent[None, :]
        chosen, count = _last_match(match)
        self.moved["array", "filter"] += int((match * words[None, :]).sum())
        if (count > 1).any():
            self.faults.append(f"{int((count > 1).sum())} PE(s) matched two filter tags in one pass")
        fabs = (ps.gb * mp.g + gi)[:, None] * L.Mg + ps.f0 + ti[:, None] * p + np.arange(p)[None, :]
        fabs = np.where(np.arange(p)[None, :] < pk[:, None], fabs, L.M)  # [tag, p]; M = the zero filter
        cabs = ps.c0 + key[:, 1:2] * q + np.arange(q)[None, :]
        cabs = np.where(np.arange(q)[None, :] < qk[:, None], cabs, L.Cg)  # [tag, q]; Cg = the zero channel
        has = chosen >= 0
        sel = np.where(has, chosen, 0)
        w_pe = self.wpad[np.where(has[:, None, None], fabs[sel][:, :, None], L.M), cabs[sel][:, None, :],
                         key[sel, 2][:, None, None]]  # [P, p, q, S]
        return w_pe, np.where(has, pk[sel], 0), np.where(has, qk[sel], 0)

    def _ifmaps(self, ps: _Pass) -> tuple[np.ndarray, np.ndarray]:
        """One send per needed strip row of each (stack group, ri, row-ID group): n' x q' rows of Wp words."""
        L, mp, key = self.L, self.mp, self.i_key
        stack, ri = key[:, 0], key[:, 1]
        gi = np.where(stack >= 0, stack // mp.t, 0)  # stack -1: shared by every stack (g = 1)
        qi = ps.q_of[ri]
        sent = ps.need & ps.g_valid[gi] & (qi > 0)
        words = np.where(sent, ps.nn * qi * L.Wp, 0)
        self.moved["glb", "ifmap"] += int(words.sum())
        match = self.i_match & sent[None, :]
        chosen, count = _last_match(match)
        self.moved["array", "ifmap"] += int((match * words[None, :]).sum())
        if (count > 1).any():
            self.faults.append(f"{int((count > 1).sum())} PE(s) matched two ifmap tags in one pass")
        has = chosen >= 0
        sel = np.where(has, chosen, 0)
        chan = (ps.gb * mp.g + gi[sel])[:, None] * L.Cg + ps.c0 + ri[sel][:, None] * mp.q + np.arange(mp.q)[None, :]
        chan = np.where((np.arange(mp.q)[None, :] < qi[sel][:, None]) & has[:, None], chan, L.C)  # [P, q]
        xrow = np.where(has, ps.row0 + key[sel, 3], 0)
        x_pe = self.xpad[ps.n0:ps.n0 + ps.nn][:, chan, xrow[:, None], :]  # [n', P, q, Wp]
        return x_pe, np.where(has, qi[sel], 0)

    def _compute(self, ps: _Pass, w_pe: np.ndarray, pf: np.ndarray, qf: np.ndarray, x_pe: np.ndarray,
                 qx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every PE holding filters and an ifmap row runs its p x q 1-D primitives over n' images (one matmul)."""
        P, p, q, S, F, nn = self.P, self.mp.p, self.mp.q, self.L.S, self.L.F, ps.nn
        runs = (pf > 0) & (qx > 0)
        xw = np.transpose(x_pe[..., self.win], (1, 2, 3, 0, 4)).reshape(P, q * S, nn * F)  # [P, q*S, n'*F]
        # Exact in float64: a PE sums q*S <= 2**12 products of at most 2**30.
        own = np.matmul(w_pe.reshape(P, p, q * S).astype(np.float64), xw.astype(np.float64))
        own = np.rint(own).astype(np.int64).reshape(P, p, nn, F)
        own[~runs] = 0
        self.macs += int((pf * np.minimum(qf, qx) * runs).sum()) * nn * F * S
        return own, np.where(runs, pf * nn * F, 0)

    def _live_chains(self, ps: _Pass) -> np.ndarray:
        """[chain]: the chain computes an existing ofmap row of an existing group with some filters."""
        gi, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        return ps.g_valid[gi] & (ps.p_of[ti] > 0) & (self.ch_j < ps.e_used)

    def _psum_in(self, ps: _Pass, glb: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Channel blocks after the first: the buffer's psums go to the chain bottoms over the psum GIN."""
        P, p, nn, F = self.P, self.mp.p, ps.nn, self.L.F
        gi, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        pc = ps.p_of[ti]
        words = np.where(live, pc * nn * F, 0)
        self.moved["glb", "psum"] += int(words.sum())
        match = self.p_match & live[None, :]
        self.moved["array", "psum"] += int((match * words[None, :]).sum())
        chosen, _ = _last_match(match & ~self.from_ln.reshape(-1)[:, None])  # LN-fed PEs ignore the GIN
        gin = np.zeros((P, p, nn, F), dtype=np.int64)
        gin_words = np.zeros(P, dtype=np.int64)
        has = chosen >= 0
        if has.any():
            k = chosen[has]
            frel = np.minimum(ps.f0 - ps.mf0 + ti[k][:, None] * p + np.arange(p)[None, :], glb.shape[2] - 1)
            block = glb[gi[k][:, None], :, frel, self.ch_j[k][:, None], :]  # [h, p, n', F]
            gin[has] = np.where((np.arange(p)[None, :] < pc[k][:, None])[:, :, None, None], block, 0)
            gin_words[has] = pc[k] * nn * F
        return gin, gin_words

    def _climb(self, own: np.ndarray, own_words: np.ndarray, gin: np.ndarray, gin_words: np.ndarray) -> np.ndarray:
        """Psums climb the local links from the bottom row up; a PE adds its input (LN or GIN) to its own."""
        rows, cols = self.rows, self.cols
        own = own.reshape(rows, cols, *own.shape[1:])
        gin = gin.reshape(own.shape)
        own_words, gin_words = own_words.reshape(rows, cols), gin_words.reshape(rows, cols)
        out = np.zeros_like(own)
        out_words = np.zeros((rows, cols), dtype=np.int64)
        for y in range(rows - 1, -1, -1):
            if y + 1 < rows:
                ln = self.from_ln[y] & self.active[y]
                carried = np.where(ln[:, None, None, None], out[y + 1], gin[y])
                carried_words = np.where(ln, out_words[y + 1], gin_words[y])
            else:
                carried, carried_words = gin[y], gin_words[y]
            out[y] = carried + own[y]
            out_words[y] = np.maximum(carried_words, own_words[y])
        self.moved["array", "psum"] += int((out_words * self.above_ln).sum())  # LN hops
        return out.reshape(self.P, *own.shape[2:])

    def _read_out(self, ps: _Pass, glb: np.ndarray, live: np.ndarray, out: np.ndarray) -> None:
        """The controller reads each live chain top by GON tag and writes its psums to the buffer."""
        gi, ti = np.divmod(self.ch_key[:, 0], self.mp.t)
        chosen, count = _last_match((self.o_match & live[None, :]).T)  # per tag: the PE that answers
        if (live & (chosen < 0)).any():
            self.faults.append(f"{int((live & (chosen < 0)).sum())} output tag(s) matched no PE")
        if (count > 1).any():
            self.faults.append(f"{int((count > 1).sum())} output tag(s) matched several PEs")
        for k in np.flatnonzero(live & (chosen >= 0)):
            pc = int(ps.p_of[ti[k]])
            words = pc * ps.nn * self.L.F
            self.moved["array", "psum"] += words
            self.moved["glb", "psum"] += words
            frel = ps.f0 - ps.mf0 + int(ti[k]) * self.mp.p
            glb[gi[k], :, frel:frel + pc, self.ch_j[k], :] = np.transpose(out[chosen[k], :pc], (1, 0, 2))


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
