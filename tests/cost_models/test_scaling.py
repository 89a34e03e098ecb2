"""Energy scales with the design's sizes (cost_models.scaling), and not at all at the chip's own sizes."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from cost_models import LayerShape, Mapping, check, evaluate
from cost_models.accesses import DATA_TYPES, LEVELS
from cost_models.calibration import ratios
from cost_models.cost import variables
from cost_models.hardware import Hardware, default_hardware, load_hardware
from cost_models.rowstationary import RowStationary
from cost_models.scaling import (REFERENCE, STORAGE, STORAGE_EXPONENT, access_energy, size_factors, sqrt_ratio,
                                 static_per_cycle)
from cost_models.silicon import LAYERS, PUBLISHED

LARGE_FILE = Path(__file__).resolve().parents[2] / "cost_models" / "data" / "large.yaml"  # a 32 x 32 design point

# LeNet-5's two convolutions (examples/lenet5.onnx) and a mapping of each that fits 5 GLB banks.
LENET = {
    "conv1": (LayerShape(1, 6, 1, 32, 32, 5, 5), Mapping(n=1, e=28, p=6, q=1, r=1, t=1, g=1, m=6)),
    "conv2": (LayerShape(1, 16, 6, 14, 14, 5, 5), Mapping(n=1, e=10, p=8, q=2, r=1, t=2, g=1, m=16)),
}


def test_the_reference_is_the_bundled_chip(hw: Hardware) -> None:
    assert {field: getattr(hw, field) for field in REFERENCE} == REFERENCE


def test_every_factor_is_exactly_one_at_the_chip_sizes(hw: Hardware) -> None:
    assert set(size_factors(hw).values()) == {Fraction(1)}
    assert static_per_cycle(hw) == hw.energy_static_per_cycle == 474
    # a chip-size design with another energy table keeps that table exactly
    other = replace(hw, energy_rf=3, energy_glb=7, energy_static_per_cycle=100)
    assert access_energy(other)["rf", "psum"] == 3 and access_energy(other)["glb", "filter"] == 7
    assert static_per_cycle(other) == 100


@pytest.mark.parametrize("name", list(LAYERS))
def test_chip_cost_is_the_unscaled_formula(hw: Hardware, name: str) -> None:
    layer, mapping, data = LAYERS[name], PUBLISHED[name], ratios(name)
    cost = evaluate(layer, mapping, hw, data)
    model = RowStationary(layer, hw, data)
    c = model.counts(variables(mapping))
    a, saved = c.accesses, model.gate_saved(c)
    unscaled = {"dram": 200 * a.dram.total, "glb": 6 * a.glb.total, "array": 2 * a.array.total,
                "rf": 1 * (a.rf.total - sum(saved.values())), "mac": 1 * model.gated_macs(c),
                "static": 474 * c.cycles.total}
    assert dict(cost.energy_units) == unscaled
    by_type = {dt: 200 * a.dram.of(dt) + 6 * a.glb.of(dt) + 2 * a.array.of(dt) + a.rf.of(dt) - saved.get(dt, 0)
               for dt in DATA_TYPES}
    assert {dt: cost.energy_units_by_type[dt] for dt in DATA_TYPES} == by_type


@pytest.mark.parametrize("field", ["filter_spad", "ifmap_spad", "psum_spad"])
def test_a_4x_larger_spad_costs_2x_per_access_and_only_its_own_type(hw: Hardware, field: str) -> None:
    big = replace(hw, **{field: 4 * getattr(hw, field)})
    per, base = access_energy(big), access_energy(hw)
    own = next(key for key, storage in STORAGE.items() if storage == field)
    assert per[own] == 2 * base[own]
    assert all(per[key] == base[key] for key in per if key != own)


def test_a_4x_larger_glb_bank_costs_2x_per_glb_access_but_not_the_filter_buffer(hw: Hardware) -> None:
    per = access_energy(replace(hw, bank_words=4 * hw.bank_words))
    assert per["glb", "ifmap"] == per["glb", "psum"] == 2 * hw.energy_glb and per["glb", "filter"] == hw.energy_glb


def test_large_design_spads_cost_their_sqrt() -> None:
    large = load_hardware(LARGE_FILE)
    per = access_energy(large)
    assert float(per["rf", "ifmap"]) == pytest.approx((1024 / 12) ** 0.5, abs=1 / 1024)  # 9.24x
    assert float(per["rf", "filter"]) == pytest.approx((1024 / 224) ** 0.5, abs=1 / 1024)
    assert per["array", "ifmap"] == Fraction(2 * 64, 26) and per["array", "psum"] == 2  # wire ~ rows + cols
    assert per["dram", "ifmap"] == 200


def test_a_bigger_array_has_more_static_energy_per_cycle(hw: Hardware) -> None:
    sizes = [(6, 14), (12, 14), (24, 14), (32, 32)]
    static = [static_per_cycle(replace(hw, rows=r, cols=c)) for r, c in sizes]
    assert static == sorted(static) and len(set(static)) == len(static) and static[1] == 474


def test_lenet_at_5_15_25_banks_differs_in_energy_and_power_not_cycles(hw: Hardware) -> None:
    """The issue's example: identical pJ and mW for 5, 15 and 25 banks before the GLB's size leaked."""
    pj, mw = [], []
    for banks in (5, 15, 25):
        design = replace(hw, glb_banks=banks)
        costs = [evaluate(layer, mapping, design) for layer, mapping in LENET.values()]
        assert not any(check(layer, mapping, design) for layer, mapping in LENET.values())
        pj.append(sum(c.energy_pj for c in costs))
        mw.append(sum(c.energy_pj for c in costs) / sum(c.total_ms for c in costs) / 1e6)
        cycles = [c.total_cycles for c in costs]
        assert cycles == [c.total_cycles for c in [evaluate(l, m, hw) for l, m in LENET.values()]]
    assert pj[0] < pj[1] < pj[2] and mw[0] < mw[1] < mw[2]


def test_levels_and_types_add_up_to_one_total_off_the_chip() -> None:
    large = load_hardware(LARGE_FILE)
    for layer, mapping in LENET.values():
        cost = evaluate(layer, mapping, large)
        assert sum(cost.energy_units.values()) == sum(cost.energy_units_by_type.values()) == cost.energy_total_units
        assert cost.energy_units["rf"] > evaluate(layer, mapping, replace(large, **{k: REFERENCE[k] for k in (
            "filter_spad", "ifmap_spad", "psum_spad")})).energy_units["rf"]


@given(st.integers(1, 2**31), st.integers(1, 2**31), st.integers(1, 4096))
def test_sqrt_ratio_is_monotone_and_close_to_the_rule(a: int, b: int, reference: int) -> None:
    small, large = sorted((a, b))
    assert sqrt_ratio(small, reference) <= sqrt_ratio(large, reference)
    assert float(sqrt_ratio(small, reference)) == pytest.approx((small / reference) ** STORAGE_EXPONENT,
                                                                 abs=1 / 1024, rel=1e-9)


@given(st.sampled_from(sorted(set(STORAGE.values()))), st.integers(1, 1 << 16), st.integers(1, 1 << 16))
def test_energy_per_access_never_falls_as_a_storage_grows(field: str, a: int, b: int) -> None:
    hw = default_hardware()
    small, large = (access_energy(replace(hw, **{field: size})) for size in sorted((a, b)))
    assert all(small[key] <= large[key] for key in small)


@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 64), st.integers(1, 64))
def test_noc_energy_per_delivery_never_falls_as_the_array_grows(r1: int, c1: int, r2: int, c2: int) -> None:
    hw = default_hardware()
    small = access_energy(replace(hw, rows=min(r1, r2), cols=min(c1, c2)))
    large = access_energy(replace(hw, rows=max(r1, r2), cols=max(c1, c2)))
    assert all(small["array", dt] <= large["array", dt] for dt in DATA_TYPES)
    assert all(small[level, dt] == large[level, dt] for level in LEVELS if level != "array" for dt in DATA_TYPES)
