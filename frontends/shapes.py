"""Static shapes for every tensor: batch binding, shape inference, shape-subgraph folding.

Exporters compute reshape targets at run time (Shape -> Gather -> Concat ->
Reshape, as the TorchScript exporter writes them).  With the input shapes
fixed, those subgraphs are constants: we evaluate them with onnx's own
reference evaluator, turn their outputs into initializers and infer again.
"""

from __future__ import annotations

import shlex

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from frontends.input_shapes import describe, suggestion
from frontends.loading import FrontendError

# Folding only ever evaluates small integer tensors (shape arithmetic).
MAX_FOLD_ELEMENTS = 4096
FOLDABLE = {"Shape", "Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast", "Mul", "Add", "Sub", "Div",
            "Floor", "Ceil", "ReduceProd", "Range", "Equal", "Where", "ConstantOfShape", "Expand", "Identity",
            "Constant", "Size", "Sqrt", "Max", "Min", "Neg", "Reshape", "Flatten", "Transpose", "Not", "Less",
            "Greater", "Abs", "Round", "ReduceMax", "ReduceMin"}

WEIGHT_PREP = {"DequantizeLinear", "QuantizeLinear", "Transpose", "Cast", "Identity", "Reshape", "Unsqueeze",
               "Squeeze", "Flatten"}


def weight_inputs(proto: onnx.ModelProto) -> set[str]:
    """Graph inputs that hold weights (weights-absent models declare them as inputs).

    A real network input is read as the data operand (slot 0) of some node;
    an input only ever used at slot >= 1 (or only through weight-preparation
    ops) is a weight.
    """
    initializers = {t.name for t in proto.graph.initializer}
    candidates = {v.name for v in proto.graph.input} - initializers
    if not candidates:
        return set()
    # The uses of the candidates and of what weight preparation makes of them: not of every tensor.
    nodes = proto.graph.node
    wanted = candidates | {node.output[0] for node in nodes if node.op_type in WEIGHT_PREP and len(node.output) == 1}
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in nodes:
        for slot, name in enumerate(node.input):
            if name in wanted:
                consumers.setdefault(name, []).append((node, slot))

    def weight_like(name: str, depth: int = 0) -> bool:
        uses = consumers.get(name, [])
        if not uses or depth > 4:
            return False
        for node, slot in uses:
            if slot == 0 and node.op_type in WEIGHT_PREP and len(node.output) == 1:
                if not weight_like(node.output[0], depth + 1):
                    return False
            elif slot == 0:
                return False
        return True

    return {name for name in candidates if weight_like(name)}


# Largest batch a symbolic batch dimension may be bound to (assumed: the chip's papers run N <= 16;
# 4096 leaves room for studies while keeping every count far inside int64).
MAX_BATCH = 4096


DATA_DEPENDENT = {"NonZero", "NonMaxSuppression", "TopK", "Unique", "Compress", "If", "Loop", "Scan"}


def shape_origin(tensor: str, producer: dict[str, onnx.NodeProto], shapes: dict) -> str:
    """Where a tensor's missing static shape comes from: the first node upstream whose inputs all have one, and why.

    The graph inputs are static by then (bind_batch refuses any other symbolic
    dimension), so the cause is always a node.
    """
    seen: set[str] = set()
    node = producer.get(tensor)
    while node is not None and node.name not in seen:
        seen.add(node.name)
        unknown = [name for name in node.input if name and shapes.get(name) is None and name in producer]
        if not unknown:
            break
        node = producer[unknown[0]]
    if node is None:
        return "no node computes it"
    label = f"{node.op_type} node '{node.name}'"
    if node.domain not in ("", "ai.onnx"):
        return (f"it comes from {label} of domain '{node.domain}', which onnx's shape inference does not know "
                "(frontends/contrib.py gives shapes to onnxruntime's quantized ops only)")
    if node.op_type in DATA_DEPENDENT:
        return f"it comes from {label}, whose output size depends on the data (post-processing for the host)"
    return (f"it comes from {label}, to which onnx's shape inference gives no static output shape (a shape it "
            "reads as data, such as a Reshape target or Resize sizes, is computed at run time and was not folded)")


def bind_batch(proto: onnx.ModelProto, batch: int, where: str, weights: set[str] | None = None) -> list[str]:
    """Fix a symbolic leading dimension of every graph input to ``batch``; refuse other symbolic dims.

    ``weights`` is ``weight_inputs(proto)`` if the caller has it.
    """
    if not 1 <= batch <= MAX_BATCH:
        raise FrontendError(f"batch must be between 1 and {MAX_BATCH}, got {batch}", where)
    skip = {tensor.name for tensor in proto.graph.initializer} | (weight_inputs(proto) if weights is None else weights)
    bound = []
    for value in proto.graph.input:
        if value.name in skip or not value.type.HasField("tensor_type"):
            continue
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            raise FrontendError(f"graph input '{value.name}' has no shape; give it with --input-shape "
                                f"{shlex.quote(value.name + '=D,D,...')} or export with static input shapes", where)
        dims = tensor_type.shape.dim
        symbolic = [index for index, dim in enumerate(dims) if index and not dim.HasField("dim_value")]
        if symbolic:
            raise _symbolic_error(value.name, dims, symbolic, batch, where)
        for index, dim in enumerate(dims):
            if dim.HasField("dim_value"):
                if dim.dim_value < 1:
                    raise FrontendError(f"graph input '{value.name}' dimension {index} is {dim.dim_value}; "
                                        "dimensions must be positive", where)
                continue
            if index == 0:
                label = dim.dim_param or "?"
                dim.Clear()
                dim.dim_value = batch
                bound.append(f"{value.name}[0] ({label})")
    return bound


