"""Reading an ONNX file safely: one clear error for every way a file can be wrong.

Weights stored as external data are never read here (shapes are all the mapper
needs), but their locations are checked: an absolute path, a path climbing out
of the model's folder or a symlink resolving outside it is refused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from cost_models.errors import InputError
from frontends.wire import ITEMSIZE, WireError, read_without_weights

MAX_MODEL_BYTES = 2**31  # protobuf's own limit for one message
MIN_OPSET = 7


class FrontendError(InputError):
    """A model the frontend refuses."""


def read_model(model: str | os.PathLike | onnx.ModelProto,
               keep_elements: int | None = None) -> tuple[onnx.ModelProto, Path | None, str]:
    """The model proto (external data not loaded), its path, and the sha256 of its bytes.

    With ``keep_elements``, a file's initializers with more elements than that
    are read without their values (frontends.wire): shapes only, small memory.
    """
    if isinstance(model, onnx.ModelProto):
        return model, None, hashlib.sha256(model.SerializeToString()).hexdigest()
    path = Path(model)
    where = str(path)
    if not path.exists():
        raise FrontendError("no such file", where)
    if not path.is_file():
        raise FrontendError("not a regular file", where)
    size = path.stat().st_size
    if size == 0:
        raise FrontendError("empty file, not an ONNX model", where)
    if size > MAX_MODEL_BYTES:
        raise FrontendError(f"file is {size} bytes, larger than ONNX's 2 GB protobuf limit", where)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    try:
        if keep_elements is None:
            proto = onnx.load(str(path), load_external_data=False)
        else:
            with path.open("rb") as handle:
                proto = onnx.load_model_from_string(read_without_weights(handle, size, keep_elements))
    except WireError as error:
        raise FrontendError(f"not a valid ONNX model: {error}", where) from None
    except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError, OSError) as error:
        raise FrontendError(f"not a valid ONNX model (truncated or corrupt protobuf: {type(error).__name__})",
                            where) from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise FrontendError("not a valid ONNX model (no graph or no nodes)", where)
    check_external_data(proto, path)
    check_tensor_sizes(proto, where, keep_elements)
    return proto, path, digest.hexdigest()


# Typed value fields and the data types that store one element per entry in them.
_TYPED_FIELDS = {
    "float_data": {1},
    "double_data": {11},
    "int64_data": {7},
    "uint64_data": {12, 13},
    "int32_data": {2, 3, 4, 5, 6, 9, 10, 16, 17, 18, 19, 20},
}


def check_tensor_sizes(proto: onnx.ModelProto, where: str, stripped_above: int | None = None) -> None:
    """Refuse embedded tensors whose data disagrees with their dims (before anything reshapes them).

    Tensors with more than ``stripped_above`` elements had their values left
    out by the wire reader (which checked their size itself).
    """
    for tensor in _all_tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            continue
        elements = 1
        for d in tensor.dims:
            elements *= d
        if tensor.raw_data:
            size = ITEMSIZE.get(tensor.data_type)
            found, need, unit = len(tensor.raw_data), elements * (size or 0), "bytes of data"
            if size is None:
                continue
        else:
            field = next((f for f, types in _TYPED_FIELDS.items() if tensor.data_type in types), None)
            if field is None or (stripped_above is not None and elements > stripped_above):
                continue  # a type we do not size-check, or values left out on purpose
            found, need, unit = len(getattr(tensor, field)), elements, "values"
        if found != need:
            raise FrontendError(f"initializer '{tensor.name}' has {found} {unit}, its dims {list(tensor.dims)} need {need}",
                                where)


def check_external_data(proto: onnx.ModelProto, path: Path | None) -> None:
    """Refuse external-data locations outside the model's folder; never open them."""
    base = (path.parent if path is not None else Path.cwd()).resolve()
    for tensor in _all_tensors(proto):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {entry.key: entry.value for entry in tensor.external_data}
        location = entries.get("location", "")
        where = f"{path}: initializer '{tensor.name}'" if path else f"initializer '{tensor.name}'"
        if not location:
            raise FrontendError("external data without a location", where)
        if os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location[:3]:
            raise FrontendError(f"external data location '{location}' is absolute; it must be inside the model's folder", where)
        target = (base / location)
        if ".." in Path(location).parts or not _inside(target.resolve(), base):
            raise FrontendError(f"external data location '{location}' points outside the model's folder", where)


