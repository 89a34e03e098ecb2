"""Per-layer scan-chain configuration: the record, our bit layout, and the file format.

The chip's 1794-bit layout is unpublished ([JSSC III-B]); this is ours, fully
documented in docs/bitstream.md.  Field widths that depend on the array (ID
widths, array size, spad sizes, bank count) come from the hardware
description, so ``layout(hw)`` is the single source of the field list: the
encoder, the decoder, the docs table and the length check all walk it.

File = 20-byte big-endian header + payload bits packed MSB first, zero padded
to a whole byte:  magic "EYSC" | version u16 | layer index u16 |
payload bits u32 | layout id u32 (CRC-32 of the field list: a file written
for another array is refused) | CRC-32 u32 of the 16 bytes before it + payload.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from cost_models.cost import check, variables
from cost_models.errors import InputError
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import RowStationary
from mapper.chip.allocation import NETWORKS, Allocation, NetworkIds, allocate

MAGIC = b"EYSC"
VERSION = 1
HEADER = struct.Struct(">4sHHIII")
KINDS = ("conv", "depthwise", "fc", "matmul")
CHIP_BITS = 1794  # [JSSC III-B]


@dataclass(frozen=True)
class Config:
    """One layer's scan-chain contents (what ``decode`` returns and ``encode`` takes)."""

    layer: LayerShape
    mapping: Mapping
    shift: int  # the ofmap keeps bits [shift, shift + 16) of the wide accumulator
    networks: tuple[NetworkIds, ...]  # filter, ifmap, psum, output
    psum_from_ln: tuple[tuple[bool, ...], ...]  # per PE: psum input from the PE below (else the psum GIN)
    active: tuple[tuple[bool, ...], ...]  # per PE: clocked (False = clock gated)
    psum_banks: tuple[bool, ...]  # per GLB bank: True = psum, False = ifmap

    def network(self, name: str) -> NetworkIds:
        return self.networks[NETWORKS.index(name)]


@dataclass(frozen=True)
class Field:
    """One scan-chain field: dotted name, width in bits, meaning."""

    name: str
    bits: int
    meaning: str


def _bits_for(value: int) -> int:
    return max(1, int(value).bit_length())


@lru_cache(maxsize=8)
def layout(hw: Hardware) -> tuple[Field, ...]:
    """Every field in scan-chain order (the first field is shifted in first).

    Cached per hardware: every encode and decode walks it, and a large design
    (256 x 256 PEs) has some 400,000 fields.
    """
    f: list[Field] = []
    dim = 17  # LayerShape accepts sizes up to 2**16
    for name in ("N",):
        f.append(Field(f"layer.{name}", 21, "batch size (images streamed without reconfiguration)"))
    for name, what in (("M", "filters (all groups)"), ("C", "channels (all groups)"), ("H", "ifmap height, unpadded"),
                       ("W", "ifmap width, unpadded")):
        f.append(Field(f"layer.{name}", dim, what))
    f.append(Field("layer.R", _bits_for(hw.rows), "filter height (PE-set height), <= array rows"))
    f.append(Field("layer.S", _bits_for(hw.max_filter_width), "filter width (1-D primitive taps)"))
    stride_bits = _bits_for(max(max(hw.vertical_strides), hw.max_horizontal_stride))
    f.append(Field("layer.stride_v", stride_bits, "vertical stride U"))
    f.append(Field("layer.stride_h", stride_bits, "horizontal stride"))
    for side in ("top", "left", "bottom", "right"):
        f.append(Field(f"layer.pad_{side}", 8, f"zero padding, {side}"))
    f.append(Field("layer.dilation_v", 8, "vertical dilation D"))
    f.append(Field("layer.dilation_h", 8, "horizontal dilation"))
    f.append(Field("layer.groups", dim, "convolution groups"))
    f.append(Field("layer.kind", 2, "0 conv, 1 depthwise, 2 fc, 3 matmul"))
    f.append(Field("mapping.n", 21, "ifmaps per processing pass"))
    f.append(Field("mapping.e", dim, "PE-set width: ofmap rows per strip"))
    f.append(Field("mapping.p", _bits_for(hw.psum_spad), "filters per PE (broadcast to every PE's control)"))
    f.append(Field("mapping.q", _bits_for(hw.ifmap_spad), "channels per PE (broadcast to every PE's control)"))
    f.append(Field("mapping.r", _bits_for(hw.rows), "PE sets on different channels"))
    f.append(Field("mapping.t", _bits_for(hw.pes), "PE sets on different filters"))
    f.append(Field("mapping.g", _bits_for(hw.pes), "PE sets on different groups"))
    f.append(Field("mapping.m", dim, "ofmap channels whose psums the GLB holds"))
    f.append(Field("shift", 5, "ofmap = saturate16(accumulator >> shift)"))
    for net in NETWORKS:
        for y in range(hw.rows):
            f.append(Field(f"{net}.row_id[{y}]", hw.row_id_bits, f"{net} network row ID of X-bus {y}"))
        for y in range(hw.rows):
            for x in range(hw.cols):
                f.append(Field(f"{net}.col_id[{y}][{x}]", hw.col_id(net), f"{net} network col ID of PE ({y}, {x})"))
    for y in range(hw.rows):
        for x in range(hw.cols):
            f.append(Field(f"pe.psum_from_ln[{y}][{x}]", 1, "1 = psum input from the PE below (local link), 0 = psum GIN"))
    for y in range(hw.rows):
        for x in range(hw.cols):
            f.append(Field(f"pe.active[{y}][{x}]", 1, "1 = clocked, 0 = clock gated (and its multicast controllers off)"))
    for b in range(hw.glb_banks):
        f.append(Field(f"glb.bank[{b}]", 1, "1 = psum bank, 0 = ifmap bank"))
    return tuple(f)


