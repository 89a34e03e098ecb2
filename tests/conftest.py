"""Shared fixtures: the bundled hardware and the example models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hypothesis import settings

from cost_models.hardware import Hardware, default_hardware

# The same examples on every run, so a CI result can be reproduced; HYPOTHESIS_PROFILE=explore
# draws fresh ones (and keeps failures in .hypothesis/ for replay).
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def hw() -> Hardware:
    return default_hardware()
