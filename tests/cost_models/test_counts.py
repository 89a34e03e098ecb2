"""Access counts obey the conservation laws of the loop nest, for random layers and random valid mappings."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cost_models import silicon
from cost_models import LayerShape, Mapping, check, evaluate
from cost_models.layer import ShapeError
from cost_models.rowstationary import RATIO_ONE, VARIABLES, DataRatios, RowStationary, Vars
from cost_models.cost import variables


@st.composite
def layers(draw) -> LayerShape:
    groups = draw(st.sampled_from([1, 1, 1, 2, 4]))
    R, S = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kwargs = dict(
        N=draw(st.integers(1, 3)), M=groups * draw(st.integers(1, 24)), C=groups * draw(st.integers(1, 24)),
        H=draw(st.integers(1, 24)), W=draw(st.integers(1, 24)), R=R, S=S,
        stride=(draw(st.sampled_from([1, 2, 4])), draw(st.integers(1, 3))),
        pads=tuple(draw(st.integers(0, 2)) for _ in range(4)),
        dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))), groups=groups)
    try:
        return LayerShape(**kwargs)
    except ShapeError:
        assume(False)
        raise


def random_valid_mapping(layer: LayerShape, hw, seed: int) -> Mapping | None:
    rng = random.Random(seed)
    for _ in range(400):
        p, t = rng.randint(1, min(layer.Mg, 24)), rng.randint(1, 8)
        m = min(layer.Mg, p * t * rng.randint(1, 4))
        mapping = Mapping(n=rng.randint(1, layer.N), e=rng.randint(1, layer.E), p=p, q=rng.randint(1, min(layer.Cg, 12)),
                          r=rng.randint(1, 4), t=t, g=rng.randint(1, layer.groups), m=m)
        if not check(layer, mapping, hw):
            return mapping
    return None


def ceil(a: int, b: int) -> int:
    return -(-a // b)


@settings(max_examples=150, deadline=None)
@given(layer=layers(), seed=st.integers(0, 2**16))
def test_conservation_laws(hw, layer, seed):
    mapping = random_valid_mapping(layer, hw, seed)
    assume(mapping is not None)
    cost = evaluate(layer, mapping, hw)
    a, macs = cost.accesses, layer.macs() + cost.idle_macs
    out = layer.ofmap_size()
    assert cost.macs == layer.macs() and cost.idle_macs >= 0
    assert (cost.idle_macs == 0) or layer.E % mapping.e  # only a narrower last strip wastes MACs
    # Every MAC performed reads one filter and one ifmap value from the RF; psums are read and written once per MAC.
    assert a.rf.filter - a.array.filter == macs
    assert a.rf.ifmap - a.array.ifmap == macs
    assert a.rf.psum == 2 * macs
    # Each ofmap value leaves the array once per pass over its channels (and is read back or drained once).
    channel_blocks = ceil(layer.Cg, mapping.q * mapping.r)
    assert a.glb.psum == 2 * out * channel_blocks
    # Ofmaps are written to DRAM exactly once (uncompressed here); every filter value is read at least once.
    assert a.dram.psum == out
    assert a.dram.filter >= layer.weights() and a.dram.filter % layer.weights() == 0
    # Every ifmap row some ofmap row needs comes from DRAM at least once.
    rows_needed = len({j * layer.U + i * layer.dilation[0] for j in range(layer.E) for i in range(layer.R)})
    assert a.dram.ifmap >= layer.N * layer.C * rows_needed * layer.Wp
    # The array delivers each filter weight to the PEs at least once per DRAM fetch of it.
    assert a.array.filter >= a.dram.filter
    # No PE does more than one MAC per cycle; latency only grows as DRAM is added.
    assert cost.compute_cycles * cost.active_pes >= layer.macs()
    assert cost.total_cycles >= cost.processing_cycles >= cost.compute_cycles >= 1
    assert 1 <= cost.active_pes <= hw.pes
    # The two energy breakdowns add up to the same total.  That the energy is what the accesses cost is
    # checked against the simulator's own counts (tests/mapper/chip, test_energy_is_the_simulated_accesses_priced).
    assert sum(cost.energy_units_by_type.values()) == cost.energy_total_units == sum(cost.energy_units.values())


@settings(max_examples=60, deadline=None)
@given(layer=layers(), seed=st.integers(0, 2**16), nonzero=st.integers(0, RATIO_ONE - 1))
def test_zero_gating_lowers_energy_not_latency(hw, layer, seed, nonzero):
    mapping = random_valid_mapping(layer, hw, seed)
    assume(mapping is not None)
    dense = evaluate(layer, mapping, hw)
    sparse = evaluate(layer, mapping, hw, DataRatios(ifmap_nonzero=nonzero))
    assert sparse.total_cycles == dense.total_cycles
    assert sparse.energy_total_units <= dense.energy_total_units
    assert sparse.energy_units["mac"] == (layer.macs() + sparse.idle_macs) * nonzero // RATIO_ONE
    ungated = replace(hw, zero_gating=False)
    assert evaluate(layer, mapping, ungated, DataRatios(ifmap_nonzero=nonzero)).energy_units == dense.energy_units


def test_compression_scales_only_fmap_dram_traffic(hw):
    layer, mapping = silicon.LAYERS["CONV3"], silicon.PUBLISHED["CONV3"]
    raw = evaluate(layer, mapping, hw)
    half = evaluate(layer, mapping, hw, DataRatios(ifmap_dram=RATIO_ONE // 2, ofmap_dram=RATIO_ONE // 4))
    assert half.accesses.dram.ifmap == raw.accesses.dram.ifmap // 2
    assert half.accesses.dram.psum == raw.accesses.dram.psum // 4
    assert half.accesses.dram.filter == raw.accesses.dram.filter  # filters are not compressed
    assert half.accesses.glb == raw.accesses.glb
    assert half.total_cycles < raw.total_cycles  # fewer words over the link


@settings(max_examples=40, deadline=None)
@given(layer=layers(), seeds=st.lists(st.integers(0, 2**16), min_size=2, max_size=6))
def test_numpy_and_int_evaluations_agree(hw, layer, seeds):
    """The enumerator scores many mappings at once with numpy: the same numbers as one at a time."""
    mappings = [m for m in (random_valid_mapping(layer, hw, s) for s in seeds) if m is not None]
    assume(mappings)
    model = RowStationary(layer, hw)
    one_by_one = [model.counts(variables(m)) for m in mappings]
    columns = [variables(m) for m in mappings]
    batch = model.counts(Vars(**{k: np.array([getattr(v, k) for v in columns], dtype=np.int64)
                                 for k in VARIABLES}))
    for key, values in batch.flat().items():
        expected = [int(c.flat()[key]) for c in one_by_one]
        assert np.broadcast_to(values, (len(mappings),)).tolist() == expected, key


def test_published_conv1_counts_by_hand(hw):
    """Spot values of CONV1 (N=4, published mapping n=1 e=7 p=16 q=1 r=1 t=2 m=96) worked out on paper."""
    layer, mapping = silicon.LAYERS["CONV1"], silicon.PUBLISHED["CONV1"]
    cost = evaluate(layer, mapping, hw)
    # Filters: read from DRAM once per (image block, strip): N/n = 4 blocks x ceil(55/7) = 8 strips.
    assert cost.accesses.dram.filter == layer.weights() * 4 * 8
    # One channel block (C=3 <= q*r? no: q*r = 1, so 3 blocks): psum writes+reads 2 x ofmaps x 3.
    assert cost.accesses.glb.psum == 2 * layer.ofmap_size() * 3
    # Active PEs: 11 x 7 per set, two sets [JSSC Table V: 154].
    assert cost.active_pes == 154
    # Passes: 4 image blocks x 8 strips x 1 psum block x 3 channel blocks x ceil(96 / 32) filter blocks.
    assert cost.passes == 4 * 8 * 3 * 3
