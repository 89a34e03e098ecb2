"""Each term of the per-pass overhead (RowStationary.pass_overhead) against a count worked by hand.

Two small layers, each with one mapping, on the bundled Eyeriss (filter GIN, psum GIN and GON 4 words a
cycle, ifmap GIN 1, local links 4, a 3-stage PE pipeline).  The comments work every number from the
layer, the mapping and those widths; the test compares the model's ``Cost.cycle_parts`` with them.
"""

from __future__ import annotations

import pytest

from cost_models import LayerShape, Mapping, evaluate

# Layer A: N=2, M=4, C=2, 6 x 6, 3 x 3 filters, stride 1 -> E = F = 4, Wp = 6.
# Mapping A: n=1, e=4, p=2, q=1, r=2, t=1, m=4: one 3 x 4 set per channel pair, stacked (6 rows).
# Loop nest: NB = 2 (n=1 of N=2), SB = 1 (e = E), MB = 1, CB = ceil(2/(q r)) = 1, FBT = ceil(4/(p t)) = 2,
# so 2 x 2 = 4 passes.  The busiest PE does n p q S F = 1*2*1*3*4 = 24 MACs a pass: compute 96.
LAYER_A = LayerShape(2, 4, 2, 6, 6, 3, 3)
MAP_A = Mapping(n=1, e=4, p=2, q=1, r=2, t=1, g=1, m=4)

# Layer B: N=1, M=16, C=3, 7 x 7, 3 x 3 filters -> E = F = 5, Wp = 7.
# Mapping B: n=1, e=5, p=8, q=3, r=1, t=2, m=16: two 3 x 5 sets side by side, one pass
# (NB = SB = MB = CB = FBT = 1).  Compute: n p q S F = 1*8*3*3*5 = 360.
LAYER_B = LayerShape(1, 16, 3, 7, 7, 3, 3)
MAP_B = Mapping(n=1, e=5, p=8, q=3, r=1, t=2, g=1, m=16)


# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_pass_overhead")


@pytest.fixture(scope="module")
def parts(hw):
    return {name: dict(evaluate(layer, mapping, hw).cycle_parts)
            for name, layer, mapping in (("A", LAYER_A, MAP_A), ("B", LAYER_B, MAP_B))}


def test_the_hand_worked_layers_are_what_the_comments_say(hw, parts):
    assert evaluate(LAYER_A, MAP_A, hw).passes == 4 and parts["A"]["compute"] == 96
    assert evaluate(LAYER_B, MAP_B, hw).passes == 1 and parts["B"]["compute"] == 360


def test_filter_fill(parts):
    # A: a pass's filters are p t filters x q r channels x R S = 2*1*1*2*9 = 36 words: 9 cycles at 4 a cycle,
    #    x 4 passes = 36 (= 72 weights x NB 2 x SB 1 / 4).
    # B: 8*2*3*1*9 = 432 words / 4 = 108 cycles, one pass.
    assert parts["A"]["filter_fill"] == 36
    assert parts["B"]["filter_fill"] == 108


def test_ifmap_prefill_runs_beside_the_filter_fill(parts):
    # A: a 3 x 4 set at stride 1 needs ifmap rows 0..5: 6 sends per channel.  A pass's first windows are
    #    6 rows x q r = 2 channels x S = 3 values = 36 words at 1 a cycle = 36 cycles, x 4 passes = 144.
    #    The filter fill beside it takes 36, so the prefill adds 144 - 36 = 108.
    # B: a 3 x 5 set needs rows 0..6, 7 sends x 3 channels x 3 = 63 cycles, shorter than the 108-cycle
    #    filter fill it runs beside: it adds nothing.
    assert parts["A"]["ifmap_prefill"] == 108
    assert parts["B"]["ifmap_prefill"] == 0


def test_pipeline_fill(parts):
    # 3 stages per pass: A 4 passes -> 12, B 1 pass -> 3.
    assert parts["A"]["pipeline_fill"] == 12
    assert parts["B"]["pipeline_fill"] == 3


def test_psum_chain(parts):
    # A: the chain is r R = 6 PEs, 5 local links; p = 2 psums take ceil(2/4) = 1 cycle a link: 5 a pass, 20.
    # B: r R = 3 PEs, 2 links; p = 8 psums take ceil(8/4) = 2 cycles a link: 4, one pass.
    assert parts["A"]["psum_chain"] == 20
    assert parts["B"]["psum_chain"] == 4


def test_psum_drain(parts):
    # A: the last output column of a pass: e = 4 chain tops x p t = 2 filters = 8 psums, 2 cycles on the GON
    #    at 4 a cycle, x 4 passes = 8 (= G Mg E NB CB = 4*4*2*1 = 32 words / 4).
    # B: e = 5 tops x p t = 16 filters = 80 psums / 4 = 20.
    assert parts["A"]["psum_drain"] == 8
    assert parts["B"]["psum_drain"] == 20


def test_steady_state_streams_what_the_fills_and_drain_did_not(hw):
    # A: the ifmap bus carries, per pass, 6 rows x 2 channels x Wp 6 = 72 words for its one image: 288 in
    #    all, of which the prefills carried 144: 144 cycles, above compute 96, so streaming adds 48.
    #    The GON carries N M E F x CB = 128 psums less the drains' 32: 96 / 4 = 24.
    cost = evaluate(LAYER_A, MAP_A, hw)
    assert dict(cost.stream_cycles) == {"ifmap": 144, "psum": 0, "output": 24}
    assert cost.cycle_parts["streaming"] == 144 - 96
    # processing = the fills (144) + pipeline 12 + chain 20 + drain 8 + the steady state 144.
    assert cost.processing_cycles == 144 + 12 + 20 + 8 + 144


def test_no_bank_conflict_between_the_ifmap_and_psum_streams(hw):
    """Every buffer bank holds only ifmaps or only psums [JSSC V-A]: the two streams run side by side.

    Layer: N=1, M=8, C=8, 4 x 4, 1 x 1 filters; mapping n=1, e=4, p=q=r=t=1, m=8: CB = 8, FBT = 8, 64 passes.
    Compute: 64 passes x n p q S F = 4 -> 256.  Ifmap bus: 4 rows (one per PE) x Wp 4 x 8 channels x 8
    filter blocks = 1024 words, less the prefills' 64 passes x 4 rows x S 1 = 256: 768 cycles.  Psum bus:
    N M E F x (CB - 1) = 128 x 7 = 896 words / 4 = 224 cycles.  The steady state is the slower, 768,
    not 768 + 224 as it would be if both streams shared a bank.
    """
    cost = evaluate(LayerShape(1, 8, 8, 4, 4, 1, 1), Mapping(n=1, e=4, p=1, q=1, r=1, t=1, g=1, m=8), hw)
    assert cost.passes == 64 and cost.compute_cycles == 256
    assert cost.stream_cycles["ifmap"] == 768 and cost.stream_cycles["psum"] == 224
    assert cost.cycle_parts["compute"] + cost.cycle_parts["streaming"] == 768
