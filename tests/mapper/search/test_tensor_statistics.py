"""One tensor, one figure: a layer's ofmap statistics and its readers' ifmap statistics agree (issue 31).

The zeros and RLC size of a tensor come from one place (frontends.zeros for the rule, mapper.search.network's
``layer_statistics`` for figures), whether they come from a ReLU, a quantized ReLU, a default, a measurement or
``--zero-fraction``; over the corpus-style exports (torch's two exporters, a QOperator int8 model, the bundled
examples) every directly connected producer and consumer must show the same figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_models.errors import InputError
from frontends import load_onnx
from frontends.zeros import layer_tensors
from mapper.search.network import layer_statistics

ROOT = Path(__file__).resolve().parents[3]
TORCH = ROOT / "tests" / "fixtures" / "torch"
EXPORTS = sorted(TORCH.glob("*.onnx")) + sorted((ROOT / "examples").glob("*.onnx"))


@pytest.fixture(scope="module")
def graphs() -> dict[str, object]:
    return {path.name: load_onnx(path, batch=2 if path.name.startswith("decoder") else None) for path in EXPORTS}


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("qop", ROOT / "tests" / "fixtures" / "qoperator" / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    out = tmp_path_factory.mktemp("qop") / "mobilenet_v2_int8_qop.onnx"
    make.quantize(ROOT / "examples" / "mobilenet_v2.onnx", out)
    return out


def _pairs(graph) -> list[tuple[str, str]]:
    """(producer, consumer) array layers where the consumer reads the producer's ofmap tensor itself."""
    tensors = layer_tensors(graph)
    writers = {t.ofmap: name for name, t in tensors.items()}
    return [(writers[t.ifmap], name) for name, t in tensors.items() if t.ifmap in writers]


def _agree(graph, stats) -> None:
    pairs = _pairs(graph)
    for producer, consumer in pairs:
        assert stats[producer].ofmap == stats[consumer].ifmap, (graph.graph["name"], producer, consumer)


def test_every_producer_and_consumer_agree_on_the_corpus(graphs):
    connected = 0
    for graph in graphs.values():
        _agree(graph, layer_statistics(graph))
        connected += len(_pairs(graph))
    assert connected > 200  # the check ran on real chains, not on a corpus of isolated layers


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_given_figure_reaches_both_ends_of_its_tensor(graphs, data):
    name = data.draw(st.sampled_from(sorted(graphs)))
    graph = graphs[name]
    layers = sorted(layer_tensors(graph))
    chosen = data.draw(st.sampled_from(layers))
    figure = data.draw(st.floats(0.0, 0.99))
    role = data.draw(st.sampled_from(["ifmap", "ofmap"]))
    given = {chosen: (figure, None) if role == "ifmap" else (None, figure)}
    try:
        stats = layer_statistics(graph, 0.4, given=given)
    except InputError as error:  # the layer's ifmap and ofmap are one tensor only in a degenerate export
        assert "two figures" in str(error)
        return
    _agree(graph, stats)
    assert getattr(stats[chosen], role).zero_fraction == figure and getattr(stats[chosen], role).source == "given"


def test_two_figures_for_one_tensor_are_refused_naming_it(graphs):
    graph = graphs["resnet18.onnx"]
    producer, consumer = _pairs(graph)[0]
    with pytest.raises(InputError, match="two figures"):
        layer_statistics(graph, given={producer: (0.0, 0.2), consumer: (0.3, None)})
    agreed = layer_statistics(graph, given={producer: (0.0, 0.2), consumer: (0.2, None)})
    assert agreed[producer].ofmap.zero_fraction == agreed[consumer].ifmap.zero_fraction == 0.2


def test_only_a_relu_output_or_what_keeps_its_values_has_relu_zeros(graphs):
    resnet = layer_statistics(graphs["resnet18.onnx"])
    # after the residual ReLU: zeros; the classifier reads a global average: none; the stem reads the input
    assert resnet["conv4"].ifmap.zero_fraction == 0.5 and resnet["conv4"].ifmap.basis == "zeros of a ReLU output"
    assert resnet["gemm1"].ifmap.zero_fraction == 0.0 and "GlobalAveragePool" in resnet["gemm1"].ifmap.basis
    assert resnet["conv1"].ifmap.zero_fraction == 0.0 and not resnet["conv1"].ifmap_coded
    mobilenet = layer_statistics(graphs["mobilenet_v2.onnx"])
    assert mobilenet["conv3"].ofmap.zero_fraction == 0.0  # the linear bottleneck: no ReLU
    assert mobilenet["conv4"].ifmap.zero_fraction == 0.0
    alexnet = layer_statistics(graphs["alexnet.onnx"])  # LRN and MaxPool keep the ReLU's zeros
    assert alexnet["conv2"].ifmap.zero_fraction == 0.5


def test_the_int8_qoperator_network_costs_what_the_float_one_costs(graphs, quantized):
    """The chip computes 16-bit words either way: the same zeros, the same DRAM sizes, the same mappings."""
    from cost_models.hardware import default_hardware
    from mapper.search.network import map_network

    float_graph, int8_graph = graphs["mobilenet_v2.onnx"], load_onnx(quantized)
    float_stats, int8_stats = layer_statistics(float_graph), layer_statistics(int8_graph)
    assert [s.ratios() for s in float_stats.values()] == [s.ratios() for s in int8_stats.values()]
    _agree(int8_graph, int8_stats)
    hw = default_hardware()
    energy = [sum(e.result.cost.energy_total_units for e in map_network(g, hw, "energy", cache=None).layers)
              for g in (float_graph, int8_graph)]
    assert energy[0] == energy[1]
