"""The output cache (mapper.app.output_cache): the same inputs again replay the stored folder; any other input,
a damaged entry or a clock limit compiles.

Whether a run compiled is observed, not assumed: ``compile_model`` is wrapped to count its calls.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import mapper.app.compiler as compiler
from harness import Run, run_cli
from mapper.app import output_cache
from mapper.search.cache_meta import entry_digest

ROOT = Path(__file__).resolve().parents[3]
LENET = ROOT / "examples" / "lenet5.onnx"


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def compiles(monkeypatch) -> list[str]:
    """The models ``compile_model`` was called on in this test (a replay calls it on none)."""
    calls: list[str] = []
    real = compiler.compile_model

    def counted(model, **options):
        calls.append(str(model))
        return real(model, **options)

    monkeypatch.setattr(compiler, "compile_model", counted)
    return calls


def compile_(model: Path, out: Path, cache: Path, *more: str) -> Run:
    return run_cli(("compile", str(model), "-o", str(out), "--cache", str(cache), *more), env={"COLUMNS": "100"})


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "compiles").rglob("*.bin"))


def test_a_rerun_writes_the_same_files_and_prints_the_same_without_compiling(tmp_path, compiles):
    first = compile_(LENET, tmp_path / "a", tmp_path / "cache")
    second = compile_(LENET, tmp_path / "b", tmp_path / "cache")
    assert first.code == second.code == 0 and len(compiles) == 1, (first.stderr, second.stderr)
    assert len(entries(tmp_path / "cache")) == 1
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
    assert second.stdout == first.stdout.replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert second.stderr == first.stderr
    json_run = run_cli(("compile", str(LENET), "-o", str(tmp_path / "c"), "--cache", str(tmp_path / "cache"),
                        "--json"))
    assert len(compiles) == 1 and json_run.stdout.encode() == (tmp_path / "a" / "report.json").read_bytes()


def test_a_partial_compile_replays_its_exit_code_and_errors(tmp_path, compiles):
    runs = [compile_(LENET, tmp_path / name, tmp_path / "cache", "--layer-latency-ms", "0.001") for name in "ab"]
    assert [run.code for run in runs] == [1, 1] and len(compiles) == 1
    assert runs[0].stderr == runs[1].stderr and "no valid mapping" in runs[1].stderr


def _external_model(folder: Path, scale: float) -> Path:
    """A one-convolution model whose weights live in an external file, ``scale`` deciding their values."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = numpy_helper.from_array((np.arange(4 * 3 * 3 * 3, dtype=np.float32).reshape(4, 3, 3, 3) * scale),
                                      "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "ext",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 14, 14])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (folder / "w.bin").unlink(missing_ok=True)  # onnx.save appends to an existing data file
    onnx.save(model, folder / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=0)
    return folder / "m.onnx"


def _hardware_copy(path: Path, comment: str) -> Path:
    path.write_text(f"# {comment}\n" + (ROOT / "cost_models" / "data" / "eyeriss.yaml").read_text())
    return path


@pytest.mark.parametrize("change", ["option", "model bytes", "external weights", "hardware bytes", "command"])
def test_every_input_is_in_the_key(tmp_path, compiles, change):
    """Each change makes the next compile run (and its output is then a fresh compile's); unchanged, it replays."""
    cache = tmp_path / "cache"
    model = LENET
    more: tuple[str, ...] = ()
    if change in ("model bytes", "external weights"):
        model = _external_model(tmp_path / "model", 1.0)
    if change == "hardware bytes":
        more = ("--hardware", str(_hardware_copy(tmp_path / "hw.yaml", "first")))
    assert compile_(model, tmp_path / "a", cache, *more).code == 0
    assert compile_(model, tmp_path / "b", cache, *more).code == 0 and len(compiles) == 1  # unchanged: replayed
    command = "compile"
    if change == "option":
        more = ("--objective", "latency")
    elif change == "model bytes":
        proto = onnx.load(model, load_external_data=False)
        proto.producer_name = "another exporter"
        onnx.save(proto, model)
    elif change == "external weights":
        before = model.read_bytes()
        _external_model(tmp_path / "model", 2.0)
        assert model.read_bytes() == before  # the same .onnx bytes, other weights in w.bin
    elif change == "hardware bytes":
        _hardware_copy(tmp_path / "hw.yaml", "second")
    else:
        command = "evaluate"
        assert run_cli(("report", str(tmp_path / "a"), "--mappings-out", str(tmp_path / "map.yaml"))).code == 0
        more = ("--mapping", str(tmp_path / "map.yaml"))
    run = run_cli((command, str(model), "-o", str(tmp_path / "c"), "--cache", str(cache), *more))
    assert run.code == 0 and len(compiles) == 2, run.stderr
    fresh = run_cli((command, str(model), "-o", str(tmp_path / "d"), "--no-cache", *more))
    assert fresh.code == 0 and folder_bytes(tmp_path / "c") == folder_bytes(tmp_path / "d")
    if change == "external weights":
        assert folder_bytes(tmp_path / "c") != folder_bytes(tmp_path / "a")  # the program's weights changed


