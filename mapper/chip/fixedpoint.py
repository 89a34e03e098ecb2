"""The chip's number format: 16-bit fixed point words, and the write-back rule from the wide accumulator.

A tensor's format is one integer, its fraction bits ``frac``: word ``q`` stands
for the real value ``q * 2**-frac``.  Every word is 16 bits [JSSC V-C]
("16-bit fixed point for ifmaps, filters and psums"); which 16 bits of the
product the PE keeps is "configurable, chosen per layer from the layer's
dynamic range in offline experiments" [JSSC V-C]: here the per-layer ``shift``
of the bitstream, chosen by ``mapper.app.quantize`` on calibration data.

Arithmetic (the simulator's, ``mapper.chip.simulator``): 16 x 16-bit products
are exact, psums accumulate without loss (assumed, because the chip's psum
spad width at each step is not published: the ifmap and filter formats then
fix the psum format, ``ifmap + filter`` fraction bits, and only the write-back
rounds).  Write-back of layer output:

    ofmap = saturate16((accumulator + bias + 2**(shift-1)) >> shift)      (shift > 0)

then the ReLU module [JSSC III-A] clamps at 0 (and at the quantized upper
bound of a ReLU6-style Clip).  The bias enters in the accumulator's format; it
could as well start the psum chain, the exact sum is the same (assumed: the
papers do not say where biases enter).  The half-LSB makes the shift round to
nearest rather than truncate (assumed: truncation's bias of half an LSB per
layer adds up over a deep network).
"""

from __future__ import annotations

import math

import numpy as np

WORD_BITS = 16  # [JSSC V-C]
WORD_MIN, WORD_MAX = -(2 ** (WORD_BITS - 1)), 2 ** (WORD_BITS - 1) - 1
MAX_SHIFT = 31  # the bitstream's 5-bit shift field (docs/bitstream.md)
# Fraction bits a format may have (assumed: 2**-40 .. 2**16 per LSB covers any activation a float32
# network computes short of overflow; outside it values are zero or infinite for the chip anyway).
MIN_FRAC, MAX_FRAC = -16, 40


def frac_for(peak: float, headroom_bits: int = 0) -> int:
    """The most fraction bits whose words still hold ``peak`` (rounded), less ``headroom_bits``."""
    if not math.isfinite(peak) or peak <= 0.0:
        return MAX_FRAC - headroom_bits if peak == 0.0 else MIN_FRAC
    frac = math.floor(math.log2(WORD_MAX / peak))
    while frac > MIN_FRAC and round(math.ldexp(peak, frac)) > WORD_MAX:
        frac -= 1
    while frac < MAX_FRAC and round(math.ldexp(peak, frac + 1)) <= WORD_MAX:
        frac += 1
    return max(MIN_FRAC, min(MAX_FRAC, frac) - headroom_bits)


# Values quantized per slice (assumed: 4 M float64 temporaries, 32 MB, so VGG-16's fc6 of 103 M weights never
# needs a float64 copy of itself next to its words).
QUANTIZE_SLICE = 1 << 22


def quantize(values: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    """Real values to words (round half to even, saturate); also how many saturated."""
    flat = np.asarray(values).reshape(-1)
    words = np.empty(flat.shape, dtype=np.int16)
    saturated = 0
    for start in range(0, flat.size, QUANTIZE_SLICE):
        scaled = np.ldexp(flat[start:start + QUANTIZE_SLICE].astype(np.float64), frac)
        np.rint(scaled, out=scaled)
        saturated += int(np.count_nonzero(scaled > WORD_MAX)) + int(np.count_nonzero(scaled < WORD_MIN))
        words[start:start + QUANTIZE_SLICE] = np.clip(scaled, WORD_MIN, WORD_MAX, out=scaled)
    return words.reshape(np.shape(values)), saturated


def dequantize(words: np.ndarray, frac: int) -> np.ndarray:
    """Words to the real values they stand for (exact in float32: a 16-bit integer times a power of two)."""
    return np.ldexp(words.astype(np.float32), -frac).astype(np.float32)


def rounding(shift: int) -> int:
    """The half-LSB added before the write-back shift."""
    return 1 << (shift - 1) if shift > 0 else 0


def write_back(accumulator: np.ndarray, bias: np.ndarray, shift: int, relu: bool,
               upper: int | None = None) -> tuple[np.ndarray, int]:
    """The ofmap words of a layer from its int64 accumulator [N, M, ...] and int64 bias [M]; and saturations."""
    wide = accumulator + bias.reshape((1, -1) + (1,) * (accumulator.ndim - 2))
    wide += rounding(shift)  # then every step in place: a calibration batch of VGG-16's conv1 is 150 MB of int64
    np.right_shift(wide, shift, out=wide)
    if relu:
        np.maximum(wide, 0, out=wide)
    if upper is not None:
        np.minimum(wide, upper, out=wide)
    saturated = int(np.count_nonzero(wide > WORD_MAX)) + int(np.count_nonzero(wide < WORD_MIN))
    return np.clip(wide, WORD_MIN, WORD_MAX, out=wide).astype(np.int16), saturated


def shift_for(wide_low: int, wide_high: int, headroom_bits: int = 0) -> int:
    """The least shift whose rounded write-back of every value in [wide_low, wide_high] fits a word,
    plus ``headroom_bits`` (may exceed MAX_SHIFT: the caller coarsens the filter format then)."""
    shift = 0
    while ((wide_high + rounding(shift)) >> shift) > WORD_MAX or ((wide_low + rounding(shift)) >> shift) < WORD_MIN:
        shift += 1
    return shift + headroom_bits
