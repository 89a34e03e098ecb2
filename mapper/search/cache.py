"""A persistent cache of layer search results, shared by compiles, sweeps and their workers.

An entry is addressed by the sha256 of a canonical JSON of everything that
decides a search's answer: the layer shape (so whatever fixes it, ``--batch`` or a graph input's
``--input-shape``, is in the key through it: the option needs no entry of its own), the hardware fields the cost model
reads (not its name, nor the pJ scale or ID widths the search never sees), the
objective, the layer latency bound, the data ratios, the mapping space
(``full`` or ``jssc``, cost_models.rules: the two spaces' answers never mix) and
the package version.
Only answers that a rerun would repeat are stored: proofs (OPTIMAL,
INFEASIBLE, UNMAPPABLE), never a mapping a time limit cut short.  Nothing read
back is trusted: the stored mapping is checked against the hardware limits and
re-costed with ``evaluate``; an entry that fails, is corrupt or comes from
another version is ignored and the layer searched again.  Each entry carries the
sha256 of its own content: a hand edit, a flipped bit or a half-written file
reads as no entry (an edited "INFEASIBLE" must not unmap a layer; an
UNMAPPABLE answer is re-derived from the hardware limits as well).  The
digest guards against damage, not a forger who recomputes it: the cache
folder is trusted as far as the user's own files are.  Writes go through a
temporary file and ``os.replace``, so processes and workers may share a
folder.  A folder that cannot be written (read-only, a file, a full disk)
costs searches, never the compile: ``failure`` says why, once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cost_models.cost import check, evaluate
from cost_models.errors import InputError
from cost_models.files import read_bounded
from cost_models.hardware import Hardware
from cost_models.layer import LayerShape
from cost_models.mapping import Mapping
from cost_models.rowstationary import DataRatios, layer_limits
from cost_models.rules import DEFAULT_SPACE
from mapper.search.cache_meta import default_dir, entry_digest, package_version, write_entry  # noqa: F401 - API
from mapper.search.result import LayerResult

FORMAT = "eyeriss-cache/2"  # 2: entries carry their own digest
# Hardware fields the search's answer depends on (cost_models.rowstationary, cost.check, search.space).
SEARCH_FIELDS = (
    "word_bits", "rows", "cols", "filter_spad", "ifmap_spad", "psum_spad", "glb_banks", "bank_words",
    "filter_buffer_words", "bus_words", "core_mhz", "link_mhz", "link_bits", "pipeline_stages", "local_link_words",
    "max_filter_width", "vertical_strides", "max_horizontal_stride", "energy_mac", "energy_rf", "energy_array", "energy_glb",
    "energy_dram", "zero_gating", "energy_static_per_cycle",
)
# Fields that change no mapping: a label, the parsed file, the pJ scale (applied after the search by
# evaluate), the row IDs and non-ifmap column IDs (only the bitstream spells them out).  The ifmap
# column ID width sizes the multicast groups the cost model counts, so it is part of the key.
IGNORED_FIELDS = ("name", "source", "pj_per_unit", "row_id_bits", "col_id_bits")
CACHEABLE = frozenset({"OPTIMAL", "INFEASIBLE", "UNMAPPABLE"})
MAX_ENTRY_BYTES = 1 << 20  # an entry is ~500 bytes; anything far larger is not ours


def hardware_key(hw: Hardware) -> dict[str, Any]:
    """The part of ``hw`` a search reads, as JSON-ready values (two designs equal here share every result)."""
    out: dict[str, Any] = {name: getattr(hw, name) for name in SEARCH_FIELDS}
    out["bus_words"] = dict(hw.bus_words)
    out["vertical_strides"] = list(hw.vertical_strides)
    out["ifmap_col_id_bits"] = hw.col_id("ifmap")
    return out


def task_key(layer: LayerShape, hw: Hardware, objective: str, ratios: DataRatios,
             max_cycles: int | None, version: str, space: str = DEFAULT_SPACE) -> str:
    """The sha256 of the canonical JSON of one search's inputs."""
    doc = {"format": FORMAT, "version": version, "layer": dataclasses.asdict(layer), "hardware": hardware_key(hw),
           "objective": objective, "max_cycles": max_cycles, "ratios": dataclasses.asdict(ratios), "space": space}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ResultCache:
    """A folder of search results; ``hits`` / ``misses`` count this process's look-ups."""

    root: Path
    version: str = field(default_factory=package_version)
    hits: int = 0
    misses: int = 0
    failure: str | None = None  # why a write failed, the first time (the compile then warns once)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # Answers this object has checked or proven itself: a sweep's parent reads each search its workers solved
    # once more per point compile, and re-costing it from the file again would add nothing (``_memo_key``).
    _known: dict[tuple, LayerResult] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def path(self, key: str) -> Path:
        return self.root / "layers" / key[:2] / f"{key}.json"

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def get(self, layer: LayerShape, hw: Hardware, objective: str, ratios: DataRatios,
            max_cycles: int | None = None, space: str = DEFAULT_SPACE) -> LayerResult | None:
        """The stored result if there is a sound one, else None (and the caller searches)."""
        key = task_key(layer, hw, objective, ratios, max_cycles, self.version, space)
        result = self._known.get(_memo_key(key, hw))
        if result is None:
            result = _read(self.path(key), key, (layer, hw, objective, ratios, max_cycles, space), self.version)
            if result is not None:
                self._known[_memo_key(key, hw)] = result
        self._count(result is not None)
        return result

    def put(self, layer: LayerShape, hw: Hardware, objective: str, ratios: DataRatios,
            max_cycles: int | None, result: LayerResult, space: str = DEFAULT_SPACE) -> bool:
        """Store ``result`` if a rerun would give the same; returns whether it was stored."""
        if result.status not in CACHEABLE:
            return False
        key = task_key(layer, hw, objective, ratios, max_cycles, self.version, space)
        if result.status == "OPTIMAL":  # as a read of the entry would give it back (mapper.search.cache._read)
            self._known[_memo_key(key, hw)] = replace(result, wall_s=0.0)
        entry = {"format": FORMAT, "version": self.version, "key": key, "status": result.status,
                 "objective": result.objective, "objective_value": result.objective_value, "bound": result.bound,
                 "mapping": result.mapping.as_dict() if result.mapping is not None else None,
                 "reason": result.reason}
        entry["digest"] = entry_digest(entry)
        try:
            write_entry(self.path(key), json.dumps(entry, sort_keys=True).encode())
        except OSError as error:  # a read-only or full cache folder costs a search, never the compile
            with self._lock:
                if self.failure is None:
                    self.failure = error.strerror or str(error) or type(error).__name__
            return False
        return True

    def warning(self) -> str | None:
        """The one line to tell the user when writes failed (None when every answer was stored)."""
        if self.failure is None:
            return None
        return (f"without the result cache: {self.root} cannot be written ({self.failure}); answers were searched "
                "and not stored")

    def map_layer(self, layer: LayerShape, hw: Hardware, objective: str = "energy", *,
                  ratios: DataRatios = DataRatios(), time_limit: float | None = None,
                  max_cycles: int | None = None, space: str = DEFAULT_SPACE,
                  known: Mapping | None = None) -> LayerResult:
        """``mapper.search.cpsat.map_layer`` through the cache (OR-tools is loaded only on a miss).

        ``known`` speeds a search up and changes no proven answer, so it is no part of the key.
        """
        found = self.get(layer, hw, objective, ratios, max_cycles, space)
        if found is not None:
            return found
        from mapper.search.cpsat import map_layer
        result = map_layer(layer, hw, objective, ratios=ratios, time_limit=time_limit, max_cycles=max_cycles,
                           space=space, known=known)
        self.put(layer, hw, objective, ratios, max_cycles, result, space)
        return result


