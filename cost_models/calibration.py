"""The two calibrated energy constants of eyeriss.yaml, fitted on the chip's measured AlexNet energies.

`fit_energy` is what `tests/test_calibration.py` checks the bundled constants against and what
`benchmarks/jssc_alexnet.py` prints; the measurements themselves are `cost_models.silicon`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cost_models.cost import evaluate
from cost_models.hardware import Hardware, default_hardware
from cost_models.rlc import ratio_from_zero_fraction
from cost_models.rowstationary import RATIO_ONE, DataRatios
from cost_models.silicon import (CONV1_STATIC_SHARE, FMAP_DRAM_SAVING, LAYERS, MEASURED, ORDER, PUBLISHED, VGG_MEASURED,
                                 VGG_OFMAP_ZEROS)


def ratios(name: str) -> DataRatios:
    """Measured ifmap zeros.  The ofmap's are the next layer's ifmap zeros (a lower bound: pooling between
    layers only removes zeros), CONV5's its own input's; but CONV1's ofmap compression is the one that
    gives the fmap DRAM saving the JSSC states (``FMAP_DRAM_SAVING``), as the pooled CONV2 input bounds
    CONV1's output zeros only loosely (``benchmarks/jssc_alexnet.py`` prints the share implied)."""
    index = ORDER.index(name)
    z_out = MEASURED[ORDER[min(index + 1, len(ORDER) - 1)]].ifmap_zeros
    measured = zero_ratios(MEASURED[name].ifmap_zeros, z_out, network_input=index == 0)
    if name != "CONV1":
        return measured
    return replace(measured, ofmap_dram=ofmap_ratio_for_saving(name, measured, FMAP_DRAM_SAVING[name]))


def ofmap_ratio_for_saving(name: str, given: DataRatios, saving: float) -> int:
    """The ofmap's compressed / raw size at which RLC saves ``saving`` of the layer's fmap DRAM words, on
    the published mapping (the ifmap's compression as ``given``; raw counts do not depend on it)."""
    raw = evaluate(LAYERS[name], PUBLISHED[name], default_hardware()).accesses.dram
    ifmap, ofmap = raw.ifmap, raw.psum  # the ofmap leaves the chip as the DRAM-level psums
    kept = (1 - saving) * (ifmap + ofmap) - ifmap * given.ifmap_dram / RATIO_ONE
    if not 0 < kept <= ofmap:
        raise ValueError(f"{name}: no ofmap compression gives a {saving:.0%} fmap DRAM saving")
    return int(round(kept / ofmap * RATIO_ONE))


def vgg_ratios(name: str) -> DataRatios:
    """The same for the VGG-16 layers of ``silicon.VGG_LAYERS`` (none is the network input)."""
    return zero_ratios(VGG_MEASURED[name].ifmap_zeros, VGG_OFMAP_ZEROS[name], network_input=False)


def zero_ratios(z_in: float, z_out: float, network_input: bool) -> DataRatios:
    """DRAM compression and gating from the zero shares of a layer's input and output."""
    return DataRatios(
        ifmap_dram=RATIO_ONE if network_input else ratio_from_zero_fraction(z_in),  # the input is not RLC-coded
        ofmap_dram=ratio_from_zero_fraction(z_out),
        ifmap_nonzero=int(round(RATIO_ONE * (1 - z_in))),
    )


def fit_energy(hw: Hardware) -> tuple[float, int]:
    """The two calibrated constants: pJ per normalized unit, then static units per cycle.

    A free two-parameter least-squares fit of the five measured layer energies is
    ill-conditioned (chip power barely changes across layers, so dynamic and
    static energy are collinear) and returns a negative dynamic cost.  So the
    static/dynamic split is anchored on CONV1's published breakdown, and one
    scale, pJ per normalized unit, is fitted by least relative squares.
    """
    base = replace(hw, energy_static_per_cycle=0)
    dynamic, cycles, measured = [], [], []
    for name in ORDER:
        cost = evaluate(LAYERS[name], PUBLISHED[name], base, ratios(name))
        dynamic.append(sum(v for k, v in cost.energy_units.items() if k not in ("dram", "static")))
        cycles.append(cost.total_cycles)
        m = MEASURED[name]
        measured.append(m.power_mw * m.total_ms * 1e6)  # mW x ms = nJ -> pJ
    static = int(round(CONV1_STATIC_SHARE / (1 - CONV1_STATIC_SHARE) * dynamic[0] / cycles[0]))
    model = np.array(dynamic, dtype=float) + static * np.array(cycles, dtype=float)
    x = model / np.array(measured)
    scale = float(np.dot(x, np.ones_like(x)) / np.dot(x, x))  # minimises sum((scale * model / measured - 1)^2)
    return round(scale, 3), static
