"""``eyeriss run`` and ``mapper.run``: a compiled folder is a program the simulated chip runs (issue 26).

The chip backend drives the functional simulator from each decoded bitstream; the numpy backend is a plain
integer convolution with the same write-back and host rules.  They must agree bit for bit on whole
networks, and the folder must refuse to run once anything in it changed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from harness import run_cli
from mapper import compile_model
from mapper.app.program import PROGRAM_FILE
from mapper.app.run import load_program, run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
DIGITS = EXAMPLES / "digits"

pytestmark = pytest.mark.xdist_group("test_run")


def _images(count: int, shape=(1, 32, 32), seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)


def test_chip_equals_the_integer_reference_and_tracks_the_float_model(lenet):
    inputs = {"input": _images(3)}
    chip = run(lenet, inputs, reference=True)
    plain = run(lenet, inputs, backend="numpy")
    assert chip.outputs.keys() == plain.outputs.keys()
    for name in chip.outputs:
        assert np.array_equal(chip.outputs[name], plain.outputs[name])
    assert chip.output.sqnr_db > 40 and chip.output.top1_agreement == 1.0
    assert [c.name for c in chip.layers] == ["conv1", "conv2", "gemm1", "gemm2", "gemm3"]
    assert all(c.sqnr_db > 40 and c.saturations == 0 for c in chip.layers)
    assert chip.top5().shape == (3, 5)


def test_the_folder_holds_formats_weights_and_order_under_its_manifest(lenet):
    report = json.loads((lenet / "report.json").read_text())
    manifest = json.loads((lenet / "manifest.json").read_text())["files"]
    assert report["program"]["runnable"] and set(report["program"]["files"]) <= set(manifest)
    program = json.loads((lenet / PROGRAM_FILE).read_text())
    kinds = [step["kind"] for step in program["steps"]]
    assert kinds == ["array", "host", "array", "host", "host", "array", "array", "array"]
    for layer, step in zip(report["layers"], [s for s in program["steps"] if s["kind"] == "array"]):
        assert layer["formats"] == step["formats"]
        assert layer["formats"]["shift"] == layer["formats"]["psum"] - layer["formats"]["ofmap"]
    assert "default" in report["program"]["formats_source"]


def test_two_compiles_write_the_same_program_bytes(lenet, tmp_path):
    again = tmp_path / "again"
    compile_model(EXAMPLES / "lenet5.onnx", cache=False).save(again)
    for name in json.loads((lenet / "manifest.json").read_text())["files"]:
        if name.startswith("program/") or name.startswith("bitstreams/"):
            assert (lenet / name).read_bytes() == (again / name).read_bytes(), name


def _copy(folder: Path, tmp: Path) -> Path:
    target = tmp / folder.name
    shutil.copytree(folder, target)
    return target


def _flip_an_ifmap_id(folder: Path) -> None:
    """One ID bit of the first layer's ifmap network: a col ID of an active PE changed."""
    from cost_models.hardware import default_hardware
    from mapper.chip.bitstream import decode, encode
    from dataclasses import replace

    hw = default_hardware()
    path = folder / "bitstreams" / "001_conv1.bin"
    decoded = decode(path.read_bytes(), hw)
    config = decoded.config
    nets = list(config.networks)
    ifmap = nets[1]
    cols = [list(row) for row in ifmap.col_ids]
    y, x = next((y, x) for y, row in enumerate(config.active) for x, on in enumerate(row) if on)
    cols[y][x] ^= 1
    nets[1] = replace(ifmap, col_ids=tuple(tuple(row) for row in cols))
    path.write_bytes(encode(replace(config, networks=tuple(nets)), hw, decoded.layer_index))


def test_a_flipped_id_bit_is_refused_and_without_the_hash_check_changes_the_output(lenet, tmp_path):
    tampered = _copy(lenet, tmp_path)
    _flip_an_ifmap_id(tampered)
    result = run_cli(["run", str(tampered), "--inputs", str(_save(tmp_path / "x.npy", _images(1)))], tmp_path)
    assert result.code == 2 and "001_conv1.bin was changed" in result.stderr
    inputs = {"input": _images(1)}
    honest = run(lenet, inputs)
    try:
        steered = run(tampered, inputs, data=load_program(tampered, check_hashes=False))
    except Exception as error:  # the array may also fault (a PE matched two tags): the IDs steered it either way
        assert "faulted" in str(error)
        return
    assert not np.array_equal(honest.outputs["gemm3"], steered.outputs["gemm3"])


