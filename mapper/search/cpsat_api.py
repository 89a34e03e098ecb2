"""CP-SAT's model and solver on OR-tools' C++ helper module alone, without ``cp_model``.

``ortools.sat.python.cp_model`` imports pandas for its ``pd.Series`` helpers,
which nothing here uses: 0.53 s of the 0.76 s its import takes, most of a cold
compile's start (measured, ``python -X importtime``, OR-tools 9.15).  The model
proto, the constraint builders, the expressions and the solve entry point all
live in ``cp_model_helper`` (0.07 s), so this module is the thin layer over it
that ``cp_model.CpModel``/``CpSolver`` are, for just the calls the search makes;
each method makes the very call ``cp_model`` makes for it (checked by
``tests/mapper/search/test_cpsat_api.py``, which builds one model both ways).
"""

from __future__ import annotations

import threading
from typing import Iterable, Sequence, Union

from ortools.sat.python import cp_model_helper as helper
from ortools.util.python.sorted_interval_list import Domain

IntVar = helper.IntVar
LinearExpr = helper.LinearExpr
BoundedLinearExpression = helper.BoundedLinearExpression
Status = helper.CpSolverStatus
UNKNOWN = Status.UNKNOWN
MODEL_INVALID = Status.MODEL_INVALID
FEASIBLE = Status.FEASIBLE
INFEASIBLE = Status.INFEASIBLE
OPTIMAL = Status.OPTIMAL

Term = Union[LinearExpr, int]  # what a constraint takes: an (affine) expression or a constant


class Model(helper.CpBaseModel):
    """A CP-SAT model: integer variables, linear and non-linear constraints, one objective, a hint."""

    def __init__(self, proto: helper.CpModelProto | None = None) -> None:
        super().__init__(proto)

    @property
    def proto(self) -> helper.CpModelProto:
        return self.model_proto

    def new_int_var(self, lo: int, hi: int, name: str) -> IntVar:
        return IntVar(self.model_proto).with_name(name).with_domain(Domain(lo, hi))

    def new_int_var_from_values(self, values: Iterable[int], name: str) -> IntVar:
        return IntVar(self.model_proto).with_name(name).with_domain(Domain.from_values(list(values)))

    def new_bool_var(self, name: str) -> IntVar:
        return self.new_int_var(0, 1, name)

    def add(self, constraint: BoundedLinearExpression | bool) -> helper.Constraint:
        """A linear constraint (``a <= b``, ``a != b``...), or a constant truth: true adds nothing, false is infeasible."""
        if isinstance(constraint, BoundedLinearExpression):
            return self._add_bounded_linear_expression(constraint)
        if isinstance(constraint, bool):
            return self.add_bool_or([True] if constraint else [])
        raise TypeError(f"not a linear constraint: {type(constraint).__name__}")

    def add_multiplication_equality(self, target: Term, factors: Sequence[Term]) -> helper.Constraint:
        """target == factors[0] * factors[1] * ..."""
        return self._add_linear_argument_constraint(helper.LinearArgumentConstraint.prod, target, list(factors))

    def add_division_equality(self, target: Term, numerator: Term, denominator: Term) -> helper.Constraint:
        """target == numerator // denominator (rounded towards zero)."""
        return self._add_linear_argument_constraint(helper.LinearArgumentConstraint.div, target,
                                                    [numerator, denominator])

    def add_min_equality(self, target: Term, terms: Sequence[Term]) -> helper.Constraint:
        return self._add_linear_argument_constraint(helper.LinearArgumentConstraint.min, target, list(terms))

    def add_max_equality(self, target: Term, terms: Sequence[Term]) -> helper.Constraint:
        return self._add_linear_argument_constraint(helper.LinearArgumentConstraint.max, target, list(terms))

    def add_element(self, index: Term, values: Sequence[Term], target: Term) -> helper.Constraint:
        """target == values[index]."""
        return self._add_element(index, list(values), target)

    def add_bool_or(self, literals: Sequence[IntVar | bool]) -> helper.Constraint:
        return self._add_bool_argument_constraint(helper.BoolArgumentConstraint.bool_or, list(literals))

    def add_exactly_one(self, literals: Sequence[IntVar]) -> helper.Constraint:
        return self._add_bool_argument_constraint(helper.BoolArgumentConstraint.exactly_one, list(literals))

    def minimize(self, objective: LinearExpr | int) -> None:
        """Minimise an integer linear expression (the only kind of objective the search sets)."""
        self.clear_objective()
        goal = self.model_proto.objective
        goal.scaling_factor = 1.0
        if isinstance(objective, int):
            goal.offset = objective
            return
        flat = helper.FlatIntExpr(objective)
        goal.vars.extend(var.index for var in flat.vars)
        goal.coeffs.extend(flat.coeffs)
        goal.offset = flat.offset

    def has_objective(self) -> bool:
        return self.model_proto.has_objective()

    def clear_objective(self) -> None:
        self.model_proto.clear_objective()

    def add_hint(self, var: IntVar, value: int) -> None:
        self.model_proto.solution_hint.vars.append(var.index)
        self.model_proto.solution_hint.values.append(int(value))

    def clear_hints(self) -> None:
        self.model_proto.clear_solution_hint()

    def rename(self, var: IntVar, name: str) -> None:
        self.model_proto.variables[var.index].name = name

    def clone(self) -> "Model":
        copy = Model()
        copy.model_proto.copy_from(self.model_proto)
        copy.rebuild_constant_map()
        return copy

    def validate(self) -> str:
        """Empty when CP-SAT accepts the model, else why not."""
        return helper.CpSatHelper.validate_model(self.model_proto)


class Solver:
    """One solve of a model under ``parameters``; ``stop_search`` may be called from another thread."""

    def __init__(self) -> None:
        self.parameters = helper.SatParameters()
        self._response: helper.CpSolverResponse | None = None
        self._running: helper.SolveWrapper | None = None
        self._lock = threading.Lock()

    def solve(self, model: Model) -> Status:
        wrapper = helper.SolveWrapper()
        wrapper.set_parameters(self.parameters)
        with self._lock:
            self._running = wrapper
        try:
            self._response = wrapper.solve(model.proto)
        finally:
            with self._lock:
                self._running = None
        return self._response.status

    def stop_search(self) -> None:
        with self._lock:
            if self._running is not None:
                self._running.stop_search()

    @property
    def response(self) -> helper.CpSolverResponse:
        if self._response is None:
            raise RuntimeError("solve() has not been called")
        return self._response

    def value(self, expression: Term) -> int:
        return int(helper.ResponseHelper.value(self.response, expression))

    @property
    def objective_value(self) -> float:
        return self.response.objective_value

    @property
    def best_objective_bound(self) -> float:
        return self.response.best_objective_bound
