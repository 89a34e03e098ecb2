"""The chip team's mapping rules: the ``jssc`` mapping space, a subset of the model's ``full`` one.

The full space holds every mapping the hardware limits allow
(``RowStationary.limits``).  On large feature maps its optimum often stacks
narrow PE sets side by side with many channels per pass, a territory no
silicon figure covers.  The ``jssc`` space keeps only mappings shaped like the
ones the chip ran (JSSC 2017 Table III, ``cost_models.silicon.PUBLISHED``;
docs/eyeriss-facts.md sections 5.1-5.5): each rule below is a ``Limit`` over
the mapping variables, written over ``cost_models.arith`` numbers, so the one
list constrains the CP-SAT model (``mapper.search.cpsat``), filters the
enumerator (``mapper.search.exhaustive``) and is what ``cost_models.cost.check``
reports for one mapping.  All five published mappings obey every rule
(``tests/mapper/search/test_rules.py``).

Each rule encodes a sentence of the papers or of nn-dataflow's Eyeriss map
strategy, quoted in ``CITATIONS`` (as docs/eyeriss-facts.md transcribes it,
with its paper and section), except rule 4, which only AlexNet's Table III
numbers support: its parameter is read off the published mappings by
``derive`` (``DERIVED``), and ``cost_models.leave_one_out`` checks that, read
off four of the five, it still admits the fifth.

1. Whole sets, strip-mined only when too large [JSSC IV-A; eyeriss-facts.md 5.1]:
   a logical set of R x E PEs that fits the array (in segments of at most
   ``cols`` columns stacked vertically, as CONV2's 5 x 27 = 5 x 14 + 5 x 13)
   is never strip-mined: e = E.  Only a set that does not fit (CONV1's
   11 x 55) is cut into strips of e <= cols ofmap rows [JSSC IV-A: a set
   larger than the 168 PEs is strip-mined, e <= E rows at a time; nn-dataflow's
   MapStrategyEyeriss folds the width to at most the array width,
   ``fold_w = ceil(E / cols)``]; whole sets are then replicated to fill the
   array (rule 2).  The strip width need not divide the array width: that
   CONV1's e = 7 divides 14 is an AlexNet fact (VGG-16 CONV1-2's 156 active
   PEs [JSSC Table VI] are 4 strips of 3 x 13).
2. Replication fills the array [JSSC IV-A "replication"; nn-dataflow
   ``repl_h = rows // R``, ``repl_w = cols // E``]: a set narrower or lower
   than the array is replicated into every slot, r*t*g sets for the
   (rows // (segments*R)) x (cols // width) slots (CONV3-5: 4 sets of 3 x 13
   on 12 x 14), unless the layer has fewer filter, channel and group sets
   than slots (nn-dataflow clamps its replication the same way).
3. Exact blocking [nn-dataflow ``loop_blocking.py``: after replication,
   every loop count is split over the storage levels by ``util.factorize``,
   exact factors only; every published mapping obeys it]: n divides N; q
   divides the ceil(Cg / r) channels one channel set covers; m / t (p filters
   per PE times the m / (p*t) passes of a psum block) divides the ceil(Mg / t)
   filters one filter set covers.  The replication
   factors themselves (r, t, g) and the strip width e need not divide (CONV1's
   e = 7 does not divide E = 55; nn-dataflow rounds those counts up).
4. Filter sets first [AlexNet's Table III only: t >= r in all five published
   mappings, CONV1-3 r = 1, CONV4-5 r = t = 2]: the array holds at most k
   channel sets (accumulating psums in the array) per filter set (sharing one
   ifmap), r <= k t, with k the largest r / t a published mapping uses
   (``derive``: k = 1).  No text states it; it is what makes
   CONV4 land on its published mapping under our model.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping as MappingT

from cost_models import silicon
from cost_models.choices import DEFAULT_SPACE, SPACES  # every mapping the hardware allows, or the chip rules too
from cost_models.arith import Num, ceil_div, floor_div, lookup, max_, min_, name
from cost_models.mapping import Mapping, segments_of
from cost_models.rowstationary import Limit, RowStationary, Vars

# The spaces narrowest first: each one's mappings are all in the next (``space_limits``: jssc is full's limits and
# the chip rules), so an optimum of one is a valid mapping of every space after it (mapper.search.network
# caps the wider search with it).
NESTED = ("jssc", "full")




@dataclass(frozen=True)
class Citation:
    """What a rule encodes: the sentence quoted (as docs/eyeriss-facts.md transcribes it), its source, and
    ``basis``: ``text`` when a paper or nn-dataflow states it, ``Table III`` when only AlexNet's published
    mappings support it (then its parameter comes from ``derive``)."""

    rule: str
    source: str
    quote: str
    basis: str


_FACTORIZE = ("nn-dataflow loop_blocking.py and util.factorize (eyeriss-facts.md section 0, [NND]; "
              "the replication counts are rounded up: map_strategy.py _gen_repl, util.idivc)")
_FACTORIZE_QUOTE = ("[nn-dataflow util.factorize, which the loop blocking applies to each loop count after "
                    "replication:] \"Iterate over factor combinations of which the product is `value`.\"")

# Every rule's limit names (``chip_rules``) -> the sentence it encodes.  docs/cost_model.md prints the same.
CITATIONS: dict[str, Citation] = {
    "jssc_whole_set": Citation(
        "1. whole sets", "JSSC 2017 section IV-A (eyeriss-facts.md 5.1, item 2)",
        "A set that fits in 168 PEs but is wider than 14 is split into segments mapped independently. "
        "CONV2 5x27 becomes 5x14 + 5x13, stacked.", "text"),
    "jssc_strip_width": Citation(
        "1. strips at most the array width", "JSSC 2017 section IV-A (eyeriss-facts.md 5.1, item 1); "
        "nn-dataflow MapStrategyEyeriss._repl_fold (eyeriss-facts.md 5.5)",
        "A set larger than 168 PEs is strip-mined: only e <= E ofmap rows at a time, giving R x e. "
        "[nn-dataflow:] Fold when the set exceeds the array: fold_w = ceil(E/14).", "text"),
    "jssc_fill": Citation(
        "2. replication fills the array", "JSSC 2017 section IV-A (eyeriss-facts.md 5.2); nn-dataflow "
        "MapStrategyEyeriss._repl_fold and _gen_repl (eyeriss-facts.md 5.5)",
        "Across the array: r x t sets run in parallel. [...] CONV3: t=4. CONV4/5: r=t=2 (the same ifmap goes "
        "to every other set; the top and bottom pairs accumulate). [nn-dataflow:] Otherwise replicate: "
        "repl_h = 12 // R, repl_w = 14 // E. (Its _gen_repl caps the replicated channel and filter sets at the "
        "layer's channels and filters.)", "text"),
    "jssc_divides_n": Citation(
        "3. exact blocking (n)", _FACTORIZE, _FACTORIZE_QUOTE + " Here: the batch loop (n divides N).", "text"),
    "jssc_divides_q": Citation(
        "3. exact blocking (q)", _FACTORIZE, _FACTORIZE_QUOTE + " Here: the channel loop left after "
        "replication, ceil(Cg / r) (q divides it).", "text"),
    "jssc_divides_m": Citation(
        "3. exact blocking (m)", _FACTORIZE, _FACTORIZE_QUOTE + " Here: the filter loop left after "
        "replication, ceil(Mg / t) (m / t divides it).", "text"),
    "jssc_filter_sets_first": Citation(
        "4. filter sets first", "JSSC 2017 Table III (via [PARAMS]; eyeriss-facts.md 5.4)",
        "CONV1 r=1 t=2; CONV2 r=1 t=1; CONV3 r=1 t=4; CONV4 r=2 t=2; CONV5 r=2 t=2 (no sentence states "
        "r <= t; nn-dataflow's \"repl.w is only used for ofm; repl.h can be shared by ifm and ofm\" leaves "
        "the height split free).", "Table III"),
}


@dataclass(frozen=True)
class Derived:
    """The rule parameters read off published mappings rather than stated by a text (``basis`` Table III)."""

    channel_sets_per_filter_set: Fraction  # rule 4: r <= k t


def derive(published: MappingT[str, Mapping]) -> Derived:
    """The data-derived rule parameters from a set of published layer mappings: k = the largest r / t."""
    if not published:
        raise ValueError("deriving the chip rules needs at least one published mapping")
    return Derived(channel_sets_per_filter_set=max(Fraction(m.r, m.t) for m in published.values()))


# The parameters the jssc space uses: derived from all five AlexNet mappings the chip ran [JSSC Table III].
DERIVED = derive(silicon.PUBLISHED)


def check_space(space: str) -> str:
    """``space`` itself when it names a mapping space, else ValueError."""
    if space not in SPACES:
        raise ValueError(f"mapping space must be one of {', '.join(SPACES)}, got {space!r}")
    return space


def space_limits(model: RowStationary, v: Vars, space: str = DEFAULT_SPACE) -> list[Limit]:
    """The limits a mapping must keep in ``space``: the hardware's, then the chip rules for ``jssc``."""
    limits = model.limits(v)
    if check_space(space) == "jssc":
        limits += chip_rules(model, v)
    return limits


