"""The calibrated constants in eyeriss.yaml are the ones the calibration computes, and the model tracks the chip."""

from __future__ import annotations

import pytest

from cost_models import calibration, silicon
from cost_models.cost import evaluate


def test_bundled_energy_constants_are_the_fit(hw):
    scale, static = calibration.fit_energy(hw)
    assert (hw.pj_per_unit, hw.energy_static_per_cycle) == (scale, static)


def test_published_mappings_give_measured_active_pes(hw):
    for name in silicon.ORDER:
        cost = evaluate(silicon.LAYERS[name], silicon.PUBLISHED[name], hw, calibration.ratios(name))
        assert cost.active_pes == silicon.MEASURED[name].active_pes


@pytest.mark.parametrize("figure", ["dram", "processing", "total"])
def test_model_within_band_of_silicon(hw, figure):
    """DRAM traffic and both latencies within 0.85-1.15 of JSSC Table V on every layer."""
    for name in silicon.ORDER:
        cost = evaluate(silicon.LAYERS[name], silicon.PUBLISHED[name], hw, calibration.ratios(name))
        measured = silicon.MEASURED[name]
        ours, theirs = {
            "dram": (cost.level_total("dram") * 2 / 1e6, measured.dram_mb),
            "processing": (cost.processing_ms, measured.processing_ms),
            "total": (cost.total_ms, measured.total_ms),
        }[figure]
        assert 0.85 <= ours / theirs <= 1.15, (name, ours, theirs)
