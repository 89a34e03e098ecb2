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
(``tests/cost_models/test_rules.py``).

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
4. Filter sets first [all five published mappings: t >= r, i.e. CONV1-3
   r = 1, CONV4-5 r = t = 2]: the array holds at least as many filter sets
   (sharing one ifmap) as channel sets (accumulating psums in the array).
   No text states it; it is read off Table III, and it is what makes CONV4
   land on its published mapping under our model.
"""

from __future__ import annotations

from cost_models.arith import Num, ceil_div, floor_div, lookup, max_, min_, name
from cost_models.mapping import segments_of
from cost_models.rowstationary import Limit, RowStationary, Vars

# The mapping spaces a search can run in: every mapping the hardware allows, or the chip team's rules too.
SPACES = ("full", "jssc")
DEFAULT_SPACE = "full"
# The spaces narrowest first: each one's mappings are all in the next (``space_limits``: jssc is full's limits and
# the chip rules), so an optimum of one is a valid mapping of every space after it (mapper.search.network
# caps the wider search with it).
NESTED = ("jssc", "full")


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


def chip_rules(model: RowStationary, v: Vars) -> list[Limit]:
    """Rules 1-4 of the module docstring as limits ``lhs <= rhs`` (an equality is one limit: x*ceil(N/x) <= N)."""
    return _set_width(model, v) + [_fill(model, v)] + _exact_blocks(model, v) + [
        Limit("jssc_filter_sets_first", "chip rule 4 (JSSC Table III): channel sets r <= filter sets t", v.r, v.t)]


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
