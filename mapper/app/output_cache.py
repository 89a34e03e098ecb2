"""Whole compiles kept in the result cache folder: a rerun with byte-identical inputs writes the stored folder.

A compile's output is a function of its inputs alone: every search is bounded by
deterministic work, never by the clock.  So ``eyeriss compile`` first looks here,
and a compile whose every input is byte for byte a stored one's publishes the
stored files again without loading the model, numpy, onnx or OR-tools (ResNet-50:
0.76 s -> about 0.2 s, benchmarks/compile_speed.py).

The key is the sha256 of the canonical JSON of: this module's FORMAT, the sha256
of the package's own files (an edited checkout never replays an older build's
output), the versions of the libraries that shape the files and of Python, the
command, every option as parsed (the cache options aside; ``--json`` and ``-o``
change no file), and for each file an option names (the model, ``--hardware``,
``--mapping``, ``--calibration``) its absolute path and sha256.  The model's
external-data files are known only once it is read: the entry lists each with
its sha256 (or as absent, for an architecture-only export) and a replay hashes
them again; they are hashed after the compile, so one whose identity (inode,
size, mtime) is not the one the frontend saw when it read the model was
rewritten meanwhile, and the compile is not stored.  A compile with a clock limit (``--time-limit``,
``--total-time-limit``) is never stored: its answers depend on the machine.

An entry is one file, written through a temporary file and a rename: a JSON
header line (the key, every file's name, size and sha256, the warnings the
compile printed, the external files) then the files' bytes.  The header carries
the sha256 of itself.  An entry that does not check out in every part
(truncated, edited, another key or format, a file name that would leave the
output folder) is no entry: the compile runs and replaces it.  As for the layer
cache (mapper.search.cache), the digests guard against damage, not against a
forger who recomputes them: the folder is trusted as far as the user's own files.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cost_models.errors import InputError
from cost_models.files import (MAX_CALIBRATION_BYTES, MAX_MAPPING_FILE_BYTES, MAX_MODEL_BYTES, Identity,
                               file_identity, open_regular, read_bounded)
from cost_models.hardware import MAX_HARDWARE_BYTES
from mapper.app.outdir import MANIFEST_FILE
from mapper.app.report import REPORT_FILE, report_from_text
from mapper.search.cache_meta import entry_digest, write_entry

FORMAT = "eyeriss-output-cache/1"
PACKAGES = ("cost_models", "frontends", "mapper")  # the package's own code and data files, all in the key
# The distributions whose versions can change a byte of the output: the ONNX reader and the host graph it writes
# (onnx, protobuf), calibration and host-operation runs (onnxruntime, numpy), the search (ortools), the graph order
# (networkx), hardware and mapping files (PyYAML).
LIBRARIES = ("onnx", "protobuf", "onnxruntime", "numpy", "ortools", "networkx", "PyYAML")
# Larger outputs (a VGG-16 program with its weights is ~280 MB) are not kept: assumed, a cache folder should not
# double the disk a model's weights take; such a compile is mostly reading and converting them anyway.
MAX_ENTRY_BYTES = 64 * 2**20
MAX_HEADER_BYTES = 16 * 2**20  # the header lists one line per file: ~100 bytes each
# Each input is hashed only within its reader's bound: a larger one is refused by the compile, which says so at
# once; hashing a 3 GB file first would not be at once.  External data has no bound of its own (a model's weights).
LIMITS = {"model": MAX_MODEL_BYTES, "hardware": MAX_HARDWARE_BYTES, "mappings": MAX_MAPPING_FILE_BYTES,
          "calibration": MAX_CALIBRATION_BYTES}
MAX_EXTERNAL_BYTES = 2**63 - 1
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Stored:
    """A compile's output as stored: the folder's files (relative path -> bytes) and the warnings it printed."""

    files: dict[str, bytes]
    warnings: tuple[str, ...]


def compile_key(command: str, model: str, options: dict[str, Any], inputs: dict[str, str | None],
                model_sha256: str | None = None) -> str | None:
    """The entry's key, or None when the compile cannot be kept (a clock limit) or an input file cannot be
    hashed (missing, not a regular file: the compile then says why).

    ``model_sha256``: the digest of the model bytes a compile read (its report's ``model.sha256``) instead of
    the file's now.  A compile is stored only if its key taken again this way, after it ran, is the key taken
    before: an input edited between the hashing and its read (an export finishing, an editor saving) must not
    leave the new input's output under the old input's key."""
    if options.get("time_limit") is not None or options.get("total_time_limit") is not None:
        return None
    files: dict[str, list[str] | None] = {}
    for what, path in {"model": model, **inputs}.items():
        if path is None:
            files[what] = None
            continue
        digest = model_sha256 if what == "model" and model_sha256 is not None else file_sha256(path, LIMITS[what])
        if digest is None:
            return None
        files[what] = [os.path.abspath(path), digest]
    doc = {"format": FORMAT, "source": source_sha256(), "libraries": library_versions(),
           "python": list(sys.version_info[:2]), "command": command, "options": options, "files": files}
    try:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False, default=list)
    except (TypeError, ValueError):  # an option that has no canonical form: no entry rather than a wrong one
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | os.PathLike, limit: int = MAX_EXTERNAL_BYTES) -> str | None:
    """The sha256 of a regular file's bytes; None if it is missing, larger than ``limit`` or anything but a
    readable regular file."""
    try:
        handle, _ = open_regular(path, limit, "input")
    except (InputError, OSError, ValueError):
        return None
    digest = hashlib.sha256()
    try:
        with handle:
            for block in iter(lambda: handle.read(HASH_BLOCK), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def source_sha256() -> str:
    """The sha256 of every file of the package's own code and data, by relative path (bytecode aside)."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)  # found, not imported: frontends would load onnx
        for root in (spec.submodule_search_locations or ()) if spec else ():
            for path in sorted(Path(root).rglob("*")):
                if "__pycache__" in path.parts or path.suffix == ".pyc" or not path.is_file():
                    continue
                digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def model_folder(model: str | os.PathLike) -> Path:
    """The folder the model's external-data locations are relative to, as the frontend resolves it
    (frontends.loading.check_external_data): the path's folder with its symlinks followed.  Not
    ``os.path.abspath``: that folds ``link/..`` by its text, another folder than the one read."""
    return Path(model).parent.resolve()


def entry_path(root: Path, key: str) -> Path:
    return root / "compiles" / key[:2] / f"{key}.bin"


def load(root: Path, key: str, model: str) -> Stored | None:
    """The stored output for ``key`` if its entry checks out in every part and the model's external-data files
    are still the ones it was compiled with; else None."""
    try:
        data = read_bounded(entry_path(root, key), MAX_ENTRY_BYTES + MAX_HEADER_BYTES, "output cache entry")
    except (InputError, OSError, ValueError):
        return None
    line, newline, blob = data.partition(b"\n")
    try:
        header = json.loads(line) if newline else None
        if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("key") != key:
            return None
        if header.get("digest") != entry_digest(header):
            return None
        files = _files(header.get("files"), blob)
        warnings = header.get("warnings")
        external = header.get("external")
        if files is None or not _strings(warnings) or not isinstance(external, dict):
            return None
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return None
    base = model_folder(model)
    for location, digest in external.items():  # locations the compile checked: inside the model's folder
        now = file_sha256(base / location) if os.path.lexists(base / location) else None
        if not isinstance(location, str) or not (digest is None or isinstance(digest, str)) or now != digest:
            return None
    return Stored(files, tuple(warnings))


def store(root: Path, key: str, model: str, files: dict[str, bytes], warnings: tuple[str, ...],
          external: dict[str, Identity | None]) -> str | None:
    """Keep a compile's output; returns why it could not be written (None when stored, or not kept by rule).

    ``external``: the model's external-data files -> their identity when the compile read the model
    (frontends.load_onnx, before any weight).  They are hashed now, after the compile: a file whose identity
    is another one's by then (rewritten while the compile ran) is not the one hashed, and nothing is kept."""
    if sum(len(data) for data in files.values()) > MAX_ENTRY_BYTES:
        return None
    base = model_folder(model)
    digests: dict[str, str | None] = {}
    for location, identity in external.items():
        path = base / location
        digests[location] = file_sha256(path) if os.path.lexists(path) else None
        if identity is not None and tuple(identity) != file_identity(path) or identity is None and \
                digests[location] is not None:
            return None  # changed since the compile read it: this output is not that file's
    header: dict[str, Any] = {
        "format": FORMAT, "key": key, "warnings": list(warnings), "external": digests,
        "files": [[name, len(data), hashlib.sha256(data).hexdigest()] for name, data in files.items()],
    }
    header["digest"] = entry_digest(header)
    body = json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n" + b"".join(files.values())
    try:
        write_entry(entry_path(root, key), body)
    except OSError as error:  # a read-only or full cache folder costs the next compile its speed, never this one
        return error.strerror or str(error) or type(error).__name__
    return None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _files(listing: Any, blob: bytes) -> dict[str, bytes] | None:
    """The files the header lists, cut from ``blob`` and each checked against its size and sha256."""
    if not isinstance(listing, list):
        return None
    files: dict[str, bytes] = {}
    offset = 0
    for item in listing:
        if not (isinstance(item, list) and len(item) == 3):
            return None
        name, size, digest = item
        if not (_safe_name(name) and isinstance(size, int) and not isinstance(size, bool) and size >= 0
                and isinstance(digest, str)) or name in files:
            return None
        data = blob[offset:offset + size]
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            return None
        files[name] = data
        offset += size
    if offset != len(blob) or REPORT_FILE not in files:
        return None
    folders = {str(parent) for name in files for parent in PurePosixPath(name).parents}
    if folders & files.keys():  # a file where another's folder goes: no folder holds both
        return None
    try:  # what the replay prints is read from it: a report no reader takes is no compile's
        report_from_text(files[REPORT_FILE].decode("utf-8"), "output cache entry")
    except (InputError, UnicodeDecodeError):
        return None
    return files


def _safe_name(name: Any) -> bool:
    """A relative path inside the output folder, as a compile writes them (no '..', no absolute path, no NUL),
    in the one spelling a compile writes (no '.', '//' or trailing '/': two spellings of one file would
    be two files to the manifest and one on disk), and not the manifest, which publish writes itself."""
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name or len(name) > 1024:
        return False
    parts = PurePosixPath(name).parts
    return (not name.startswith("/") and str(PurePosixPath(name)) == name and name != MANIFEST_FILE
            and 1 <= len(parts) <= 4 and all(part not in ("", ".", "..") for part in parts))