@lru_cache(maxsize=8)
def total_bits(hw: Hardware) -> int:
    return sum(field.bits for field in layout(hw))


@lru_cache(maxsize=8)
def layout_id(hw: Hardware) -> int:
    """CRC-32 of the field names and widths: identifies the layout a file was written with."""
    text = ";".join(f"{field.name}:{field.bits}" for field in layout(hw))
    return zlib.crc32(text.encode("ascii"))


# ---------------------------------------------------------------- config <-> values
def config_for(layer: LayerShape, mapping: Mapping, hw: Hardware, shift: int = 0,
               allocation: Allocation | None = None) -> Config:
    """Emit the configuration of a mapping ``check`` accepts."""
    alloc = allocation or allocate(layer, mapping, hw)
    ifmap_banks = int(RowStationary(layer, hw).glb_footprint(variables(mapping)).ifmap_banks)
    return Config(layer=layer, mapping=mapping, shift=shift, networks=alloc.networks,
                  psum_from_ln=alloc.psum_from_ln, active=alloc.active,
                  psum_banks=tuple(b >= ifmap_banks for b in range(hw.glb_banks)))


def _values(config: Config, hw: Hardware) -> Iterator[int]:
    """Field values in ``layout`` order."""
    L, m = config.layer, config.mapping
    yield from (L.N, L.M, L.C, L.H, L.W, L.R, L.S, L.stride[0], L.stride[1], *L.pads, *L.dilation, L.groups,
                KINDS.index(L.kind))
    yield from (m.n, m.e, m.p, m.q, m.r, m.t, m.g, m.m, config.shift)
    for ids in config.networks:
        yield from ids.row_ids
        for row in ids.col_ids:
            yield from row
    for grid in (config.psum_from_ln, config.active):
        for row in grid:
            yield from (int(v) for v in row)
    yield from (int(v) for v in config.psum_banks)


def _config_from_values(values: list[int], hw: Hardware, where: str) -> Config:
    it = iter(values)
    take = lambda k: [next(it) for _ in range(k)]  # noqa: E731
    N, M, C, H, W, R, S, sv, sh, pt, pl, pb, pr, dv, dh, groups, kind = take(17)
    if kind >= len(KINDS):
        raise InputError(f"layer.kind={kind} is not a known layer kind", where=where)
    try:
        layer = LayerShape(N, M, C, H, W, R, S, stride=(sv, sh), pads=(pt, pl, pb, pr), dilation=(dv, dh),
                           groups=groups, kind=KINDS[kind])
    except InputError as error:
        raise InputError(f"layer shape fields are inconsistent: {error.message}", where=where) from None
    mapping = Mapping(*take(8))
    problems = check(layer, mapping, hw)
    if problems:
        raise InputError(f"mapping fields do not fit the layer on this array: {'; '.join(problems)}", where=where)
    shift = next(it)
    nets = []
    for _ in NETWORKS:
        rows = tuple(take(hw.rows))
        cols = tuple(tuple(take(hw.cols)) for _ in range(hw.rows))
        nets.append(NetworkIds(rows, cols))
    from_ln = tuple(tuple(bool(v) for v in take(hw.cols)) for _ in range(hw.rows))
    active = tuple(tuple(bool(v) for v in take(hw.cols)) for _ in range(hw.rows))
    banks = tuple(bool(v) for v in take(hw.glb_banks))
    return Config(layer, mapping, shift, tuple(nets), from_ln, active, banks)


