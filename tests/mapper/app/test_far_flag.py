"""The layer table's '!' flag: a layer's latency over 2x its roofline (MACs/PEs cycles plus the compulsory
DRAM words' link time) or its DRAM traffic over 2x the compulsory words, and nothing else (docs/report.md)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from mapper.app.report_view import LEGEND, far_from_bound, network_view

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"


def _golden(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())["report"]


def _flagged(report: dict) -> list[int]:
    """The rows the terminal table marks '!' (at 100 columns every column is shown)."""
    console = Console(width=100, record=True, color_system=None)
    with console.capture() as capture:
        console.print(network_view(report))
    rows = [line for line in capture.get().splitlines() if re.match(r"^ *\d+ ", line)]
    assert len(rows) == len(report["layers"])
    return [int(line.split()[0]) for line in rows if line.rstrip().endswith("!")]


# (lower_bound fields, flagged?): each row tests one side of the rule.
CASES = [
    ({"cycles_ratio": 140.0, "roofline_ratio": 1.0, "dram_ratio": 1.0}, False),  # waits on its weights only
    ({"cycles_ratio": 5.0, "roofline_ratio": 2.5, "dram_ratio": 1.0}, True),     # latency far from its roofline
    ({"cycles_ratio": 1.5, "roofline_ratio": 1.5, "dram_ratio": 2.5}, True),     # DRAM far from compulsory
    ({"cycles_ratio": 9.0, "roofline_ratio": 2.0, "dram_ratio": 2.0}, False),    # at 2x exactly: not over
    ({"cycles_ratio": 3.0, "dram_ratio": 1.0}, True),                            # an older report: MACs/PEs
    ({"cycles_ratio": 1.9, "dram_ratio": 1.2}, False),
]


def test_exactly_the_layers_far_from_their_bounds_are_flagged():
    template = _golden("lenet5_b1")
    report = copy.deepcopy(template)
    layers = []
    for i, (fields, _) in enumerate(CASES):
        entry = copy.deepcopy(template["layers"][i % len(template["layers"])])
        entry["lower_bound"] = {k: v for k, v in entry["lower_bound"].items() if k != "roofline_ratio"} | fields
        layers.append(dict(entry, name=f"layer{i + 1}", index=i))
    report["layers"] = layers
    expected = [i + 1 for i, (_, flagged) in enumerate(CASES) if flagged]
    assert expected and len(expected) < len(CASES)  # the rule tells rows apart
    assert [i + 1 for i, entry in enumerate(layers) if far_from_bound(entry)] == expected
    assert _flagged(report) == expected
    assert "latency 2.5x its roofline" in far_from_bound(layers[1])[0]
    assert "DRAM 2.5x compulsory" in far_from_bound(layers[2])[0]


def test_the_legend_states_the_rule():
    assert "latency over 2x its roofline" in LEGEND.plain and "DRAM x over 2" in LEGEND.plain


NETWORKS = ["lenet5_b1", "alexnet_b2", "vgg16_b1", "resnet18_b1", "resnet50_b1", "mobilenet_v2_b1"]


@pytest.mark.parametrize("name", NETWORKS)
def test_the_roofline_is_a_lower_bound_of_the_latency(name):
    for entry in _golden(name)["layers"]:
        bound = entry["lower_bound"]
        assert bound["cycles"] <= bound["roofline_cycles"] <= entry["latency"]["total_cycles"]
        assert bound["roofline_ratio"] >= 1


def test_on_the_bundled_networks_the_flag_marks_a_few_rows_not_most():
    flagged = {name: _flagged(_golden(name)) for name in NETWORKS}
    rows = sum(len(_golden(name)["layers"]) for name in NETWORKS)
    old_rule = sum(e["lower_bound"]["cycles_ratio"] > 2 or e["lower_bound"]["dram_ratio"] > 2
                   for name in NETWORKS for e in _golden(name)["layers"])
    assert flagged["lenet5_b1"] == []  # every LeNet-5 layer is 3.7x-152x MACs/PEs, and at its roofline
    assert old_rule > rows * 3 // 4  # the old rule (lat x or DRAM x over 2) marked most rows
    assert 0 < sum(map(len, flagged.values())) < rows // 4
