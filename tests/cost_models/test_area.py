"""The area model: the chip at its published breakdown, and sensible scaling away from it."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, strategies as st

from cost_models.area import CORE_MM2, DIE_MM2, STORAGE_SHARE, Area, area, calibrate, logic_um2_per_gate
from cost_models.hardware import Hardware


def test_chip_comes_out_at_its_published_core_area(hw: Hardware) -> None:
    a = area(hw)
    assert a.core_mm2 == pytest.approx(12.25, rel=1e-9)      # 3.5 mm x 3.5 mm [ISSCC Fig. 14.5.7]
    assert a.die_mm2 == pytest.approx(16.0, rel=1e-9)        # 4 mm x 4 mm


def test_chip_shares_match_jssc_fig15(hw: Hardware) -> None:
    a = area(hw)
    assert a.spads / a.core_mm2 == pytest.approx(0.5, abs=0.01)             # spads ~ 1/2
    assert a.spads / (a.glb + a.filter_buffer) == pytest.approx(2.5, rel=0.01)   # 2.5x the GLB
    assert a.mac / a.core_mm2 == pytest.approx(0.074, abs=0.001)            # multipliers + adders 7.4 %
    assert a.storage / a.core_mm2 == pytest.approx(STORAGE_SHARE, abs=0.05)  # storage ~ 2/3 ("about")


def test_logic_area_per_gate_is_a_65nm_figure(hw: Hardware) -> None:
    # 1852 kGates [ISSCC]; a 65 nm NAND2 is ~1.4-2 um2, so with routing 1.5-3.5 um2 per placed gate.
    assert 1.5 < logic_um2_per_gate(area(hw)) < 3.5


def _with(hw: Hardware, **changes) -> Hardware:
    return dataclasses.replace(hw, **changes)


def test_components_scale_with_what_they_are_made_of(hw: Hardware) -> None:
    base = area(hw)
    double_pes = area(_with(hw, rows=24))
    assert double_pes.mac == pytest.approx(2 * base.mac)
    assert double_pes.filter_spad == pytest.approx(2 * base.filter_spad)
    assert double_pes.glb == base.glb and double_pes.top_level == base.top_level
    assert base.noc < double_pes.noc < 2.1 * base.noc
    more_banks = area(_with(hw, glb_banks=50))
    assert more_banks.glb == pytest.approx(2 * base.glb)
    wider_banks = area(_with(hw, bank_words=4096))
    assert base.glb < wider_banks.glb < 2 * base.glb        # periphery paid per bank, not per bit
    assert area(_with(hw, filter_spad=448)).filter_spad == pytest.approx(2 * base.filter_spad)
    assert area(_with(hw, filter_buffer_words=8192)).filter_buffer == pytest.approx(2 * base.filter_buffer)
    assert area(_with(hw, bus_words=(("filter", 8), ("ifmap", 1), ("psum", 4), ("output", 4)))).noc > base.noc


def test_large_register_spads_are_built_as_sram(hw: Hardware) -> None:
    small, big = area(_with(hw, psum_spad=32)), area(_with(hw, psum_spad=64))
    assert big.psum_spad < 2 * small.psum_spad       # past 32 words the spad is SRAM, cheaper per bit


def test_calibration_on_another_reference_reproduces_it(hw: Hardware) -> None:
    other = _with(hw, rows=16, cols=16, glb_banks=32)
    assert calibrate(other).area(other).core_mm2 == pytest.approx(CORE_MM2)


@given(rows=st.integers(1, 64), cols=st.integers(1, 64), banks=st.integers(1, 256), spad=st.integers(1, 2048))
def test_area_is_positive_and_monotone_in_every_size(hw: Hardware, rows: int, cols: int, banks: int, spad: int) -> None:
    a = area(_with(hw, rows=rows, cols=cols, glb_banks=banks, filter_spad=spad))
    assert isinstance(a, Area) and all(getattr(a, f.name) > 0 for f in dataclasses.fields(a))
    assert area(_with(hw, rows=rows + 1, cols=cols, glb_banks=banks, filter_spad=spad)).core_mm2 > a.core_mm2
    assert area(_with(hw, rows=rows, cols=cols, glb_banks=banks + 1, filter_spad=spad)).core_mm2 > a.core_mm2
    assert area(_with(hw, rows=rows, cols=cols, glb_banks=banks, filter_spad=spad + 1)).core_mm2 > a.core_mm2
    assert a.die_mm2 - a.core_mm2 == pytest.approx(DIE_MM2 - CORE_MM2)
