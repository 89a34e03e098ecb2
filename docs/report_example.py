"""Regenerate docs/report-example.txt: ``python docs/report_example.py`` (from the repository root).

The capture is what a 100-column terminal shows (COLUMNS=100, NO_COLOR=1) for
the two commands it quotes, run on the bundled AlexNet at batch 4 in a
scratch folder; tests/mapper/test_compile.py checks the committed file is current.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("eyeriss compile examples/alexnet.onnx --batch 4 && eyeriss report alexnet",
            "eyeriss report alexnet --layer conv2")


def _eyeriss(*args: str, cwd: Path) -> str:
    env = dict(os.environ, COLUMNS="100", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "mapper", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, check=True).stdout


def capture(outdir: Path) -> str:
    """The capture for an AlexNet compile already in ``outdir`` (named alexnet)."""
    network = _eyeriss("report", str(outdir), cwd=ROOT)
    layer = _eyeriss("report", str(outdir), "--layer", "conv2", cwd=ROOT)
    return f"$ {COMMANDS[0]}\n{network}\n$ {COMMANDS[1]}\n{layer}"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "alexnet"
        _eyeriss("compile", str(ROOT / "examples" / "alexnet.onnx"), "--batch", "4", "-o", str(out), cwd=ROOT)
        (ROOT / "docs" / "report-example.txt").write_text(capture(out))


if __name__ == "__main__":
    main()
