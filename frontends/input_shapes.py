"""``--input-shape NAME=D,D,...``: a graph input's shape fixed by the user before shape inference.

A model exported with dynamic dimensions (``torch.onnx.export(..., dynamic_axes=...)`` for the height and
width, or a sequence length) has no layer shapes until each input's size is known. The batch has
``--batch``; every other symbolic dimension is given here, one full shape per input.

The text form splits on the LAST ``=``: the dimensions never hold one, so an input name may hold ``=``
and commas (``a=b=1,3,8,8`` is input ``a=b``). One error type, ``InputShapeError``, for every way a spec
or an override can be wrong, each one line naming the input (escaped: names come from the model file).
"""

from __future__ import annotations

import re
import shlex
from typing import Iterable, Mapping

import onnx

from frontends.loading import FrontendError

# Largest dimension an override may give (assumed: far above any real input, a 2**31-pixel side, and
# low enough that products of a few dims stay inside int64 in the cost model's counts).
MAX_DIM = 2**31
MAX_RANK = 16  # assumed: no network input has more axes (video: 5)
_DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII digits only (int() also takes '٣'); 12 digits: far above MAX_DIM
SHOWN_INPUTS = 10  # an unknown name's error lists at most this many of the model's inputs
_NAME_CHARS = 200  # a name quoted in an error is cut here (the whole line is bounded by the CLI too)

InputShapes = Mapping[str, tuple[int, ...]]


class InputShapeError(FrontendError):
    """An ``--input-shape`` spec or override we refuse (exit 2, one line)."""


def quoted(name: str) -> str:
    """An input name for an error line: quoted, cut if long. Not escaped here: the CLI prints every error
    through ``mapper.app.untrusted.printable``, which escapes control and format characters once."""
    return f"'{name if len(name) <= _NAME_CHARS else name[:_NAME_CHARS] + '...'}'"


