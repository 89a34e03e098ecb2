"""Read an ONNX file without its large weight values: a streaming pass over the protobuf wire format.

Compiling needs every tensor's shape but no weight values, and ``onnx.load``
would hold the whole file twice (its bytes and the parsed message): 1 GB
for a 500 MB model.  This pass copies the file's fields into a new message,
seeking past the value fields (raw_data, float_data, ...) of every
initializer with more than ``keep_elements`` elements, so memory stays at
the size of the graph without its weights.  The tensors keep their name,
type and dims; ``strip_weights`` then turns them into typed graph inputs.

Wire format: https://protobuf.dev/programming-guides/encoding/ ; field
numbers from onnx.proto (ModelProto.graph = 7, GraphProto.node = 1, GraphProto.initializer = 5,
TensorProto.dims = 1, data_type = 2, values = 4-7, 9-11, data_location = 14).
"""

from __future__ import annotations

from typing import BinaryIO

MODEL_GRAPH = 7
GRAPH_NODE = 1
GRAPH_INITIALIZER = 5
TENSOR_DIMS = 1
TENSOR_DATA_TYPE = 2
TENSOR_NAME = 8
TENSOR_RAW_DATA = 9
TENSOR_VALUE_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})
TENSOR_DATA_LOCATION = 14
EXTERNAL = 1  # TensorProto.DataLocation
# Bytes per element of raw_data by TensorProto.DataType (onnx.proto); types not
# listed (strings, complex, 4-bit) are not size-checked.
ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1}
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class WireLimit(WireError):
    """The message is well formed so far but larger than the reader accepts."""


def _read_varint(handle: BinaryIO, limit: int) -> int:
    value, shift = 0, 0
    while True:
        if handle.tell() >= limit:
            raise WireError("truncated varint")
        byte = handle.read(1)
        if not byte:
            raise WireError("truncated varint")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _fields(handle: BinaryIO, end: int):
    """(field number, wire type, start of the field, start of its value, end of the field) up to ``end``."""
    while handle.tell() < end:
        start = handle.tell()
        key = _read_varint(handle, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        value_start = handle.tell()
        if wire == VARINT:
            _read_varint(handle, end)
            stop = handle.tell()
        elif wire == FIXED64:
            stop = value_start + 8
        elif wire == FIXED32:
            stop = value_start + 4
        elif wire == LENGTH:
            length = _read_varint(handle, end)
            value_start = handle.tell()
            stop = value_start + length
        else:
            raise WireError(f"unsupported wire type {wire}")
        if stop > end:
            raise WireError("field runs past the end of its message")
        handle.seek(stop)
        yield field, wire, start, value_start, stop


def _copy(handle: BinaryIO, start: int, stop: int) -> bytes:
    handle.seek(start)
    data = handle.read(stop - start)
    if len(data) != stop - start:
        raise WireError("truncated")
    return data


def _dims(handle: BinaryIO, wire: int, value_start: int, stop: int) -> list[int]:
    handle.seek(value_start)
    if wire == VARINT:
        return [_read_varint(handle, stop)]
    dims = []
    while handle.tell() < stop:  # packed repeated int64
        dims.append(_read_varint(handle, stop))
    return dims


def _tensor(handle: BinaryIO, start: int, end: int, keep_elements: int, spans: list | None) -> bytes:
    """The tensor's bytes, without its values if it has more than ``keep_elements`` elements.

    With ``spans``, only values held in raw_data are left out, and where they lie in the file is appended
    ((offset, length), or None for a tensor kept whole): they can be read later without parsing the file.
    """
    fields = list(_fields(handle, end))
    dims: list[int] = []
    data_type, raw_bytes, raw_start, name, location = 0, None, 0, b"", 0
    for field, wire, _, value_start, stop in fields:
        if field == TENSOR_DIMS:
            dims += _dims(handle, wire, value_start, stop)
        elif field == TENSOR_DATA_TYPE and wire == VARINT:
            handle.seek(value_start)
            data_type = _read_varint(handle, stop)
        elif field == TENSOR_RAW_DATA and wire == LENGTH:
            raw_bytes, raw_start = stop - value_start, value_start
        elif field == TENSOR_NAME and wire == LENGTH:
            name = _copy(handle, value_start, stop)
        elif field == TENSOR_DATA_LOCATION and wire == VARINT:  # onnx.save writes DEFAULT (0) explicitly too
            handle.seek(value_start)
            location = _read_varint(handle, stop)
    external = location == EXTERNAL
    elements = 1
    for d in dims:
        elements *= d
    present = {field for field, *_ in fields}
    in_raw_data = raw_bytes is not None and present & TENSOR_VALUE_FIELDS == {TENSOR_RAW_DATA} and not external
    drop = elements > keep_elements and (spans is None or in_raw_data)
    if spans is not None:
        spans.append((raw_start, raw_bytes) if drop else None)
    if drop:
        _check_dropped(name.decode("utf-8", "replace")[:80], dims, elements, data_type, raw_bytes, present, external)
    out = bytearray()
    for field, _, field_start, _, stop in fields:
        if drop and field in TENSOR_VALUE_FIELDS:
            continue
        out += _copy(handle, field_start, stop)
    handle.seek(end)
    return bytes(out)


def _check_dropped(name: str, dims: list[int], elements: int, data_type: int, raw_bytes: int | None,
                   present: set[int], external: bool) -> None:
    """What frontends.validate checks on a tensor, for one whose values are skipped: nothing later could notice."""
    values = present & TENSOR_VALUE_FIELDS
    if len(values) > 1:
        raise WireError(f"initializer '{name}' holds its values in {len(values)} fields; ONNX allows one")
    if not values and not external:
        raise WireError(f"initializer '{name}' declares {elements} elements {dims} but holds no data")
    if raw_bytes is not None and data_type in ITEMSIZE and raw_bytes != elements * ITEMSIZE[data_type]:
        raise WireError(f"initializer '{name}' has {raw_bytes} bytes of data, its dims {dims} need "
                        f"{elements * ITEMSIZE[data_type]}")


def _message(handle: BinaryIO, end: int, path: tuple[int, ...], keep_elements: int, max_nodes: int | None,
             spans: list | None) -> bytes:
    out = bytearray()
    nodes = 0
    for field, wire, start, value_start, stop in _fields(handle, end):
        inner = path + (field,)
        if inner == (MODEL_GRAPH, GRAPH_NODE):
            nodes += 1
            if max_nodes is not None and nodes > max_nodes:  # refused before parsing a 2 GB file of nodes
                raise WireLimit(f"the graph has more than the {max_nodes} nodes supported")
        if wire == LENGTH and inner == (MODEL_GRAPH,):
            handle.seek(value_start)
            body = _message(handle, stop, inner, keep_elements, max_nodes, spans)
        elif wire == LENGTH and inner == (MODEL_GRAPH, GRAPH_INITIALIZER):
            handle.seek(value_start)
            body = _tensor(handle, value_start, stop, keep_elements, spans)
        else:
            out += _copy(handle, start, stop)
            continue
        out += _varint((field << 3) | LENGTH) + _varint(len(body)) + body
        handle.seek(stop)
    return bytes(out)


def read_without_weights(handle: BinaryIO, size: int, keep_elements: int, max_nodes: int | None = None,
                         spans: list | None = None) -> bytes:
    """The serialized ModelProto in ``handle`` with large initializers' values left out (WireLimit past
    ``max_nodes`` graph nodes); ``spans``: see ``_tensor`` (one entry per graph initializer, in order)."""
    handle.seek(0)
    return _message(handle, size, (), keep_elements, max_nodes, spans)