def _memo_key(key: str, hw: Hardware) -> tuple:
    """``key`` and the hardware fields outside it: a read re-costs the mapping on the asking hardware (its pJ
    scale), so an answer in memory is reused only for the same hardware (the parsed file aside)."""
    return (key, *(getattr(hw, name) for name in IGNORED_FIELDS if name != "source"))


def open_cache(cache: ResultCache | str | os.PathLike | bool | None) -> ResultCache | None:
    """The ``cache=`` argument of the library calls: None/False off, True the user's folder, a path a folder."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return ResultCache(default_dir())
    if isinstance(cache, ResultCache):
        return cache
    return ResultCache(Path(cache))


def _load(path: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(read_bounded(path, MAX_ENTRY_BYTES, "cache entry"))  # a FIFO or device: refused
    except (InputError, OSError, ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None


def _read(path: Path, key: str, task: tuple[LayerShape, Hardware, str, DataRatios, int | None, str],
          version: str) -> LayerResult | None:
    """A stored result, re-validated; None for a missing, corrupt, foreign or unsound entry."""
    layer, hw, objective, ratios, max_cycles, space = task
    entry = _load(path)
    if entry is None or entry.get("format") != FORMAT or entry.get("version") != version or entry.get("key") != key:
        return None
    try:
        if entry.get("digest") != entry_digest(entry):  # edited, damaged or half written
            return None
    except (TypeError, ValueError, RecursionError):  # a value json cannot write back (NaN is allowed, a huge nesting is not)
        return None
    status, reason = entry.get("status"), entry.get("reason")
    if status not in CACHEABLE or entry.get("objective") != objective:
        return None
    stored = entry.get("mapping")
    if stored is None:
        if status == "OPTIMAL" or not isinstance(reason, str):
            return None
        limits = layer_limits(layer, hw)  # UNMAPPABLE is these limits (search.cpsat): re-derived, not believed
        if (status == "UNMAPPABLE") != bool(limits):
            return None
        reason = "; ".join(limits) if limits else reason
        return LayerResult(None, None, status, objective, None, None, 0.0, reason=reason)
    mapping = _mapping(stored)
    if status != "OPTIMAL" or mapping is None or check(layer, mapping, hw, space):
        return None
    cost = evaluate(layer, mapping, hw, ratios)
    value = cost.objective_units[objective]
    if entry.get("objective_value") != value or entry.get("bound") != value:
        return None
    if max_cycles is not None and cost.total_cycles > max_cycles:
        return None
    return LayerResult(mapping, cost, status, objective, value, value, 0.0)


def _mapping(stored: Any) -> Mapping | None:
    names = [f.name for f in dataclasses.fields(Mapping)]
    if not isinstance(stored, dict) or sorted(stored) != sorted(names):
        return None
    if not all(isinstance(stored[n], int) and not isinstance(stored[n], bool) for n in names):
        return None
    try:
        return Mapping(**{n: stored[n] for n in names})
    except (TypeError, ValueError):
        return None
