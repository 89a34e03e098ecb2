"""``--input-shape NAME=D,D,...`` in the frontend: the parser, and graph input shapes fixed before shape inference.

Models are built here with onnx's helper (a symbolic batch and symbolic spatial dims, a Flatten -> Gemm whose
weight fixes the only size that fits), and the real torch exports of tests/fixtures/torch are made dynamic
in their height and width (their inputs are static there) and must lower exactly as the static export does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cost_models.layer import LayerShape
from frontends import FrontendError, InputShapeError, array_layers, load_onnx
from frontends.input_shapes import (MAX_DIM, MAX_RANK, format_input_shape, input_shape_map, parse_input_shape)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch"


def dynamic_cnn(x_shape=("batch", 3, "height", "width"), features: int = 4 * 8 * 8, name: str = "x",
                weights_as_inputs: bool = False) -> onnx.ModelProto:
    """Conv 3x3 pad 1 (4 filters) -> ReLU -> Flatten -> Gemm to 10 classes: the Gemm weight [10, features]
    fits one input size only (8 x 8 for the default), as a classifier exported with dynamic axes does."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.normal(size=(10, features)).astype(np.float32), "fc")
    nodes = [helper.make_node("Conv", [name, "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)]
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, x_shape)]
    inits = [w, fc]
    if weights_as_inputs:
        inputs += [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in inits]
        inits = []
    graph = helper.make_graph(nodes, "dyn", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_symbolic_spatial_size_is_fixed_and_the_layers_follow():
    graph = load_onnx(dynamic_cnn(), input_shapes={"x": (2, 3, 8, 8)})
    (conv_name, conv), (fc_name, fc) = array_layers(graph)
    assert conv == LayerShape(N=2, M=4, C=3, H=8, W=8, R=3, S=3, pads=(1, 1, 1, 1))
    assert (fc.N, fc.M, fc.C, fc.macs()) == (2, 10, 256, 2 * 10 * 256)
    # the override's leading dim is the batch, which it fixed: no other batch can be asked for
    assert graph.graph["batch"] == 2 and graph.graph["batch_symbolic"] is False
    assert graph.graph["input_shapes"] == {"x": (2, 3, 8, 8)}
    assert dict(graph.graph["inputs"])["x"] == (2, 3, 8, 8)


def test_a_non_square_size_and_the_batch_option_agreeing():
    model = dynamic_cnn(features=4 * 6 * 10)
    ((_, conv), _) = array_layers(load_onnx(model, batch=3, input_shapes={"x": [3, 3, 6, 10]}))
    assert (conv.N, conv.H, conv.W, conv.E, conv.F) == (3, 6, 10, 6, 10)


def test_an_override_of_a_static_model_that_agrees_changes_nothing():
    static = dynamic_cnn(x_shape=[1, 3, 8, 8])
    assert array_layers(load_onnx(static, input_shapes={"x": (1, 3, 8, 8)})) == array_layers(load_onnx(static))


def test_an_input_declared_without_a_shape_takes_the_given_one():
    model = dynamic_cnn(x_shape=None)
    with pytest.raises(FrontendError, match="has no shape; give it with --input-shape"):
        load_onnx(model)
    ((_, conv), _) = array_layers(load_onnx(model, input_shapes={"x": (1, 3, 8, 8)}))
    assert (conv.N, conv.C, conv.H, conv.W) == (1, 3, 8, 8)


def test_the_remaining_dynamic_dims_error_shows_the_way_out():
    with pytest.raises(FrontendError) as error:
        load_onnx(dynamic_cnn(), batch=2)
    message = str(error.value)
    assert "dimension 2 of graph input 'x' is symbolic ('height'), dimension 3 too ('width')" in message
    assert "[batch, 3, height, width]" in message
    assert "--input-shape x=2,3,HEIGHT,WIDTH" in message and "\n" not in message
    # an odd name is shell-quoted in the suggestion, and an unnamed symbol gets a placeholder
    with pytest.raises(FrontendError, match=r"--input-shape 'in put=1,3,D2,8'"):
        load_onnx(dynamic_cnn(x_shape=["N", 3, None, 8], name="in put", features=4 * 8))


@pytest.mark.parametrize("shapes,message", [
    ({"y": (1, 3, 8, 8)}, "names no graph input 'y'; the model's data inputs: 'x' [batch, 3, height, width]"),
    ({"x": (1, 3, 8)}, "'x' gives 3 dimension(s); the input has 4 ([batch, 3, height, width])"),
    ({"x": (1, 3, 8, 8, 1)}, "'x' gives 5 dimension(s); the input has 4"),
    ({"x": (1, 4, 8, 8)}, "'x' gives dimension 1 as 4; the model fixes it at 3"),
    ({"x": (1, 3, 0, 8)}, "'x': dimension 2 is 0; dimensions must be between 1 and 2147483648"),
    ({"x": (1, 3, -8, 8)}, "'x': dimension 2 is -8; dimensions must be between"),
    ({"x": (1, 3, MAX_DIM + 1, 8)}, "'x': dimension 2 is 2147483649; dimensions must be between"),
    ({"x": (1, 3, 8.0, 8)}, "'x': dimension 2 is '8.0', not an integer"),
    ({"x": (1, 3, True, 8)}, "'x': dimension 2 is 'True', not an integer"),
    ({"x": ()}, "'x': no dimensions given"),
    ({"x": "1,3,8,8"}, "'x': the shape must be a sequence of integers"),
    ({"x": (1,) * (MAX_RANK + 1)}, f"'x': {MAX_RANK + 1} dimensions; at most {MAX_RANK}"),
    ({"": (1, 3, 8, 8)}, "an input name must be a non-empty string"),
    ({"x": (5000, 3, 8, 8)}, "gives the batch (dimension 0) as 5000; at most 4096"),
])
def test_each_bad_override_is_one_error_naming_the_input(shapes, message):
    with pytest.raises(InputShapeError) as error:
        load_onnx(dynamic_cnn(), input_shapes=shapes)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_batch_option_that_contradicts_the_override_is_refused():
    with pytest.raises(InputShapeError, match=r"'x' gives the batch \(dimension 0\) as 2; --batch 3 contradicts it"):
        load_onnx(dynamic_cnn(), batch=3, input_shapes={"x": (2, 3, 8, 8)})


def test_a_weight_input_is_not_a_data_input():
    model = dynamic_cnn(weights_as_inputs=True)
    with pytest.raises(InputShapeError, match="'w': that input is a weight .* data inputs: 'x'"):
        load_onnx(model, input_shapes={"x": (1, 3, 8, 8), "w": (4, 3, 3, 3)})
    assert len(array_layers(load_onnx(model, input_shapes={"x": (1, 3, 8, 8)}))) == 2


def test_an_input_given_twice_is_refused_not_overwritten():
    with pytest.raises(InputShapeError, match="'x': shape given twice"):
        input_shape_map([("x", (1, 3, 8, 8)), ("x", (1, 3, 16, 16))])


def test_a_shape_the_rest_of_the_graph_cannot_take_is_the_shape_inference_error():
    # 16 x 16 gives the Gemm 1024 features; its weight has 256: the Gemm is refused, and the line says which
    # shape was given
    with pytest.raises(FrontendError) as error:
        load_onnx(dynamic_cnn(), input_shapes={"x": (1, 3, 16, 16)})
    assert str(error.value) == ("<model>: Gemm node 'fc': inner dimensions differ ([1, 1024] x [256, 10]) "
                                "(with --input-shape x=1,3,16,16)")


def make_dynamic(source: Path, target: Path) -> str:
    """The fixture with its input's spatial dims symbolic ('height', 'width'...), saved at ``target``."""
    proto = onnx.load(source)
    initializers = {t.name for t in proto.graph.initializer}
    data = next(v for v in proto.graph.input if v.name not in initializers)
    dims = data.type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value")  # the TorchScript exports keep a symbolic batch
    for index, symbol in zip(range(2, len(dims)), ("height", "width")):
        dims[index].Clear()
        dims[index].dim_param = symbol
    onnx.save(proto, target)
    return data.name


@pytest.mark.parametrize("fixture", ["vgg_ts17", "resnet_ts17", "vit_ts17", "mobilenet_v2_ts17", "conv1d_ts17"])
def test_torch_exports_made_dynamic_lower_as_the_static_export_does(fixture, tmp_path):
    """The TorchScript exports compute reshapes from Shape nodes (ViT's patch tokens, the classifiers' flatten):
    with the spatial size given, folding sees the same constants and every layer matches the static export."""
    source = FIXTURES / f"{fixture}.onnx"
    dynamic = tmp_path / "dynamic.onnx"
    name = make_dynamic(source, dynamic)
    static = load_onnx(source, batch=2)
    shape = dict(static.graph["inputs"])[name]
    with pytest.raises(FrontendError, match="--input-shape"):
        load_onnx(dynamic, batch=2)
    given_shape = load_onnx(dynamic, input_shapes={name: shape})
    assert array_layers(given_shape) == array_layers(static) and given_shape.graph["batch"] == 2


def test_a_dynamic_torch_export_takes_another_size_where_the_network_allows_it(tmp_path):
    """ResNet's global average pool takes any input size: 128 x 128 doubles every conv's side against the
    export's own 64 x 64 (the layers and their order unchanged)."""
    dynamic = tmp_path / "resnet.onnx"
    name = make_dynamic(FIXTURES / "resnet_ts17.onnx", dynamic)
    small = array_layers(load_onnx(FIXTURES / "resnet_ts17.onnx"))
    large = array_layers(load_onnx(dynamic, input_shapes={name: (1, 3, 128, 128)}))
    assert [n for n, _ in small] == [n for n, _ in large]
    convs = [(a, b) for (_, a), (_, b) in zip(small, large) if a.kind == "conv"]
    assert convs and all((b.H, b.W) == (2 * a.H, 2 * a.W) for a, b in convs)


# The parser: split on the last '=', so a name may hold '=' and ','; ASCII digits only.

names = st.text(min_size=1, max_size=30)
dims_lists = st.lists(st.integers(1, MAX_DIM), min_size=1, max_size=MAX_RANK)


@settings(max_examples=300)
@given(names, dims_lists)
def test_a_valid_spec_round_trips(name, dims):
    assert parse_input_shape(format_input_shape(name, dims)) == (name, tuple(dims))


@pytest.mark.parametrize("text,expected", [
    ("x=1,3,224,224", ("x", (1, 3, 224, 224))),
    ("a=b=1,2", ("a=b", (1, 2))),
    ("in,0=1,3", ("in,0", (1, 3))),
    ("x=1, 3 ,8", ("x", (1, 3, 8))),
    ("x=007", ("x", (7,))),
    ("==1", ("=", (1,))),
])
def test_examples_of_the_text_form(text, expected):
    assert parse_input_shape(text) == expected


@pytest.mark.parametrize("text,message", [
    ("x", "expected NAME=D,D,..."),
    ("=1,2", "no input name before '='"),
    ("x=", "dimension 0 is empty"),
    ("x=1,,2", "dimension 1 is empty"),
    ("x=1,3,a", "dimension 2 is 'a', not a positive integer"),
    ("x=1.5", "dimension 0 is '1.5', not a positive integer"),
    ("x=-1", "dimension 0 is '-1', not a positive integer"),
    ("x=0", "dimension 0 is 0; dimensions must be between 1"),
    ("x=2147483649", "dimension 0 is 2147483649"),
    ("x=" + "9" * 5000, "not a positive integer"),
    ("x=\u0663", "not a positive integer"),  # int() reads Arabic-Indic digits; the parser does not
])
def test_bad_text_is_one_input_shape_error(text, message):
    with pytest.raises(InputShapeError) as error:
        parse_input_shape(text)
    assert message in error.value.message


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=60), st.text(alphabet="x=,0123456789- .\x1b", max_size=40)))
def test_garbage_raises_nothing_but_the_one_error_type(text):
    try:
        name, dims = parse_input_shape(text)
    except InputShapeError as error:
        assert error.message and "\n" not in error.message.replace(text, "")
        return
    assert name and dims and all(1 <= d <= MAX_DIM for d in dims)
    assert text.rpartition("=")[0] == name


scalars = st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=5), st.booleans(),
                    st.none())


@given(st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), st.one_of(st.lists(scalars, max_size=20),
                                                                                 scalars), max_size=4))
def test_garbage_shape_maps_raise_nothing_but_the_one_error_type(shapes):
    try:
        checked = input_shape_map(shapes)
    except InputShapeError:
        return
    assert all(isinstance(d, int) and 1 <= d <= MAX_DIM for dims in checked.values() for d in dims)
