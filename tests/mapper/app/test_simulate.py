"""``eyeriss simulate``: the compile folder's own bitstreams, decoded and simulated (issue 31).

Nothing is mapped again: a folder is checked as shipped, a model is compiled first with compile's options and
the folder that compile wrote is checked.  Editing one shipped bitstream must make exactly that layer fail.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from cost_models.hardware import default_hardware
from harness import run_cli
from mapper import compile_model
from mapper.app.outdir import MANIFEST_FILE, manifest_bytes
from mapper.chip.bitstream import decode, encode

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
HW = default_hardware()

pytestmark = pytest.mark.xdist_group("test_simulate")


def _copy(folder: Path, tmp: Path) -> Path:
    target = tmp / folder.name
    shutil.copytree(folder, target)
    return target


def _rehash(folder: Path) -> None:
    """Refresh the manifest as if eyeriss had written the edited files (so only the content is wrong)."""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name != MANIFEST_FILE}
    (folder / MANIFEST_FILE).write_bytes(manifest_bytes(files))


def _bitstream(folder: Path, layer: str) -> Path:
    return next((folder / "bitstreams").glob(f"*_{layer}.bin"))


def _edit(folder: Path, layer: str, change) -> None:
    """Re-encode one shipped bitstream (a valid file: header, CRC, field ranges) with ``change(config)``."""
    path = _bitstream(folder, layer)
    decoded = decode(path.read_bytes(), HW)
    path.write_bytes(encode(change(decoded.config), HW, decoded.layer_index))
    _rehash(folder)


def _simulate(argv: list[str], tmp: Path) -> tuple[int, dict | None, str]:
    result = run_cli(["simulate", *argv, "--json"], tmp / "cwd")
    return result.code, json.loads(result.stdout) if result.stdout.strip() else None, result.stderr


def test_the_folder_as_compiled_simulates_bit_exact_on_its_own_weights(lenet, tmp_path):
    code, data, _ = _simulate([str(lenet)], tmp_path)
    assert code == 0 and data["matched"]
    report = json.loads((lenet / "report.json").read_text())
    assert [row["name"] for row in data["layers"]] == [layer["name"] for layer in report["layers"]]
    for row, layer in zip(data["layers"], report["layers"]):
        assert row["matched"] and row["weights"] == "folder" and row["file"] == layer["bitstream"]["file"]
        assert row["mapping"] == {k: v for k, v in layer["mapping"].items() if k != "placement"}
        assert row["shift"] == layer["formats"]["shift"]


def test_a_changed_network_id_in_one_shipped_bitstream_fails_that_layer(lenet, tmp_path):
    tampered = _copy(lenet, tmp_path)

    def listen_to_row_1(config):  # X-bus 0 of the filter network now takes filter row 1's words
        net = config.network("filter")
        rows = (net.row_ids[1],) + net.row_ids[1:]
        return replace(config, networks=(replace(net, row_ids=rows),) + config.networks[1:])

    _edit(tampered, "conv1", listen_to_row_1)
    code, data, _ = _simulate([str(tampered)], tmp_path)
    assert code == 1 and not data["matched"]
    assert [row["name"] for row in data["layers"] if not row["matched"]] == ["conv1"]


def test_a_bitstream_that_disagrees_with_the_report_fails_naming_the_field(lenet, tmp_path):
    tampered = _copy(lenet, tmp_path)
    _edit(tampered, "conv2", lambda config: replace(config, shift=config.shift + 1))
    code, data, _ = _simulate([str(tampered)], tmp_path)
    failed = {row["name"]: row for row in data["layers"] if not row["matched"]}
    assert code == 1 and list(failed) == ["conv2"]
    assert "write-back shift" in failed["conv2"]["reason"] and "report" in failed["conv2"]["reason"]


def test_a_corrupt_bitstream_fails_its_layer_and_a_stale_hash_refuses_the_folder(lenet, tmp_path):
    corrupt = _copy(lenet, tmp_path / "a")
    path = _bitstream(corrupt, "gemm1")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    stale = _copy(corrupt, tmp_path / "b")
    code, report, stderr = _simulate([str(stale)], tmp_path)
    assert code == 2 and report is None and "was changed since eyeriss wrote it" in stderr
    _rehash(corrupt)
    code, report, _ = _simulate([str(corrupt)], tmp_path)
    failed = {row["name"]: row["reason"] for row in report["layers"] if not row["matched"]}
    assert code == 1 and list(failed) == ["gemm1"] and "CRC" in failed["gemm1"]


def test_simulate_model_checks_what_compile_writes_with_compiles_options(tmp_path):
    model = EXAMPLES / "lenet5.onnx"
    compiled = compile_model(model, cache=False, mapping_space="jssc", objective="latency")
    code, data, _ = _simulate([str(model), "--mapping-space", "jssc", "--objective", "latency", "--no-cache"],
                              tmp_path)
    assert code == 0 and data["matched"]
    assert [row["mapping"] for row in data["layers"]] == [layer.result.mapping.as_dict() for layer in compiled.layers]


def test_compile_options_on_a_folder_and_hardware_against_the_folders_own_are_refused(lenet, tmp_path):
    for extra in (["--batch", "2"], ["--objective", "latency"], ["--hardware", str(ROOT / "cost_models/data/large.yaml")]):
        code, data, stderr = _simulate([str(lenet), *extra], tmp_path)
        assert code == 2 and data is None and (extra[0] in stderr or "its own hardware" in stderr), stderr


def test_a_folder_without_a_program_simulates_on_seeded_weights(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], name="conv")], "shapes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 10, 10]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [8, 4, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])])
    model = tmp_path / "shapes.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    out = tmp_path / "out"
    compile_model(model, cache=False).save(out)
    assert not (out / "program").exists()
    code, data, _ = _simulate([str(out), "--seed", "7"], tmp_path)
    assert code == 0 and [row["weights"] for row in data["layers"]] == ["random"]
