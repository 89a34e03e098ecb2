"""Integer arithmetic that works on three kinds of number.

The row-stationary formulas are written once, with these helpers and the usual
operators, and evaluated on

* Python ints: ``evaluate`` scores one mapping;
* numpy int64 arrays: the exhaustive enumerator scores every mapping at once;
* symbolic CP-SAT expressions (``mapper.search.symbolic``): the search builds its
  model by running the very same code.

So the cost the solver minimises and the cost the model reports cannot drift
apart.  A symbolic number opts in by defining the ``__rs_*__`` hooks below;
everything here is exact integer arithmetic (no floats, no rounding modes).
``solver_bounds`` and ``name`` are for the symbolic case only: on ints and
arrays they return their argument, so the maths reads the same either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Num = Any  # int | np.ndarray | a symbolic expression with the __rs_*__ hooks


def _symbolic(*values: Num) -> Any:
    for value in values:
        if hasattr(value, "__rs_ceil_div__"):
            return value
    return None


def ceil_div(a: Num, b: Num) -> Num:
    """ceil(a / b) for a >= 0, b >= 1."""
    sym = _symbolic(a, b)
    if sym is not None:
        return sym.__rs_ceil_div__(a, b)
    return -((-a) // b)


def floor_div(a: Num, b: Num) -> Num:
    """floor(a / b) for a >= 0, b >= 1."""
    sym = _symbolic(a, b)
    if sym is not None:
        return sym.__rs_floor_div__(a, b)
    return a // b


def _extreme(values: tuple[Num, ...], hook: str, elementwise: Any, scalar: Any) -> Num:
    sym = _symbolic(*values)
    if sym is not None:
        return getattr(sym, hook)(values)
    if any(isinstance(v, np.ndarray) for v in values):
        out = values[0]
        for v in values[1:]:
            out = elementwise(out, v)
        return out
    return scalar(values)


def min_(*values: Num) -> Num:
    return _extreme(values, "__rs_min__", np.minimum, min)


def max_(*values: Num) -> Num:
    return _extreme(values, "__rs_max__", np.maximum, max)


def lookup(table: np.ndarray, index: Num) -> Num:
    """``table[index]``: a precomputed function of one mapping variable."""
    sym = _symbolic(index)
    if sym is not None:
        return sym.__rs_lookup__(table, index)
    if isinstance(index, np.ndarray):
        return table[index]
    return int(table[index])


def solver_bounds(value: Num, lo: Num | None = None, hi: Num | None = None) -> Num:
    """``value`` itself, which the caller knows lies in [lo, hi]: a hint for the solver, never a change of value.

    On ints and numpy arrays it returns ``value`` untouched.  On a symbolic
    number it adds ``min(value, hi)`` and ``max(., lo)``, so CP-SAT's interval
    bounds of what follows stay tight where interval arithmetic alone would
    lose the relation (e.g. a sum over blocks that never exceeds the total).
    """
    if _symbolic(value, lo, hi) is None:
        return value
    if hi is not None:
        value = min_(value, hi)
    if lo is not None:
        value = max_(value, lo)
    return value


def name(value: Num, label: str) -> Num:
    """``value``, labelled ``label`` where the number is symbolic (the CP-SAT variable's name); ints are untouched."""
    sym = _symbolic(value)
    if sym is not None:
        return sym.__rs_name__(label)
    return value


def is_positive(a: Num) -> Num:
    """1 if a > 0 else 0, for a >= 0."""
    return min_(a, 1)
