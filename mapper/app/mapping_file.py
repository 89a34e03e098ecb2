"""Mapping files (``--mapping FILE.yaml``, docs/mapping-file.md): the mappings a user pins, read strictly, written back.

A file maps report layer names to the report's mapping fields::

    conv1: {n: 1, e: 7, p: 16, q: 1, r: 1, t: 2, g: 1, m: 96}

Read with the hardware files' strict YAML loader (no tags, no duplicate keys,
bounded size and depth); every problem is one ``InputError`` naming the file,
the layer and the field.  ``eyeriss report --mappings-out`` writes a compile's
mappings in the same form, so a user edits one and evaluates it again.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping as MappingT, Union

import networkx as nx
import yaml

from cost_models.cost import check
from cost_models.errors import InputError
from cost_models.files import MAX_MAPPING_FILE_BYTES, read_text_bounded
from cost_models.hardware import Hardware, parse_yaml
from cost_models.mapping import PARAMETERS, Mapping
from mapper.app.atomic import atomic_write_bytes
from mapper.app.untrusted import printable


# What the library's ``mappings=`` takes: a layer name -> Mapping or field dict, or a mapping file's path.
Mappings = Union[MappingT[str, Union[Mapping, MappingT[str, Any]]], str, os.PathLike]


def load_mapping_file(path: str | os.PathLike) -> dict[str, Mapping]:
    """The mappings a file pins, by layer name (InputError naming the file, layer and field)."""
    where = str(path)
    text = read_text_bounded(path, MAX_MAPPING_FILE_BYTES, "mapping")
    try:
        data = parse_yaml(text, where)
    except InputError as error:  # the hardware loader's words ("hardware description") do not fit here
        raise InputError(error.message.replace("hardware description", "mapping file")
                         .replace("hardware value", "mapping value"), where) from None
    return mappings_from_dict(data, where)


def mappings_from_dict(data: Any, where: str = "mappings") -> dict[str, Mapping]:
    """Layer name -> Mapping from a parsed file or the library's dict (values: Mapping or field dict)."""
    if not isinstance(data, dict) or not data:
        shown = "empty" if data is None or data == {} else f"a {type(data).__name__}"
        raise InputError(f"not a mapping file: expected layer names each with a mapping ({', '.join(PARAMETERS)}), "
                         f"got {shown}", where)
    out: dict[str, Mapping] = {}
    for name, fields in data.items():
        if not isinstance(name, str):
            raise InputError(f"layer name {name!r} is not text (quote it)", where)
        out[name] = fields if isinstance(fields, Mapping) else _mapping(fields, f"{where}: {name}")
    return out


def _mapping(fields: Any, where: str) -> Mapping:
    if not isinstance(fields, dict):
        raise InputError(f"expected the mapping fields {', '.join(PARAMETERS)}, got a {type(fields).__name__}", where)
    unknown = [str(key) for key in fields if key not in PARAMETERS]
    if unknown:
        raise InputError(f"unknown field (the fields are {', '.join(PARAMETERS)})", f"{where}: {unknown[0][:80]}")
    missing = [key for key in PARAMETERS if key not in fields]
    if missing:
        raise InputError("missing field", f"{where}: {missing[0]}")
    for key in PARAMETERS:
        value = fields[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"must be a positive integer, got {type(value).__name__} {str(value)[:40]!r}",
                             f"{where}: {key}")
        if value < 1:
            raise InputError(f"must be a positive integer, got {value}", f"{where}: {key}")
    return Mapping(**{key: fields[key] for key in PARAMETERS})


def pins_from(mappings: Mappings | None) -> tuple[dict[str, Mapping] | None, str | None]:
    """The library's ``mappings=`` as layer name -> Mapping, and the file it came from (None for a dict)."""
    if mappings is None:
        return None, None
    if isinstance(mappings, (str, os.PathLike)):
        return load_mapping_file(mappings), str(mappings)
    return mappings_from_dict(dict(mappings)), None


