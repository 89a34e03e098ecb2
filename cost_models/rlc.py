"""The chip's run-length codec for fmaps in DRAM ([JSSC IV-B, Fig. 8]; eyeriss-facts.md section 4).

A 64-bit word holds three (run, level) pairs and a terminator bit: a 5-bit run
of zeros (at most 31) then a 16-bit level, so ``0,0,12,0,0,0,0,53,0,0,22``
becomes ``(2,12)(4,53)(2,22)`` and a flag saying whether this is the last
word.  Conventions the paper leaves open, fixed here:

* a run longer than 31 is cut by a zero level: ``(31, 0)`` stands for 32 zeros;
* trailing zeros end with a pair whose level is zero: ``k`` zeros are
  ``(k - 1, 0)`` (after cutting runs of 32);
* unused pair slots of the last word are all-zero bits; the decoder is told the
  value count;
* bit layout of a word, least significant first: pair 0 run (5 b), pair 0
  level (16 b), pair 1 run, pair 1 level, pair 2 run, pair 2 level, then the
  terminator in bit 63 (1 on the last word).
"""

from __future__ import annotations

import math

import numpy as np

from cost_models.choices import DEFAULT_ZERO_FRACTION  # noqa: F401 - its source is given there
from cost_models.rowstationary import RATIO_ONE


MAX_RUN = 31
PAIRS_PER_WORD = 3
WORDS_PER_CODE_WORD = 4  # a 64-bit code word is four 16-bit words of DRAM traffic


def _pairs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (run, level) pairs of a flat int16 array, vectorised."""
    flat = np.asarray(values).astype(np.int64).ravel()
    nonzero = np.flatnonzero(flat)
    # Zeros before each non-zero value (and after the last one, as a trailing run).
    bounds = np.concatenate(([-1], nonzero))
    gaps = np.diff(bounds) - 1  # zeros preceding each non-zero value
    trailing = flat.size - 1 - (nonzero[-1] if nonzero.size else -1)
    runs, levels = [], []
    # Each gap of g zeros before a value: floor(g / 32) pairs (31, 0), then (g % 32, value).
    cuts = gaps // (MAX_RUN + 1)
    if cuts.any():
        reps = np.repeat(np.arange(gaps.size), cuts)
        order_runs = np.concatenate((np.full(reps.size, MAX_RUN), gaps % (MAX_RUN + 1)))
        order_levels = np.concatenate((np.zeros(reps.size, dtype=np.int64), flat[nonzero]))
        keys = np.concatenate((reps * 2, np.arange(gaps.size) * 2 + 1))
        order = np.argsort(keys, kind="stable")
        runs.append(order_runs[order])
        levels.append(order_levels[order])
    else:
        runs.append(gaps)
        levels.append(flat[nonzero])
    if trailing:
        full, rest = divmod(trailing, MAX_RUN + 1)
        tail_runs = [MAX_RUN] * full + ([rest - 1] if rest else [])
        runs.append(np.array(tail_runs, dtype=np.int64))
        levels.append(np.zeros(len(tail_runs), dtype=np.int64))
    return np.concatenate(runs).astype(np.int64), np.concatenate(levels).astype(np.int64)


def pair_count(values: np.ndarray) -> int:
    """Number of (run, level) pairs the encoding of ``values`` uses."""
    flat = np.asarray(values).ravel()
    nonzero = np.flatnonzero(flat)
    bounds = np.concatenate(([-1], nonzero))
    gaps = np.diff(bounds) - 1
    trailing = flat.size - 1 - (nonzero[-1] if nonzero.size else -1)
    tail = trailing // (MAX_RUN + 1) + (1 if trailing % (MAX_RUN + 1) else 0)
    return int(nonzero.size + (gaps // (MAX_RUN + 1)).sum() + tail)


def encode(values: np.ndarray) -> np.ndarray:
    """RLC-encode int16 values into 64-bit words."""
    runs, levels = _pairs(values)
    words = max(1, -(-runs.size // PAIRS_PER_WORD))
    pad = words * PAIRS_PER_WORD - runs.size
    runs = np.concatenate((runs, np.zeros(pad, dtype=np.int64))).reshape(words, PAIRS_PER_WORD).astype(np.uint64)
    levels = (np.concatenate((levels, np.zeros(pad, dtype=np.int64))) & 0xFFFF).reshape(words, PAIRS_PER_WORD)
    levels = levels.astype(np.uint64)
    out = np.zeros(words, dtype=np.uint64)
    for slot in range(PAIRS_PER_WORD):
        shift = np.uint64(21 * slot)
        out |= (runs[:, slot] | (levels[:, slot] << np.uint64(5))) << shift
    out[-1] |= np.uint64(1) << np.uint64(63)
    return out


def decode(words: np.ndarray, count: int) -> np.ndarray:
    """Inverse of ``encode``: ``count`` int16 values."""
    words = np.asarray(words, dtype=np.uint64)
    last = np.flatnonzero(words >> np.uint64(63))
    if last.size == 0:
        raise ValueError("RLC stream has no terminator word")
    words = words[: last[0] + 1]
    slots = np.stack([(words >> np.uint64(21 * s)) & np.uint64((1 << 21) - 1) for s in range(PAIRS_PER_WORD)], axis=1)
    slots = slots.ravel().astype(np.int64)
    runs, levels = slots & 31, (slots >> 5) & 0xFFFF
    positions = np.cumsum(runs + 1) - 1  # index of each pair's level
    keep = positions < count
    out = np.zeros(count, dtype=np.int64)
    out[positions[keep]] = levels[keep]
    return out.astype(np.uint16).view(np.int16)


def compressed_words(values: np.ndarray) -> int:
    """16-bit words of DRAM traffic the encoded ``values`` occupy."""
    return WORDS_PER_CODE_WORD * max(1, -(-pair_count(values) // PAIRS_PER_WORD))


def ratio_from_tensor(values: np.ndarray) -> int:
    """Compressed / raw size of a real tensor, in units of 2**-16, rounded up."""
    size = max(1, np.asarray(values).size)
    return -(-compressed_words(values) * RATIO_ONE // size)


def ratio_from_zero_fraction(z: float) -> int:
    """Expected compressed / raw size for i.i.d. zeros with probability ``z``, in units of 2**-16.

    Per value, a pair is emitted at every non-zero (probability 1 - z) and
    after every 32nd consecutive zero of a run: a zero closes a (31, 0) pair
    when it is the 32nd, 64th, ... zero since the last pair, which in the
    stationary run-length process happens with probability
    ``(1 - z) z**32 / (1 - z**32)`` per value.  So pairs per value is
    ``(1 - z) (1 + z**32 / (1 - z**32))``, i.e. ``(1 - z) / (1 - z**32)``;
    each pair costs 21/63 of a 64-bit word (4 sixteen-bit words), rounded up.
    """
    if not 0.0 <= z <= 1.0 or math.isnan(z):
        raise ValueError(f"zero fraction must lie in [0, 1], got {z}")
    if z >= 1.0:
        pairs = 1.0 / (MAX_RUN + 1)
    else:
        pairs = (1.0 - z) / (1.0 - z ** (MAX_RUN + 1))
    return int(math.ceil(pairs * WORDS_PER_CODE_WORD / PAIRS_PER_WORD * RATIO_ONE))
