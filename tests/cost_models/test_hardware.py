"""Hardware files: the bundled chip matches the paper; bad files are refused with the field named."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from cost_models.hardware import HardwareError, default_hardware, hardware_from_dict, load_hardware

DATA = Path(__file__).resolve().parents[2] / "cost_models" / "data"


@pytest.fixture()
def base() -> dict:
    return yaml.safe_load((DATA / "eyeriss.yaml").read_text())


def test_bundled_eyeriss_matches_the_chip(hw):
    # eyeriss-facts.md sections 1-3: [JSSC III-A, V-A, V-B, V-C], [ISCA Table IV].
    assert (hw.rows, hw.cols, hw.pes) == (12, 14, 168)
    assert (hw.filter_spad, hw.ifmap_spad, hw.psum_spad) == (224, 12, 24)
    assert (hw.glb_banks, hw.bank_words * 2, hw.filter_buffer_words * 2) == (25, 4096, 8192)  # 25 x 4 kB + 8 kB
    assert (hw.core_mhz, hw.link_mhz, hw.link_bits) == (200, 60, 64)
    assert (hw.energy_dram, hw.energy_glb, hw.energy_array, hw.energy_rf, hw.energy_mac) == (200, 6, 2, 1, 1)
    assert (hw.row_id_bits, hw.col_id("ifmap"), hw.col_id("filter")) == (4, 5, 4)
    assert hw.link_words_per_cycle() == (6, 5)  # 64 b x 60 MHz over 16 b x 200 MHz


def test_hardware_is_immutable(hw):
    with pytest.raises(dataclasses.FrozenInstanceError):
        hw.rows = 13  # type: ignore[misc]


def test_other_sizes_are_other_files():
    large = load_hardware(DATA / "large.yaml")
    assert (large.rows, large.cols) == (32, 32)
    assert large != default_hardware()


def test_a_resized_array_loads(base):
    data = copy.deepcopy(base)
    data["array"].update(rows=8, cols=16)
    hw = hardware_from_dict(data)
    assert (hw.rows, hw.cols, hw.pes) == (8, 16, 128)


def _set(data: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        data = data[key]
    data[leaf] = value


def _delete(data: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        data = data[key]
    del data[leaf]


@pytest.mark.parametrize("field, value, message", [
    ("array.rows", 0, "between 1"),
    ("array.cols", -3, "between 1"),
    ("spad_words.filter", "224", "must be an integer"),
    ("spad_words.psum", 2.5, "must be an integer"),
    ("glb.banks", True, "must be an integer"),
    ("energy.pj_per_unit", float("inf"), "must be a number"),
    ("energy.zero_gating", "yes", "true or false"),
    ("limits.vertical_strides", [], "non-empty list"),
    ("limits.vertical_strides", [1, 0], "integers >= 1"),
    ("array", [12, 14], "must be a mapping"),
    ("name", "", "non-empty string"),
    ("glb.bank_words", 2**40, "between 1"),
])
def test_bad_value_is_refused_with_field_named(base, field, value, message):
    _set(base, field, value)
    with pytest.raises(HardwareError, match=message) as info:
        hardware_from_dict(base)
    assert info.value.where == field


@pytest.mark.parametrize("field", ["array.rows", "energy.normalized.dram", "noc.col_id_bits.ifmap", "name"])
def test_missing_field_is_named(base, field):
    _delete(base, field)
    with pytest.raises(HardwareError, match="missing field") as info:
        hardware_from_dict(base)
    assert info.value.where == field


def test_extra_field_is_named(base):
    base["glb"]["banks_extra"] = 3
    with pytest.raises(HardwareError, match="unknown field") as info:
        hardware_from_dict(base)
    assert info.value.where == "glb.banks_extra"


@pytest.mark.parametrize("field, value, message", [
    ("noc.row_id_bits", 3, "cannot give 12 rows"),
    ("noc.col_id_bits.psum", 3, "cannot give 14 columns"),
    ("word_bits", 8, "16-bit"),
    ("clock.link_bits", 40, "whole number of words"),
    ("glb.banks", 4097, "4097 banks exceeds the supported 4096"),
])
def test_inconsistent_chip_is_refused(base, field, value, message):
    _set(base, field, value)
    with pytest.raises(HardwareError, match=message):
        hardware_from_dict(base)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(HardwareError, match="no such file"):
        load_hardware(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("array: [rows: 12\n  cols: {{\n")
    with pytest.raises(HardwareError, match="not valid YAML") as info:
        load_hardware(broken)
    assert str(broken) in str(info.value)


def test_yaml_that_would_run_code_is_refused(tmp_path):
    """Safe loading only: a python/object tag is a YAML error, never executed."""
    hostile = tmp_path / "hostile.yaml"
    marker = tmp_path / "ran"
    hostile.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(HardwareError, match="not valid YAML"):
        load_hardware(hostile)
    assert not marker.exists()


def test_field_error_in_a_file_names_file_and_field(tmp_path, base):
    base["spad_words"]["ifmap"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(base))
    with pytest.raises(HardwareError) as info:
        load_hardware(path)
    assert str(path) in str(info.value) and "spad_words.ifmap" in str(info.value)


def test_an_array_whose_configuration_would_not_fit_memory_is_refused(base):
    # 16-bit IDs could name 65536 x 65536 PEs; the bitstream spells out every PE, so the product is capped.
    _set(base, "noc.row_id_bits", 16)
    for network in ("filter", "ifmap", "psum", "output"):
        _set(base, f"noc.col_id_bits.{network}", 16)
    _set(base, "array.rows", 256)
    _set(base, "array.cols", 256)
    assert hardware_from_dict(base).pes == 65536  # the largest accepted
    _set(base, "array.cols", 257)
    with pytest.raises(HardwareError, match="65792 PEs exceeds the supported 65536") as info:
        hardware_from_dict(base)
    assert info.value.where == "hardware: array"
