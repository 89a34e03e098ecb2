"""Hardware description: the architecture half of Timeloop's workload/architecture split.

A YAML file (safe-loaded only) becomes one immutable ``Hardware`` value.  The
schema below is the single list of fields: a missing or extra field, a wrong
type or an impossible value is refused with the field's dotted name.
"""

from __future__ import annotations

import functools

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from cost_models.errors import InputError

_POS_INT = ("int", 1)
_POS_NUM = ("num", 1e-12)

# field -> (type, minimum) or a nested schema.  Order is the documented order.
SCHEMA: dict[str, Any] = {
    "name": ("str", None),
    "word_bits": _POS_INT,
    "array": {"rows": _POS_INT, "cols": _POS_INT},
    "spad_words": {"filter": _POS_INT, "ifmap": _POS_INT, "psum": _POS_INT},
    "glb": {"banks": _POS_INT, "bank_words": _POS_INT, "filter_buffer_words": _POS_INT},
    "noc": {
        "row_id_bits": _POS_INT,
        "col_id_bits": {"filter": _POS_INT, "ifmap": _POS_INT, "psum": _POS_INT, "output": _POS_INT},
        "bus_words": {"filter": _POS_INT, "ifmap": _POS_INT, "psum": _POS_INT, "output": _POS_INT},
    },
    "clock": {"core_mhz": _POS_INT, "link_mhz": _POS_INT, "link_bits": _POS_INT},
    "pe": {"pipeline_stages": _POS_INT, "local_link_words": _POS_INT},
    "limits": {
        "max_filter_width": _POS_INT,
        "vertical_strides": ("intlist", 1),
        "max_horizontal_stride": _POS_INT,
    },
    "energy": {
        "normalized": {"mac": _POS_INT, "rf": _POS_INT, "array": _POS_INT, "glb": _POS_INT, "dram": _POS_INT,
                       "static_per_cycle": ("int", 0)},
        "zero_gating": ("bool", None),
        "pj_per_unit": _POS_NUM,
    },
}

# Ceiling on any size field: keeps every count in the cost model inside int64.
_MAX_SIZE = 2**31
# Ceilings on what the configuration bitstream spells out one field at a time (a column ID per PE per
# network, a bit per GLB bank).  Assumed: 64 Ki PEs (390 x Eyeriss's 168) and 4096 banks keep a layer's
# configuration under 600 kB even with 16-bit IDs; without a ceiling a file could make the compiler
# allocate gigabytes instead of being refused.
MAX_PES = 2**16
MAX_BANKS = 4096


class HardwareError(InputError):
    """A hardware description we refuse."""


@dataclass(frozen=True)
class Hardware:
    """Everything the cost model, the search and the bitstream need to know about a chip."""

    name: str
    word_bits: int
    rows: int
    cols: int
    filter_spad: int
    ifmap_spad: int
    psum_spad: int
    glb_banks: int
    bank_words: int
    filter_buffer_words: int
    row_id_bits: int
    col_id_bits: tuple[tuple[str, int], ...]
    bus_words: tuple[tuple[str, int], ...]
    core_mhz: int
    link_mhz: int
    link_bits: int
    pipeline_stages: int
    local_link_words: int  # psum words per cycle over the local link between vertically adjacent PEs
    max_filter_width: int
    vertical_strides: tuple[int, ...]
    max_horizontal_stride: int
    energy_mac: int
    energy_rf: int
    energy_array: int
    energy_glb: int
    energy_dram: int
    zero_gating: bool
    pj_per_unit: float
    energy_static_per_cycle: int
    source: Mapping[str, Any] | None = None  # the parsed file, for reports; not compared

    def __hash__(self) -> int:  # the parsed-file dict is not hashable
        return hash(tuple(getattr(self, f) for f in self.__dataclass_fields__ if f != "source"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hardware):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__dataclass_fields__ if f != "source")

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def col_id(self, network: str) -> int:
        return dict(self.col_id_bits)[network]

    def bus(self, network: str) -> int:
        return dict(self.bus_words)[network]

    @property
    def glb_words(self) -> int:
        return self.glb_banks * self.bank_words

    def link_words_per_cycle(self) -> tuple[int, int]:
        """Off-chip words per core cycle as an exact fraction (numerator, denominator)."""
        num = self.link_bits * self.link_mhz
        den = self.word_bits * self.core_mhz
        g = math.gcd(num, den)
        return num // g, den // g

    def as_dict(self) -> dict[str, Any]:
        """The full description in the file's own layout (for reports)."""
        return dict(self.source) if self.source is not None else {}


