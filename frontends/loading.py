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
from cost_models.files import (MAX_MODEL_BYTES, Identity, checked_path_text, checked_size, file_identity,
                               open_regular)
from frontends.wire import ITEMSIZE, WireError, WireLimit, read_without_weights

MIN_OPSET = 7


class FrontendError(InputError):
    """A model the frontend refuses."""


def read_model(model: str | os.PathLike | onnx.ModelProto, keep_elements: int | None = None,
               max_nodes: int | None = None, missing: list[str] | None = None,
               named: dict[str, Identity | None] | None = None
               ) -> tuple[onnx.ModelProto, Path | None, str]:
    """The model proto (external data not loaded), its path, and the sha256 of its bytes.

    With ``keep_elements``, a file's initializers with more elements than that
    are read without their values (frontends.wire): shapes only, small memory;
    a graph of more than ``max_nodes`` nodes is then refused before it is parsed.
    ``missing``: external-data files that do not exist are listed there instead
    of refused (mapping needs shapes only); every other external-data check stays.
    ``named``: every external-data location the model names (relative to its folder), each once, is put there
    with its file's identity now, before any weight is read (None: absent); the output cache compares it.
    """
    if isinstance(model, onnx.ModelProto):
        return model, None, hashlib.sha256(model.SerializeToString()).hexdigest()
    path = Path(model)
    where = str(path)
    handle, size = open_regular(path, MAX_MODEL_BYTES, "ONNX model")
    with handle:
        if size == 0:
            raise FrontendError("empty file, not an ONNX model", where)
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
        handle.seek(0)
        try:
            if keep_elements is None:
                proto = onnx.load_model_from_string(handle.read())
            else:
                proto = onnx.load_model_from_string(read_without_weights(handle, size, keep_elements, max_nodes))
        except WireLimit as error:
            raise FrontendError(str(error), where) from None
        except WireError as error:
            raise FrontendError(f"not a valid ONNX model: {error}", where) from None
        except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError, OSError) as error:
            raise FrontendError(f"not a valid ONNX model (truncated or corrupt protobuf: {type(error).__name__})",
                                where) from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise FrontendError("not a valid ONNX model (no graph or no nodes)", where)
    check_external_data(proto, path, missing, named)
    return proto, path, digest.hexdigest()


def check_external_data(proto: onnx.ModelProto, path: Path | None, missing: list[str] | None = None,
                        named: dict[str, Identity | None] | None = None) -> None:
    """Refuse external data outside the model's folder, or that its file cannot hold; never read it.

    The location must be a relative path inside the model's folder (no URL, no
    ``..``, no symlink out); the file there a regular file (not a FIFO, a folder
    or a device) holding ``offset + length`` bytes, the length the tensor's
    dims and type need (the file is stat'ed, never opened).  A file that does
    not exist is refused, unless ``missing`` collects it: an architecture-only
    export (its weights file not shipped) still maps, from shapes alone.
    """
    base = (path.parent if path is not None else Path.cwd()).resolve()
    for tensor in all_tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            external_span(tensor, base, path, missing)
            location = next(entry.value for entry in tensor.external_data if entry.key == "location")
            if named is not None and location not in named:
                named[location] = file_identity(base / location)


