"""The chip team's mapping rules (cost_models.rules): the published mappings keep them, the jssc space is a
subset of the full one, every rule holds on what the search returns, and the AlexNet search lands on Table III."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cost_models import calibration, silicon
from cost_models.cost import check, evaluate, variables
from cost_models.layer import LayerShape, ShapeError
from cost_models.mapping import Mapping
from cost_models.rowstationary import RowStationary
from cost_models.rules import SPACES, chip_rules, space_limits
from mapper.search.cpsat import map_layer
from mapper.search.exhaustive import enumerate_best

RULES = ("jssc_whole_set", "jssc_strip_width", "jssc_fill", "jssc_divides_n", "jssc_divides_q",
         "jssc_divides_m", "jssc_filter_sets_first")


def broken_rules(layer: LayerShape, mapping: Mapping, hw) -> set[str]:
    """The names of the chip rules ``mapping`` breaks."""
    model = RowStationary(layer, hw)
    return {limit.name for limit in chip_rules(model, variables(mapping)) if not limit.lhs <= limit.rhs}


@pytest.mark.parametrize("name", silicon.ORDER)
def test_every_published_mapping_keeps_every_chip_rule(hw, name):
    """The rules are read off JSSC Table III: all five mappings the chip ran are in the jssc space."""
    assert check(silicon.LAYERS[name], silicon.PUBLISHED[name], hw, "jssc") == []


# CONV3: the chip ran t = 4 sets of one channel block (q*r = 4); under our model r = t = 2 with p = 12, m = 48
# keeps every rule and costs 2.8 % less energy (it halves the GLB psum traffic of 4 channels per pass).  No
# rule the five published mappings share excludes it, and it meets the measured GLB accesses (0.88x) better than
# the transcribed mapping (1.43x) does (docs/cost_model.md, "The chip team's mapping rules").
MISSES = {"CONV3": "a rule-abiding mapping with r = t = 2 costs 2.8 % less under our model"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=MISSES[n], strict=True))
                                  if n in MISSES else n for n in silicon.ORDER])
def test_the_chip_rule_search_lands_on_the_published_alexnet_mapping(hw, name):
    """N = 4, energy, the calibration's measured data ratios: the published mapping, or one of equal cost."""
    layer, ratios = silicon.LAYERS[name], calibration.ratios(name)
    result = map_layer(layer, hw, "energy", ratios=ratios, space="jssc")
    published = evaluate(layer, silicon.PUBLISHED[name], hw, ratios).objective_units["energy"]
    assert result.status == "OPTIMAL"
    assert result.mapping == silicon.PUBLISHED[name] or result.objective_value == published


@st.composite
def small_hardware(draw, hw):
    """The chip with a small array and small spads and buffer (every ID width still covers the columns)."""
    return dataclasses.replace(hw, rows=draw(st.integers(3, 12)), cols=draw(st.integers(2, 14)),
                               filter_spad=draw(st.integers(8, 224)), ifmap_spad=draw(st.integers(4, 12)),
                               psum_spad=draw(st.integers(1, 24)), glb_banks=draw(st.integers(2, 25)))


@st.composite
def small_layers(draw) -> LayerShape:
    groups = draw(st.sampled_from([1, 1, 2, 4]))
    R, S = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    try:
        return LayerShape(draw(st.integers(1, 4)), groups * draw(st.integers(1, 24)), groups * draw(st.integers(1, 16)),
                          draw(st.integers(R, 32)), draw(st.integers(S, 24)), R, S,
                          stride=(draw(st.sampled_from([1, 1, 2])), 1), groups=groups)
    except ShapeError:
        return LayerShape(1, 4 * groups, 2 * groups, 8, 8, 1, 1, groups=groups)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), layer=small_layers(), objective=st.sampled_from(["energy", "latency"]))
def test_the_chip_rule_space_is_a_subset_of_the_full_space(hw, data, layer, objective):
    """Its optimum is never cheaper; the mapping found keeps every rule; search, enumerator and check agree."""
    small = data.draw(small_hardware(hw))
    full = map_layer(layer, small, objective)
    jssc = map_layer(layer, small, objective, space="jssc")
    oracle = enumerate_best(layer, small, objective, space="jssc")
    assert jssc.objective_value == oracle.objective_value
    if jssc.mapping is None:
        event(f"no chip-rule mapping ({jssc.status})")
        assert jssc.status in ("INFEASIBLE", "UNMAPPABLE")
        return
    event("the full space gains" if full.objective_value < jssc.objective_value else "the spaces tie")
    assert jssc.status == "OPTIMAL" and full.status == "OPTIMAL"
    assert full.objective_value <= jssc.objective_value
    assert check(layer, jssc.mapping, small, "jssc") == [] and check(layer, jssc.mapping, small) == []
    assert broken_rules(layer, jssc.mapping, small) == set()
    if full.objective_value < jssc.objective_value:  # the full optimum is outside the chip rules
        assert broken_rules(layer, full.mapping, small)


def test_check_names_each_broken_rule(hw):
    """CONV2 strip-mined, two narrow sets of channels, psum blocks that do not divide M: each rule says what it needs."""
    layer = silicon.LAYERS["CONV2"]
    mapping = Mapping(n=1, e=7, p=22, q=2, r=2, t=1, g=1, m=66)
    assert check(layer, mapping, hw) == []
    assert broken_rules(layer, mapping, hw) == {"jssc_whole_set", "jssc_divides_m", "jssc_filter_sets_first", "jssc_fill"}
    problems = check(layer, mapping, hw, "jssc")
    assert len(problems) == 4 and any("no strip-mining: E <= e: 27 > 7" in p for p in problems)


def test_every_rule_is_named_and_the_spaces_are_known(hw):
    layer = silicon.LAYERS["CONV1"]
    model = RowStationary(layer, hw)
    v = variables(silicon.PUBLISHED["CONV1"])
    names = {limit.name for limit in chip_rules(model, v)}
    assert names <= set(RULES) and "jssc_strip_width" in names
    assert len(space_limits(model, v, "jssc")) == len(model.limits(v)) + len(names) and SPACES == ("full", "jssc")
    with pytest.raises(ValueError, match="mapping space must be one of full, jssc"):
        check(layer, silicon.PUBLISHED["CONV1"], hw, "wide")
