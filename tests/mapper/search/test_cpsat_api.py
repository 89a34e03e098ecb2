"""mapper.search.cpsat_api makes the very model OR-tools' own cp_model makes, and solves it the same way."""

from __future__ import annotations

from ortools.sat.python import cp_model

from cost_models.hardware import default_hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import VARIABLES, DataRatios
from mapper.search import cpsat_api as cp
from mapper.search.cpsat import build_model


def _every_call(model, new_from_values) -> None:
    """One of each call the search makes, through whichever API ``model`` is (ours: snake_case names)."""
    def call(snake: str, camel: str, *args):
        return getattr(model, snake if isinstance(model, cp.Model) else camel)(*args)

    x, y, z = (call("new_int_var", "NewIntVar", 1, high, name) for high, name in ((12, "x"), (14, "y"), (400, "z")))
    w = new_from_values(model, [1, 2, 4, 8], "w")
    lo, hi, el = (call("new_int_var", "NewIntVar", 0, 50, name) for name in ("lo", "hi", "el"))
    picks = [call("new_bool_var", "NewBoolVar", f"b{i}") for i in range(3)]
    call("add_multiplication_equality", "AddMultiplicationEquality", z, [x, y])
    call("add_division_equality", "AddDivisionEquality", lo, z + 13, y)
    call("add_min_equality", "AddMinEquality", hi, [x, y, 9])
    call("add_max_equality", "AddMaxEquality", el, [w, x - 3])
    call("add_element", "AddElement", x, list(range(20, 33)), hi + 20)
    call("add_exactly_one", "AddExactlyOne", picks)
    call("add", "Add", x + 2 * y <= 30)
    call("add", "Add", x != 5)
    call("add_bool_or", "AddBoolOr", [])
    call("minimize", "Minimize", z + 3 * w + picks[0] + 7)
    call("add_hint", "AddHint", x, 3)


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
