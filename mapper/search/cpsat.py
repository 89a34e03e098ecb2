"""CP-SAT search for the optimal row-stationary mapping of one layer.

The model is built by running ``cost_models.rowstationary`` on symbolic
integers (``mapper.search.symbolic``): variables are the mapping parameters, the
constraints are the cost model's own limits, and the objective is the cost
model's own integer energy (normalized units), total cycles, or their product.
So ``result.objective_value == evaluate(...).objective_units[objective]`` exactly:
the solver's own figure when proven OPTIMAL (tests check the two agree), the
returned mapping's cost when a time limit cut the search short.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from ortools.sat.python import cp_model

from cost_models.cost import Cost, evaluate
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import OBJECTIVES, VARIABLES, DataRatios, RowStationary, Vars, layer_limits
from mapper.search.symbolic import Tracer
from mapper.search.space import ranges, to_mapping


@dataclass(frozen=True)
class LayerResult:
    """The search's answer for one layer: a mapping with its proof status, or the reason there is none."""

    mapping: Mapping | None
    cost: Cost | None
    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNMAPPABLE | UNKNOWN
    objective: str
    objective_value: int | None
    bound: int | None
    wall_s: float
    reason: str | None = None

    @property
    def gap(self) -> float | None:
        """Relative optimality gap (0 when proven optimal)."""
        if self.objective_value is None or self.bound is None:
            return None
        if self.objective_value == 0:
            return 0.0
        return max(0.0, (self.objective_value - self.bound) / self.objective_value)

    @property
    def ok(self) -> bool:
        return self.mapping is not None


# Set while a caller stops every search of this process (Ctrl-C during a
# network's layers solved side by side, mapper.search.network.solve_each).
_STOPPING = threading.Event()


def solve(solver: cp_model.CpSolver, model: cp_model.CpModel) -> int:
    """``solver.Solve(model)`` that Ctrl-C stops at once (KeyboardInterrupt), not after the time limit.

    CP-SAT's own SIGINT handling ends the search quietly and leaves the signal
    at its default afterwards, so an interrupted compile would carry on.  The
    solve runs in a worker thread (it releases the GIL) and the calling thread
    waits on an Event: a Ctrl-C there (the main thread, where Python delivers
    signals) stops the search and re-raises; from another thread,
    ``stop_all_searches`` does.  (An Event, not Thread.join: an interrupted
    join can report a live thread dead.)
    """
    if _STOPPING.is_set():
        raise KeyboardInterrupt
    solver.parameters.catch_sigint_signal = False
    done = threading.Event()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["status"] = solver.Solve(model)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=work, name="cp-sat", daemon=True).start()
    try:
        while not done.wait(0.05):
            if _STOPPING.is_set():
                solver.StopSearch()
    except KeyboardInterrupt:
        solver.StopSearch()
        done.wait()
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    if _STOPPING.is_set():
        raise KeyboardInterrupt
    return outcome["status"]  # type: ignore[return-value]


@contextmanager
def stop_all_searches() -> Iterator[None]:
    """Within it, every running and every new ``solve`` stops and raises KeyboardInterrupt."""
    _STOPPING.set()
    try:
        yield
    finally:
        _STOPPING.clear()


# The search runs in two stages.  First one thread runs the CP-SAT strategy that
# proves these models fastest for the objective (measured on the five example
# networks and the 32 x 32 design: the LP-based "reduced_costs" for energy,
# "quick_restart" for latency and EDP; on one core each proves AlexNet's
# layers in about the wall time the 8-strategy portfolio takes on two, 1.2 s
# against 1.7-2.6 s for energy).  One thread is deterministic and leaves the
# other cores to other layers (mapper.search.network solves distinct layers side by
# side).  A layer it cannot prove within SOLO_WORK units of CP-SAT's
# deterministic time (machine-independent; a unit took 0.7-1.7 s of wall time
# on a 2-core machine) goes on to the full portfolio,
# which is robust where one strategy is not (ResNet-50's conv15 for energy:
# reduced_costs finds no mapping in 1 unit, the portfolio proves it in 0.3 s).
SOLO_STRATEGY = {"energy": "reduced_costs", "latency": "quick_restart", "edp": "quick_restart"}
SOLO_WORK = 1.0
# The portfolio: CP-SAT's 8 default strategies, even on 2 cores (measured: with 1
# or 2 default workers some layers take up to 40 s, with 8 under 0.5 s).
PORTFOLIO_WORKERS = 8


