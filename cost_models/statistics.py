"""Per-layer data statistics (zeros, RLC size) with where each came from.

The DRAM and zero-gating terms of the cost model need, per layer, the share of
zeros in the ifmap (gating [JSSC V-C]) and the RLC-compressed size of the ifmap
and ofmap in DRAM [JSSC IV-B].  Each figure is *measured* (real tensors of
calibration inputs, run through the codec: ``frontends.calibration``), *given*
(``--zero-fraction``), or a *default* (0.5 zeros after a ReLU, none in the
network input or after a layer without ReLU).  The report shows which.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.rlc import ratio_from_zero_fraction
from cost_models.rowstationary import RATIO_ONE, DataRatios

SOURCES = ("measured", "given", "default")


@dataclass(frozen=True)
class FmapStatistic:
    """One fmap's zeros and, when measured, its exact RLC-compressed size over raw size (1/2**16 units)."""

    zero_fraction: float
    source: str  # one of SOURCES
    rlc_ratio: int | None = None  # None: the i.i.d. estimate from the zero fraction (cost_models.rlc)
    basis: str = ""  # what the figure rests on, for the report (e.g. "4 samples", "ReLU output default")

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if not 0.0 <= self.zero_fraction <= 1.0:
            raise ValueError(f"zero fraction must lie in [0, 1], got {self.zero_fraction}")

    @property
    def dram_ratio(self) -> int:
        """Compressed / raw words in DRAM: the codec's real figure when measured, else the estimate."""
        return self.rlc_ratio if self.rlc_ratio is not None else ratio_from_zero_fraction(self.zero_fraction)

    def as_dict(self) -> dict:
        return {"zero_fraction": round(self.zero_fraction, 6), "rlc_ratio": round(self.dram_ratio / RATIO_ONE, 6),
                "rlc": "codec on real tensors" if self.rlc_ratio is not None else "estimate from the zero fraction",
                "source": self.source, "basis": self.basis}


@dataclass(frozen=True)
class LayerStatistics:
    """A layer's ifmap and ofmap statistics; ``ifmap_coded`` is False for a layer fed by the network input."""

    ifmap: FmapStatistic
    ofmap: FmapStatistic
    ifmap_coded: bool = True

    def ratios(self) -> DataRatios:
        """What the cost model reads: DRAM size ratios and the share of non-zero ifmap values."""
        return DataRatios(
            ifmap_dram=self.ifmap.dram_ratio if self.ifmap_coded else RATIO_ONE,  # the input is not RLC-coded
            ofmap_dram=self.ofmap.dram_ratio,
            ifmap_nonzero=int(round(RATIO_ONE * (1 - self.ifmap.zero_fraction))),
        )

    def as_dict(self) -> dict:
        return {"ifmap": {**self.ifmap.as_dict(), "rlc_coded": self.ifmap_coded}, "ofmap": self.ofmap.as_dict()}