@dataclass(frozen=True)
class ModelMode:
    """What a compile is given of its layers' mappings: the pins (None: search every layer), their file, and
    whether the layers not pinned (and each pinned layer's optimum) are searched."""

    pins: dict[str, Mapping] | None = None
    file: str | None = None
    search: bool = True

    def options_entry(self) -> dict[str, Any] | None:
        """The report's ``options.mappings`` (docs/report.md)."""
        if self.pins is None:
            return None
        return {"file": None if self.file is None else Path(self.file).name, "layers": len(self.pins),
                "search": self.search}


def model_mode(mappings: Mappings | None, search: bool, batch: object) -> ModelMode:
    """``compile_model``'s ``mappings`` / ``search``, read (``pins_from``) and checked with the batch."""
    pins, file = pins_from(mappings)
    if pins is None and not search:
        raise InputError("nothing to evaluate: give the layers' mappings (--mapping FILE.yaml)")
    if pins is not None and batch == "auto":
        raise InputError("pinned mappings (--mapping) are for one batch size: give --batch N, not auto")
    return ModelMode(pins, file, search)


def check_pins(pins: MappingT[str, Mapping], graph: nx.DiGraph, hw: Hardware, space: str, complete: bool,
               where: str | None) -> None:
    """Every pinned name is an array layer of ``graph`` (``complete``: every array layer is pinned) and every
    pinned mapping keeps the limits of ``space`` (cost_models.rules: the hardware's, and the chip rules for jssc)."""
    layers = {name: data["layer"] for name, data in graph.nodes(data=True) if data.get("kind") == "array"}
    for name in pins:
        if name not in layers:
            close = difflib.get_close_matches(name, list(layers), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f" (layers: {_names(layers)})"
            raise InputError(f"no array layer named '{name[:80]}' in the model{hint}", where)
    missing = [name for name in layers if name not in pins]
    if complete and missing:
        raise InputError(f"evaluate needs a mapping for every array layer; missing {len(missing)}: "
                         f"{_names(missing, 20)}", where)
    for name, mapping in pins.items():
        problems = check(layers[name], mapping, hw, space)
        if problems:
            rules = " (--mapping-space full applies only the hardware limits)" if space != "full" and \
                not check(layers[name], mapping, hw, "full") else ""
            raise InputError(f"layer '{name}': the mapping does not fit: {problems[0]}{rules}", where)


def _names(names: Iterable[str], shown: int = 8) -> str:
    names = list(names)
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def mapping_file_bytes(report: dict[str, Any]) -> bytes:
    """A report's mappings as a mapping file (layers without a mapping left out, and said so in a comment)."""
    layers = {entry["name"]: _mapping({key: entry["mapping"].get(key) for key in PARAMETERS if key in entry["mapping"]},
                                      f"report: layer {printable(entry['name'])}: mapping").as_dict()
              for entry in report["layers"] if entry.get("mapping")}
    unmapped = [entry["name"] for entry in report["layers"] if not entry.get("mapping")]
    model = report["model"]
    head = [f"# eyeriss mapping file (docs/mapping-file.md): the mappings of {model.get('name')} "
            f"({model.get('file')}) at batch {report['batch']}",
            "# evaluate with: eyeriss evaluate MODEL.onnx --mapping THIS_FILE"]
    if unmapped:
        head.append(f"# no mapping (left out): {_names(unmapped, 50)}")
    body = yaml.safe_dump(layers, sort_keys=False, default_flow_style=None, allow_unicode=False, width=1000)
    return ("".join(f"{printable(line)}\n" for line in head) + body).encode()


def write_mapping_file(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """``mapping_file_bytes`` written atomically (InputError if the folder cannot take it)."""
    out = Path(path)
    try:
        atomic_write_bytes(out, mapping_file_bytes(report))
    except OSError as error:
        raise InputError(f"cannot write the mapping file: {error.strerror or error}", where=str(out)) from None
    return out
