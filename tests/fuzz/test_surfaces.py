"""Hostile input, third round (issue 29): sweep specs, the result cache, calibration and run inputs,
``report --csv`` and ``diff`` of foreign reports, each through ``cli.main`` in-process (harness.run_cli).

A case keeps the CLI's contract (exit code, one ``error:`` line naming the problem, no traceback,
nothing left behind, no raw control character on the terminal).  The result cache's cases compile
LeNet-5 on a damaged cache and compare report.json byte for byte with a clean compile's.  Subprocesses
only where the process matters: two compiles racing on one cache, and the Dask address hang guard.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import socket
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from harness import Run, contract_problems, run_cli
from hostile import EXAMPLES, Hostile
from surfaces import LENET, PWNED, arrays, diff, formula_model, sweep

# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_surfaces")
ROOT = EXAMPLES.parent
HANG_GUARD_SECONDS = 60  # a hang guard, not a speed figure: an unanswered address must end, with one error


@pytest.fixture(scope="module")
def lenet(tmp_path_factory) -> Path:
    """One compile of LeNet-5 (with its program), shared by every case of the module."""
    from mapper import compile_model

    out = tmp_path_factory.mktemp("surfaces") / "lenet"
    compile_model(EXAMPLES / "lenet5.onnx", cache=False).save(out)
    return out


def _raw_controls(text: str) -> list[str]:
    return sorted({repr(ch) for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")})


def _problems(case: Hostile, run: Run) -> list[str]:
    problems = contract_problems(run, case.codes)
    if case.needle and run.code == 2 and case.needle not in run.stderr:
        problems.append(f"error line does not name {case.needle!r}: {run.stderr[:300]!r}")
    if raw := _raw_controls(run.stdout + run.stderr):
        problems.append(f"raw control characters in the output: {raw}")
    if len(run.stderr) > 2000:
        problems.append(f"stderr is {len(run.stderr)} characters long")
    return problems


def _run_all(cases: list[Hostile], work: Path) -> list[str]:
    failures = []
    for case in cases:
        folder = work / case.family / case.name
        run = run_cli([a.replace("{out}", str(folder / "out")) for a in case.args], folder)
        if problems := _problems(case, run):
            failures.append(f"{case.family}/{case.name}: {'; '.join(problems)}")
    return failures


def _report_bytes(folder: Path) -> bytes:
    return (folder / "report.json").read_bytes()


# ---------------------------------------------------------------- sweep specs

def test_every_bad_sweep_spec_is_refused_by_field(tmp_path):
    cases = sweep(tmp_path / "inputs")
    assert len(cases) >= 50
    failures = _run_all(cases, tmp_path / "runs")
    assert not failures, f"{len(failures)} of {len(cases)} cases fail:\n" + "\n".join(failures)


def test_a_point_no_chip_can_be_is_an_infeasible_row(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"vary: {{array.rows: [-6, 6]}}\nnetworks: [{LENET}]\n")
    run = run_cli(["sweep", str(spec), "-o", str(tmp_path / "out"), "--no-cache"], tmp_path)
    assert run.code == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "points.csv").read_text())))
    assert [r["feasible"] for r in rows] == ["False", "True"] and "array.rows" in rows[0]["reason"], rows


def _silent_port() -> tuple[socket.socket, int]:
    """A port that accepts connections and never answers (a scheduler that hangs, or a firewall's black hole)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener, listener.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "silent", "not_dask"])
def test_a_dask_address_that_does_not_answer_is_one_error_not_a_hang(tmp_path, kind):
    """The real process, with a timeout: connection refused (nothing listens), a peer that accepts and says
    nothing, and one that answers with something else (an HTTP server).  Each ends with one error line."""
    pytest.importorskip("distributed")
    held = []
    if kind == "refused":
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()  # bound once, now free: nothing listens there
    else:
        listener, port = _silent_port()
        held.append(listener)
    if kind == "not_dask":
        import threading

        def answer() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
                conn.close()
        threading.Thread(target=answer, daemon=True).start()
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"vary: {{array.rows: [6]}}\nnetworks: [{LENET}]\n")
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "mapper.app.cli", "sweep", str(spec), "-o", str(tmp_path / "out"),
                               "--no-cache", "--executor", "dask", "--address", f"tcp://127.0.0.1:{port}",
                               "--connect-timeout", "2"],
                              capture_output=True, text=True, timeout=HANG_GUARD_SECONDS, cwd=tmp_path,
                              env=dict(os.environ, NO_COLOR="1"))
    except subprocess.TimeoutExpired:
        pytest.fail(f"eyeriss sweep --address of a {kind} port did not return in {HANG_GUARD_SECONDS} s")
    finally:
        for sock in held:
            sock.close()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Dask scheduler" in lines[0], lines[0]
    assert not (tmp_path / "out").exists(), f"wrote {sorted(p.name for p in (tmp_path / 'out').iterdir())}"
    assert time.monotonic() - started < HANG_GUARD_SECONDS
    if kind == "silent":  # the wait asked for, not CONNECT_SECONDS
        assert "within 2 s" in lines[0], lines[0]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "601", "ten", "\x1b[2J"])
