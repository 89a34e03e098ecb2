"""eyeriss sweep: spec validation, points, resume, constraints, Pareto front, equality with plain compiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from cost_models.area import area
from cost_models.errors import InputError
from mapper import compile_model
from mapper.app.cli import main
from mapper.app.sweep.pareto import dominates, front
from mapper.app.sweep.points import points
from mapper.app.sweep.run import points_json, sweep
from mapper.app.sweep.spec import spec_from_dict, varyable_fields

ROOT = Path(__file__).resolve().parents[3]
LENET = str(ROOT / "examples" / "lenet5.onnx")


def small(**changes) -> dict:
    doc = {"base": "eyeriss", "vary": {"array.rows": [6, 12], "glb.banks": [5, 25]},
           "networks": [{"model": LENET, "batch": 1}]}
    return doc | changes


@pytest.mark.parametrize("changes,where,what", [
    ({"vary": {"array.rowz": [1]}}, "vary.array.rowz", "not a hardware field"),
    ({"vary": {"array.rows": []}}, "vary.array.rows", "at least one"),
    ({"vary": {"array.rows": [4, "x"]}}, "vary.array.rows[1]", "integer"),
    ({"vary": {"array.rows": {"from": 8, "to": 4}}}, "vary.array.rows", "empty range"),
    ({"vary": {"array.rows": {"from": 1, "to": 4, "stride": 1}}}, "vary.array.rows", "a range is"),
    ({"networks": [{"model": "missing.onnx"}]}, "networks[0].model", "no such file"),
    ({"networks": [{"model": LENET, "batch": 0}]}, "networks[0].batch", "between 1"),
    ({"objective": "speed"}, "objective", "must be one of"),
    ({"mapping_space": "wide"}, "mapping_space", "must be one of full, jssc"),
    ({"constraints": {"max_area_mm2": -1}}, "constraints.max_area_mm2", "positive"),
    ({"constraints": {"max_latency_ms": {"vgg": 3}}}, "constraints.max_latency_ms.vgg", "names no network"),
    ({"constraints": {"max_watts": 3}}, "constraints.max_watts", "unknown constraint"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_each_bad_field_gets_one_error_naming_it(changes, where, what) -> None:
    with pytest.raises(InputError) as error:
        spec_from_dict(small(**changes), ROOT, "spec.yaml")
    assert where in str(error.value) and what in str(error.value)


def test_every_integer_hardware_field_can_be_varied() -> None:
    fields = varyable_fields()
    assert {"array.rows", "array.cols", "spad_words.filter", "spad_words.ifmap", "spad_words.psum", "glb.banks",
            "glb.bank_words", "glb.filter_buffer_words", "noc.bus_words.ifmap", "clock.core_mhz",
            "clock.link_bits", "clock.link_mhz"} <= set(fields)


def test_points_are_validated_hardware_and_bad_combinations_say_why() -> None:
    spec = spec_from_dict(small(vary={"array.rows": [12, 40]}), ROOT, "spec.yaml")
    good, bad = points(spec)
    assert good.hardware.rows == 12 and bad.hardware is None and "row_id_bits" in bad.reason


def test_sweep_rows_equal_plain_compiles_and_resume_recomputes_nothing(tmp_path: Path) -> None:
    spec = spec_from_dict(small(constraints={"max_area_mm2": 12}), ROOT, "spec.yaml")
    first = sweep(spec, tmp_path)
    assert len(first.rows) == 4 and first.progress.tasks > 0
    for row in first.rows:
        hw = next(p.hardware for p in points(spec) if p.index == row["point"])
        plain = compile_model(LENET, batch=1, hardware=hw).report()["totals"]
        assert row["energy_pj_per_inference"] == plain["energy"]["per_inference_pj"]
        assert row["latency_ms"] == plain["latency"]["total_ms"] and row["area_mm2"] == area(hw).core_mm2
    too_big = [row for row in first.rows if row["area_mm2"] > 12]
    assert too_big and all(not r["feasible"] and "mm2 > 12" in r["reason"] for r in too_big)
    again = sweep(spec, tmp_path)
    assert again.progress.points_resumed == 4 and again.progress.tasks == 0
    assert points_json(again, spec) == points_json(first, spec)


def test_a_chip_rule_sweep_equals_chip_rule_compiles_and_keeps_its_own_results(tmp_path: Path) -> None:
    """``mapping_space: jssc``: every layer searched once in the chip rules' space (cost_models.rules), rows equal
    to ``compile_model(..., mapping_space="jssc")``, and a full-space sweep's points are not resumed from it."""
    spec = spec_from_dict(small(mapping_space="jssc"), ROOT, "spec.yaml")
    rules = sweep(spec, tmp_path / "jssc")
    assert spec.mapping_space == "jssc" and rules.progress.tasks > 0
    for row in rules.rows:
        if row["feasible"]:
            hw = next(p.hardware for p in points(spec) if p.index == row["point"])
            plain = compile_model(LENET, batch=1, hardware=hw, mapping_space="jssc").report()["totals"]
            assert row["energy_pj_per_inference"] == plain["energy"]["per_inference_pj"]
    full_spec = spec_from_dict(small(), ROOT, "spec.yaml")
    assert [p.key(full_spec, "1") for p in points(full_spec)] != [p.key(spec, "1") for p in points(spec)]
    assert sweep(full_spec, tmp_path / "jssc").progress.points_resumed == 0


