"""How the energy of one access and of one cycle scale with a design's sizes.

A hardware file's ``energy.normalized`` table [ISCA Table IV] and its calibrated ``static_per_cycle``
(cost_models/calibration.py) are the chip's figures at the chip's sizes, ``REFERENCE``.  A design point
of other sizes pays, per access, what a storage of its own size costs, and per cycle, what its own
area leaks and clocks.  At the reference sizes every factor is exactly 1 and every figure is the table's:

* **Storage (spads, GLB banks, filter buffer): energy per access ~ sqrt(capacity).**  CACTI's SRAM
  model (Shivakumar & Jouppi, CACTI 3.0, WRL report 2001/2; Thoziyoor et al., CACTI 5.0, HPL-2007-167),
  which Accelergy's SRAM estimator wraps, charges per access the word line and the bit lines of the
  cell array; in a near-square array of N cells both are ~ sqrt(N) long, so at a fixed word width the
  energy grows ~ sqrt(capacity).  The exponent 0.5 is assumed, because no table gives Eyeriss's own
  spads at other sizes; the published size series agree with it: 64-bit cache reads of 10 / 20 / 100 pJ
  at 8 kB / 32 kB / 1 MB [Horowitz, "Computing's energy problem", ISSCC 2014, paper 1.1; seen in a
  transcription] (4x the capacity, 2x the energy: exponent 0.50; 8 kB to 1 MB: 0.48), and Accelergy's CACTI-based
  Eyeriss spads, 0.146 pJ for the 12-word ifmap spad and 0.823 pJ for a 192-word filter spad
  (docs/eyeriss-facts.md section 6.3: 16x the words, 5.6x the energy, exponent 0.62).  Each spad
  type is priced by its own spad (the access counts are split by data type, cost_models.accesses),
  the banked GLB by its bank (an access reads one bank), the filter buffer by its own size.
* **NoC (array level): energy per delivery ~ wire length ~ the array's half-perimeter.**  A word
  multicast from the GLB runs along the Y-bus (one PE per row) and an X-bus (one per column) [JSSC
  V-B], and a wire's switched capacitance grows with its length; the array cost includes "the wiring
  capacitance" [ISCA VI-C].  Assumed, because no size series exists: the whole 2 units scale (an upper
  bound: the FIFOs at both ends do not grow) and the PE pitch is the chip's.  Psums are not scaled:
  nearly all their array-level moves are local-link hops between vertically adjacent PEs [JSSC V-B],
  one PE pitch long whatever the array.
* **DRAM**: off chip, the same per word whatever the chip.
* **Static (clock network + leakage) per cycle ~ core area** (cost_models/area.py).  Leakage is the
  off-current of the transistors the area holds, and the clock network is a tree spanning that area
  to every clocked element [JSSC Fig. 16 names it the largest single consumer]; so the calibrated
  figure scales with the design's core area over its area at the reference sizes.  Assumed, because the
  paper gives no leakage or clock power at other sizes.  The ID widths are left out of that area (a few
  register bits per PE; the search's result cache does not key on them, mapper/search/cache.py).

Energies stay integers of normalized units (MAC = 1): a factor is an exact fraction (sqrt rounded down
to 1/1024), and each (level, data type) cell of a layer's energy is rounded down once
(``RowStationary.energy_cells``), so the search and ``evaluate`` compute the same integer.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

from cost_models.accesses import DATA_TYPES, LEVELS
from cost_models.hardware import Hardware

# The sizes at which the normalized energies and the calibrated static figure hold: Eyeriss as
# fabricated (docs/eyeriss-facts.md section 1).  The one place they are named; eyeriss.yaml has the same
# values (tests/cost_models/test_scaling.py holds them equal).
REFERENCE: dict[str, int] = {
    "rows": 12,                   # 12 x 14 PEs [JSSC III-A]
    "cols": 14,
    "filter_spad": 224,           # 224 x 16 b SRAM [JSSC V-C]
    "ifmap_spad": 12,             # 12 x 16 b registers [JSSC V-C]
    "psum_spad": 24,              # 24 x 16 b registers [JSSC V-C]
    "glb_banks": 25,              # 100 kB ifmap+psum buffer in 25 banks [JSSC V-A]
    "bank_words": 2048,           # each bank 512 x 64 b = 4 kB [JSSC V-A]
    "filter_buffer_words": 4096,  # 8 kB filter buffer [JSSC V-A]
}
# The storage each (level, data type) of cost_models.accesses is read from or written to, priced by
# its own size: the three spads [JSSC V-C], the GLB's banks (ifmaps, psums) and its filter buffer [JSSC V-A].
STORAGE = {("rf", "filter"): "filter_spad", ("rf", "ifmap"): "ifmap_spad", ("rf", "psum"): "psum_spad",
           ("glb", "ifmap"): "bank_words", ("glb", "psum"): "bank_words", ("glb", "filter"): "filter_buffer_words"}
# Resolution of a square-root factor.  Assumed: 1/1024 of a unit is below every other error of the
# model, and keeps a cell's numerator (words x price) far inside int64 for every realistic count.
SQRT_STEPS = 1024
# The exponent of the storage rule, named for the docs and tests; sqrt_ratio computes it exactly.
STORAGE_EXPONENT = 0.5


def sqrt_ratio(size: int, reference: int) -> Fraction:
    """sqrt(size / reference), rounded down to 1/1024: exactly 1 at the reference, 2 at 4x, never decreasing."""
    return Fraction(math.isqrt(size * SQRT_STEPS * SQRT_STEPS // reference), SQRT_STEPS)


def wire_ratio(hw: Hardware) -> Fraction:
    """The array's half-perimeter over the chip's: the Y-bus plus an X-bus a multicast word runs along."""
    return Fraction(hw.rows + hw.cols, REFERENCE["rows"] + REFERENCE["cols"])


def size_factors(hw: Hardware) -> dict[tuple[str, str], Fraction]:
    """The factor on each (level, data type)'s normalized energy per access; all 1 at the reference sizes."""
    wire = wire_ratio(hw)
    factors: dict[tuple[str, str], Fraction] = {}
    for level in LEVELS:
        for dt in DATA_TYPES:
            if (level, dt) in STORAGE:
                field = STORAGE[level, dt]
                factors[level, dt] = sqrt_ratio(getattr(hw, field), REFERENCE[field])
            elif level == "array" and dt != "psum":
                factors[level, dt] = wire
            else:  # DRAM, and psums' local-link hops
                factors[level, dt] = Fraction(1)
    return factors