def test_a_connect_timeout_that_is_no_wait_is_a_usage_error(tmp_path, value):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"vary: {{array.rows: [6]}}\nnetworks: [{LENET}]\n")
    run = run_cli(["sweep", str(spec), "-o", str(tmp_path / "out"), "--executor", "dask", "--address",
                   "tcp://127.0.0.1:1", "--connect-timeout", value], tmp_path)
    assert run.code == 2 and "--connect-timeout" in run.stderr and "\x1b[" not in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the result cache

def _compile(cache: Path | str, out: Path, tmp: Path) -> Run:
    return run_cli(["compile", LENET, "-o", str(out), "--cache", str(cache)], tmp)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[bytes, Path]:
    """report.json of a compile on an empty cache, and that cache (now holding every layer's answer)."""
    tmp = tmp_path_factory.mktemp("cache_clean")
    run = _compile(tmp / "cache", tmp / "out", tmp)
    assert run.code == 0 and run.stderr == "", run.stderr
    entries = sorted((tmp / "cache").rglob("*.json"))
    assert len(entries) >= 4, entries  # LeNet-5's distinct layer shapes, in both mapping spaces
    again = _compile(tmp / "cache", tmp / "again", tmp)  # every answer from the cache: the same bytes
    assert again.code == 0 and _report_bytes(tmp / "again") == _report_bytes(tmp / "out")
    return _report_bytes(tmp / "out"), tmp / "cache"


def _forge_infeasible(entry: dict) -> dict:
    return entry | {"status": "INFEASIBLE", "mapping": None, "objective_value": None, "bound": None,
                    "reason": "forged: no mapping"}


def _forge_mapping(entry: dict) -> dict:
    """Another mapping of the layer, its figures copied: a hand edit that keeps the JSON and the keys sound."""
    if entry.get("mapping") is None:
        return entry | {"reason": "edited"}
    mapping = dict(entry["mapping"], t=1, m=1, n=1)
    return entry | {"mapping": mapping}


def _forge_unmappable_with_digest(entry: dict) -> dict:
    """UNMAPPABLE with a reason, the digest recomputed: sound JSON, sound digest, a lie the limits contradict."""
    from mapper.search.cache_meta import entry_digest

    forged = {k: v for k, v in entry.items() if k != "digest"} | {
        "status": "UNMAPPABLE", "mapping": None, "objective_value": None, "bound": None, "reason": "forged"}
    return forged | {"digest": entry_digest(forged)}


