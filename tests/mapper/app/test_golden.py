"""Same input, same output: every example compiles to the committed golden report, byte for byte but timing.

A golden file (tests/golden/<model>_b<batch>.json) is what ``eyeriss compile --json`` wrote on another run,
in another process, at another machine load (AlexNet's is compared on a saturated machine): the report (which
holds no wall-clock figure) and the SHA-256 of every bitstream.  Matching it shows the search is
deterministic across processes and loads (no wall-clock limit decided anything) and that nothing changed
the tool's output unnoticed.  After a change that is meant to move the output, regenerate and review:

    EYERISS_REGENERATE_GOLDEN=1 python -m pytest tests/mapper/app/test_golden.py
    git diff tests/golden/
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import run_cli

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "tests" / "golden"
REGENERATE = os.environ.get("EYERISS_REGENERATE_GOLDEN") == "1"
REGENERATE_COMMAND = "EYERISS_REGENERATE_GOLDEN=1 python -m pytest tests/mapper/app/test_golden.py"
CASES = [("lenet5", 1), ("alexnet", 2), ("vgg16", 1), ("resnet18", 1), ("resnet50", 1), ("mobilenet_v2", 1)]


def without_timing(report: dict) -> dict:
    """The report as it is: it holds no wall-clock figure (a copy, so callers may edit it)."""
    return json.loads(json.dumps(report))


def snapshot(out: Path, printed: dict) -> dict:
    """What a compile produced, timing aside: the report (as saved and as printed) and each bitstream's hash."""
    saved = json.loads((out / "report.json").read_text())
    assert printed == saved  # --json prints the report it saves
    bitstreams = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in sorted((out / "bitstreams").iterdir())}
    assert bitstreams  # every example maps
    return {"report": without_timing(saved), "bitstreams": bitstreams}


# Compiled with every core kept busy by other processes (one busy loop per core besides the suite's own):
# every limit that decides the answer is deterministic work, not the clock, so a saturated machine gives
# the golden report too.
SATURATED = {"alexnet"}


@contextlib.contextmanager
def saturated(on: bool) -> Iterator[None]:
    """One busy-loop process per core while the block runs (nothing when ``on`` is false)."""
    from mapper.search.parallel import cores

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores() if on else 0)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


@pytest.mark.parametrize("model, batch", CASES, ids=[f"{m}-b{b}" for m, b in CASES])
def test_compile_matches_the_golden_report(tmp_path, model, batch):
    with saturated(model in SATURATED and not REGENERATE):
        run = run_cli(["compile", str(EXAMPLES / f"{model}.onnx"), "--batch", str(batch), "-o", "out", "--json"],
                      tmp_path)
    assert run.code == 0, run.stderr
    got = snapshot(tmp_path / "out", json.loads(run.stdout))
    path = GOLDEN / f"{model}_b{batch}.json"
    if REGENERATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"regenerated {path.relative_to(ROOT)}")
    golden = json.loads(path.read_text())
    hint = f"differs from {path.relative_to(ROOT)}; if meant, regenerate: {REGENERATE_COMMAND}"
    for key in sorted(set(golden["report"]) | set(got["report"])):
        assert got["report"].get(key) == golden["report"].get(key), f"report[{key!r}] {hint}"
    assert got["bitstreams"] == golden["bitstreams"], f"bitstreams {hint}"


def test_reports_hold_no_wall_clock_figure(tmp_path):
    """Same input, same bytes: report.json (hashed by the manifest) holds no time of any run."""
    run = run_cli(["compile", str(EXAMPLES / "lenet5.onnx"), "-o", "out", "--json"], tmp_path)
    report = json.loads(run.stdout)
    assert "compile_s" not in report["totals"]
    assert all("wall_s" not in layer["solver"] for layer in report["layers"])
