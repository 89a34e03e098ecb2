"""Regenerate the bundled example models with onnx's helper API (deterministic, byte for byte).

    python examples/make_examples.py                        # the six committed files, in examples/
    python examples/make_examples.py --weights DIR [NAME ...]   # DIR/<name>.onnx with real weights

AlexNet is the Eyeriss paper's (227 x 227 input, 96 11 x 11 stride-4 filters,
CONV2/4/5 grouped as in the original two-GPU network: the workload JSSC 2017
measures).  The committed large models are shape-only: weights are graph inputs
with static shapes, which is all the mapper needs.  LeNet-5 carries real weights
(seeded) so the simulator can run on them.

Every example also exists with real float32 weights (initializers), generated on
demand because they are too large to commit (VGG-16 is 552 MB): ``--weights DIR``
on the command line, or ``write_weighted(name, directory)`` from a test or a
benchmark (load this file with importlib: it is not a package).  Each name has a
fixed seed (``SEEDS``), so a weighted file is the same byte for byte on every run;
its graph output is typed [N, classes] (onnx.checker requires it; the committed
files leave it to shape inference).
Their weights are drawn for a healthy 16-bit fixed-point run by
``frontends.seeded.draw`` (He-normal, std sqrt(2 / fan_in), for a Conv or Gemm
followed by ReLU or ReLU6, std sqrt(1 / fan_in) otherwise, biases N(0, 0.05),
BatchNorm scale and var U(0.5, 1.5), bias and mean N(0, 0.1)), the draw of
``eyeriss compile --weights seeded:SEED``: the shape-only example compiled with
``--weights seeded:<its SEEDS entry>`` has exactly the weighted file's weights.  The weighted LeNet-5 has the committed
one's weights (its own draw, seed 5).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from frontends.seeded import draw

HERE = Path(__file__).resolve().parent
OPSET = 17

# The seed of each network's weighted form (lenet5's is the committed file's).
SEEDS = {"alexnet": 227, "vgg16": 16, "resnet18": 18, "resnet50": 50, "mobilenet_v2": 2, "lenet5": 5}
NAMES = tuple(SEEDS)
# The networks committed with their weights (the others are committed shape-only).
COMMITTED_WEIGHTED = frozenset({"lenet5"})
# A model whose initializers exceed this many bytes keeps them in <name>.onnx.data next to it
# (protobuf cannot serialize a message over 2 GiB); none of the examples comes near (VGG-16: 553 MB).
EXTERNAL_DATA_LIMIT = 2**31 - 2**26
_EXTERNAL_MIN_BYTES = 1024  # smaller tensors stay embedded in the external-data form


class Net:
    """A tiny builder: each call adds nodes and returns the output tensor name.

    ``real_weights`` makes parameters initializers drawn from ``seed``; otherwise they are graph inputs.
    ``legacy_init`` is the committed LeNet-5's draw (float64 N(0, 1 / fan_in) weights, N(0, 0.1) biases,
    whatever the activation), kept so that file is reproduced byte for byte.
    """

    def __init__(self, name: str, shape: list, real_weights: bool = False, seed: int = 0,
                 legacy_init: bool = False) -> None:
        self.name, self.nodes, self.inputs, self.inits = name, [], [], []
        self.real, self.legacy, self.rng = real_weights, legacy_init, np.random.default_rng(seed)
        self.inputs.append(helper.make_tensor_value_info("input", TensorProto.FLOAT, shape))
        self.count: dict[str, int] = {}

    def _name(self, op: str) -> str:
        self.count[op] = self.count.get(op, 0) + 1
        return f"{op.lower()}{self.count[op]}"

    def _legacy_value(self, shape: list[int], kind: str) -> np.ndarray:
        if kind == "weight":
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            return self.rng.normal(0, 1 / np.sqrt(fan_in), shape)
        if kind in ("bn_var", "bn_scale"):
            return self.rng.uniform(0.5, 1.5, shape)
        return self.rng.normal(0, 0.1, shape)

    def _value(self, shape: list[int], kind: str, relu: bool) -> np.ndarray:
        """A float32 draw under frontends.seeded's rule, the one ``--weights seeded`` uses."""
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]  # every weight here is [M, ...]
        return draw(self.rng, shape, kind, relu, fan_in)

    def param(self, name: str, shape: list[int], kind: str = "weight", relu: bool = False) -> str:
        """A parameter: ``kind`` is weight, bias or bn_{scale,bias,mean,var}; ``relu`` says a ReLU or ReLU6
        follows the layer (He-normal weights in the weighted examples)."""
        if self.real:
            value = self._legacy_value(shape, kind) if self.legacy else self._value(shape, kind, relu)
            self.inits.append(numpy_helper.from_array(value.astype(np.float32, copy=False), name))
        else:
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def node(self, op: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        name = name or self._name(op)
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x: str, c: int, m: int, k: int, stride: int = 1, pad: int = 0, groups: int = 1,
             bn: bool = False, act: str | None = "relu", dilation: int = 1) -> str:
        name = self._name("Conv")
        w = self.param(f"{name}.weight", [m, c // groups, k, k], relu=act in ("relu", "relu6"))
        inputs = [x, w] if bn else [x, w, self.param(f"{name}.bias", [m], "bias")]
        y = self.node("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                      group=groups, dilations=[dilation, dilation])
        if bn:
            params = [self.param(f"{name}.bn.{p}", [m], f"bn_{p}") for p in ("scale", "bias", "mean", "var")]
            y = self.node("BatchNormalization", [y, *params], f"{name}.bn")
        if act == "relu":
            y = self.node("Relu", [y], f"{name}.relu")
        elif act == "relu6":
            lo, hi = self.const(f"{name}.min", 0.0), self.const(f"{name}.max", 6.0)
            y = self.node("Clip", [y, lo, hi], f"{name}.clip")
        return y

    def const(self, name: str, value: float) -> str:
        self.inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    def gemm(self, x: str, c: int, m: int, relu: bool = True) -> str:
        name = self._name("Gemm")
        w, b = self.param(f"{name}.weight", [m, c], relu=relu), self.param(f"{name}.bias", [m], "bias")
        y = self.node("Gemm", [x, w, b], name, transB=1)
        return self.node("Relu", [y], f"{name}.relu") if relu else y

    def maxpool(self, x: str, k: int, s: int, pad: int = 0, ceil: int = 0) -> str:
        return self.node("MaxPool", [x], kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4, ceil_mode=ceil)

    def model(self, output: str, output_shape: list | None = None) -> onnx.ModelProto:
        out_info = helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)
        graph = helper.make_graph(self.nodes, self.name, self.inputs, [out_info])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="eyeriss-compiler examples")
        model.ir_version = 8
        # Added after make_model, which copies its graph: the initializers (552 MB for VGG-16) are copied once.
        model.graph.initializer.extend(self.inits)
        return model


def _alexnet(n: Net) -> str:
    x = n.conv("input", 3, 96, 11, stride=4)
    x = n.node("LRN", [x], size=5, alpha=1e-4, beta=0.75, bias=2.0)
    x = n.maxpool(x, 3, 2)
    x = n.conv(x, 96, 256, 5, pad=2, groups=2)
    x = n.node("LRN", [x], size=5, alpha=1e-4, beta=0.75, bias=2.0)
    x = n.maxpool(x, 3, 2)
    x = n.conv(x, 256, 384, 3, pad=1)
    x = n.conv(x, 384, 384, 3, pad=1, groups=2)
    x = n.conv(x, 384, 256, 3, pad=1, groups=2)
    x = n.maxpool(x, 3, 2)
    x = n.node("Flatten", [x], axis=1)
    x = n.gemm(x, 9216, 4096)
    x = n.gemm(x, 4096, 4096)
    x = n.gemm(x, 4096, 1000, relu=False)
    return n.node("Softmax", [x], axis=1)


def _vgg16(n: Net) -> str:
    x, c = "input", 3
    for block in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for m in block:
            x, c = n.conv(x, c, m, 3, pad=1), m
        x = n.maxpool(x, 2, 2)
    x = n.node("Flatten", [x], axis=1)
    x = n.gemm(x, 25088, 4096)
    x = n.gemm(x, 4096, 4096)
    return n.gemm(x, 4096, 1000, relu=False)


def _resnet(blocks: tuple[int, ...], bottleneck: bool) -> Callable[[Net], str]:
    def body(n: Net) -> str:
        x = n.conv("input", 3, 64, 7, stride=2, pad=3, bn=True)
        x = n.maxpool(x, 3, 2, pad=1)
        c = 64
        for stage, count in enumerate(blocks):
            width = 64 * 2**stage
            out = width * 4 if bottleneck else width
            for i in range(count):
                stride = 2 if i == 0 and stage > 0 else 1
                if bottleneck:
                    y = n.conv(x, c, width, 1, bn=True)
                    y = n.conv(y, width, width, 3, stride=stride, pad=1, bn=True)
                    y = n.conv(y, width, out, 1, bn=True, act=None)
                else:
                    y = n.conv(x, c, width, 3, stride=stride, pad=1, bn=True)
                    y = n.conv(y, width, width, 3, pad=1, bn=True, act=None)
                shortcut = n.conv(x, c, out, 1, stride=stride, bn=True, act=None) if stride != 1 or c != out else x
                x = n.node("Relu", [n.node("Add", [y, shortcut])])
                c = out
        x = n.node("GlobalAveragePool", [x])
        x = n.node("Flatten", [x], axis=1)
        return n.gemm(x, c, 1000, relu=False)
    return body


def _mobilenet_v2(n: Net) -> str:
    x = n.conv("input", 3, 32, 3, stride=2, pad=1, bn=True, act="relu6")
    c = 32
    for t, out, count, stride in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                                  (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(count):
            s = stride if i == 0 else 1
            hidden = c * t
            y = n.conv(x, c, hidden, 1, bn=True, act="relu6") if t != 1 else x
            y = n.conv(y, hidden, hidden, 3, stride=s, pad=1, groups=hidden, bn=True, act="relu6")
            y = n.conv(y, hidden, out, 1, bn=True, act=None)
            x = n.node("Add", [x, y]) if s == 1 and c == out else y
            c = out
    x = n.conv(x, c, 1280, 1, bn=True, act="relu6")
    x = n.node("GlobalAveragePool", [x])
    x = n.node("Flatten", [x], axis=1)
    return n.gemm(x, 1280, 1000, relu=False)


def _lenet5(n: Net) -> str:
    x = n.conv("input", 1, 6, 5)
    x = n.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.conv(x, 6, 16, 5)
    x = n.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.node("Flatten", [x], axis=1)
    x = n.gemm(x, 400, 120)
    x = n.gemm(x, 120, 84)
    return n.gemm(x, 84, 10, relu=False)


# name -> (input shape, body, classes); the batch dimension "N" stays symbolic in every form.
_NETWORKS: dict[str, tuple[list, Callable[[Net], str], int]] = {
    "alexnet": (["N", 3, 227, 227], _alexnet, 1000),
    "vgg16": (["N", 3, 224, 224], _vgg16, 1000),
    "resnet18": (["N", 3, 224, 224], _resnet((2, 2, 2, 2), False), 1000),
    "resnet50": (["N", 3, 224, 224], _resnet((3, 4, 6, 3), True), 1000),
    "mobilenet_v2": (["N", 3, 224, 224], _mobilenet_v2, 1000),
    "lenet5": (["N", 1, 32, 32], _lenet5, 10),
}


def build(name: str, weights: bool, typed_output: bool | None = None) -> onnx.ModelProto:
    """One example: ``weights`` gives it real seeded float32 initializers, otherwise its parameters are
    shape-only graph inputs.

    ``typed_output`` (default: ``weights``) declares the graph output's shape, [N, classes], as
    onnx.checker requires; the committed files leave it out (the frontend infers it), so
    ``build(name, False)`` is the committed shape-only model and ``build("lenet5", True, typed_output=False)``
    the committed LeNet-5.  The two forms differ in nothing else (same weights for LeNet-5).
    """
    if name not in _NETWORKS:
        raise ValueError(f"unknown example {name!r} (choose from {', '.join(NAMES)})")
    shape, body, classes = _NETWORKS[name]
    n = Net(name, shape, real_weights=weights, seed=SEEDS[name], legacy_init=name == "lenet5")
    typed = weights if typed_output is None else typed_output
    return n.model(body(n), [shape[0], classes] if typed else None)


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)  # mkstemp's file is 0600: give it an ordinary file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Write ``model`` to ``path`` deterministically (temp file + rename).  Initializers over
    ``EXTERNAL_DATA_LIMIT`` bytes in all go to ``<path>.data`` (ONNX external data) instead."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inits = model.graph.initializer
    if sum(len(t.raw_data) for t in inits) > EXTERNAL_DATA_LIMIT:
        location = f"{path.name}.data"
        blobs, offset = [], 0
        for tensor in inits:
            if tensor.HasField("raw_data") and len(tensor.raw_data) >= _EXTERNAL_MIN_BYTES:
                pad = -offset % 4096  # page-aligned, so a reader may mmap each tensor
                blobs.append(b"\0" * pad)
                offset += pad
                blobs.append(tensor.raw_data)
                set_external_data(tensor, location, offset=offset, length=len(tensor.raw_data))
                tensor.data_location = TensorProto.EXTERNAL
                offset += len(tensor.raw_data)
                tensor.ClearField("raw_data")
        _write_atomic(path.parent / location, b"".join(blobs))
    _write_atomic(path, model.SerializeToString(deterministic=True))
    return path


def write_examples(directory: Path = HERE) -> list[Path]:
    """The committed examples (shape-only, LeNet-5 weighted), written into ``directory``."""
    return [save(build(name, name in COMMITTED_WEIGHTED, typed_output=False), Path(directory) / f"{name}.onnx")
            for name in NAMES]


def write_weighted(name: str, directory: Path) -> Path:
    """``directory/<name>.onnx`` with real seeded float32 weights (the same bytes on every call), its output
    typed [N, classes] so onnx.checker accepts it."""
    return save(build(name, True), Path(directory) / f"{name}.onnx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", metavar="DIR", type=Path,
                        help="write DIR/<name>.onnx with real seeded weights instead of the committed examples")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"with --weights: the networks to write (default: all of {', '.join(NAMES)})")
    args = parser.parse_args(argv)
    if args.names and args.weights is None:
        parser.error("NAME ... needs --weights DIR")
    unknown = [name for name in args.names if name not in SEEDS]
    if unknown:
        parser.error(f"unknown example(s) {', '.join(unknown)} (choose from {', '.join(NAMES)})")
    if args.weights is None:
        for path in write_examples(HERE):
            print(f"{path.name}: {path.stat().st_size} bytes")
        return 0
    for name in args.names or NAMES:
        start = time.perf_counter()
        path = write_weighted(name, args.weights)
        print(f"{path}: {path.stat().st_size} bytes in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
