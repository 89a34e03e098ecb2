"""The error contract of the ``eyeriss`` command: one line, exit 2 for bad input, exit 3 for bugs, --debug."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mapper.app import cli
from mapper.app.commands import inspect as inspect_command

LENET = Path(__file__).resolve().parents[3] / "examples" / "lenet5.onnx"


def _boom(args):
    raise RuntimeError("simulated bug")


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_internal_error_exits_3_with_one_line(monkeypatch, capsys, debug):
    monkeypatch.setattr(inspect_command, "run", _boom)
    code = cli.main(["inspect", "examples/lenet5.onnx", *debug])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BUG == 3
    assert "internal error: RuntimeError: simulated bug" in err and "please file an issue" in err
    assert ("Traceback" in err) == bool(debug)
    if not debug:
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--debug", "inspect", "/no/such.onnx"], ["inspect", "/no/such.onnx", "--debug"]])
def test_debug_before_or_after_the_command(capsys, argv):
    assert cli.main(argv) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1] == "error: /no/such.onnx: no such file"


def test_bad_input_is_one_line_without_debug(capsys):
    assert cli.main(["inspect", "/no/such.onnx"]) == 2
    assert capsys.readouterr().err == "error: /no/such.onnx: no such file\n"


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["compile"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_process_exits_with_mains_code(tmp_path):
    """``python -m mapper`` as a process: main's code becomes the exit status, the error line reaches stderr.

    Everything else runs in-process (tests/fuzz/harness.py); this and the signal tests in
    test_compile.py are what only a real process shows.
    """
    def eyeriss(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mapper", *args], capture_output=True, text=True, cwd=tmp_path,
                              env=dict(os.environ, NO_COLOR="1"), timeout=300)

    ok = eyeriss("inspect", str(LENET))
    assert ok.returncode == 0 and "conv1" in ok.stdout and ok.stderr == ""
    bad = eyeriss("inspect", "/no/such.onnx")
    assert bad.returncode == 2 and bad.stderr == "error: /no/such.onnx: no such file\n" and bad.stdout == ""
    usage = eyeriss("compile")
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_compile_imports_no_pandas_and_the_caches_load_no_or_tools(tmp_path):
    """A cold compile searches through mapper.search.cpsat_api, never OR-tools' cp_model wrapper and the
    pandas it imports (0.5 s of every start, issue 28); a compile whose searches are all in the result cache
    (another program, the same layers) loads no OR-tools; a compile the output cache answers
    (mapper.app.output_cache: the same inputs again) loads neither numpy, onnx, networkx nor OR-tools."""
    model = Path(__file__).resolve().parents[3] / "examples" / "lenet5.onnx"
    heavy = ("ortools.sat.python.cp_model_helper", "ortools.sat.python.cp_model", "pandas", "ortools", "numpy", "onnx",
             "networkx")
    probe = ("import sys; from mapper.app.cli import main; code = main(sys.argv[1:]); "
             f"print(code, *(name in sys.modules for name in {heavy!r}))")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", probe, "compile", str(model), "-o", str(tmp_path / name), *more],
                           capture_output=True, text=True, env=env, timeout=300)
            for name, more in (("a", ()), ("b", ("--weights", "seeded")), ("c", ("--weights", "seeded")))]
    T, F = "True", "False"
    assert [run.stdout.split()[-8:] for run in runs] == [["0", T, F, F, T, T, T, T],
                                                         ["0", F, F, F, F, T, T, T],
                                                         ["0", F, F, F, F, F, F, F]], [r.stderr for r in runs]
    assert {name: (tmp_path / "b" / name).read_bytes() for name in ("report.json", "manifest.json")} == \
        {name: (tmp_path / "c" / name).read_bytes() for name in ("report.json", "manifest.json")}
