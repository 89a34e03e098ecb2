"""Where the result cache lives, which version its entries belong to and how one is written, loading nothing else.

The output cache (mapper.app.output_cache) looks in the same folder before numpy,
onnx or OR-tools load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any


def package_version() -> str:
    """The installed package's version, else the one pyproject.toml declares (a source checkout)."""
    from importlib import metadata

    try:
        return metadata.version("eyeriss-compiler")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        found = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        return found.group(1) if found else "unknown"


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/eyeriss``, else ``~/.cache/eyeriss`` (the XDG base directory rule)."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "eyeriss"


def write_entry(path: Path, data: bytes) -> None:
    """A cache entry through a temporary file and ``os.replace``: processes sharing the folder read the old entry
    or the new one.  Not fsynced: an entry a crash cut short fails its digest and is no entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def entry_digest(entry: dict[str, Any]) -> str:
    """The sha256 of an entry's canonical JSON, its own ``digest`` left out: what a cache entry carries of itself."""
    body = {k: v for k, v in entry.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