def _symbolic_error(name: str, dims, symbolic: list[int], batch: int, where: str) -> FrontendError:
    """The refusal of a symbolic dimension past the batch, with the way out: the input's whole shape given."""
    labels = [f"'{dims[i].dim_param}'" if dims[i].dim_param else "unnamed" for i in symbolic]
    first = f"dimension {symbolic[0]} of graph input '{name}' is symbolic ({labels[0]})"
    others = "".join(f", dimension {i} too ({label})" for i, label in zip(symbolic[1:], labels[1:]))
    return FrontendError(
        f"{first}{others}; the input is {describe(dims)}. Only the batch (dimension 0) may be symbolic (--batch): "
        f"give the input's whole shape with {suggestion(name, dims, batch)} (every dimension an integer), or "
        "re-export the model with a fixed input size (e.g. torch.onnx.export without dynamic_axes for that "
        "dimension)", where)


def fixed_batch(proto: onnx.ModelProto, weights: set[str] | None = None) -> int | None:
    """The static leading dimension of the first non-weight graph input, if it has one (``weights``: as bind_batch)."""
    skip = {tensor.name for tensor in proto.graph.initializer} | (weight_inputs(proto) if weights is None else weights)
    for value in proto.graph.input:
        if value.name in skip or not value.type.HasField("tensor_type"):
            continue
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value"):
            return int(dims[0].dim_value)
        return None
    return None


