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


def _cost(hw, name):
    return evaluate(silicon.LAYERS[name], silicon.PUBLISHED[name], hw, calibration.ratios(name))


# Every figure within 10 % of JSSC Table V on every layer but these, each with its reason in docs/cost_model.md
# ("Calibration against silicon"): CONV5's energy, held within 15 % (its latency: CONV4 and CONV5 do the same
# work per pass, the chip not in the same time).  CONV3's GLB accesses are not banded:
# test_conv3_glb_measurement_is_below_what_its_mapping_can_make.
FIGURES = ("dram", "glb", "processing", "total", "power", "energy")
WIDER = {("energy", "CONV5"): 0.15}
UNBANDED = {("glb", "CONV3")}


def _figures(cost, measured) -> dict[str, tuple[float, float]]:
    chip_mj = (cost.energy_pj - cost.energy_pj_by_level["dram"]) / 1e9  # the chip's power excludes DRAM
    glb_mb = (cost.accesses.glb.ifmap + cost.accesses.glb.psum) * 2 / 1e6  # the banked buffer, 16-b words
    return {"dram": (cost.level_total("dram") * 2 / 1e6, measured.dram_mb), "glb": (glb_mb, measured.glb_mb),
            "processing": (cost.processing_ms, measured.processing_ms), "total": (cost.total_ms, measured.total_ms),
            "power": (chip_mj / cost.total_ms * 1e3, measured.power_mw),
            "energy": (chip_mj, measured.power_mw * measured.total_ms / 1e3)}


@pytest.mark.parametrize("figure", FIGURES)
def test_model_within_band_of_silicon(hw, figure):
    for name in silicon.ORDER:
        if (figure, name) in UNBANDED:
            continue
        ours, theirs = _figures(_cost(hw, name), silicon.MEASURED[name])[figure]
        band = WIDER.get((figure, name), 0.10)
        assert 1 - band <= ours / theirs <= 1 + band, (name, ours, theirs)


def test_raw_dram_counts_match_the_chart_of_rlc_off(hw):
    """[ISSCC Fig. 14.5.6] charts each layer's DRAM traffic with RLC off; the chart reads to +-0.1 MB."""
    for name in silicon.ORDER:
        raw_mb = evaluate(silicon.LAYERS[name], silicon.PUBLISHED[name], hw).level_total("dram") * 2 / 1e6
        assert abs(raw_mb - silicon.UNCOMPRESSED_DRAM_MB[name]) <= 0.15, (name, raw_mb)


def _fmap_saving(hw, name) -> float:
    raw = evaluate(silicon.LAYERS[name], silicon.PUBLISHED[name], hw).accesses.dram
    coded = _cost(hw, name).accesses.dram
    return 1 - (coded.ifmap + coded.psum) / (raw.ifmap + raw.psum)


def test_fmap_dram_savings_are_the_stated_ones(hw):
    """[JSSC IV-B]: RLC saves about 30 % of CONV1's fmap DRAM traffic (which fixes CONV1's ofmap compression,
    as no zero share of its output was measured) and about 75 % of CONV5's (which checks the model: CONV5's
    saving follows from its measured input zeros)."""
    assert _fmap_saving(hw, "CONV1") == pytest.approx(silicon.FMAP_DRAM_SAVING["CONV1"], abs=1e-4)
    assert _fmap_saving(hw, "CONV5") == pytest.approx(silicon.FMAP_DRAM_SAVING["CONV5"], abs=0.06)
    # The bound it replaces: CONV2's measured input zeros, pooled from CONV1's output, are fewer.
    assert calibration.ratios("CONV1").ofmap_dram < calibration.zero_ratios(0, silicon.MEASURED["CONV2"].ifmap_zeros,
                                                                              network_input=True).ofmap_dram


def test_conv3_glb_measurement_is_below_what_its_mapping_can_make(hw):
    """CONV3's published mapping takes q r channels a pass, so each ofmap value is written to the buffer once
    per channel block and read back for all but the first: at least (2 CB - 1) N M E F words under any loop
    order.  That alone exceeds the measured GLB total, so the model's 1.43x is the mapping's, not a term's."""
    layer, mapping = silicon.LAYERS["CONV3"], silicon.PUBLISHED["CONV3"]
    blocks = -(-layer.Cg // (mapping.q * mapping.r))
    floor_mb = (2 * blocks - 1) * layer.ofmap_size() * 2 / 1e6
    assert floor_mb > silicon.MEASURED["CONV3"].glb_mb
    assert _cost(hw, "CONV3").accesses.glb.psum * 2 / 1e6 >= floor_mb


def test_vgg_early_layer_takes_nearly_four_times_as_long(hw):
    """[JSSC VI-B]: VGG-16's CONV1-2 and CONV4-2 have the same MACs, CONV1-2 takes nearly 4x longer; the
    early layers run at about a quarter of the late ones' MAC rate (Table VI: 810.6 / 210.0 ms = 3.86x).
    On the mappings derived from Table VI's PE counts and GLB accesses (not from its latencies)."""
    cost = {name: evaluate(silicon.VGG_LAYERS[name], silicon.VGG_MAPPINGS[name], hw, calibration.vgg_ratios(name))
            for name in silicon.VGG_LAYERS}
    assert cost["CONV1-2"].macs == cost["CONV4-2"].macs
    for name, c in cost.items():
        measured = silicon.VGG_MEASURED[name]
        assert c.active_pes == measured.active_pes
        assert 0.9 <= c.processing_ms / measured.processing_ms <= 1.1, name
    slowdown = cost["CONV1-2"].processing_ms / cost["CONV4-2"].processing_ms
    assert 3.3 <= slowdown <= 4.5  # "nearly four times"; the MAC rate is its inverse, 0.22-0.30