def format_input_shape(name: str, dims: Iterable[int]) -> str:
    """The text ``parse_input_shape`` reads back as ``(name, dims)``."""
    return f"{name}={','.join(str(d) for d in dims)}"


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``NAME=D,D,...`` -> (NAME, dims); split on the last ``=``. Raises InputShapeError only."""
    if not isinstance(text, str):
        raise InputShapeError(f"expected NAME=D,D,... as text, got {type(text).__name__}")
    name, sep, figures = text.rpartition("=")
    if not sep:
        raise InputShapeError(f"expected NAME=D,D,... (an input name, '=', its dimensions), got {quoted(text)}")
    if not name:
        raise InputShapeError(f"no input name before '=' in {quoted(text)} (expected NAME=D,D,...)")
    parts = figures.split(",")
    dims = []
    for index, part in enumerate(parts):
        digits = part.strip(" ")
        if not _DIGITS.fullmatch(digits):
            what = "is empty" if not digits else f"is {quoted(digits)}, not a positive integer"
            raise InputShapeError(f"--input-shape {quoted(name)}: dimension {index} {what} (expected NAME=D,D,...)")
        dims.append(int(digits))
    return name, check_dims(name, dims)


def check_dims(name: str, dims: object) -> tuple[int, ...]:
    """``dims`` as a tuple of ints in 1..MAX_DIM, at most MAX_RANK of them; else one InputShapeError."""
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Iterable):
        raise InputShapeError(f"--input-shape {quoted(name)}: the shape must be a sequence of integers, got "
                              f"{type(dims).__name__}")
    dims = list(dims)
    if not dims:
        raise InputShapeError(f"--input-shape {quoted(name)}: no dimensions given (expected NAME=D,D,...)")
    if len(dims) > MAX_RANK:
        raise InputShapeError(f"--input-shape {quoted(name)}: {len(dims)} dimensions; at most {MAX_RANK}")
    for index, dim in enumerate(dims):
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise InputShapeError(f"--input-shape {quoted(name)}: dimension {index} is {str(dim)[:40]!r}, not an integer")
        if not 1 <= dim <= MAX_DIM:
            raise InputShapeError(f"--input-shape {quoted(name)}: dimension {index} is {dim}; dimensions must be between 1 "
                                  f"and {MAX_DIM}")
    return tuple(dims)


def input_shape_map(pairs: Iterable[tuple[str, Iterable[int]]] | Mapping[str, Iterable[int]] | None
                    ) -> dict[str, tuple[int, ...]]:
    """name -> dims from ``(name, dims)`` pairs (the repeated CLI option) or a mapping; an input given twice is an
    error rather than the last one silently winning."""
    if not pairs:
        return {}
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, dims = item
        if not isinstance(name, str) or not name:
            raise InputShapeError(f"an input name must be a non-empty string, got {str(name)[:40]!r}")
        if name in out:
            raise InputShapeError(f"--input-shape {quoted(name)}: shape given twice")
        out[name] = check_dims(name, dims)
    return out


def apply_input_shapes(proto: onnx.ModelProto, shapes: InputShapes, where: str, weights: set[str]) -> dict[int, str]:
    """Fix the shapes of the graph inputs ``shapes`` names, in place, before shape inference.

    The rank must match the model's (an input declared without a shape takes the given one); a dimension the
    model fixes must be given as it is. Returns {leading dim given: input name} for the inputs whose leading
    (batch) dimension was symbolic, so the caller can reconcile it with ``--batch``.
    """
    skip = {tensor.name for tensor in proto.graph.initializer}
    data = [value for value in proto.graph.input
            if value.name not in skip and value.name not in weights and value.type.HasField("tensor_type")]
    by_name = {value.name: value for value in data}
    batches: dict[int, str] = {}
    for name, dims in shapes.items():
        dims = check_dims(name, dims)
        value = by_name.get(name)
        if value is None:
            raise InputShapeError(_unknown(name, data, name in skip or name in weights), where)
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            tensor_type.shape.dim.extend(onnx.TensorShapeProto.Dimension(dim_value=d) for d in dims)
            continue
        declared = tensor_type.shape.dim
        if len(declared) != len(dims):
            raise InputShapeError(f"--input-shape {quoted(name)} gives {len(dims)} dimension(s); the input has "
                                  f"{len(declared)} ({describe(declared)})", where)
        for index, (dim, given) in enumerate(zip(declared, dims)):
            if dim.HasField("dim_value") and dim.dim_value != given:
                raise InputShapeError(f"--input-shape {quoted(name)} gives dimension {index} as {given}; the model "
                                      f"fixes it at {dim.dim_value} ({describe(declared)})", where)
        if not declared[0].HasField("dim_value"):
            batches.setdefault(dims[0], name)
        for dim, given in zip(declared, dims):
            dim.Clear()
            dim.dim_value = given
    return batches


def describe(dims) -> str:
    """A declared shape as the user reads it: ``[N, 3, height, width]`` (``?`` for an unnamed symbol)."""
    return "[" + ", ".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param[:40] or "?")
                           for d in dims) + "]"


def suggestion(name: str, dims, batch: int) -> str:
    """The ``--input-shape`` a model with symbolic dims needs, ready to paste: static dims as they are, the
    batch as bound, each other symbol a placeholder named after it (shell-quoted)."""
    parts = []
    for index, dim in enumerate(dims):
        if dim.HasField("dim_value"):
            parts.append(str(dim.dim_value))
        elif index == 0:
            parts.append(str(batch))
        else:
            symbol = dim.dim_param
            parts.append(symbol.upper() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,15}", symbol) else f"D{index}")
    return "--input-shape " + shlex.quote(f"{name}={','.join(parts)}")


def _unknown(name: str, data: list[onnx.ValueInfoProto], weight: bool) -> str:
    if weight:
        return (f"--input-shape {quoted(name)}: that input is a weight (its shape comes from the model), not a data "
                f"input; data inputs: {_listing(data)}")
    return f"--input-shape names no graph input {quoted(name)}; the model's data inputs: {_listing(data)}"


def _listing(data: list[onnx.ValueInfoProto]) -> str:
    shown = ", ".join(f"{quoted(value.name)} {describe(value.type.tensor_type.shape.dim)}"
                      for value in data[:SHOWN_INPUTS])
    more = f" and {len(data) - SHOWN_INPUTS} more" if len(data) > SHOWN_INPUTS else ""
    return (shown + more) if data else "none"
