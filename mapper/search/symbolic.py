"""Symbolic integers that turn the cost model's own arithmetic into a CP-SAT model.

``cost_models.rowstationary`` is written over ``cost_models.arith`` numbers.
Running it on ``Sym`` values records every product, division, min, max and
table lookup as a CP-SAT constraint on a fresh integer variable whose bounds
come from interval arithmetic.  The objective the solver minimises is thus the
very expression ``cost_models.evaluate`` computes, not a re-derivation.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
from ortools.sat.python import cp_model

Value = Any  # Sym | int
LIMIT = 2**60  # CP-SAT requires |domain| <= 2**62 - 1; leave room for sums


class Sym:
    """An integer expression on a CP-SAT model, with known bounds [lo, hi]."""

    __slots__ = ("m", "expr", "lo", "hi")

    def __init__(self, m: "Tracer", expr: Any, lo: int, hi: int) -> None:
        self.m, self.expr, self.lo, self.hi = m, expr, int(lo), int(hi)

    # -- helpers ------------------------------------------------------------
    def _lift(self, other: Value) -> "Sym":
        if isinstance(other, Sym):
            return other
        value = int(other)
        return Sym(self.m, value, value, value)

    # -- linear ---------------------------------------------------------------
    def __add__(self, other: Value) -> "Sym":
        o = self._lift(other)
        return Sym(self.m, self.expr + o.expr, self.lo + o.lo, self.hi + o.hi)

    __radd__ = __add__

    def __neg__(self) -> "Sym":
        return Sym(self.m, -self.expr, -self.hi, -self.lo)

    def __sub__(self, other: Value) -> "Sym":
        return self + (-self._lift(other))

    def __rsub__(self, other: Value) -> "Sym":
        return self._lift(other) - self

    # -- non-linear -------------------------------------------------------------
    def __mul__(self, other: Value) -> "Sym":
        o = self._lift(other)
        if o.lo == o.hi:
            c = o.lo
            return Sym(self.m, self.expr * c, min(self.lo * c, self.hi * c), max(self.lo * c, self.hi * c))
        if self.lo == self.hi:
            return o * self.lo
        corners = [self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi]
        target = self.m.new(min(corners), max(corners))
        self.m.model.AddMultiplicationEquality(target.expr, [self.m.var_of(self), self.m.var_of(o)])
        return target

    __rmul__ = __mul__

    def __floordiv__(self, other: Value) -> "Sym":
        return self.__rs_floor_div__(self, other)

    def __rs_floor_div__(self, a: Value, b: Value) -> "Sym":
        a, b = self._lift(a), self._lift(b)
        assert a.lo >= 0 and b.lo >= 1, "floor division is only used on non-negative numbers"
        if a.lo == a.hi and b.lo == b.hi:
            return self._lift(a.lo // b.lo)
        target = self.m.new(a.lo // b.hi, a.hi // b.lo)
        self.m.model.AddDivisionEquality(target.expr, self.m.var_of(a), self.m.var_of(b))
        return target

    def __rs_ceil_div__(self, a: Value, b: Value) -> "Sym":
        a, b = self._lift(a), self._lift(b)
        assert a.lo >= 0 and b.lo >= 1, "ceil division is only used on non-negative numbers"
        if a.lo == a.hi and b.lo == b.hi:
            return self._lift(-(-a.lo // b.lo))
        # Bounds of ceil(a/b) directly: tighter than those of floor((a+b-1)/b).
        target = self.m.new(-(-a.lo // b.hi), -(-a.hi // b.lo))
        self.m.model.AddDivisionEquality(target.expr, self.m.var_of(a + b - 1), self.m.var_of(b))
        return target

    def __rs_min__(self, values: Sequence[Value]) -> "Sym":
        items = [self._lift(v) for v in values]
        target = self.m.new(min(i.lo for i in items), min(i.hi for i in items))
        self.m.model.AddMinEquality(target.expr, [i.expr for i in items])
        return target

    def __rs_max__(self, values: Sequence[Value]) -> "Sym":
        items = [self._lift(v) for v in values]
        target = self.m.new(max(i.lo for i in items), max(i.hi for i in items))
        self.m.model.AddMaxEquality(target.expr, [i.expr for i in items])
        return target

    def __rs_lookup__(self, table: np.ndarray, index: Value) -> "Sym":
        index = self._lift(index)
        domain = table[max(index.lo, 0): index.hi + 1]
        target = self.m.new(int(domain.min()), int(domain.max()))
        self.m.model.AddElement(self.m.var_of(index), [int(x) for x in table], target.expr)
        return target

    # -- constraints --------------------------------------------------------------
    def __le__(self, other: Value) -> Any:
        return self.expr <= self._lift(other).expr

    def __ge__(self, other: Value) -> Any:
        return self.expr >= self._lift(other).expr


class Tracer:
    """Owns the CP-SAT model and creates variables and auxiliary variables."""

    def __init__(self) -> None:
        self.model = cp_model.CpModel()
        self._count = 0

    def new(self, lo: int, hi: int, name: str | None = None) -> Sym:
        # Interval bounds of long products can exceed int64; no real count does.
        lo, hi = max(int(lo), -LIMIT), min(int(hi), LIMIT)
        self._count += 1
        var = self.model.NewIntVar(int(lo), int(hi), name or f"aux{self._count}")
        return Sym(self, var, lo, hi)

    def domain_var(self, values: Iterable[int], name: str) -> Sym:
        values = sorted(set(int(v) for v in values))
        var = self.model.NewIntVarFromDomain(cp_model.Domain.FromValues(values), name)
        return Sym(self, var, values[0], values[-1])

    def var_of(self, s: Sym) -> Any:
        """A plain variable (or constant) equal to ``s``; CP-SAT's non-linear constraints want affine terms."""
        if s.lo == s.hi:
            return s.lo
        if isinstance(s.expr, cp_model.IntVar):
            return s.expr
        var = self.new(s.lo, s.hi)
        self.model.Add(var.expr == s.expr)
        return var.expr
