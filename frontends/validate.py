"""The structural checks of a model, before anything reads its values: one pass, linear in its size.

* nodes: onnx's own checker (``onnx.checker.check_node``) for every node of a
  registered operator: input and output counts, attribute names and types, an
  attribute given twice or of type UNDEFINED.  It does not see two things we
  refuse as well: an attribute that refers to a function's attribute
  (``ref_attr_name``) in a graph that is no function, and a name so long it can
  only be an attack (a 1 MB op_type).
* tensors: a valid data type, one value field (not raw_data and float_data
  both), the field that belongs to the type, as many values as the dims need,
  and data at all (a declared 16 GB weight with none is refused, not taken for
  a graph input).  Stripped tensors (frontends.wire) were checked by the reader.

Types flowing into an operator (a STRING weight for a Conv) are checked by
onnx's shape inference with ``check_type`` (frontends.shapes.infer).
"""

from __future__ import annotations

import onnx

from frontends.loading import FrontendError, all_tensors
from frontends.wire import ITEMSIZE

# Longest node, operator or tensor name accepted (assumed: exporters' generated names stay under 300
# characters; 4096 leaves room and keeps error lines and tables readable).
MAX_NAME = 4096
# Most nodes a graph may have (assumed: the largest torchvision exports have a few thousand; a
# 100 000-node chain still loads in seconds, and refusing a million keeps every pass bounded).
MAX_NODES = 200_000

VALID_TYPES = frozenset(onnx.TensorProto.DataType.values()) - {onnx.TensorProto.UNDEFINED}
# Typed value fields and the data types that store one element per entry in them (onnx.proto).
TYPED_FIELDS = {
    "float_data": {1, 14},
    "double_data": {11, 15},
    "int64_data": {7},
    "uint64_data": {12, 13},
    "int32_data": {2, 3, 4, 5, 6, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26},
    "string_data": {8},
}
_PER_ELEMENT = {"float_data": 1, "double_data": 1, "int64_data": 1, "uint64_data": 1, "int32_data": 1,
                "string_data": 1}
_COMPLEX = {14: 2, 15: 2}  # complex numbers take two entries each
_CONTROL_FLOW = {onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS}
_SUBGRAPH_OPS = {"If", "Loop", "Scan", "SequenceMap"}  # operators whose attributes are subgraphs


def check_model(proto: onnx.ModelProto, where: str, stripped_above: int | None = None) -> None:
    """Refuse a model whose nodes or tensors are malformed (FrontendError naming the node or tensor)."""
    nodes = proto.graph.node
    if len(nodes) > MAX_NODES:
        raise FrontendError(f"the graph has {len(nodes)} nodes, more than the {MAX_NODES} supported", where)
    context = onnx.checker.C.CheckerContext()
    context.ir_version = onnx.IR_VERSION
    context.opset_imports = {entry.domain: entry.version for entry in proto.opset_import}
    known: dict[tuple[str, str], bool] = {}  # (op_type, domain) -> onnx has a schema for it
    for index, node in enumerate(nodes):
        check_node(node, index, context, where, known)
    for tensor in all_tensors(proto):
        check_tensor(tensor, where, stripped_above)


def _label(node: onnx.NodeProto, index: int) -> str:
    name = node.name if len(node.name) <= 80 else node.name[:80] + "..."
    return f"node '{name}' (#{index}, {node.op_type[:80]})" if name else f"node #{index} ({node.op_type[:80]})"


