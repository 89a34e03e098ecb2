"""``--input-shape`` end to end: a model with a symbolic batch and symbolic height and width, through every
command that loads a model (inspect, compile, evaluate, simulate MODEL), the compiled folder run, the library's
compile_model with its cache, and a sweep; every refusal one error line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from harness import assert_refused, run_cli
from mapper import compile_model
from mapper.app.sweep.points import points
from mapper.app.sweep.run import sweep
from mapper.app.sweep.spec import SpecError, spec_from_dict
from mapper.search.cache import ResultCache

pytestmark = pytest.mark.xdist_group("test_input_shape_cli")

SHAPE = "x=2,3,12,16"  # the override every compile here uses: batch 2, 12 x 16 pixels


def dynamic_model(path: Path, features: int = 4 * 6 * 8) -> Path:
    """Conv 3x3 pad 1 -> ReLU -> Conv 3x3 stride 2 pad 1 -> Flatten -> Gemm; input [batch, 3, height, width].
    The Gemm's weight [10, 192] fits 12 x 16 only."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32) * 0.3, name)
             for name, shape in (("w1", (8, 3, 3, 3)), ("w2", (4, 8, 3, 3)), ("fc", (10, features)))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Flatten", ["c2"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                           ["batch", 3, "height", "width"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[Path, Path]:
    """(model, folder): the dynamic model compiled through the CLI with the override."""
    tmp = tmp_path_factory.mktemp("dynamic")
    model = dynamic_model(tmp / "dyn.onnx")
    run = run_cli(["compile", str(model), "--input-shape", SHAPE, "-o", "out", "--no-cache"], tmp)
    assert run.code == 0, run.stderr
    return model, tmp / "out"


def shapes_of(report: dict) -> list[tuple]:
    return [(e["name"], e["shape"]["N"], e["shape"]["C"], e["shape"]["H"], e["shape"]["W"], e["shape"]["E"],
             e["shape"]["F"], e["shape"]["M"]) for e in report["layers"]]


EXPECTED = [("conv1", 2, 3, 12, 16, 12, 16, 8), ("conv2", 2, 8, 12, 16, 6, 8, 4), ("fc", 2, 192, 1, 1, 1, 1, 10)]


def test_compile_with_the_override_gives_the_layer_shapes_and_records_it(compiled):
    _, out = compiled
    report = json.loads((out / "report.json").read_text())
    assert shapes_of(report) == EXPECTED
    assert report["batch"] == 2 and report["options"]["input_shapes"] == {"x": [2, 3, 12, 16]}
    assert report["options"]["batch"] == "model" and not report["unmapped"]


def test_a_compile_without_the_option_has_no_input_shapes_key(tmp_path):
    static = compile_model(Path(__file__).resolve().parents[3] / "examples" / "lenet5.onnx", cache=False,
                           compare_spaces=False, program=False)
    assert "input_shapes" not in static.report()["options"]


def test_inspect_with_the_override(compiled, tmp_path):
    model, _ = compiled
    run = run_cli(["inspect", str(model), "--input-shape", SHAPE, "--json"], tmp_path)
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["batch"] == 2 and [(e["name"], e["shape"]["H"], e["shape"]["W"], e["shape"]["E"], e["shape"]["F"])
                                  for e in doc["layers"]] == [(n, h, w, e, f) for n, _, _, h, w, e, f, _ in EXPECTED]
    table = run_cli(["inspect", str(model), "--input-shape", SHAPE], tmp_path)
    assert table.code == 0 and "batch 2" in table.stdout and "12x16" in table.stdout


def test_simulate_the_model_with_the_override(compiled, tmp_path):
    model, _ = compiled
    run = run_cli(["simulate", str(model), "--input-shape", SHAPE, "--no-cache", "--json"], tmp_path)
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["matched"] is True and [row["name"] for row in doc["layers"]] == ["conv1", "conv2", "fc"]


def test_a_compiled_folder_is_simulated_as_compiled_and_refuses_the_option_again(compiled, tmp_path):
    _, out = compiled
    assert run_cli(["simulate", str(out)], tmp_path).code == 0
    assert_refused(run_cli(["simulate", str(out), "--input-shape", SHAPE], tmp_path), "--input-shape")


