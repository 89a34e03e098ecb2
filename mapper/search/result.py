"""What a layer's search returns: a mapping with its proof status, or the reason there is none.

Kept apart from the search itself (``mapper.search.cpsat``) so that a compile
answered entirely by the result cache never loads OR-tools' solver library.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.cost import Cost
from cost_models.errors import InputError
from cost_models.hardware import Hardware
from cost_models.mapping import Mapping

# A network latency budget no set of mappings meets: every layer's status (mapper.search.budget), which the
# compiler turns into one NetworkBudgetError rather than a network of "unmapped" layers.
OVER_BUDGET = "OVER_BUDGET"
# A mapping the user gave (``--mapping``, mapper.search.pinned): evaluated, not searched, so neither proven nor
# stored in the result cache.
PINNED = "PINNED"


@dataclass(frozen=True)
class LayerResult:
    """The search's answer for one layer: a mapping with its proof status, or the reason there is none."""

    mapping: Mapping | None
    cost: Cost | None
    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | UNMAPPABLE | UNKNOWN | OVER_BUDGET | PINNED
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

def as_ms(cycles: int, hw: Hardware) -> str:
    """A cycle count in the unit the user gave the bound in: ``20 ms (4,000,000 cycles at 200 MHz)``."""
    return f"{cycles / (hw.core_mhz * 1e3):.6g} ms ({cycles:,} cycles at {hw.core_mhz} MHz)"


class NetworkBudgetError(InputError):
    """``--network-latency-ms`` below the fastest the network can run: one error naming both figures."""
