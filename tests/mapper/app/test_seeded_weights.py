"""``--weights seeded`` (issue 30): a shape-only example calibrates, compiles a program and runs on seeded weights,
and the report and program say the weights are seeded."""

from __future__ import annotations

import importlib.util
import io
import json

import numpy as np
import pytest
from onnx import numpy_helper

from cost_models.errors import InputError
from frontends.seeded import parse_weights, seeded_arrays, with_seeded_weights
from harness import assert_refused, run_cli
from mapper import compile_model

from conftest import EXAMPLES


def _make_examples():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("text, seed", [(None, None), ("model", None), ("seeded", 0), ("seeded:18", 18),
                                        (f"seeded:{2**63 - 1}", 2**63 - 1)])
def test_parse_weights(text, seed):
    assert parse_weights(text) == seed


@pytest.mark.parametrize("text", ["seed", "seeded:", "seeded:-1", "seeded:x", f"seeded:{2**63}", "Seeded"])
def test_parse_weights_refuses(text):
    with pytest.raises(InputError, match="'model', 'seeded' or 'seeded:SEED'"):
        parse_weights(text)


def test_seeded_shape_only_resnet18_is_the_weighted_example_to_the_bit():
    examples = _make_examples()
    weighted = {t.name: numpy_helper.to_array(t) for t in examples.build("resnet18", True).graph.initializer}
    seeded = with_seeded_weights(examples.build("resnet18", False), examples.SEEDS["resnet18"], "resnet18")
    assert [v.name for v in seeded.graph.input] == ["input"]
    drawn = {t.name: numpy_helper.to_array(t) for t in seeded.graph.initializer}
    assert drawn.keys() == weighted.keys()
    assert all(np.array_equal(drawn[name], weighted[name]) for name in weighted)


def test_draws_are_he_normal_before_a_relu_and_differ_by_seed():
    proto = _make_examples().build("resnet18", False)
    first, other = seeded_arrays(proto, 0, "x"), seeded_arrays(proto, 1, "x")
    conv = first["conv2.weight"]  # 64 x 64 x 3 x 3, a ReLU follows: std sqrt(2 / 576)
    assert abs(conv.std() / np.sqrt(2 / 576) - 1) < 0.02
    gemm = first["gemm1.weight"]  # the classifier, no ReLU: std sqrt(1 / 512)
    assert abs(gemm.std() / np.sqrt(1 / 512) - 1) < 0.02
    assert not np.array_equal(conv, other["conv2.weight"])


def test_lenet5_seeded_replaces_its_weights_and_says_so(tmp_path):
    run = run_cli(["compile", str(EXAMPLES / "lenet5.onnx"), "-o", str(tmp_path / "out"), "--no-cache",
                   "--weights", "seeded:3"])
    assert run.code == 0, run.stderr
    assert "seeded random draws (seed 3" in run.stderr and "not a trained model" in run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    program = json.loads((tmp_path / "out" / "program" / "program.json").read_text())
    assert report["options"]["weights"] == program["weights"] == "seeded:3"
    own = compile_model(EXAMPLES / "lenet5.onnx", cache=False)
    assert own.report()["options"]["weights"] == "model"
    seeded_w = np.load(tmp_path / "out" / program["steps"][0]["weights"])
    own_w = np.load(io.BytesIO(own.program.files[own.program.program.array_steps[0].weights]))
    assert seeded_w.shape == own_w.shape and not np.array_equal(seeded_w, own_w)


def test_resnet18_seeded_calibrates_compiles_and_runs_against_onnxruntime(tmp_path):
    samples = tmp_path / "x.npz"
    np.savez(samples, input=np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32))
    refused = run_cli(["compile", str(EXAMPLES / "resnet18.onnx"), "-o", str(tmp_path / "no"), "--calibration",
                       str(samples)])
    assert_refused(refused, "--weights seeded")
    out = tmp_path / "r18"
    compiled = run_cli(["compile", str(EXAMPLES / "resnet18.onnx"), "-o", str(out), "--weights", "seeded",
                        "--calibration", str(samples)])
    assert compiled.code == 0, compiled.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["options"]["calibration"]["samples"] == 1 and report["program"] is not None
    ran = run_cli(["run", str(out), "--inputs", str(samples), "--reference", "--json"])
    assert ran.code == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["output"]["sqnr_db"] > 50 and result["output"]["top1_agreement"] == 1.0, result["output"]
