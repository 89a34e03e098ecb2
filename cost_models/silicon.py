"""What the Eyeriss chip was measured to do: AlexNet CONV1-5 at N = 4, the published mappings, Table V.

Pure data, each number with its source (the tags are those of docs/eyeriss-facts.md, section 0);
the calibration (`cost_models.calibration`), its tests and `benchmarks/jssc_alexnet.py` read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.layer import LayerShape
from cost_models.mapping import Mapping


@dataclass(frozen=True)
class Measured:
    """One row of JSSC Table V (= ISSCC Fig. 14.5.6; eyeriss-facts.md section 7.1): 1 V, 200 MHz core, N = 4."""

    power_mw: float  # chip power, DRAM excluded
    total_ms: float
    processing_ms: float  # latency with DRAM traffic fully overlapped [JSSC Table V only, via FODLAM]
    active_pes: int
    glb_mb: float  # GLB accesses, 16-b words x 2 bytes
    dram_mb: float  # DRAM accesses with RLC on, 16-b words x 2 bytes
    ifmap_zeros: float  # fraction of zeros in the layer's input [JSSC Table V only, via FODLAM]


# Grouped AlexNet as measured: shapes [ISCA Table II] (H padded), N = 4 [JSSC Table III]; eyeriss-facts.md section 5.4.
LAYERS = {
    "CONV1": LayerShape(4, 96, 3, 227, 227, 11, 11, stride=(4, 4)),
    "CONV2": LayerShape(4, 256, 96, 27, 27, 5, 5, pads=(2, 2, 2, 2), groups=2),
    "CONV3": LayerShape(4, 384, 256, 13, 13, 3, 3, pads=(1, 1, 1, 1)),
    "CONV4": LayerShape(4, 384, 384, 13, 13, 3, 3, pads=(1, 1, 1, 1), groups=2),
    "CONV5": LayerShape(4, 256, 384, 13, 13, 3, 3, pads=(1, 1, 1, 1), groups=2),
}
ORDER = tuple(LAYERS)

# The mappings the chip ran [JSSC Table III] via [PARAMS] (m, n, e, p, q, r, t; eyeriss-facts.md section 5.4).
# CONV1's m = 96 is derived, not published (UNVERIFIED in eyeriss-facts.md section 10, item 6): it is the only m
# for which our DRAM model meets the measured traffic (m = 64 would read the ifmap twice), and it fits the
# buffer (19 + 4 banks).
PUBLISHED = {
    "CONV1": Mapping(n=1, e=7, p=16, q=1, r=1, t=2, g=1, m=96),
    "CONV2": Mapping(n=1, e=27, p=16, q=2, r=1, t=1, g=1, m=64),
    "CONV3": Mapping(n=4, e=13, p=16, q=4, r=1, t=4, g=1, m=64),
    "CONV4": Mapping(n=4, e=13, p=16, q=3, r=2, t=2, g=1, m=64),
    "CONV5": Mapping(n=4, e=13, p=16, q=3, r=2, t=2, g=1, m=64),
}

# [JSSC Table V] (= [ISSCC Fig. 14.5.6]; the processing latency and zeros columns via [FODLAM], the CONV3
# processing latency 21.8 and not an early OCR's 21.3): eyeriss-facts.md section 7.1.
MEASURED = {
    "CONV1": Measured(332, 20.9, 16.5, 154, 18.5, 5.0, 0.0001),
    "CONV2": Measured(288, 41.9, 39.2, 135, 77.6, 4.0, 0.387),
    "CONV3": Measured(266, 23.6, 21.8, 156, 50.2, 3.0, 0.725),
    "CONV4": Measured(235, 18.4, 16.0, 156, 37.4, 2.1, 0.793),
    "CONV5": Measured(236, 10.5, 10.0, 156, 24.9, 1.3, 0.776),
}

# [ISSCC Fig. 14.5.6] DRAM accesses of the same runs with RLC off, read off the bar chart (+-0.1 MB;
# eyeriss-facts.md section 4, "Measured effect of RLC"): a check of the model's raw DRAM counts, before compression.
UNCOMPRESSED_DRAM_MB = {"CONV1": 6.1, "CONV2": 5.4, "CONV3": 5.1, "CONV4": 3.9, "CONV5": 2.6}

# [JSSC IV-B]: RLC cuts the fmap (ifmap + ofmap) DRAM traffic by about 30 % in CONV1 and about 75 % in CONV5
# (eyeriss-facts.md section 4).  CONV1's is what fixes its ofmap compression (calibration.ratios): no zero share of
# CONV1's output was measured.  CONV5's is a check only (its traffic is mostly its measured input).
FMAP_DRAM_SAVING = {"CONV1": 0.30, "CONV5": 0.75}

# [JSSC Fig. 16] (post-layout power of CONV1): ALUs < 10 %, data movement (spads, buffer, NoC) up to 45 %,
# the rest clock network and control (eyeriss-facts.md section 7.1, power breakdown).  Read as 54 % dynamic (what
# the access counts model) and 46 % static per cycle: assumed, the figure gives no finer split.
CONV1_STATIC_SHARE = 0.46

# VGG-16 at N = 3 [JSSC Table VI], via [FODLAM] data/eyeriss-vgg16.csv @2a03450 (an OCR transcription; these
# two rows agree with the raw OCR text raw/eyeriss-tableVI.txt of the same repository): the two layers the
# JSSC text compares, "CONV1-2 and CONV4-2 have the same amount of MAC operations, but the former takes
# nearly four times longer to process" [JSSC VI-B].  Not in eyeriss-facts.md, which holds AlexNet's table only.
VGG_LAYERS = {
    "CONV1-2": LayerShape(3, 64, 64, 224, 224, 3, 3, pads=(1, 1, 1, 1)),
    "CONV4-2": LayerShape(3, 512, 512, 28, 28, 3, 3, pads=(1, 1, 1, 1)),
}
VGG_MEASURED = {
    "CONV1-2": Measured(218, 910.3, 810.6, 156, 2402.8, 54.0, 0.477),
    "CONV4-2": Measured(261, 254.8, 210.0, 168, 643.7, 20.6, 0.747),
}
# The layer after each, whose ifmap zeros bound this one's ofmap zeros (Table VI): CONV2-1 and CONV4-3.
VGG_OFMAP_ZEROS = {"CONV1-2": 0.248, "CONV4-2": 0.854}
# VGG-16's mappings were not published (eyeriss-facts.md section 5.4).  Derived from Table VI, not fitted to its
# latencies: CONV1-2's 156 active PEs are 4 sets of 3 x 13 (t = 4 sharing the ifmap, as AlexNet's CONV3);
# its 2402.8 MB of GLB accesses need one channel a pass, the most psum traffic a mapping can make (q r = 1:
# 2 x N M E F x 64 channel blocks = 2466 MB; q r = 2 would give 1233 MB); p = 4 (m = p t = 16) is the most the
# 25 banks then hold (23 psum + 2 ifmap banks).
# CONV4-2's 168 PEs are 4 sets of 3 x 14; 643.7 MB needs q r = 4 (model 664 MB); p = 16, m = 64 as in every
# AlexNet mapping; n = 1, as n = 3 would need 40 banks.
VGG_MAPPINGS = {
    "CONV1-2": Mapping(n=1, e=13, p=4, q=1, r=1, t=4, g=1, m=16),
    "CONV4-2": Mapping(n=1, e=14, p=16, q=4, r=1, t=4, g=1, m=64),
}
