"""ONNX operators that the PE array computes, lowered to ``LayerShape``.

Convolutions of every kind (grouped, depthwise, dilated, 1-D, transposed,
integer and QLinear), fully connected layers (Gemm, MatMul with a weight) and
batched MatMul (attention) all become the paper's (N, M, C, H, W, R, S) shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import onnx

from cost_models.layer import LayerShape, ShapeError
from frontends.decompose import Patches, Phase, Transposed, patch_convolution, phases
from frontends.loading import FrontendError

# op_type -> (activation input slot, weight input slot)
CONV_OPS = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3), "ConvTranspose": (0, 1)}
MATMUL_OPS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3), "Gemm": (0, 1), "QGemm": (0, 3)}
ARRAY_OPS = set(CONV_OPS) | set(MATMUL_OPS)
# onnxruntime's quantized ops outside the ONNX domain that are array layers (frontends/contrib.py gives shapes).
CONTRIB_ARRAY_OPS = {"QGemm"}


def is_array_op(node: onnx.NodeProto) -> bool:
    if node.domain in ("", "ai.onnx"):
        return node.op_type in ARRAY_OPS and node.op_type not in CONTRIB_ARRAY_OPS
    return node.domain == "com.microsoft" and node.op_type in CONTRIB_ARRAY_OPS


class MissingShape(FrontendError):
    """A layer operand without a static shape; frontends.graph names the node it comes from and why."""

    def __init__(self, message: str, where: str, tensor: str) -> None:
        super().__init__(message, where)
        self.tensor = tensor


@dataclass(frozen=True)
class Part:
    """One array layer of a lowered node; ``transform`` maps the node's operands to it (None: they are its own)."""

    key: str  # the graph node's name: the ONNX node's, with a suffix for each phase of a ConvTranspose
    layer: LayerShape
    transform: Phase | Patches | None = None


@dataclass(frozen=True)
class Lowered:
    parts: tuple[Part, ...]
    op: str  # Conv, ConvDepthwise, ConvTranspose, Gemm, MatMul, BatchedMatMul, QLinearConv, ...
    data_inputs: tuple[str, ...]  # activation tensors the layer reads
    weight: str | None  # the weight tensor (initializer or graph input), None for activation x activation
    weight_layout: str = "MCRS"  # how the weight tensor is stored: MCRS (conv), CMRS (transposed), MC or CM (matrices)

    @property
    def layer(self) -> LayerShape:
        return self.parts[0].layer


@dataclass(frozen=True)
class _Geometry:
    """A convolution's operands and attributes, 1-D widened to 2-D (height 1)."""

    x: tuple[int, int, int, int]
    w: tuple[int, int, int, int]
    spatial: int
    strides: list[int]
    dilations: list[int]
    group: int
    attrs: dict


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _shape(shapes: dict, name: str, node: onnx.NodeProto, where: str, what: str) -> tuple[int, ...]:
    shape = shapes.get(name)
    if shape is None:
        raise MissingShape(f"{what} '{name}' of {node.op_type} node '{node.name}' has no static shape", where,
                           tensor=name)
    if any(d <= 0 for d in shape):
        raise FrontendError(f"{what} '{name}' of node '{node.name}' has a non-positive dimension {list(shape)}", where)
    return shape


def _int_list(values, length: int, name: str, node: onnx.NodeProto, where: str, default: int) -> list[int]:
    if values is None:
        return [default] * length
    values = list(values)
    if len(values) != length or not all(isinstance(v, int) for v in values):
        raise FrontendError(f"attribute '{name}' of node '{node.name}' must hold {length} integers, got {values}", where)
    return values