# ---------------------------------------------------------------- bits <-> bytes
def pack(config: Config, hw: Hardware) -> tuple[bytes, int]:
    """Payload bytes (MSB first) and its bit length."""
    acc, nbits = 0, 0
    for field, value in zip(layout(hw), _values(config, hw), strict=True):
        if not 0 <= value < 2**field.bits:
            raise InputError(f"value {value} does not fit the {field.bits}-bit field", where=field.name)
        acc = (acc << field.bits) | value
        nbits += field.bits
    pad = -nbits % 8
    return (acc << pad).to_bytes((nbits + pad) // 8, "big"), nbits


def unpack(payload: bytes, hw: Hardware, where: str) -> list[int]:
    fields = layout(hw)
    nbits = total_bits(hw)
    acc = int.from_bytes(payload, "big")
    pad = len(payload) * 8 - nbits
    if acc & ((1 << pad) - 1):
        raise InputError("padding bits after the payload are not zero", where=where)
    acc >>= pad
    values = []
    shift = nbits
    for field in fields:
        shift -= field.bits
        values.append((acc >> shift) & ((1 << field.bits) - 1))
    return values


def encode(config: Config, hw: Hardware, layer_index: int = 0) -> bytes:
    """The whole file: header + payload.  Deterministic: same config, same bytes."""
    if not 0 <= layer_index < 2**16:
        raise InputError(f"layer index {layer_index} does not fit 16 bits")
    payload, nbits = pack(config, hw)
    head = HEADER.pack(MAGIC, VERSION, layer_index, nbits, layout_id(hw), 0)[:16]
    crc = zlib.crc32(head + payload)
    return head + struct.pack(">I", crc) + payload


@dataclass(frozen=True)
class Decoded:
    layer_index: int
    config: Config
    bits: int


def decode(data: bytes, hw: Hardware, where: str = "bitstream") -> Decoded:
    """Parse and verify a file; every refusal names its reason (InputError)."""
    if len(data) < HEADER.size:
        raise InputError(f"file is {len(data)} bytes, shorter than the {HEADER.size}-byte header", where=where)
    magic, version, index, nbits, lid, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise InputError(f"bad magic {magic!r} (expected {MAGIC!r}): not an eyeriss bitstream", where=where)
    if version != VERSION:
        raise InputError(f"format version {version} is not supported (this build reads version {VERSION})", where=where)
    expected = total_bits(hw)
    if nbits != expected:
        hint = f"; {wrong_hardware(lid, hw)}" if lid != layout_id(hw) else ""
        raise InputError(f"payload length {nbits} bits does not match the {expected}-bit layout of hardware "
                         f"{hw.name!r}{hint}", where=where)
    if lid != layout_id(hw):
        raise InputError(wrong_hardware(lid, hw), where=where)
    payload = data[HEADER.size:]
    if len(payload) != (nbits + 7) // 8:
        raise InputError(f"payload is {len(payload)} bytes, the header's {nbits} bits need {(nbits + 7) // 8}",
                         where=where)
    actual = zlib.crc32(data[:16] + payload)
    if actual != crc:
        raise InputError(f"CRC-32 mismatch (header {crc:08x}, computed {actual:08x}): the file is corrupted",
                         where=where)
    return Decoded(index, _config_from_values(unpack(payload, hw, where), hw, where), nbits)


def read_file(path: str | Path, hw: Hardware) -> Decoded:
    """Read and decode a bitstream file; only a regular file the size of ``hw``'s layout is read."""
    from cost_models.files import checked_size, read_bounded, read_range

    if checked_size(path, 2**63 - 1, "bitstream") >= HEADER.size:  # the header first: the size limit is hw's
        magic, version, _, _, lid, _ = HEADER.unpack(read_range(Path(path), 0, HEADER.size, HEADER.size, "bitstream"))
        if magic == MAGIC and version == VERSION and lid != layout_id(hw):
            raise InputError(wrong_hardware(lid, hw), where=str(path))
    data = read_bounded(path, HEADER.size + (total_bits(hw) + 7) // 8, "bitstream")
    return decode(data, hw, where=str(path))


def wrong_hardware(lid: int, hw: Hardware) -> str:
    """Why a file with layout ``lid`` does not decode on ``hw``: the bundled hardware it was made for, if any."""
    from cost_models.hardware import bundled_hardware

    matches = [(path, other) for path, other in bundled_hardware() if layout_id(other) == lid]
    if not matches:
        return (f"made for another hardware (layout id {lid:08x}; hardware '{hw.name}' has {layout_id(hw):08x}), "
                "none of the bundled ones: decode with the --hardware FILE.yaml it was compiled for")
    path, other = matches[0]
    return (f"made for hardware '{other.name}' ({other.rows}x{other.cols} PEs, layout id {lid:08x}), "
            f"not '{hw.name}' ({hw.rows}x{hw.cols}): decode with --hardware {path}")