def _inside(target: Path, base: Path) -> bool:
    try:
        target.relative_to(base)
        return True
    except ValueError:
        return False


def _all_tensors(proto: onnx.ModelProto):
    yield from proto.graph.initializer
    for node in proto.graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                yield attribute.t


def opset_of(proto: onnx.ModelProto, where: str) -> int:
    """The default-domain opset; refuse ones older than we handle or newer than onnx knows."""
    versions = [entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")]
    if not versions:
        raise FrontendError("model imports no ai.onnx opset", where)
    version = max(versions)
    newest = onnx.defs.onnx_opset_version()
    if version < MIN_OPSET or version > newest:
        raise FrontendError(f"opset {version} is outside the supported range {MIN_OPSET}..{newest}", where)
    return version


def strip_weights(proto: onnx.ModelProto, keep_elements: int) -> tuple[onnx.ModelProto, set[str]]:
    """A copy holding every tensor's shape but only small tensors' values.

    Large initializers become graph inputs of the same type and shape, so the
    working model stays small whatever the weights weigh (the caller's proto
    and the weights are never duplicated) and external data is never touched.
    Returns the copy and the names of the stripped tensors.
    """
    work = onnx.ModelProto()
    for field in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(work, field, getattr(proto, field))
    work.opset_import.extend(proto.opset_import)
    graph = work.graph
    graph.name = proto.graph.name
    graph.node.extend(proto.graph.node)
    graph.output.extend(proto.graph.output)
    graph.value_info.extend(proto.graph.value_info)
    listed = {value.name for value in proto.graph.input}
    stripped: set[str] = set()
    new_inputs = []
    for tensor in proto.graph.initializer:
        size = 1
        for d in tensor.dims:
            size *= d
        if size <= keep_elements and tensor.data_location != onnx.TensorProto.EXTERNAL:
            graph.initializer.append(tensor)
            continue
        stripped.add(tensor.name)
        if tensor.name not in listed:
            new_inputs.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    for value in proto.graph.input:
        if value.name in stripped:
            original = next(t for t in proto.graph.initializer if t.name == value.name)
            graph.input.append(onnx.helper.make_tensor_value_info(value.name, original.data_type, list(original.dims)))
        else:
            graph.input.append(value)
    graph.input.extend(new_inputs)
    return work, stripped


def check_structure(proto: onnx.ModelProto, where: str) -> None:
    """Every input defined, every output produced once, no cycle; nodes put in topological order.

    onnx.checker would also do this, but it refuses harmless gaps (a graph
    output without a declared shape) that real exporters leave.
    """
    import networkx as nx

    graph = proto.graph
    available = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    producers: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        label = node.name or f"#{index} ({node.op_type})"
        if not node.op_type:
            raise FrontendError(f"node {label} has no operator type", where)
        for out in node.output:
            if not out:
                continue
            if out in producers or out in available:
                raise FrontendError(f"tensor '{out}' is produced more than once (node '{label}')", where)
            producers[out] = index
    order = nx.DiGraph()
    order.add_nodes_from(range(len(graph.node)))
    for index, node in enumerate(graph.node):
        for name in node.input:
            if not name or name in available:
                continue
            if name not in producers:
                raise FrontendError(f"input '{name}' of node '{node.name or index}' is never produced", where)
            order.add_edge(producers[name], index)
    for value in graph.output:
        if value.name not in producers and value.name not in available:
            raise FrontendError(f"graph output '{value.name}' is never produced", where)
    try:
        sorted_nodes = list(nx.lexicographical_topological_sort(order))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(order)
        raise FrontendError(f"the graph has a cycle through node '{graph.node[cycle[0][0]].name}'", where) from None
    if sorted_nodes != list(range(len(graph.node))):
        nodes = [graph.node[i] for i in sorted_nodes]
        copies = [onnx.NodeProto() for _ in nodes]
        for copy, node in zip(copies, nodes):
            copy.CopyFrom(node)
        del graph.node[:]
        graph.node.extend(copies)
