"""Bitstream files: exact round trip, deterministic bytes, documented size, every corruption refused."""

from __future__ import annotations

import dataclasses
import functools
import json
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_models.cost import check
from cost_models.errors import InputError
from cost_models.hardware import default_hardware, hardware_from_dict
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from mapper.app.atomic import atomic_write_bytes
from mapper.chip.bitstream import CHIP_BITS, HEADER, KINDS, config_for, decode, encode, layout, read_file, total_bits
from mapper.app.cli import main
from test_allocation import PUBLISHED, layer_and_mapping  # tests/mapper/chip is on sys.path (prepend import mode)

HW = default_hardware()
ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def first_valid(layer: LayerShape) -> Mapping | None:
    """A cheap deterministic valid mapping (widest set first), standing in for the search on big networks."""
    for e in range(layer.E, 0, -1):
        for p, q in ((min(layer.Mg, 4), 1), (1, 1)):
            mapping = Mapping(1, e, p, q, 1, 1, 1, p)
            if check(layer, mapping, HW) == []:
                return mapping
    return None


@functools.lru_cache(maxsize=None)
def example_layers() -> tuple[tuple[str, LayerShape], ...]:
    from frontends import array_layers, load_onnx

    out = []
    for path in sorted(EXAMPLES.glob("*.onnx")):
        out.extend((f"{path.stem}/{name}", layer) for name, layer in array_layers(load_onnx(path)))
    return tuple(out)


def test_total_bits_is_documented() -> None:
    bits = total_bits(HW)
    assert bits == 3672
    doc = (ROOT / "docs" / "bitstream.md").read_text(encoding="utf-8")
    assert f"{bits}" in doc and f"{CHIP_BITS}" in doc
    for field in ("magic", "version", "layer index", "CRC-32", "psum_from_ln", "glb.bank"):
        assert field in doc


def test_field_widths_follow_the_hardware() -> None:
    data = dict(HW.as_dict())
    data["array"] = {"rows": 8, "cols": 10}
    data["noc"] = {**data["noc"], "col_id_bits": {**data["noc"]["col_id_bits"], "ifmap": 6}}
    small = hardware_from_dict(data)
    widths = {f.name: f.bits for f in layout(small)}
    assert "filter.row_id[7]" in widths and "filter.row_id[8]" not in widths
    assert widths["ifmap.col_id[0][0]"] == 6 and "pe.active[7][9]" in widths
    layer, mapping = PUBLISHED["conv3"]
    with pytest.raises(InputError, match="payload length"):
        decode(encode(config_for(layer, mapping, HW), HW), small)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_round_trip_published(name: str) -> None:
    layer, mapping = PUBLISHED[name]
    config = config_for(layer, mapping, HW, shift=7)
    data = encode(config, HW, layer_index=3)
    assert data == encode(config, HW, layer_index=3)  # deterministic
    decoded = decode(data, HW)
    assert decoded.config == config and decoded.layer_index == 3 and decoded.bits == total_bits(HW)


def test_round_trip_every_example_layer() -> None:
    from mapper.search.cpsat import map_layer

    layers = example_layers()
    assert len(layers) > 50
    for index, (name, layer) in enumerate(layers):
        if name.startswith("lenet5/"):
            mapping = map_layer(layer, HW, time_limit=5).mapping
        else:
            mapping = first_valid(layer)
        assert mapping is not None, name
        config = config_for(layer, mapping, HW, shift=index % 32)
        assert decode(encode(config, HW, index), HW).config == config, name


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(layer_and_mapping(), st.integers(0, 31), st.integers(0, 2**16 - 1), st.sampled_from(KINDS))
def test_round_trip_random(case: tuple[LayerShape, Mapping], shift: int, index: int, kind: str) -> None:
    layer, mapping = case
    config = config_for(dataclasses.replace(layer, kind=kind), mapping, HW, shift=shift)
    decoded = decode(encode(config, HW, index), HW)
    assert decoded.config == config and decoded.layer_index == index


