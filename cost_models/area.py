"""Silicon area of a hardware description, in mm2 at the chip's 65 nm node, per component.

Calibrated on the only published breakdown of the chip [JSSC VI, Fig. 15]: a
3.5 mm x 3.5 mm core [ISSCC Fig. 14.5.7] of which the scratchpads take about
half, 2.5x the global buffer's area, and multipliers plus adders 7.4 %.  Each
component's area is the chip's share scaled with what it is made of (bits,
PEs, multicast controllers), so a design point with twice the PEs or a bigger
GLB gets the area its parts would take in the same technology.  What the
paper does not split (PE control, NoC, top-level blocks) is split by an
assumed share, named as such below.  docs/eyeriss-facts.md holds the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from cost_models import figures
from cost_models.hardware import Hardware

# --- Published figures (the calibration targets) --------------------------------------------
CORE_MM2 = 3.5 * 3.5         # core 3.5 mm x 3.5 mm = 12.25 mm2 [ISSCC Fig. 14.5.7]
DIE_MM2 = 4.0 * 4.0          # die 4000 um x 4000 um [ISSCC Fig. 14.5.7]; the 3.75 mm2 outside the core is pads/IO
SPAD_SHARE = 0.5             # "spads ~ 1/2 of the core area" [JSSC VI, Fig. 15]
SPAD_OVER_GLB = 2.5          # spads take 2.5x the GLB's area [JSSC VI, Fig. 15]
MAC_SHARE = 0.074            # multipliers + adders 7.4 % of the core [JSSC VI, Fig. 15]
STORAGE_SHARE = 2 / 3        # all storage ~ 2/3 of the core [JSSC VI, Fig. 15]; a check, not an input
KGATES = 1852                # 1852 kGates (NAND2) [ISSCC Fig. 14.5.7]; a check on the logic area

# --- Assumed splits (nothing published) ------------------------------------------------------
# A register-file bit (the ifmap and psum spads are registers [JSSC V-C]) costs this many times a
# bit of the 224 x 16 b filter SRAM.  Assumed, because Fig. 15 gives only the spads' sum: a 65 nm
# flip-flop with its read mux is ~6 NAND2 (~8.6 um2), a bit of so small an SRAM macro with its
# periphery ~3.5 um2.
REGISTER_OVER_SRAM_BIT = 2.5
# A spad of more words than this is built as SRAM, like the filter spad, not as registers.  Assumed,
# because the chip's largest register spad holds 24 words and its SRAM spad 224 [JSSC V-C]; a
# register file of hundreds of words would not be built of flip-flops.
REGISTER_MAX_WORDS = 32
# Fraction of one 512 x 64 b GLB bank that is periphery (decoders, sense amps) and so is paid per
# bank, not per bit.  Assumed, because the paper gives only the GLB's total: ~25 % is typical of a
# 4 kB 65 nm SRAM macro (CACTI-class estimates).
BANK_PERIPHERY_SHARE = 0.25
# The core area neither storage nor MAC (12.25 - 6.125 - 2.45 - 0.9065 = 2.77 mm2) split into PE
# control and FIFOs, the NoC (multicast controllers and bus segments) and the top level (controller,
# RLC codec, ReLU, clock-domain FIFOs).  Assumed, because Fig. 15 does not break it down; the PE
# array's control is replicated 168 times, so it is taken as the largest part.
PE_LOGIC_SHARE, NOC_SHARE, TOP_SHARE = 0.55, 0.30, 0.15
# The four networks of the NoC: three GINs and the GON [JSSC V-B].
NETWORKS = ("filter", "ifmap", "psum", "output")


@dataclass(frozen=True)
class Area:
    """Core area per component, mm2 at 65 nm (the die adds a fixed pad ring, ``die_mm2``); every figure
    through ``figures.mm2`` (the parts when built by ``AreaModel.area``, the sums here)."""

    pe_logic: float
    mac: float
    filter_spad: float
    ifmap_spad: float
    psum_spad: float
    glb: float
    filter_buffer: float
    noc: float
    top_level: float

    @property
    def spads(self) -> float:
        return figures.mm2(self.filter_spad + self.ifmap_spad + self.psum_spad)

    @property
    def storage(self) -> float:
        return figures.mm2(self.spads + self.glb + self.filter_buffer)

    @property
    def core_mm2(self) -> float:
        return figures.mm2(sum(getattr(self, f.name) for f in fields(self)))

    @property
    def die_mm2(self) -> float:
        return figures.mm2(self.core_mm2 + (DIE_MM2 - CORE_MM2))

    def as_dict(self) -> dict[str, float]:
        """Components and totals as reported."""
        parts = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"core_mm2": self.core_mm2, "die_mm2": self.die_mm2, "components_mm2": parts}


@dataclass(frozen=True)
class _Units:
    """What each component of a design is made of, in the units its area scales with."""

    pes: int
    filter_bits: int
    register_bits: tuple[int, int]   # ifmap, psum spad bits per PE
    glb_banks: int
    bank_bits: int
    filter_buffer_bits: int
    noc_units: int                   # sum over networks and controllers of (ID bits + gated bus bits)


def _units(hw: Hardware) -> _Units:
    # Multicast controllers per network: one per X-bus on the Y-bus, one per PE on the X-buses,
    # 12 + 12 x 14 = 180 per GIN on the chip [JSSC V-B]; each holds an ID register and comparator
    # and gates one bus segment, so it scales with ID bits plus bus bits.
    noc = 0
    for net in NETWORKS:
        bus_bits = hw.bus(net) * hw.word_bits
        noc += hw.rows * (hw.row_id_bits + bus_bits) + hw.pes * (hw.col_id(net) + bus_bits)
    return _Units(pes=hw.pes, filter_bits=hw.filter_spad * hw.word_bits,
                  register_bits=(hw.ifmap_spad * hw.word_bits, hw.psum_spad * hw.word_bits),
                  glb_banks=hw.glb_banks, bank_bits=hw.bank_words * hw.word_bits,
                  filter_buffer_bits=hw.filter_buffer_words * hw.word_bits, noc_units=noc)


def _bit_weight(words: int) -> float:
    """A spad bit in filter-SRAM bits: registers when the spad is small, SRAM otherwise."""
    return REGISTER_OVER_SRAM_BIT if words <= REGISTER_MAX_WORDS else 1.0


def _spad_sram_bits(hw: Hardware) -> float:
    """One PE's spad bits in filter-SRAM-bit equivalents."""
    return sum(words * hw.word_bits * _bit_weight(words) for words in (hw.filter_spad, hw.ifmap_spad, hw.psum_spad))


