"""Every sweep spec the project shows runs and finds a front: each examples/*.yaml sweep spec, and each sweep
spec in a fenced yaml block of docs/*.md (which must be one of those files, word for word, so its paths
resolve); docs/sweep.md's output block is what the example prints today (python docs/sweep_example.py)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.fuzz.harness import run_cli

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.S | re.M)

# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_sweep_specs")


def is_sweep_spec(text: str) -> bool:
    doc = yaml.safe_load(text)
    return isinstance(doc, dict) and {"vary", "networks"} <= set(doc)


def example_specs() -> list[Path]:
    return sorted(p for p in (ROOT / "examples").glob("*.yaml") if is_sweep_spec(p.read_text()))


def docs_specs() -> list[tuple[str, str]]:
    return [(doc.name, block) for doc in sorted((ROOT / "docs").glob("*.md"))
            for block in BLOCK.findall(doc.read_text()) if is_sweep_spec(block)]


def _example_module():
    spec = importlib.util.spec_from_file_location("sweep_example", ROOT / "docs" / "sweep_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[object, Path]]:
    """Each example spec run once as a user would (docs/sweep_example.py's terminal, an empty result cache)
    in a scratch folder that sees the examples: spec name -> (the run, its output folder)."""
    example = _example_module()
    out = {}
    for path in example_specs():
        cwd = tmp_path_factory.mktemp(path.stem)
        (cwd / "examples").symlink_to(ROOT / "examples")
        env = dict(example.ENV, XDG_CACHE_HOME=str(cwd / "cache"))
        out[path.name] = (run_cli(["sweep", f"examples/{path.name}"], cwd=cwd, env=env), cwd / path.stem)
    return out


def test_the_docs_and_examples_hold_sweep_specs() -> None:
    assert "sweep_lenet.yaml" in {p.name for p in example_specs()}
    assert any(name == "sweep.md" for name, _ in docs_specs())


def test_every_docs_spec_is_a_shipped_example_word_for_word() -> None:
    shipped = {p.read_text() for p in example_specs()}
    for name, block in docs_specs():
        assert block in shipped, f"a sweep spec in docs/{name} is no examples/*.yaml file"


@pytest.mark.parametrize("name", [p.name for p in example_specs()])
def test_every_example_spec_runs_and_finds_a_front(runs, name) -> None:
    run, folder = runs[name]
    assert run.code == 0, run.stderr
    rows = json.loads((folder / "points.json").read_text())["rows"]
    front = [row for row in rows if row["pareto"]]
    assert front and all(row["feasible"] for row in front)
    for row in rows:   # every infeasible row is listed in the terminal with its reason
        if not row["feasible"]:
            assert row["reason"] and f"point {row['point']} (" in run.stdout
    assert {"pareto.png", "pareto.svg", "points.csv"} <= {p.name for p in folder.iterdir()}


def test_docs_show_the_example_output_of_today(runs) -> None:
    example = _example_module()
    run, _ = runs[Path(example.SPEC).name]
    assert example.shown((ROOT / "docs" / "sweep.md").read_text()) == example.capture(run.stdout), \
        "docs/sweep.md's output is stale: python docs/sweep_example.py"