def chip_rules(model: RowStationary, v: Vars, derived: Derived = DERIVED) -> list[Limit]:
    """Rules 1-4 of the module docstring as limits ``lhs <= rhs`` (an equality is one limit: x*ceil(N/x) <= N);
    ``derived`` holds rule 4's parameter (the leave-one-out check passes others)."""
    return _set_width(model, v) + [_fill(model, v)] + _exact_blocks(model, v) + [_filter_sets_first(v, derived)]


def _filter_sets_first(v: Vars, derived: Derived) -> Limit:
    """Rule 4: at most k channel sets per filter set (k = 1 from Table III: r <= t)."""
    k = derived.channel_sets_per_filter_set
    if k == 1:
        return Limit("jssc_filter_sets_first", "chip rule 4 (JSSC Table III): channel sets r <= filter sets t",
                     v.r, v.t)
    return Limit("jssc_filter_sets_first", f"chip rule 4 (JSSC Table III): channel sets r <= {k} x filter sets t",
                 v.r * k.denominator, v.t * k.numerator)


def _set_width(model: RowStationary, v: Vars) -> list[Limit]:
    """Rule 1: e = E when the whole set fits; else strips at most the array width (rule 2 replicates them)."""
    hw, E = model.hw, model.E
    if segments_of(E, hw.cols) * model.R <= hw.rows:
        return [Limit("jssc_whole_set", f"chip rule 1 (JSSC IV-A): the {model.R}x{E} set fits the array, so "
                      "no strip-mining: E <= e", E, v.e)]
    return [Limit("jssc_strip_width", "chip rule 1 (JSSC IV-A): a strip is at most the array width: e <= cols",
                  v.e, hw.cols)]


