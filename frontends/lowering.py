"""ONNX operators that the PE array computes, lowered to ``LayerShape``.

Convolutions of every kind (grouped, depthwise, dilated, 1-D, transposed,
integer and QLinear), fully connected layers (Gemm, MatMul with a weight) and
batched MatMul (attention) all become the paper's (N, M, C, H, W, R, S) shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import onnx

from cost_models.layer import LayerShape, ShapeError
from frontends.loading import FrontendError

# op_type -> (activation input slot, weight input slot)
CONV_OPS = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3), "ConvTranspose": (0, 1)}
MATMUL_OPS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3), "Gemm": (0, 1)}
ARRAY_OPS = set(CONV_OPS) | set(MATMUL_OPS)


@dataclass(frozen=True)
class Lowered:
    layer: LayerShape
    op: str  # Conv, ConvDepthwise, ConvTranspose, Gemm, MatMul, BatchedMatMul, QLinearConv, ...
    data_inputs: tuple[str, ...]  # activation tensors the layer reads
    weight: str | None  # the weight tensor (initializer or graph input), None for activation x activation
    weight_layout: str = "MCRS"  # how the weight tensor is stored: MCRS (conv), CMRS (transposed), MC or CM (matrices)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _shape(shapes: dict, name: str, node: onnx.NodeProto, where: str, what: str) -> tuple[int, ...]:
    shape = shapes.get(name)
    if shape is None:
        raise FrontendError(
            f"{what} '{name}' of {node.op_type} node '{node.name}' has no static shape after shape inference; "
            "export the model with fixed input sizes (only the batch dimension may be symbolic, set with --batch)",
            where)
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


def lower_conv(node: onnx.NodeProto, shapes: dict, is_weight: set[str], where: str) -> Lowered:
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
    pads = _pads(node, a, x[2:], kernel, strides, dilations, where)
    if spatial == 1:  # 1-D: the length is the paper's width
        x, kernel, strides, dilations = (x[0], x[1], 1, x[2]), [1, kernel[0]], [1, strides[0]], [1, dilations[0]]
        pads = [0, pads[0], 0, pads[1]]
    else:
        pads = [pads[0], pads[1], pads[2], pads[3]]
    N, C, H, W = x
    transposed = node.op_type == "ConvTranspose"
    if transposed:
        M = w[1] * group
        if w[0] != C:
            raise FrontendError(f"node '{node.name}': weight has {w[0]} input channels, input has {C}", where)
        out_pad = _int_list(a.get("output_padding"), spatial, "output_padding", node, where, 0)
        if spatial == 1:
            out_pad = [0, out_pad[0]]
        # A transposed convolution is a stride-1 convolution over the input with
        # (stride - 1) zeros inserted between pixels and the complementary padding.
        H, W = (H - 1) * strides[0] + 1, (W - 1) * strides[1] + 1
        full = [dilations[0] * (kernel[0] - 1), dilations[1] * (kernel[1] - 1)]
        pads = [full[0] - pads[0], full[1] - pads[1], full[0] - pads[2] + out_pad[0], full[1] - pads[3] + out_pad[1]]
        if min(pads) < 0:
            raise FrontendError(f"node '{node.name}': transposed-convolution padding larger than the kernel is not supported", where)
        strides = [1, 1]
    else:
        M = w[0]
        if w[1] * group != C:
            raise FrontendError(f"node '{node.name}': group={group} with weight {list(w)} does not match "
                                f"{C} input channels", where)
    if M % group:
        raise FrontendError(f"node '{node.name}': group={group} does not divide the {M} output channels", where)
    try:
        layer = LayerShape(N=N, M=M, C=C, H=H, W=W, R=kernel[0], S=kernel[1], stride=(strides[0], strides[1]),
                           pads=tuple(pads), dilation=(dilations[0], dilations[1]), groups=group,
                           kind="depthwise" if group == C and group > 1 else "conv")
    except ShapeError as error:
        raise FrontendError(f"node '{node.name}': {error.message}", where) from None
    op = node.op_type
    if op == "Conv" and layer.kind == "depthwise":
        op = "ConvDepthwise"
    return Lowered(layer, op, (node.input[x_slot],), node.input[w_slot], "CMRS" if transposed else "MCRS")


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
    if node.op_type == "Gemm":
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
            layout = "MC" if node.op_type == "Gemm" and attrs.get("transB", 0) else "CM"
            return Lowered(layer, node.op_type, (a_name,), b_name, layout)
        if a_weight and len(A) == 2:  # weight x activation: the transposed product is fully connected
            layer = LayerShape(N=prod(B[:-2]) * B[-1], M=A[-2], C=K, H=1, W=1, R=1, S=1, kind="fc")
            return Lowered(layer, node.op_type, (b_name,), a_name, "MC")
        batch_a, batch_b = A[:-2], B[:-2]
        batch = _broadcast(batch_a, batch_b, node, where)
        G = prod(batch) if batch else 1
        layer = LayerShape(N=A[-2], M=G * B[-1], C=G * K, H=1, W=1, R=1, S=1, groups=G, kind="matmul")
    except ShapeError as error:
        raise FrontendError(f"node '{node.name}': {error.message}", where) from None
    op = "BatchedMatMul" if node.op_type == "MatMul" else node.op_type
    return Lowered(layer, op, (a_name, b_name), None)


def _broadcast(a: list[int], b: list[int], node, where) -> list[int]:
    out = []
    for x, y in zip([1] * (len(b) - len(a)) + a, [1] * (len(a) - len(b)) + b):
        if x != y and 1 not in (x, y):
            raise FrontendError(f"node '{node.name}': batch dimensions {a} and {b} do not broadcast", where)
        out.append(max(x, y))
    return out


def lower(node: onnx.NodeProto, shapes: dict, is_weight: set[str], where: str) -> Lowered:
    if node.op_type in CONV_OPS:
        return lower_conv(node, shapes, is_weight, where)
    return lower_matmul(node, shapes, is_weight, where)
