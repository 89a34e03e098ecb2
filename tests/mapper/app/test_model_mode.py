"""Model mode (issue 27): ``--mapping FILE.yaml`` pins layers' mappings, ``evaluate`` searches nothing,
``report --mappings-out`` writes a compile's mappings back as such a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cost_models.calibration import ratios
from cost_models.cost import evaluate
from cost_models.hardware import default_hardware
from cost_models.mapping import PARAMETERS, Mapping
from cost_models.rlc import ratio_from_zero_fraction
from cost_models.silicon import LAYERS, MEASURED, ORDER, PUBLISHED
from harness import assert_refused, run_cli
from mapper import compile_model
from mapper.search.cache import ResultCache

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
LENET = str(EXAMPLES / "lenet5.onnx")
ALEXNET = str(EXAMPLES / "alexnet.onnx")
CONV1 = {"n": 1, "e": 28, "p": 6, "q": 1, "r": 1, "t": 1, "g": 1, "m": 6}  # LeNet conv1's searched optimum
WORSE_CONV2 = {"n": 1, "e": 10, "p": 4, "q": 1, "r": 1, "t": 2, "g": 1, "m": 16}  # fits, not the optimum


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def report_of(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def figures(entry: dict) -> dict:
    """What a layer entry says about its mapping's cost: everything but how it was found."""
    return {key: value for key, value in entry.items() if key not in ("solver", "pinned", "mapping_spaces")}


def bitstreams(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "bitstreams").iterdir())}


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, Path]:
    """LeNet-5 compiled by search, and its mappings written back by ``report --mappings-out``."""
    tmp = tmp_path_factory.mktemp("searched")
    assert run_cli(["compile", LENET, "-o", "out", "--no-cache"], tmp).code == 0
    run = run_cli(["report", "out", "--mappings-out", "mappings.yaml"], tmp)
    assert run.code == 0 and run.left == ("mappings.yaml",), run.stderr
    return tmp / "out", tmp / "mappings.yaml"


def compiled_with(command: str, searched: tuple[Path, Path], tmp_path: Path) -> tuple[dict, dict]:
    """``command`` (compile or evaluate) given the searched compile's own mappings: (searched, new) reports,
    after checking the new one has the searched one's figures for every layer."""
    out, mappings = searched
    run = run_cli([command, LENET, "--mapping", str(mappings), "-o", command, "--no-cache"], tmp_path)
    assert run.code == 0, run.stderr
    before, after = report_of(out), report_of(tmp_path / command)
    assert [figures(e) for e in after["layers"]] == [figures(e) for e in before["layers"]]
    assert bitstreams(tmp_path / command) == bitstreams(out)
    return before, after


def test_round_trip_compile_mappings_out_evaluate_gives_identical_mappings_figures_and_bitstreams(searched, tmp_path):
    before, after = compiled_with("evaluate", searched, tmp_path)
    assert all(e["solver"]["status"] == "PINNED" and e["pinned"] == {"optimum": None, "gain": None}
               for e in after["layers"])
    assert after["options"]["mappings"] == {"file": "mappings.yaml", "layers": 5, "search": False}
    assert after["totals"]["search"]["pinned"] == 5 and after["totals"]["search"]["layers"] == 0
    assert {k: v for k, v in after["totals"].items() if k != "search"} == \
        {k: v for k, v in before["totals"].items() if k != "search"}
    simulated = run_cli(["simulate", "evaluate", "--json"], tmp_path)
    assert simulated.code == 0 and json.loads(simulated.stdout)["matched"], simulated.stderr


def test_pinning_the_searched_optimum_gives_the_searched_figures_with_gain_zero(searched, tmp_path):
    before, after = compiled_with("compile", searched, tmp_path)
    for pinned, found in zip(after["layers"], before["layers"]):
        assert pinned["pinned"]["gain"] == 0 and pinned["pinned"]["optimum"]["mapping"] == \
            {k: found["mapping"][k] for k in PARAMETERS}
        assert pinned["solver"]["objective_value"] == found["solver"]["objective_value"]
        assert pinned["mapping_spaces"] == found["mapping_spaces"]  # the same optimum in both spaces