def _solver(time_limit: float, workers: int, strategy: str | None = None,
            work_limit: float | None = None) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, float(time_limit))  # CP-SAT needs a positive limit
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 0
    solver.parameters.interleave_search = False
    if strategy is not None:
        solver.parameters.subsolvers.append(strategy)
    if work_limit is not None:
        solver.parameters.max_deterministic_time = work_limit
    return solver


def add_layer(tracer: Tracer, layer: LayerShape, hw: Hardware, ratios: DataRatios,
              suffix: str = "") -> tuple[Vars, RowStationary, dict]:
    """One layer's mapping variables and hardware limits in ``tracer``'s model; returns them with the counts."""
    v = Vars(**{name: tracer.variable(1, high, f"{name}{suffix}") for name, high in ranges(layer, hw).items()})
    model = RowStationary(layer, hw, ratios)
    for limit in model.limits(v):
        constraint = limit.lhs <= limit.rhs
        if isinstance(constraint, bool):
            if not constraint:
                tracer.model.AddBoolOr([])  # a constant limit that fails: infeasible
        else:
            tracer.model.Add(constraint)
    return v, model, model.counts(v)


def build_model(layer: LayerShape, hw: Hardware, objective: str, ratios: DataRatios,
                max_cycles: int | None = None) -> tuple[Tracer, Vars, object]:
    """The CP-SAT model of one layer: variables, the model's limits, the model's objective."""
    tracer = Tracer()
    v, model, counts = add_layer(tracer, layer, hw, ratios)
    if max_cycles is not None:
        tracer.model.Add(counts.cycles.total <= max_cycles)
    goal = model.objective_from_counts(counts, objective)
    tracer.model.Minimize(goal.expr)
    return tracer, v, goal


