"""The host's share of a program: every ONNX node no array layer stands for, run one node at a time.

The host rule (docs/run.md): a host node's float inputs are the real values of
their 16-bit words (``mapper.chip.fixedpoint.dequantize``, exact in float32);
the node runs in float32 in onnxruntime (CPU, one thread: deterministic sums),
the reference implementation of every ONNX operator, rather than a hand-written
copy of pooling, LRN, softmax and their attribute rules; each float output is
then stored as words in its own format.  Integer and boolean tensors (shapes,
indices) pass unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper

from cost_models.errors import InputError, foreign_message


class HostRunner:
    """Runs the nodes of a host model (frontends.execution.host_model) on numpy arrays."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.nodes = list(model.graph.node)
        self.constants = {tensor.name: tensor for tensor in model.graph.initializer}
        self._sessions: dict[tuple, Any] = {}

    def _session(self, index: int, feeds: dict[str, np.ndarray]):
        key = (index, tuple((name, value.dtype.str, value.shape) for name, value in feeds.items()))
        if key not in self._sessions:
            import onnxruntime as ort  # loaded only when a program runs

            node = self.nodes[index]
            inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                                    list(value.shape)) for name, value in feeds.items()]
            outputs = [onnx.ValueInfoProto(name=name) for name in node.output if name]
            constants = [self.constants[name] for name in dict.fromkeys(node.input) if name in self.constants]
            graph = helper.make_graph([node], f"host_{index}", inputs, outputs, constants)
            model = helper.make_model(graph, opset_imports=list(self.model.opset_import))
            model.ir_version = self.model.ir_version
            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            try:
                self._sessions[key] = ort.InferenceSession(model.SerializeToString(), options,
                                                           providers=["CPUExecutionProvider"])
            except Exception as error:  # onnxruntime raises its own exception types
                raise InputError(f"host node '{node.name}' ({node.op_type}) cannot run: "
                                 f"{foreign_message(error)}") from None
        return self._sessions[key]

    def run(self, index: int, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Node ``index`` on its inputs (taken from ``values``, constants from the model): its outputs by name."""
        node = self.nodes[index]
        feeds = {name: values[name] for name in dict.fromkeys(node.input) if name and name not in self.constants}
        session = self._session(index, feeds)
        names = [output.name for output in session.get_outputs()]
        try:
            results = session.run(names, feeds)
        except Exception as error:  # onnxruntime raises its own exception types
            raise InputError(f"host node '{node.name}' ({node.op_type}) failed: "
                             f"{foreign_message(error)}") from None
        return dict(zip(names, (np.asarray(r) for r in results)))
