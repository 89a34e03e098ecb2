"""The validity check: published mappings pass, and each hardware limit, broken alone, is named."""

from __future__ import annotations

import pytest

from cost_models import silicon
from cost_models import InvalidMapping, LayerShape, Mapping, check, evaluate
from cost_models.layer import ShapeError

CONV1 = LayerShape(4, 96, 3, 227, 227, 11, 11, stride=(4, 4))
CONV3 = LayerShape(4, 384, 256, 13, 13, 3, 3, pads=(1, 1, 1, 1))
CONV4 = LayerShape(4, 384, 384, 13, 13, 3, 3, pads=(1, 1, 1, 1), groups=2)
FC = LayerShape(4, 4096, 9216, 1, 1, 1, 1, kind="fc")
SMALL = LayerShape(1, 16, 8, 13, 13, 3, 3, pads=(1, 1, 1, 1))


def test_published_alexnet_mappings_are_valid(hw):
    for name in silicon.ORDER:
        assert check(silicon.LAYERS[name], silicon.PUBLISHED[name], hw) == [], name


# Each case breaks exactly one limit of a mapping that is otherwise valid.
CASES = [
    ("filter spad", CONV3, Mapping(n=1, e=13, p=24, q=4, r=1, t=1, g=1, m=24)),       # 24*4*3 = 288 > 224
    ("ifmap spad", CONV3, Mapping(n=1, e=13, p=8, q=5, r=1, t=1, g=1, m=8)),          # 5*3 = 15 > 12
    ("psum spad", CONV3, Mapping(n=1, e=13, p=25, q=1, r=1, t=1, g=1, m=25)),         # 25 > 24
    ("PE rows", CONV3, Mapping(n=1, e=13, p=16, q=1, r=5, t=1, g=1, m=16)),           # 5*3 = 15 > 12 rows
    ("PE array", CONV3, Mapping(n=1, e=13, p=16, q=1, r=1, t=5, g=1, m=80)),          # 5 sets, 4 bands x 1
    ("global buffer banks", CONV1, Mapping(n=4, e=7, p=16, q=1, r=1, t=2, g=1, m=96)),  # 4*96*7*55 psums
    ("filter buffer", FC, Mapping(n=1, e=1, p=18, q=12, r=1, t=19, g=1, m=342)),     # 18*12*19 = 4104 > 4096
    ("group sets and filter sets", CONV4, Mapping(n=1, e=13, p=16, q=3, r=1, t=2, g=2, m=32)),
    ("n <= N", CONV3, Mapping(n=5, e=13, p=16, q=1, r=1, t=1, g=1, m=16)),
    ("g <= groups", CONV3, Mapping(n=1, e=13, p=16, q=1, r=1, t=1, g=2, m=16)),
    ("no empty filter set", SMALL, Mapping(n=1, e=13, p=8, q=1, r=1, t=3, g=1, m=24)),        # 8*2 >= 16 filters
    ("no empty channel set", SMALL, Mapping(n=1, e=13, p=8, q=4, r=3, t=1, g=1, m=8)),        # 4*2 >= 8 channels
]


@pytest.mark.parametrize("limit, layer, mapping", CASES, ids=[case[0] for case in CASES])
def test_each_limit_is_named(hw, limit, layer, mapping):
    problems = check(layer, mapping, hw)
    assert any(limit in problem for problem in problems), problems
    if limit != "PE rows":  # a stack taller than the array also leaves no band for any set
        assert len(problems) == 1, problems
    with pytest.raises(InvalidMapping) as info:
        evaluate(layer, mapping, hw)
    assert limit in str(info.value)


