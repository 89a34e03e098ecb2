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

from dataclasses import dataclass, field, fields
from fractions import Fraction

import numpy as np

from cost_models.choices import OBJECTIVES  # what a search can minimise: energy, cycles, their product
from cost_models.accesses import DATA_TYPES, LEVELS, Accesses, Words
from cost_models.arith import Num, ceil_div, floor_div, is_positive, lookup, max_, min_, name, solver_bounds
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.noc import ifmap_tables
from cost_models.scaling import access_energy, static_per_cycle

# Fixed-point scale of the DRAM compression ratios (words kept per 2**16 words).
RATIO_ONE = 1 << 16

# Spad accesses per MAC that zero gating skips on a zero ifmap: the filter-spad read [JSSC V-C], and the
# psum read and write, since the datapath is kept from switching [JSSC V-C] and the psum a zero product
# would update stays as it was (assumed, because the text names the datapath as gated and a psum is read
# only to be added to).  The published saving, 45 % of PE power [JSSC V-C], includes the PE's clock and
# control; these three reads/writes and the MAC are 4 of the 5 units a MAC costs in the PE (docs/cost_model.md).
GATED_RF = {"filter": 1, "psum": 2}



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
    """The mapping variables as numbers of any kind (int, array, symbolic).

    The paper's (n, e, p, q, r, t) plus g, and instead of its m (ofmap channels
    whose psums the GLB holds, [JSSC Table II]) ``m_per_pt = m / (p*t)``: the
    number of p*t-filter passes one psum block spans.  So m = m_per_pt * p * t
    is a multiple of p*t by construction, capped at the group's Mg filters
    (``cost_models.cost.variables`` and ``mapper.search.space.to_mapping``
    convert between the two).
    """

    n: Num
    e: Num
    p: Num
    q: Num
    r: Num
    t: Num
    g: Num
    m_per_pt: Num

    def items(self) -> list[tuple[str, Num]]:
        return [(key, getattr(self, key)) for key in VARIABLES]


# The limits that bound a storage's fill (``RowStationary.utilisation``).
STORAGE_LIMITS = ("filter_spad", "ifmap_spad", "psum_spad", "glb_banks", "filter_buffer")


@dataclass(frozen=True)
class Usage:
    """How full one storage is: ``used`` words (or banks) of ``capacity``."""

    used: Num
    capacity: Num


@dataclass(frozen=True)
class GlbFootprint:
    """The banked global buffer during a pass: ifmap and psum words, and the banks each part takes."""

    ifmap_words: Num
    psum_words: Num
    bank_words: int

    @property
    def ifmap_banks(self) -> Num:
        return name(ceil_div(self.ifmap_words, self.bank_words), "glb_banks_ifmap")

    @property
    def psum_banks(self) -> Num:
        return name(ceil_div(self.psum_words, self.bank_words), "glb_banks_psum")


@dataclass(frozen=True)
class Blocks:
    """Trip counts of the loop nest for one mapping (module docstring), shared by every count."""

    multi: Num  # 1 when g > 1 (side-by-side group sets get distinct ifmap IDs), else 0
    pt: Num  # filters in one pass, p*t
    qr: Num  # channels in one pass, q*r
    NB: Num
    GB: Num
    SB: Num
    MB: Num
    CB: Num
    FBT: Num
    sends: Num  # ifmap row sends per channel and image over all strips (cost_models.noc)
    sends_all: Num  # the same over all filter blocks, FBT * sends: each filter block streams the ifmap again
    ifmap_fills: Num  # ifmap words brought into the buffer from DRAM, uncompressed


@dataclass(frozen=True)
class Cycles:
    """Processing passes and the latency terms."""

    passes: Num
    compute: Num  # the busiest PE's MACs, summed over passes
    processing: Num  # compute or streaming, plus each pass's overhead (PassOverhead)
    total: Num  # processing plus the DRAM link's stalls
    # The total as a sum of named parts (CYCLE_PARTS; they add up to ``total``), and each operand bus's
    # streaming cycles: what a report reads to say which term keeps a layer from its lower bound.
    parts: dict[str, Num] = field(default_factory=dict)
    streams: dict[str, Num] = field(default_factory=dict)


