"""Running a program on one batch: array layers on the simulated chip (or plain integer numpy), host nodes on the host.

Two backends compute an array layer's int64 accumulator: ``chip`` drives the
functional simulator (``mapper.chip.simulator``) from the layer's *decoded*
bitstream, so the IDs it reads back steer every value; ``numpy`` is a plain
integer convolution (``simulator.reference``).  Everything else, the write-back
rule and the host rule, is the same code for both, so the two must agree bit
for bit (tests/mapper/app/test_run.py holds them to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cost_models.errors import InputError
from cost_models.hardware import Hardware
from mapper.app.host import HostRunner
from mapper.app.program import ArrayStep, HostStep, Program
from mapper.chip.bitstream import Config
from mapper.chip.fixedpoint import dequantize, quantize, write_back
from mapper.chip.simulator import reference, simulate

BACKENDS = ("chip", "numpy")


@dataclass
class ProgramData:
    """A program with everything it runs on: weights, biases, decoded configurations, the host's nodes."""

    program: Program
    hardware: Hardware
    weights: dict[str, np.ndarray]  # layer -> int16 [M, C/g, R, S]
    biases: dict[str, np.ndarray]  # layer -> int64 [M], accumulator format
    configs: dict[str, Config]  # layer -> its decoded bitstream (the chip backend's only source of the mapping)
    host: HostRunner


@dataclass
class Execution:
    """One batch's outcome: the tensors asked for (words, or integers for non-float tensors), saturations per step."""

    values: dict[str, np.ndarray]
    saturations: dict[str, int] = field(default_factory=dict)


def accumulate(step: ArrayStep, weights: np.ndarray, words: np.ndarray, config: Config | None = None,
               hw: Hardware | None = None) -> np.ndarray:
    """The layer's int64 accumulator [N, M, E, F] from its ifmap words (any layout of N*C*H*W values):
    on the simulated array configured by ``config`` (decoded from the bitstream), else by plain numpy
    (which also takes several batches' words at once: [k * N, M, E, F])."""
    layer = step.layer
    if config is None:
        return reference(layer, weights, words.reshape(-1, layer.C, layer.H, layer.W))
    ifmap = words.reshape(layer.N, layer.C, layer.H, layer.W)
    assert hw is not None
    result = simulate(config, hw, weights, ifmap)
    if result.faults:
        raise InputError(f"the configured array faulted on layer '{step.name}': {'; '.join(result.faults[:3])}")
    return result.accumulator


def _last_uses(program: Program, keep: set[str]) -> dict[str, int]:
    last: dict[str, int] = {}
    for position, step in enumerate(program.steps):
        for name in (step.input,) if isinstance(step, ArrayStep) else step.inputs:
            last[name] = position
    for name in keep:
        last[name] = len(program.steps)
    return last


def host_feeds(step: HostStep, program: Program, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A host node's inputs as real values: float tensors' words dequantized, others as they are."""
    feeds = {}
    for name in step.inputs:
        if name and name in values:
            feeds[name] = dequantize(values[name], program.formats[name]) if name in program.formats else values[name]
    return feeds


def execute(data: ProgramData, inputs: dict[str, np.ndarray], backend: str = "chip",
            keep: set[str] | None = None, observe: Callable[[ArrayStep | HostStep], None] | None = None) -> Execution:
    """Run the program on one batch of float ``inputs``; tensors in ``keep`` (and the outputs) are returned.
    ``observe(step)`` is called after each step (benchmarks time and measure them)."""
    program = data.program
    keep = set(keep or ()) | {spec.name for spec in program.outputs}
    last = _last_uses(program, keep)
    values: dict[str, np.ndarray] = {}
    out = Execution(values)
    for spec in program.inputs:
        values[spec.name], out.saturations[spec.name] = quantize(inputs[spec.name], program.formats[spec.name])
    for position, step in enumerate(program.steps):
        if isinstance(step, ArrayStep):
            config = data.configs[step.name] if backend == "chip" else None
            acc = accumulate(step, data.weights[step.name], values[step.input], config, data.hardware)
            words, saturated = write_back(acc, data.biases[step.name], step.formats.shift, step.relu, step.upper)
            values[step.output] = words.reshape(step.output_shape)
            out.saturations[step.name] = saturated
        else:
            results = data.host.run(step.node, host_feeds(step, program, values))
            for name, value in results.items():
                if name in program.formats:
                    values[name], saturated = quantize(value, program.formats[name])
                    out.saturations[step.name] = out.saturations.get(step.name, 0) + saturated
                else:
                    values[name] = value
        for name in [n for n in values if last.get(n, -1) <= position and n not in keep]:
            del values[name]
        if observe is not None:
            observe(step)
    return out
