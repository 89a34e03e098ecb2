"""The RLC codec: exact round trips and sizes checked by hand ([JSSC IV-B, Fig. 8])."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cost_models import rlc
from cost_models.rowstationary import RATIO_ONE


def _fields(word: int) -> list[tuple[int, int]]:
    return [((word >> (21 * s)) & 31, (word >> (21 * s + 5)) & 0xFFFF) for s in range(3)]


def test_paper_example_is_one_word_of_three_pairs():
    """``0,0,12,0,0,0,0,53,0,0,22`` -> (2,12)(4,53)(2,22), terminator set [JSSC Fig. 8]."""
    values = np.array([0, 0, 12, 0, 0, 0, 0, 53, 0, 0, 22], dtype=np.int16)
    words = rlc.encode(values)
    assert words.shape == (1,)
    assert _fields(int(words[0])) == [(2, 12), (4, 53), (2, 22)]
    assert int(words[0]) >> 63 == 1
    assert np.array_equal(rlc.decode(words, values.size), values)
    assert rlc.compressed_words(values) == 4  # one 64-bit word = four 16-bit words


def test_all_zero_size_by_hand():
    # 1000 zeros: 31 pairs (31, 0) of 32 zeros each cover 992, then (7, 0) covers 8:
    # 32 pairs -> ceil(32 / 3) = 11 code words -> 44 sixteen-bit words.
    zeros = np.zeros(1000, dtype=np.int16)
    assert rlc.pair_count(zeros) == 32
    assert rlc.compressed_words(zeros) == 44
    assert np.array_equal(rlc.decode(rlc.encode(zeros), 1000), zeros)


def test_dense_size_by_hand():
    # 1000 non-zero values: one (0, v) pair each -> ceil(1000 / 3) = 334 words -> 1336 words,
    # a third more than the raw 1000 (RLC only pays off on sparse fmaps).
    dense = np.arange(1, 1001, dtype=np.int16)
    assert rlc.pair_count(dense) == 1000
    assert rlc.compressed_words(dense) == 1336
    assert rlc.ratio_from_tensor(dense) == -(-1336 * RATIO_ONE // 1000)


def test_run_of_exactly_32_zeros_is_cut_by_a_zero_level():
    values = np.array([0] * 32 + [7], dtype=np.int16)
    words = rlc.encode(values)
    assert _fields(int(words[0]))[:2] == [(31, 0), (0, 7)]
    assert np.array_equal(rlc.decode(words, values.size), values)


def test_negative_levels_and_extremes_round_trip():
    values = np.array([-32768, 0, 32767, -1, 0, 0, 1], dtype=np.int16)
    assert np.array_equal(rlc.decode(rlc.encode(values), values.size), values)


def test_stream_without_terminator_is_refused():
    words = rlc.encode(np.arange(1, 10, dtype=np.int16))
    words[-1] &= ~np.uint64(1 << 63)
    with pytest.raises(ValueError, match="terminator"):
        rlc.decode(words, 9)


@settings(max_examples=200, deadline=None)
@given(arrays(np.int16, st.integers(1, 400),
              elements=st.one_of(st.just(0), st.just(0), st.just(0), st.integers(-32768, 32767))))
def test_round_trip_and_size(values):
    words = rlc.encode(values)
    assert np.array_equal(rlc.decode(words, values.size), values)
    assert words.size * 4 == rlc.compressed_words(values)
    # Only the last word carries the terminator.
    flags = (words >> np.uint64(63)).astype(int)
    assert flags[-1] == 1 and not flags[:-1].any()


@pytest.mark.parametrize("z", [0.0, 0.3, 0.575, 0.9])
def test_zero_fraction_ratio_matches_long_random_tensors(z):
    """The closed form for i.i.d. zeros agrees with encoding a long random tensor (within 1 %)."""
    rng = np.random.default_rng(0)
    values = np.where(rng.random(400_000) < z, 0, rng.integers(1, 1000, 400_000)).astype(np.int16)
    measured = rlc.ratio_from_tensor(values)
    assert abs(rlc.ratio_from_zero_fraction(z) - measured) <= 0.01 * RATIO_ONE


def test_zero_fraction_bounds():
    assert rlc.ratio_from_zero_fraction(0.0) == -(-4 * RATIO_ONE // 3)  # dense: 4/3 of raw
    assert rlc.ratio_from_zero_fraction(1.0) == -(-4 * RATIO_ONE // (3 * 32))  # one pair per 32 zeros
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            rlc.ratio_from_zero_fraction(bad)
