"""Every bundled example, with real (seeded) weights, runs bit-exact on the simulated chip (issue 26).

The chip backend drives the functional simulator from each decoded bitstream; the numpy backend is a plain
integer convolution with the same formats, write-back and host rule.  Every array layer's ofmap and the
network's outputs must agree bit for bit, and each layer must see non-trivial data (a test that compared
two all-zero tensors would prove nothing).  The shape-only examples run on their ``--weights seeded:SEED``
draw, the weighted example files' very weights (tests/mapper/app/test_seeded_weights.py), without writing
VGG-16's 553 MB of them to disk first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mapper import compile_model
from mapper.app import quantize
from mapper.app.execute import execute
from mapper.app.program import ArrayStep
from mapper.app.run import load_program

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def _make_examples():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _model(name: str) -> tuple[Path, str]:
    """The example and the weights it runs on: its own (the trained digits network, LeNet-5's), else seeded."""
    if name == "digits":
        return EXAMPLES / "digits" / "digits_cnn.onnx", "model"
    if name == "lenet5":
        return EXAMPLES / "lenet5.onnx", "model"
    return EXAMPLES / f"{name}.onnx", f"seeded:{_make_examples().SEEDS[name]}"


@pytest.mark.parametrize("name", ["lenet5", "digits", "alexnet", "resnet18", "mobilenet_v2", "resnet50", "vgg16"])
def test_every_bundled_example_runs_bit_exact_on_the_chip(name, tmp_path, monkeypatch):
    # One calibration sample, not the default four: which formats are chosen does not matter here, only that
    # the chip computes what they say (VGG-16's calibration convolutions are 15 G multiply-accumulates a sample).
    monkeypatch.setattr(quantize, "DEFAULT_SAMPLES", 1)
    out = tmp_path / "out"
    model, weights = _model(name)
    compile_model(model, cache=False, compare_spaces=False, weights=weights).save(out)
    data = load_program(out)
    program = data.program
    steps = [step for step in program.steps if isinstance(step, ArrayStep)]
    inputs = {spec.name: np.random.default_rng(7).uniform(0.0, 1.0, spec.shape)
              .astype(np.float32) for spec in program.inputs}
    keep = {step.output for step in steps}
    chip = execute(data, inputs, backend="chip", keep=keep)
    plain = execute(data, inputs, backend="numpy", keep=keep)
    assert len(steps) == len(data.configs) > 0
    for step in steps:
        words = chip.values[step.output]
        assert np.array_equal(words, plain.values[step.output]), step.name
        assert np.count_nonzero(words) > 0, f"{step.name}: an all-zero ofmap proves nothing"
    for spec in program.outputs:
        assert np.array_equal(chip.values[spec.name], plain.values[spec.name]), spec.name
        assert np.unique(chip.values[spec.name]).size > 1
