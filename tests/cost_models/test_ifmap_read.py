"""The compulsory ifmap traffic counts the pixels a layer reads, strides, dilation and padding included."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from cost_models import LayerShape, default_hardware
from cost_models.cost import check, evaluate
from cost_models.mapping import Mapping
from cost_models.rowstationary import RATIO_ONE, DataRatios
from mapper.app.explain import dram_gap
from mapper.search.cpsat import map_layer
from mapper.search.space import ranges, to_mapping


@st.composite
def shapes(draw) -> LayerShape:
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    H = draw(st.integers((R - 1) * dh + 1, 14))
    W = draw(st.integers((S - 1) * dw + 1, 14))
    pads = tuple(draw(st.integers(0, (k - 1) * d)) for k, d in ((R, dh), (S, dw), (R, dh), (S, dw)))
    return LayerShape(N=draw(st.integers(1, 2)), M=2, C=draw(st.integers(1, 3)), H=H, W=W, R=R, S=S,
                      stride=(sh, sw), dilation=(dh, dw), pads=pads)


def brute_force(layer: LayerShape) -> int:
    """Mark every unpadded input pixel some MAC reads, on a numpy grid."""
    top, left = layer.pads[0], layer.pads[1]
    touched = np.zeros((layer.H, layer.W), dtype=bool)
    for e in range(layer.E):
        for f in range(layer.F):
            for r in range(layer.R):
                for s in range(layer.S):
                    y = layer.stride[0] * e + layer.dilation[0] * r - top
                    x = layer.stride[1] * f + layer.dilation[1] * s - left
                    if 0 <= y < layer.H and 0 <= x < layer.W:
                        touched[y, x] = True
    return layer.N * layer.C * int(touched.sum())


@settings(max_examples=200, deadline=None)
@given(shapes())
def test_compulsory_ifmap_is_the_pixels_read(layer):
    assert layer.ifmap_read_size() == brute_force(layer) <= layer.ifmap_size()


def test_a_strided_1x1_conv_reads_a_quarter_and_its_dram_ratio_is_at_least_one():
    layer = LayerShape(N=1, M=16, C=16, H=14, W=14, R=1, S=1, stride=(2, 2))
    assert layer.ifmap_read_size() == layer.ifmap_size() // 4
    best = map_layer(layer, default_hardware(), objective="energy")
    assert best.cost is not None
    assert best.cost.accesses.dram.of("ifmap") >= layer.ifmap_read_size()


@st.composite
def mapped_layers(draw) -> tuple[LayerShape, Mapping, DataRatios]:
    """A small layer (strides, dilation, padding, groups), a mapping cost_models.cost.check accepts, and ratios.

    Mapping variables are drawn within mapper.search.space.ranges (the search's own space); draws the check
    refuses are rejected, so every mapping evaluated is one the search could return.
    """
    layer = draw(shapes())
    groups = draw(st.sampled_from([1, 1, 2]))
    layer = replace(layer, C=layer.C * groups, M=draw(st.integers(1, 8)) * groups, groups=groups)
    hw = default_hardware()
    values = {key: draw(st.integers(1, high), label=key) for key, high in ranges(layer, hw).items()}
    mapping = to_mapping(layer, values)
    assume(check(layer, mapping, hw) == [])
    ratio = st.integers(RATIO_ONE // 8, RATIO_ONE)
    return layer, mapping, DataRatios(ifmap_dram=draw(ratio), ofmap_dram=draw(ratio))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(mapped_layers())
def test_dram_traffic_is_at_least_the_compulsory_words_of_every_data_type(case):
    """`DRAM x` >= 1 always: any valid mapping moves each datum over the DRAM link at least once.

    The compulsory words are the report's (cost_models.cost.compulsory_dram_words, through
    mapper.app.explain.dram_gap): a negative extra for any data
    type means the bound counts words the layer never needs.
    """
    layer, mapping, ratios = case
    cost = evaluate(layer, mapping, default_hardware(), ratios)
    extra = dram_gap(cost, layer, ratios)["dram_extra_words"]
    assert min(extra.values()) >= 0, (layer, mapping, extra)