def _valid_file() -> bytes:
    layer, mapping = PUBLISHED["conv4"]
    return encode(config_for(layer, mapping, HW, shift=5), HW, 1)


def _recrc(data: bytes) -> bytes:
    """Re-seal a modified file with a correct CRC (to reach the checks after it)."""
    crc = zlib.crc32(data[:16] + data[HEADER.size:])
    return data[:16] + struct.pack(">I", crc) + data[HEADER.size:]


@pytest.mark.parametrize("corrupt, reason", [
    (lambda d: b"XXXX" + d[4:], "bad magic"),
    (lambda d: d[:4] + struct.pack(">H", 9) + d[6:], "version 9"),
    (lambda d: d[:8] + struct.pack(">I", 1794) + d[12:], "payload length 1794"),
    (lambda d: d[:-1], "payload is"),
    (lambda d: d[:10], "shorter than"),
    (lambda d: d[:12] + struct.pack(">I", 0) + d[16:], "layout id"),
    (lambda d: d[:30] + bytes([d[30] ^ 0x10]) + d[31:], "CRC-32 mismatch"),
    (lambda d: _recrc(d + b"\0"), "payload is"),
])
def test_corrupt_files_are_refused(corrupt, reason: str, tmp_path: Path, capsys) -> None:
    bad = corrupt(_valid_file())
    with pytest.raises(InputError, match=reason):
        decode(bad, HW, where="x.bin")
    path = tmp_path / "bad.bin"
    path.write_bytes(bad)
    assert main(["decode", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err


def test_inconsistent_shape_fields_are_refused() -> None:
    layer, mapping = PUBLISHED["conv3"]
    config = dataclasses.replace(config_for(layer, mapping, HW), layer=dataclasses.replace(layer, groups=1))
    data = bytearray(encode(config, HW))
    # groups is a 17-bit field; writing 3 (does not divide C=256) must be refused on decode.
    offset = sum(f.bits for f in layout(HW)[:15])
    for k in range(17):
        bit = offset + k
        value = (3 >> (16 - k)) & 1
        byte, pos = HEADER.size + bit // 8, 7 - bit % 8
        data[byte] = (data[byte] & ~(1 << pos)) | (value << pos)
    with pytest.raises(InputError, match="inconsistent"):
        decode(_recrc(bytes(data)), HW)


def test_invalid_mapping_fields_are_refused() -> None:
    layer, mapping = PUBLISHED["conv3"]
    config = dataclasses.replace(config_for(layer, mapping, HW), mapping=dataclasses.replace(mapping, p=24))
    with pytest.raises(InputError, match="mapping fields"):
        decode(encode(config, HW), HW)  # p*q*S = 288 > the 224-word filter spad


def test_write_and_decode_cli(tmp_path: Path, capsys) -> None:
    layer, mapping = PUBLISHED["conv2"]
    path = tmp_path / "conv2.bin"
    config = config_for(layer, mapping, HW, shift=9)
    atomic_write_bytes(path, encode(config, HW, 1))
    assert [p.name for p in tmp_path.iterdir()] == ["conv2.bin"]  # no temporary file left behind
    assert read_file(path, HW).config == config
    assert main(["decode", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mapping"] == mapping.as_dict() and data["shift"] == 9 and data["payload_bits"] == 3672
    assert data["networks"]["filter"]["row_ids"] == list(config.network("filter").row_ids)
    assert data["glb"]["ifmap_banks"] + data["glb"]["psum_banks"] == 25
    assert main(["decode", str(path)]) == 0
    text = capsys.readouterr().out
    for heading in ("filter network", "ifmap network", "psum network", "output network", "psum source",
                    "clock gating", "GLB banks"):
        assert heading in text
    assert main(["decode", str(tmp_path / "missing.bin")]) == 2