@functools.lru_cache(maxsize=256)
def access_energy(hw: Hardware) -> Mapping[tuple[str, str], Fraction]:
    """Normalized energy (MAC = 1) of one 16-bit access per (level, data type): the table x the size factor
    (read-only: one cached table per design serves every layer)."""
    table = {"dram": hw.energy_dram, "glb": hw.energy_glb, "array": hw.energy_array, "rf": hw.energy_rf}
    return MappingProxyType({key: table[key[0]] * factor for key, factor in size_factors(hw).items()})


def at_reference(hw: Hardware) -> bool:
    """Whether every size the energies scale with is the chip's."""
    return all(getattr(hw, field) == value for field, value in REFERENCE.items())


def _leaking_mm2(hw: Hardware) -> float:
    """Core area without the ID registers (cost_models.area): what leaks and is clocked every cycle."""
    from cost_models.area import area

    no_ids = replace(hw, row_id_bits=0, col_id_bits=tuple((net, 0) for net, _ in hw.col_id_bits))
    return area(no_ids).core_mm2


@functools.lru_cache(maxsize=256)
def static_per_cycle(hw: Hardware) -> int:
    """Normalized static energy (clock network + leakage) per core cycle: the calibrated figure x area ratio.

    Exactly the file's figure at the reference sizes (no float is involved there); elsewhere rounded once.
    """
    if at_reference(hw):
        return hw.energy_static_per_cycle
    ratio = _leaking_mm2(hw) / _leaking_mm2(replace(hw, **REFERENCE))
    return int(round(hw.energy_static_per_cycle * ratio))
