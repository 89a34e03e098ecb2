"""Fixtures the app tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper import compile_model

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def lenet(tmp_path_factory) -> Path:
    """LeNet-5 compiled afresh (no cache) into a folder of its own: a complete program with its manifest."""
    out = tmp_path_factory.mktemp("lenet") / "lenet5"
    compile_model(EXAMPLES / "lenet5.onnx", cache=False).save(out)
    return out