def _entry(cache: Path) -> tuple[Path, dict, bytes]:
    (path,) = entries(cache)
    line, _, blob = path.read_bytes().partition(b"\n")
    return path, json.loads(line), blob


def _forge(header: dict) -> bytes:
    """The header with its digest recomputed: damage a digest check alone would not see."""
    header = {**header, "digest": entry_digest(header)}
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _damage(kind: str, header: dict, blob: bytes) -> bytes:
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if kind == "truncated":
        return line + b"\n" + blob[: len(blob) // 2]
    if kind == "flipped byte":
        return line + b"\n" + blob[:10] + bytes([blob[10] ^ 1]) + blob[11:]
    if kind == "edited warning":
        return json.dumps({**header, "warnings": ["you have been hacked"]}, sort_keys=True).encode() + b"\n" + blob
    if kind == "another key":
        return _forge({**header, "key": "0" * 64}) + b"\n" + blob
    if kind == "escaping name":
        files = [["../../escaped.txt", *header["files"][0][1:]], *header["files"][1:]]
        return _forge({**header, "files": files}) + b"\n" + blob
    if kind == "not json":
        return b"\x00\xff garbage\n" + blob
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "flipped byte", "edited warning", "another key", "escaping name",
                                  "not json"])
def test_a_damaged_entry_is_no_entry(tmp_path, compiles, kind):
    cache = tmp_path / "cache"
    assert compile_(LENET, tmp_path / "a", cache).code == 0
    path, header, blob = _entry(cache)
    path.write_bytes(_damage(kind, header, blob))
    run = compile_(LENET, tmp_path / "b", cache)
    assert run.code == 0 and len(compiles) == 2 and "hacked" not in run.stderr
    assert folder_bytes(tmp_path / "b") == folder_bytes(tmp_path / "a")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "b" / "escaped.txt").exists()
    assert _entry(cache)[0].read_bytes().partition(b"\n")[2] == blob  # rewritten whole by the compile
    assert compile_(LENET, tmp_path / "c", cache).code == 0 and len(compiles) == 2


def test_a_clock_limit_is_never_stored(tmp_path, compiles):
    for name in "ab":
        assert compile_(LENET, tmp_path / name, tmp_path / "cache", "--time-limit", "60").code == 0
    assert len(compiles) == 2 and entries(tmp_path / "cache") == []


def test_an_unwritable_cache_folder_warns_once_and_compiles(tmp_path, compiles):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    runs = [compile_(LENET, tmp_path / name, blocker) for name in "ab"]
    assert [run.code for run in runs] == [0, 0] and len(compiles) == 2
    assert all(run.stderr.count("warning:") == 1 for run in runs), [run.stderr for run in runs]


def test_an_input_larger_than_its_reader_takes_is_not_hashed(tmp_path):
    """The key refuses a hardware file over the reader's bound from its size alone (the compile then says why)."""
    big = tmp_path / "hw.yaml"
    with big.open("wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: 3 GB that would take seconds to hash
    assert output_cache.file_sha256(big, output_cache.LIMITS["hardware"]) is None
    assert output_cache.compile_key("compile", str(LENET), {}, {"hardware": str(big)}) is None
    assert output_cache.compile_key("compile", str(LENET), {}, {"hardware": None}) is not None


def test_the_external_data_checked_on_replay_is_the_one_the_compile_read(tmp_path, compiles):
    """The model given as ``link/../m.onnx``: the compile reads the weights next to the file the path reaches (the
    symlink followed, then '..'), so a replay must hash those, not the ones next to the lexically folded path."""
    other = tmp_path / "other"
    model = _external_model(other, 1.0)
    (other / "sub").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "link").symlink_to(other / "sub")
    argv = ("compile", "link/../m.onnx", "--cache", str(tmp_path / "cache"))
    assert run_cli((*argv, "-o", str(tmp_path / "a")), cwd=work).code == 0
    _external_model(other, 2.0)  # same .onnx bytes, other weights in other/w.bin
    assert model.read_bytes() == (other / "m.onnx").read_bytes()
    run = run_cli((*argv, "-o", str(tmp_path / "b")), cwd=work)
    fresh = run_cli(("compile", "link/../m.onnx", "--no-cache", "-o", str(tmp_path / "c")), cwd=work)
    assert run.code == fresh.code == 0 and len(compiles) == 3, run.stderr  # a, b (not a replay) and c
    assert folder_bytes(tmp_path / "b") == folder_bytes(tmp_path / "c") != folder_bytes(tmp_path / "a")


