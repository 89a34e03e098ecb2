"""Files written by PyTorch's two exporters (TorchScript opset 17, dynamo opset 18), against torch's own MAC counts.

The fixtures and manifest.json come from tests/fixtures/torch/export.py (torch 2.13): the MACs there were
counted by forward hooks on a real torch forward pass, so they are independent of our frontend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from frontends import array_layers, host_ops, load_onnx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
CASES = [(name, exporter) for name in MANIFEST for exporter in ("ts17", "dynamo18")]


@pytest.mark.parametrize("name,exporter", CASES)
def test_array_layers_match_torch(name, exporter):
    graph = load_onnx(FIXTURES / f"{name}_{exporter}.onnx", batch=MANIFEST[name]["input"][0])
    macs = [layer.macs() for _, layer in array_layers(graph)]
    assert sorted(macs) == sorted(MANIFEST[name]["macs"])
    assert graph.graph["opset"] == int(exporter[-2:])


def test_exporter_specific_structure_is_understood():
    # TorchScript: dynamic batch through Shape -> Gather -> Concat -> Reshape, folded at compile time.
    ts = load_onnx(FIXTURES / "vit_ts17.onnx", batch=3)
    assert ts.graph["folded"] and all(layer.N % 3 == 0 or layer.groups % 3 == 0 for _, layer in array_layers(ts))
    # Depthwise and grouped convolutions keep their groups; BN after conv is folded, BN before ReLU-conv is not.
    mobile = dict(array_layers(load_onnx(FIXTURES / "mobilenet_v3_dynamo18.onnx")))
    assert any(layer.kind == "depthwise" for layer in mobile.values())
    regnet = [layer.groups for _, layer in array_layers(load_onnx(FIXTURES / "regnet_ts17.onnx"))]
    assert 8 in regnet and 4 in regnet
    dense = load_onnx(FIXTURES / "densenet_dynamo18.onnx")
    assert any(op == "BatchNormalization" for _, op in host_ops(dense))
    one_d = [layer for _, layer in array_layers(load_onnx(FIXTURES / "conv1d_ts17.onnx"))]
    assert one_d[0].H == 1 and one_d[0].R == 1 and one_d[2].dilation == (1, 2)


@pytest.mark.parametrize("exporter", ["ts17", "dynamo18"])
def test_torch_exports_compile(exporter):
    from mapper import compile_model

    for name in ("resnet", "mobilenet_v3"):
        result = compile_model(FIXTURES / f"{name}_{exporter}.onnx", batch=2, time_limit=20)
        assert not result.unmapped, [(e.name, e.result.reason) for e in result.unmapped]
        assert result.totals["macs"] == sum(MANIFEST[name]["macs"])
    # The ViT's 8x8 stride-8 patch embedding is beyond the chip's strides (1, 2, 4): reported, the rest compiles.
    vit = compile_model(FIXTURES / f"vit_{exporter}.onnx", batch=2, time_limit=20)
    assert [e.layer.stride for e in vit.unmapped] == [(8, 8)]
    assert "vertical stride 8" in vit.unmapped[0].result.reason
    assert vit.totals["macs"] == sum(MANIFEST["vit"]["macs"]) - vit.unmapped[0].layer.macs()
