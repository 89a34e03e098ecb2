"""benchmarks/peers.py's skip path: without ZigZag it prints one line and exits 0, running neither tool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"


def _run(peers_python: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EYERISS_PEERS_PYTHON": peers_python}
    return subprocess.run([sys.executable, str(SCRIPT), "--repeat", "1", "--networks", "alexnet"],
                          env=env, capture_output=True, text=True, timeout=120)


def _python_without_site_packages(tmp_path: Path) -> str:
    """This interpreter with -S: the standard library but no installed packages, so no ZigZag."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.parametrize("kind", ["no zigzag", "no interpreter"])
def test_skipped_with_one_line_when_zigzag_is_absent(tmp_path: Path, kind: str) -> None:
    python = _python_without_site_packages(tmp_path) if kind == "no zigzag" else str(tmp_path / "missing-python")
    done = _run(python)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [done.stdout.strip()]
    assert done.stdout.startswith("peers: skipped: ZigZag (zigzag-dse) is not installed")
    assert python in done.stdout
    assert "eyeriss wall" not in done.stdout  # no table: neither tool ran


def test_table_from_a_stand_in_zigzag(tmp_path: Path) -> None:
    """The measuring and table path, with a stand-in for ZigZag's interpreter that answers at once (the real
    ZigZag takes minutes; only the benchmark runs it): eyeriss compile runs for real, one row per network."""
    stand_in = tmp_path / "python"
    stand_in.write_text('#!/bin/sh\ncase "$2" in *importlib.metadata*) echo 3.9.1;; '
                        '*) echo "energy 1.5 pJ, latency 7 cycles";; esac\n')
    stand_in.chmod(0o755)
    done = _run(str(stand_in))
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "AlexNet" in line and "x" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[0] == "AlexNet" and float(cells[1]) > 0 and float(cells[2]) > 0
    assert cells[5].endswith("x") and cells[6].endswith("x")
    assert "AlexNet: ZigZag found energy 1.5 pJ, latency 7 cycles" in done.stdout
    assert "ZigZag 3.9.1" in done.stdout and "nproc" in done.stdout