def test_a_pinned_layer_keeps_its_mapping_beside_the_searched_optimum_and_the_rest_are_searched(searched, tmp_path):
    out, _ = searched
    write(tmp_path / "pin.yaml", f"conv2: {json.dumps(WORSE_CONV2)}\n")
    run = run_cli(["compile", LENET, "--mapping", "pin.yaml", "-o", "out", "--no-cache"], tmp_path)
    assert run.code == 0, run.stderr
    report, found = report_of(tmp_path / "out"), report_of(out)
    conv2 = report["layers"][1]
    assert {k: conv2["mapping"][k] for k in PARAMETERS} == WORSE_CONV2 and conv2["solver"]["status"] == "PINNED"
    optimum = conv2["pinned"]["optimum"]
    assert optimum["mapping"] == {k: found["layers"][1]["mapping"][k] for k in PARAMETERS}
    assert conv2["pinned"]["gain"] == round(1 - optimum["objective_value"] / conv2["solver"]["objective_value"], 6)
    assert conv2["pinned"]["gain"] > 0
    assert [figures(e) for i, e in enumerate(report["layers"]) if i != 1] == \
        [figures(e) for i, e in enumerate(found["layers"]) if i != 1]
    assert all(e["pinned"] is None for i, e in enumerate(report["layers"]) if i != 1)
    table = run_cli(["report", "out"], tmp_path).stdout
    assert f"pin-{100 * conv2['pinned']['gain']:.0f}%" in table
    view = run_cli(["report", "out", "--layer", "conv2"], tmp_path).stdout
    assert "pinned mapping (--mapping)" in view and f"{optimum['objective_value']:,}" in view


def test_the_published_alexnet_mappings_through_mapping_give_the_benchmarks_figures(tmp_path):
    """benchmarks/jssc_alexnet.py costs each published mapping with ``evaluate(LAYERS, PUBLISHED, hw,
    ratios(name))``; the compile is given the same data ratios as zero fractions (CONV1's ofmap as the share
    whose RLC size is the calibrated one), so its report must hold those very figures."""
    hw = default_hardware()
    names = {name: name.lower() for name in ORDER}
    zeros = {name: (MEASURED[name].ifmap_zeros, MEASURED[ORDER[min(i + 1, len(ORDER) - 1)]].ifmap_zeros)
             for i, name in enumerate(ORDER)}
    zeros["CONV1"] = (zeros["CONV1"][0], _zero_share_for(ratios("CONV1").ofmap_dram))
    write(tmp_path / "published.yaml", yaml.safe_dump({names[n]: PUBLISHED[n].as_dict() for n in ORDER}))
    argv = ["compile", ALEXNET, "--batch", "4", "--mapping", "published.yaml", "-o", "out", "--no-cache",
            "--mapping-space", "jssc"]  # the chip's own mappings keep the chip rules
    for name, (z_in, z_out) in zeros.items():
        argv += ["--zero-fraction", f"{names[name]}={z_in!r},{z_out!r}"]
    run = run_cli(argv, tmp_path)
    assert run.code == 0, run.stderr
    layers = {entry["name"]: entry for entry in report_of(tmp_path / "out")["layers"]}
    for name in ORDER:
        entry, cost = layers[names[name]], evaluate(LAYERS[name], PUBLISHED[name], hw, ratios(name))
        detail = cost.as_dict()
        assert entry["shape"]["M"] == LAYERS[name].M and entry["solver"]["status"] == "PINNED"
        assert entry["latency"] == detail["latency"] and entry["accesses_by_type"] == detail["accesses_by_type"]
        assert entry["energy"]["total_units"] == cost.energy_total_units
        assert entry["energy"]["by_level"]["pj"] == detail["energy"]["pj_by_level"]
        assert entry["active_pes"] == cost.active_pes