def _save(path: Path, array) -> Path:
    np.save(path, array, allow_pickle=True)
    return path


@pytest.mark.parametrize("name, make, needle", [
    ("shape", lambda: _images(2, (1, 28, 28)), "shape"),
    ("count", lambda: np.zeros((0, 1, 32, 32), np.float32), "samples"),
    ("dtype", lambda: np.zeros((1, 1, 32, 32), np.complex64), "dtype"),
    ("nan", lambda: np.full((1, 1, 32, 32), np.nan, np.float32), "NaN"),
    ("inf", lambda: np.full((1, 1, 32, 32), np.inf, np.float32), "NaN or Inf"),
    ("pickle", lambda: np.array([object()] * 2, dtype=object), "numeric"),
])
def test_bad_inputs_get_one_error_and_exit_2(lenet, tmp_path, name, make, needle):
    path = _save(tmp_path / f"{name}.npy", make())
    result = run_cli(["run", str(lenet), "--inputs", str(path), "--output", "y.npy"], tmp_path)
    assert result.code == 2 and needle in result.stderr and not result.left, result.stderr


def test_an_npz_naming_no_input_and_a_truncated_file_are_refused(lenet, tmp_path):
    np.savez(tmp_path / "wrong.npz", image=_images(1))
    result = run_cli(["run", str(lenet), "--inputs", str(tmp_path / "wrong.npz")], tmp_path)
    assert result.code == 2 and "image" in result.stderr
    good = _save(tmp_path / "good.npy", _images(2))
    (tmp_path / "cut.npy").write_bytes(good.read_bytes()[:200])
    result = run_cli(["run", str(lenet), "--inputs", str(tmp_path / "cut.npy")], tmp_path)
    assert result.code == 2 and "truncated" in result.stderr


def test_a_folder_of_another_schema_or_hardware_is_refused(lenet, tmp_path):
    from mapper.app.program import program_from_bytes
    from cost_models.errors import InputError

    doc = json.loads((lenet / PROGRAM_FILE).read_text())
    with pytest.raises(InputError, match="schema"):
        program_from_bytes(json.dumps({**doc, "schema": "eyeriss-program/9"}).encode(), "p")
    other = _copy(lenet, tmp_path)
    text = (other / "program" / "hardware.yaml").read_text().replace("rows: 12", "rows: 11")
    (other / "program" / "hardware.yaml").write_text(text)
    with pytest.raises(InputError, match="layout"):
        load_program(other, check_hashes=False)


def test_cli_run_prints_the_comparison_and_writes_the_output(lenet, tmp_path):
    path = _save(tmp_path / "x.npy", _images(2))
    result = run_cli(["run", str(lenet), "--inputs", str(path), "--reference", "--output", "y.npy", "--json"],
                     tmp_path)
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["output"]["top1_agreement"] == 1.0 and len(doc["top5"]) == 2
    written = np.load(tmp_path / "y.npy")
    assert written.shape == (2, 10) and written.dtype == np.float32
    assert np.array_equal(written, run(lenet, {"input": _images(2)}).outputs["gemm3"])


def test_a_shape_only_model_compiles_without_a_program(tmp_path):
    result = compile_model(EXAMPLES / "resnet18.onnx", cache=True, compare_spaces=False)
    entry = result.report()["program"]
    assert entry["runnable"] is False and "shape-only" in entry["reason"]
    assert all(layer.formats is None for layer in result.layers)


@pytest.mark.skipif(not (DIGITS / "digits_cnn.onnx").exists(), reason="the trained digits network is not bundled")
def test_the_trained_digits_network_keeps_its_accuracy_on_the_chip(tmp_path):
    out = tmp_path / "digits"
    compile_model(DIGITS / "digits_cnn.onnx", calibration=DIGITS / "calibration.npz", cache=False).save(out)
    result = run(out, DIGITS / "heldout.npz", reference=True)
    assert result.accuracy["reference"] > 0.95
    assert abs(result.accuracy["chip"] - result.accuracy["reference"]) <= 0.005
    assert sum(result.saturations.values()) == 0 or result.output.sqnr_db > 30


