"""ID assignment for the four on-chip networks (the "allocation circuit", [JSSC V-B]).

One function, ``allocate``, turns a layer's mapping into (a) the static IDs the
scan chain loads (a row ID per X-bus and a col ID per PE on the filter, ifmap
and psum GINs and the GON), the psum source of every PE and the clock-gating
mask, and (b) the tags the top-level controller attaches to each value.  Both
halves come from ``cost_models.mapping.pe_roles`` (where each PE sits) and
``cost_models.noc.ifmap_groups`` (the ifmap row-ID groups the cost model counts),
so the emitted IDs, the simulated deliveries and the counted sends agree.

Assignment (``stack`` = gi * t + ti, ``band``/``slot`` its position):
  filter   row ID per (band, ri, i), shared by a stack's segments; col ID = slot.
           One send of a filter row reaches every PE of its PE-set row.
  ifmap    row ID per (ri, k) when g = 1 (every stack needs the same ifmap), per
           (band, ri, k) when g > 1; k is the noc row-ID group.  Col ID =
           slot * budget (g > 1 only) + (j*U + i*D - base_k) // U: one send of an
           ifmap row reaches its whole diagonal.
  psum     row ID per (band, segment) on the chain-bottom rows; col ID = column.
  output   row ID per (band, segment) on the chain-top rows; col ID = column.
Rows and PEs a network never addresses get a spare ID no tag uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping, PERole, Placement, pe_roles, placement
from cost_models.noc import IfmapGroups, group_rows, ifmap_budget, ifmap_groups

NETWORKS: tuple[str, ...] = ("filter", "ifmap", "psum", "output")


class AllocationError(ValueError):
    """The mapping needs more IDs than the hardware's ID widths provide (``check`` should have refused it)."""


@dataclass(frozen=True)
class NetworkIds:
    """Static IDs of one network: ``row_ids[y]`` per X-bus, ``col_ids[y][x]`` per PE."""

    row_ids: tuple[int, ...]
    col_ids: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class IfmapSend:
    """One ifmap tag the controller uses: strip-relative row ``x`` of channel set ``ri``.

    ``stack`` is the stack whose group the row belongs to when g > 1, or -1 when
    every stack shares the ifmap (g = 1).  ``group`` is the noc row-ID group.
    """

    stack: int
    ri: int
    group: int
    x: int
    row: int
    col: int


@dataclass(frozen=True)
class Allocation:
    """Everything the scan chain loads about the networks, plus the controller's tag tables."""

    networks: tuple[NetworkIds, ...]  # in NETWORKS order
    psum_from_ln: tuple[tuple[bool, ...], ...]
    active: tuple[tuple[bool, ...], ...]
    filter_tags: tuple[tuple[tuple[int, int, int], tuple[int, int]], ...]  # ((stack, ri, i), (row, col))
    ifmap_sends: tuple[IfmapSend, ...]
    chain_tags: tuple[tuple[tuple[int, int, int], tuple[int, int], tuple[int, int]], ...]
    # ((stack, segment, x), psum (row, col), output (row, col))
    grouping: IfmapGroups

    def network(self, name: str) -> NetworkIds:
        return self.networks[NETWORKS.index(name)]


def _spare(used: set[int], bits: int, what: str) -> int:
    """The largest ID value no tag uses: given to X-buses and PEs the network never addresses."""
    for value in range(2**bits - 1, -1, -1):
        if value not in used:
            return value
    raise AllocationError(f"{what}: all {2**bits} IDs are in use, none is left for unaddressed X-buses")


def _check_width(value: int, bits: int, what: str) -> None:
    if not 0 <= value < 2**bits:
        raise AllocationError(f"{what}: ID {value} does not fit {bits} bits")


class _Grid:
    """Mutable row/col ID grid of one network while IDs are assigned."""

    def __init__(self, rows: int, cols: int, name: str, row_bits: int, col_bits: int) -> None:
        self.rows: list[int | None] = [None] * rows
        self.cols: list[list[int | None]] = [[None] * cols for _ in range(rows)]
        self.name, self.row_bits, self.col_bits = name, row_bits, col_bits

    def set_row(self, y: int, value: int) -> None:
        _check_width(value, self.row_bits, f"{self.name} row ID of X-bus {y}")
        if self.rows[y] not in (None, value):
            raise AllocationError(f"{self.name}: X-bus {y} needs two row IDs ({self.rows[y]} and {value})")
        self.rows[y] = value

    def set_col(self, y: int, x: int, value: int) -> None:
        _check_width(value, self.col_bits, f"{self.name} col ID of PE ({y}, {x})")
        self.cols[y][x] = value

    def freeze(self) -> NetworkIds:
        used = {v for v in self.rows if v is not None}
        row_spare = _spare(used, self.row_bits, f"{self.name} row IDs") if None in self.rows else 0
        col_spare = 2**self.col_bits - 1  # gated PEs: their multicast controllers are off anyway
        return NetworkIds(
            tuple(row_spare if v is None else v for v in self.rows),
            tuple(tuple(col_spare if v is None else v for v in row) for row in self.cols),
        )


