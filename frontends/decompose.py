"""ONNX convolutions the array computes as several (or reshaped) ordinary layers, exactly.

Two rewrites, each an exact identity, never an approximation:

* **ConvTranspose -> stride x stride phase sub-convolutions.**  Output pixel
  ``o`` of a transposed convolution with stride ``s`` only ever meets the kernel
  taps ``k`` with ``o + pad_begin - k * dilation`` divisible by ``s``, so the
  outputs of one residue ``o mod s`` (a *phase*) are an ordinary stride-1
  convolution of the input with the flipped sub-kernel of those taps (the
  decomposition deconvolution accelerators use: Yazdanbakhsh et al., GANAX,
  ISCA 2018; Chang et al., "An energy-efficient FPGA-based deconvolutional
  neural networks accelerator", 2018).  Each phase reads only real products, so
  the phases' MACs add up to the layer's ``N * C * M/g * K_h * K_w * H * W``
  (fewer where padding crops products away), where a zero-inserted input would
  cost ``s_h * s_w`` times that.
* **Non-overlapping patch convolution -> matrix product.**  With stride equal
  to the kernel, no padding and dilation 1 (ViT's patch embedding) every window
  is a disjoint patch: the layer is ``[N*E*F, C*R*S] x [C*R*S, M]``.

A ``Part`` says how one array layer's operands come from the ONNX node's and
where its output goes; ``reference`` recomputes the ONNX node's output with
onnx's reference evaluator, the independent check the simulator recombines
against.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from cost_models.layer import LayerShape


@dataclass(frozen=True)
class PhaseAxis:
    """One spatial axis of one phase: outputs ``residue + stride * (first + e)``, e < count."""

    residue: int
    stride: int
    taps: tuple[int, ...]  # kernel indices in the sub-convolution's order (the flipped sub-kernel)
    dilation: int  # the sub-convolution's dilation, dilation / gcd(stride, dilation)
    first: int
    count: int
    crop: tuple[int, int]  # input rows [start, end) the sub-convolution reads
    pads: tuple[int, int]  # zero rows before and after the crop


def phase_axis(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, out: int,
               residue: int) -> PhaseAxis | None:
    """The sub-convolution computing the outputs ``o = residue (mod stride)``; None if none of them is non-zero.

    Output ``o`` sums ``x[i] * w[k]`` over ``o + pad_begin = i * stride + k * dilation``.
    """
    taps = [k for k in range(kernel) if (residue + pad_begin - k * dilation) % stride == 0]
    outputs = -(-(out - residue) // stride) if out > residue else 0
    if not taps or not outputs:
        return None
    step = dilation // gcd(stride, dilation)  # input step between consecutive taps
    span = (len(taps) - 1) * step
    offset = (residue + pad_begin - taps[0] * dilation) // stride  # input index of output j=0, first tap
    start_read = offset - span  # input index output j=0 reads with the sub-kernel's first (flipped) tap
    # Outputs before the first and after the last that reads a real input are zero: not computed.
    reached = [j for j in range(outputs) if any(0 <= start_read + j + n * step < size for n in range(len(taps)))]
    if not reached:
        return None
    first, last = reached[0], reached[-1] + 1
    low, high = start_read + first, start_read + last - 1 + span  # first and last input index read
    crop = (max(0, low), min(size, high + 1))
    return PhaseAxis(residue, stride, tuple(reversed(taps)), step, first, last - first, crop,
                     (crop[0] - low, high + 1 - crop[1]))


@dataclass(frozen=True)
class Transposed:
    """A ConvTranspose as its attributes resolve: everything the phases and the reference need."""

    ifmap_shape: tuple[int, int, int, int]  # N, C, H, W (1-D: H = 1)
    weight: tuple[int, int, int, int]  # C, M/g, Kh, Kw (ONNX layout)
    groups: int
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right, as resolved (output_shape / auto_pad applied)
    output: tuple[int, int]  # E, F
    attributes: tuple[tuple[str, object], ...]  # the node's own attributes, for the reference evaluator
    spatial: int  # 1 or 2

    @property
    def M(self) -> int:
        return self.weight[1] * self.groups

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.ifmap_shape[0], self.M, *self.output)

    def reference(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The node's output [N, M, E, F] from onnx's reference evaluator (its own attributes).

        Groups are evaluated one at a time: onnx 1.x's evaluator mis-reshapes grouped
        ConvTranspose weights ("cannot reshape array of size 9 into shape (1,2,3)").
        """
        attributes = dict(self.attributes, group=1)
        g, Cg = self.groups, self.ifmap_shape[1] // self.groups
        return np.concatenate([onnx_reference("ConvTranspose", attributes, x[:, i * Cg:(i + 1) * Cg],
                                              w[i * Cg:(i + 1) * Cg], self.spatial) for i in range(g)], axis=1)

    def axes(self, dim: int) -> list[PhaseAxis | None]:
        size, kernel = self.ifmap_shape[2 + dim], self.weight[2 + dim]
        return [phase_axis(size, kernel, self.strides[dim], self.dilations[dim], self.pads[dim], self.output[dim], r)
                for r in range(self.strides[dim])]

    def macs(self) -> int:
        """Real products the phases compute (a hand count over the phases' outputs and taps)."""
        per_axis = [sum(a.count * len(a.taps) for a in self.axes(dim) if a) for dim in (0, 1)]
        N, C = self.ifmap_shape[:2]
        return N * C * self.weight[1] * per_axis[0] * per_axis[1]