def test_a_point_with_an_unmappable_layer_is_reported_not_dropped(tmp_path: Path) -> None:
    # LeNet's 5x5 filters need 5 PE rows: a 4-row array maps none of its convolutions.
    result = sweep(spec_from_dict(small(vary={"array.rows": [4, 12]}), ROOT, "spec.yaml"), tmp_path)
    four = [row for row in result.rows if row["array.rows"] == 4]
    assert len(four) == 1 and not four[0]["feasible"] and four[0]["reason"]


def test_command_writes_every_output(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(json.dumps(small()))
    assert main(["sweep", str(spec), "-o", str(tmp_path / "out")]) == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"points.json", "points.csv", "pareto.png", "pareto.svg"}
    assert "Pareto front" in capsys.readouterr().out
    assert main(["sweep", str(tmp_path / "nope.yaml")]) == 2


vectors = st.lists(st.tuples(*(st.integers(0, 5) for _ in range(3))), min_size=1, max_size=30)


@given(vectors)
def test_front_points_are_dominated_by_none_and_the_rest_by_some(figures) -> None:
    marks = front(figures)
    for mine, on_front in zip(figures, marks):
        beaten = any(dominates(other, mine) for other in figures)
        assert on_front == (not beaten)
    assert any(marks)


row_strategy = st.fixed_dictionaries({
    "network": st.sampled_from(["a", "b"]), "feasible": st.booleans(),
    "energy_pj_per_inference": st.integers(1, 6), "latency_ms": st.integers(1, 6), "area_mm2": st.integers(1, 6)})


@given(st.lists(row_strategy, min_size=1, max_size=25))
def test_the_reported_front_is_the_non_dominated_feasible_rows_of_each_network(rows) -> None:
    from mapper.app.sweep.run import mark_front

    fields = ["point", "network", "feasible", "energy_pj_per_inference", "latency_ms", "area_mm2", "pareto"]
    marked = mark_front(fields, [dict(r, point=i, pareto=None) for i, r in enumerate(rows)])
    key = lambda r: (r["energy_pj_per_inference"], r["latency_ms"], r["area_mm2"])  # noqa: E731
    for row in marked:
        rivals = [o for o in marked if o["network"] == row["network"] and o["feasible"]]
        assert row["pareto"] == (row["feasible"] and not any(dominates(key(o), key(row)) for o in rivals))
