"""Files written by PyTorch's two exporters (TorchScript opset 17, dynamo opset 18), against torch's own MAC counts.

The fixtures and manifest.json come from tests/fixtures/torch/export.py (torch 2.13): the MACs there were
counted by forward hooks on a real torch forward pass, so they are independent of our frontend.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from frontends import array_layers, host_ops, load_onnx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
CASES = [(name, exporter) for name in MANIFEST for exporter in ("ts17", "dynamo18")]


@pytest.mark.parametrize("name,exporter", CASES)
def test_array_layers_match_torch(name, exporter):
    graph = load_onnx(FIXTURES / f"{name}_{exporter}.onnx", batch=MANIFEST[name]["input"][0])
    per_node: dict[str, int] = {}  # a ConvTranspose's phases add up to its one torch module
    for layer_name, layer in array_layers(graph):
        node = graph.nodes[layer_name]["onnx_node"]
        per_node[node] = per_node.get(node, 0) + layer.macs()
    assert sorted(per_node.values()) == sorted(MANIFEST[name]["macs"])
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
def test_cnn_families_lower_as_the_chip_runs_them(exporter):
    # MobileNetV2: ReLU6 is exported as Clip(0, 6) and rides on the output path; depthwise layers stay depthwise.
    mv2 = load_onnx(FIXTURES / f"mobilenet_v2_{exporter}.onnx")
    assert not [op for _, op in host_ops(mv2) if op in ("Clip", "Relu", "BatchNormalization")]
    assert sum(layer.kind == "depthwise" for _, layer in array_layers(mv2)) == 4
    # GoogLeNet: four-branch Inception blocks joined by Concat; ceil-mode pooling sets the next layer's size.
    goog = load_onnx(FIXTURES / f"googlenet_{exporter}.onnx")
    assert [op for _, op in host_ops(goog)].count("Concat") == 3
    first_inception = [layer for _, layer in array_layers(goog)][3]
    assert (first_inception.H, first_inception.W) == (8, 8)  # 64 -> conv /2 -> 32 -> pool -> 16 -> pool, ceil -> 8
    # EfficientNet: SiLU (Sigmoid * x) and the squeeze-excite gate are host work; a 5x5 depthwise layer is mapped.
    eff = load_onnx(FIXTURES / f"efficientnet_{exporter}.onnx")
    assert {"Sigmoid", "Mul"} <= {op for _, op in host_ops(eff)}
    assert any(layer.kind == "depthwise" and layer.R == 5 for _, layer in array_layers(eff))
    # VGG: 3x3 stacks and a three-layer FC head; Dropout leaves nothing behind at inference.
    vgg = [layer for _, layer in array_layers(load_onnx(FIXTURES / f"vgg_{exporter}.onnx"))]
    assert [layer.R for layer in vgg] == [3] * 7 + [1] * 3 and vgg[7].C == 128 * 4 * 4


@pytest.mark.parametrize("exporter", ["ts17", "dynamo18"])
def test_quantization_aware_export_is_mapped_with_its_int8_weights(exporter):
    # QDQ (fake-quantized activations, per-channel int8 weights): every conv and linear is an array layer,
    # the Q/DQ pairs are fused into them, none is left as host work.
    graph = load_onnx(FIXTURES / f"qdq_{exporter}.onnx")
    assert len(array_layers(graph)) == 4
    assert not [op for _, op in host_ops(graph) if "Quantize" in op]
    fused = [op for _, data in graph.nodes(data=True) for _, op in data["fused"]]
    assert fused.count("QuantizeLinear") == fused.count("DequantizeLinear") == 8
    # The simulator's weights are the model's dequantized int8 weights: on each channel's grid of
    # max|w| / 127 (the export's calibration), within half a step of the float weights they came from.
    import onnx
    from onnx import numpy_helper

    from frontends import load_layer_weights

    first = array_layers(graph)[0][0]
    weights = load_layer_weights(graph, first)
    floats = next(numpy_helper.to_array(t) for t in onnx.load(str(FIXTURES / f"qdq_{exporter}.onnx")).graph.initializer
                  if t.name == "0.weight").astype(float)
    step = np.abs(floats).max(axis=(1, 2, 3), keepdims=True) / 127
    assert weights.shape == floats.shape == (16, 3, 3, 3)
    assert np.allclose(weights / step, np.round(weights / step), atol=1e-3)
    assert np.all(np.abs(weights - floats) <= step / 2 + 1e-6) and not np.array_equal(weights, floats)


@pytest.mark.parametrize("exporter", ["ts17", "dynamo18"])
def test_torch_exports_compile(exporter):
    from mapper import compile_model

    for name in ("resnet", "mobilenet_v3", "efficientnet", "googlenet", "qdq"):
        result = compile_model(FIXTURES / f"{name}_{exporter}.onnx", batch=2, time_limit=20, compare_spaces=False)
        assert not result.unmapped, [(e.name, e.result.reason) for e in result.unmapped]
        assert result.totals.macs == sum(MANIFEST[name]["macs"])
    # The ViT's 8x8 stride-8 patch embedding (beyond the chip's strides 1, 2, 4 as a convolution) is a matrix
    # product over the disjoint patches: every layer maps, at torch's own MAC count.
    vit = compile_model(FIXTURES / f"vit_{exporter}.onnx", batch=2, time_limit=20, compare_spaces=False)
    assert not vit.unmapped, [(e.name, e.result.reason) for e in vit.unmapped]
    assert vit.totals.macs == sum(MANIFEST["vit"]["macs"])
    patch = vit.layers[0]
    assert (patch.layer.kind, patch.layer.stride, patch.layer.R, patch.layer.N) == ("fc", (1, 1), 1, 2 * 4 * 4)


@pytest.mark.parametrize("exporter", ["ts17", "dynamo18"])
def test_transposed_convolutions_map_at_torchs_count_and_simulate_bit_exact(exporter, capsys):
    from mapper import compile_model
    from mapper.app.cli import main

    path = FIXTURES / f"decoder_{exporter}.onnx"
    graph = load_onnx(path, batch=2)
    phases = [name for name, _ in array_layers(graph) if graph.nodes[name]["onnx_op"] == "ConvTranspose"]
    # 4x4/2 and 3x3/2: 4 phases each; the dilated stride-1 one: 1; the 1x1 stride-2 one: 1 (3 phases empty).
    assert len(phases) == 4 + 4 + 1 + 1 and all(graph.nodes[n]["layer"].stride == (1, 1) for n in phases)
    result = compile_model(path, batch=2, time_limit=20, compare_spaces=False)
    assert not result.unmapped and result.totals.macs == sum(MANIFEST["decoder"]["macs"])
    assert main(["simulate", str(path), "--batch", "2", "--time-limit", "5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["layers"]
    assert len(rows) == 11 and all(row["matched"] for row in rows)
    assert [row["recombined"] for row in rows if "recombined" in row] == [True] * 10


def test_vit_16x16_patch_embedding_maps_as_a_matrix_product():
    from mapper import compile_model

    for exporter in ("ts17", "dynamo18"):
        vit = compile_model(FIXTURES / f"vit16_{exporter}.onnx", batch=2, time_limit=20, compare_spaces=False)
        assert not vit.unmapped and vit.totals.macs == sum(MANIFEST["vit16"]["macs"])
        assert (vit.layers[0].layer.kind, vit.layers[0].layer.C, vit.layers[0].part) == ("fc", 3 * 16 * 16,
                                                                                        "16x16 patches")