DAMAGES = {
    "status_forged_unmappable_with_digest":
        lambda path: path.write_text(json.dumps(_forge_unmappable_with_digest(json.loads(path.read_text())))),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
    "empty": lambda path: path.write_bytes(b""),
    "not_json": lambda path: path.write_bytes(b"\x00\xff\x1b[2J garbage"),
    "json_list": lambda path: path.write_text("[1, 2]"),
    "deep_json": lambda path: path.write_text("[" * 100_000 + "]" * 100_000),
    "huge": lambda path: path.write_bytes(b" " * (2 << 20)),
    "status_forged_infeasible": lambda path: path.write_text(json.dumps(_forge_infeasible(json.loads(path.read_text())))),
    "mapping_edited": lambda path: path.write_text(json.dumps(_forge_mapping(json.loads(path.read_text())))),
    "value_edited": lambda path: path.write_text(json.dumps(json.loads(path.read_text()) | {"objective_value": 1})),
    "version_foreign": lambda path: path.write_text(json.dumps(json.loads(path.read_text()) | {"version": "0.0.1"})),
    "format_foreign": lambda path: path.write_text(json.dumps(json.loads(path.read_text()) | {"format": "eyeriss-cache/0"})),
    "key_foreign": lambda path: path.write_text(json.dumps(json.loads(path.read_text()) | {"key": "0" * 64})),
}


def _damage_every_entry(cache: Path, damage) -> int:
    entries = sorted(cache.rglob("*.json"))
    for entry in entries:
        damage(entry)
    return len(entries)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_cache_entry_never_changes_the_result(clean, tmp_path, damage):
    import shutil

    expected, source = clean
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    assert _damage_every_entry(cache, DAMAGES[damage]) >= 4
    run = _compile(cache, tmp_path / "out", tmp_path)
    assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
    assert _report_bytes(tmp_path / "out") == expected


@pytest.mark.parametrize("target", ["other_entry", "dev_zero", "fifo", "folder", "dangling", "outside_file"])
def test_a_symlinked_cache_entry_never_changes_the_result(clean, tmp_path, target):
    """Each entry replaced by a symlink: to another entry (another key), a device, a FIFO nobody writes
    (a reader that opened it would block), a folder, nothing, a file outside the cache."""
    import shutil

    expected, source = clean
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    entries = sorted(cache.rglob("*.json"))
    outside = tmp_path / "outside.json"
    outside.write_text(entries[0].read_text())
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
    for index, entry in enumerate(entries):
        dest = {"other_entry": entries[(index + 1) % len(entries)].with_suffix(".keep"), "dev_zero": Path("/dev/zero"),
                "fifo": tmp_path / "fifo", "folder": tmp_path, "dangling": tmp_path / "nothing",
                "outside_file": outside}[target]
        if target == "other_entry":
            shutil.copy(entries[(index + 1) % len(entries)], dest)
        entry.unlink()
        entry.symlink_to(dest)
    run = _compile(cache, tmp_path / "out", tmp_path)
    assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
    assert _report_bytes(tmp_path / "out") == expected


def _one_warning(run: Run, *needles: str) -> None:
    lines = run.stderr.strip().splitlines()
    assert run.code == 0 and len(lines) == 1 and lines[0].startswith("warning:"), run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_an_unwritable_cache_folder_is_no_cache_with_one_warning(clean, tmp_path):
    """--cache under a regular file (every write fails, even for root): compiled, one warning, same bytes."""
    expected, _ = clean
    (tmp_path / "file").write_text("not a folder")
    cache = tmp_path / "file" / "cache"
    run = _compile(cache, tmp_path / "out", tmp_path)
    _one_warning(run, str(cache), "without")
    assert _report_bytes(tmp_path / "out") == expected


def test_a_cache_folder_that_is_a_file_is_no_cache_with_one_warning(clean, tmp_path):
    expected, _ = clean
    (tmp_path / "cache").write_text("not a folder")
    run = _compile(tmp_path / "cache", tmp_path / "out", tmp_path)
    _one_warning(run, str(tmp_path / "cache"))
    assert _report_bytes(tmp_path / "out") == expected and (tmp_path / "cache").read_text() == "not a folder"


def test_a_full_disk_is_no_cache_with_one_warning(clean, tmp_path, monkeypatch):
    """ENOSPC from every cache write, the layer cache's and the output cache's (the output folder still writes):
    compiled, one warning, same bytes."""
    import mapper.app.output_cache as output_cache
    import mapper.search.cache as cache_module

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(cache_module, "write_entry", full)
    monkeypatch.setattr(output_cache, "write_entry", full)
    expected, _ = clean
    run = _compile(tmp_path / "cache", tmp_path / "out", tmp_path)
    _one_warning(run, os.strerror(errno.ENOSPC), str(tmp_path / "cache"))
    assert _report_bytes(tmp_path / "out") == expected