def check_node(node: onnx.NodeProto, index: int, context, where: str,
               known: dict[tuple[str, str], bool] | None = None) -> None:
    """One node: name lengths, attributes that only a function may have, then onnx's own node checker.

    ``known`` caches onnx's schema look-ups across the nodes of one model.
    """
    if node.ByteSize() > MAX_NAME:  # a smaller node holds no name longer than MAX_NAME: the common case, one C call
        _check_name_lengths(node, index, where)
    for attribute in node.attribute:
        if len(attribute.name) > MAX_NAME:
            raise FrontendError(f"an attribute name of {_label(node, index)} is {len(attribute.name)} characters long",
                                where)
        if attribute.ref_attr_name:
            raise FrontendError(f"attribute '{attribute.name}' of {_label(node, index)} refers to a function "
                                f"attribute ('{attribute.ref_attr_name[:80]}') outside a function", where)
    if node.op_type in _SUBGRAPH_OPS and any(a.type in _CONTROL_FLOW for a in node.attribute):
        return  # subgraphs: the lowering refuses array layers inside them; onnx's checker would want their scope
    domain = node.domain if node.domain != "ai.onnx" else ""
    if domain != "" and domain not in context.opset_imports:
        return  # a custom operator of a domain the model does not declare: a host op we do not interpret
    key = (node.op_type, domain)
    known = {} if known is None else known
    if key not in known:
        known[key] = onnx.defs.has(node.op_type, domain)
    if not known[key]:
        if domain:
            return  # a custom operator: a host op we do not interpret
        raise FrontendError(f"{_label(node, index)}: no operator '{node.op_type[:80]}' in the ONNX standard", where)
    try:
        onnx.checker.check_node(node, context)
    except (onnx.checker.ValidationError, onnx.defs.SchemaError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FrontendError(f"{_label(node, index)} is malformed: {first}", where) from None


def _check_name_lengths(node: onnx.NodeProto, index: int, where: str) -> None:
    for what, value in (("operator type", node.op_type), ("name", node.name), ("domain", node.domain),
                        *(("input name", n) for n in node.input), *(("output name", n) for n in node.output)):
        if len(value) > MAX_NAME:
            raise FrontendError(f"the {what} of node #{index} is {len(value)} characters long, more than the "
                                f"{MAX_NAME} supported", where)


def check_tensor(tensor: onnx.TensorProto, where: str, stripped_above: int | None = None) -> None:
    """One tensor's type, value fields and size against its dims."""
    name = f"tensor '{tensor.name[:80]}'"
    if tensor.data_type not in VALID_TYPES:
        raise FrontendError(f"{name} has data type {tensor.data_type}, not one ONNX defines", where)
    if any(d < 0 for d in tensor.dims):
        raise FrontendError(f"{name} has a negative dimension {list(tensor.dims)}", where)
    elements = 1
    for d in tensor.dims:
        elements *= d
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return  # its location and size are checked against the file (loading.check_external_data)
    present = [field for field in ("raw_data", *TYPED_FIELDS) if _has(tensor, field)]
    if len(present) > 1:
        raise FrontendError(f"{name} holds its values twice ({' and '.join(present)}); ONNX allows one field", where)
    if stripped_above is not None and elements > stripped_above:
        return  # values left out by frontends.wire, which checked them
    if not present:
        if elements:
            raise FrontendError(f"{name} declares {elements} elements {list(tensor.dims)} but holds no data", where)
        return
    field = present[0]
    if field == "raw_data":
        size = ITEMSIZE.get(tensor.data_type)
        if size is not None and len(tensor.raw_data) != elements * size:
            raise FrontendError(f"initializer '{tensor.name[:80]}' has {len(tensor.raw_data)} bytes of data, its dims "
                                f"{list(tensor.dims)} need {elements * size}", where)
        return
    if tensor.data_type not in TYPED_FIELDS[field]:
        kind = onnx.TensorProto.DataType.Name(tensor.data_type)
        raise FrontendError(f"{name} of type {kind} stores its values in {field}, which is not that type's field",
                            where)
    need = elements * _COMPLEX.get(tensor.data_type, 1)
    found = len(getattr(tensor, field))
    if tensor.data_type in (21, 22, 23, 25, 26):  # 4-bit and 2-bit types pack several elements per entry
        return
    if found != need:
        raise FrontendError(f"initializer '{tensor.name[:80]}' has {found} values, its dims {list(tensor.dims)} need "
                            f"{need}", where)


def _has(tensor: onnx.TensorProto, field: str) -> bool:
    return bool(tensor.raw_data) if field == "raw_data" else len(getattr(tensor, field)) > 0
