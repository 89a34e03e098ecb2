"""Computed floats as reported figures: one place for report.json, the library's values and the CSVs.

A float sum or product carries binary noise in its last digits (the chip's area summed from its parts is
12.250000000000002 mm2, 3.5 x 3.5 is 12.25): every figure a user reads is rounded here to fewer
significant digits than a float64 holds (15.95) but far more than the model is accurate to, so it prints
as the decimal it is, and two runs that sum in another order print the same.
"""

from __future__ import annotations

import math

SIGNIFICANT = 15     # pJ and ms: 15 digits survive every float64 round trip
AREA_SIGNIFICANT = 12  # mm2: a um2 is 1e-6 mm2, so 12 digits keep sub-um2 detail on a die of 100s of mm2
RATIO_DECIMALS = 6   # fractions of the model's fixed-point one (2**16): 6 decimals give each back exactly


def significant(value: float, digits: int = SIGNIFICANT) -> float:
    """``value`` to ``digits`` significant digits (0, infinities and NaN as they are)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def pj(value: float) -> float:
    """An energy in pJ (a sum of the model's pJ figures) as reported."""
    return significant(value)


def units_pj(units: int, pj_per_unit: float) -> float:
    """Normalised energy units (a MAC = 1) as pJ, at the hardware's ``pj_per_unit``."""
    return significant(units * pj_per_unit)


def ms(cycles: int, core_mhz: float) -> float:
    """Core cycles as milliseconds at ``core_mhz``."""
    return significant(cycles / (core_mhz * 1e3))


def mm2(value: float) -> float:
    """An area in mm2 as reported."""
    return significant(value, AREA_SIGNIFICANT)


def ratio(value: float) -> float:
    """A fraction of the model's fixed-point one (an RLC ratio, a non-zero share) as reported."""
    return round(float(value), RATIO_DECIMALS)