def _geometry(node: onnx.NodeProto, shapes: dict, where: str) -> _Geometry:
    """1. Operand shapes and the kernel, stride, dilation and group attributes, checked."""
    x_slot, w_slot = CONV_OPS[node.op_type]
    if len(node.input) <= w_slot or not node.input[w_slot]:
        raise FrontendError(f"{node.op_type} node '{node.name}' has no weight input", where)
    x = _shape(shapes, node.input[x_slot], node, where, "input")
    w = _shape(shapes, node.input[w_slot], node, where, "weight")
    if len(x) not in (3, 4) or len(w) != len(x):
        raise FrontendError(f"{node.op_type} node '{node.name}': only 1-D and 2-D convolutions are supported "
                            f"(input {list(x)}, weight {list(w)})", where)
    a = _attrs(node)
    spatial = len(x) - 2
    kernel = _int_list(a.get("kernel_shape"), spatial, "kernel_shape", node, where, 0) if "kernel_shape" in a else list(w[2:])
    if kernel != list(w[2:]):
        raise FrontendError(f"node '{node.name}': kernel_shape {kernel} disagrees with the weight shape {list(w)}", where)
    strides = _int_list(a.get("strides"), spatial, "strides", node, where, 1)
    dilations = _int_list(a.get("dilations"), spatial, "dilations", node, where, 1)
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations):
        raise FrontendError(f"node '{node.name}': strides {strides} and dilations {dilations} must be >= 1", where)
    group = a.get("group", 1)
    if not isinstance(group, int) or group < 1:
        raise FrontendError(f"node '{node.name}': group must be a positive integer, got {group!r}", where)
    if spatial == 1:  # 1-D: the length is the paper's width
        x, w, strides, dilations = (*x[:2], 1, x[2]), (*w[:2], 1, w[2]), [1, *strides], [1, *dilations]
    return _Geometry(tuple(x), tuple(w), spatial, strides, dilations, group, a)


def _widen(pads: list[int], spatial: int) -> list[int]:
    """ONNX (begin..., end...) pads as (top, left, bottom, right); 1-D pads the width only."""
    return [0, pads[0], 0, pads[1]] if spatial == 1 else pads


def lower_conv(node: onnx.NodeProto, shapes: dict, where: str) -> Lowered:
    geo = _geometry(node, shapes, where)
    x_slot, w_slot = CONV_OPS[node.op_type]
    inputs = ((node.input[x_slot],), node.input[w_slot])
    if node.op_type == "ConvTranspose":
        return Lowered(_transposed_parts(node, geo, shapes, where), "ConvTranspose", *inputs, "CMRS")
    N, C, H, W = geo.x
    M = geo.w[0]
    if geo.w[1] * geo.group != C:
        raise FrontendError(f"node '{node.name}': group={geo.group} with weight {list(geo.w)} does not match "
                            f"{C} input channels", where)
    pads = _widen(_pads(node, geo.attrs, geo.x[4 - geo.spatial:], geo.w[4 - geo.spatial:],
                        geo.strides[2 - geo.spatial:], geo.dilations[2 - geo.spatial:], where), geo.spatial)
    kind = "depthwise" if geo.group == C and geo.group > 1 else "conv"
    layer = _checked(node, where, lambda: LayerShape(
        N=N, M=M, C=C, H=H, W=W, R=geo.w[2], S=geo.w[3], stride=tuple(geo.strides), pads=tuple(pads),
        dilation=tuple(geo.dilations), groups=geo.group, kind=kind))
    op = "ConvDepthwise" if node.op_type == "Conv" and layer.kind == "depthwise" else node.op_type
    if patch_convolution(layer):  # 2. disjoint windows: exactly a matrix product over patches
        patches = Patches(layer, geo.spatial)
        return Lowered((Part(node.name, _checked(node, where, patches.layer), patches),), op, *inputs)
    return Lowered((Part(node.name, layer),), op, *inputs)


def _checked(node: onnx.NodeProto, where: str, build: Callable[[], LayerShape]) -> LayerShape:
    """``build()``'s LayerShape, its ShapeError named after the node."""
    try:
        return build()
    except ShapeError as error:
        raise FrontendError(f"node '{node.name}': {error.message}", where) from None


