"""The checkout holds no path of a developer's machine (issue 29): a reader elsewhere cannot follow one."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Absolute home, workspace and temporary folders of the machines the project is built on or its users run.
MACHINE_PATH = re.compile(r"(?<![\w.])(/work/|/home/\w|/Users/\w|/root/|/tmp/pytest-|[A-Z]:\\\\Users\\\\)")
TEXT = (".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg", ".ini", "")


def _tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_machine_path_anywhere_in_the_tree():
    found = []
    for path in _tracked():
        if path.suffix not in TEXT or not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in MACHINE_PATH.finditer(text) if path.name != "test_tree.py"]
    assert not found, "machine paths in the tree:\n" + "\n".join(found[:20])


def test_the_pattern_catches_what_it_is_for():
    for line in ("see /work/shared/eyeriss.md", "/home/alice/x.onnx", "C:\\\\Users\\\\bob", "/root/.cache"):
        assert MACHINE_PATH.search(line), line
    for line in ("docs/eyeriss-facts.md", "examples/work/x", "~/.cache/eyeriss", "path/to/home/x"):
        assert not MACHINE_PATH.search(line), line
