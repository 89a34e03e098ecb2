"""Whether the chip rules hold beyond the mappings they were read off: the leave-one-out check.

A rule's parameter read off published mappings (``cost_models.rules.derive``; today rule 4's k in r <= k t) is
a fit.  Read off all but one AlexNet layer, the rules must still admit that layer's published mapping
[JSSC Table III]; a rule that fails this is over-fitted to the layers it saw.  ``benchmarks/jssc_alexnet.py``
prints the table, ``tests/cost_models/test_leave_one_out.py`` holds it (and shows an over-fitted rule failing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping as MappingT

from cost_models.cost import check, variables
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import Limit, RowStationary, Vars
from cost_models.rules import chip_rules, derive

# derive(published mappings) -> the parameters; rules(model, variables, parameters) -> the limits.
Derivation = Callable[[MappingT[str, Mapping]], Any]
Rules = Callable[[RowStationary, Vars, Any], list[Limit]]


@dataclass(frozen=True)
class Fold:
    """One left-out layer: the parameters derived without it, and the rules its own mapping then breaks."""

    left_out: str
    derived: Any  # what ``derive_rules`` returned (``cost_models.rules.Derived`` for the jssc rules)
    broken: tuple[str, ...]  # each ``what: lhs > rhs``; empty when the rules admit the mapping

    @property
    def admitted(self) -> bool:
        return not self.broken


def leave_one_out(layers: MappingT[str, LayerShape], published: MappingT[str, Mapping], hw: Hardware,
                  derive_rules: Derivation = derive, rules: Rules = chip_rules) -> list[Fold]:
    """Per layer of ``published``: derive the rule parameters from the others, then check its mapping.

    The hardware limits are checked too (a published mapping that breaks one is a transcription error, not a
    rule's); ``derive_rules`` and ``rules`` default to the jssc space's own (``Derived``, ``chip_rules``).
    """
    folds = []
    for name, mapping in published.items():
        derived = derive_rules({other: m for other, m in published.items() if other != name})
        model = RowStationary(layers[name], hw)
        broken = check(layers[name], mapping, hw) + [
            f"{limit.name} ({limit.what}): {limit.lhs} > {limit.rhs}"
            for limit in rules(model, variables(mapping), derived) if not limit.lhs <= limit.rhs]
        folds.append(Fold(name, derived, tuple(broken)))
    return folds