@dataclass(frozen=True)
class AreaModel:
    """mm2 per unit of each component, fixed by calibrating on one reference design."""

    sram_spad_bit: float
    glb_bit: float
    bank_periphery: float
    mac_per_pe: float
    pe_logic_per_pe: float
    noc_unit: float
    top_level: float

    def spad_bit(self, words: int) -> float:
        """mm2 per bit of a spad of ``words`` words."""
        return self.sram_spad_bit * _bit_weight(words)

    def area(self, hw: Hardware) -> Area:
        u = _units(hw)
        parts = dict(
            pe_logic=u.pes * self.pe_logic_per_pe, mac=u.pes * self.mac_per_pe,
            filter_spad=u.pes * u.filter_bits * self.spad_bit(hw.filter_spad),
            ifmap_spad=u.pes * u.register_bits[0] * self.spad_bit(hw.ifmap_spad),
            psum_spad=u.pes * u.register_bits[1] * self.spad_bit(hw.psum_spad),
            glb=u.glb_banks * (self.bank_periphery + u.bank_bits * self.glb_bit),
            filter_buffer=u.filter_buffer_bits * self.glb_bit / (1 - BANK_PERIPHERY_SHARE),
            noc=u.noc_units * self.noc_unit, top_level=self.top_level)
        return Area(**{name: figures.mm2(value) for name, value in parts.items()})


def calibrate(reference: Hardware) -> AreaModel:
    """The per-unit areas that make ``reference`` (the chip) come out at its published breakdown."""
    u = _units(reference)
    spads = SPAD_SHARE * CORE_MM2
    glb_total = spads / SPAD_OVER_GLB            # 108 kB GLB incl. the 8 kB filter buffer [JSSC V-A]
    mac = MAC_SHARE * CORE_MM2
    rest = CORE_MM2 - spads - glb_total - mac
    spad_bits = _spad_sram_bits(reference)   # the chip's ifmap and psum spads are registers, its filter spad SRAM
    # GLB: total = banks x (periphery + bits x cell) + filter-buffer bits x cell / (1 - share)
    # with periphery = share/(1 - share) x bank bits x cell.
    per_bank_bits = u.bank_bits / (1 - BANK_PERIPHERY_SHARE)
    glb_bit = glb_total / (u.glb_banks * per_bank_bits + u.filter_buffer_bits / (1 - BANK_PERIPHERY_SHARE))
    return AreaModel(
        sram_spad_bit=spads / (u.pes * spad_bits), glb_bit=glb_bit,
        bank_periphery=glb_bit * u.bank_bits * BANK_PERIPHERY_SHARE / (1 - BANK_PERIPHERY_SHARE),
        mac_per_pe=mac / u.pes, pe_logic_per_pe=PE_LOGIC_SHARE * rest / u.pes,
        noc_unit=NOC_SHARE * rest / u.noc_units, top_level=TOP_SHARE * rest)


_MODEL: AreaModel | None = None


def area(hw: Hardware) -> Area:
    """The area of ``hw`` under the model calibrated on the fabricated chip (bundled eyeriss.yaml)."""
    global _MODEL
    if _MODEL is None:
        from cost_models.hardware import default_hardware

        _MODEL = calibrate(default_hardware())
    return _MODEL.area(hw)


def logic_um2_per_gate(a: Area) -> float:
    """Implied area per NAND2 gate of the chip's non-SRAM logic, for checking against 65 nm cells."""
    logic = a.core_mm2 - a.filter_spad - a.glb - a.filter_buffer
    return logic * 1e6 / (KGATES * 1000)