def _zero_share_for(target: int) -> float:
    """A zero share whose RLC ratio (cost_models.rlc, falling with the share) is exactly ``target``."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ratio_from_zero_fraction(mid) > target else (lo, mid)
    assert ratio_from_zero_fraction(hi) == target
    return hi


def test_the_library_takes_a_dict_of_mappings_or_field_dicts_or_a_path(tmp_path):
    pins = {"conv1": Mapping(**CONV1), "conv2": WORSE_CONV2}
    result = compile_model(LENET, mappings=pins, cache=False, compare_spaces=False)
    assert result.layer("conv1").mapping == Mapping(**CONV1) and result.layer("conv2").mapping == Mapping(**WORSE_CONV2)
    assert result.layer("conv2").pinned and result.layer("conv2").optimum.status == "OPTIMAL"
    assert not result.layer("gemm1").pinned and result.layer("gemm1").result.status == "OPTIMAL"
    path = write(tmp_path / "pins.yaml", yaml.safe_dump({"conv1": CONV1, "conv2": WORSE_CONV2}))
    from_file = compile_model(LENET, mappings=path, cache=False, compare_spaces=False)
    assert from_file.report()["layers"] == result.report()["layers"]
    assert from_file.options["mappings"]["file"] == "pins.yaml" and result.options["mappings"]["file"] is None


def test_a_pinned_mapping_never_enters_the_result_cache_nor_comes_out_of_it(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    pinned = compile_model(LENET, mappings={"conv2": WORSE_CONV2}, cache=cache, compare_spaces=False)
    stored = [json.loads(p.read_text())["mapping"] for p in (tmp_path / "cache").rglob("*.json")]
    assert WORSE_CONV2 not in stored and pinned.layer("conv2").optimum.mapping.as_dict() in stored
    searched = compile_model(LENET, cache=cache, compare_spaces=False)  # conv2 answered by the cache: the optimum
    assert searched.layer("conv2").mapping == pinned.layer("conv2").optimum.mapping
    again = compile_model(LENET, mappings={"conv2": WORSE_CONV2}, cache=cache, compare_spaces=False)
    assert again.layer("conv2").mapping == Mapping(**WORSE_CONV2) and again.layer("conv2").pinned


def test_a_searched_layer_of_a_pinned_layers_shape_is_searched_and_shares_no_solve_with_it(tmp_path):
    from onnx import TensorProto, helper

    weights = [helper.make_tensor_value_info(w, TensorProto.FLOAT, [4, 4, 3, 3]) for w in ("wa", "wb", "wc")]
    nodes = [helper.make_node("Conv", [x, w], [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name=name)
             for name, x, w, y in (("a", "x", "wa", "ya"), ("b", "ya", "wb", "yb"), ("c", "yb", "wc", "yc"))]
    graph = helper.make_graph(nodes, "twins", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 10, 10]),
                                               *weights],
                              [helper.make_tensor_value_info("yc", TensorProto.FLOAT, [1, 4, 10, 10])])
    model = tmp_path / "twins.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    plain = compile_model(model, cache=False, compare_spaces=False)
    assert plain.layer("c").shared_with == "b"  # b and c are one distinct layer
    worse = Mapping(n=1, e=10, p=1, q=1, r=1, t=1, g=1, m=4)
    assert worse != plain.layer("b").mapping
    result = compile_model(model, mappings={"b": worse}, cache=False, compare_spaces=False)
    b, c = result.layer("b"), result.layer("c")
    assert b.mapping == worse and b.shared_with is None and b.optimum.mapping == plain.layer("b").mapping
    assert c.mapping == plain.layer("c").mapping and c.result.status == "OPTIMAL" and c.shared_with is None


# ---- bad mapping files: one error line each, exit 2, no output folder

BAD_FILES = {
    "not YAML": ("conv1: {n: 1, e: [\n", "not valid YAML"),
    "not a mapping": ("- conv1\n- conv2\n", "not a mapping file"),
    "empty": ("", "not a mapping file"),
    "unknown layer": ("conv_1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "did you mean conv1"),
    "missing field": ("conv1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1}\n", "conv1: m: missing field"),
    "unknown field": ("conv1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6, x: 2}\n", "conv1: x: unknown field"),
    "duplicate layer": ("conv1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n"
                        "conv1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "duplicate key"),
    "zero": ("conv1: {n: 1, e: 0, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "conv1: e: must be a positive integer, got 0"),
    "negative": ("conv1: {n: 1, e: 28, p: -6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "conv1: p: must be a positive"),
    "bool": ("conv1: {n: true, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "conv1: n: must be a positive integer, "
             "got bool"),
    "float": ("conv1: {n: 1, e: 28.0, p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "conv1: e: must be a positive integer, "
              "got float"),
    "string": ("conv1: {n: 1, e: '28', p: 6, q: 1, r: 1, t: 1, g: 1, m: 6}\n", "conv1: e: must be a positive integer, "
               "got str"),
    "fields not a mapping": ("conv1: [1, 28, 6, 1, 1, 1, 1, 6]\n", "conv1: expected the mapping fields"),
    "does not fit": ("conv1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 1, g: 1, m: 60}\n",
                     "layer 'conv1': the mapping does not fit: no empty psum block"),
    "over the array": ("conv1: {n: 1, e: 28, p: 6, q: 1, r: 1, t: 2, g: 1, m: 12}\n",
                       "layer 'conv1': the mapping does not fit"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["compile", "evaluate"])
def test_a_bad_mapping_file_is_one_error_naming_what_and_where(tmp_path, case, command):
    text, needle = BAD_FILES[case]
    write(tmp_path / "bad.yaml", text)
    if command == "evaluate" and case in ("does not fit", "over the array"):  # name every layer: the fit is refused
        text += "".join(f"{name}: {json.dumps(CONV1)}\n" for name in ("conv2", "gemm1", "gemm2", "gemm3"))
        write(tmp_path / "bad.yaml", text)
    run = run_cli([command, LENET, "--mapping", "bad.yaml", "-o", "out", "--no-cache"], tmp_path)
    assert_refused(run, needle)
    assert "bad.yaml" in run.stderr


def test_a_chip_rule_binds_a_pinned_mapping_in_the_jssc_space_only(tmp_path):
    strips = {**CONV1, "e": 14}  # conv1's 5 x 28 set fits the array: chip rule 1 forbids strips
    write(tmp_path / "strips.yaml", f"conv1: {json.dumps(strips)}\n")
    run = run_cli(["compile", LENET, "--mapping", "strips.yaml", "-o", "out", "--no-cache", "--mapping-space", "jssc"],
                  tmp_path)
    assert_refused(run, "layer 'conv1': the mapping does not fit: chip rule 1")
    run = run_cli(["compile", LENET, "--mapping", "strips.yaml", "-o", "out", "--no-cache"], tmp_path)
    assert run.code == 0, run.stderr
    assert report_of(tmp_path / "out")["layers"][0]["mapping"]["e"] == 14


def test_evaluate_lists_every_layer_the_file_leaves_out(tmp_path):
    write(tmp_path / "some.yaml", f"conv1: {json.dumps(CONV1)}\n")
    run = run_cli(["evaluate", LENET, "--mapping", "some.yaml", "-o", "out"], tmp_path)
    assert_refused(run, "missing 4: conv2, gemm1, gemm2, gemm3")
    assert_refused(run_cli(["evaluate", LENET, "-o", "out"], tmp_path), "evaluate needs --mapping")


def test_pins_refuse_a_batch_scan_and_a_network_budget(tmp_path):
    write(tmp_path / "pin.yaml", f"conv1: {json.dumps(CONV1)}\n")
    assert_refused(run_cli(["compile", LENET, "--mapping", "pin.yaml", "--batch", "auto", "-o", "out"], tmp_path),
                   "--batch N")
    assert_refused(run_cli(["compile", LENET, "--mapping", "pin.yaml", "--network-latency-ms", "5", "-o", "out",
                            "--no-cache"], tmp_path), "network latency budget")


def test_mappings_out_is_refused_for_an_unwritable_place_and_leaves_nothing(searched, tmp_path):
    out, _ = searched
    assert_refused(run_cli(["report", str(out), "--mappings-out", "no/such/folder/m.yaml"], tmp_path),
                   "cannot write the mapping file")
