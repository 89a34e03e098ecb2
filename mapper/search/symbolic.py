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
from mapper.search import cpsat_api

Value = Any  # Sym | int
LIMIT = 2**60  # CP-SAT requires |domain| <= 2**62 - 1; leave room for sums


LABEL_CHARS = 80  # a CP-SAT variable's name: the expression it stands for, cut to this length


def _term(label: str) -> str:
    """``label`` as an operand of *: parenthesised when it is a sum."""
    return f"({label})" if any(op in label[1:] for op in "+-") else label


def _divisor(label: str) -> str:
    """``label`` as a divisor: parenthesised when it is a sum or a product."""
    return f"({label})" if any(op in label[1:] for op in "+-*/") else label


class Sym:
    """An integer expression on a CP-SAT model, with known bounds [lo, hi] and a readable label.

    The label is the expression in the model's own terms ("ceil(Cg/(q*r))");
    every auxiliary variable CP-SAT gets is named by it.  A Sym has no truth
    value and no ``==``: a Python ``if`` or ``==`` on one would silently pick
    a branch or compare identities, so both raise TypeError.
    """

    __slots__ = ("m", "expr", "lo", "hi", "label")

    def __init__(self, m: "Tracer", expr: Any, lo: int, hi: int, label: str) -> None:
        self.m, self.expr, self.lo, self.hi = m, expr, int(lo), int(hi)
        self.label = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 3] + "..."

    # -- helpers ------------------------------------------------------------
    def _lift(self, other: Value) -> "Sym":
        if isinstance(other, Sym):
            return other
        value = int(other)
        return Sym(self.m, value, value, value, str(value))

    def __bool__(self) -> bool:
        raise TypeError(f"symbolic integer {self.label!r} has no truth value: the cost model must not branch on a "
                        "mapping variable (use cost_models.arith's min_/max_/is_positive)")

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        raise TypeError(f"symbolic integer {self.label!r} has no ==: build a constraint with <= and >=, "
                        "or compare .lo / .hi")

    __ne__ = __eq__  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]

    # -- linear ---------------------------------------------------------------
    def __add__(self, other: Value) -> "Sym":
        o = self._lift(other)
        return Sym(self.m, self.expr + o.expr, self.lo + o.lo, self.hi + o.hi, f"{self.label}+{o.label}")

    def __radd__(self, other: Value) -> "Sym":
        return (self + other).__rs_name__(f"{self._lift(other).label}+{self.label}")

    def __neg__(self) -> "Sym":
        return Sym(self.m, -self.expr, -self.hi, -self.lo, f"-{_term(self.label)}")

    def __sub__(self, other: Value) -> "Sym":
        o = self._lift(other)
        return (self + (-o)).__rs_name__(f"{self.label}-{_term(o.label)}")

    def __rsub__(self, other: Value) -> "Sym":
        o = self._lift(other)
        return (o + (-self)).__rs_name__(f"{o.label}-{_term(self.label)}")

    # -- non-linear -------------------------------------------------------------
    def __mul__(self, other: Value) -> "Sym":
        o = self._lift(other)
        label = f"{_term(self.label)}*{_term(o.label)}"
        if o.lo == o.hi:
            c = o.lo
            return Sym(self.m, self.expr * c, min(self.lo * c, self.hi * c), max(self.lo * c, self.hi * c), label)
        if self.lo == self.hi:
            return (o * self.lo).__rs_name__(label)
        corners = [self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi]
        target = self.m.new(min(corners), max(corners), label)
        self.m.model.add_multiplication_equality(target.expr, [self.m.var_of(self), self.m.var_of(o)])
        return target

    def __rmul__(self, other: Value) -> "Sym":
        return (self * other).__rs_name__(f"{_term(self._lift(other).label)}*{_term(self.label)}")

    def __floordiv__(self, other: Value) -> "Sym":
        return self.__rs_floor_div__(self, other)

    def __rs_floor_div__(self, a: Value, b: Value) -> "Sym":
        a, b = self._lift(a), self._lift(b)
        assert a.lo >= 0 and b.lo >= 1, "floor division is only used on non-negative numbers"
        if a.lo == a.hi and b.lo == b.hi:
            return self._lift(a.lo // b.lo)
        target = self.m.new(a.lo // b.hi, a.hi // b.lo, f"floor({a.label}/{_divisor(b.label)})")
        self.m.model.add_division_equality(target.expr, self.m.var_of(a), self.m.var_of(b))
        return target

    def __rs_ceil_div__(self, a: Value, b: Value) -> "Sym":
        a, b = self._lift(a), self._lift(b)
        assert a.lo >= 0 and b.lo >= 1, "ceil division is only used on non-negative numbers"
        if a.lo == a.hi and b.lo == b.hi:
            return self._lift(-(-a.lo // b.lo))
        # Bounds of ceil(a/b) directly: tighter than those of floor((a+b-1)/b).
        target = self.m.new(-(-a.lo // b.hi), -(-a.hi // b.lo), f"ceil({a.label}/{_divisor(b.label)})")
        self.m.model.add_division_equality(target.expr, self.m.var_of(a + b - 1), self.m.var_of(b))
        return target

    def __rs_min__(self, values: Sequence[Value]) -> "Sym":
        return self._extreme(values, min, "min", self.m.model.add_min_equality)

    def __rs_max__(self, values: Sequence[Value]) -> "Sym":
        return self._extreme(values, max, "max", self.m.model.add_max_equality)

    def _extreme(self, values: Sequence[Value], pick: Any, what: str, add: Any) -> "Sym":
        """min or max of ``values``: bounds are the pick of the bounds."""
        items = [self._lift(v) for v in values]
        target = self.m.new(pick(i.lo for i in items), pick(i.hi for i in items),
                            f"{what}({','.join(i.label for i in items)})")
        add(target.expr, [i.expr for i in items])
        return target

    def __rs_lookup__(self, table: np.ndarray, index: Value) -> "Sym":
        index = self._lift(index)
        domain = table[max(index.lo, 0): index.hi + 1]
        target = self.m.new(int(domain.min()), int(domain.max()), f"table[{index.label}]")
        self.m.model.add_element(self.m.var_of(index), [int(x) for x in table], target.expr)
        return target

    def __rs_name__(self, label: str) -> "Sym":
        """The same expression under ``label``; an auxiliary variable standing for it is renamed too.

        A label "SYMBOL=formula" names the variable in full; later expressions
        use only SYMBOL.
        """
        self.m.rename(self.expr, label)
        return Sym(self.m, self.expr, self.lo, self.hi, label.split("=", 1)[0])

    # -- constraints --------------------------------------------------------------
    def __le__(self, other: Value) -> Any:
        return self.expr <= self._lift(other).expr

    def __ge__(self, other: Value) -> Any:
        return self.expr >= self._lift(other).expr


class Tracer:
    """Owns the CP-SAT model and creates variables and auxiliary variables."""

    def __init__(self) -> None:
        self.model = cpsat_api.Model()
        self._aux: set[int] = set()  # indices of the auxiliary variables (renamable; decision variables are not)

    def new(self, lo: int, hi: int, label: str) -> Sym:
        """An auxiliary variable standing for the expression ``label``."""
        sym = self.variable(lo, hi, label)
        self._aux.add(sym.expr.index)
        return sym

    def variable(self, lo: int, hi: int, name: str) -> Sym:
        """A decision variable (a mapping parameter), named ``name``."""
        # Interval bounds of long products can exceed int64; no real count does.
        lo, hi = max(int(lo), -LIMIT), min(int(hi), LIMIT)
        sym = Sym(self, None, lo, hi, name)
        sym.expr = self.model.new_int_var(int(lo), int(hi), sym.label)
        return sym

    def rename(self, expr: Any, label: str) -> None:
        if isinstance(expr, cpsat_api.IntVar) and expr.index in self._aux:
            self.model.rename(expr, label)

    def domain_var(self, values: Iterable[int], name: str) -> Sym:
        values = sorted(set(int(v) for v in values))
        var = self.model.new_int_var_from_values(values, name)
        return Sym(self, var, values[0], values[-1], name)

    def var_of(self, s: Sym) -> Any:
        """A plain variable (or constant) equal to ``s``; CP-SAT's non-linear constraints want affine terms."""
        if s.lo == s.hi:
            return s.lo
        if isinstance(s.expr, cpsat_api.IntVar):
            return s.expr
        var = self.new(s.lo, s.hi, s.label)
        self.model.add(var.expr == s.expr)
        return var.expr