def map_layer(layer: LayerShape, hardware: Hardware, objective: str = "energy", *,
              ratios: DataRatios = DataRatios(), time_limit: float = 60.0, max_cycles: int | None = None,
              workers: int | None = None) -> LayerResult:
    """Find the mapping minimising ``objective`` (energy | latency | edp) within every limit.

    ``max_cycles`` bounds the layer's total latency (use it with the energy
    objective).  Deterministic: a fixed seed, one thread, a deterministic work
    limit before the portfolio, and among the portfolio's tied optima the
    lexicographically smallest.  ``workers`` skips the first stage and runs
    CP-SAT's default portfolio of that many workers, ties broken the same way.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    start = time.perf_counter()
    problems = layer_limits(layer, hardware)
    if problems:
        return LayerResult(None, None, "UNMAPPABLE", objective, None, None, time.perf_counter() - start,
                           reason="; ".join(problems))
    tracer, v, goal = build_model(layer, hardware, objective, ratios, max_cycles)
    found: dict[str, int] | None = None  # the first stage's best mapping, when it did not prove it optimal
    found_bound = None
    portfolio = workers is not None  # whether a multi-strategy search ran (its tied optima need a tie-break)
    if workers is None:
        solver = _solver(time_limit, 1, SOLO_STRATEGY[objective], SOLO_WORK)
        status = solve(solver, tracer.model)
        time_left = time_limit - (time.perf_counter() - start)
        if status in (cp_model.FEASIBLE, cp_model.UNKNOWN) and time_left > 0.01:
            if status == cp_model.FEASIBLE:
                found = {key: int(solver.Value(getattr(v, key).expr)) for key in VARIABLES}
                found_bound = int(round(solver.BestObjectiveBound()))
                for key in VARIABLES:
                    tracer.model.AddHint(getattr(v, key).expr, found[key])
            solver = _solver(time_left, PORTFOLIO_WORKERS)
            status = solve(solver, tracer.model)
            tracer.model.ClearHints()
            portfolio = True
    else:
        solver = _solver(time_limit, workers)
        status = solve(solver, tracer.model)
    wall = time.perf_counter() - start
    name = solver.StatusName(status)
    if status == cp_model.MODEL_INVALID:  # our model's bounds are wrong: a bug, not bad input
        raise RuntimeError(f"CP-SAT rejected the model of {layer}: {tracer.model.Validate()[:200]}")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) and found is None:
        reason = ("no mapping satisfies every hardware limit" if status == cp_model.INFEASIBLE
                  else f"no mapping found within the {time_limit:g} s time limit")
        if status == cp_model.INFEASIBLE and max_cycles is not None:
            reason = f"no mapping meets the layer latency bound of {as_ms(max_cycles, hardware)} within every hardware limit"
        return LayerResult(None, None, name, objective, None, None, wall, reason=reason)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        value = int(round(solver.ObjectiveValue()))
        bound = int(round(solver.BestObjectiveBound()))
        values = {key: int(solver.Value(getattr(v, key).expr)) for key in VARIABLES}
    else:  # the portfolio found nothing in the time left: keep the first stage's mapping
        name, value, bound, values = "FEASIBLE", 0, 0, found
    if found is not None and name == "FEASIBLE":  # cut short twice: the better of the two stages' mappings
        bound = max(bound, found_bound or 0)
        values = min((values, found), key=lambda vals: evaluate(
            layer, to_mapping(layer, vals), hardware, ratios).objective_units[objective])
    if name == "OPTIMAL" and portfolio:
        values = _canonical_optimum(tracer, v, goal, value, values, solver.parameters, time_limit - wall)
    wall = time.perf_counter() - start
    mapping = to_mapping(layer, values)
    cost = evaluate(layer, mapping, hardware, ratios)
    if name == "FEASIBLE":
        # For a search cut short by its time limit, CP-SAT's objective figure can lie above what the
        # solution's own variable values cost (seen on AlexNet FC6 under load, a few solves in a hundred).
        # The mapping is what the user gets: report its cost.
        value = cost.objective_units[objective]
    return LayerResult(mapping, cost, name, objective, value, bound if name != "OPTIMAL" else value, wall)


def as_ms(cycles: int, hw: Hardware) -> str:
    """A cycle count in the unit the user gave the bound in: ``20 ms (4,000,000 cycles at 200 MHz)``."""
    return f"{cycles / (hw.core_mhz * 1e3):.6g} ms ({cycles:,} cycles at {hw.core_mhz} MHz)"


def _canonical_optimum(tracer: Tracer, v: Vars, goal, value: int, found: dict[str, int],
                       parameters, time_left: float) -> dict[str, int]:
    """Among all optimal mappings, the lexicographically smallest (n, e, p, ...).

    Several mappings often tie; which one a multi-threaded solver reports first
    depends on thread timing.  A second, tiny solve with the objective pinned to
    its optimum and a mixed-radix tie-breaker makes the answer a function of the
    input alone.
    """
    model = tracer.model
    model.Add(goal.expr <= value)  # == in effect (value is the optimum); <= propagates faster
    weight, tiebreak = 1, 0
    for key in reversed(VARIABLES):
        var = getattr(v, key)
        tiebreak = tiebreak + weight * var.expr
        weight *= var.hi + 1
    model.Minimize(tiebreak)
    for key in VARIABLES:
        model.AddHint(getattr(v, key).expr, found[key])
    solver = cp_model.CpSolver()
    solver.parameters.copy_from(parameters)
    solver.parameters.max_time_in_seconds = max(0.01, time_left)  # out of time: keep the solver's own optimum
    # With the objective pinned the search is small: one worker is fastest here
    # (measured on AlexNet: 0.34 s in all, against 0.82 s with eight).
    solver.parameters.num_workers = 1
    if solve(solver, model) != cp_model.OPTIMAL:
        return found
    return {key: int(solver.Value(getattr(v, key).expr)) for key in VARIABLES}
