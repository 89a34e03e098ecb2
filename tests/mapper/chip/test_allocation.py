"""ID assignment: every tag reaches exactly the PEs whose role needs it, for every kind of placement."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cost_models.cost import check
from cost_models.hardware import default_hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping, pe_roles, placement
from cost_models.noc import ifmap_sends
from mapper.chip.allocation import NETWORKS, allocate

HW = default_hardware()

# The published AlexNet mappings [JSSC Table III] and a depthwise layer with group sets.
PUBLISHED = {
    "conv1": (LayerShape(4, 96, 3, 227, 227, 11, 11, stride=(4, 4)), Mapping(1, 7, 16, 1, 1, 2, 1, 96)),
    "conv2": (LayerShape(4, 256, 96, 27, 27, 5, 5, pads=(2, 2, 2, 2), groups=2), Mapping(1, 27, 16, 2, 1, 1, 1, 64)),
    "conv3": (LayerShape(4, 384, 256, 13, 13, 3, 3, pads=(1, 1, 1, 1)), Mapping(4, 13, 16, 4, 1, 4, 1, 64)),
    "conv4": (LayerShape(4, 384, 384, 13, 13, 3, 3, pads=(1, 1, 1, 1), groups=2), Mapping(4, 13, 16, 3, 2, 2, 1, 64)),
    "conv5": (LayerShape(4, 256, 384, 13, 13, 3, 3, pads=(1, 1, 1, 1), groups=2), Mapping(4, 13, 16, 3, 2, 2, 1, 64)),
    "depthwise": (LayerShape(1, 32, 32, 14, 14, 3, 3, pads=(1, 1, 1, 1), groups=32), Mapping(1, 14, 1, 1, 1, 1, 4, 1)),
}


@st.composite
def layer_and_mapping(draw, max_cg: int = 6, max_mg: int = 8, max_hw: int = 20):
    """A small random layer and a random mapping that ``check`` accepts."""
    R, S = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    D, Dw = draw(st.sampled_from((1, 1, 1, 2))), draw(st.sampled_from((1, 1, 2)))
    U, Uw = draw(st.sampled_from((1, 1, 2, 4))), draw(st.integers(1, 3))
    ext_h, ext_w = (R - 1) * D + 1, (S - 1) * Dw + 1
    top, bottom = draw(st.integers(0, ext_h - 1)), draw(st.integers(0, ext_h - 1))
    left, right = draw(st.integers(0, ext_w - 1)), draw(st.integers(0, ext_w - 1))
    H = draw(st.integers(max(1, ext_h - top - bottom), ext_h + draw(st.sampled_from((8, max_hw, 2 * max_hw)))))
    W = draw(st.integers(max(1, ext_w - left - right), ext_w + max_hw // 2))
    groups = draw(st.sampled_from((1, 1, 1, 2, 3)))
    Cg, Mg, N = draw(st.integers(1, max_cg)), draw(st.integers(1, max_mg)), draw(st.integers(1, 3))
    layer = LayerShape(N, Mg * groups, Cg * groups, H, W, R, S, stride=(U, Uw), pads=(top, left, bottom, right),
                       dilation=(D, Dw), groups=groups)
    p, q = draw(st.integers(1, Mg)), draw(st.integers(1, Cg))
    t = draw(st.integers(1, -(-Mg // p)))
    g = 1 if t > 1 else draw(st.integers(1, groups))
    r = draw(st.integers(1, -(-Cg // q)))
    k = draw(st.integers(1, 3))
    e = draw(st.one_of(st.integers(1, layer.E), st.integers(max(1, layer.E - 3), layer.E)))
    mapping = Mapping(draw(st.integers(1, N)), e, p, q, r, t, g, min(k * p * t, Mg))
    assume(check(layer, mapping, HW) == [])
    return layer, mapping


def _assert_delivery(layer: LayerShape, mapping: Mapping) -> None:
    """Each tag reaches exactly the active PEs whose role needs its data (full strip)."""
    alloc = allocate(layer, mapping, HW)
    roles = pe_roles(layer, mapping, HW)
    place = placement(layer, mapping, HW)
    ids = {name: alloc.network(name) for name in NETWORKS}
    active = {(ro.row, ro.col) for ro in roles}
    assert {(y, x) for y in range(HW.rows) for x in range(HW.cols) if alloc.active[y][x]} == active

    def reached(name: str, tag: tuple[int, int]) -> set[tuple[int, int]]:
        net = ids[name]
        return {(y, x) for (y, x) in active if net.row_ids[y] == tag[0] and net.col_ids[y][x] == tag[1]}

    for name in NETWORKS:
        bits = HW.row_id_bits, HW.col_id(name)
        assert all(0 <= v < 2 ** bits[0] for v in ids[name].row_ids)
        assert all(0 <= v < 2 ** bits[1] for row in ids[name].col_ids for v in row)
    for (stack, ri, i), tag in alloc.filter_tags:
        want = {(ro.row, ro.col) for ro in roles if (ro.stack, ro.ri, ro.i) == (stack, ri, i)}
        assert reached("filter", tag) == want
    U, D = layer.stride[0], layer.dilation[0]
    got: dict[tuple[int, int], int] = {}
    for send in alloc.ifmap_sends:
        hit = reached("ifmap", (send.row, send.col))
        for y, x in hit:
            got[(y, x)] = got.get((y, x), 0) + 1
        for ro in roles:
            if (ro.row, ro.col) in hit:
                assert ro.j * U + ro.i * D == send.x and ro.ri == send.ri
                assert send.stack in (-1, ro.stack)
    assert set(got) == active and set(got.values()) == {1}  # every PE gets its row, once
    # The buffer sends what the cost model counts (per channel set and stack group).
    per_set = ifmap_sends(alloc.grouping, mapping.e, HW.cols, U, D)
    assert len(alloc.ifmap_sends) == per_set * mapping.r * (place.stacks if mapping.g > 1 else 1)
    for (stack, segment, x), ptag, otag in alloc.chain_tags:
        chain = [ro for ro in roles if ro.stack == stack and ro.segment == segment and ro.col == x]
        assert reached("psum", ptag) & {(ro.row, ro.col) for ro in chain if ro.chain_bottom} != set()
        assert {p for p in reached("psum", ptag) if not alloc.psum_from_ln[p[0]][p[1]]} == \
            {(ro.row, ro.col) for ro in chain if ro.chain_bottom}
        assert reached("output", otag) == {(ro.row, ro.col) for ro in chain if ro.chain_top}
    for ro in roles:
        assert alloc.psum_from_ln[ro.row][ro.col] == (not ro.chain_bottom)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_mappings_deliver_exactly(name: str) -> None:
    layer, mapping = PUBLISHED[name]
    assert check(layer, mapping, HW) == []
    _assert_delivery(layer, mapping)


def test_segments_share_filter_ids_and_stride4_uses_residue_groups() -> None:
    """CONV2's 5x27 set is two stacked segments fed by one filter send; CONV1's stride-4 diagonals need 4 row IDs."""
    alloc = allocate(*PUBLISHED["conv2"], HW)
    rows = alloc.network("filter").row_ids
    assert rows[0:5] == rows[5:10]
    alloc = allocate(*PUBLISHED["conv1"], HW)
    assert sorted(set(alloc.network("ifmap").row_ids[:11])) == [0, 1, 2, 3]
    assert max(max(row[:14]) for row, on in zip(alloc.network("ifmap").col_ids, alloc.active) if on[0]) < 32


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layer_and_mapping())
def test_random_mappings_deliver_exactly(case: tuple[LayerShape, Mapping]) -> None:
    _assert_delivery(*case)