def test_single_limit_cases_break_nothing_else_once_repaired(hw):
    """Guard on the cases above: shrinking the offending parameter makes each valid."""
    repaired = [
        (CONV3, Mapping(n=1, e=13, p=16, q=4, r=1, t=1, g=1, m=16)),
        (CONV3, Mapping(n=1, e=13, p=8, q=4, r=1, t=1, g=1, m=8)),
        (CONV3, Mapping(n=1, e=13, p=24, q=1, r=1, t=1, g=1, m=24)),
        (CONV3, Mapping(n=1, e=13, p=16, q=1, r=4, t=1, g=1, m=16)),
        (CONV3, Mapping(n=1, e=13, p=16, q=1, r=1, t=4, g=1, m=64)),
        (CONV1, Mapping(n=1, e=7, p=16, q=1, r=1, t=2, g=1, m=96)),
        (FC, Mapping(n=1, e=1, p=18, q=12, r=1, t=18, g=1, m=324)),
        (CONV4, Mapping(n=1, e=13, p=16, q=3, r=1, t=1, g=2, m=16)),
        (SMALL, Mapping(n=1, e=13, p=8, q=1, r=1, t=2, g=1, m=16)),
        (SMALL, Mapping(n=1, e=13, p=8, q=4, r=2, t=1, g=1, m=8)),
    ]
    for layer, mapping in repaired:
        assert check(layer, mapping, hw) == [], mapping


@pytest.mark.parametrize("mapping, message", [
    (Mapping(n=1, e=13, p=16, q=1, r=1, t=2, g=1, m=40), "multiple of p*t"),
    (Mapping(n=1, e=14, p=16, q=1, r=1, t=1, g=1, m=16), "exceeds the ofmap height"),
    (Mapping(n=0, e=13, p=16, q=1, r=1, t=1, g=1, m=16), "n=0 must be >= 1"),
])
def test_malformed_mappings(hw, mapping, message):
    assert any(message in problem for problem in check(CONV3, mapping, hw))


@pytest.mark.parametrize("layer, message", [
    (LayerShape(1, 8, 8, 20, 20, 13, 3), "exceeds the 12 PE rows"),
    (LayerShape(1, 8, 8, 40, 40, 3, 33), "filter width S=33"),
    (LayerShape(1, 8, 8, 20, 20, 3, 3, stride=(3, 1)), "vertical stride 3"),
    (LayerShape(1, 8, 8, 40, 40, 3, 3, stride=(1, 13)), "horizontal stride 13"),
])
def test_layers_the_chip_cannot_run(hw, layer, message):
    any_mapping = Mapping(n=1, e=1, p=1, q=1, r=1, t=1, g=1, m=1)
    assert any(message in problem for problem in check(layer, any_mapping, hw))


@pytest.mark.parametrize("kwargs, message", [
    (dict(N=1, M=8, C=6, H=8, W=8, R=3, S=3, groups=4), "must divide"),
    (dict(N=1, M=8, C=8, H=2, W=8, R=3, S=3), "taller than the padded input"),
    (dict(N=1, M=8, C=8, H=8, W=8, R=3, S=3, pads=(3, 0, 0, 0)), "smaller than the filter extent"),
    (dict(N=1, M=8, C=8, H=8, W=8, R=3, S=3, stride=(0, 1)), "stride must be integers >= 1"),
    (dict(N=0, M=8, C=8, H=8, W=8, R=3, S=3), "N must be a positive integer"),
    (dict(N=1, M=8, C=8, H=70000, W=8, R=3, S=3), "exceeds the supported maximum"),
    (dict(N=2**20, M=65536, C=65536, H=1, W=1, R=1, S=1), "MACs, more than"),
])
def test_impossible_shapes_are_refused(kwargs, message):
    with pytest.raises(ShapeError, match=message):
        LayerShape(**kwargs)


def test_derived_figures_follow_the_fields():
    # JSSC Table V workload at N=4: CONV1 421,660,800 MACs; 55 x 55 ofmaps.
    assert (CONV1.E, CONV1.F, CONV1.macs()) == (55, 55, 421_660_800)
    assert (CONV4.Cg, CONV4.Mg, CONV4.weights()) == (192, 192, 384 * 192 * 9)
    assert CONV3.with_batch(1).macs() * 4 == CONV3.macs()
