"""Small ONNX models for the frontend tests, built with onnx.helper."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper


def model_of(nodes: list[onnx.NodeProto], name: str, inputs: list[onnx.ValueInfoProto],
             inits: list[onnx.TensorProto], weights_as_inputs: bool = False, opset: int = 17) -> onnx.ModelProto:
    """One graph with output ``y``; ``weights_as_inputs``: the initializers become graph inputs (as torch.onnx
    exports with ``export_params=False``), so the model holds no weights."""
    if weights_as_inputs:
        inputs = inputs + [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
        inits = []
    graph = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
