"""The row-stationary dataflow on Eyeriss: limits, access counts and cycles.

Written once over ``cost_models.arith`` numbers (see there) so that scoring one
mapping, scoring all of them with numpy, and building the CP-SAT model all run
this code.  Nothing here is a per-layer table: every count follows from the
loop nest below and the layer's shape.

Processing passes, outermost first ([JSSC IV-A, Fig. 7]):

    for each block of g groups                      GB = ceil(G / g)
      for each block of n ifmaps                    NB = ceil(N / n)
        for each strip of e ofmap rows              SB = ceil(E / e)
          for each block of m filters (psums in GLB)  MB = ceil(Mg / m)
            for each block of q*r channels           CB = ceil(Cg / (q*r))   (psums accumulate in the GLB)
              for each block of p*t filters in m     FBT = ceil(Mg / (p*t)) in all
                one pass: filters go into the spads, ifmap rows stream through

The buffer holds the pass's n*q*r ifmap planes (strip rows only) and n*m psum
planes (strip rows only); filters come through the 8 kB filter buffer, which
preloads the next pass's filters [JSSC V-A].  Ifmaps are read from DRAM once
per m-block, filters once per (n-block, strip), ofmaps written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.arith import Num, ceil_div, floor_div, is_positive, lookup, max_, min_
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.noc import ifmap_tables

# Fixed-point scale of the DRAM compression ratios (words kept per 2**16 words).
RATIO_ONE = 1 << 16

# What a search can minimise: normalized energy, total cycles, or their product.
OBJECTIVES = ("energy", "latency", "edp")


@dataclass(frozen=True)
class Limit:
    """One hardware limit: ``lhs <= rhs`` must hold; ``what`` names it for the user."""

    name: str
    what: str
    lhs: Num
    rhs: Num


@dataclass(frozen=True)
class DataRatios:
    """Per-layer data statistics the DRAM and gating terms need, in 1/2**16 units.

    ``ifmap_dram`` / ``ofmap_dram``: RLC-compressed size over raw size (2**16 =
    uncompressed; the network input and filters are never compressed, [JSSC IV-B]).
    ``ifmap_nonzero``: share of MACs whose ifmap operand is non-zero (zero
    gating skips the filter-spad read and the MAC [JSSC V-C]).
    """

    ifmap_dram: int = RATIO_ONE
    ofmap_dram: int = RATIO_ONE
    ifmap_nonzero: int = RATIO_ONE


@dataclass
class Vars:
    """The mapping variables as numbers of any kind (int, array, symbolic)."""

    n: Num
    e: Num
    p: Num
    q: Num
    r: Num
    t: Num
    g: Num
    k: Num  # m = k * p * t


def layer_limits(layer: LayerShape, hw: Hardware) -> list[str]:
    """Reasons the layer cannot run on this array at all, whatever the mapping."""
    problems = []
    if layer.R > hw.rows:
        problems.append(f"filter height R={layer.R} exceeds the {hw.rows} PE rows; a PE set cannot be taller "
                        "than the array and Eyeriss does not fold filter rows [JSSC IV-A]")
    if layer.S > hw.max_filter_width:
        problems.append(f"filter width S={layer.S} exceeds the natively supported {hw.max_filter_width} [ISSCC Fig. 14.5.7]")
    if layer.stride[0] not in hw.vertical_strides:
        problems.append(f"vertical stride {layer.stride[0]} is not one of the supported {list(hw.vertical_strides)} [ISSCC Fig. 14.5.7]")
    if layer.stride[1] > hw.max_horizontal_stride:
        problems.append(f"horizontal stride {layer.stride[1]} exceeds the supported {hw.max_horizontal_stride} [ISSCC Fig. 14.5.7]")
    if layer.S > hw.ifmap_spad or layer.S > hw.filter_spad:
        problems.append(f"one filter row (S={layer.S}) does not fit the ifmap spad ({hw.ifmap_spad} words)")
    return problems


class RowStationary:
    """Limits and counts of one layer on one hardware, as functions of the mapping variables."""

    def __init__(self, layer: LayerShape, hw: Hardware, ratios: DataRatios = DataRatios()) -> None:
        self.layer, self.hw, self.ratios = layer, hw, ratios
        L = layer
        self.N, self.G, self.Mg, self.Cg = L.N, L.groups, L.Mg, L.Cg
        self.R, self.S, self.E, self.F = L.R, L.S, L.E, L.F
        self.U, self.D, self.Wp = L.stride[0], L.dilation[0], L.Wp
        # A set wider than cols * (rows // R) cannot be placed even segmented.
        self.e_max = max(1, min(self.E, hw.cols * (hw.rows // self.R)))
        self.tables = ifmap_tables(self.E, self.R, self.U, self.D, hw.cols, hw.col_id("ifmap"), self.e_max)
        # e-indexed tables of the strip geometry (index 0 unused).
        import numpy as np

        es = np.arange(self.E + 1, dtype=np.int64)
        es[0] = 1
        strips = -(-self.E // es)
        e_last = self.E - (strips - 1) * es
        rows_of = lambda x: (x - 1) * self.U + (self.R - 1) * self.D + 1  # noqa: E731
        self.t_strips = strips
        self.t_rows = rows_of(es)  # ifmap rows one strip needs
        self.t_rows_total = (strips - 1) * rows_of(es) + rows_of(e_last)
        self.t_segments = -(-es // hw.cols)
        self.t_width = np.minimum(es, hw.cols)
        self.t_across = hw.cols // self.t_width
        # Ifmap NoC tables, indexed e (g = 1) or E + 1 + e (g > 1: side-by-side sets differ).
        self.t_sends = np.concatenate(self.tables.sends)
        idle = np.concatenate(self.tables.idle)  # the last strip's idle columns (cost_models.noc.idle_column_hits)
        self.t_idle_hits, self.t_idle_cols, self.t_idle_depth = (np.ascontiguousarray(idle[:, k]) for k in range(3))
        self.idle_work = bool(self.t_idle_hits.any())  # a static fact of the layer: no terms when never
        for table in (self.t_sends, self.t_idle_hits, self.t_idle_cols, self.t_idle_depth, self.t_strips, self.t_rows, self.t_rows_total, self.t_segments, self.t_width, self.t_across):
            table.setflags(write=False)

    # ------------------------------------------------------------------ limits
    def limits(self, v: Vars) -> list[Limit]:
        hw, R, S = self.hw, self.R, self.S
        segments = lookup(self.t_segments, v.e)
        stack_rows = v.r * segments * R
        bands = floor_div(hw.rows, stack_rows)
        across = lookup(self.t_across, v.e)
        m = v.k * v.p * v.t
        ifmap_words = v.g * v.n * v.q * v.r * lookup(self.t_rows, v.e) * self.Wp
        psum_words = v.g * v.n * min_(m, self.Mg) * v.e * self.F
        return [
            Limit("filter_spad", "filter spad: p*q*S filter weights per PE", v.p * v.q * S, hw.filter_spad),
            Limit("ifmap_spad", "ifmap spad: q*S ifmap values per PE", v.q * S, hw.ifmap_spad),
            Limit("psum_spad", "psum spad: p psums per PE", v.p, hw.psum_spad),
            Limit("pe_rows", "PE rows: r stacked sets x segments x R rows", stack_rows, hw.rows),
            Limit("pe_sets", "PE array: t*g stacks must fit the bands x across slots", v.t * v.g, bands * across),
            Limit("glb_banks", "global buffer banks: ifmap banks + psum banks",
                  ceil_div(ifmap_words, hw.bank_words) + ceil_div(psum_words, hw.bank_words), hw.glb_banks),
            Limit("filter_buffer", "filter buffer: g*p*t*q*r*R*S filter words per pass",
                  v.g * v.p * v.t * v.q * v.r * R * S, hw.filter_buffer_words),
            Limit("groups_or_filters", "group sets and filter sets are not combined (t = 1 or g = 1)",
                  (v.t - 1) * (v.g - 1), 0),
            # Domain: no parameter larger than the work it splits (no empty sets or blocks).
            Limit("n_range", "n <= N", v.n, self.N),
            Limit("e_range", "e <= E", v.e, self.E),
            Limit("g_range", "g <= groups", v.g, self.G),
            Limit("p_range", "p <= M/groups", v.p, self.Mg),
            Limit("q_range", "q <= C/groups", v.q, self.Cg),
            Limit("t_range", "no empty filter set: p*(t-1) < M/groups", v.p * (v.t - 1), self.Mg - 1),
            Limit("r_range", "no empty channel set: q*(r-1) < C/groups", v.q * (v.r - 1), self.Cg - 1),
            Limit("m_range", "no empty psum block: p*t*(k-1) < M/groups", v.p * v.t * (v.k - 1), self.Mg - 1),
        ]

    # ------------------------------------------------------------------ counts
    def counts(self, v: Vars) -> dict[str, Num]:
        """Access counts (16-bit words) per level and data type, MACs, and cycles."""
        hw, ratios = self.hw, self.ratios
        N, G, Mg, Cg, R, S, E, F, Wp = self.N, self.G, self.Mg, self.Cg, self.R, self.S, self.E, self.F, self.Wp
        macs = self.layer.macs()
        weights = self.layer.weights()
        out = N * G * Mg * E * F  # ofmap values
        multi = is_positive(v.g - 1)

        m = v.k * v.p * v.t
        pt, qr = v.p * v.t, v.q * v.r
        NB, GB = ceil_div(N, v.n), ceil_div(G, v.g)
        SB = lookup(self.t_strips, v.e)
        MB = ceil_div(Mg, min_(m, Mg))
        CB = ceil_div(Cg, qr)
        FBT = ceil_div(Mg, pt)
        rows_total = lookup(self.t_rows_total, v.e)
        sends = lookup(self.t_sends, v.e + (self.E + 1) * multi)

        c: dict[str, Num] = {}
        # DRAM (raw words, then as moved over the link: fmaps RLC-compressed)
        ifmap_dram_raw = G * N * Cg * Wp * rows_total * MB
        c["dram_ifmap"] = ifmap_dram_raw * ratios.ifmap_dram // RATIO_ONE
        c["dram_filter"] = weights * NB * SB
        c["dram_psum"] = out * ratios.ofmap_dram // RATIO_ONE  # ofmap write-back
        # Global buffer (banked ifmap/psum part) and the filter buffer
        c["glb_ifmap"] = ifmap_dram_raw + G * N * Cg * Wp * FBT * sends  # fills + reads to the array
        c["glb_psum"] = 2 * out * CB  # a write per pass; reads: accumulation + final drain
        c["glb_filter"] = 2 * weights * NB * SB  # filter buffer: fill + read to the array
        # Array (NoC deliveries to PEs, local-link hops)
        # IDs are fixed for the whole layer, so a multicast reaches every PE whose
        # ID matches, busy or not (found by the simulator, mapper/simulator.py):
        # filter rows reach all e columns even in a narrower last strip; the shared
        # ifmap reaches all t sets even in a filter block that leaves some empty;
        # a psum entering a chain bottom climbs through idle channel sets.
        rem_c = max_(Cg - (CB - 1) * qr, 1)  # channels in the last channel block (>= 1; max_ tells the solver)
        set_passes = min_(v.t * FBT, Mg + v.t)  # t*FBT < Mg/p + t
        c["array_filter"] = weights * NB * SB * v.e
        c["array_ifmap"] = N * G * Cg * R * Wp * E * set_passes
        c["array_psum"] = (out * R * ceil_div(Cg, v.q) + out * (CB - 1)
                           + is_positive(CB - 1) * out * R * (v.r - ceil_div(rem_c, v.q)))
        performed = macs
        if self.idle_work:
            # A last strip narrower than e: its idle columns receive the rows
            # their IDs match, compute on them, and pass psums up their chains
            # from the lowest such PE of the lowest set with channels (never read).
            index = v.e + (self.E + 1) * multi
            hits, idle_cols, idle_depth = (lookup(t, index) for t in (self.t_idle_hits, self.t_idle_cols, self.t_idle_depth))
            performed = macs + hits * (N * G * Mg * Cg * S * F)
            c["array_ifmap"] = c["array_ifmap"] + hits * set_passes * (N * G * Cg * Wp)
            low_sets = (CB - 1) * (v.r - 1) + ceil_div(rem_c, v.q) - 1  # sum over channel blocks of the lowest live set
            c["array_psum"] = c["array_psum"] + (N * G * Mg * F) * (CB * idle_depth + idle_cols * R * low_sets)
        # Register files (spads): spad writes of delivered data + reads per MAC
        c["rf_filter"] = c["array_filter"] + performed
        c["rf_ifmap"] = c["array_ifmap"] + performed
        c["rf_psum"] = 2 * performed
        c["macs"] = performed  # MACs the array performs: the layer's, plus idle columns' in a narrow last strip

        # Cycles.  Compute: the busiest PE of each pass does n*p*q*S*F MACs.
        # Sums over filter / channel blocks of the busiest PE's share; they never
        # exceed Mg + p and Cg + q and are at least 1, which min_/max_ state so the
        # solver's interval bounds stay tight (they change no value).
        P_SUM = max_(min_((FBT - 1) * v.p + min_(v.p, Mg - (FBT - 1) * pt), Mg + v.p), 1)
        Q_SUM = max_(min_((CB - 1) * v.q + min_(v.q, Cg - (CB - 1) * qr), Cg + v.q), 1)
        passes = GB * NB * SB * FBT * CB
        c["passes"] = passes
        compute = GB * N * SB * P_SUM * Q_SUM * S * F
        ifmap_glb_reads = G * N * Cg * Wp * FBT * sends
        streaming = max_(
            compute,
            ceil_div(ifmap_glb_reads, hw.bus("ifmap")),
            ceil_div(out * (CB - 1), hw.bus("psum")),
            ceil_div(out * CB, hw.bus("output")),
        )
        filter_load = ceil_div(weights * NB * SB, hw.bus("filter"))
        ramp = passes * (hw.pipeline_stages + R)  # assumed: pipeline fill + psum chain up one set, per pass
        processing = filter_load + streaming + ramp
        num, den = hw.link_words_per_cycle()
        fmap_stall = ceil_div((c["dram_ifmap"] + c["dram_psum"]) * den, num)
        filter_dram = ceil_div(c["dram_filter"] * den, num)
        c["compute_cycles"] = compute
        c["processing_cycles"] = processing
        c["total_cycles"] = processing + fmap_stall + max_(filter_dram - processing, 0)
        return c

    def energy(self, c: dict[str, Num]) -> dict[str, Num]:
        """Normalized energy (MAC = 1) per level, integers."""
        hw, gate = self.hw, self.ratios.ifmap_nonzero if self.hw.zero_gating else RATIO_ONE
        macs = c["macs"]
        gated = macs * gate // RATIO_ONE  # MACs (and filter-spad reads) not gated by a zero ifmap
        rf_filter = c["rf_filter"] - macs + gated
        return {
            "dram": hw.energy_dram * (c["dram_ifmap"] + c["dram_filter"] + c["dram_psum"]),
            "glb": hw.energy_glb * (c["glb_ifmap"] + c["glb_psum"] + c["glb_filter"]),
            "array": hw.energy_array * (c["array_filter"] + c["array_ifmap"] + c["array_psum"]),
            "rf": hw.energy_rf * (rf_filter + c["rf_ifmap"] + c["rf_psum"]),
            "mac": hw.energy_mac * gated,
            "static": hw.energy_static_per_cycle * c["total_cycles"],
        }

    def objective(self, v: Vars, kind: str) -> Num:
        """The integer the search minimises: normalized energy, total cycles, or their product."""
        return self.objective_from_counts(self.counts(v), kind)

    def objective_from_counts(self, c: dict[str, Num], kind: str) -> Num:
        if kind == "latency":
            return c["total_cycles"]
        energy = sum(self.energy(c).values())
        if kind == "energy":
            return energy
        if kind == "edp":
            # Integer scaling keeps the product inside int64: energy in units of
            # 2**se normalized units and latency in units of 2**sc cycles (both 1
            # for small layers); see edp_scale().
            se, sc = edp_scale(self.layer.macs())
            return floor_div(energy, 2**se) * floor_div(c["total_cycles"], 2**sc)
        raise ValueError(f"unknown objective {kind!r} (energy, latency or edp)")


def edp_scale(macs: int) -> tuple[int, int]:
    """Shifts applied to energy and cycles before their product (the EDP objective's unit).

    Budgets: at most 2048 energy units and 8 cycles per MAC fit in 31 bits after
    the shift, so the product stays below 2**62.
    """
    return max(0, (macs * 2048).bit_length() - 31), max(0, (macs * 8).bit_length() - 31)

