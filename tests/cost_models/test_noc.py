"""Ifmap multicast ID groups: every PE's col ID fits, and rows are sent as few times as the IDs allow."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cost_models.noc import rows_needed, ifmap_budget, ifmap_groups, ifmap_sends


def test_conv1_stride_4_set_needs_9_ids_and_sends_each_row_once():
    # CONV1's 11 x 7 set at stride 4 [JSSC IV-A]: rows i + 4j, i < 11, j < 7 -> rows 0..34, nine per residue class.
    grouping = ifmap_groups(7, 11, 4, 1, 14, 32)
    assert len(grouping.groups) == 4  # one per residue class mod 4
    assert ifmap_sends(grouping, 7, 14, 4, 1) == 35  # rows 0..34, each once


@settings(max_examples=300, deadline=None)
@given(cols=st.integers(1, 32), R=st.integers(1, 12), U=st.sampled_from([1, 2, 4]), D=st.integers(1, 3),
       extra_bits=st.integers(0, 2), distinct=st.booleans(), data=st.data())
def test_every_col_id_fits_its_budget(cols, R, U, D, extra_bits, distinct, data):
    bits = max(1, (cols - 1).bit_length()) + extra_bits  # the hardware check's 2**bits >= cols
    e = data.draw(st.integers(1, cols * 3))
    budget = ifmap_budget(bits, cols, e, distinct)
    grouping = ifmap_groups(e, R, U, D, cols, budget)
    seen = set()
    needed: set[int] = set()
    for k, members in enumerate(grouping.groups):
        for segment, i in members:
            seen.add((segment, i))
            rows = rows_needed(segment, i, e, cols, U, D)
            needed.update(rows)
            ids = [(row - grouping.base[k]) // U for row in rows]
            assert all(0 <= x < budget for x in ids)
            assert all((row - grouping.base[k]) % U == 0 for row in rows)  # one residue class per group
    assert len(seen) == R * -(-e // cols)  # every X-bus is in exactly one group
    assert ifmap_sends(grouping, e, cols, U, D) >= len(needed)  # each needed row sent at least once