def infer(proto: onnx.ModelProto, where: str) -> onnx.ModelProto:
    try:
        return shape_inference.infer_shapes(proto, check_type=True, strict_mode=False, data_prop=True)
    except (onnx.shape_inference.InferenceError, RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FrontendError(f"shape inference failed: {first}", where) from None


def static_shapes(proto: onnx.ModelProto) -> dict[str, tuple[int, ...] | None]:
    """Tensor name -> static shape (None where any dimension is unknown)."""
    shapes: dict[str, tuple[int, ...] | None] = {}
    for value in (*proto.graph.input, *proto.graph.value_info, *proto.graph.output):
        kind = value.type
        if not kind.HasField("tensor_type") or not kind.tensor_type.HasField("shape"):
            shapes.setdefault(value.name, None)
            continue
        dims = kind.tensor_type.shape.dim
        values = [d.dim_value for d in dims]
        # A nonzero dim_value is set; a zero one may be a set 0 or a dim_param (one field of a oneof).
        if all(values) or all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(values)
        else:
            shapes.setdefault(value.name, None)
    for tensor in proto.graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    return shapes


def fold_shape_subgraphs(proto: onnx.ModelProto, opset: int, where: str,
                         shapes: dict[str, tuple[int, ...] | None] | None = None) -> tuple[onnx.ModelProto, list[str]]:
    """Evaluate nodes whose inputs are all known small constants; returns the model and the folded node names.

    ``shapes`` is ``static_shapes(proto)`` if the caller has it (one pass fewer over a large graph).  At most
    MAX_FOLD_EVALUATIONS nodes go through onnx's evaluator, and none whose output could exceed
    MAX_FOLD_ELEMENTS (it would be dropped anyway, after allocating it).
    """
    evaluations = [0]
    folded: list[str] = []
    # A fold can give a later tensor its static shape (a Pad whose pads came from the input size), which makes
    # the Shape nodes that read it foldable in turn: repeat until a pass folds nothing (each pass folds at least
    # one node, and MAX_FOLD_EVALUATIONS bounds the evaluations of all of them).
    while True:
        proto, more = _fold_pass(proto, opset, where, shapes, evaluations)
        if not more:
            return proto, folded
        folded += more
        shapes = None


def _fold_pass(proto: onnx.ModelProto, opset: int, where: str, shapes: dict[str, tuple[int, ...] | None] | None,
               evaluations: list[int]) -> tuple[onnx.ModelProto, list[str]]:
    """One pass of fold_shape_subgraphs over the nodes in order: the model, re-inferred, and what it folded."""
    shapes = static_shapes(proto) if shapes is None else shapes
    known: dict[str, np.ndarray] = {}
    for tensor in proto.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL and _shape_constant(tensor):
            known[tensor.name] = numpy_helper.to_array(tensor)
    folded: list[str] = []
    new_constants: list[onnx.TensorProto] = []
    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in FOLDABLE:
            continue
        value = _fold_value(node, shapes, known, opset, evaluations, where)
        if value is None or value.size > MAX_FOLD_ELEMENTS:
            continue
        known[node.output[0]] = value
        new_constants.append(numpy_helper.from_array(np.asarray(value), node.output[0]))
        folded.append(node.name or node.output[0])
    if not folded:
        return proto, []
    folded_set = set(folded)
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    keep = [n for n in out.graph.node if (n.name or n.output[0]) not in folded_set]
    del out.graph.node[:]
    out.graph.node.extend(keep)
    out.graph.initializer.extend(new_constants)
    # Stale value_info of folded tensors would shadow the new constants.
    names = {t.name for t in new_constants}
    stale = [v for v in out.graph.value_info if v.name not in names]
    del out.graph.value_info[:]
    out.graph.value_info.extend(stale)
    return infer(out, where), folded


# Nodes a model may have evaluated at compile time (assumed: a TorchScript CNN export has a few hundred
# shape nodes; each evaluation builds a one-node model for onnx's reference evaluator, 0.1-0.3 ms, so
# 10 000 of them take seconds, where a 100 000-node chain of them took 17 s).
MAX_FOLD_EVALUATIONS = 10_000


def _fold_value(node: onnx.NodeProto, shapes: dict, known: dict[str, np.ndarray], opset: int, evaluations: list[int],
                where: str) -> np.ndarray | None:
    """The node's constant output, or None if it is not constant, too large, or the evaluator rejects it."""
    if node.op_type in ("Shape", "Size"):
        shape = shapes.get(node.input[0]) if node.input else None
        if shape is None:
            return None
        if node.op_type == "Size":
            return np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
        start = next((a.i for a in node.attribute if a.name == "start"), 0)
        end = next((a.i for a in node.attribute if a.name == "end"), None)
        return np.array(shape[start:end], dtype=np.int64)
    inputs = [name for name in node.input if name]
    if any(name not in known for name in inputs):
        return None
    feeds = {name: known[name] for name in inputs}
    if _output_bound(node.op_type, [known[name] for name in inputs]) > MAX_FOLD_ELEMENTS:
        return None
    evaluations[0] += 1
    if evaluations[0] > MAX_FOLD_EVALUATIONS:
        raise FrontendError(f"more than {MAX_FOLD_EVALUATIONS} shape-computation nodes to evaluate at compile time "
                            f"({node.op_type} node '{node.name[:80]}' is one too many)", where)
    from onnx.reference import ReferenceEvaluator

    try:
        return evaluate_node(ReferenceEvaluator, node, feeds, opset)
    except Exception:  # noqa: BLE001 - anything the evaluator rejects just stays unfolded
        return None


_BROADCASTING = {"Add", "Sub", "Mul", "Div", "Equal", "Where", "Max", "Min", "Less", "Greater"}


def _output_bound(op: str, values: list[np.ndarray]) -> int:
    """An upper bound of the elements a foldable op makes of ``values``, computed before it allocates them
    (ConstantOfShape [65536, 65536] or Where over [1024,1,1], [1,512,1], [1,1,512] would take gigabytes)."""
    try:
        if op == "ConstantOfShape":
            return int(np.prod([max(0, int(v)) for v in values[0].reshape(-1)], dtype=object)) if values else 1
        if op == "Expand":
            return int(np.prod(np.broadcast_shapes(values[0].shape, tuple(int(v) for v in values[1].reshape(-1))),
                               dtype=object))
        if op == "Range":
            start, limit, delta = (float(v.reshape(-1)[0]) for v in values)
            return 0 if delta == 0 else max(0, int(np.ceil((limit - start) / delta)))
        if op in _BROADCASTING:
            return int(np.prod(np.broadcast_shapes(*(v.shape for v in values)), dtype=object))
    except (ValueError, TypeError, OverflowError, IndexError):
        return MAX_FOLD_ELEMENTS + 1  # not foldable as given: leave it to shape inference and the host
    # Gather takes at most every index of every slice; the others (Concat, Slice, Reshape, ...) at most all inputs.
    sizes = [int(v.size) for v in values]
    return int(np.prod(sizes, dtype=object)) if op == "Gather" else sum(sizes)


def _shape_constant(tensor: onnx.TensorProto) -> bool:
    """What shape arithmetic computes with: small integer tensors, and scalars of any type (the 2.0 of
    ``floor(H * 2.0)`` for an upsampling size). A larger float is a weight: never folded away from its layer."""
    size = int(np.prod(tensor.dims, dtype=np.int64))
    integer = tensor.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    return size <= (MAX_FOLD_ELEMENTS if integer else 1) and (integer or tensor.data_type in (
        onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16))


def evaluate_node(evaluator, node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int) -> np.ndarray | None:
    """One node's first output, computed by onnx's reference evaluator (``evaluator``) from ``feeds``."""
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
              for name, value in feeds.items()]
    graph = helper.make_graph([node], "fold", inputs,
                              [helper.make_tensor_value_info(node.output[0], onnx.TensorProto.UNDEFINED, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    result = evaluator(model).run(None, feeds)[0]
    return np.asarray(result)