def _transposed_parts(node: onnx.NodeProto, geo: _Geometry, shapes: dict, where: str) -> tuple[Part, ...]:
    """3. A ConvTranspose as its stride x stride phase sub-convolutions (frontends.decompose)."""
    C = geo.x[1]
    if geo.w[0] != C:
        raise FrontendError(f"node '{node.name}': weight has {geo.w[0]} input channels, input has {C}", where)
    if C % geo.group:
        raise FrontendError(f"node '{node.name}': group={geo.group} does not divide the {C} input channels", where)
    begin, end, out = _transposed_pads(node, geo, where)
    expected = shapes.get(node.output[0]) if node.output else None
    if expected is not None and tuple(expected[2:]) != tuple(out[2 - geo.spatial:]):
        raise FrontendError(f"node '{node.name}': the attributes give an output of {out[2 - geo.spatial:]}, "
                            f"shape inference says {list(expected[2:])}", where)
    attributes = {k: v for k, v in geo.attrs.items() if k not in ("output_shape", "auto_pad", "pads")}
    attributes["pads"] = [*begin[2 - geo.spatial:], *end[2 - geo.spatial:]]  # output_shape resolved (see docs)
    plan = Transposed(geo.x, geo.w, geo.group, tuple(geo.strides), tuple(geo.dilations), (*begin, *end), tuple(out),
                      tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in attributes.items())),
                      geo.spatial)
    parts = phases(plan)
    if not parts:
        raise FrontendError(f"ConvTranspose node '{node.name}': the padding crops away every product", where)
    suffix = (lambda p: f"/phase{p.index[1]}") if geo.spatial == 1 else (lambda p: f"/phase{p.index[0]}{p.index[1]}")
    return tuple(Part(node.name + suffix(p), _checked(node, where, p.layer), p) for p in parts)


def _transposed_pads(node: onnx.NodeProto, geo: _Geometry, where: str) -> tuple[list[int], list[int], list[int]]:
    """Begin pads, end pads and output size (height, width) of a ConvTranspose, as the ONNX operator defines them.

    ``output_shape`` (or SAME_* auto_pad, output = input * stride) fixes the total
    padding; SAME_UPPER puts the odd row at the end, NOTSET and SAME_LOWER at the start.
    """
    a, n = geo.attrs, geo.spatial
    sizes, kernel = geo.x[2:], geo.w[2:]
    out_pad = [0] * (2 - n) + _int_list(a.get("output_padding"), n, "output_padding", node, where, 0)
    if any(p < 0 or p >= max(s, d) for p, s, d in zip(out_pad, geo.strides, geo.dilations)):
        raise FrontendError(f"node '{node.name}': output_padding {out_pad[2 - n:]} must be non-negative and smaller "
                            "than the stride or the dilation", where)
    full = [s * (i - 1) + p + (k - 1) * d + 1
            for i, k, s, d, p in zip(sizes, kernel, geo.strides, geo.dilations, out_pad)]
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = _output_shape(node, a, n, where) if "output_shape" in a else [
            i * s for i, s in zip(sizes, geo.strides)]
        target = [1] * (2 - n) + target if len(target) == n else target
        total = [f - t for f, t in zip(full, target)]
        if min(total) < 0:
            raise FrontendError(f"ConvTranspose node '{node.name}': output_shape {target[2 - n:]} is larger than "
                                f"the full transposed output {full[2 - n:]} (stride, kernel, output_padding)", where)
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID" or auto in ("NOTSET", ""):
        pads = [0] * (2 * n) if auto == "VALID" else _int_list(a.get("pads"), 2 * n, "pads", node, where, 0)
        if min(pads) < 0:
            raise FrontendError(f"node '{node.name}': negative pads {pads}", where)
        begin, end = [0] * (2 - n) + pads[:n], [0] * (2 - n) + pads[n:]
    else:
        raise FrontendError(f"node '{node.name}': unknown auto_pad {auto!r}", where)
    out = [f - b - e for f, b, e in zip(full, begin, end)]
    if min(out) < 1:
        raise FrontendError(f"ConvTranspose node '{node.name}': pads {begin[2 - n:] + end[2 - n:]} leave no output "
                            f"(full output {full[2 - n:]})", where)
    return begin, end, out


def _output_shape(node: onnx.NodeProto, a: dict, n: int, where: str) -> list[int]:
    values = list(a["output_shape"])
    if len(values) == n + 2:
        values = values[2:]
    if len(values) != n or not all(isinstance(v, int) and v >= 1 for v in values):
        raise FrontendError(f"ConvTranspose node '{node.name}': output_shape {list(a['output_shape'])} must give "
                            f"{n} positive spatial sizes", where)
    return values


