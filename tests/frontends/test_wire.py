"""The streaming reader that leaves large weights out: same model, minus exactly the large tensors' values."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from frontends import FrontendError, array_layers, load_layer_weights, load_onnx
from frontends.wire import WireError, read_without_weights

KEEP = 16


def _model(sizes: list[int], raw: list[bool]) -> onnx.ModelProto:
    inits = []
    for index, (size, as_raw) in enumerate(zip(sizes, raw)):
        values = np.arange(size, dtype=np.float32) - 3
        tensor = numpy_helper.from_array(values.reshape(size, 1), f"w{index}")
        if not as_raw:  # float_data instead of raw_data, as some exporters write
            tensor = helper.make_tensor(f"w{index}", TensorProto.FLOAT, [size, 1], values.tolist())
        inits.append(tensor)
    nodes = [helper.make_node("Identity", [f"w{i}"], [f"y{i}"], name=f"n{i}") for i in range(len(sizes))]
    graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None)
                                               for i in range(len(sizes))], inits, doc_string="kept")
    return helper.make_model(graph, producer_name="test", opset_imports=[helper.make_opsetid("", 17)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=6))
def test_only_large_tensor_values_are_left_out(spec):
    model = _model([s for s, _ in spec], [r for _, r in spec])
    data = model.SerializeToString()
    stripped = onnx.load_model_from_string(read_without_weights(io.BytesIO(data), len(data), KEEP))
    expected = onnx.ModelProto()
    expected.CopyFrom(model)
    for tensor in expected.graph.initializer:
        if tensor.dims[0] * tensor.dims[1] > KEEP:
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
    assert stripped == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=6))
def test_spans_point_at_each_left_out_tensors_raw_bytes(spec):
    """With spans, only raw_data values are left out (float_data ones stay), each span their exact bytes."""
    model = _model([s for s, _ in spec], [r for _, r in spec])
    data = model.SerializeToString()
    spans: list = []
    stripped = onnx.load_model_from_string(read_without_weights(io.BytesIO(data), len(data), KEEP, spans=spans))
    assert len(spans) == len(stripped.graph.initializer) == len(spec)
    for original, tensor, span, (size, raw) in zip(model.graph.initializer, stripped.graph.initializer, spans, spec):
        if size > KEEP and raw:
            offset, length = span
            assert data[offset:offset + length] == original.raw_data and not tensor.raw_data
            assert list(tensor.dims) == list(original.dims)
        else:
            assert span is None and tensor == original


def test_a_tensor_saying_its_data_is_in_the_file_is_spanned():
    """onnx.save of a model loaded from external data writes data_location = DEFAULT explicitly."""
    model = _model([40], [True])
    model.graph.initializer[0].data_location = TensorProto.DEFAULT
    data = model.SerializeToString()
    spans: list = []
    read_without_weights(io.BytesIO(data), len(data), KEEP, spans=spans)
    (offset, length), = spans
    assert data[offset:offset + length] == model.graph.initializer[0].raw_data


def _weighted_conv(path: Path, scale: float) -> Path:
    weight = numpy_helper.from_array(np.full((16, 16, 5, 5), scale, dtype=np.float32), "w")  # 6400: left in the file
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[2, 2, 2, 2])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 8, 8])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_weights_come_from_the_file_that_was_loaded_or_are_refused(tmp_path):
    """The weights reader reads a layer's values from the file when asked: a file replaced (same size) or
    deleted since the graph was loaded is one clear error, never another model's weights."""
    path = _weighted_conv(tmp_path / "m.onnx", 0.5)
    graph = load_onnx(path)
    weights = load_layer_weights(graph, "conv")
    assert weights.dtype == np.float32 and not weights.flags.writeable and np.all(weights == 0.5)  # the file's bytes
    os.replace(_weighted_conv(tmp_path / "other.onnx", 0.25), path)  # the same size, another file
    with pytest.raises(FrontendError, match="changed since it was loaded"):
        load_layer_weights(graph, "conv")
    assert np.all(load_layer_weights(load_onnx(path), "conv") == 0.25)  # loaded again: the new weights
    graph = load_onnx(path)
    path.unlink()
    with pytest.raises(FrontendError, match="cannot be read any more"):
        load_layer_weights(graph, "conv")


def test_truncated_or_garbage_bytes_are_refused():
    data = _model([30, 3], [True, False]).SerializeToString()
    for cut in (1, 5, len(data) // 2, len(data) - 1):
        with pytest.raises((WireError, DecodeError)):
            onnx.load_model_from_string(read_without_weights(io.BytesIO(data[:cut]), cut, KEEP))
    with pytest.raises(WireError):
        read_without_weights(io.BytesIO(b"\x0f\x01"), 2, KEEP)  # wire type 7


def test_embedded_weights_give_the_same_layers_as_shape_only(tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    shape_only = onnx.load(str(examples / "alexnet.onnx"))
    heavy = onnx.ModelProto()
    heavy.CopyFrom(shape_only)
    feeds = {i for node in heavy.graph.node for i in node.input}
    kept = []
    for value in heavy.graph.input:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.name in feeds and dims and all(dims) and value.name != heavy.graph.input[0].name:
            heavy.graph.initializer.append(numpy_helper.from_array(np.ones(dims, np.float32), value.name))
        else:
            kept.append(value)
    del heavy.graph.input[:]
    heavy.graph.input.extend(kept)
    path = tmp_path / "alexnet_weights.onnx"
    onnx.save(heavy, str(path))
    assert path.stat().st_size > 200e6
    assert array_layers(load_onnx(path, batch=4)) == array_layers(load_onnx(examples / "alexnet.onnx", batch=4))
