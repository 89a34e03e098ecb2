"""The mapping space of one layer: variable ranges shared by CP-SAT and the enumerator."""

from __future__ import annotations

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import Vars


def ranges(layer: LayerShape, hw: Hardware) -> Vars:
    """Each variable's inclusive upper bound (all start at 1): loose bounds implied by single limits.

    The full limits are constraints of the model.
    """
    S = layer.S
    return Vars(
        n=layer.N,
        e=max(1, min(layer.E, hw.cols * max(1, hw.rows // layer.R))),  # wider sets cannot be placed
        p=max(1, min(layer.Mg, hw.psum_spad, hw.filter_spad // S)),
        q=max(1, min(layer.Cg, hw.ifmap_spad // S)),
        r=max(1, min(layer.Cg, hw.rows // layer.R)),
        t=max(1, min(layer.Mg, hw.pes)),
        g=max(1, min(layer.groups, hw.pes)),
        m_per_pt=max(1, layer.Mg),
    )


def to_mapping(layer: LayerShape, values: dict[str, int]) -> Mapping:
    """Solver values -> a Mapping (m = m_per_pt*p*t, capped at the group's filters)."""
    m = min(values["m_per_pt"] * values["p"] * values["t"], layer.Mg)
    return Mapping(n=values["n"], e=values["e"], p=values["p"], q=values["q"], r=values["r"],
                   t=values["t"], g=values["g"], m=m)


def from_mapping(mapping: Mapping) -> dict[str, int]:
    """A Mapping -> solver values (``to_mapping``'s inverse: the fewest filters per PE set that give ``m``)."""
    per_pt = mapping.p * mapping.t
    return {"n": mapping.n, "e": mapping.e, "p": mapping.p, "q": mapping.q, "r": mapping.r, "t": mapping.t,
            "g": mapping.g, "m_per_pt": -(-mapping.m // per_pt)}
