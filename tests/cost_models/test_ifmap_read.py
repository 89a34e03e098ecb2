"""The compulsory ifmap traffic counts the pixels a layer reads, strides, dilation and padding included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from cost_models import LayerShape, default_hardware
from mapper.search.cpsat import map_layer


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