def test_a_sweep_on_an_unwritable_cache_warns_once(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"vary: {{array.rows: [6, 12]}}\nnetworks: [{LENET}]\n")
    run = run_cli(["sweep", str(spec), "-o", str(tmp_path / "out"), "--cache", str(tmp_path / "file" / "c")], tmp_path)
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert run.code == 0 and len(warnings) == 1 and "Traceback" not in run.stderr, run.stderr


def test_two_compiles_sharing_one_cache_both_succeed_alike(clean, tmp_path):
    """Two processes on one empty cache folder at once: both exit 0 with the clean compile's bytes."""
    expected, _ = clean
    env = dict(os.environ, NO_COLOR="1")
    procs = [subprocess.Popen([sys.executable, "-m", "mapper.app.cli", "compile", LENET, "-o", str(tmp_path / name),
                               "--cache", str(tmp_path / "cache")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for proc in procs:
        proc.stdout.close()
        proc.stderr.close()
    assert [code for code, _ in outcomes] == [0, 0] and not any(err for _, err in outcomes), outcomes
    assert _report_bytes(tmp_path / "a") == _report_bytes(tmp_path / "b") == expected
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]  # no temporary left


# ---------------------------------------------------------------- calibration and run inputs

def test_no_array_file_is_unpickled_and_each_bad_one_is_one_error(lenet, tmp_path):
    import onnx

    PWNED.unlink(missing_ok=True)
    model = onnx.load(LENET, load_external_data=False)
    value = model.graph.input[0]
    shape = tuple(d.dim_value or 2 for d in value.type.tensor_type.shape.dim)
    cases = arrays(tmp_path / "inputs", lenet, value.name, shape)
    (tmp_path / "inputs").mkdir(exist_ok=True)
    assert Counter(c.args[0] for c in cases) == {"compile": len(cases) // 2, "run": len(cases) // 2}
    failures = _run_all(cases, tmp_path / "runs")
    assert not PWNED.exists(), "a pickle in an input file ran its code"
    assert not failures, f"{len(failures)} of {len(cases)} cases fail:\n" + "\n".join(failures)


# ---------------------------------------------------------------- report --csv

def test_no_csv_cell_becomes_a_spreadsheet_formula(tmp_path):
    """A real model whose layers are named =HYPERLINK(...), +cmd, -2+3, @SUM, tab/CR/LF then =, compiled and
    reported to CSV: every cell that starts like a formula is a number, or is prefixed with a quote."""
    model, names = formula_model(tmp_path)
    out = tmp_path / "out"
    compiled = run_cli(["compile", model, "-o", str(out), "--no-cache"], tmp_path)
    assert compiled.code == 0 and not _raw_controls(compiled.stdout + compiled.stderr), compiled.stderr
    run = run_cli(["report", str(out), "--csv"], tmp_path)
    assert run.code == 0 and run.stderr == "" and not _raw_controls(run.stdout.replace("\r\n", "\n")), run.stderr
    table = list(csv.reader(io.StringIO(run.stdout)))
    header, rows = table[0], table[1:]
    assert len(rows) == len(names)
    dangerous = []
    for row in table:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                try:
                    float(cell)
                except ValueError:
                    dangerous.append(cell)
    assert not dangerous, dangerous
    shown = [row[header.index("name")] for row in rows]
    assert shown[0] == "'" + names[0] and shown[3] == "'@SUM(A1:A9)" and shown[2] == "'-2+3", shown
    assert all("\t" not in cell and "\r" not in cell and "\x1b" not in cell for row in table for cell in row)


# ---------------------------------------------------------------- diff of foreign reports

def test_diff_of_a_report_of_another_schema_is_one_error(lenet, tmp_path):
    cases = diff(tmp_path, lenet / "report.json")
    assert len(cases) >= 80
    failures = _run_all(cases, tmp_path / "runs")
    assert not failures, f"{len(failures)} of {len(cases)} cases fail:\n" + "\n".join(failures)