def _check(node: Any, schema: Any, path: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(node, dict):
            raise HardwareError(f"must be a mapping, got {type(node).__name__}", path or "hardware file")
        missing = [k for k in schema if k not in node]
        extra = sorted(str(k) for k in node if k not in schema)
        if missing:
            raise HardwareError("missing field", f"{path}.{missing[0]}".lstrip("."))
        if extra:
            raise HardwareError(f"unknown field (expected one of: {', '.join(schema)})", f"{path}.{extra[0]}".lstrip("."))
        for key, sub in schema.items():
            _check(node[key], sub, f"{path}.{key}".lstrip("."))
        return
    kind, minimum = schema
    if kind == "str":
        if not isinstance(node, str) or not node.strip():
            raise HardwareError("must be a non-empty string", path)
    elif kind == "bool":
        if not isinstance(node, bool):
            raise HardwareError(f"must be true or false, got {node!r}", path)
    elif kind == "int":
        if not isinstance(node, int) or isinstance(node, bool):
            raise HardwareError(f"must be an integer, got {node!r}", path)
        if node < minimum or node > _MAX_SIZE:
            raise HardwareError(f"must be between {minimum} and {_MAX_SIZE}, got {node}", path)
    elif kind == "num":
        if not isinstance(node, (int, float)) or isinstance(node, bool) or not math.isfinite(node):
            raise HardwareError(f"must be a number, got {node!r}", path)
        if node < minimum:
            raise HardwareError(f"must be >= {minimum:g}, got {node}", path)
    elif kind == "intlist":
        if not isinstance(node, list) or not node:
            raise HardwareError(f"must be a non-empty list of integers, got {node!r}", path)
        for item in node:
            if not isinstance(item, int) or isinstance(item, bool) or item < minimum:
                raise HardwareError(f"must hold integers >= {minimum}, got {item!r}", path)


def _semantic_checks(hw: Hardware, where: str) -> None:
    """Values that are each fine alone but describe no buildable chip together."""
    if hw.word_bits != 16:
        raise HardwareError("only 16-bit words are modelled (the Eyeriss datapath)", f"{where}: word_bits")
    if hw.link_bits % hw.word_bits:
        raise HardwareError("link width must be a whole number of words", f"{where}: clock.link_bits")
    if 2 ** hw.row_id_bits < hw.rows:
        raise HardwareError(f"{hw.row_id_bits} bits cannot give {hw.rows} rows distinct IDs", f"{where}: noc.row_id_bits")
    for network, bits in hw.col_id_bits:
        if 2**bits < hw.cols:
            raise HardwareError(f"{bits} bits cannot give {hw.cols} columns distinct IDs", f"{where}: noc.col_id_bits.{network}")
    if hw.row_id_bits > 16 or any(bits > 16 for _, bits in hw.col_id_bits):
        raise HardwareError("ID widths above 16 bits are not supported", f"{where}: noc")
    if hw.rows * hw.cols > MAX_PES:
        raise HardwareError(f"{hw.rows} x {hw.cols} = {hw.rows * hw.cols} PEs exceeds the supported {MAX_PES}",
                            f"{where}: array")
    if hw.glb_banks > MAX_BANKS:
        raise HardwareError(f"{hw.glb_banks} banks exceeds the supported {MAX_BANKS}", f"{where}: glb.banks")


def hardware_from_dict(data: Any, where: str = "hardware") -> Hardware:
    """Validate a parsed description and build the immutable value."""
    _check(data, SCHEMA, "")
    a, s, g, n, c, lim, en = (data[k] for k in ("array", "spad_words", "glb", "noc", "clock", "limits", "energy"))
    hw = Hardware(
        name=data["name"], word_bits=data["word_bits"], rows=a["rows"], cols=a["cols"],
        filter_spad=s["filter"], ifmap_spad=s["ifmap"], psum_spad=s["psum"],
        glb_banks=g["banks"], bank_words=g["bank_words"], filter_buffer_words=g["filter_buffer_words"],
        row_id_bits=n["row_id_bits"],
        col_id_bits=tuple((k, n["col_id_bits"][k]) for k in ("filter", "ifmap", "psum", "output")),
        bus_words=tuple((k, n["bus_words"][k]) for k in ("filter", "ifmap", "psum", "output")),
        core_mhz=c["core_mhz"], link_mhz=c["link_mhz"], link_bits=c["link_bits"],
        pipeline_stages=data["pe"]["pipeline_stages"], local_link_words=data["pe"]["local_link_words"],
        max_filter_width=lim["max_filter_width"], vertical_strides=tuple(sorted(set(lim["vertical_strides"]))),
        max_horizontal_stride=lim["max_horizontal_stride"],
        energy_mac=en["normalized"]["mac"], energy_rf=en["normalized"]["rf"], energy_array=en["normalized"]["array"],
        energy_glb=en["normalized"]["glb"], energy_dram=en["normalized"]["dram"],
        zero_gating=en["zero_gating"], pj_per_unit=float(en["pj_per_unit"]),
        energy_static_per_cycle=en["normalized"]["static_per_cycle"],
        source=data,
    )
    _semantic_checks(hw, where)
    return hw


# A hardware description is about 60 scalars five levels deep (data/eyeriss.yaml); these bounds are far
# above any real one (assumed) and keep a hostile file from costing time or memory: the size before a
# byte is parsed, the nesting and the number of YAML events before anything is constructed.
MAX_HARDWARE_BYTES = 1_000_000
MAX_YAML_DEPTH = 32
MAX_YAML_EVENTS = 20_000


def _base_loader(yaml):
    """libyaml's safe loader where PyYAML was built with it (parses the bundled file ~10x faster), else the pure one."""
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_loader():
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""
    import yaml

    class StrictLoader(_base_loader(yaml)):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key; the base class reports it
                    break
                if first is not key_node.start_mark:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first given on line {first.line + 1})", key_node.start_mark)
            return super().construct_mapping(node, deep)

    return StrictLoader


