"""Regenerate the example output in docs/sweep.md: ``python docs/sweep_example.py`` (from the repository root).

Runs ``eyeriss sweep examples/sweep_lenet.yaml`` as a user would on a first
run (an empty result cache, an 80-column terminal, no colour) in a scratch
folder that sees the repository's examples, and puts what it prints between
the two markers in docs/sweep.md; tests/mapper/app/test_sweep_specs.py checks
the committed output is current.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "sweep.md"
SPEC = "examples/sweep_lenet.yaml"
COMMAND = f"eyeriss sweep {SPEC}"
ENV = {"COLUMNS": "80", "NO_COLOR": "1"}
BEGIN, END = "<!-- output of docs/sweep_example.py -->\n```\n", "```\n<!-- end of output -->\n"


def capture(stdout: str) -> str:
    """The block docs/sweep.md shows for the command's standard output."""
    return f"$ {COMMAND}\n{stdout}"


def with_capture(doc: str, block: str) -> str:
    """``doc`` with the text between the markers replaced by ``block``."""
    head, rest = doc.split(BEGIN, 1)
    return head + BEGIN + block + END + rest.split(END, 1)[1]


def shown(doc: str) -> str:
    """The block between the markers of ``doc``."""
    return doc.split(BEGIN, 1)[1].split(END, 1)[0]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "examples").symlink_to(ROOT / "examples")
        env = dict(os.environ, XDG_CACHE_HOME=str(Path(scratch) / "cache"), **ENV)
        out = subprocess.run([sys.executable, "-m", "mapper", "sweep", SPEC], capture_output=True, text=True,
                             cwd=scratch, env=env, check=True).stdout
    DOC.write_text(with_capture(DOC.read_text(), capture(out)))


if __name__ == "__main__":
    main()
