"""One unit per column or axis, picked from its values: 23.5 mJ, not 2.351e+04 uJ."""

from __future__ import annotations

from typing import Sequence

# (factor over the base unit, unit), largest first; the base unit (factor 1) is what points.json holds.
ENERGY_UNITS = ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ"), (1.0, "pJ"))
TIME_UNITS = ((1e3, "s"), (1.0, "ms"), (1e-3, "us"))
POWER_UNITS = ((1e3, "W"), (1.0, "mW"), (1e-3, "uW"))


def pick_unit(values: Sequence[float | None], units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The largest unit the smallest positive value reaches (so every value shows as 1 or more), else the last."""
    smallest = min((abs(v) for v in values if v is not None and v != 0), default=1.0)
    return next(((f, u) for f, u in units if smallest >= f), units[-1])
