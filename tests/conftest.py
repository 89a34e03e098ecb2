"""Shared fixtures: the bundled hardware and the example models."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

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


@pytest.fixture(scope="session")
def jssc() -> ModuleType:
    """benchmarks/jssc_alexnet.py: AlexNet CONV1-5, the published mappings [JSSC Table III] and Table V."""
    spec = importlib.util.spec_from_file_location("jssc_alexnet", ROOT / "benchmarks" / "jssc_alexnet.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
