"""Symbolic integers: no silent truth value or identity comparison, readable CP-SAT names, solver-only bounds."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models import LayerShape
from cost_models.arith import name, solver_bounds
from cost_models.rowstationary import DataRatios
from mapper.search.cpsat import build_model
from mapper.search.symbolic import Tracer


def test_a_symbolic_integer_refuses_bool_and_equality():
    tracer = Tracer()
    n = tracer.variable(1, 8, "n")
    with pytest.raises(TypeError, match="'n' has no truth value"):
        bool(n)
    with pytest.raises(TypeError, match="no truth value"):
        if n - 1:  # the mistake this guards against: a branch on a mapping variable
            pass
    with pytest.raises(TypeError, match="'n' has no =="):
        n == 3  # noqa: B015
    with pytest.raises(TypeError, match="has no =="):
        n != n  # noqa: B015, PLR0124
    with pytest.raises(TypeError):
        hash(n)


def test_solver_bounds_change_no_number():
    assert solver_bounds(7, lo=1, hi=100) == 7
    values = np.array([3, 5, 9])
    assert solver_bounds(values, lo=1, hi=np.array([4, 4, 4])) is values  # untouched, even where a bound is wrong
    assert name(5, "x") == 5 and name(values, "x") is values


def test_solver_bounds_tighten_a_symbolic_interval():
    tracer = Tracer()
    x = tracer.variable(0, 100, "x")
    y = solver_bounds(x - 50, lo=1, hi=x)
    assert (y.lo, y.hi) == (1, 50)


def test_auxiliary_variables_carry_the_expression_they_stand_for(hw):
    layer = LayerShape(N=4, M=256, C=48, H=31, W=31, R=5, S=5, stride=(1, 1), groups=2)
    tracer = build_model(layer, hw, "energy", DataRatios()).tracer
    names = [var.name for var in tracer.model.proto.variables]
    assert names[:8] == ["n", "e", "p", "q", "r", "t", "g", "m_per_pt"]
    for expected in ("MB=ceil(Mg/m)", "CB=ceil(Cg/(q*r))", "FBT=ceil(Mg/(p*t))", "glb_banks_ifmap", "glb_banks_psum",
                     "P_SUM", "floor(12/(r*segments(e)*5))"):
        assert expected in names
    assert all(names) and not any(n.startswith("aux") for n in names)
