"""Shared fixtures: the bundled hardware and the example models."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from hypothesis import settings

from cost_models.hardware import Hardware, default_hardware

# The same examples on every run, so a CI result can be reproduced; HYPOTHESIS_PROFILE=explore
# draws fresh ones (and keeps failures in .hypothesis/ for replay).
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# No test writes to the user's result cache (mapper.search.cache): set before any test module is
# imported, so an environment a module copies at import time points here too; each test then gets
# an empty folder of its own (_cache_home).
_SESSION_CACHE = tempfile.mkdtemp(prefix="eyeriss-test-cache-")
atexit.register(shutil.rmtree, _SESSION_CACHE, True)
os.environ["XDG_CACHE_HOME"] = _SESSION_CACHE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test starts from an empty result cache of its own (mapper.search.cache), as a first compile does."""
    home = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def hw() -> Hardware:
    return default_hardware()
