"""The error contract of the ``eyeriss`` command: one line, exit 2 for bad input, exit 3 for bugs, --debug."""

from __future__ import annotations

import pytest

from mapper.app import cli
from mapper.app.commands import inspect as inspect_command


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
