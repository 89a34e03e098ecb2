"""The persistent result cache: hits, what it refuses to trust, and many writers at once."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path

import pytest

from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.rowstationary import DataRatios
from frontends import load_onnx
from mapper.search import cache as cache_module
from mapper.search.cache import IGNORED_FIELDS, SEARCH_FIELDS, ResultCache, default_dir, open_cache, task_key
from mapper.search.cpsat import map_layer
from mapper.search.network import map_network

ROOT = Path(__file__).resolve().parents[3]
CONV = LayerShape(N=1, M=16, C=8, H=14, W=14, R=3, S=3)


def test_tests_never_touch_the_user_cache(_cache_home: Path) -> None:
    assert default_dir() == _cache_home / "eyeriss"
    assert open_cache(True).root == _cache_home / "eyeriss"
    assert open_cache(None) is None and open_cache(False) is None


def test_every_hardware_field_is_keyed_or_named_as_ignored(hw: Hardware) -> None:
    # A field added to Hardware must be put in one list or the other, never silently left out of the key.
    assert set(SEARCH_FIELDS) | set(IGNORED_FIELDS) == {f.name for f in dataclasses.fields(hw)}


def test_key_follows_what_the_search_reads(hw: Hardware) -> None:
    base = task_key(CONV, hw, "energy", DataRatios(), None, "1")
    assert task_key(CONV, dataclasses.replace(hw, name="other", pj_per_unit=2.0), "energy", DataRatios(), None, "1") == base
    for changed in (dataclasses.replace(hw, glb_banks=24), dataclasses.replace(hw, energy_dram=100)):
        assert task_key(CONV, changed, "energy", DataRatios(), None, "1") != base
    assert task_key(CONV, hw, "latency", DataRatios(), None, "1") != base
    assert task_key(CONV, hw, "energy", DataRatios(ifmap_nonzero=1000), None, "1") != base
    assert task_key(CONV, hw, "energy", DataRatios(), 10_000, "1") != base
    assert task_key(CONV, hw, "energy", DataRatios(), None, "2") != base
    assert task_key(dataclasses.replace(CONV, M=32), hw, "energy", DataRatios(), None, "1") != base
    assert task_key(CONV, hw, "energy", DataRatios(), None, "1", "jssc") != base


def test_full_and_chip_rule_answers_never_mix(tmp_path: Path, hw: Hardware) -> None:
    """One folder, both mapping spaces: each look-up gets its own space's optimum (cost_models.rules)."""
    from cost_models import calibration, silicon

    layer, ratios = silicon.LAYERS["CONV3"], calibration.ratios("CONV3")
    store = ResultCache(tmp_path)
    answers = {space: store.map_layer(layer, hw, ratios=ratios, space=space) for space in ("full", "jssc", "full")}
    again = ResultCache(tmp_path).map_layer(layer, hw, ratios=ratios, space="jssc")
    assert (store.hits, store.misses) == (1, 2)
    assert answers["full"].mapping != answers["jssc"].mapping == again.mapping
    assert answers["full"].objective_value < answers["jssc"].objective_value == again.objective_value


def test_ignored_fields_change_no_answer(hw: Hardware) -> None:
    other = dataclasses.replace(hw, name="x", pj_per_unit=3.0, row_id_bits=8)
    a, b = map_layer(CONV, hw), map_layer(CONV, other)
    assert (a.mapping, a.objective_value) == (b.mapping, b.objective_value)


def test_hit_equals_the_search(tmp_path: Path, hw: Hardware) -> None:
    store = ResultCache(tmp_path)
    first = store.map_layer(CONV, hw, "edp")
    again = store.map_layer(CONV, hw, "edp")
    assert (store.hits, store.misses) == (1, 1)
    assert first.status == again.status == "OPTIMAL"
    assert (again.mapping, again.cost, again.objective_value, again.bound) == (
        first.mapping, first.cost, first.objective_value, first.bound)
    other_hw = dataclasses.replace(hw, pj_per_unit=2.0)  # same key, costs recomputed on the asking hardware
    assert store.map_layer(CONV, other_hw, "edp").cost.energy_pj == pytest.approx(2 * first.cost.energy_pj / hw.pj_per_unit)


def test_unmappable_answers_are_kept_with_their_reason(tmp_path: Path, hw: Hardware) -> None:
    tall = LayerShape(N=1, M=4, C=4, H=20, W=20, R=13, S=3)
    store = ResultCache(tmp_path)
    first = store.map_layer(tall, hw)
    again = store.map_layer(tall, hw)
    assert store.hits == 1 and again.status == first.status == "UNMAPPABLE" and again.reason == first.reason


def test_cut_short_results_are_not_stored(tmp_path: Path, hw: Hardware) -> None:
    store = ResultCache(tmp_path)
    result = map_layer(CONV, hw)
    assert store.put(CONV, hw, "energy", DataRatios(), None, dataclasses.replace(result, status="FEASIBLE")) is False
    assert not any(tmp_path.rglob("*.json"))


def _entry(store: ResultCache, hw: Hardware) -> Path:
    store.map_layer(CONV, hw)
    (path,) = list(store.root.rglob("*.json"))
    return path


