"""No float noise in a reported figure (issue 30, 9c): every float of the bundled examples' reports and of the
library's values prints as at most 15 significant digits (areas 12), not as 12.250000000000002."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterator

import pytest

from cost_models import figures
from cost_models.area import area
from cost_models.hardware import default_hardware
from mapper import compile_model

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
# The goldens are what the bundled examples compile to today (test_golden.py checks it byte for byte).
REPORTS = sorted(GOLDEN.glob("*_b*.json"))


def digits(value: float) -> int:
    """Significant digits of ``value`` as Python (and json.dumps) prints it: 12.250000000000002 has 17."""
    mantissa = repr(value).lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.strip("0")) or 1


def floats(node: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from floats(value, f"{path}.{key}")
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from floats(value, f"{path}[]")
    elif isinstance(node, float):
        yield path, node


def test_figures_round_away_the_noise():
    assert digits(12.250000000000002) == 17 and digits(12.25) == 4 and digits(0.000005) == 1
    assert figures.mm2(3.5 * 3.5 + 1e-15) == 12.25
    assert figures.ms(1, 200) == 0.000005 and figures.ms(59945, 200) == 0.299725
    assert figures.units_pj(3, 0.1) == 0.3  # 3 * 0.1 is 0.30000000000000004
    assert figures.pj(0.1 + 0.2) == 0.3 and figures.significant(0.0) == 0.0
    assert figures.ratio(43691 / 65536) == 0.666672 and round(figures.ratio(43691 / 65536) * 65536) == 43691


@pytest.mark.parametrize("path", REPORTS, ids=[p.stem for p in REPORTS])
def test_a_bundled_report_has_no_float_noise(path):
    report = json.loads(path.read_text())["report"]
    found = list(floats(report))
    assert len(found) > 100  # the report's figures, not an empty walk
    noisy = [(where, value) for where, value in found
             if digits(value) > (figures.AREA_SIGNIFICANT if "_mm2" in where else figures.SIGNIFICANT)]
    assert noisy == []


def test_the_library_values_have_no_float_noise():
    hw = default_hardware()
    chip = area(hw)
    assert chip.core_mm2 == 12.25 and chip.die_mm2 == 16.0  # the published 3.5 x 3.5 mm core and 4 x 4 mm die
    assert all(digits(getattr(chip, f.name)) <= figures.AREA_SIGNIFICANT for f in fields(chip))
    result = compile_model(ROOT / "examples" / "lenet5.onnx", cache=False, program=False)
    values = list(floats(asdict(result.totals)))
    for layer in result.layers:
        cost = layer.result.cost
        values += [("energy_pj", cost.energy_pj), ("total_ms", cost.total_ms), ("processing_ms", cost.processing_ms)]
        values += [(f"pj.{k}", v) for k, v in cost.energy_pj_by_level.items()]
    assert len(values) > 30
    assert [(where, value) for where, value in values if digits(value) > figures.SIGNIFICANT] == []
