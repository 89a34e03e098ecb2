"""The leave-one-out check of the chip rules (cost_models.leave_one_out): each rule parameter read off published
mappings, derived without one AlexNet layer, still admits that layer's published mapping [JSSC Table III]; and
the check fails an over-fitted rule."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from cost_models import silicon
from cost_models.cost import variables
from cost_models.leave_one_out import leave_one_out
from cost_models.rowstationary import Limit, RowStationary
from cost_models.rules import CITATIONS, DERIVED, Derived, chip_rules, derive


@pytest.mark.parametrize("left_out", silicon.ORDER)
def test_rules_derived_without_a_layer_admit_its_published_mapping(hw, left_out):
    fold = {f.left_out: f for f in leave_one_out(silicon.LAYERS, silicon.PUBLISHED, hw)}[left_out]
    assert fold.derived == derive({k: m for k, m in silicon.PUBLISHED.items() if k != left_out})
    assert fold.broken == () and fold.admitted


def _overfit(published):
    """A deliberately over-fitted rule: no more filter sets t and channels per PE q than a published mapping uses."""
    return (derive(published), max(m.t for m in published.values()), max(m.q for m in published.values()))


def _overfit_rules(model: RowStationary, v, derived) -> list[Limit]:
    rules, max_t, max_q = derived
    return chip_rules(model, v, rules) + [Limit("max_t", "t <= the largest published t", v.t, max_t),
                                          Limit("max_q", "q <= the largest published q", v.q, max_q)]


def test_the_check_fails_an_overfitted_rule(hw):
    """Read off all five layers the over-fitted rule admits each of them; left out, CONV3 (t = 4, q = 4) is not."""
    assert all(limit.lhs <= limit.rhs for name in silicon.ORDER
               for limit in _overfit_rules(RowStationary(silicon.LAYERS[name], hw),
                                           variables(silicon.PUBLISHED[name]), _overfit(silicon.PUBLISHED)))
    folds = {f.left_out: f for f in leave_one_out(silicon.LAYERS, silicon.PUBLISHED, hw, _overfit, _overfit_rules)}
    assert [name for name, f in folds.items() if not f.admitted] == ["CONV3"]
    assert folds["CONV3"].broken == ("max_t (t <= the largest published t): 4 > 2",
                                     "max_q (q <= the largest published q): 4 > 3")


def test_a_published_mapping_breaking_a_hardware_limit_is_reported(hw):
    """The check names a hardware limit too: a mistyped q = 5 (q S = 15 > 12) in the left-out mapping."""
    published = dict(silicon.PUBLISHED, CONV5=replace(silicon.PUBLISHED["CONV5"], q=5))
    folds = {f.left_out: f for f in leave_one_out(silicon.LAYERS, published, hw)}
    assert any("ifmap spad" in b for b in folds["CONV5"].broken)


def test_rule_4_takes_its_parameter_from_the_mappings(hw):
    """k = the largest r / t: 1 from Table III; a mapping with r = 4, t = 2 makes it r <= 2 t."""
    assert DERIVED == Derived(Fraction(1))
    wide = derive({"x": replace(silicon.PUBLISHED["CONV4"], r=4, t=2)})
    assert wide == Derived(Fraction(2))
    model = RowStationary(silicon.LAYERS["CONV4"], hw)
    v = variables(replace(silicon.PUBLISHED["CONV4"], r=4, t=1))
    rule4 = {limit.name: limit for limit in chip_rules(model, v, wide)}["jssc_filter_sets_first"]
    assert (rule4.lhs, rule4.rhs) == (4, 2) and "r <= 2 x filter sets t" in rule4.what
    with pytest.raises(ValueError, match="at least one published mapping"):
        derive({})


def test_every_rule_cites_its_source_and_only_rule_4_is_table_iii_only(hw):
    names = {limit.name for name in silicon.ORDER for limit in
             chip_rules(RowStationary(silicon.LAYERS[name], hw), variables(silicon.PUBLISHED[name]))}
    assert names == set(CITATIONS)
    assert all(c.quote and c.source for c in CITATIONS.values())
    assert {name for name, c in CITATIONS.items() if c.basis != "text"} == {"jssc_filter_sets_first"}