@pytest.mark.parametrize("damage", [
    lambda e: "{not json",
    lambda e: json.dumps({**e, "version": "0.0.0-other"}),
    lambda e: json.dumps({**e, "mapping": {**e["mapping"], "p": 10_000}}),        # breaks the spad limit
    lambda e: json.dumps({**e, "objective_value": e["objective_value"] - 1}),     # a figure the mapping lacks
    lambda e: json.dumps({**e, "mapping": {**e["mapping"], "e": 1}}),             # valid, but not what was proven
    lambda e: json.dumps({**e, "status": "FEASIBLE"}),
    lambda e: json.dumps([e]),
    lambda e: "",
])
def test_damaged_or_foreign_entries_are_recomputed_not_trusted(tmp_path: Path, hw: Hardware, damage) -> None:
    path = _entry(ResultCache(tmp_path), hw)
    truth = map_layer(CONV, hw)
    path.write_text(damage(json.loads(path.read_text())))
    store = ResultCache(tmp_path)  # another compile reading the folder (one object keeps what it proved itself)
    again = store.map_layer(CONV, hw)
    assert store.hits == 0 and store.misses == 1
    assert (again.mapping, again.objective_value, again.status) == (truth.mapping, truth.objective_value, "OPTIMAL")
    assert json.loads(path.read_text())["mapping"] == truth.mapping.as_dict()   # rewritten sound


def test_an_answer_this_object_proved_is_not_read_back(tmp_path: Path, hw: Hardware) -> None:
    """A sweep's parent puts what its workers proved and then compiles every point from the same object: it
    answers from memory (the file is neither read nor re-costed), with what a read would give."""
    store = ResultCache(tmp_path)
    path = _entry(store, hw)
    from_file = ResultCache(tmp_path).get(CONV, hw, "energy", DataRatios())
    path.write_text("{damaged after the put")
    again = store.get(CONV, hw, "energy", DataRatios())
    assert store.hits == 1 and again == from_file and again.status == "OPTIMAL"


def test_other_version_misses(tmp_path: Path, hw: Hardware) -> None:
    ResultCache(tmp_path, version="1.0").map_layer(CONV, hw)
    newer = ResultCache(tmp_path, version="1.1")
    assert newer.get(CONV, hw, "energy", DataRatios()) is None and newer.misses == 1


def _write_many(root: str, rounds: int) -> int:
    from cost_models.hardware import default_hardware

    store, hw = ResultCache(Path(root)), default_hardware()
    result = map_layer(CONV, hw)
    for _ in range(rounds):
        store.put(CONV, hw, "energy", DataRatios(), None, result)
        assert store.get(CONV, hw, "energy", DataRatios()) is not None
    return store.hits


def test_concurrent_writers_never_leave_a_torn_entry(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        hits = pool.starmap(_write_many, [(str(tmp_path), 40)] * 2)
    assert hits == [40, 40]      # every read in either process, between the other's replaces, was whole
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{task_key(CONV, _hw(), 'energy', DataRatios(), None, cache_module.package_version())}.json"]


def _hw() -> Hardware:
    from cost_models.hardware import default_hardware

    return default_hardware()


def test_map_network_uses_it_for_each_distinct_shape(tmp_path: Path, hw: Hardware) -> None:
    graph = load_onnx(ROOT / "examples" / "lenet5.onnx", batch=1)
    store = ResultCache(tmp_path)
    cold = map_network(graph, hw, cache=store)
    assert store.hits == 0 and store.misses == len({(e.layer, e.ratios) for e in cold.layers})
    warm = map_network(graph, hw, cache=store)
    assert store.hits == store.misses
    assert [(e.result.mapping, e.result.status, e.result.cost) for e in warm.layers] == [
        (e.result.mapping, e.result.status, e.result.cost) for e in cold.layers]


def test_compile_uses_the_user_cache_by_default_and_obeys_the_flags(tmp_path: Path, _cache_home: Path, capsys) -> None:
    from mapper.app.cli import main

    model = str(ROOT / "examples" / "lenet5.onnx")
    assert main(["compile", model, "-o", str(tmp_path / "a"), "--no-cache", "--json"]) == 0
    assert not (_cache_home / "eyeriss").exists()
    assert main(["compile", model, "-o", str(tmp_path / "b"), "--cache", str(tmp_path / "c"), "--json"]) == 0
    assert not (_cache_home / "eyeriss").exists() and any((tmp_path / "c").rglob("*.json"))
    assert main(["compile", model, "-o", str(tmp_path / "d"), "--json"]) == 0
    assert any((_cache_home / "eyeriss").rglob("*.json"))
    assert main(["compile", model, "-o", str(tmp_path / "e"), "--json"]) == 0   # every layer from the cache
    reports = [json.loads((tmp_path / name / "report.json").read_text()) for name in "abde"]
    layers = [[{k: v for k, v in layer.items() if k != "solver"} | {"status": layer["solver"]["status"]}
               for layer in report["layers"]] for report in reports]
    assert layers[0] == layers[1] == layers[2] == layers[3]
    assert reports[0]["layers"] == reports[3]["layers"]  # a cached answer reports as the search's does
    capsys.readouterr()
