"""Calibration inputs: measured zeros and RLC sizes equal the codec run directly on onnxruntime's tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from cost_models import rlc
from cost_models.errors import InputError
from cost_models.rowstationary import RATIO_ONE
from frontends import load_onnx
from frontends.calibration import calibrate
from mapper.app.cli import main
from mapper.app.compiler import compile_model
from tests.frontends.onnx_build import model_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def relu_net(weights_as_inputs: bool = False) -> onnx.ModelProto:
    """conv1 -> ReLU -> MaxPool -> conv2 -> ReLU -> conv3 (no ReLU); biases shift the zero share per layer."""
    rng = np.random.default_rng(7)
    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    w3 = rng.standard_normal((4, 8, 1, 1)).astype(np.float32)
    b2 = np.full(8, -2.0, dtype=np.float32)  # a negative bias: conv2's output is mostly zero after its ReLU
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
             numpy_helper.from_array(b2, "b2"), numpy_helper.from_array(w3, "w3")]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "w3"], ["y"], name="conv3"),
    ]
    return model_of(nodes, "relu_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                    inits, weights_as_inputs)


def samples(count: int = 3) -> np.ndarray:
    data = np.random.default_rng(3).standard_normal((count, 3, 16, 16)).astype(np.float32)
    data[:, :, :4, :] = 0.0  # some exact zeros in the network input too
    return data


def direct(model: onnx.ModelProto, data: np.ndarray, tensor: str) -> tuple[float, int]:
    """Zero share and RLC ratio of ``tensor`` straight from onnxruntime, one sample at a time, through rlc.encode."""
    work = onnx.ModelProto()
    work.CopyFrom(model)
    work.graph.output.extend([onnx.ValueInfoProto(name=tensor)])
    session = ort.InferenceSession(work.SerializeToString(), providers=["CPUExecutionProvider"])
    zeros = values = words = 0
    for sample in data:
        (value,) = session.run([tensor], {"x": sample[None]})
        flat = value.ravel()
        zeros += int((flat == 0).sum())
        values += flat.size
        # The codec's pairs depend only on where the zeros are: any non-zero int16 stands for a value.
        words += rlc.encode(np.where(flat == 0, 0, 1).astype(np.int16)).size * rlc.WORDS_PER_CODE_WORD
    return zeros / values, -(-words * RATIO_ONE // values)


def test_measured_zeros_and_rlc_sizes_equal_the_codec_on_runtime_tensors(tmp_path):
    model, data = relu_net(), samples()
    path = tmp_path / "inputs.npy"
    np.save(path, data)
    graph = load_onnx(model, batch=1)
    measured = calibrate(model, graph, path)
    assert measured.samples == 3
    expected = {"conv1": ("x", "r1"), "conv2": ("p1", "r2"), "conv3": ("r2", "y")}
    assert set(measured.layers) == set(expected)
    for name, (ifmap, ofmap) in expected.items():
        for stat, tensor in zip(measured.layers[name], (ifmap, ofmap)):
            zeros, ratio = direct(model, data, tensor)
            assert stat.source == "measured"
            assert stat.zero_fraction == zeros and stat.rlc_ratio == ratio, (name, tensor)
    # The figures really differ per layer (the test would catch a constant).
    z = {name: measured.layers[name][1].zero_fraction for name in expected}
    assert z["conv2"] > z["conv1"] > 0.2 > z["conv3"]


def test_calibrated_compile_feeds_the_cost_model_and_reports_sources(tmp_path):
    model, data = relu_net(), samples()
    np.save(tmp_path / "inputs.npy", data)
    plain = compile_model(model, batch=1, time_limit=10, compare_spaces=False)
    calibrated = compile_model(model, batch=1, time_limit=10, compare_spaces=False, calibration=tmp_path / "inputs.npy",
                               layer_zero_fractions={"conv3": (0.25, None)})
    entry = {layer.name: layer for layer in calibrated.layers}
    zeros, ratio = direct(model, data, "p1")
    assert entry["conv2"].ratios.ifmap_dram == ratio
    assert entry["conv2"].ratios.ifmap_nonzero == int(round(RATIO_ONE * (1 - zeros)))
    assert entry["conv1"].ratios.ifmap_dram == RATIO_ONE  # the network input is never RLC-coded
    assert entry["conv3"].statistics.ifmap.source == "given" and entry["conv3"].statistics.ofmap.source == "measured"
    report = calibrated.report()
    assert report["options"]["calibration"] == {"file": "inputs.npy", "samples": 3}
    stats = report["layers"][1]["statistics"]
    assert stats["ifmap"]["source"] == "measured" and stats["ifmap"]["rlc"] == "codec on real tensors"
    defaults = plain.report()["layers"][1]["statistics"]
    assert defaults["ifmap"]["source"] == "default" and defaults["ifmap"]["zero_fraction"] == 0.5
    assert plain.layer("conv2").ratios != entry["conv2"].ratios


def test_weights_as_graph_inputs_refused_with_one_error(tmp_path):
    np.save(tmp_path / "inputs.npy", samples(1))
    model = relu_net(weights_as_inputs=True)
    with pytest.raises(InputError, match="calibration needs the weights"):
        calibrate(model, load_onnx(model, batch=1), tmp_path / "inputs.npy")


def test_cli_calibration_and_per_layer_zero_fractions(tmp_path, capsys):
    onnx.save(relu_net(), tmp_path / "net.onnx")
    np.savez(tmp_path / "inputs.npz", x=samples(2))
    out = tmp_path / "out"
    code = main(["compile", str(tmp_path / "net.onnx"), "-o", str(out), "--calibration", str(tmp_path / "inputs.npz"),
                 "--zero-fraction", "conv2=0.3,0.6", "--json"])
    assert code == 0
    import json

    report = json.loads((out / "report.json").read_text())
    conv2 = report["layers"][1]["statistics"]
    assert conv2["ifmap"]["zero_fraction"] == 0.3 and conv2["ofmap"]["zero_fraction"] == 0.6
    assert conv2["ifmap"]["source"] == "given"
    capsys.readouterr()
    np.savez(tmp_path / "wrong.npz", y=samples(2))
    assert main(["compile", str(tmp_path / "net.onnx"), "-o", str(tmp_path / "o2"),
                 "--calibration", str(tmp_path / "wrong.npz")]) == 2
    assert "no array for model input(s) x" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
    assert main(["compile", str(tmp_path / "net.onnx"), "-o", str(tmp_path / "o3"), "--zero-fraction", "nope=0.2"]) == 2
    assert "names no array layer: nope" in capsys.readouterr().err


def test_measured_and_given_figures_are_one_per_tensor(tmp_path):
    """A layer's measured ofmap is its reader's ifmap, and a figure given for the reader's ifmap is the writer's
    ofmap too: one tensor, one figure (issue 31)."""
    from frontends import load_onnx
    from frontends.zeros import layer_tensors

    model, data = relu_net(), samples()
    np.save(tmp_path / "inputs.npy", data)
    for given in ({}, {"conv3": (0.25, None)}):
        calibrated = compile_model(model, batch=1, time_limit=10, compare_spaces=False,
                                   calibration=tmp_path / "inputs.npy", layer_zero_fractions=given)
        entry = {layer.name: layer.statistics for layer in calibrated.layers}
        tensors = layer_tensors(load_onnx(model))
        writers = {t.ofmap: name for name, t in tensors.items()}
        pairs = [(writers[t.ifmap], name) for name, t in tensors.items() if t.ifmap in writers]
        assert pairs
        for producer, consumer in pairs:
            assert entry[producer].ofmap == entry[consumer].ifmap, (given, producer, consumer)
            assert entry[consumer].ifmap.source == ("given" if consumer in given else "measured")


def test_onnxruntime_multiline_error_is_one_readable_line(tmp_path):
    """onnxruntime says one fact per line; the error line had them as literal backslash-n (issue 30)."""
    from harness import assert_refused, run_cli

    samples = tmp_path / "wrong.npy"
    np.save(samples, np.zeros((1, 1, 30, 30), np.float32))  # LeNet-5 takes 32 x 32
    run = run_cli(["compile", str(EXAMPLES / "lenet5.onnx"), "-o", str(tmp_path / "out"), "--no-cache",
                   "--calibration", str(samples)])
    assert_refused(run, "index: 2 Got: 30 Expected: 32; index: 3 Got: 30 Expected: 32")
    assert "\\n" not in run.stderr and "[ONNXRuntimeError]" not in run.stderr


def test_foreign_message_keeps_control_characters_for_the_printer():
    from cost_models.errors import foreign_message
    from mapper.app.untrusted import printable

    line = foreign_message(RuntimeError("first\n\n  second \x1b[31m\nthird"))
    assert line == "first; second \x1b[31m; third"
    assert printable(line) == "first; second \\x1b[31m; third"
    assert foreign_message(RuntimeError("x" * 500), 10) == "x" * 10 + "..."
