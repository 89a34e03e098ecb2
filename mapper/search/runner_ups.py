"""Runner-up mappings: for each mapping parameter, the best mapping with a different value of it.

Each is found by re-solving the very model ``map_layer`` solves
(``mapper.search.cpsat.build_model``) with one constraint more, ``x != best x``,
on one deterministic CP-SAT thread within ``RUNNER_UP_WORK`` units of
deterministic work (no wall-clock limit decides the answer).  A runner-up
proven OPTIMAL is the best mapping without that value: its gain over the
optimum is what that value is worth.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper.search import cpsat_api as cp

from cost_models.arith import min_
from cost_models.cost import evaluate
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import PARAMETERS, Mapping
from cost_models.rules import DEFAULT_SPACE
from cost_models.rowstationary import VARIABLES, DataRatios
from mapper.search.cpsat import SOLO_STRATEGY, LayerResult, build_model, solve
from mapper.search.space import to_mapping

# Deterministic work per re-solve (assumed: twice the first stage's budget, mapper.search.cpsat.SOLO_WORK;
# on AlexNet every runner-up but a few is proven within it).
RUNNER_UP_WORK = 2.0


@dataclass(frozen=True)
class RunnerUp:
    """The best mapping found with ``parameter != excluded``, or why there is none."""

    parameter: str
    excluded: int
    status: str  # OPTIMAL (proven best without that value) | FEASIBLE (work budget ran out) | INFEASIBLE | UNKNOWN
    mapping: Mapping | None
    objective_value: int | None  # the cost model's objective of ``mapping``
    gain_over_optimum: int | None  # objective_value - the optimum's (not ``gap``: that is the solver's)

    def as_dict(self) -> dict:
        return {"parameter": self.parameter, "excluded": self.excluded, "status": self.status,
                "mapping": None if self.mapping is None else self.mapping.as_dict(),
                "objective_value": self.objective_value, "gain_over_optimum": self.gain_over_optimum}


def runner_ups(layer: LayerShape, hw: Hardware, best: LayerResult, ratios: DataRatios = DataRatios(),
               max_cycles: int | None = None, space: str = DEFAULT_SPACE) -> tuple[RunnerUp, ...]:
    """One runner-up per mapping parameter (n e p q r t g m) of ``best``, a mapped layer's search result in ``space``."""
    assert best.mapping is not None and best.cost is not None
    optimum = best.cost.objective_units[best.objective]
    return tuple(_runner_up(layer, hw, best, ratios, max_cycles, name, optimum, space) for name in PARAMETERS)


def _runner_up(layer: LayerShape, hw: Hardware, best: LayerResult, ratios: DataRatios, max_cycles: int | None,
               name: str, optimum: int, space: str = DEFAULT_SPACE) -> RunnerUp:
    value = getattr(best.mapping, name)
    built = build_model(layer, hw, best.objective, ratios, max_cycles, space)
    tracer, v = built.tracer, built.v
    if name == "m":
        m = min_(v.m_per_pt * v.p * v.t, layer.Mg)  # the m the mapping has (mapper.search.space.to_mapping)
        tracer.model.add((m.expr if hasattr(m, "expr") else m) != value)
    else:
        tracer.model.add(getattr(v, name).expr != value)
    solver = cp.Solver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.subsolvers.append(SOLO_STRATEGY[best.objective])
    solver.parameters.max_deterministic_time = RUNNER_UP_WORK
    status = solve(solver, tracer.model)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return RunnerUp(name, value, status.name, None, None, None)
    mapping = to_mapping(layer, {key: solver.value(getattr(v, key).expr) for key in VARIABLES})
    objective = evaluate(layer, mapping, hw, ratios).objective_units[best.objective]
    return RunnerUp(name, value, status.name, mapping, objective, objective - optimum)
