"""Shared fixtures: the bundled hardware and the example models."""

from __future__ import annotations

from pathlib import Path

import pytest

from cost_models.hardware import Hardware, default_hardware

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def hw() -> Hardware:
    return default_hardware()