# The parts of a layer's total cycles, in the order they add up (Cycles.parts).  The five pass parts
# are what each pass waits for besides its MACs (RowStationary.pass_overhead; docs/cost_model.md, Cycles).
CYCLE_PARTS = {
    "compute": "the busiest PE's MACs, pass after pass",
    "streaming": "an operand bus (ifmap, psum or output network) slower than compute",
    "filter_fill": "each pass's filters into the filter spads over the filter GIN, before its first MAC",
    "ifmap_prefill": "each pass's first ifmap windows over the ifmap GIN, beyond the filter fill it runs beside",
    "pipeline_fill": "the PE pipeline filling at each pass's start",
    "psum_chain": "each pass's last psums climbing the r x R chain over the local links",
    "psum_drain": "each pass's last output column leaving over the output network (GON)",
    "fmap_dram": "ifmaps in and ofmaps out over the DRAM link (not overlapped)",
    "filter_dram": "filters over the DRAM link beyond what processing hides",
}


@dataclass(frozen=True)
class PassOverhead:
    """Cycles the passes wait for besides their MACs (RowStationary.pass_overhead), summed over passes."""

    filter_fill: Num
    fill: Num  # the filter fill or the ifmap prefill beside it, whichever is longer
    pipeline: Num
    chain: Num
    drain: Num
    prefill_words: Num  # ifmap words the prefills carry (the steady-state stream carries the rest)
    drain_words: Num  # psum words the drains carry over the GON

    @property
    def total(self) -> Num:
        return self.fill + self.pipeline + self.chain + self.drain

    def parts(self) -> dict[str, Num]:
        return {"filter_fill": self.filter_fill, "ifmap_prefill": self.fill - self.filter_fill,
                "pipeline_fill": self.pipeline, "psum_chain": self.chain, "psum_drain": self.drain}


@dataclass(frozen=True)
class Counts:
    """Everything the model counts for one mapping (or many, or symbolically)."""

    accesses: Accesses
    macs: Num  # MACs the array performs: the layer's, plus idle columns' in a narrow last strip
    cycles: Cycles

    def flat(self) -> dict[str, Num]:
        """Every count by a display name (``dram_ifmap``, ..., ``macs``, ``total_cycles``), for comparisons."""
        out = {**self.accesses.named(), "macs": self.macs}
        out.update({f"{name}_cycles" if name != "passes" else name: getattr(self.cycles, name)
                    for name in ("passes", "compute", "processing", "total")})
        return out


