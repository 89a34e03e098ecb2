"""Functional simulator of the row-stationary array as a decoded configuration sets it up.

The proof that a bitstream is right: the controller walks the cost model's loop
nest (``cost_models.rowstationary``) and tags every value it reads from the
buffer with the (row, col) tag of ``mapper.allocation``; a value reaches a PE
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

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import placement
from cost_models.noc import _rows_needed
from mapper.allocation import allocate
from mapper.bitstream import Config

COUNT_KEYS = ("dram_ifmap", "dram_filter", "dram_psum", "glb_ifmap", "glb_filter", "glb_psum",
              "array_ifmap", "array_filter", "array_psum", "rf_ifmap", "rf_filter", "rf_psum", "macs")


@dataclass
class SimResult:
    """What one simulated layer produced, and what it cost in accesses."""

    ofmap: np.ndarray  # int16 [N, M, E, F]
    accumulator: np.ndarray  # int64 [N, M, E, F], before the shift
    counts: dict[str, int]
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


class _Static:
    """The decoded configuration as PE-indexed numpy arrays, and the static tag matches."""

    def __init__(self, config: Config, hw: Hardware) -> None:
        rows, cols = hw.rows, hw.cols
        self.active = np.array(config.active, dtype=bool).reshape(-1)
        self.from_ln = np.array(config.psum_from_ln, dtype=bool)
        self.ids = {}
        for name in ("filter", "ifmap", "psum", "output"):
            net = config.network(name)
            self.ids[name] = (np.repeat(np.array(net.row_ids, dtype=np.int64), cols), np.array(net.col_ids, dtype=np.int64).reshape(-1))
        self.rows, self.cols = rows, cols

    def match(self, name: str, tags: np.ndarray) -> np.ndarray:
        """[PE, tag]: the multicast controllers' verdict (X-bus row ID and PE col ID both match, PE clocked)."""
        row, col = self.ids[name]
        if len(tags) == 0:
            return np.zeros((row.size, 0), dtype=bool)
        return self.active[:, None] & (row[:, None] == tags[None, :, 0]) & (col[:, None] == tags[None, :, 1])


