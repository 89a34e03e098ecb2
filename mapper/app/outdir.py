"""The output folder: where ``-o`` may point, and proof that a folder is ours before it is replaced.

``eyeriss compile`` replaces its output folder as a whole (compiler.save).  It
may do so only when it can prove it wrote everything in there: a manifest
(``manifest.json``) lists every file with its sha256, and the folder must hold
exactly those files with those hashes.  A folder holding anything else (a
``bitstreams/keep_me.txt``, an edited report) is refused with exit 2, and so
is a path that cannot become a folder at all (too long, under ``/proc``,
below a file), before any search runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from cost_models.errors import InputError
from cost_models.files import read_bounded
from mapper.app.atomic import fsync_folder, write_synced

MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = "eyeriss-manifest/1"
# An output folder is report.json, the manifest and one bitstream per layer; a folder with more files,
# or bigger ones, is not ours (assumed bounds: 100 000 layers, 256 MB per file as for reports).
MAX_FILES = 100_000
MAX_FILE_BYTES = 256 * 2**20
# Room for the staging siblings' suffix (".NAME.tmp-PID") inside a file name's 255 bytes.
_STAGING_SUFFIX = 32


def manifest_bytes(files: dict[str, bytes]) -> bytes:
    """The manifest of ``files`` (relative path -> contents): every file with its sha256."""
    listing = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    return (json.dumps({"schema": MANIFEST_SCHEMA, "files": listing}, indent=1) + "\n").encode()


def publish(out: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path -> bytes) and their manifest as the folder ``out``: the old complete
    folder or the new one, never half.

    Everything goes into a sibling staging folder first, each file fsynced, then
    the folders; the staging folder then replaces ``out`` by one rename.  No one
    sees a file before that rename, so a file needs no temporary name of its own
    (one fsync per file, not two).  An existing ``out`` is only replaced if it is
    empty or holds exactly the files an earlier run listed in its manifest
    (``check_output_dir``: so ``-o ~`` cannot delete a home, nor a user's file
    put next to ours).
    """
    check_output_dir(out)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent, out.name)
    staging = parent / f".{out.name}.tmp-{os.getpid()}"
    old = parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        folders = {staging}
        for name, data in {**files, MANIFEST_FILE: manifest_bytes(files)}.items():
            path = staging / name
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            write_synced(path, data)
        for folder in sorted(folders, reverse=True):  # the deepest first, the staging folder last
            fsync_folder(folder)
        if out.exists():
            os.replace(out, old)
        os.replace(staging, out)
        fsync_folder(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return out


def _remove_stale(parent: Path, name: str) -> None:
    """Staging folders left by a killed run (its pid is gone) are removed."""
    for child in parent.glob(f".{name}.*-*"):
        kind, _, pid = child.name.rpartition("-")
        if not pid.isdigit() or not (kind.endswith(".tmp") or kind.endswith(".old")):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that run is still alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(child, ignore_errors=True)


def check_output_dir(out: Path) -> None:
    """Refuse (InputError) an ``-o`` that cannot be written or holds anything the tool cannot prove it wrote."""
    where = str(out)
    _check_name(out, where)
    try:
        info = os.lstat(out)
    except FileNotFoundError:
        _check_creatable(out, where)
        return
    except NotADirectoryError:
        raise InputError("is below an existing file, not a folder; choose another -o", where) from None
    except OSError as error:
        raise InputError(f"cannot be used as the output folder: {error.strerror or error}", where) from None
    if not stat.S_ISDIR(info.st_mode):
        raise InputError("exists and is not a folder; choose another -o", where)
    _check_creatable(out.parent / f".{out.name}.probe", where)
    if not any(out.iterdir()):
        return
    problem = _not_ours(out)
    if problem:
        raise InputError(f"exists and is not an eyeriss output folder ({problem}); refusing to replace it, "
                         "choose another -o", where)


def _check_name(out: Path, where: str) -> None:
    if "\0" in str(out):
        raise InputError("the output path holds a NUL byte", where)
    name_max, path_max = 255, 4096
    if len(os.fsencode(os.path.abspath(out))) + _STAGING_SUFFIX > path_max:
        raise InputError(f"the output path is too long (at most {path_max - _STAGING_SUFFIX} bytes)", where)
    for part in out.parts:
        if len(os.fsencode(part)) + _STAGING_SUFFIX > name_max:
            raise InputError(f"an output path component is too long (at most {name_max - _STAGING_SUFFIX} bytes)",
                             where)


def _check_creatable(out: Path, where: str) -> None:
    """The nearest existing ancestor is a folder we can create entries in (probed, and the probe removed)."""
    ancestor = Path(os.path.abspath(out)).parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"is below '{ancestor}', which is a file, not a folder; choose another -o", where)
    try:
        probe = tempfile.mkdtemp(prefix=".eyeriss-probe-", dir=ancestor)
    except OSError as error:
        raise InputError(f"cannot create the output folder in '{ancestor}': {error.strerror or error}", where) from None
    os.rmdir(probe)