def _check_yaml_shape(text: str, where: str) -> None:
    """Refuse deep nesting or a flood of nodes from the event stream (iterative: no recursion to blow).

    Both are counted as the document reads once its aliases are expanded: ``*a`` stands for every node
    of ``&a``.  Nine aliases of nine aliases, nine deep, are 9^9 nodes in a hundred bytes (a "billion
    laughs"); PyYAML shares them, but whatever walks the value (a ``repr`` in an error, a copy) does not.
    """
    import yaml

    size: dict[str, int] = {}    # anchor -> nodes of its value, aliases expanded
    height: dict[str, int] = {}  # anchor -> levels of nesting its value adds
    open_: list[list] = []       # per open collection: [anchor, nodes so far, start depth, deepest level inside]
    depth = nodes = 0

    def add(count: int, levels: int, mark) -> None:
        nonlocal nodes
        nodes += count
        if open_:
            open_[-1][1] += count
            open_[-1][3] = max(open_[-1][3], depth + levels)
        if nodes > MAX_YAML_EVENTS:
            raise HardwareError(f"more than {MAX_YAML_EVENTS} YAML nodes (aliases expanded, line {mark.line + 1}); "
                                "not a hardware description", where)
        if depth + levels > MAX_YAML_DEPTH:
            raise HardwareError(f"nested more than {MAX_YAML_DEPTH} levels deep (aliases expanded, line "
                                f"{mark.line + 1}); not a hardware description", where)

    for event in yaml.parse(text, Loader=_base_loader(yaml)):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            add(1, 1, event.start_mark)
            depth += 1
            open_.append([event.anchor, 0, depth, depth])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, count, start, deepest = open_.pop()
            depth -= 1
            if anchor is not None:
                size[anchor], height[anchor] = count + 1, deepest - start + 1
            if open_:
                open_[-1][1] += count
                open_[-1][3] = max(open_[-1][3], deepest)
        elif isinstance(event, yaml.ScalarEvent):
            add(1, 0, event.start_mark)
            if event.anchor is not None:
                size[event.anchor], height[event.anchor] = 1, 0
        elif isinstance(event, yaml.AliasEvent):  # an unknown anchor: the composer reports it
            add(size.get(event.anchor, 1), height.get(event.anchor, 0), event.start_mark)


def parse_yaml(text: str, where: str) -> Any:
    """Safe-load a hardware file's text: no tags, no duplicate keys, bounded depth and size."""
    import yaml

    try:
        _check_yaml_shape(text, where)
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except ValueError as error:  # a scalar YAML resolves but Python refuses (a 5000-digit integer)
        raise HardwareError(f"not a valid hardware value: {str(error)[:120]}", where) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise HardwareError(f"not valid YAML{line}: {getattr(error, 'problem', error)}", where) from None


def load_hardware(path: str | Path) -> Hardware:
    """Load and validate a hardware YAML file (regular file of at most 1 MB, strict safe loader)."""
    from cost_models.files import read_text_bounded

    try:
        text = read_text_bounded(path, MAX_HARDWARE_BYTES, "hardware description")
    except InputError as error:
        raise HardwareError(error.message, error.where) from None
    data = parse_yaml(text, str(path))
    try:
        return hardware_from_dict(data, where=str(path))
    except HardwareError as error:
        if error.where and not error.where.startswith(str(path)):
            error.where = f"{path}: {error.where}"
        raise


@functools.lru_cache(maxsize=1)
def default_hardware() -> Hardware:
    """The Eyeriss chip as fabricated (bundled ``eyeriss.yaml``); parsed once per process (Hardware is immutable)."""
    with resources.as_file(resources.files("cost_models") / "data" / "eyeriss.yaml") as path:
        return load_hardware(path)


def bundled_hardware() -> list[tuple[str, Hardware]]:
    """Every hardware description shipped in ``cost_models/data`` as (path, Hardware), by file name."""
    out = []
    for entry in sorted(resources.files("cost_models").joinpath("data").iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as path:
                out.append((str(path), load_hardware(path)))
    return out
