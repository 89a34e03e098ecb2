"""``evaluate``: score one mapping of one layer, and ``check``: name what it violates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping as MappingT

from cost_models import figures
from cost_models.errors import InputError
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping, placement
from cost_models.accesses import DATA_TYPES, LEVELS, Accesses
from cost_models.rowstationary import OBJECTIVES, RATIO_ONE, Counts, DataRatios, RowStationary, Usage, Vars, \
    layer_limits
from cost_models.rules import DEFAULT_SPACE, check_space, space_limits


class InvalidMapping(InputError):
    """A mapping that breaks one or more hardware limits."""

    def __init__(self, violations: list[str]) -> None:
        super().__init__("invalid mapping: " + "; ".join(violations))
        self.violations = violations


def variables(mapping: Mapping) -> Vars:
    """The model's variables of a mapping: m as a number of p*t-filter passes (see ``Vars``)."""
    pt = mapping.p * mapping.t
    m_per_pt = -(-mapping.m // pt) if pt else 0
    return Vars(n=mapping.n, e=mapping.e, p=mapping.p, q=mapping.q, r=mapping.r, t=mapping.t, g=mapping.g,
                m_per_pt=m_per_pt)


def compulsory_dram_words(layer: LayerShape, ratios: DataRatios = DataRatios()) -> dict[str, int]:
    """DRAM words per data type if every datum crossed the link once: the input pixels the layer reads and its
    ofmap at their RLC ratios, every weight (the floor no mapping goes below; tests hold any mapping to it)."""
    return {"ifmap": layer.ifmap_read_size() * ratios.ifmap_dram // RATIO_ONE, "filter": layer.weights(),
            "psum": layer.ofmap_size() * ratios.ofmap_dram // RATIO_ONE}


def check(layer: LayerShape, mapping: Mapping, hw: Hardware, space: str = DEFAULT_SPACE) -> list[str]:
    """Every violated limit of mapping ``space`` (cost_models.rules), each named with its numbers; empty when valid."""
    check_space(space)
    problems = layer_limits(layer, hw)
    if problems:
        return problems
    values = mapping.as_dict()
    bad = [f"{name}={value} must be >= 1" for name, value in values.items() if not isinstance(value, int) or value < 1]
    if bad:
        return bad
    if mapping.m % (mapping.p * mapping.t) and mapping.m != layer.Mg:
        return [f"m={mapping.m} must be a multiple of p*t={mapping.p * mapping.t} or all {layer.Mg} filters of a group"]
    if mapping.e > layer.E:
        return [f"e={mapping.e} exceeds the ofmap height E={layer.E}"]
    model = RowStationary(layer, hw)
    return [f"{limit.what}: {limit.lhs} > {limit.rhs}" if limit.name != "groups_or_filters"
            else limit.what
            for limit in space_limits(model, variables(mapping), space) if not limit.lhs <= limit.rhs]


def _frozen(d: dict) -> MappingT:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Cost:
    """Energy and latency breakdown of one mapped layer (immutable)."""

    macs: int  # the layer's MACs (useful work)
    idle_macs: int  # MACs idle columns perform in a last strip narrower than e (wasted work, charged)
    accesses: Accesses  # level x data type -> 16-bit words
    energy_units: MappingT[str, int]  # dram, glb, array, rf, mac, static -> normalized energy, MAC = 1
    energy_units_by_type: MappingT[str, int]  # ifmap / filter / psum / mac / static
    energy_pj_by_level: MappingT[str, float]  # dram, glb, array, rf, mac, static (clock + leakage)
    compute_cycles: int
    processing_cycles: int
    total_cycles: int
    core_mhz: int
    active_pes: int
    pes: int
    passes: int
    glb_banks: MappingT[str, int]  # ifmap / psum / free
    utilisation: MappingT[str, Usage]  # each spad and buffer: used / capacity (RowStationary.utilisation)
    objective_units: MappingT[str, int] = field(default_factory=dict)
    cycle_parts: MappingT[str, int] = field(default_factory=dict)  # total_cycles as a sum (rowstationary.CYCLE_PARTS)
    stream_cycles: MappingT[str, int] = field(default_factory=dict)  # ifmap / psum / output bus streaming cycles

    @property
    def energy_total_units(self) -> int:
        return sum(self.energy_units.values())

    @property
    def energy_pj(self) -> float:
        return figures.pj(sum(self.energy_pj_by_level.values()))

    @property
    def processing_ms(self) -> float:
        return figures.ms(self.processing_cycles, self.core_mhz)

    @property
    def total_ms(self) -> float:
        return figures.ms(self.total_cycles, self.core_mhz)

    @property
    def utilization(self) -> float:
        return self.active_pes / self.pes

    def level_total(self, level: str) -> int:
        return self.accesses.level(level).total

    def as_dict(self) -> dict:
        """JSON-ready form (the report's per-layer ``energy``/``latency``/``accesses`` keys)."""
        return {
            "macs": self.macs,
            "idle_macs": self.idle_macs,
            "active_pes": self.active_pes,
            "utilization": round(self.utilization, 6),
            "passes": self.passes,
            "glb_banks": dict(self.glb_banks),
            "accesses": {level: self.level_total(level) for level in LEVELS},
            "accesses_by_type": self.accesses.as_dict(),
            "energy": {
                "total_pj": self.energy_pj,
                "total_units": self.energy_total_units,
                "units_by_level": dict(self.energy_units),
                "units_by_type": dict(self.energy_units_by_type),
                "pj_by_level": dict(self.energy_pj_by_level),
            },
            "latency": {
                "compute_cycles": self.compute_cycles,
                "processing_cycles": self.processing_cycles,
                "total_cycles": self.total_cycles,
                "processing_ms": self.processing_ms,
                "total_ms": self.total_ms,
                "parts": dict(self.cycle_parts),
                "stream_cycles": dict(self.stream_cycles),
            },
        }


def evaluate(layer: LayerShape, mapping: Mapping, hardware: Hardware, ratios: DataRatios = DataRatios()) -> Cost:
    """Energy and latency of ``mapping`` for ``layer`` on ``hardware``; raises InvalidMapping if it does not fit."""
    problems = check(layer, mapping, hardware)
    if problems:
        raise InvalidMapping(problems)
    hw = hardware
    model = RowStationary(layer, hw, ratios)
    v = variables(mapping)
    c = model.counts(v)
    units = model.energy(c)
    accesses = c.accesses.map(int)
    cells = model.energy_cells(c)  # zero gating's savings are in the rf cells of the data type that saves
    by_type: dict[str, int] = {dt: sum(int(cells[level, dt]) for level in LEVELS) for dt in DATA_TYPES}
    by_type["mac"] = units["mac"]
    by_type["static"] = units["static"]
    pj = {level: figures.units_pj(units[level], hw.pj_per_unit) for level in ("dram", "glb", "array", "rf", "mac", "static")}
    glb = model.glb_footprint(v)
    banks_i, banks_p = int(glb.ifmap_banks), int(glb.psum_banks)
    return Cost(
        macs=layer.macs(),
        idle_macs=int(c.macs) - layer.macs(),
        accesses=accesses,
        energy_units=_frozen({k: int(v) for k, v in units.items()}),
        energy_units_by_type=_frozen({k: int(v) for k, v in by_type.items()}),
        energy_pj_by_level=_frozen(pj),
        compute_cycles=int(c.cycles.compute),
        processing_cycles=int(c.cycles.processing),
        total_cycles=int(c.cycles.total),
        core_mhz=hw.core_mhz,
        active_pes=placement(layer, mapping, hw).active_pes,
        pes=hw.pes,
        passes=int(c.cycles.passes),
        glb_banks=_frozen({"ifmap": banks_i, "psum": banks_p, "free": hw.glb_banks - banks_i - banks_p}),
        utilisation=_frozen({name: Usage(int(use.used), int(use.capacity))
                             for name, use in model.utilisation(v).items()}),
        objective_units=_frozen({kind: int(model.objective_from_counts(c, kind)) for kind in OBJECTIVES}),
        cycle_parts=_frozen({k: int(v) for k, v in c.cycles.parts.items()}),
        stream_cycles=_frozen({k: int(v) for k, v in c.cycles.streams.items()}),
    )


@dataclass(frozen=True)
class Binding:
    """A limit that binds at a mapping: tight (used == capacity), or broken by raising one of ``raised_by``.

    ``raised_by`` names the mapping parameters (n e p q r t g m) whose next
    value (one more; for m, one more block of p*t filters) would break this
    limit with every other parameter kept; a next value outside the
    parameter's own range (g = 2 of an ungrouped layer) does not count, except
    for that range's own limit.  A latency bound is raised by a next value
    that keeps every other limit and takes longer than the bound.  ``kind`` is ``hardware`` (a
    storage, the PE array, a latency bound) or ``domain`` (a parameter at the
    end of its range, e.g. n = N).
    """

    name: str
    what: str
    used: int
    capacity: int
    tight: bool
    raised_by: tuple[str, ...]
    kind: str


def binding_limits(layer: LayerShape, mapping: Mapping, hw: Hardware, ratios: DataRatios = DataRatios(),
                   max_cycles: int | None = None) -> list[Binding]:
    """The limits of ``RowStationary.limits`` (and a latency bound) that bind at ``mapping``, in their order."""
    model = RowStationary(layer, hw, ratios)
    v = variables(mapping)
    steps = {name: variables(replace(mapping, **{name: getattr(mapping, name) + (mapping.p * mapping.t if name == "m"
                                                                                 else 1)}))
             for name in ("n", "e", "p", "q", "r", "t", "g", "m")}
    if v.e >= layer.E:  # e = E: one more is outside the model's tables, and breaks only e <= E
        del steps["e"]
    stepped = {name: {limit.name: limit for limit in model.limits(w)} for name, w in steps.items()}
    broken = {name: {key for key, lim in limits.items() if not lim.lhs <= lim.rhs} for name, limits in stepped.items()}
    if "e" not in steps:
        broken["e"] = {"e_range"}
    out = []
    for limit in model.limits(v):
        # A step past a parameter's own range is no next value: it only says that range binds.
        raised = tuple(name for name in broken if limit.name in broken[name]
                       and (f"{name}_range" not in broken[name] or limit.name == f"{name}_range"))
        domain = limit.name.endswith("_range")
        if domain and limit.rhs == (1 if limit.name[0] in "negpq" else 0):
            continue  # a parameter with one possible value (g of an ungrouped layer) explains nothing
        tight = limit.lhs == limit.rhs and limit.name != "groups_or_filters"  # an exclusion, not a capacity
        if tight or raised:
            out.append(Binding(limit.name, limit.what, int(limit.lhs), int(limit.rhs), tight, raised,
                               "domain" if domain else "hardware"))
    if max_cycles is not None:
        total = int(model.counts(v).cycles.total)
        raised = tuple(name for name, w in steps.items()
                       if not broken[name] and model.counts(w).cycles.total > max_cycles)
        if total == max_cycles or raised:
            out.append(Binding("latency_bound", "latency bound: total cycles", total, max_cycles, total == max_cycles,
                               raised, "hardware"))
    return out