# ---------------------------------------------------------------- random small networks
def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


@st.composite
def small_networks(draw):
    """A random conv / pool / add network of 1-4 array layers, real weights, ending in a Gemm half the time."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    channels, size = draw(st.integers(1, 4)), 12
    nodes, inits, x, c = [], [], "input", channels
    for k in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "residual"]))
        if kind == "pool" and size >= 4:
            op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
            nodes.append(helper.make_node(op, [x], [f"p{k}"], name=f"pool{k}", kernel_shape=[2, 2], strides=[2, 2]))
            x, size = f"p{k}", size // 2
            continue
        m, kernel = draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
        m = c if kind == "residual" else m
        inits += [numpy_helper.from_array(rng.normal(0, 1 / np.sqrt(c * kernel * kernel), (m, c, kernel, kernel))
                                          .astype(np.float32), f"w{k}"),
                  numpy_helper.from_array(rng.normal(0, 0.1, m).astype(np.float32), f"b{k}")]
        nodes.append(helper.make_node("Conv", [x, f"w{k}", f"b{k}"], [f"c{k}"], name=f"conv{k}",
                                      kernel_shape=[kernel, kernel], pads=[kernel // 2] * 4))
        y = f"c{k}"
        if draw(st.booleans()):
            nodes.append(helper.make_node("Relu", [y], [f"r{k}"], name=f"relu{k}"))
            y = f"r{k}"
        if kind == "residual":
            nodes.append(helper.make_node("Add", [y, x], [f"a{k}"], name=f"add{k}"))
            y = f"a{k}"
        x, c = y, m
    if draw(st.booleans()):
        nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
        inits.append(numpy_helper.from_array(rng.normal(0, 0.3, (5, c * size * size)).astype(np.float32), "fc"))
        nodes.append(helper.make_node("Gemm", ["flat", "fc"], ["out"], name="fc", transB=1))
        x = "out"
    graph = helper.make_graph(nodes, "random", [_vi("input", [1, channels, 12, 12])], [_vi(x, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, channels


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_random_small_networks_run_bit_exact_on_the_chip(network):
    model, channels = network
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.onnx"
        path.write_bytes(model.SerializeToString())
        if not any(n.op_type == "Conv" or n.op_type == "Gemm" for n in model.graph.node):
            return
        result = compile_model(path, cache=False, compare_spaces=False)
        assert result.report()["program"]["runnable"], result.report()["program"]
        result.save(Path(tmp) / "out")
        inputs = {"input": np.random.default_rng(3).standard_normal((2, channels, 12, 12)).astype(np.float32)}
        chip = run(Path(tmp) / "out", inputs, reference=True)
        plain = run(Path(tmp) / "out", inputs, backend="numpy")
        for name in chip.outputs:
            assert np.array_equal(chip.outputs[name], plain.outputs[name])
        assert chip.output.sqnr_db is None or chip.output.sqnr_db > 30


def test_an_architecture_only_export_compiles_with_one_warning_and_does_not_run(tmp_path):
    """External weights not shipped (ZigZag's example exports): inspect and compile map from shapes with one
    warning naming the file; the folder is no program, and simulate refuses the model (issue 29)."""
    folder = tmp_path / "model"
    folder.mkdir()
    model = onnx.load(EXAMPLES / "digits" / "digits_cnn.onnx")
    onnx.save(model, folder / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    (folder / "weights.bin").unlink()
    for command in (("inspect", str(folder / "m.onnx")), ("compile", str(folder / "m.onnx"), "-o", str(tmp_path / "o"))):
        done = run_cli(list(command))
        assert done.code == 0, done.stderr
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "'weights.bin' is missing" in warnings[0]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert not report["program"]["runnable"] and "'weights.bin' is missing" in report["program"]["reason"]
    refused = run_cli(["simulate", str(folder / "m.onnx")])
    assert refused.code == 2 and "'weights.bin': no such file" in refused.stderr
    assert run_cli(["run", str(tmp_path / "o"), "--inputs", str(DIGITS / "heldout.npz")]).code == 2