def _not_ours(out: Path) -> str | None:
    """Why ``out`` is not provably a folder this tool wrote (None when it is)."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(out):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                return f"it holds a symlink, {path.relative_to(out)}"
            if path.is_file():
                found.add(path.relative_to(out).as_posix())
            elif not path.is_dir():
                return f"it holds {path.relative_to(out)}, which is not a regular file"
        if len(found) > MAX_FILES:
            return "it holds too many files"
    if MANIFEST_FILE not in found:
        return f"it has no {MANIFEST_FILE} listing the files eyeriss wrote"
    try:
        manifest = json.loads(read_bounded(out / MANIFEST_FILE, MAX_FILE_BYTES, "manifest"))
        listing = manifest["files"] if manifest.get("schema") == MANIFEST_SCHEMA else None
    except (InputError, ValueError, TypeError, KeyError, AttributeError):
        listing = None
    if not isinstance(listing, dict):
        return f"its {MANIFEST_FILE} is not an eyeriss manifest"
    extra = sorted(found - set(listing) - {MANIFEST_FILE})
    if extra:
        return f"it holds {extra[0]}, which eyeriss did not write"
    missing = sorted(set(listing) - found)
    if missing:
        return f"{str(missing[0])[:200]} listed in its manifest is missing"
    for name, digest in listing.items():
        try:
            data = read_bounded(out / name, MAX_FILE_BYTES, "output")
        except InputError:
            return f"{name} listed in its manifest is missing or unreadable"
        if hashlib.sha256(data).hexdigest() != digest:
            return f"{name} was changed since eyeriss wrote it"
    return None


def read_verified(out: Path) -> dict[str, bytes]:
    """Every file the folder's manifest lists, read once and checked against its sha256 (InputError otherwise)."""
    where = str(out)
    if not out.is_dir():
        raise InputError("is not a folder (give the folder `eyeriss compile` wrote)", where)
    problem = _not_ours(out)
    if problem:
        raise InputError(f"is not an intact eyeriss compile folder: {problem}", where)
    listing = json.loads(read_bounded(out / MANIFEST_FILE, MAX_FILE_BYTES, "manifest"))["files"]
    files = {}
    for name, digest in listing.items():
        data = read_bounded(out / name, MAX_FILE_BYTES, "output")
        if hashlib.sha256(data).hexdigest() != digest:  # changed since the check above
            raise InputError(f"{name} was changed since eyeriss wrote it", where)
        files[name] = data
    return files


def read_unverified(out: Path) -> dict[str, bytes]:
    """Every file the manifest lists, read without checking hashes (tests that tamper on purpose)."""
    listing = json.loads(read_bounded(out / MANIFEST_FILE, MAX_FILE_BYTES, "manifest"))["files"]
    return {name: read_bounded(out / name, MAX_FILE_BYTES, "output") for name in listing}
