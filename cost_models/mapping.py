"""How one layer is scheduled on the array: the paper's (m, n, e, p, q, r, t) plus g.

The mapping is the *how* half of the Halide split; the layer shape is the *what*.
Placement (strip-mining, segments, replicated sets) is derived from it, never
stored, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape


@dataclass(frozen=True)
class Mapping:
    """Row-stationary mapping parameters ([JSSC Table II]).

    n  ifmaps (batch) per processing pass
    e  width of a PE set: ofmap rows computed at once (e < E is strip-mining)
    p  filters interleaved in one PE;  q  channels interleaved in one PE
    r  PE sets working on different channels (psums accumulate in the array)
    t  PE sets working on different filters (they share the ifmap)
    g  PE sets working on different groups (grouped / depthwise convolution)
    m  ofmap channels whose psums the global buffer holds (a multiple of p*t)
    """

    n: int
    e: int
    p: int
    q: int
    r: int
    t: int
    g: int
    m: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


PARAMETERS = tuple(item.name for item in fields(Mapping))  # the order reports list them in


def segments_of(e: int, cols: int) -> int:
    return -(-e // cols)


@dataclass(frozen=True)
class Placement:
    """Where the PE sets sit on the physical array (derived from a mapping).

    A logical set is R rows x e columns.  If e exceeds the array width it is
    split into ``segments`` of at most ``cols`` columns stacked vertically
    ([JSSC IV-A]: CONV2's 5x27 becomes 5x14 + 5x13).  The r channel sets of
    one filter/group slot are stacked vertically so their psums can flow up the
    local network; such a stack is ``stack_rows`` tall and ``width`` wide.
    Stacks (t * g of them, index gi * t + ti) are placed left to right,
    ``across`` per band, then band by band.
    """

    set_rows: int
    e: int
    segments: int
    width: int
    stack_rows: int
    across: int
    bands: int
    stacks: int
    r: int
    t: int
    g: int

    @property
    def active_pes(self) -> int:
        return self.set_rows * self.e * self.r * self.t * self.g

    def stack_origin(self, index: int) -> tuple[int, int]:
        """(row, col) of the top-left PE of stack ``index`` = gi * t + ti."""
        band, slot = divmod(index, self.across)
        return band * self.stack_rows, slot * self.width

    def describe(self) -> str:
        parts = [f"{self.r * self.t * self.g} set(s) of {self.set_rows}x{self.e}"]
        if self.segments > 1:
            parts.append(f"each split into {self.segments} segments of <= {self.width} columns")
        parts.append(f"r={self.r} stacked, {self.t * self.g} stack(s) placed {self.across} across")
        return "; ".join(parts)


def placement(layer: LayerShape, mapping: Mapping, hw: Hardware) -> "Placement":
    """Derive the physical placement; valid only for mappings ``check`` accepts."""
    segments = segments_of(mapping.e, hw.cols)
    width = min(mapping.e, hw.cols)
    stack_rows = mapping.r * segments * layer.R
    return Placement(
        set_rows=layer.R, e=mapping.e, segments=segments, width=width, stack_rows=stack_rows,
        across=hw.cols // width, bands=hw.rows // stack_rows if stack_rows else 0,
        stacks=mapping.t * mapping.g, r=mapping.r, t=mapping.t, g=mapping.g,
    )


@dataclass(frozen=True)
class PERole:
    """What one active PE computes: the single layout emitter and simulator share.

    Stack ``stack = gi * t + ti`` holds, top to bottom, for each segment, the r
    channel sets, each R rows (filter rows i = 0..R-1).  PE (i, j) of channel
    set ``ri`` convolves filter row i with ifmap row ``j*U + i*D`` of the strip
    into ofmap row j.  Psums flow up the local network inside one segment's
    r*R rows: the bottom PE of that chain takes its psum from the psum GIN,
    the top PE sends the result on the output network (GON).
    """

    row: int
    col: int
    stack: int
    gi: int
    ti: int
    segment: int
    ri: int
    i: int
    j: int
    chain_bottom: bool
    chain_top: bool


def pe_roles(layer: LayerShape, mapping: Mapping, hw: Hardware) -> list[PERole]:
    """Every active PE's role, in row-major order of the physical array."""
    place = placement(layer, mapping, hw)
    R, cols = layer.R, hw.cols
    roles = []
    for stack in range(mapping.t * mapping.g):
        gi, ti = divmod(stack, mapping.t)
        top, left = place.stack_origin(stack)
        for segment in range(place.segments):
            for ri in range(mapping.r):
                for i in range(R):
                    row = top + segment * mapping.r * R + ri * R + i
                    for j in range(segment * cols, min(mapping.e, (segment + 1) * cols)):
                        roles.append(PERole(
                            row=row, col=left + j - segment * cols, stack=stack, gi=gi, ti=ti,
                            segment=segment, ri=ri, i=i, j=j,
                            chain_bottom=(ri == mapping.r - 1 and i == R - 1), chain_top=(ri == 0 and i == 0)))
    roles.sort(key=lambda role: (role.row, role.col))
    return roles
