"""The mapping space of one layer: variable ranges shared by CP-SAT and the enumerator."""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping


@dataclass(frozen=True)
class Ranges:
    """Inclusive upper bound of each mapping variable (all start at 1); k is m / (p*t)."""

    n: int
    e: int
    p: int
    q: int
    r: int
    t: int
    g: int
    k: int

    def items(self) -> list[tuple[str, int]]:
        return [(name, getattr(self, name)) for name in ("n", "e", "p", "q", "r", "t", "g", "k")]


def ranges(layer: LayerShape, hw: Hardware) -> Ranges:
    """Loose bounds implied by single limits; the full limits are constraints of the model."""
    S = layer.S
    return Ranges(
        n=layer.N,
        e=max(1, min(layer.E, hw.cols * max(1, hw.rows // layer.R))),  # wider sets cannot be placed
        p=max(1, min(layer.Mg, hw.psum_spad, hw.filter_spad // S)),
        q=max(1, min(layer.Cg, hw.ifmap_spad // S)),
        r=max(1, min(layer.Cg, hw.rows // layer.R)),
        t=max(1, min(layer.Mg, hw.pes)),
        g=max(1, min(layer.groups, hw.pes)),
        k=max(1, layer.Mg),
    )


def to_mapping(layer: LayerShape, values: dict[str, int]) -> Mapping:
    """Solver values -> a Mapping (m = k*p*t, capped at the group's filters)."""
    m = min(values["k"] * values["p"] * values["t"], layer.Mg)
    return Mapping(n=values["n"], e=values["e"], p=values["p"], q=values["q"], r=values["r"],
                   t=values["t"], g=values["g"], m=m)
