"""Why a layer's mapping won: the limits that bind at it, and what keeps it from its lower bounds.

Everything here is read from the cost model, never restated: the binding
limits are ``cost_models.cost.binding_limits`` (the model's own
``RowStationary.limits``), and the latency is split into the model's own
cycle parts (``Cost.cycle_parts``, which add up to the total), so a change to
the model's terms shows in the explanation as it is.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cost_models.cost import Cost, binding_limits, compulsory_dram_words
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import CYCLE_PARTS, DataRatios

# What a gap between the latency and its MACs/PEs bound is called when it is the compute part's own
# excess: the busiest PE does more than MACs/PEs because PEs idle (set shapes, blocks that do not divide).
UNDER_USE = "array under-use: the busiest PE does more than MACs/PEs (idle PEs, uneven blocks)"


def bindings(layer: LayerShape, mapping: Mapping, hw: Hardware, ratios: DataRatios,
             max_cycles: int | None) -> list[dict[str, Any]]:
    """The report's ``binding_limits``: each limit tight at the mapping or broken by raising one parameter."""
    return [{**asdict(b), "raised_by": list(b.raised_by)}
            for b in binding_limits(layer, mapping, hw, ratios, max_cycles)]


def latency_gap(cost: Cost, bound: int) -> dict[str, Any]:
    """The latency's parts over its MACs/PEs bound, the largest first, and the one that keeps it from it.

    The compute part is split into the bound itself and the array's under-use
    (compute - bound); every other part is all gap.  ``streaming`` names the
    bus whose streaming is the slowest.
    """
    gap = {"under_use" if name == "compute" else name: value - (bound if name == "compute" else 0)
           for name, value in cost.cycle_parts.items()}
    gap = {name: value for name, value in gap.items() if value > 0}
    ranked = sorted(gap.items(), key=lambda item: -item[1])
    largest = ranked[0][0] if ranked else None
    bus = max(cost.stream_cycles, key=lambda k: cost.stream_cycles[k]) if cost.stream_cycles else None
    return {"gap_cycles": cost.total_cycles - bound, "gap_parts": dict(ranked), "limited_by": largest,
            "limited_by_what": describe(largest, bus) if largest else "at its bound",
            "slowest_stream": bus}


def describe(part: str, bus: str | None) -> str:
    if part == "under_use":
        return UNDER_USE
    if part == "streaming" and bus:
        return f"the {bus} bus: {CYCLE_PARTS['streaming']}"
    return CYCLE_PARTS.get(part, part)


def dram_gap(cost: Cost, layer: LayerShape, ratios: DataRatios) -> dict[str, Any]:
    """DRAM words beyond each data type's compulsory traffic, and the type with the most."""
    extra = {dt: int(cost.accesses.dram.of(dt)) - words for dt, words in compulsory_dram_words(layer, ratios).items()}
    worst = max(extra, key=lambda dt: extra[dt])
    return {"dram_extra_words": extra, "dram_limited_by": worst if extra[worst] > 0 else None}
