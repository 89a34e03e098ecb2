"""The number format (mapper.chip.fixedpoint) against its definitions, on drawn values."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mapper.chip import fixedpoint
from mapper.chip.fixedpoint import (MAX_FRAC, MIN_FRAC, WORD_MAX, WORD_MIN, dequantize, frac_for, quantize,
                                    shift_for, write_back)

_REALS = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6),
                    elements=st.floats(-1e6, 1e6, width=32))


@settings(max_examples=200, deadline=None)
@given(_REALS, st.integers(-8, 24), st.sampled_from((1, 5, fixedpoint.QUANTIZE_SLICE)))
def test_quantize_is_round_half_even_then_saturate_in_any_slicing(values: np.ndarray, frac: int, sliced: int) -> None:
    default, fixedpoint.QUANTIZE_SLICE = fixedpoint.QUANTIZE_SLICE, sliced
    try:
        words, saturated = quantize(values, frac)
    finally:
        fixedpoint.QUANTIZE_SLICE = default
    exact = [round(math.ldexp(float(v), frac)) for v in values.reshape(-1)]  # Python rounds half to even
    assert words.dtype == np.int16 and words.shape == values.shape
    assert words.reshape(-1).tolist() == [min(WORD_MAX, max(WORD_MIN, q)) for q in exact]
    assert saturated == sum(not WORD_MIN <= q <= WORD_MAX for q in exact)


@given(st.floats(1e-12, 1e12), st.integers(0, 3))
def test_frac_for_is_the_finest_format_that_holds_the_peak(peak: float, headroom: int) -> None:
    finest = frac_for(peak)
    assert frac_for(peak, headroom) == max(MIN_FRAC, finest - headroom)  # headroom: coarser, within the range
    assert MIN_FRAC <= finest <= MAX_FRAC
    if MIN_FRAC < finest:
        assert round(math.ldexp(peak, finest)) <= WORD_MAX
    if finest < MAX_FRAC:
        assert round(math.ldexp(peak, finest + 1)) > WORD_MAX


@given(st.lists(st.floats(-1000, 1000), min_size=1, max_size=20), st.integers(0, 20))
def test_words_stand_for_their_values_within_half_an_lsb(values: list[float], frac_less: int) -> None:
    frac = frac_for(max(abs(v) for v in values)) - frac_less
    words, saturated = quantize(np.array(values), frac)
    assert saturated == 0
    assert np.all(np.abs(dequantize(words, frac).astype(np.float64) - values) <= math.ldexp(0.5, -frac) * (1 + 1e-6))


@given(st.lists(st.integers(-2**40, 2**40), min_size=1, max_size=12), st.integers(-2**30, 2**30),
       st.integers(0, 30), st.booleans(), st.one_of(st.none(), st.integers(0, WORD_MAX)))
def test_write_back_is_the_rounded_shift_then_relu_clamp_and_saturation(acc: list[int], bias: int, shift: int,
                                                                         relu: bool, upper: int | None) -> None:
    accumulator = np.array(acc, dtype=np.int64).reshape(1, 1, -1)  # [N, M, E*F]: one filter, its bias
    words, saturated = write_back(accumulator, np.array([bias], dtype=np.int64), shift, relu, upper)
    expected, over = [], 0
    for a in acc:
        q = (a + bias + ((1 << (shift - 1)) if shift else 0)) >> shift
        q = max(q, 0) if relu else q
        q = min(q, upper) if upper is not None else q
        over += not WORD_MIN <= q <= WORD_MAX
        expected.append(min(WORD_MAX, max(WORD_MIN, q)))
    assert words.reshape(-1).tolist() == expected and saturated == over


@given(st.integers(-2**45, 0), st.integers(0, 2**45), st.integers(0, 2))
def test_shift_for_is_the_least_shift_that_holds_the_range(low: int, high: int, headroom: int) -> None:
    shift = shift_for(low, high, headroom) - headroom

    def fits(s: int) -> bool:
        half = (1 << (s - 1)) if s else 0
        return (high + half) >> s <= WORD_MAX and (low + half) >> s >= WORD_MIN

    assert shift >= 0 and fits(shift) and (shift == 0 or not fits(shift - 1))
