"""One ``eyeriss`` command line run in-process through ``mapper.app.cli.main``, as a subprocess would see it.

A subprocess per case costs an interpreter start and the onnx / OR-tools imports (about a second each);
running ``cli.main(argv)`` in this process gives the same exit code, stdout and stderr at a fraction of
that.  What a subprocess gives for free is rebuilt here: the streams are captured (rich consoles made
inside the command write to ``sys.stdout`` / ``sys.stderr`` as they are when the console is created, so
they land in the capture), ``SystemExit`` from argparse becomes the exit code, an exception that escapes
``main`` prints a traceback and exits 1 as the interpreter would, warnings are printed to stderr under the
interpreter's default filters, and the command runs in a given working folder whose new files are listed.

Not thread-safe (the streams, the working folder and the environment are the process's): run cases one
after another.  Signals and the process's own exit path still need a subprocess (tests/mapper/app).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from mapper.app import cli

# What the subprocess cases ran with: no colour codes, a fixed width.
ENV = {"NO_COLOR": "1", "COLUMNS": "100"}


@dataclass(frozen=True)
class Run:
    """What one command line did: exit code, the two streams, and the files it left in its working folder."""

    code: int
    stdout: str
    stderr: str
    left: tuple[str, ...]  # paths relative to the working folder, sorted, that were not there before


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _interpreter_warnings(stderr: io.StringIO) -> Iterator[None]:
    """Warnings go to stderr as a fresh interpreter would print them (its default filters), not to pytest."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.filterwarnings("ignore", category=category)
        try:
            yield
        finally:
            for w in caught:
                stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))


def _call(main: Callable[[list[str]], int], argv: Sequence[str], stderr: io.StringIO) -> int:
    """main's return value, or what the interpreter would exit with."""
    try:
        return int(main(list(argv)))
    except SystemExit as exit_:  # argparse's usage errors and --help
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:  # noqa: BLE001 - escaped main: the interpreter prints a traceback and exits 1
        traceback.print_exc(file=stderr)
        return 1


def run_cli(argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None,
            main: Callable[[list[str]], int] | None = None) -> Run:
    """Run ``eyeriss *argv`` in ``cwd`` (created if missing; a scratch folder, removed after, if None).

    ``env`` adds to ENV for the duration; ``main`` replaces ``cli.main`` (a script's own ``main(argv)``).
    """
    if cwd is None:
        with tempfile.TemporaryDirectory(prefix="eyeriss-run-") as scratch:
            return run_cli(argv, Path(scratch), env, main)
    cwd.mkdir(parents=True, exist_ok=True)
    before = files_under(cwd)
    stdout, stderr = io.StringIO(), io.StringIO()
    home = Path.cwd()
    os.chdir(cwd)
    try:
        with _environment({**ENV, **(env or {})}), contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr), _interpreter_warnings(stderr):
            code = _call(main or cli.main, argv, stderr)
    finally:
        os.chdir(home)
    return Run(code, stdout.getvalue(), stderr.getvalue(), tuple(sorted(files_under(cwd) - before)))


# The assertion helpers the corpus uses: each returns the problems it finds, so a corpus can report them all.

def traceback_problems(run: Run) -> list[str]:
    """A bad input never shows a traceback or the internal-error line."""
    return ["traceback or internal error"] if "Traceback" in run.stderr or "internal error" in run.stderr else []


def error_line_problems(run: Run) -> list[str]:
    """Exit 2 comes with exactly one line on stderr, and it starts with ``error:``."""
    lines = run.stderr.strip().splitlines()
    if run.code != 2 or (len(lines) == 1 and lines[0].startswith("error:")):
        return []
    return [f"stderr is not one error line: {run.stderr[:300]!r}"]


def left_behind_problems(run: Run) -> list[str]:
    """A refused input leaves no file behind (all or nothing)."""
    return [f"files left behind: {list(run.left)}"] if run.code == 2 and run.left else []


def contract_problems(run: Run, codes: frozenset[int]) -> list[str]:
    """Everything the CLI's error contract promises for one case."""
    problems = [] if run.code in codes else [f"exit {run.code}, expected {sorted(codes)}"]
    return problems + traceback_problems(run) + error_line_problems(run) + left_behind_problems(run)


def assert_refused(run: Run, needle: str | None = None) -> None:
    """Exit 2, one ``error:`` line (naming ``needle`` if given), no traceback, nothing left behind."""
    problems = contract_problems(run, frozenset({2}))
    if needle is not None and needle not in run.stderr:
        problems.append(f"error line does not name {needle!r}: {run.stderr!r}")
    assert not problems, "; ".join(problems)
