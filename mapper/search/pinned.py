"""A layer whose mapping the user pins (``--mapping``): evaluated by the cost model, not searched.

Its result is a ``LayerResult`` like a search's, with status ``PINNED``: the
objective value is the pinned mapping's, and there is no bound (nothing was
proven).  It never goes through the result cache (mapper.search.cache), whose
entries are search answers only.
"""

from __future__ import annotations

from cost_models.cost import evaluate
from cost_models.errors import InputError
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import DataRatios
from mapper.search.result import PINNED, LayerResult, as_ms


def pinned_result(name: str, layer: LayerShape, mapping: Mapping, hw: Hardware, objective: str,
                  ratios: DataRatios, max_cycles: int | None = None) -> LayerResult:
    """The pinned mapping's cost as a result; InputError if it is slower than the layer latency bound.

    The mapping's limits (hardware, chip rules) are checked before, with the
    file's name at hand (mapper.app.mapping_file.check_pins); ``evaluate``
    checks the hardware's again.
    """
    cost = evaluate(layer, mapping, hw, ratios)
    if max_cycles is not None and cost.total_cycles > max_cycles:
        raise InputError(f"layer '{name}': the pinned mapping takes {as_ms(cost.total_cycles, hw)}, over the layer "
                         f"latency bound of {as_ms(max_cycles, hw)}")
    value = cost.objective_units[objective]
    return LayerResult(mapping, cost, PINNED, objective, value, None, 0.0)