VARIABLES = tuple(item.name for item in fields(Vars))  # the order the search and the enumerator list them in


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
        self.out = self.N * self.G * self.Mg * self.E * self.F  # ofmap values
        # A set wider than cols * (rows // R) cannot be placed even segmented.
        self.e_max = max(1, min(self.E, hw.cols * (hw.rows // self.R)))
        self.tables = ifmap_tables(self.E, self.R, self.U, self.D, hw.cols, hw.col_id("ifmap"), self.e_max)
        # e-indexed tables of the strip geometry (index 0 unused).
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
        segments = name(lookup(self.t_segments, v.e), "segments(e)")
        stack_rows = v.r * segments * R
        bands = floor_div(hw.rows, stack_rows)
        across = name(lookup(self.t_across, v.e), "across(e)")
        glb = self.glb_footprint(v)
        return [
            Limit("filter_spad", "filter spad: p*q*S filter weights per PE", v.p * v.q * S, hw.filter_spad),
            Limit("ifmap_spad", "ifmap spad: q*S ifmap values per PE", v.q * S, hw.ifmap_spad),
            Limit("psum_spad", "psum spad: p psums per PE", v.p, hw.psum_spad),
            Limit("pe_rows", "PE rows: r stacked sets x segments x R rows", stack_rows, hw.rows),
            Limit("pe_sets", "PE array: t*g stacks must fit the bands x across slots", v.t * v.g, bands * across),
            Limit("glb_banks", "global buffer banks: ifmap banks + psum banks",
                  glb.ifmap_banks + glb.psum_banks, hw.glb_banks),
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
            Limit("m_range", "no empty psum block: p*t*(m_per_pt-1) < M/groups", v.p * v.t * (v.m_per_pt - 1), self.Mg - 1),
        ]

    def glb_footprint(self, v: Vars) -> GlbFootprint:
        """What the banked global buffer holds during a pass: n*q*r strip ifmap planes, n*m strip psum planes per group set."""
        m = name(v.m_per_pt * v.p * v.t, "m")
        return GlbFootprint(
            ifmap_words=name(v.g * v.n * v.q * v.r * name(lookup(self.t_rows, v.e), "strip_rows(e)") * self.Wp, "glb_ifmap_words"),
            psum_words=name(v.g * v.n * min_(m, self.Mg) * v.e * self.F, "glb_psum_words"),
            bank_words=self.hw.bank_words)

    def utilisation(self, v: Vars) -> dict[str, Usage]:
        """Used and capacity of every storage the mapping fills: the two sides of its limit.

        The global buffer's limit is on banks; its entry here is split into the
        ifmap and psum words it holds, each against the whole buffer.
        """
        use: dict[str, Usage] = {}
        for limit in self.limits(v):
            if limit.name == "glb_banks":
                glb = self.glb_footprint(v)
                use["glb_ifmap_words"] = Usage(glb.ifmap_words, self.hw.glb_words)
                use["glb_psum_words"] = Usage(glb.psum_words, self.hw.glb_words)
            elif limit.name in STORAGE_LIMITS:
                use[limit.name] = Usage(limit.lhs, limit.rhs)
        return use

    # ------------------------------------------------------------------ counts
    # One method per level, outermost first, then the cycles (as ZigZag's cost
    # model has one method per cost term).  ``blocks`` computes the loop nest's
    # trip counts once: every product, division and lookup is a CP-SAT
    # constraint when the numbers are symbolic, so each is built once and shared.
    def counts(self, v: Vars) -> Counts:
        """Access counts (16-bit words) per level and data type, MACs performed, and cycles."""
        b = self.blocks(v)
        dram = self.dram(b)
        glb = self.glb(b)
        array, macs = self.array(v, b)
        rf = self.rf(array, macs)
        return Counts(Accesses(dram=dram, glb=glb, array=array, rf=rf), macs, self.cycles(v, b, dram))

    def blocks(self, v: Vars) -> Blocks:
        """Trip counts of the loop nest (module docstring) and the ifmap rows each strip brings."""
        N, G, Mg, Cg, Wp = self.N, self.G, self.Mg, self.Cg, self.Wp
        multi = name(is_positive(v.g - 1), "g>1")
        m = name(v.m_per_pt * v.p * v.t, "m")
        pt, qr = name(v.p * v.t, "p*t"), name(v.q * v.r, "q*r")
        NB, GB = name(ceil_div(N, v.n), "NB=ceil(N/n)"), name(ceil_div(G, v.g), "GB=ceil(G/g)")
        SB = name(lookup(self.t_strips, v.e), "SB=ceil(E/e)")
        MB = name(ceil_div(Mg, min_(m, Mg)), "MB=ceil(Mg/m)")
        CB = name(ceil_div(Cg, qr), "CB=ceil(Cg/(q*r))")
        FBT = name(ceil_div(Mg, pt), "FBT=ceil(Mg/(p*t))")
        rows_total = name(lookup(self.t_rows_total, v.e), "ifmap_rows(e)")
        sends = name(lookup(self.t_sends, v.e + (self.E + 1) * multi), "ifmap_sends(e)")
        return Blocks(multi=multi, pt=pt, qr=qr, NB=NB, GB=GB, SB=SB, MB=MB, CB=CB, FBT=FBT, sends=sends,
                      sends_all=name(FBT * sends, "FBT*ifmap_sends(e)"), ifmap_fills=G * N * Cg * Wp * rows_total * MB)

    def dram(self, b: Blocks) -> Words:
        """Words over the DRAM link: fmaps RLC-compressed [JSSC IV-B], filters raw."""
        ratios = self.ratios
        return Words(ifmap=b.ifmap_fills * ratios.ifmap_dram // RATIO_ONE,  # once per m-block
                     filter=self.layer.weights() * b.NB * b.SB,  # once per (n-block, strip)
                     psum=self.out * ratios.ofmap_dram // RATIO_ONE)  # the ofmap, written back once

    def glb(self, b: Blocks) -> Words:
        """Global buffer (banked ifmap/psum part) and the filter buffer."""
        G, N, Cg, Wp = self.G, self.N, self.Cg, self.Wp
        return Words(ifmap=b.ifmap_fills + G * N * Cg * Wp * b.sends_all,  # fills + reads to the array
                     filter=2 * self.layer.weights() * b.NB * b.SB,  # filter buffer: fill + read to the array
                     psum=2 * self.out * b.CB)  # a write per pass; reads: accumulation + final drain

    def array(self, v: Vars, b: Blocks) -> tuple[Words, Num]:
        """NoC deliveries to PEs and local-link hops, and the MACs the array performs.

        IDs are fixed for the whole layer, so a multicast reaches every PE whose
        ID matches, busy or not (found by the simulator, mapper/chip/simulator.py):
        filter rows reach all e columns even in a narrower last strip; the shared
        ifmap reaches all t sets even in a filter block that leaves some empty;
        a psum entering a chain bottom climbs through idle channel sets.
        """
        N, G, Mg, Cg, R, E, F, Wp, out = self.N, self.G, self.Mg, self.Cg, self.R, self.E, self.F, self.Wp, self.out
        CB = b.CB
        rem_c = solver_bounds(Cg - (CB - 1) * b.qr, lo=1)  # channels in the last channel block, 1..q*r
        set_passes = solver_bounds(v.t * b.FBT, hi=Mg + v.t)  # filter sets over all passes: t*FBT < Mg/p + t
        filters = self.layer.weights() * b.NB * b.SB * v.e
        ifmaps = N * G * Cg * R * Wp * E * set_passes
        psums = (out * R * ceil_div(Cg, v.q) + out * (CB - 1)
                 + is_positive(CB - 1) * out * R * (v.r - ceil_div(rem_c, v.q)))
        macs = self.layer.macs()
        if self.idle_work:
            # A last strip narrower than e: its idle columns receive the rows
            # their IDs match, compute on them, and pass psums up their chains
            # from the lowest such PE of the lowest set with channels (never read).
            index = v.e + (self.E + 1) * b.multi
            hits, idle_cols, idle_depth = (name(lookup(t, index), label) for t, label in (
                (self.t_idle_hits, "idle_hits(e)"), (self.t_idle_cols, "idle_cols(e)"), (self.t_idle_depth, "idle_depth(e)")))
            macs = macs + hits * (N * G * Mg * Cg * self.S * F)
            ifmaps = ifmaps + hits * set_passes * (N * G * Cg * Wp)
            low_sets = (CB - 1) * (v.r - 1) + ceil_div(rem_c, v.q) - 1  # sum over channel blocks of the lowest live set
            psums = psums + (N * G * Mg * F) * (CB * idle_depth + idle_cols * R * low_sets)
        return Words(ifmap=ifmaps, filter=filters, psum=psums), macs

    @staticmethod
    def rf(array: Words, macs: Num) -> Words:
        """Register files (spads): a write per word delivered, a read per MAC; psums read and written per MAC."""
        return Words(ifmap=array.ifmap + macs, filter=array.filter + macs, psum=2 * macs)

    def cycles(self, v: Vars, b: Blocks, dram: Words) -> Cycles:
        """Passes and cycles: each pass's overhead, then compute or streaming, then DRAM stalls.

        A pass runs in phases that do not overlap the next pass's (assumed, because [JSSC IV-A]
        describes passes run one after another and [JSSC VI] ascribes the chip's below-peak rate to
        each pass ramping up): fills (filters and first ifmap windows), pipeline fill, the steady
        state (the busiest PE's MACs or the slowest operand bus), the psum drain.
        """
        hw, out = self.hw, self.out
        passes = name(b.GB * b.NB * b.SB * b.FBT * b.CB, "passes")
        compute = self.compute(v, b)
        over = self.pass_overhead(v, b, passes)
        # The steady state streams what the fills and the drain did not carry (never negative: a
        # prefill is a pass's first S of Wp columns for one of n images, a drain its last column).
        ifmap_rest = solver_bounds(self.G * self.N * self.Cg * self.Wp * b.sends_all - over.prefill_words, lo=0)
        output_rest = solver_bounds(out * b.CB - over.drain_words, lo=0)
        streams = {"ifmap": ceil_div(ifmap_rest, hw.bus("ifmap")), "psum": ceil_div(out * (b.CB - 1), hw.bus("psum")),
                   "output": ceil_div(output_rest, hw.bus("output"))}
        streaming = name(max_(compute, *streams.values()), "streaming")
        processing = name(over.total + streaming, "processing")
        num, den = hw.link_words_per_cycle()
        fmap_stall = name(ceil_div((dram.ifmap + dram.psum) * den, num), "fmap_link")
        filter_dram = name(ceil_div(dram.filter * den, num), "filter_link")
        filter_wait = max_(filter_dram - processing, 0)
        parts = {"compute": compute, "streaming": streaming - compute, **over.parts(),
                 "fmap_dram": fmap_stall, "filter_dram": filter_wait}
        return Cycles(passes=passes, compute=compute, processing=processing,
                      total=processing + fmap_stall + filter_wait, parts=parts, streams=streams)

    def compute(self, v: Vars, b: Blocks) -> Num:
        """The busiest PE's MACs over all passes: n*p*q*S*F per pass, edge blocks exact.

        Sums over filter / channel blocks of the busiest PE's share; they never
        exceed Mg + p and Cg + q and are at least 1 (bounds for the solver only).
        """
        Mg, Cg = self.Mg, self.Cg
        P_SUM = name(solver_bounds((b.FBT - 1) * v.p + min_(v.p, Mg - (b.FBT - 1) * b.pt), lo=1, hi=Mg + v.p), "P_SUM")
        Q_SUM = name(solver_bounds((b.CB - 1) * v.q + min_(v.q, Cg - (b.CB - 1) * b.qr), lo=1, hi=Cg + v.q), "Q_SUM")
        return name(b.GB * self.N * b.SB * P_SUM * Q_SUM * self.S * self.F, "compute")

    def pass_overhead(self, v: Vars, b: Blocks, passes: Num) -> "PassOverhead":
        """What the passes wait for besides their MACs, summed over passes; each term from a bus width.

        filter fill: every pass's filter rows (p*t filters x q*r channels x R rows x S, per group set)
        into the filter spads over the filter GIN, 64 b = 4 words a cycle [JSSC V-B]; the spad holds only
        the running pass's filters, so the fill precedes the pass's first MAC.  Summed over passes: every
        weight once per (n-block, strip), as the DRAM count.
        ifmap prefill: every spad's first window, q*S values of each distinct ifmap row the strip's sets
        need (cost_models.noc sends), per channel set and group set, over the ifmap GIN at 1 word a
        cycle [JSSC V-B]; only the pass's first image (later images refill the window while the previous
        one's last output still computes: assumed hidden).  Summed: G*Cg*S*NB*FBT*sends.  It runs on its
        own network and buffer banks beside the filter fill, so the pass waits for the longer of the
        two; over the layer we take the longer total, which is exact when the same fill is longer in
        every pass and otherwise a lower bound.
        pipeline fill: the PE's pipeline stages [JSSC V-C], per pass.
        psum chain: the last output column's p psums climb r*R - 1 local links (64 b = 4 words a
        cycle, [JSSC V-B]) to the chain top; p is an upper bound for a last filter block with fewer.
        psum drain: then the chain tops' psums of that column, e x (filters) x (groups) of the pass,
        leave over the GON at 4 words a cycle [JSSC V-B]: summed over passes NB*CB*G*Mg*E words.
        GLB bank conflicts: none between the ifmap and psum streams, since each of the 25 banks holds
        only ifmaps or only psums [JSSC V-A] (docs/cost_model.md, Cycles).
        """
        hw = self.hw
        filter_fill = name(ceil_div(self.layer.weights() * b.NB * b.SB, hw.bus("filter")), "filter_fill")
        prefill_words = name(self.G * self.Cg * self.S * b.NB * b.sends_all, "ifmap_prefill_words")
        fill = name(max_(filter_fill, ceil_div(prefill_words, hw.bus("ifmap"))), "pass_fill")
        hops = name(ceil_div(v.p, hw.local_link_words) * (v.r * self.R - 1), "chain_hops(p,r)")
        drain_words = name(self.G * self.Mg * self.E * b.NB * b.CB, "psum_drain_words")
        return PassOverhead(filter_fill=filter_fill, fill=fill, pipeline=passes * hw.pipeline_stages,
                            chain=name(passes * hops, "psum_chain"),
                            drain=name(ceil_div(drain_words, hw.bus("output")), "psum_drain"),
                            prefill_words=prefill_words, drain_words=drain_words)

    def energy(self, c: Counts) -> dict[str, Num]:
        """Normalized energy (MAC = 1) per level, integers; per-access and static costs scaled to the
        design's sizes (cost_models.scaling: all factors 1 at the chip's)."""
        hw = self.hw
        gated = self.gated_macs(c)  # built first, as before sizes scaled: the CP-SAT model keeps its variable order
        out = {level: self.level_energy(c, level) for level in LEVELS}
        out["mac"] = hw.energy_mac * gated
        out["static"] = static_per_cycle(hw) * c.cycles.total
        return out

    def level_energy(self, c: Counts, level: str) -> Num:
        """One level's energy: the sum of its cells, or with one integer price for the whole level (every
        level at the chip's sizes) the single product the model has always built, so that the CP-SAT model
        of a chip-size design is the one it was before sizes scaled."""
        per = access_energy(self.hw)
        prices = {per[level, dt] for dt in DATA_TYPES}
        if len(prices) == 1 and next(iter(prices)).denominator == 1:
            price, words = next(iter(prices)).numerator, c.accesses.level(level).total
            return price * (words - sum(self.gate_saved(c).values())) if level == "rf" else price * words
        cells = self.energy_cells(c, (level,))
        return sum(cells[level, dt] for dt in DATA_TYPES)

    def energy_cells(self, c: Counts, levels: tuple[str, ...] = LEVELS) -> dict[tuple[str, str], Num]:
        """Normalized energy per (level, data type) of ``levels``: the words moved (less the spad accesses
        zero gating skips) at the price of the storage they move in, rounded down once per cell.  The level
        and data type totals are sums of these cells, so they add up to the same integer."""
        per = access_energy(self.hw)
        saved = self.gate_saved(c) if "rf" in levels else {}
        return {(level, dt): priced(words - saved[dt] if level == "rf" and dt in saved else words, per[level, dt])
                for level, dt, words in c.accesses.items() if level in levels}

    def gated_macs(self, c: Counts) -> Num:
        """MACs not skipped by zero gating on a zero ifmap [JSSC V-C]: those the PE performs."""
        gate = self.ratios.ifmap_nonzero if self.hw.zero_gating else RATIO_ONE
        return c.macs * gate // RATIO_ONE

    def gate_saved(self, c: Counts) -> dict[str, Num]:
        """Spad accesses by data type that the MACs skipped on a zero ifmap do not make (GATED_RF)."""
        skipped = c.macs - self.gated_macs(c)
        return {dt: per_mac * skipped for dt, per_mac in GATED_RF.items()}

    def objective(self, v: Vars, kind: str) -> Num:
        """The integer the search minimises: normalized energy, total cycles, or their product."""
        return self.objective_from_counts(self.counts(v), kind)

    def objective_from_counts(self, c: Counts, kind: str) -> Num:
        if kind == "latency":
            return c.cycles.total
        energy = name(sum(self.energy(c).values()), "energy")
        if kind == "energy":
            return energy
        if kind == "edp":
            # Integer scaling keeps the product inside int64: energy in units of
            # 2**se normalized units and latency in units of 2**sc cycles (both 1
            # for small layers); see edp_scale().
            se, sc = edp_scale(self.layer.macs())
            return floor_div(energy, 2**se) * floor_div(c.cycles.total, 2**sc)
        raise ValueError(f"unknown objective {kind!r} (energy, latency or edp)")


def priced(words: Num, price: Fraction) -> Num:
    """``words`` accesses at ``price`` units each, rounded down: a product while the price is whole."""
    if price.denominator == 1:
        return price.numerator * words
    return floor_div(solver_bounds(words, lo=0) * price.numerator, price.denominator)


def edp_scale(macs: int) -> tuple[int, int]:
    """Shifts applied to energy and cycles before their product (the EDP objective's unit).

    Budgets: at most 2048 energy units and 8 cycles per MAC fit in 31 bits after
    the shift, so the product stays below 2**62.
    """
    return max(0, (macs * 2048).bit_length() - 31), max(0, (macs * 8).bit_length() - 31)

