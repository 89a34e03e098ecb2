"""What the documented commands write stays out of git's way (issue 30): a new user who runs the README's
first command must not find the folder it wrote listed as untracked in the checkout."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command of a code block: `eyeriss compile|sweep|simulate ARG ...`, alone on its line or after `&&`.
COMMAND = re.compile(r"(?:^|&&)\s*(eyeriss\s+(?:compile|sweep|simulate)\s+[^&|`\n]+)", re.M)


def _code(text: str) -> str:
    return "\n".join(re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, re.S))


def _output(command: str) -> str | None:
    """The folder a documented command writes into: its -o, else ./<stem of the model or spec>."""
    words = shlex.split(command)
    for flag in ("-o", "--output"):
        if flag in words:
            return words[words.index(flag) + 1]
    target = words[2]
    stem = Path(target).stem
    return None if target.startswith("-") or stem.isupper() else stem  # SPEC.yaml, MODEL.onnx: placeholders


def _documented_outputs() -> set[str]:
    return {out for doc in DOCS for match in COMMAND.finditer(_code(doc.read_text()))
            if (out := _output(match.group(1))) is not None}


def test_the_readme_first_command_is_found():
    assert "alexnet" in _documented_outputs()


def test_every_documented_output_folder_is_ignored_by_git():
    outputs = sorted(_documented_outputs())
    probe = [f"{out.rstrip('/')}/report.json" for out in outputs]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *probe], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert sorted(set(probe) - set(ignored)) == [], "documented outputs git would list as untracked"


def test_an_anchored_rule_does_not_hide_the_example_folders():
    kept = subprocess.run(["git", "check-ignore", "--no-index", "examples/digits/train.py", "examples/alexnet.onnx"],
                          cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert kept == []