@dataclass(frozen=True)
class _Scheme:
    """The ID scheme of one mapping (module docstring): which row and col IDs each network uses where."""

    place: Placement
    mapping: Mapping
    R: int
    U: int
    D: int
    cols: int
    multi: bool  # g > 1: side-by-side stacks need distinct ifmaps
    budget: int  # ifmap col IDs per stack slot (cost_models.noc.ifmap_budget)
    grouping: IfmapGroups

    def band_slot(self, stack: int) -> tuple[int, int]:
        return divmod(stack, self.place.across)

    def filter_row(self, band: int, ri: int, i: int) -> int:
        return (band * self.mapping.r + ri) * self.R + i

    def ifmap_row(self, band: int, ri: int, k: int) -> int:
        return ((band if self.multi else 0) * self.mapping.r + ri) * len(self.grouping.groups) + k

    def ifmap_col(self, slot: int, k: int, row: int) -> int:
        """Col ID of the PE that takes strip row ``row`` in row-ID group ``k``: one send reaches its diagonal."""
        return (slot * self.budget if self.multi else 0) + (row - self.grouping.base[k]) // self.U

    def chain_row(self, band: int, segment: int) -> int:
        return band * self.place.segments + segment


def allocate(layer: LayerShape, mapping: Mapping, hw: Hardware) -> Allocation:
    """IDs, psum sources, gating and controller tags for a mapping ``check`` accepts."""
    U, D, R, cols = layer.stride[0], layer.dilation[0], layer.R, hw.cols
    multi = mapping.g > 1
    budget = ifmap_budget(hw.col_id("ifmap"), cols, mapping.e, multi)
    scheme = _Scheme(placement(layer, mapping, hw), mapping, R, U, D, cols, multi, budget,
                     ifmap_groups(mapping.e, R, U, D, cols, budget))
    grids, active, from_ln = _assign_ids(pe_roles(layer, mapping, hw), scheme, hw)
    return Allocation(
        networks=tuple(grids[name].freeze() for name in NETWORKS),
        psum_from_ln=tuple(tuple(row) for row in from_ln),
        active=tuple(tuple(row) for row in active),
        filter_tags=_filter_tags(scheme),
        ifmap_sends=_ifmap_sends(scheme),
        chain_tags=_chain_tags(scheme),
        grouping=scheme.grouping,
    )


def _assign_ids(roles: list[PERole], scheme: _Scheme, hw: Hardware
                ) -> tuple[dict[str, _Grid], list[list[bool]], list[list[bool]]]:
    """Every network's static IDs, the clocked PEs and each PE's psum source, from the PEs' roles."""
    cols, grouping = hw.cols, scheme.grouping
    grids = {name: _Grid(hw.rows, cols, name, hw.row_id_bits, hw.col_id(name)) for name in NETWORKS}
    active = [[False] * cols for _ in range(hw.rows)]
    from_ln = [[False] * cols for _ in range(hw.rows)]
    for role in roles:
        band, slot = scheme.band_slot(role.stack)
        y, x = role.row, role.col
        active[y][x] = True
        from_ln[y][x] = not role.chain_bottom
        grids["filter"].set_row(y, scheme.filter_row(band, role.ri, role.i))
        grids["filter"].set_col(y, x, slot)
        k = grouping.group_of(role.segment, role.i)
        grids["ifmap"].set_row(y, scheme.ifmap_row(band, role.ri, k))
        grids["ifmap"].set_col(y, x, scheme.ifmap_col(slot, k, role.j * scheme.U + role.i * scheme.D))
        if role.chain_bottom:
            grids["psum"].set_row(y, scheme.chain_row(band, role.segment))
            grids["psum"].set_col(y, x, x)
        if role.chain_top:
            grids["output"].set_row(y, scheme.chain_row(band, role.segment))
            grids["output"].set_col(y, x, x)
    return grids, active, from_ln


def _filter_tags(scheme: _Scheme) -> tuple[tuple[tuple[int, int, int], tuple[int, int]], ...]:
    """One filter tag per (stack, channel set ri, filter row i): its PE-set row's row ID and the stack's slot."""
    tags = []
    for stack in range(scheme.place.stacks):
        band, slot = scheme.band_slot(stack)
        for ri in range(scheme.mapping.r):
            for i in range(scheme.R):
                tags.append(((stack, ri, i), (scheme.filter_row(band, ri, i), slot)))
    return tuple(tags)


def _ifmap_sends(scheme: _Scheme) -> tuple[IfmapSend, ...]:
    """One ifmap send per strip row a row-ID group needs, per channel set (and per stack when g > 1)."""
    sends = []
    mapping, grouping = scheme.mapping, scheme.grouping
    for stack in (range(scheme.place.stacks) if scheme.multi else (-1,)):
        band, slot = scheme.band_slot(max(stack, 0))
        for ri in range(mapping.r):
            for k, members in enumerate(grouping.groups):
                for x in group_rows(members, mapping.e, scheme.cols, scheme.U, scheme.D):
                    sends.append(IfmapSend(stack, ri, k, x, scheme.ifmap_row(band, ri, k), scheme.ifmap_col(slot, k, x)))
    return tuple(sends)


def _chain_tags(scheme: _Scheme) -> tuple[tuple[tuple[int, int, int], tuple[int, int], tuple[int, int]], ...]:
    """Per psum chain (stack, segment, column): its psum-GIN tag and its GON tag (the same (row, col))."""
    place, tags = scheme.place, []
    for stack in range(place.stacks):
        band, slot = scheme.band_slot(stack)
        for segment in range(place.segments):
            for x in range(slot * place.width,
                           slot * place.width + min(place.width, scheme.mapping.e - segment * scheme.cols)):
                tag = (scheme.chain_row(band, segment), x)
                tags.append(((stack, segment, x), tag, tag))
    return tuple(tags)
