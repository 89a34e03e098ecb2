"""Shared fixtures: the bundled hardware and the example models."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# One BLAS thread per process: `pytest -n auto` already runs a worker per core, and OpenBLAS's own threads
# on top spin against the other worker (measured: the bundled networks' chip runs take a third more CPU).
# Set before numpy loads OpenBLAS, which reads it once; the CLI subprocesses tests start inherit it.
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``--dist loadgroup`` every test marked ``xdist_group`` must carry its group in its id, or xdist
    spreads a file over the workers and each rebuilds its module fixtures (pytest-xdist 3.8 under pytest 9)."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    untagged = [item.nodeid for item in session.items
                if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if untagged:
        raise pytest.UsageError(f"--dist loadgroup did not group {len(untagged)} marked tests (first: "
                                f"{untagged[0]}): this pytest-xdist cannot tag ids under this pytest; see pyproject.toml")