def simulate(config: Config, hw: Hardware, weights: np.ndarray, ifmap: np.ndarray) -> SimResult:
    """Run the layer through the configured array; ``weights`` [M, C/groups, R, S], ``ifmap`` [N, C, H, W], int16."""
    L, mp = config.layer, config.mapping
    if weights.shape != (L.M, L.Cg, L.R, L.S):
        raise ValueError(f"weights shape {weights.shape} != {(L.M, L.Cg, L.R, L.S)}")
    if ifmap.shape != (L.N, L.C, L.H, L.W):
        raise ValueError(f"ifmap shape {ifmap.shape} != {(L.N, L.C, L.H, L.W)}")
    alloc = allocate(L, mp, hw)  # the controller's tags: derived from the mapping, not from the IDs
    place = placement(L, mp, hw)
    st = _Static(config, hw)
    P, rows, cols = hw.rows * hw.cols, hw.rows, hw.cols
    N, G, Mg, Cg, R, S, E, F, Wp = L.N, L.groups, L.Mg, L.Cg, L.R, L.S, L.E, L.F, L.Wp
    U, D = L.stride[0], L.dilation[0]
    n, e, p, q, r, t, g = mp.n, mp.e, mp.p, mp.q, mp.r, mp.t, mp.g
    m = min(mp.m, Mg)
    faults: list[str] = []
    c = dict.fromkeys(COUNT_KEYS, 0)

    # Operand stores with one zero entry appended (index M / C) for absent filters and channels.
    wpad = np.zeros((L.M + 1, Cg + 1, R, S), dtype=np.int64)
    wpad[:L.M, :Cg] = weights
    xpad = padded_ifmap(L, ifmap)
    xpad = np.concatenate([xpad, np.zeros((N, 1, L.Hp, Wp), dtype=np.int64)], axis=1)
    acc_out = np.zeros((N, L.M, E, F), dtype=np.int64)
    win = np.arange(S)[:, None] * L.dilation[1] + np.arange(F)[None, :] * L.stride[1]  # [S, F]

    # Static tag tables and their matches against the decoded IDs.
    f_key = np.array([k for k, _ in alloc.filter_tags], dtype=np.int64).reshape(-1, 3)  # stack, ri, i
    f_match = st.match("filter", np.array([tag for _, tag in alloc.filter_tags], dtype=np.int64).reshape(-1, 2))
    sends = alloc.ifmap_sends
    i_key = np.array([(s.stack, s.ri, s.group, s.x) for s in sends], dtype=np.int64).reshape(-1, 4)
    i_match = st.match("ifmap", np.array([(s.row, s.col) for s in sends], dtype=np.int64).reshape(-1, 2))
    ch_key = np.array([k for k, _, _ in alloc.chain_tags], dtype=np.int64).reshape(-1, 3)  # stack, segment, x
    p_match = st.match("psum", np.array([tag for _, tag, _ in alloc.chain_tags], dtype=np.int64).reshape(-1, 2))
    o_match = st.match("output", np.array([tag for _, _, tag in alloc.chain_tags], dtype=np.int64).reshape(-1, 2))
    ch_slot = ch_key[:, 0] % place.across
    ch_j = ch_key[:, 1] * cols + ch_key[:, 2] - ch_slot * place.width  # set column j of each chain
    # LN: a PE's result climbs when the clocked PE above takes its psum from the local link.
    above_ln = np.zeros((rows, cols), dtype=bool)
    above_ln[1:] = st.from_ln[:-1] & st.active.reshape(rows, cols)[:-1]
    active_grid = st.active.reshape(rows, cols)

    def needed(e_used: int) -> np.ndarray:
        """[send]: whether strip row x of the send's group is needed by the strip's used columns."""
        out = np.zeros(len(sends), dtype=bool)
        for k, members in enumerate(alloc.grouping.groups):
            rows_k: set[int] = set()
            for segment, i in members:
                rows_k.update(_rows_needed(segment, i, e_used, cols, U, D))
            out |= (i_key[:, 2] == k) & np.isin(i_key[:, 3], sorted(rows_k))
        return out

    need_cache: dict[int, np.ndarray] = {}
    ifmap_banks = sum(1 for b in config.psum_banks if not b)
    psum_banks = len(config.psum_banks) - ifmap_banks

    for gb in range(-(-G // g)):
        g_valid = np.arange(g) + gb * g < G  # [gi]
        g_count = int(g_valid.sum())
        for nb in range(-(-N // n)):
            n0 = nb * n
            nn = min(n, N - n0)
            for sb in range(-(-E // e)):
                j0 = sb * e
                e_used = min(e, E - j0)
                row0 = j0 * U
                strip_rows = (e_used - 1) * U + (R - 1) * D + 1
                if e_used not in need_cache:
                    need_cache[e_used] = needed(e_used)
                need = need_cache[e_used]
                for mb in range(-(-Mg // m)):
                    mf0 = mb * m
                    m_block = min(m, Mg - mf0)
                    glb_psum = np.zeros((g, nn, m_block, e_used, F), dtype=np.int64)
                    if g_count * nn * m_block * e_used * F > psum_banks * hw.bank_words:
                        faults.append(f"psum block of {g_count * nn * m_block * e_used * F} words overflows {psum_banks} psum banks")
                    CB = -(-Cg // (q * r))
                    for cb in range(CB):
                        c0 = cb * q * r
                        chans = min(q * r, Cg - c0)
                        loaded = g_count * nn * chans * strip_rows * Wp
                        if loaded > ifmap_banks * hw.bank_words:
                            faults.append(f"ifmap block of {loaded} words overflows {ifmap_banks} ifmap banks")
                        c["dram_ifmap"] += loaded
                        c["glb_ifmap"] += loaded
                        q_of = np.clip(Cg - c0 - np.arange(r) * q, 0, q)  # channels of set ri this block
                        for fb in range(-(-m_block // (p * t))):
                            f0 = mf0 + fb * p * t
                            fcount = min(p * t, mf0 + m_block - f0)
                            p_of = np.clip(fcount - np.arange(t) * p, 0, p)  # filters of set ti this pass
                            _pass(locals())
                    # drain: psums of this block become ofmap values
                    for gi in range(g):
                        if not g_valid[gi]:
                            continue
                        gabs = gb * g + gi
                        words = nn * m_block * e_used * F
                        c["glb_psum"] += words
                        c["dram_psum"] += words
                        acc_out[n0:n0 + nn, gabs * Mg + mf0:gabs * Mg + mf0 + m_block, j0:j0 + e_used] = \
                            glb_psum[gi].reshape(nn, m_block, e_used, F)
    c["rf_filter"] = c["array_filter"] + c["macs"]  # spad writes of deliveries + one read per MAC
    c["rf_ifmap"] = c["array_ifmap"] + c["macs"]
    c["rf_psum"] = 2 * c["macs"]  # read and write of the psum spad per MAC
    return SimResult(saturate(acc_out, config.shift), acc_out, c, faults)


def _pass(env: dict) -> None:
    """One processing pass: deliver filters, ifmap rows and psums by tag, compute, read results over the GON."""
    c, faults = env["c"], env["faults"]
    f_key, f_match, i_key, i_match = env["f_key"], env["f_match"], env["i_key"], env["i_match"]
    ch_key, ch_j, p_match, o_match = env["ch_key"], env["ch_j"], env["p_match"], env["o_match"]
    t, p, q, S, F, Wp, Cg, Mg, rows, cols = (env[k] for k in ("t", "p", "q", "S", "F", "Wp", "Cg", "Mg", "rows", "cols"))
    gb, g, g_valid, n0, nn, row0, e_used = (env[k] for k in ("gb", "g", "g_valid", "n0", "nn", "row0", "e_used"))
    c0, cb, mf0, f0, p_of, q_of, need = (env[k] for k in ("c0", "cb", "mf0", "f0", "p_of", "q_of", "need"))
    glb_psum, wpad, xpad, win, above_ln, active_grid = (
        env[k] for k in ("glb_psum", "wpad", "xpad", "win", "above_ln", "active_grid"))
    from_ln = env["st"].from_ln
    M, C = wpad.shape[0] - 1, xpad.shape[1] - 1
    P = rows * cols

    # ---- filters: one send per (stack, ri, filter row i) carries p' x q' rows of S weights
    gi_f, ti_f = np.divmod(f_key[:, 0], t)
    pk, qk = p_of[ti_f], q_of[f_key[:, 1]]
    sent_f = g_valid[gi_f] & (pk > 0) & (qk > 0)
    words_f = np.where(sent_f, pk * qk * S, 0)
    c["glb_filter"] += 2 * int(words_f.sum())  # filter buffer fill + read
    c["dram_filter"] += int(words_f.sum())
    fm = f_match & sent_f[None, :]
    chosen_f, count_f = _last_match(fm)
    c["array_filter"] += int((fm * words_f[None, :]).sum())
    doubled = int((count_f > 1).sum())
    if doubled:
        faults.append(f"{doubled} PE(s) matched two filter tags in one pass")
    fabs = (gb * g + gi_f)[:, None] * Mg + f0 + ti_f[:, None] * p + np.arange(p)[None, :]
    fabs = np.where(np.arange(p)[None, :] < pk[:, None], fabs, M)  # [K, p]
    cabs = c0 + f_key[:, 1:2] * q + np.arange(q)[None, :]
    cabs = np.where(np.arange(q)[None, :] < qk[:, None], cabs, Cg)  # [K, q]
    sel = np.maximum(chosen_f, 0)
    has_f = chosen_f >= 0
    w_pe = wpad[fabs[sel][:, :, None], cabs[sel][:, None, :], f_key[sel, 2][:, None, None]]  # [P, p, q, S]
    w_pe[~has_f] = 0
    pf = np.where(has_f, pk[sel], 0)
    qf = np.where(has_f, qk[sel], 0)

    # ---- ifmap: one send per needed strip row x of each (stack group, ri, row-ID group), n' x q' rows of Wp words
    stack_i, ri_i = i_key[:, 0], i_key[:, 1]
    gi_i = np.where(stack_i >= 0, stack_i // t, 0)
    g_ok = np.where(stack_i >= 0, g_valid[gi_i], True)
    qi = q_of[ri_i]
    sent_i = need & g_ok & (qi > 0)
    words_i = np.where(sent_i, nn * qi * Wp, 0)
    c["glb_ifmap"] += int(words_i.sum())
    im = env["i_match"] & sent_i[None, :]
    chosen_i, count_i = _last_match(im)
    c["array_ifmap"] += int((im * words_i[None, :]).sum())
    doubled = int((count_i > 1).sum())
    if doubled:
        faults.append(f"{doubled} PE(s) matched two ifmap tags in one pass")
    has_x = chosen_i >= 0
    seli = np.maximum(chosen_i, 0)
    gabs_i = gb * g + gi_i[seli]  # [P]; with g = 1 every stack's group is gb
    chan = gabs_i[:, None] * Cg + c0 + ri_i[seli][:, None] * q + np.arange(q)[None, :]
    chan = np.where((np.arange(q)[None, :] < qi[seli][:, None]) & has_x[:, None], chan, C)  # [P, q]
    xrow = np.where(has_x, row0 + i_key[seli, 3], 0)  # [P]
    x_pe = xpad[n0:n0 + nn][:, chan, xrow[:, None], :]  # [nn, P, q, Wp]
    qx = np.where(has_x, qi[seli], 0)

    # ---- compute: every PE with filters and an ifmap row runs its p x q primitives over n' images
    runs = (pf > 0) & (qx > 0)
    xw = x_pe[..., win]  # [nn, P, q, S, F]
    xw = np.transpose(xw, (1, 2, 3, 0, 4)).reshape(P, q * S, nn * F)
    own = np.matmul(w_pe.reshape(P, p, q * S).astype(np.float64), xw.astype(np.float64))
    own = np.rint(own).astype(np.int64).reshape(P, p, nn, F)
    own[~runs] = 0
    c["macs"] += int((pf * np.minimum(qf, qx) * runs).sum()) * nn * F * S
    own_words = np.where(runs, pf * nn * F, 0)

    # ---- psum GIN: chain bottoms receive the buffer's psums from the previous channel block
    gi_c, ti_c = np.divmod(ch_key[:, 0], t)
    pc = p_of[ti_c]
    live_c = g_valid[gi_c] & (pc > 0) & (ch_j < e_used)
    gin = np.zeros((P, p, nn, F), dtype=np.int64)
    gin_words = np.zeros(P, dtype=np.int64)
    if cb > 0:
        words_c = np.where(live_c, pc * nn * F, 0)
        c["glb_psum"] += int(words_c.sum())
        pm = p_match & live_c[None, :]
        c["array_psum"] += int((pm * words_c[None, :]).sum())
        chosen_p, _ = _last_match(pm & ~from_ln.reshape(-1)[:, None])
        has_p = chosen_p >= 0
        if has_p.any():
            k = chosen_p[has_p]
            frel = f0 - mf0 + ti_c[k][:, None] * p + np.arange(p)[None, :]  # [h, p]
            frel = np.minimum(frel, glb_psum.shape[2] - 1)
            block = glb_psum[gi_c[k][:, None], :, frel, ch_j[k][:, None], :]  # [h, p, nn, F]
            block = np.where((np.arange(p)[None, :] < pc[k][:, None])[:, :, None, None], block, 0)
            gin[has_p] = block
            gin_words[has_p] = pc[k] * nn * F

    # ---- local links: psums climb from the bottom row up
    own = own.reshape(rows, cols, p, nn, F)
    own_words = own_words.reshape(rows, cols)
    gin = gin.reshape(rows, cols, p, nn, F)
    gin_words = gin_words.reshape(rows, cols)
    out = np.zeros_like(own)
    out_words = np.zeros((rows, cols), dtype=np.int64)
    for y in range(rows - 1, -1, -1):
        if y + 1 < rows:
            ln = (from_ln[y] & active_grid[y])
            carried = np.where(ln[:, None, None, None], out[y + 1], gin[y])
            carried_words = np.where(ln, out_words[y + 1], gin_words[y])
        else:
            carried, carried_words = gin[y], gin_words[y]
        out[y] = carried + own[y]
        out_words[y] = np.maximum(carried_words, own_words[y])
    c["array_psum"] += int((out_words * above_ln).sum())  # LN hops

    # ---- GON: the controller reads each live chain top by tag and writes the buffer
    om = o_match & live_c[None, :]
    chosen_o, count_o = _last_match(om.T)  # per tag: the PE that answers
    missing = int((live_c & (chosen_o < 0)).sum())
    if missing:
        faults.append(f"{missing} output tag(s) matched no PE")
    doubled = int((count_o > 1).sum())
    if doubled:
        faults.append(f"{doubled} output tag(s) matched several PEs")
    flat_out = out.reshape(P, p, nn, F)
    for k in np.flatnonzero(live_c & (chosen_o >= 0)):
        pe = chosen_o[k]
        words = int(pc[k]) * nn * F
        c["array_psum"] += words
        c["glb_psum"] += words
        frel = f0 - mf0 + int(ti_c[k]) * p
        glb_psum[gi_c[k], :, frel:frel + pc[k], ch_j[k], :] = np.transpose(flat_out[pe, :pc[k]], (1, 0, 2))


# ---------------------------------------------------------------- the check
@dataclass
class LayerCheck:
    """Outcome of simulating one layer against the reference convolution and the cost model."""

    matched: bool  # ofmap and wide accumulator equal the reference bit for bit, no delivery faults
    faults: list[str]
    counts: dict[str, int]
    model: dict[str, int]
    seconds: float

    @property
    def count_deltas(self) -> dict[str, int]:
        """Simulated minus cost-model count, for the keys that differ."""
        return {k: self.counts[k] - self.model[k] for k in COUNT_KEYS if self.counts[k] != self.model[k]}


def model_counts(layer: LayerShape, mapping, hw: Hardware) -> dict[str, int]:
    """The cost model's counts for the mapping, uncompressed (default ``DataRatios``)."""
    from cost_models.cost import variables
    from cost_models.rowstationary import RowStationary

    counts = RowStationary(layer, hw).counts(variables(mapping))
    return {k: int(counts[k]) for k in COUNT_KEYS}


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
    matched = (not result.faults and np.array_equal(acc, result.accumulator)
               and np.array_equal(saturate(acc, config.shift), result.ofmap))
    return LayerCheck(matched, result.faults, result.counts, model_counts(config.layer, config.mapping, hw), seconds)


def quantize_weights(weights: np.ndarray) -> np.ndarray:
    """Real weights to 16-bit fixed point: the largest power-of-two scale that fits int16."""
    peak = float(np.abs(weights).max()) if weights.size else 0.0
    if peak == 0.0 or not np.isfinite(peak):
        return np.zeros(weights.shape, dtype=np.int16)
    frac = int(np.floor(np.log2(32767.0 / peak)))
    return np.clip(np.rint(np.ldexp(weights, frac)), -32768, 32767).astype(np.int16)


def random_operands(layer: LayerShape, seed: int, bits: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Seeded int16 weights [M, Cg, R, S] and ifmap [N, C, H, W] drawn from ``bits``-bit signed ranges."""
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1)
    w = rng.integers(lo, hi, (layer.M, layer.Cg, layer.R, layer.S), dtype=np.int64).astype(np.int16)
    x = rng.integers(lo, hi, (layer.N, layer.C, layer.H, layer.W), dtype=np.int64).astype(np.int16)
    return w, x