def _pads(node, a: dict, spatial_in, kernel, strides, dilations, where) -> list[int]:
    """Explicit (top, left, bottom, right) padding, resolving auto_pad."""
    n = len(kernel)
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        pads = _int_list(a.get("pads"), 2 * n, "pads", node, where, 0)
        if min(pads) < 0:
            raise FrontendError(f"node '{node.name}': negative pads {pads}", where)
        return pads
    if auto == "VALID":
        return [0] * (2 * n)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(spatial_in, kernel, strides, dilations):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, large = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else large)
            end.append(large if auto == "SAME_UPPER" else small)
        return begin + end
    raise FrontendError(f"node '{node.name}': unknown auto_pad {auto!r}", where)


def lower_matmul(node: onnx.NodeProto, shapes: dict, is_weight: set[str], where: str) -> Lowered:
    a_slot, b_slot = MATMUL_OPS[node.op_type]
    if len(node.input) <= b_slot:
        raise FrontendError(f"{node.op_type} node '{node.name}' has too few inputs", where)
    a_name, b_name = node.input[a_slot], node.input[b_slot]
    A = list(_shape(shapes, a_name, node, where, "input"))
    B = list(_shape(shapes, b_name, node, where, "input"))
    attrs = _attrs(node)
    if node.op_type in ("Gemm", "QGemm"):
        if len(A) != 2 or len(B) != 2:
            raise FrontendError(f"Gemm node '{node.name}' needs 2-D inputs, got {A} and {B}", where)
        if attrs.get("transA", 0):
            A = A[::-1]
        if attrs.get("transB", 0):
            B = B[::-1]
    if len(A) == 1:
        A = [1] + A
    if len(B) == 1:
        B = B + [1]
    if A[-1] != B[-2]:
        raise FrontendError(f"{node.op_type} node '{node.name}': inner dimensions differ ({A} x {B})", where)
    K = A[-1]
    a_weight, b_weight = a_name in is_weight, b_name in is_weight
    try:
        if b_weight and len(B) == 2:  # activation x weight: fully connected
            layer = LayerShape(N=prod(A[:-1]), M=B[-1], C=K, H=1, W=1, R=1, S=1, kind="fc")
            layout = "MC" if node.op_type in ("Gemm", "QGemm") and attrs.get("transB", 0) else "CM"
            return Lowered((Part(node.name, layer),), node.op_type, (a_name,), b_name, layout)
        if a_weight and len(A) == 2:  # weight x activation: the transposed product is fully connected
            layer = LayerShape(N=prod(B[:-2]) * B[-1], M=A[-2], C=K, H=1, W=1, R=1, S=1, kind="fc")
            return Lowered((Part(node.name, layer),), node.op_type, (b_name,), a_name, "MC")
        batch_a, batch_b = A[:-2], B[:-2]
        batch = _broadcast(batch_a, batch_b, node, where)
        G = prod(batch) if batch else 1
        layer = LayerShape(N=A[-2], M=G * B[-1], C=G * K, H=1, W=1, R=1, S=1, groups=G, kind="matmul")
    except ShapeError as error:
        raise FrontendError(f"node '{node.name}': {error.message}", where) from None
    op = "BatchedMatMul" if node.op_type == "MatMul" else node.op_type
    return Lowered((Part(node.name, layer),), op, (a_name, b_name), None)


def _broadcast(a: list[int], b: list[int], node, where) -> list[int]:
    out = []
    for x, y in zip([1] * (len(b) - len(a)) + a, [1] * (len(a) - len(b)) + b):
        if x != y and 1 not in (x, y):
            raise FrontendError(f"node '{node.name}': batch dimensions {a} and {b} do not broadcast", where)
        out.append(max(x, y))
    return out


def lower(node: onnx.NodeProto, shapes: dict, is_weight: set[str], where: str) -> Lowered:
    if node.op_type in CONV_OPS:
        return lower_conv(node, shapes, where)
    return lower_matmul(node, shapes, is_weight, where)
