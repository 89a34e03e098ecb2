"""The in-process runner gives what a subprocess would: exit code, both streams, files left, tracebacks."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from harness import Run, assert_refused, contract_problems, run_cli
from mapper.app import cli
from mapper.app.commands import inspect as inspect_command

LENET = str(Path(__file__).resolve().parents[2] / "examples" / "lenet5.onnx")


def test_rich_tables_land_in_the_captured_stdout(tmp_path):
    run = run_cli(["inspect", LENET], tmp_path)
    assert run.code == 0 and run.stderr == "" and run.left == ()
    assert "conv1" in run.stdout and "lenet5: 5 array layers" in run.stdout
    assert "\x1b[" not in run.stdout  # NO_COLOR, and the capture is no terminal
    assert max(len(line) for line in run.stdout.splitlines()) <= 100  # COLUMNS=100 read by the console


def test_runs_in_the_given_folder_and_lists_what_it_wrote(tmp_path):
    run = run_cli(["compile", LENET, "-o", "out"], tmp_path / "work")
    assert run.code == 0, run.stderr
    assert "out/report.json" in run.left and "out/bitstreams/001_conv1.bin" in run.left
    assert (tmp_path / "work" / "out" / "report.json").is_file() and Path.cwd() != tmp_path / "work"


def test_usage_error_is_exit_2_with_one_line(tmp_path):
    run = run_cli(["compile"], tmp_path)
    assert_refused(run, "required")


def test_bad_input_is_refused_with_one_named_line(tmp_path):
    assert_refused(run_cli(["inspect", "/no/such.onnx"], tmp_path), "no such file")


def test_an_escaping_exception_is_a_traceback_and_exit_1(monkeypatch, tmp_path):
    def boom(argv=None):
        raise RuntimeError("escaped")

    monkeypatch.setattr(cli, "main", boom)
    run = run_cli(["inspect", LENET], tmp_path)
    assert run.code == 1 and "Traceback" in run.stderr and "RuntimeError: escaped" in run.stderr
    assert contract_problems(run, frozenset({1})) == ["traceback or internal error"]


def test_warnings_are_printed_to_stderr_as_the_interpreter_would(monkeypatch, tmp_path):
    def warn(args):
        warnings.warn("careful", UserWarning)
        return 0

    monkeypatch.setattr(inspect_command, "run", warn)
    run = run_cli(["inspect", LENET], tmp_path)
    assert run.code == 0 and "UserWarning: careful" in run.stderr


@pytest.mark.parametrize("run, problem", [
    (Run(2, "", "error: a\nerror: b\n", ()), "not one error line"),
    (Run(2, "", "error: a\n", ("out/report.json",)), "files left behind"),
    (Run(0, "", "", ()), "exit 0, expected [2]"),
])
def test_each_broken_promise_is_named(run, problem):
    problems = contract_problems(run, frozenset({2}))
    assert len(problems) == 1 and problem in problems[0]
