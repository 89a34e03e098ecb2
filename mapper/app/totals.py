"""A compiled network's totals as typed values, like its layers; ``as_dict`` is the report's ``totals``.

Host operations run on the host and are not counted; a layer with no mapping
is listed in ``missing`` and left out of every sum (docs/report.md#totals).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol

from cost_models import figures
from cost_models.hardware import Hardware

from mapper.search.result import PINNED

if TYPE_CHECKING:
    from mapper.search.result import LayerResult


class CompiledLayer(Protocol):
    """What the totals read of a compiled layer (mapper.app.compiler.CompiledLayer); a protocol, so that this
    module, which the compiler imports, does not import the compiler back."""

    name: str
    result: LayerResult

    @property
    def ok(self) -> bool: ...


# A network whose searched objective may lie more than this above its proven bound is "far" from optimal:
# the summary says so and `eyeriss compile` exits 4 (assumed: 5 % is beyond what any layer's mapping
# choice changes in the model's calibration error, so a pipeline should not ship it unknowingly).
FAR_GAP = 0.05


@dataclass(frozen=True)
class EnergyTotals:
    total_pj: float
    total_units: int  # the cost model's integer energy (normalized units), summed exactly
    per_inference_pj: float
    by_level_pj: Mapping[str, float]  # dram, glb, array (NoC), rf, alu, static
    by_type_pj: Mapping[str, float]  # ifmap, filter, psum, ...


@dataclass(frozen=True)
class LatencyTotals:
    processing_cycles: int
    total_cycles: int
    processing_ms: float
    total_ms: float


@dataclass(frozen=True)
class WorstLayer:
    name: str
    gap: float


@dataclass(frozen=True)
class SearchTotals:
    """How close the mapped layers' searches came to proof.

    ``gap`` is the network's: 1 - (sum of the layers' proven bounds) / (sum of their objective values),
    each layer counted as often as it occurs (None when some layer has no bound); ``worst`` the layer
    with the largest gap of its own; ``far``: the gap is over FAR_GAP or unknown.  Layers whose mapping
    the user pinned (``--mapping``) were not searched: they count in ``pinned`` only.
    """

    layers: int
    proven: int
    gap: float | None
    worst: WorstLayer | None
    far: bool
    pinned: int


@dataclass(frozen=True)
class NetworkBudget:
    """``--network-latency-ms``: the bound and whether the written mappings meet it."""

    ms: float
    met: bool


@dataclass(frozen=True)
class Totals:
    layers: int  # mapped array layers
    unmapped: int
    missing: tuple[str, ...]  # the unmapped layers' names
    macs: int
    energy: EnergyTotals
    latency: LatencyTotals
    inferences_per_s: float | None
    gmacs_per_s: float | None
    pj_per_mac: float | None
    average_active_pes: float | None  # weighted by each layer's cycles
    search: SearchTotals
    network_budget: NetworkBudget | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report's ``totals`` entry (``network_budget`` only when a budget was given)."""
        out = asdict(self)
        out["missing"] = list(self.missing)
        if self.network_budget is None:
            del out["network_budget"]
        return out


def search_totals(mapped: list[CompiledLayer]) -> SearchTotals:
    results = [(entry.name, entry.result) for entry in mapped if entry.result.status != PINNED]
    known = [(name, r) for name, r in results if r.objective_value is not None and r.bound is not None]
    value = sum(r.objective_value for _, r in known)
    bound = sum(min(r.bound, r.objective_value) for _, r in known)
    gap = 1 - bound / value if value else 0.0
    worst = max(known, key=lambda item: item[1].gap or 0.0, default=None)
    return SearchTotals(len(results), sum(1 for _, r in results if r.status == "OPTIMAL"),
                        round(gap, 6) if len(known) == len(results) else None,
                        WorstLayer(worst[0], round(worst[1].gap or 0.0, 6)) if worst and worst[1].gap else None,
                        len(known) < len(results) or gap > FAR_GAP, len(mapped) - len(results))


def network_totals(layers: Iterable[CompiledLayer], hw: Hardware, batch: int,
                   budget: NetworkBudget | None = None) -> Totals:
    """Totals over the mapped layers, figures for people rounded once here (the report's precision)."""
    layers = list(layers)
    mapped = [entry for entry in layers if entry.ok]
    costs = [entry.result.cost for entry in mapped]
    pj = sum(cost.energy_pj for cost in costs)
    macs = sum(cost.macs for cost in costs)
    proc = sum(cost.processing_cycles for cost in costs)
    total = sum(cost.total_cycles for cost in costs)
    seconds = total / (hw.core_mhz * 1e6)
    by_level: dict[str, float] = {}
    by_type: dict[str, int] = {}
    for cost in costs:
        for key, value in cost.energy_pj_by_level.items():
            by_level[key] = by_level.get(key, 0.0) + value
        for key, units in cost.energy_units_by_type.items():
            by_type[key] = by_type.get(key, 0) + units
    weighted_pes = sum(cost.active_pes * cost.total_cycles for cost in costs)
    energy = EnergyTotals(figures.pj(pj), sum(cost.energy_total_units for cost in costs), figures.pj(pj / batch),
                          {k: figures.pj(v) for k, v in by_level.items()},
                          {k: figures.units_pj(v, hw.pj_per_unit) for k, v in by_type.items()})
    latency = LatencyTotals(proc, total, figures.ms(proc, hw.core_mhz), figures.ms(total, hw.core_mhz))
    return Totals(
        layers=len(mapped), unmapped=len(layers) - len(mapped),
        missing=tuple(entry.name for entry in layers if not entry.ok), macs=macs, energy=energy, latency=latency,
        inferences_per_s=round(batch / seconds, 3) if seconds else None,
        gmacs_per_s=round(macs / seconds / 1e9, 3) if seconds else None,
        pj_per_mac=round(pj / macs, 4) if macs else None,
        average_active_pes=round(weighted_pes / total, 2) if total else None,
        search=search_totals(mapped), network_budget=budget)