def test_evaluate_the_compiles_mappings_with_the_override(compiled, tmp_path):
    model, out = compiled
    assert run_cli(["report", str(out), "--mappings-out", "m.yaml"], tmp_path).code == 0
    run = run_cli(["evaluate", str(model), "--input-shape", SHAPE, "--mapping", "m.yaml", "-o", "ev", "--no-cache"],
                  tmp_path)
    assert run.code == 0, run.stderr
    searched, evaluated = (json.loads((d / "report.json").read_text()) for d in (out, tmp_path / "ev"))
    assert shapes_of(evaluated) == EXPECTED
    assert [e["energy"] for e in evaluated["layers"]] == [e["energy"] for e in searched["layers"]]


def test_run_the_compiled_dynamic_model_against_onnxruntime(compiled, tmp_path):
    """``run`` reads the folder, whose shapes the compile fixed: it needs no option, and its reference (the
    model in onnxruntime, which takes the symbolic dims as fed) agrees."""
    _, out = compiled
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.random.default_rng(1).normal(size=(4, 3, 12, 16)).astype(np.float32))
    run = run_cli(["run", str(out), "--inputs", str(inputs), "--reference", "--json"], tmp_path)
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["batches"] == 2 and doc["outputs"]["y"] == [4, 10] and doc["output"]["sqnr_db"] > 40


def test_batch_auto_has_the_one_batch_the_override_fixes(compiled, tmp_path):
    model, _ = compiled
    run = run_cli(["compile", str(model), "--input-shape", SHAPE, "--batch", "auto", "--json", "-o", "o"], tmp_path)
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["batch"] == 2 and [entry["batch"] for entry in report["batch_scan"]] == [2]


@pytest.mark.parametrize("args,needle", [
    ([], "--input-shape x=1,3,HEIGHT,WIDTH"),
    (["--batch", "4"], "--input-shape x=4,3,HEIGHT,WIDTH"),
    (["--input-shape", "y=2,3,12,16"], "names no graph input 'y'; the model's data inputs: 'x' [batch, 3, height, "
                                       "width]"),
    (["--input-shape", "x=2,3,12"], "'x' gives 3 dimension(s); the input has 4"),
    (["--input-shape", "x=2,4,12,16"], "'x' gives dimension 1 as 4; the model fixes it at 3"),
    (["--input-shape", "x=2,3,0,16"], "'x': dimension 2 is 0; dimensions must be between 1 and 2147483648"),
    (["--input-shape", "x=2,3,-12,16"], "'x': dimension 2 is '-12', not a positive integer"),
    (["--input-shape", "x=2,3,12.5,16"], "'x': dimension 2 is '12.5', not a positive integer"),
    (["--input-shape", "x=2,3,2147483649,16"], "'x': dimension 2 is 2147483649"),
    (["--input-shape", "x"], "expected NAME=D,D,..."),
    (["--input-shape", "=2,3"], "no input name before '='"),
    (["--input-shape", SHAPE, "--input-shape", SHAPE], "'x': shape given twice"),
    (["--input-shape", SHAPE, "--batch", "3"], "'x' gives the batch (dimension 0) as 2; --batch 3 contradicts it"),
    (["--input-shape", "x=2,3,24,24"], "inner dimensions differ ([2, 576] x [192, 10]) (with --input-shape "
                                       "x=2,3,24,24)"),
])
@pytest.mark.parametrize("command", ["compile", "inspect"])
def test_every_refusal_is_one_line_naming_the_input(compiled, tmp_path, command, args, needle):
    model, _ = compiled
    run = run_cli([command, str(model), *args], tmp_path)
    assert_refused(run, needle)


def test_a_hostile_name_is_escaped_in_every_error(compiled, tmp_path):
    model, _ = compiled
    for spec in ("\x1b]52;c;aGk=\x07=1,3", "x\x1b[31m=1,3,a"):
        run = run_cli(["compile", str(model), "--input-shape", spec], tmp_path)
        assert_refused(run)
        assert "\x1b" not in run.stderr and "\x07" not in run.stderr and "\\x1b" in run.stderr