def _fill(model: RowStationary, v: Vars) -> Limit:
    """Rule 2: as many sets as slots, or as the layer has filter, channel and group sets."""
    hw = model.hw
    segments = name(lookup(model.t_segments, v.e), "segments(e)")
    across = name(lookup(model.t_across, v.e), "across(e)")
    slots = name(floor_div(hw.rows, segments * model.R) * across, "set_slots(e)")
    available = ceil_div(model.Cg, v.q) * max_(ceil_div(model.Mg, v.p), model.G)
    return Limit("jssc_fill", "chip rule 2 (JSSC IV-A): replication fills the array: min(set slots, sets the "
                 "layer has) <= r*t*g", min_(slots, available), v.r * v.t * v.g)


def _exact_blocks(model: RowStationary, v: Vars) -> list[Limit]:
    """Rule 3: the blocking factors of each loop after replication divide its count exactly."""
    per_filter_set = name(ceil_div(model.Mg, v.t), "ceil(Mg/t)")
    per_channel_set = name(ceil_div(model.Cg, v.r), "ceil(Cg/r)")
    blocks: list[tuple[str, str, Num, Num]] = [
        ("n", "n divides N", v.n, model.N),
        ("q", "q divides the ceil(Cg/r) channels of a channel set", v.q, per_channel_set),
        ("m", "m/t divides the ceil(Mg/t) filters of a filter set", v.p * v.m_per_pt, per_filter_set)]
    return [Limit(f"jssc_divides_{key}", f"chip rule 3 (exact blocking): {what}", ceil_div(total, factor) * factor,
                  total) for key, what, factor, total in blocks]