def external_span(tensor: onnx.TensorProto, base: Path, path: Path | None, missing: list[str] | None = None
                  ) -> tuple[Path, int, int] | None:
    """(file, offset, length) of an external tensor's data, every part checked (FrontendError); None for
    a file that does not exist when ``missing`` collects such files."""
    entries = {entry.key: entry.value for entry in tensor.external_data}
    location = entries.get("location", "")
    where = f"{path}: initializer '{tensor.name[:80]}'" if path else f"initializer '{tensor.name[:80]}'"
    if not location:
        raise FrontendError("external data without a location", where)
    checked_path_text(location, "external data location", where, FrontendError)
    if os.path.isabs(location) or location.startswith(("/", "\\")) or ":" in location:
        raise FrontendError(f"external data location '{location[:200]}' is absolute or a URL; it must be a relative "
                            "path inside the model's folder", where)
    try:
        target = (base / location).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise FrontendError(f"external data location '{location[:200]}' is a symlink loop", where) from None
    if ".." in Path(location).parts or not _inside(target, base):
        raise FrontendError(f"external data location '{location[:200]}' points outside the model's folder", where)
    try:
        offset, length = (int(entries.get(key) or 0) for key in ("offset", "length"))
    except ValueError:
        raise FrontendError("external data offset and length must be integers", where) from None
    elements = 1
    for d in tensor.dims:
        elements *= max(0, d)
    need = elements * ITEMSIZE.get(tensor.data_type, 0)
    if "length" not in entries:
        length = need
    if offset < 0 or length < 0 or (tensor.data_type in ITEMSIZE and length != need):
        raise FrontendError(f"external data length {length} (offset {offset}) does not match the {need} bytes its "
                            f"dims {list(tensor.dims)} need", where)
    if not os.path.lexists(base / location):
        if missing is not None:
            missing.append(location)
            return None
        raise missing_weights_error(location, where)
    try:
        size = checked_size(base / location, 2**63 - 1, "external data")
    except InputError as error:
        raise FrontendError(f"external data '{location[:200]}': {error.message}", where) from None
    if offset + length > size:
        raise FrontendError(f"external data file '{location[:200]}' is {size} bytes; the tensor needs {length} at "
                            f"offset {offset}", where)
    return base / location, offset, length


def _inside(target: Path, base: Path) -> bool:
    try:
        target.relative_to(base)
        return True
    except ValueError:
        return False


def all_tensors(proto: onnx.ModelProto):
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
    by_name = {tensor.name: tensor for tensor in proto.graph.initializer if tensor.name in stripped}
    for value in proto.graph.input:
        if value.name in stripped:
            original = by_name[value.name]  # a dict: 20 000 external weights listed as inputs are no 4e8 scans
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
    graph = proto.graph
    available = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    producers: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        if not node.op_type:
            raise FrontendError(f"node {node.name or f'#{index}'} has no operator type", where)
        for out in node.output:
            if not out:
                continue
            if out in producers or out in available:
                label = node.name or f"#{index} ({node.op_type})"
                raise FrontendError(f"tensor '{out}' is produced more than once (node '{label}')", where)
            producers[out] = index
    edges: list[tuple[int, int]] = []
    for index, node in enumerate(graph.node):
        for name in node.input:
            if not name or name in available:
                continue
            if name not in producers:
                raise FrontendError(f"input '{name}' of node '{node.name or index}' is never produced", where)
            edges.append((producers[name], index))
    for value in graph.output:
        if value.name not in producers and value.name not in available:
            raise FrontendError(f"graph output '{value.name}' is never produced", where)
    if all(source < target for source, target in edges):
        return  # every node after its inputs' producers: already in order, and no cycle
    sorted_nodes = _topological_order(len(graph.node), edges, graph, where)
    nodes = [graph.node[i] for i in sorted_nodes]
    copies = [onnx.NodeProto() for _ in nodes]
    for copy, node in zip(copies, nodes):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def _topological_order(count: int, edges: list[tuple[int, int]], graph: onnx.GraphProto, where: str) -> list[int]:
    """Node indices in topological order, the smallest ready index first (the file's order where it can be kept)."""
    import heapq

    successors: list[list[int]] = [[] for _ in range(count)]
    waiting = [0] * count
    for source, target in edges:
        successors[source].append(target)
        waiting[target] += 1
    ready = [index for index in range(count) if not waiting[index]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for target in successors[index]:
            waiting[target] -= 1
            if not waiting[target]:
                heapq.heappush(ready, target)
    if len(order) < count:
        node = graph.node[_on_a_cycle(edges, waiting)]
        raise FrontendError(f"the graph has a cycle through node '{node.name or node.op_type}'", where)
    return order


def _on_a_cycle(edges: list[tuple[int, int]], waiting: list[int]) -> int:
    """A node on a cycle: walking back from a node left waiting, through predecessors left waiting, repeats one."""
    stuck_from: dict[int, int] = {}
    for source, target in edges:
        if waiting[source] and waiting[target]:
            stuck_from.setdefault(target, source)
    index, seen = next(iter(stuck_from)), set()
    while index not in seen:
        seen.add(index)
        index = stuck_from[index]
    return index


def missing_weights_error(location: str, where: str) -> FrontendError:
    """The one refusal of a model whose external weights file is not there, where weights are needed."""
    return FrontendError(f"external data '{location[:200]}': no such file (simulate and run need the weights; "
                         "inspect and compile map from shapes alone)", where)