@pytest.mark.parametrize("which", ["model", "hardware"])
def test_an_input_changed_between_the_key_and_its_read_is_not_stored(tmp_path, monkeypatch, which):
    """The key hashes the inputs before the compile reads them; one edited in between (an export finishing, an
    editor saving) must not leave the new input's output under the old input's key."""
    model = tmp_path / "m.onnx"
    model.write_bytes(LENET.read_bytes())
    hardware = _hardware_copy(tmp_path / "hw.yaml", "first")
    real = compiler.compile_model
    calls: list[str] = []

    def edited_first(path, **options):
        if not calls:  # the first compile: the file changes after the key was taken, before it is read
            if which == "model":
                proto = onnx.load(model)
                proto.producer_name = "re-exported"
                onnx.save(proto, model)
            else:
                (tmp_path / "hw.yaml").write_text((tmp_path / "hw.yaml").read_text().replace("12", "13", 1))
        calls.append(str(path))
        return real(path, **options)

    monkeypatch.setattr(compiler, "compile_model", edited_first)
    original = {"model": LENET.read_bytes(), "hardware": hardware.read_bytes()}
    argv = ("compile", str(model), "--hardware", str(hardware), "--cache", str(tmp_path / "cache"))
    assert run_cli((*argv, "-o", str(tmp_path / "a"))).code == 0
    (model if which == "model" else hardware).write_bytes(original[which])  # the inputs the key hashed, again
    run = run_cli((*argv, "-o", str(tmp_path / "b")))
    fresh = run_cli(("compile", str(model), "--hardware", str(hardware), "--no-cache", "-o", str(tmp_path / "c")))
    assert run.code == fresh.code == 0, run.stderr
    assert folder_bytes(tmp_path / "b") == folder_bytes(tmp_path / "c") != folder_bytes(tmp_path / "a")


def _forged_files(kind: str, header: dict, blob: bytes) -> bytes:
    """An entry whose digests all check out but whose files are not a folder a compile writes."""
    files = [list(item) for item in header["files"]]
    names = [item[0] for item in files]
    first = next(i for i, name in enumerate(names) if name.startswith("bitstreams/"))
    second = next(i for i, name in enumerate(names) if name.startswith("bitstreams/") and i != first)
    if kind in ("dot segment", "double slash", "trailing slash", "dot", "manifest", "file and folder"):
        files[second][0] = {"dot segment": names[first].replace("/", "/./"),
                             "double slash": names[second].replace("/", "//"), "trailing slash": names[second] + "/",
                             "dot": ".", "manifest": "manifest.json",
                             "file and folder": names[first] + "/x"}[kind]
        return _forge({**header, "files": files}) + b"\n" + blob
    report = names.index("report.json")
    start = sum(item[1] for item in files[:report])
    forged = {"report not json": b"not json", "report without keys": b"{}"}[kind]
    blob = blob[:start] + forged + blob[start + files[report][1]:]
    files[report][1:] = [len(forged), hashlib.sha256(forged).hexdigest()]
    return _forge({**header, "files": files}) + b"\n" + blob


@pytest.mark.parametrize("kind", ["dot segment", "double slash", "trailing slash", "dot", "manifest",
                                  "file and folder", "report not json", "report without keys"])
def test_an_entry_that_is_no_compile_output_is_no_entry(tmp_path, compiles, kind):
    """Names a compile never writes (two spellings of one path, a file where a folder goes, the manifest itself)
    or a report.json no reader takes: the compile runs, and the folder it writes is one a later run may replace."""
    cache = tmp_path / "cache"
    assert compile_(LENET, tmp_path / "a", cache).code == 0
    path, header, blob = _entry(cache)
    path.write_bytes(_forged_files(kind, header, blob))
    run = compile_(LENET, tmp_path / "b", cache)
    assert run.code == 0 and len(compiles) == 2, run.stderr
    assert folder_bytes(tmp_path / "b") == folder_bytes(tmp_path / "a")
    again = compile_(LENET, tmp_path / "b", cache)  # the folder is provably ours: replaced, from the rewritten entry
    assert again.code == 0 and len(compiles) == 2, again.stderr


def test_external_weights_changed_while_compiling_are_not_stored(tmp_path, monkeypatch):
    """The entry hashes the external-data files after the compile; weights rewritten after the compile read
    them (a training run saving its checkpoint) must not be stored as the ones this output was built from."""
    model = _external_model(tmp_path / "model", 1.0)
    real = compiler.compile_model
    calls: list[str] = []

    def rewritten_after(path, **options):
        result = real(path, **options)
        if not calls:
            _external_model(tmp_path / "model", 2.0)  # same .onnx bytes, other weights in w.bin
        calls.append(str(path))
        return result

    monkeypatch.setattr(compiler, "compile_model", rewritten_after)
    argv = ("compile", str(model), "--cache", str(tmp_path / "cache"))
    assert run_cli((*argv, "-o", str(tmp_path / "a"))).code == 0
    run = run_cli((*argv, "-o", str(tmp_path / "b")))
    fresh = run_cli(("compile", str(model), "--no-cache", "-o", str(tmp_path / "c")))
    assert run.code == fresh.code == 0 and len(calls) == 3, run.stderr  # b compiled: no entry for these weights
    assert folder_bytes(tmp_path / "b") == folder_bytes(tmp_path / "c") != folder_bytes(tmp_path / "a")
