"""Numeric arrays from a user's .npy or .npz file (calibration samples, ``run`` inputs), read in one place.

An input file is untrusted: nothing in it is unpickled (an object array is read only by unpickling,
which runs whatever code the file names), and no size it declares is allocated before the bytes are
seen to be there.  ``np.load`` alone allocates a .npy header's shape before reading its data (a
30-byte header declaring 2^40 floats asks for 4 TB), reads a .npz member that is no .npy as raw bytes,
and lets ``zipfile`` errors of a damaged archive escape as their own types.  So the signature, every
.npy header and every archive member's declared size are checked first; each fault is one
``InputError`` naming the file and, in an archive, the array.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
import zlib

import numpy as np

from cost_models.errors import InputError, foreign_message
from cost_models.files import read_bounded

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members, an empty one
_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def read_arrays(path: str | os.PathLike, limit: int, what: str) -> np.ndarray | dict[str, np.ndarray]:
    """The array of a .npy file, or the arrays of a .npz by name; at most ``limit`` bytes, read or unpacked."""
    where = str(path)
    data = read_bounded(path, limit, what)
    if not data:
        raise InputError("the file is empty (give a .npy or .npz file of arrays)", where)
    if data.startswith(NPY_MAGIC):
        return npy_array(data, where)
    if data.startswith(ZIP_MAGICS):
        return _archive(data, limit, where)
    raise InputError(f"not a .npy or .npz file (it starts with {data[:8]!r}, not the .npy or zip signature that "
                     "numpy.save and numpy.savez write)", where)


def npy_array(data: bytes, where: str, name: str | None = None) -> np.ndarray:
    """The array of one .npy file's bytes; object arrays refused, never unpickled; a short file refused."""
    at = f"array '{name}': " if name is not None else ""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in _HEADERS:
            raise ValueError(f".npy format version {version[0]}.{version[1]} (this reads 1.0 and 2.0)")
        shape, _, dtype = _HEADERS[version](stream)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise InputError(f"{at}not a readable .npy array: {foreign_message(error, 200)}", where) from None
    if dtype.hasobject:
        raise InputError(f"{at}holds Python objects ({dtype}), not numeric arrays: only unpickling reads them, "
                         "and unpickling runs code from the file (never done)", where)
    needed, held = math.prod(shape) * dtype.itemsize, len(data) - stream.tell()
    if held < needed:
        raise InputError(f"{at}truncated: its header declares {dtype} {list(shape)} ({needed} bytes), the file "
                         f"holds {held}", where)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{at}not a readable .npy array: {foreign_message(error, 200)}", where) from None


def _archive(data: bytes, limit: int, where: str) -> dict[str, np.ndarray]:
    """Every member of a .npz: each a .npy, the unpacked total within ``limit`` (a zip bomb is refused)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise InputError(f"not a readable .npz file (a damaged or truncated zip archive: "
                         f"{foreign_message(error, 120)})", where) from None
    unpacked = sum(member.file_size for member in members)
    if unpacked > limit:
        raise InputError(f"its arrays unpack to {unpacked} bytes, more than the {limit} allowed", where)
    out: dict[str, np.ndarray] = {}
    with archive:
        for member in members:
            name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
            if not member.filename.endswith(".npy") or name in out:
                raise InputError(f"member '{member.filename}' is not one .npy array (numpy.savez writes NAME.npy)",
                                 where)
            try:
                raw = archive.read(member)
            except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError,
                    RuntimeError) as error:  # a bad CRC or deflate stream, an encrypted or unknown method
                raise InputError(f"array '{name}': its bytes in the archive are damaged "
                                 f"({foreign_message(error, 120)})", where) from None
            if not raw.startswith(NPY_MAGIC):
                raise InputError(f"array '{name}': not a .npy array (it starts with {raw[:8]!r})", where)
            out[name] = npy_array(raw, where, name)
    return out
