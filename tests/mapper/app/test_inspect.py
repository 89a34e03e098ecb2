"""``eyeriss inspect``: per array layer the ONNX op and the nodes fused into it; per host op why it is host work."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mapper.app.cli import main

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "torch"


def _deconv_model(path: Path) -> None:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["u"], name="up", strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["u", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Softmax", ["p"], ["y"], name="softmax")]
    inits = [numpy_helper.from_array(rng.normal(size=(4, 2, 4, 4)).astype(np.float32), "w")]
    inits += [numpy_helper.from_array(np.ones(2, np.float32), n) for n in ("s", "b", "m", "v")]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_inspect_json_names_onnx_op_fused_nodes_parts_and_host_reasons(tmp_path, capsys):
    _deconv_model(tmp_path / "m.onnx")
    assert main(["inspect", str(tmp_path / "m.onnx"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    layers = data["layers"]
    assert [layer["name"] for layer in layers] == [f"up/phase{i}{j}" for i in (0, 1) for j in (0, 1)]
    assert {layer["onnx_node"] for layer in layers} == {"up"} and {layer["onnx_op"] for layer in layers} == {
        "ConvTranspose"}
    assert [layer["part"] for layer in layers] == ["phase 0,0 of 4", "phase 0,1 of 4", "phase 1,0 of 4",
                                                   "phase 1,1 of 4"]
    assert layers[0]["fused_nodes"] == [{"name": "bn", "op": "BatchNormalization"}, {"name": "relu", "op": "Relu"}]
    assert data["totals"]["macs"] == 4 * 2 * 16 * 8 * 8  # C * M * K*K * H*W
    reasons = {host["name"]: host["reason"] for host in data["host_ops"]}
    assert reasons["pool"].startswith("pooling") and reasons["softmax"].startswith("normalisation")


def test_inspect_table_fits_80_columns_and_groups_host_ops_by_reason(tmp_path, capsys):
    _deconv_model(tmp_path / "m.onnx")
    assert main(["inspect", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "convT+br" in out and "pooling: no weights to multiply" in out and "MaxPool x1" in out
    for model in ("mobilenet_v3_ts17", "vit_dynamo18", "googlenet_ts17"):
        assert main(["inspect", str(FIXTURES / f"{model}.onnx")]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert max(len(line) for line in lines) <= 80, model
        assert any(re.search(r"conv>fc\s+\d", line) for line in lines) == (model == "vit_dynamo18")
