"""A search given a known valid mapping (``map_layer(known=...)``): capped by it, never answering differently."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mapper.search.cpsat as search
import mapper.search.network as network
from cost_models.cost import check, evaluate
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import DataRatios
from cost_models.rules import NESTED
from mapper.search import cpsat_api as cp
from mapper.search.cpsat import map_layer
from mapper.search.network import map_network, solve_spaces, space_optima
from mapper.search.space import from_mapping, to_mapping
from tests.mapper.search.test_network import small_net
from tests.mapper.search.test_search import small_layers

CONV = LayerShape(1, 64, 32, 28, 28, 3, 3, pads=(1, 1, 1, 1))


def answer(result) -> tuple:
    return result.mapping, result.status, result.objective_value, result.bound


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=small_layers(), objective=st.sampled_from(["energy", "latency", "edp"]))
def test_the_jssc_optimum_as_known_changes_no_full_space_answer(hw, layer, objective):
    narrow = map_layer(layer, hw, objective, space="jssc")
    plain = map_layer(layer, hw, objective)
    capped = map_layer(layer, hw, objective, known=narrow.mapping)
    assert answer(capped) == answer(plain)


def test_any_valid_known_mapping_changes_no_answer_and_an_invalid_one_is_ignored(hw):
    plain = map_layer(CONV, hw, "energy")
    worse = Mapping(n=1, e=28, p=1, q=1, r=1, t=1, g=1, m=1)  # valid, far from the optimum
    assert check(CONV, worse, hw) == [] and evaluate(CONV, worse, hw).objective_units["energy"] > plain.objective_value
    too_wide = Mapping(n=1, e=28, p=64, q=32, r=4, t=16, g=1, m=64)  # breaks the spads and the array
    assert check(CONV, too_wide, hw)
    for known in (worse, plain.mapping, too_wide):
        assert answer(map_layer(CONV, hw, "energy", known=known)) == answer(plain)


def test_a_known_mapping_over_the_latency_bound_caps_nothing(hw):
    fastest = map_layer(CONV, hw, "latency")
    slow = Mapping(n=1, e=28, p=1, q=1, r=1, t=1, g=1, m=1)
    bound = fastest.cost.total_cycles
    assert evaluate(CONV, slow, hw).total_cycles > bound
    bounded = map_layer(CONV, hw, "energy", max_cycles=bound)
    assert answer(map_layer(CONV, hw, "energy", max_cycles=bound, known=slow)) == answer(bounded)
    assert search._Known.of(slow, CONV, hw, "energy", DataRatios(), bound, "full") is None


def test_a_search_that_finds_nothing_answers_with_the_known_mapping(hw, monkeypatch):
    known = Mapping(n=1, e=28, p=1, q=1, r=1, t=1, g=1, m=1)
    monkeypatch.setattr(search, "_staged", lambda *args: search._Found(cp.UNKNOWN, bound=5))
    result = map_layer(CONV, hw, "energy", known=known)
    assert result.status == "FEASIBLE" and result.mapping == known
    assert result.objective_value == evaluate(CONV, known, hw).objective_units["energy"] and result.bound == 5


def test_infeasible_below_a_valid_mapping_is_a_bug_not_an_answer(hw, monkeypatch):
    monkeypatch.setattr(search, "_staged", lambda *args: search._Found(cp.INFEASIBLE))
    with pytest.raises(RuntimeError, match="disagree"):
        map_layer(CONV, hw, "energy", known=Mapping(n=1, e=28, p=1, q=1, r=1, t=1, g=1, m=1))


@settings(max_examples=60, deadline=None)
@given(layer=small_layers(), data=st.data())
def test_from_mapping_inverts_to_mapping(layer, data):
    """Every mapping the solver can express (m = passes * p * t, capped at the group's filters) round-trips."""
    p, t, passes = (data.draw(st.integers(1, 8), label=key) for key in ("p", "t", "passes"))
    mapping = Mapping(n=1, e=1, p=p, q=1, r=1, t=t, g=1, m=min(passes * p * t, layer.Mg))
    values = from_mapping(mapping)
    assert to_mapping(layer, values) == mapping
    assert values["m_per_pt"] == 1 or p * t * (values["m_per_pt"] - 1) < mapping.m  # the fewest passes


def test_solve_spaces_runs_the_narrowest_first_and_caps_the_wider_with_it(hw):
    calls = []

    def recording(layer, hw_, objective, *, space, known, **options):
        calls.append((space, known))
        return map_layer(layer, hw_, objective, space=space, known=known, **options)

    found = solve_spaces(recording, CONV, hw, "energy", ("full", "jssc"))
    assert [space for space, _ in calls] == list(NESTED) == ["jssc", "full"]
    assert calls[0][1] is None and calls[1][1] == found["jssc"].mapping
    assert list(found) == ["full", "jssc"]
    calls.clear()
    again = solve_spaces(recording, CONV, hw, "energy", ("full", "jssc"), {"jssc": found["jssc"]})
    assert again["jssc"] is found["jssc"] and answer(again["full"]) == answer(found["full"])
    assert [space for space, _ in calls] == ["full"]


def test_a_compile_comparing_spaces_searches_each_distinct_layer_once_per_space(hw, monkeypatch):
    """map_network(compare_spaces=True) leaves space_optima nothing to search, with the same optima."""
    calls = []
    real = network._map_layer

    def counting(*args, **options):
        calls.append(options["space"])
        return real(*args, **options)

    monkeypatch.setattr(network, "_map_layer", counting)
    both = map_network(small_net(), hw, "energy", compare_spaces=True)
    distinct = {(entry.layer, entry.ratios) for entry in both.layers}
    assert sorted(calls) == sorted(["full", "jssc"] * len(distinct))
    table = space_optima(both)
    assert len(calls) == 2 * len(distinct)  # nothing searched again
    alone = map_network(small_net(), hw, "energy")
    calls.clear()
    fresh = space_optima(alone)
    assert sorted(calls) == ["jssc"] * len(distinct)
    assert {name: {s: answer(r) for s, r in spaces.items()} for name, spaces in table.items()} == \
        {name: {s: answer(r) for s, r in spaces.items()} for name, spaces in fresh.items()}
    assert [answer(e.result) for e in both.layers] == [answer(e.result) for e in alone.layers]
