"""Regenerate the bundled example models with onnx's helper API (deterministic, byte for byte).

    python examples/make_examples.py

AlexNet is the Eyeriss paper's (227 x 227 input, 96 11 x 11 stride-4 filters,
CONV2/4/5 grouped as in the original two-GPU network: the workload JSSC 2017
measures).  Large models are shape-only: weights are graph inputs with static
shapes, which is all the mapper needs.  LeNet-5 carries real weights (seeded)
so the simulator can run on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
OPSET = 17


class Net:
    """A tiny builder: each call adds nodes and returns the output tensor name."""

    def __init__(self, name: str, shape: list, real_weights: bool = False, seed: int = 0) -> None:
        self.name, self.nodes, self.inputs, self.inits = name, [], [], []
        self.real, self.rng = real_weights, np.random.default_rng(seed)
        self.inputs.append(helper.make_tensor_value_info("input", TensorProto.FLOAT, shape))
        self.count: dict[str, int] = {}

    def _name(self, op: str) -> str:
        self.count[op] = self.count.get(op, 0) + 1
        return f"{op.lower()}{self.count[op]}"

    def param(self, name: str, shape: list[int], kind: str = "weight") -> str:
        if self.real:
            if kind == "weight":
                fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
                value = self.rng.normal(0, 1 / np.sqrt(fan_in), shape)
            elif kind in ("var", "scale"):
                value = self.rng.uniform(0.5, 1.5, shape)
            else:
                value = self.rng.normal(0, 0.1, shape)
            self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
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
        w = self.param(f"{name}.weight", [m, c // groups, k, k])
        inputs = [x, w] if bn else [x, w, self.param(f"{name}.bias", [m], "bias")]
        y = self.node("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                      group=groups, dilations=[dilation, dilation])
        if bn:
            params = [self.param(f"{name}.bn.{p}", [m], kind) for p, kind in
                      (("scale", "scale"), ("bias", "bias"), ("mean", "bias"), ("var", "var"))]
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
        w, b = self.param(f"{name}.weight", [m, c]), self.param(f"{name}.bias", [m], "bias")
        y = self.node("Gemm", [x, w, b], name, transB=1)
        return self.node("Relu", [y], f"{name}.relu") if relu else y

    def maxpool(self, x: str, k: int, s: int, pad: int = 0, ceil: int = 0) -> str:
        return self.node("MaxPool", [x], kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4, ceil_mode=ceil)

    def save(self, output: str) -> Path:
        out_info = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, self.name, self.inputs, [out_info], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="eyeriss-compiler examples")
        model.ir_version = 8
        path = HERE / f"{self.name}.onnx"
        path.write_bytes(model.SerializeToString(deterministic=True))
        return path


def alexnet() -> Path:
    n = Net("alexnet", ["N", 3, 227, 227])
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
    return n.save(n.node("Softmax", [x], axis=1))


def vgg16() -> Path:
    n = Net("vgg16", ["N", 3, 224, 224])
    x, c = "input", 3
    for block in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for m in block:
            x, c = n.conv(x, c, m, 3, pad=1), m
        x = n.maxpool(x, 2, 2)
    x = n.node("Flatten", [x], axis=1)
    x = n.gemm(x, 25088, 4096)
    x = n.gemm(x, 4096, 4096)
    return n.save(n.gemm(x, 4096, 1000, relu=False))


def _resnet(name: str, blocks: tuple[int, ...], bottleneck: bool) -> Path:
    n = Net(name, ["N", 3, 224, 224])
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
    return n.save(n.gemm(x, c, 1000, relu=False))


def mobilenet_v2() -> Path:
    n = Net("mobilenet_v2", ["N", 3, 224, 224])
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
    return n.save(n.gemm(x, 1280, 1000, relu=False))


def lenet5() -> Path:
    n = Net("lenet5", ["N", 1, 32, 32], real_weights=True, seed=5)
    x = n.conv("input", 1, 6, 5)
    x = n.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.conv(x, 6, 16, 5)
    x = n.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = n.node("Flatten", [x], axis=1)
    x = n.gemm(x, 400, 120)
    x = n.gemm(x, 120, 84)
    return n.save(n.gemm(x, 84, 10, relu=False))


def main() -> None:
    for build in (alexnet, vgg16, lambda: _resnet("resnet18", (2, 2, 2, 2), False),
                  lambda: _resnet("resnet50", (3, 4, 6, 3), True), mobilenet_v2, lenet5):
        path = build()
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
