"""torchvision's SSDlite320-MobileNetV3 (TorchScript export, architecture only: tests/fixtures/torch/export.py).

Its transform pads the image with pads computed from the input size; at the fixed 320x320 input they fold, so
the backbone and heads reach the array and the data-dependent tail (TopK, NonZero, If) is host work.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from frontends import array_layers, host_ops, load_onnx
from frontends.host import DYNAMIC

PATH = Path(__file__).resolve().parents[1] / "fixtures" / "torch" / "ssdlite_ts17.onnx"


def test_backbone_and_heads_on_the_array_tail_on_the_host():
    convs = {n.name for n in onnx.load(str(PATH), load_external_data=False).graph.node if n.op_type == "Conv"}
    graph = load_onnx(PATH)
    layers = {graph.nodes[name]["onnx_node"] for name, _ in array_layers(graph)}
    assert len(convs) == 98 and layers == convs
    assert graph.graph["folded"] and graph.graph["missing_weights"]
    tail = {graph.nodes[name]["onnx_op"]: graph.nodes[name]["reason"] for name, _ in host_ops(graph)}
    assert all(tail[op] == DYNAMIC for op in ("TopK", "NonZero", "If"))


def test_cli_compiles_it(tmp_path):
    from mapper.app.cli import main

    assert main(["compile", str(PATH), "--time-limit", "5", "-o", str(tmp_path / "out")]) == 0