def test_a_name_holding_equals_and_commas_is_split_on_the_last_equals(tmp_path):
    """The input is named 'img=in,0': the option's text splits on its last '='."""
    proto = onnx.load(dynamic_model(tmp_path / "m.onnx"))
    for node in proto.graph.node:
        node.input[:] = ["img=in,0" if name == "x" else name for name in node.input]
    proto.graph.input[0].name = "img=in,0"
    onnx.save(proto, tmp_path / "named.onnx")
    run = run_cli(["inspect", str(tmp_path / "named.onnx"), "--input-shape", "img=in,0=1,3,12,16", "--json"],
                  tmp_path)
    assert run.code == 0, run.stderr
    assert [e["shape"]["H"] for e in json.loads(run.stdout)["layers"]] == [12, 12, 1]
    assert_refused(run_cli(["inspect", str(tmp_path / "named.onnx")], tmp_path), "--input-shape img=in,0=1,3,HEIGHT,WIDTH")


def test_the_cache_key_follows_the_override(tmp_path):
    """The result cache's key holds each layer's shape, so two sizes never share an answer and a repeat is
    served from it."""
    model = dynamic_model(tmp_path / "m.onnx", features=4 * 4 * 4)
    cache = ResultCache(tmp_path / "cache")
    options = dict(cache=cache, compare_spaces=False, program=False)
    first = compile_model(model, input_shapes={"x": (1, 3, 8, 8)}, **options)
    misses = cache.misses
    assert misses > 0 and cache.hits == 0
    other = compile_model(dynamic_model(tmp_path / "m2.onnx", features=4 * 8 * 8), input_shapes={"x": (1, 3, 16, 16)},
                          **options)
    assert cache.misses > misses and cache.hits == 0  # every layer of the 16 x 16 compile searched afresh
    assert [e.layer.H for e in first.layers] != [e.layer.H for e in other.layers]
    misses = cache.misses
    again = compile_model(model, input_shapes={"x": (1, 3, 8, 8)}, **options)
    assert cache.hits > 0 and cache.misses == misses  # the 8 x 8 answers, from the cache
    assert again.report()["layers"] == first.report()["layers"]


def test_a_sweep_network_takes_input_shapes(tmp_path):
    model = dynamic_model(tmp_path / "dyn.onnx")
    doc = {"base": "eyeriss", "vary": {"glb.banks": [25]},
           "networks": [{"model": str(model), "input_shapes": {"x": [2, 3, 12, 16]}}]}
    spec = spec_from_dict(doc, tmp_path, "spec.yaml")
    result = sweep(spec, tmp_path / "out", cache=False)
    (row,) = result.rows
    plain = compile_model(model, input_shapes={"x": (2, 3, 12, 16)}, cache=False).report()["totals"]
    assert row["feasible"] and row["batch"] == 2 and row["layers"] == 3
    assert row["energy_pj_per_inference"] == plain["energy"]["per_inference_pj"]
    # the point's resume key holds the shapes: another size is never resumed from this one's output
    other = spec_from_dict(doc | {"networks": [{"model": str(model), "input_shapes": {"x": [1, 3, 12, 16]}}]},
                           tmp_path, "spec.yaml")
    assert [p.key(other, "1") for p in points(other)] != [p.key(spec, "1") for p in points(spec)]


@pytest.mark.parametrize("shapes,message", [
    ({"x": [2, 3, 0, 16]}, "dimension 2 is 0"),
    ({"x": "2,3,12,16"}, "each shape must be a list of integers"),
    ([2, 3, 12, 16], "must map graph input names to their shapes"),
    ({"x": [2, 3, "12", 16]}, "dimension 2 is '12', not an integer"),
])
def test_a_bad_sweep_input_shapes_field_is_one_error_naming_it(tmp_path, shapes, message):
    model = dynamic_model(tmp_path / "dyn.onnx")
    doc = {"vary": {"glb.banks": [25]}, "networks": [{"model": str(model), "input_shapes": shapes}]}
    with pytest.raises(SpecError) as error:
        spec_from_dict(doc, tmp_path, "spec.yaml")
    assert "networks[0].input_shapes" in str(error.value) and message in str(error.value)
