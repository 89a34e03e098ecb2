"""The two calibrated energy constants of eyeriss.yaml, fitted on the chip's measured AlexNet energies.

`fit_energy` is what `tests/test_calibration.py` checks the bundled constants against and what
`benchmarks/jssc_alexnet.py` prints; the measurements themselves are `cost_models.silicon`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cost_models.cost import evaluate
from cost_models.hardware import Hardware
from cost_models.rlc import ratio_from_zero_fraction
from cost_models.rowstationary import RATIO_ONE, DataRatios
from cost_models.silicon import CONV1_STATIC_SHARE, LAYERS, MEASURED, ORDER, PUBLISHED, VGG_MEASURED, VGG_OFMAP_ZEROS


def ratios(name: str) -> DataRatios:
    """Measured ifmap zeros; the ofmap's are taken as the next layer's ifmap zeros (a lower
    bound: pooling between layers only removes zeros), CONV5's as its own input's."""
    index = ORDER.index(name)
    z_out = MEASURED[ORDER[min(index + 1, len(ORDER) - 1)]].ifmap_zeros
    return zero_ratios(MEASURED[name].ifmap_zeros, z_out, network_input=index == 0)


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
