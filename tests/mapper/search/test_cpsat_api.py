"""mapper.search.cpsat_api makes the very model OR-tools' own cp_model makes, and solves it the same way."""

from __future__ import annotations

from ortools.sat.python import cp_model

from cost_models.hardware import default_hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import VARIABLES, DataRatios
from mapper.search import cpsat_api as cp
from mapper.search.cpsat import build_model


def _every_call(model, new_from_values) -> None:
    """One of each call the search makes, through whichever API ``model`` is."""
    snake = isinstance(model, cp.Model)
    x = (model.new_int_var if snake else model.NewIntVar)(1, 12, "x")
    y = (model.new_int_var if snake else model.NewIntVar)(1, 14, "y")
    z = (model.new_int_var if snake else model.NewIntVar)(0, 400, "z")
    w = new_from_values(model, [1, 2, 4, 8], "w")
    lo = (model.new_int_var if snake else model.NewIntVar)(0, 50, "lo")
    hi = (model.new_int_var if snake else model.NewIntVar)(0, 50, "hi")
    el = (model.new_int_var if snake else model.NewIntVar)(0, 50, "el")
    picks = [(model.new_bool_var if snake else model.NewBoolVar)(f"b{i}") for i in range(3)]
    if snake:
        model.add_multiplication_equality(z, [x, y])
        model.add_division_equality(lo, z + 13, y)
        model.add_min_equality(hi, [x, y, 9])
        model.add_max_equality(el, [w, x - 3])
        model.add_element(x, list(range(20, 33)), hi + 20)
        model.add_exactly_one(picks)
        model.add(x + 2 * y <= 30)
        model.add(x != 5)
        model.add_bool_or([])
        model.minimize(z + 3 * w + picks[0] + 7)
        model.add_hint(x, 3)
    else:
        model.AddMultiplicationEquality(z, [x, y])
        model.AddDivisionEquality(lo, z + 13, y)
        model.AddMinEquality(hi, [x, y, 9])
        model.AddMaxEquality(el, [w, x - 3])
        model.AddElement(x, list(range(20, 33)), hi + 20)
        model.AddExactlyOne(picks)
        model.Add(x + 2 * y <= 30)
        model.Add(x != 5)
        model.AddBoolOr([])
        model.Minimize(z + 3 * w + picks[0] + 7)
        model.AddHint(x, 3)


def test_each_call_writes_the_proto_cp_model_writes():
    ours, theirs = cp.Model(), cp_model.CpModel()
    _every_call(ours, lambda m, values, name: m.new_int_var_from_values(values, name))
    _every_call(theirs, lambda m, values, name: m.NewIntVarFromDomain(cp_model.Domain.FromValues(values), name))
    assert str(ours.proto) == str(theirs.Proto())
    assert ours.validate() == theirs.Validate() == ""


def test_a_layer_model_solves_to_the_same_optimum_through_both_solvers():
    """The search's own model of a real layer: cp_model's CpSolver on our proto agrees with ours."""
    layer = LayerShape(1, 48, 32, 27, 27, 5, 5, pads=(2, 2, 2, 2))
    tracer, v = build_model(layer, default_hardware(), "energy", DataRatios())[:2]
    ours = cp.Solver()
    theirs = cp_model.CpSolver()
    for solver in (ours.parameters, theirs.parameters):
        solver.num_workers, solver.random_seed = 1, 0
    status = ours.solve(tracer.model)
    assert status == cp.OPTIMAL
    assert theirs.Solve(cp_model.CpModel(tracer.model.proto)) == cp_model.OPTIMAL
    assert ours.objective_value == theirs.ObjectiveValue() == ours.best_objective_bound
    assert {key: ours.value(getattr(v, key).expr) for key in VARIABLES} == \
        {key: theirs.Value(getattr(v, key).expr) for key in VARIABLES}


def test_a_clone_is_independent_and_constants_are_truths():
    model = cp.Model()
    x = model.new_int_var(0, 3, "x")
    model.minimize(-1 * x)
    copy = model.clone()
    copy.clear_objective()
    assert model.has_objective() and not copy.has_objective()
    model.add(True)
    solver = cp.Solver()
    assert solver.solve(model) == cp.OPTIMAL and solver.value(x) == 3
    model.add(False)
    assert solver.solve(model) == cp.INFEASIBLE