@dataclass(frozen=True)
class Phase:
    """One phase sub-convolution of a ConvTranspose: an ordinary convolution over a crop of the input."""

    node: Transposed
    index: tuple[int, int]
    rows: PhaseAxis
    cols: PhaseAxis

    @property
    def source(self) -> Transposed:
        """The whole node (shared by its phases)."""
        return self.node

    @property
    def label(self) -> str:
        count = self.node.strides[0] * self.node.strides[1]
        where = f"{self.index[1]}" if self.node.spatial == 1 else f"{self.index[0]},{self.index[1]}"
        return f"phase {where} of {count}"

    def layer(self) -> LayerShape:
        n = self.node
        r, c = self.rows, self.cols
        N, C = n.ifmap_shape[:2]
        return LayerShape(N=N, M=n.M, C=C, H=r.crop[1] - r.crop[0], W=c.crop[1] - c.crop[0], R=len(r.taps),
                          S=len(c.taps), pads=(r.pads[0], c.pads[0], r.pads[1], c.pads[1]),
                          dilation=(r.dilation, c.dilation), groups=n.groups,
                          kind="depthwise" if n.groups == C and n.groups > 1 else "conv")

    def ifmap(self, x: np.ndarray) -> np.ndarray:
        return x[:, :, self.rows.crop[0]:self.rows.crop[1], self.cols.crop[0]:self.cols.crop[1]]

    def weights(self, w: np.ndarray) -> np.ndarray:
        """ONNX [C, M/g, Kh, Kw] -> the sub-convolution's [M, C/g, R, S]."""
        g = self.node.groups
        C, Mg = w.shape[:2]
        sub = w[:, :, list(self.rows.taps)][:, :, :, list(self.cols.taps)]
        sub = sub.reshape(g, C // g, Mg, *sub.shape[2:]).swapaxes(1, 2)
        return sub.reshape(g * Mg, C // g, *sub.shape[3:])

    def place(self, y: np.ndarray, out: np.ndarray) -> None:
        """Interleave this phase's [N, M, E', F'] output into the layer's [N, M, E, F]."""
        r, c = self.rows, self.cols
        top, left = r.residue + r.stride * r.first, c.residue + c.stride * c.first
        y[:, :, top:top + r.stride * r.count:r.stride, left:left + c.stride * c.count:c.stride] = out


def phases(node: Transposed) -> list[Phase]:
    """Every phase with at least one real product (a kernel smaller than the stride leaves phases empty)."""
    return [Phase(node, (i, j), rows, cols)
            for i, rows in enumerate(node.axes(0)) if rows for j, cols in enumerate(node.axes(1)) if cols]


@dataclass(frozen=True)
class Patches:
    """A convolution with stride equal to its kernel, no padding, dilation 1: a matrix product over patches."""

    conv: LayerShape  # the convolution as written
    spatial: int = 2

    @property
    def source(self) -> "Patches":
        return self

    @property
    def ifmap_shape(self) -> tuple[int, int, int, int]:
        return (self.conv.N, self.conv.C, self.conv.H, self.conv.W)

    @property
    def weight(self) -> tuple[int, int, int, int]:
        return (self.conv.M, self.conv.Cg, self.conv.R, self.conv.S)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.conv.N, self.conv.M, self.conv.E, self.conv.F)

    def reference(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The convolution as written, from onnx's reference evaluator."""
        L = self.conv
        kernel = [L.S] if self.spatial == 1 else [L.R, L.S]
        return onnx_reference("Conv", {"kernel_shape": kernel, "strides": kernel, "group": L.groups}, x, w,
                              self.spatial)

    @property
    def label(self) -> str:
        return f"{self.conv.R}x{self.conv.S} patches"

    def layer(self) -> LayerShape:
        L = self.conv
        return LayerShape(N=L.N * L.E * L.F, M=L.M, C=L.C * L.R * L.S, H=1, W=1, R=1, S=1, groups=L.groups,
                          kind="fc" if L.groups == 1 else "matmul")

    def ifmap(self, x: np.ndarray) -> np.ndarray:
        """[N, C, H, W] -> [N*E*F, C*R*S, 1, 1], channels group-major as the weights are."""
        L = self.conv
        x = x[:, :, :L.E * L.R, :L.F * L.S].reshape(L.N, L.C, L.E, L.R, L.F, L.S)
        return x.transpose(0, 2, 4, 1, 3, 5).reshape(L.N * L.E * L.F, L.C * L.R * L.S, 1, 1)

    def weights(self, w: np.ndarray) -> np.ndarray:
        return w.reshape(w.shape[0], -1, 1, 1)

    def place(self, y: np.ndarray, out: np.ndarray) -> None:
        L = self.conv
        y[...] = out.reshape(L.N, L.E, L.F, L.M).transpose(0, 3, 1, 2)


def patch_convolution(layer: LayerShape) -> bool:
    """Stride equal to the kernel (> 1), no padding, dilation 1: the windows are disjoint patches."""
    return (layer.stride == (layer.R, layer.S) and layer.R * layer.S > 1 and layer.pads == (0, 0, 0, 0)
            and layer.dilation == (1, 1))


def onnx_reference(op: str, attributes: dict, x: np.ndarray, w: np.ndarray, spatial: int) -> np.ndarray:
    """One Conv or ConvTranspose's output from onnx's reference evaluator, on integer-valued float64, as int64.

    ``x`` and ``w`` are 4-D (a 1-D node's height 1 is dropped for the evaluator).
    Exact while every partial sum stays below 2**53 (int16 operands and fewer
    than 2**22 products per output guarantee it).
    """
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    squeeze = spatial == 1
    xs, ws = (x[:, :, 0], w[:, :, 0]) if squeeze else (x, w)
    node = helper.make_node(op, ["x", "w"], ["y"], **attributes)
    graph = helper.make_graph([node], "reference",
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, xs.shape),
                               helper.make_tensor_value_info("w", TensorProto.DOUBLE, ws.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (y,) = ReferenceEvaluator(model).run(None, {"x": xs.astype(np.float64), "w": ws.astype(np.float64)})
    y = np.rint(np.asarray(y)).astype(np.int64)
    return y[:, :, None] if squeeze else y
