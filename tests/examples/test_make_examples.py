"""examples/make_examples.py: the committed examples regenerate byte for byte, and the weighted ones are
deterministic, valid, and carry every Conv and Gemm weight as an initializer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

_spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
make_examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_examples)


def test_committed_examples_regenerate_byte_for_byte(tmp_path):
    paths = make_examples.write_examples(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{n}.onnx" for n in make_examples.NAMES)
    for path in paths:
        assert path.read_bytes() == (EXAMPLES / path.name).read_bytes(), path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no temp files left


def test_cli_without_names_needs_weights(capsys):
    with pytest.raises(SystemExit):
        make_examples.main(["lenet5"])
    with pytest.raises(SystemExit):
        make_examples.main(["--weights", "x", "nonet"])


def _check_weighted(path: Path) -> onnx.ModelProto:
    onnx.checker.check_model(str(path), full_check=True)  # with strict shape inference
    model = onnx.load(str(path))
    graph = model.graph
    assert [i.name for i in graph.input] == ["input"]  # no parameter left as a graph input
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"  # the batch stays symbolic
    inits = {t.name: t for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type in ("Conv", "Gemm")]
    assert convs
    for node in convs:
        for name in node.input[1:]:
            assert name in inits, f"{node.name}: {name} is not an initializer"
            value = onnx.numpy_helper.to_array(inits[name])
            assert value.dtype == np.float32 and np.isfinite(value).all() and value.any()
    return model


def test_weighted_lenet5_is_the_committed_one_with_a_typed_output(tmp_path):
    path = make_examples.write_weighted("lenet5", tmp_path)
    assert path == tmp_path / "lenet5.onnx"
    assert make_examples.write_weighted("lenet5", tmp_path).read_bytes() == path.read_bytes()
    model = _check_weighted(path)
    committed = onnx.load(str(EXAMPLES / "lenet5.onnx"))
    assert [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == ["N", 10]
    model.graph.output[0].type.tensor_type.ClearField("shape")
    assert model.SerializeToString(deterministic=True) == committed.SerializeToString(deterministic=True)


def test_weighted_resnet18_is_deterministic_and_valid(tmp_path):
    first = make_examples.write_weighted("resnet18", tmp_path / "a").read_bytes()
    again = make_examples.write_weighted("resnet18", tmp_path / "a")  # over an existing file
    assert again.read_bytes() == first
    assert make_examples.write_weighted("resnet18", tmp_path / "b").read_bytes() == first
    model = _check_weighted(again)
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    # He-normal before a ReLU: conv1's 3 x 7 x 7 fan-in gives std sqrt(2 / 147)
    assert abs(weights["conv1.weight"].std() / np.sqrt(2 / 147) - 1) < 0.05
    scale = weights["conv1.bn.scale"]
    assert scale.min() >= 0.5 and scale.max() < 1.5


def test_weighted_and_shape_only_forms_agree_on_shapes():
    for name in ("resnet18", "mobilenet_v2"):
        shape_only, weighted = make_examples.build(name, False), make_examples.build(name, True)
        assert [(n.op_type, list(n.input), list(n.output)) for n in shape_only.graph.node] == \
            [(n.op_type, list(n.input), list(n.output)) for n in weighted.graph.node]
        shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in shape_only.graph.input[1:]}
        inits = {t.name: list(t.dims) for t in weighted.graph.initializer if t.name in shapes}
        assert inits == shapes


def test_external_data_above_the_limit(tmp_path, monkeypatch):
    """A model over the protobuf limit keeps its large tensors in <name>.onnx.data (forced here by a low limit)."""
    monkeypatch.setattr(make_examples, "EXTERNAL_DATA_LIMIT", 0)
    path = make_examples.write_weighted("lenet5", tmp_path)
    assert (tmp_path / "lenet5.onnx.data").is_file() and path.stat().st_size < 10_000
    onnx.checker.check_model(str(path))
    loaded = onnx.load(str(path))
    embedded = make_examples.build("lenet5", True)
    for a, b in zip(loaded.graph.initializer, embedded.graph.initializer, strict=True):
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(a), onnx.numpy_helper.to_array(b))
