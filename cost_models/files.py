"""Reading an input file without trusting it: regular files only, size checked before a byte is read.

Every reader of the tool (hardware YAML, report JSON, bitstream, ONNX model and
its external data) goes through here, so one rule holds for all of them: a
folder, FIFO, device or socket is refused by its type (``os.stat``), never
opened for a blocking read (the open uses ``O_NONBLOCK``, so even a file
swapped for a FIFO after the check cannot hang the tool); a file larger than
the reader's limit is refused from its size, so ``/dev/zero`` or a sparse
multi-GB file costs no memory.  It lives at the bottom layer because the
hardware loader reads a file too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from cost_models.errors import InputError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _os_error(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "no such file"
    if error.errno == errno.ELOOP:
        return "cannot read: too many levels of symbolic links (a symlink loop)"
    if error.errno == errno.ENAMETOOLONG:
        return "cannot read: the path is too long"
    if error.errno == errno.ENOTDIR:
        return "cannot read: a part of the path is a file, not a folder"
    return f"cannot read: {error.strerror or error}"


# The largest input files the readers take, here so that what checks an input before it is read (the output
# cache's key, mapper.app.output_cache) holds the same bounds without loading the readers.
MAX_MODEL_BYTES = 2**31  # an ONNX model: protobuf's own limit for one message
MAX_CALIBRATION_BYTES = 2**31  # calibration samples: assumed, a few hundred ImageNet images at float32 stay far below
# A mapping is 8 small integers, ~60 bytes a layer; 4 MB holds 50 000 layers (assumed: the largest bundled
# model has 54) and keeps a hostile file from costing memory before it is parsed.
MAX_MAPPING_FILE_BYTES = 4_000_000

# Path limits of Linux (PATH_MAX, NAME_MAX), in bytes of the file system's encoding.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def checked_path_text(name: str, what: str, where: str | None = None,
                      error: type[InputError] = InputError) -> str:
    """A path an input file names (an external-data location, a sweep spec's model or hardware file),
    checked once for everything the OS would otherwise trip on: a NUL byte, control characters, text the
    file system cannot encode, a path or a component longer than Linux allows."""
    shown = f"'{name[:80]}'"  # the CLI prints it escaped (mapper.app.untrusted)
    if "\x00" in name:
        raise error(f"{what} {shown} holds a NUL byte", where)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise error(f"{what} {shown} holds a control character", where)
    try:
        encoded = name.encode("utf-8")  # strict: a lone surrogate is no file name
    except UnicodeError:
        raise error(f"{what} {shown} is not valid text (a lone surrogate)", where) from None
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise error(f"{what} {shown} is longer than a path may be ({MAX_PATH_BYTES} bytes, "
                         f"{MAX_NAME_BYTES} per name)", where)
    return name


def checked_size(path: str | os.PathLike, limit: int, what: str) -> int:
    """The size of the regular file at ``path`` (InputError if it is anything else or larger than ``limit``)."""
    where = str(path)
    try:
        info = os.stat(path)
    except OSError as error:
        raise InputError(_os_error(error), where) from None
    except ValueError:  # an embedded NUL byte
        raise InputError("cannot read: the path holds a NUL byte", where) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"is {_kind(info.st_mode)}, not a regular file ({what})", where)
    if info.st_size > limit:
        raise InputError(f"file is {info.st_size} bytes, more than the {limit} a {what} file may have", where)
    return info.st_size


Identity = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


def file_identity(path: str | os.PathLike) -> Identity | None:
    """What tells a file from one put in its place or rewritten (another inode, size or mtime); None if it
    cannot be stat'ed (the reader then says why)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def open_regular(path: str | os.PathLike, limit: int, what: str) -> tuple[BinaryIO, int]:
    """An open binary handle on a regular file of at most ``limit`` bytes, and its size.

    The type and size are checked again on the open descriptor: what was
    checked is what is read.
    """
    checked_size(path, limit, what)
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise InputError(_os_error(error), where) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        raise InputError(f"changed while being opened (now {_kind(info.st_mode)} of {info.st_size} bytes)", where)
    return os.fdopen(fd, "rb"), info.st_size


def read_bounded(path: str | os.PathLike, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (a file that grows past it while read is refused)."""
    handle, _ = open_regular(path, limit, what)
    with handle:
        try:
            data = handle.read(limit + 1)
        except OSError as error:
            raise InputError(_os_error(error), str(path)) from None
    if len(data) > limit:
        raise InputError(f"file grew past the {limit} bytes a {what} file may have while being read", str(path))
    return data


def read_text_bounded(path: str | os.PathLike, limit: int, what: str) -> str:
    """``read_bounded`` decoded as UTF-8 (InputError on bytes that are not)."""
    data = read_bounded(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start}); not a {what} file", str(path)) from None


def read_range(path: Path, offset: int, length: int, limit: int, what: str) -> bytes:
    """``length`` bytes at ``offset`` of a regular file; the file must hold them and ``length`` <= ``limit``."""
    if length > limit:
        raise InputError(f"{length} bytes asked, more than the {limit} a {what} may have", str(path))
    handle, size = open_regular(path, 2**63 - 1, what)
    with handle:
        if offset + length > size:
            raise InputError(f"file is {size} bytes, the {what} needs {length} bytes at offset {offset}", str(path))
        handle.seek(offset)
        data = handle.read(length)
    if len(data) != length:
        raise InputError(f"file shrank while being read ({len(data)} of {length} bytes)", str(path))
    return data
