"""The bundled examples with real (seeded) weights, generated once into a work folder and compiled there.

The committed examples are shape-only (their weights would be ~1 GB); ``examples/make_examples.py
--weights`` makes the weighted ones byte for byte the same on every machine.  Shared by run_accuracy.py
and run_speed.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ("lenet5", "alexnet", "resnet18", "mobilenet_v2", "resnet50", "vgg16")


def _make_examples():
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "examples" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def weighted_model(name: str, work: Path) -> Path:
    """``work/<name>.onnx`` with real weights, written if missing."""
    path = work / f"{name}.onnx"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        _make_examples().write_weighted(name, work)
    return path


def compiled(name: str, work: Path, batch: int = 1) -> Path:
    """The compile folder of the weighted network (compiled if missing), proofs from the user's result cache."""
    from mapper import compile_model

    out = work / f"{name}_b{batch}"
    if not (out / "program" / "program.json").exists():
        compile_model(weighted_model(name, work), batch=batch, cache=True, compare_spaces=False).save(out)
    return out
