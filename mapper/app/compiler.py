"""``compile_model``: ONNX -> mapped layers -> costs -> bitstreams, as one result object.

The library API and ``eyeriss compile`` both go through here, so the report a
pipeline reads is the one the command writes.  ``CompileResult.report()`` is
the ``eyeriss-report/1`` document (docs/report.md); ``save(outdir)`` writes it
with every bitstream, all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import networkx as nx
import onnx

from cost_models import figures
from cost_models.choices import DEFAULT_MAX_BATCH, OVER_BUDGET_CHOICES
from cost_models.cost import compulsory_dram_words
from cost_models.errors import InputError
from cost_models.hardware import Hardware, default_hardware, load_hardware
from cost_models.mapping import placement
from cost_models.rlc import DEFAULT_ZERO_FRACTION
from cost_models.rowstationary import OBJECTIVES, RATIO_ONE
from cost_models.rules import DEFAULT_SPACE, SPACES
from cost_models.statistics import LayerStatistics
from frontends import array_layers, load_onnx, missing_weights_warning
from frontends.input_shapes import InputShapes, input_shape_map
from frontends.seeded import MODEL_WEIGHTS, describe, parse_weights, seeded_warning
from mapper.app.explain import bindings, dram_gap, latency_gap
from mapper.app.mapping_file import Mappings, ModelMode, check_pins, model_mode
from mapper.app.outdir import publish
from mapper.app.report import (BITSTREAM_DIR, REPORT_FILE, SCHEMA, energy_entry, hardware_entry, pinned_entry,
                               program_entry, spad_fill, spaces_entry)
from mapper.app.totals import NetworkBudget, Totals, network_totals
from mapper.app.program import LayerFormats
from mapper.app.quantize import Built, build_program, file_stem
from mapper.chip.bitstream import config_for, encode, total_bits
from mapper.search.cache import open_cache  # numpy and cost_models only: no OR-tools
from mapper.search.result import OVER_BUDGET, NetworkBudgetError

if TYPE_CHECKING:  # the search (and OR-tools) loads only once the input is known good
    from mapper.search.runner_ups import RunnerUp
    from mapper.search.cache import ResultCache
    from mapper.search.network import MappedLayer, NetworkResult
    from mapper.search.result import LayerResult

# --batch auto maps the whole network once per batch it tries: the scan is bounded, not the user's
# patience (assumed: 64 tries of the largest bundled model stay within minutes).
MAX_BATCH_SCAN = 64


@dataclass(frozen=True)
class CompiledLayer:
    """One array layer's outcome: the search's answer with its bitstream, or the reason it has none.

    Composed, not copied: ``mapped`` is the search's ``MappedLayer``, whose
    fields (name, op, layer, ratios, result, shared_with, statistics) and
    ``mapping`` / ``cost`` / ``ok`` read through; the fields here are what
    compiling adds.
    """

    index: int
    mapped: MappedLayer
    bitstream: bytes | None
    relu: bool = False
    onnx_node: str | None = None  # the ONNX node this layer computes (a ConvTranspose has one layer per phase)
    part: str | None = None  # which part of it ("phase 0,1 of 4", "16x16 patches"); None: the whole node
    max_cycles: int | None = None  # the layer latency bound it was mapped under (--layer-latency-ms)
    runner_ups: tuple[RunnerUp, ...] | None = None  # compile --explain: the best mapping without each value
    spaces: dict[str, LayerResult] | None = None  # the layer's optimum in each mapping space (cost_models.rules)
    formats: LayerFormats | None = None  # its 16-bit number formats, when the compile holds a runnable program

    def __getattr__(self, name: str) -> Any:
        """The search's fields, from ``mapped`` (called only for names this class does not have)."""
        if name.startswith("_") or name == "mapped":  # copy/pickle probes, and ``mapped`` before it is set
            raise AttributeError(name)
        return getattr(self.mapped, name)

    @property
    def bitstream_file(self) -> str:
        return f"{BITSTREAM_DIR}/{file_stem(self.index, self.name)}.bin"

    def lower_bounds(self, hw: Hardware) -> dict[str, int]:
        """Cycles if every PE did a MAC every cycle; DRAM words if every datum crossed the link once; and
        the roofline: those cycles plus the link time of those words as the latency model charges it
        (filter loads overlap processing, fmap traffic does not: rowstationary.RowStationary.cycles), so a
        layer bound by its compulsory DRAM traffic (a batch-1 fully connected layer) is not called slow."""
        words = compulsory_dram_words(self.layer, self.ratios)
        cycles = -(-self.layer.macs() // hw.pes)
        num, den = hw.link_words_per_cycle()
        roofline = max(cycles, -(-words["filter"] * den // num)) + -(-(words["ifmap"] + words["psum"]) * den // num)
        return {"cycles": cycles, "dram_words": sum(words.values()), "roofline_cycles": roofline}

    def report(self, hw: Hardware) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "index": self.index, "name": self.name, "op": self.op, "kind": self.layer.kind, "relu": self.relu,
            "onnx_node": self.onnx_node or self.name, "part": self.part,
            "shape": self.layer.as_dict(), "macs": self.layer.macs(), "weights": self.layer.weights(),
            "dram_ratios": {"ifmap": figures.ratio(self.ratios.ifmap_dram / RATIO_ONE),
                            "ofmap": figures.ratio(self.ratios.ofmap_dram / RATIO_ONE),
                            "ifmap_nonzero": figures.ratio(self.ratios.ifmap_nonzero / RATIO_ONE)},
            "statistics": None if self.statistics is None else self.statistics.as_dict(),
            "solver": {"status": self.result.status, "objective": self.result.objective,
                       "objective_value": self.result.objective_value, "bound": self.result.bound,
                       "gap": None if self.result.gap is None else round(self.result.gap, 6),
                       "shared_with": self.shared_with},
            "mapping_spaces": spaces_entry(self.spaces),
            "pinned": pinned_entry(self.mapped),
            "formats": None if self.formats is None else self.formats.as_dict(),
        }
        if not self.ok:
            entry.update(mapping=None, reason=self.result.reason or self.result.status, bitstream=None)
            return entry
        mapping, cost = self.result.mapping, self.result.cost
        assert mapping is not None and cost is not None and self.bitstream is not None
        place = placement(self.layer, mapping, hw)
        detail = cost.as_dict()
        bounds = self.lower_bounds(hw)
        entry.update(
            mapping={**mapping.as_dict(), "placement": {
                "set": [place.set_rows, place.e], "segments": place.segments, "width": place.width,
                "stack_rows": place.stack_rows, "across": place.across, "stacks": place.stacks,
                "description": place.describe()}},
            active_pes=cost.active_pes, utilization=detail["utilization"], passes=cost.passes,
            idle_macs=cost.idle_macs,
            glb_banks=detail["glb_banks"],
            spads=spad_fill(cost),
            energy=energy_entry(cost, hw),
            latency=detail["latency"],
            accesses=detail["accesses"], accesses_by_type=detail["accesses_by_type"],
            lower_bound={**bounds,
                         "cycles_ratio": round(cost.total_cycles / max(1, bounds["cycles"]), 4),
                         "dram_ratio": round(cost.level_total("dram") / max(1, bounds["dram_words"]), 4),
                         "roofline_ratio": round(cost.total_cycles / max(1, bounds["roofline_cycles"]), 4),
                         **latency_gap(cost, bounds["cycles"]), **dram_gap(cost, self.layer, self.ratios)},
            binding_limits=bindings(self.layer, mapping, hw, self.ratios, self.max_cycles),
            runner_ups=None if self.runner_ups is None else [r.as_dict() for r in self.runner_ups],
            bitstream={"file": self.bitstream_file, "bits": total_bits(hw), "bytes": len(self.bitstream),
                       "sha256": hashlib.sha256(self.bitstream).hexdigest()},
        )
        return entry


@dataclass(frozen=True)
class CompileResult:
    """A compiled network: what ``eyeriss compile`` writes, as Python objects."""

    model_file: str
    model_sha256: str
    model_name: str
    opset: int
    batch: int
    objective: str
    hardware: Hardware
    layers: tuple[CompiledLayer, ...]
    host_ops: tuple[tuple[str, str], ...]
    options: dict[str, Any]
    compile_s: float
    batch_scan: tuple[tuple[int, float], ...] = ()
    host_reasons: tuple[str | None, ...] = ()  # why each host op is not on the array (frontends.host), in order
    program: Built | None = None  # the runnable program (mapper.app.quantize), or why there is none
    warnings: tuple[str, ...] = ()  # about the inputs, said on stderr by `eyeriss compile` (external weights missing)
    cache_warning: str | None = None  # about this run: the result cache folder could not be written
    # The external-data files the model names -> their identity when it was read (graph "external_data")
    external_data: dict[str, tuple[int, int, int, int] | None] = field(default_factory=dict)

    @property
    def all_warnings(self) -> tuple[str, ...]:
        """Every warning a command says on stderr: the inputs', then this run's cache folder's."""
        return self.warnings + ((self.cache_warning,) if self.cache_warning else ())

    @property
    def unmapped(self) -> list[CompiledLayer]:
        return [layer for layer in self.layers if not layer.ok]

    def layer(self, name: str) -> CompiledLayer:
        for entry in self.layers:
            if entry.name == name:
                return entry
        raise KeyError(name)

    @property
    def totals(self) -> Totals:
        budget_ms = self.options.get("network_latency_ms")
        budget = None
        if budget_ms is not None:  # met, unless --over-budget fastest wrote the fastest mappings anyway
            cycles = sum(entry.result.cost.total_cycles for entry in self.layers if entry.ok)
            budget = NetworkBudget(budget_ms, cycles <= _ms_to_cycles(budget_ms, self.hardware,
                                                                      "the network latency bound"))
        return network_totals(self.layers, self.hardware, self.batch, budget)

    @property
    def over_budget(self) -> bool:
        """The network latency budget was missed (only with ``over_budget="fastest"``; else an error)."""
        budget = self.totals.network_budget
        return budget is not None and not budget.met

    def report(self) -> dict[str, Any]:
        """The ``eyeriss-report/1`` document."""
        hw = self.hardware
        return {
            "schema": SCHEMA,
            "model": {"file": self.model_file, "name": self.model_name, "sha256": self.model_sha256,
                      "opset": self.opset},
            "batch": self.batch,
            "batch_scan": [{"batch": b, "energy_units_per_inference": round(e, 3)} for b, e in self.batch_scan],
            "objective": self.objective,
            "options": dict(self.options),
            "hardware": hardware_entry(hw),
            "layers": [entry.report(hw) for entry in self.layers],
            "unmapped": [{"name": e.name, "reason": e.result.reason or e.result.status} for e in self.unmapped],
            "host_ops": [{"name": name, "op": op, "reason": reason} for (name, op), reason in
                         zip(self.host_ops, self.host_reasons or (None,) * len(self.host_ops))],
            "totals": self.totals.as_dict(),
            "program": program_entry(self.program),
        }

    def report_bytes(self, report: dict[str, Any] | None = None) -> bytes:
        """report.json's bytes; ``report``: this result's ``report()`` when the caller already built it."""
        return (json.dumps(report or self.report(), indent=1, sort_keys=False, allow_nan=False) + "\n").encode()

    def files(self, report_json: bytes | None = None) -> dict[str, bytes]:
        """What the output folder holds (relative path -> bytes), its manifest aside."""
        files = {entry.bitstream_file: entry.bitstream for entry in self.layers if entry.bitstream is not None}
        if self.program is not None:
            files.update(self.program.files)
        files[REPORT_FILE] = report_json if report_json is not None else self.report_bytes()
        return files

    def save(self, outdir: str | os.PathLike, report_json: bytes | None = None) -> Path:
        """Write report.json and bitstreams/ into ``outdir``: the old complete output or the new one, never half
        (mapper.app.outdir.publish).  ``report_json``: this result's ``report_bytes()`` when the caller already has them.
        """
        return publish(Path(outdir), self.files(report_json))


def _hardware(hardware: Hardware | str | os.PathLike | None) -> Hardware:
    if hardware is None:
        return default_hardware()
    if isinstance(hardware, Hardware):
        return hardware
    return load_hardware(hardware)


MAX_LATENCY_MS = 1e9  # a latency bound of 11 days bounds nothing; above it the cycle count leaves int64


def _ms_to_cycles(ms: float | None, hw: Hardware, what: str) -> int | None:
    if ms is None:
        return None
    if not 0 < ms <= MAX_LATENCY_MS:
        raise InputError(f"{what} must be a positive number of milliseconds up to {MAX_LATENCY_MS:g}, got {ms}")
    return int(ms * hw.core_mhz * 1000)


def _check_choice(what: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{what} must be one of {', '.join(choices)}, got {str(value)[:40]!r}")


def compile_model(model: str | os.PathLike | onnx.ModelProto, *, batch: int | str | None = None,
                  objective: str = "energy", hardware: Hardware | str | os.PathLike | None = None,
                  time_limit: float | None = None, total_time_limit: float | None = None,
                  layer_latency_ms: float | None = None, network_latency_ms: float | None = None,
                  zero_fraction: float | None = None, input_shapes: InputShapes | None = None,
                  layer_zero_fractions: dict[str, tuple[float, float | None]] | None = None,
                  calibration: str | os.PathLike | None = None, max_batch: int = DEFAULT_MAX_BATCH,
                  on_layer: Callable[[str, LayerResult], None] | None = None,
                  on_graph: Callable[[int, int], None] | None = None,
                  on_batch: Callable[[int, NetworkResult], None] | None = None,
                  cache: ResultCache | str | os.PathLike | bool | None = None,
                  explain: bool = False, mapping_space: str = DEFAULT_SPACE,
                  compare_spaces: bool = True, program: bool = True, over_budget: str = "error",
                  weights: str = MODEL_WEIGHTS, mappings: Mappings | None = None, search: bool = True) -> CompileResult:
    """Compile an ONNX model for the array: map every layer, cost it, emit its bitstream.

    ``batch``: an int fixes a symbolic batch; ``"auto"`` picks the batch in 1..``max_batch`` with the
    least energy per inference; None is the model's own batch (1 if symbolic).  The search is bounded by
    deterministic work, so the result does not depend on the machine or its load; ``time_limit`` (per
    distinct layer shape) and ``total_time_limit`` (the whole search) add a wall-clock stop, and a layer
    cut short keeps the best mapping found with its gap.  Latency bounds make energy the objective.
    Raises ``InputError`` on bad input; layers with no valid mapping are in ``result.unmapped``.
    Progress: ``on_graph(batch, layers)`` per graph mapped, ``on_layer(name, result)`` per layer,
    ``on_batch(batch, network)`` per size of ``"auto"``, in order.

    Data statistics per layer (zeros for gating, RLC size in DRAM): ``layer_zero_fractions[name]`` =
    (ifmap zeros, ofmap zeros or None), else measured on the ``calibration`` samples (.npy/.npz, run in
    onnxruntime), else ``zero_fraction`` for every ReLU output (default 0.5); the report names the source.

    ``cache``: the persistent result cache (mapper.search.cache): True for the user's cache folder, a
    folder path or a ``ResultCache``; None or False searches afresh.  A cached answer is the search's.

    ``mapping_space``: ``full`` (every mapping the hardware allows) or
    ``jssc`` (only mappings that keep the chip team's rules as well,
    cost_models.rules; a layer with none is unmapped).  ``compare_spaces``
    (default) also finds each layer's optimum in the other space, the report's
    ``mapping_spaces`` (a sweep, which reports no per-layer figures, skips it).

    A ``network_latency_ms`` below what the fastest mappings reach raises
    ``NetworkBudgetError`` naming both figures (nothing to save), unless
    ``over_budget="fastest"``: then every layer gets its fastest mapping and
    ``totals.network_budget.met`` is False.  ``mappings`` (docs/mapping-file.md, a name -> ``Mapping``
    dict or a file) pins those layers; ``search=False`` (``eyeriss evaluate``) searches none.
    ``weights="seeded[:SEED]"``: every parameter drawn (frontends.seeded). ``input_shapes``: ``--input-shape``.
    """
    start, mode = time.perf_counter(), model_mode(mappings, search, batch)
    hw, max_layer, max_network = _checked(objective, zero_fraction, layer_zero_fractions, time_limit, total_time_limit,
                                          hardware, layer_latency_ms, network_latency_ms, mapping_space, over_budget)
    report_options = _report_options(batch, time_limit, total_time_limit, layer_latency_ms, network_latency_ms,
                                     zero_fraction, layer_zero_fractions)
    seed, shapes = parse_weights(weights), input_shape_map(input_shapes)
    report_options.update(mapping_space=mapping_space, over_budget=over_budget, weights=describe(seed),
                          mappings=mode.options_entry(), **_input_shapes_entry(shapes))
    job = _Job(model, hw, objective, {"time_limit": time_limit, "total_time_limit": total_time_limit,
                                      "max_layer_cycles": max_layer, "max_network_cycles": max_network,
                                      "mapping_space": mapping_space, "over_budget": over_budget},
               lambda graph: _statistics(model, graph, zero_fraction, layer_zero_fractions, calibration, report_options),
               open_cache(cache), on_layer, on_graph, on_batch, calibration, program, seed, mode, shapes, compare_spaces and search)
    network, graph = _map_batch_scan(job, max_batch) if batch == "auto" else _map_one_batch(job, batch)
    return _result(job, network, graph, hardware, explain and search, report_options, start)


def _result(job: _Job, network: NetworkResult, graph: nx.DiGraph, source: object, explain: bool,
            report_options: dict[str, Any], start: float) -> CompileResult:
    """Step 3: the mapped network checked, costed, explained and encoded into the result."""
    hw, max_layer, max_network = job.hw, job.options["max_layer_cycles"], job.options["max_network_cycles"]
    if not network.layers:
        raise InputError("the model has no layer the array computes (no Conv, Gemm or MatMul)",
                         where=str(graph.graph.get("path") or "<model>"))
    _refuse_a_budget_nothing_meets(network)
    _refuse_hardware_that_fits_nothing(network, source, bounded=bool(max_layer or max_network))
    runners = {} if not explain or max_network else runner_up_table(network, hw, max_layer)
    spaces = space_table(job, network) if job.compare_spaces else {}
    built = None
    if job.program:
        mapped = [(index, entry.name, entry.result.ok) for index, entry in enumerate(network.layers)]
        built = build_program(graph, mapped, hw, network.batch, job.calibration)
    layers = _compile_layers(network, graph, hw, max_layer, runners, spaces, built.formats if built else None)
    report_options["explain"] = explain
    path = graph.graph.get("path")
    return CompileResult(
        model_file=Path(path).name if path else "<model>", model_sha256=graph.graph["sha256"],
        model_name=graph.graph["name"], opset=int(graph.graph["opset"]), batch=network.batch,
        objective=job.objective, hardware=hw, layers=layers, host_ops=network.host_ops, options=report_options,
        compile_s=time.perf_counter() - start, batch_scan=network.batch_scan,
        host_reasons=tuple(graph.nodes[name].get("reason") for name, _ in network.host_ops), program=built,
        warnings=tuple(w for w in (missing_weights_warning(graph), seeded_warning(job.weights_seed)) if w),
        cache_warning=job.cache.warning() if job.cache is not None else None,
        external_data=dict(graph.graph.get("external_data", {})))


def _checked(objective: str, zero_fraction: float | None, layer_zero_fractions: dict | None,
             time_limit: float | None, total_time_limit: float | None,
             hardware: Hardware | str | os.PathLike | None, layer_latency_ms: float | None,
             network_latency_ms: float | None, mapping_space: str = DEFAULT_SPACE,
             over_budget: str = "error") -> tuple[Hardware, int | None, int | None]:
    """Step 1: the options checked (InputError), the hardware loaded, latency bounds in cycles."""
    _check_choice("over_budget", over_budget, OVER_BUDGET_CHOICES)
    _check_choice("mapping space", mapping_space, SPACES)
    if objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    _check_zero_fractions(zero_fraction, layer_zero_fractions)
    if any(limit is not None and not limit > 0 for limit in (time_limit, total_time_limit)):
        raise InputError("time limits must be positive numbers of seconds")
    hw = _hardware(hardware)
    max_layer = _ms_to_cycles(layer_latency_ms, hw, "the layer latency bound")
    max_network = _ms_to_cycles(network_latency_ms, hw, "the network latency bound")
    if (max_layer or max_network) and objective != "energy":
        raise InputError("latency bounds apply to the energy objective; drop --objective or the bound")
    return hw, max_layer, max_network


def _report_options(batch: int | str | None, time_limit: float | None, total_time_limit: float | None,
                    layer_latency_ms: float | None, network_latency_ms: float | None, zero_fraction: float | None,
                    layer_zero_fractions: dict | None) -> dict[str, Any]:
    """The report's ``options``: the run's settings as the user gave them (docs/report.md)."""
    return {"batch": batch if batch is not None else "model", "time_limit_s": time_limit,
            "total_time_limit_s": total_time_limit, "layer_latency_ms": layer_latency_ms,
            "network_latency_ms": network_latency_ms,
            "zero_fraction": DEFAULT_ZERO_FRACTION if zero_fraction is None else zero_fraction,
            "layer_zero_fractions": {name: list(pair) for name, pair in (layer_zero_fractions or {}).items()},
            "calibration": None}


def _input_shapes_entry(shapes: InputShapes) -> dict[str, Any]:
    """The report's ``options.input_shapes``, only when given: the reports of compiles without it keep their
    bytes (docs/report.md)."""
    return {"input_shapes": {name: list(dims) for name, dims in shapes.items()}} if shapes else {}


@dataclass(frozen=True)
class _Job:
    """What mapping a model needs once its options are checked."""

    model: str | os.PathLike | onnx.ModelProto
    hw: Hardware
    objective: str
    options: dict[str, Any]  # map_network's keyword arguments (statistics and cache are added per graph)
    statistics: Callable[[nx.DiGraph], Any]  # a loaded graph's data statistics per layer
    cache: Any  # one ResultCache (or None) for every search of the compile: a write failure is warned once
    on_layer: Callable[[str, LayerResult], None] | None
    on_graph: Callable[[int, int], None] | None
    on_batch: Callable[[int, NetworkResult], None] | None
    calibration: str | os.PathLike | None = None
    program: bool = True  # build the runnable program (formats, weights, host graph) where the model allows
    weights_seed: int | None = None  # --weights seeded: the seed every parameter is drawn from
    mode: ModelMode = ModelMode()  # the layers' pinned mappings, if any (mapper.app.mapping_file)
    input_shapes: InputShapes | None = None  # --input-shape: graph input shapes fixed before shape inference
    compare_spaces: bool = False  # also every layer's optimum in the other mapping space (the report's)

    def load(self, batch: int | None) -> nx.DiGraph:
        return load_onnx(self.model, batch=batch, weights_seed=self.weights_seed, input_shapes=self.input_shapes)


def _map_batch_scan(job: _Job, max_batch: int) -> tuple[NetworkResult, nx.DiGraph]:
    """Step 2, ``batch="auto"``: every batch 1..max_batch mapped, the least energy per inference kept."""
    from mapper.search.network import choose_batch

    if not isinstance(max_batch, int) or isinstance(max_batch, bool) or not 1 <= max_batch <= MAX_BATCH_SCAN:
        raise InputError(f"the largest batch to try must be between 1 and {MAX_BATCH_SCAN}, got {max_batch!r}")
    first = job.load(None)
    options = {**job.options, "statistics": job.statistics(first)}
    candidates = range(1, max_batch + 1) if first.graph["batch_symbolic"] else [first.graph["batch"]]

    def build(b: int) -> nx.DiGraph:
        """Each size's own graph, held only while its search runs (sizes run side by side)."""
        built = first if b == first.graph["batch"] else job.load(b)
        if job.on_graph is not None:
            job.on_graph(b, len(array_layers(built)))
        return built

    if options["total_time_limit"] is not None:  # the whole scan shares the total limit
        options["total_time_limit"] = options["total_time_limit"] / len(candidates)
    options["cache"] = open_cache(job.cache)
    network = choose_batch(build, job.hw, job.objective, candidates, on_batch=job.on_batch, on_layer=job.on_layer,
                           **options)
    return network, first if network.batch == first.graph["batch"] else job.load(network.batch)


def _map_one_batch(job: _Job, batch: int | None) -> tuple[NetworkResult, nx.DiGraph]:
    """Step 2, a fixed batch (None: the model's own); with ``job.compare_spaces`` every space searched at once
    (the report's ``mapping_spaces``), the narrower first, which speeds the wider search (map_network)."""
    from mapper.search.network import map_network

    if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool) or batch < 1):
        raise InputError(f"batch must be a positive integer or 'auto', got {batch!r}")
    graph = job.load(batch)
    if job.mode.pins is not None:
        check_pins(job.mode.pins, graph, job.hw, job.options["mapping_space"], not job.mode.search, job.mode.file)
    options = {**job.options, "statistics": job.statistics(graph)}
    if job.on_graph is not None:
        job.on_graph(graph.graph["batch"], len(array_layers(graph)))
    options["cache"] = open_cache(job.cache)
    return map_network(graph, job.hw, job.objective, on_layer=job.on_layer, pinned=job.mode.pins,
                       search_pinned=job.mode.search,
                       compare_spaces=job.compare_spaces and options["max_network_cycles"] is None, **options), graph


def _check_zero_fractions(zero_fraction: float | None,
                          per_layer: dict[str, tuple[float, float | None]] | None) -> None:
    figures = [] if zero_fraction is None else [("the zero fraction", zero_fraction)]
    for name, pair in (per_layer or {}).items():
        figures += [(f"layer '{name}'s zero fraction", z) for z in pair if z is not None]
    for what, z in figures:
        if not (isinstance(z, (int, float)) and 0.0 <= z < 1.0):
            raise InputError(f"{what} must be in [0, 1), got {z}")


def _statistics(model: str | os.PathLike | onnx.ModelProto, graph: nx.DiGraph, zero_fraction: float | None,
                per_layer: dict[str, tuple[float, float | None]] | None, calibration: str | os.PathLike | None,
                report_options: dict[str, Any]) -> dict[str, LayerStatistics]:
    """Each layer's zeros and RLC sizes: measured on the calibration samples, given, or defaults."""
    from mapper.search.network import layer_statistics

    names = {name for name, _ in array_layers(graph)}
    unknown = sorted(set(per_layer or {}) - names)
    if unknown:
        raise InputError(f"--zero-fraction names no array layer: {', '.join(unknown)} (layers: "
                         f"{', '.join(sorted(names)[:8])}{', ...' if len(names) > 8 else ''})")
    measured = None
    if calibration is not None:
        from frontends.calibration import calibrate

        result = calibrate(model, graph, calibration)
        measured = result.layers
        report_options["calibration"] = {"file": result.file, "samples": result.samples}
    return layer_statistics(graph, DEFAULT_ZERO_FRACTION if zero_fraction is None else zero_fraction,
                            zero_fraction_given=zero_fraction is not None, given=per_layer, measured=measured)


def _refuse_a_budget_nothing_meets(network: NetworkResult) -> None:
    """A network latency budget below the fastest mappings is one error, not a network of unmapped layers."""
    over = next((entry for entry in network.layers if entry.result.status == OVER_BUDGET), None)
    if over is not None:
        raise NetworkBudgetError(f"{over.result.reason}; give a larger --network-latency-ms, or --over-budget "
                                 "fastest to write the fastest mappings anyway")


def _refuse_hardware_that_fits_nothing(network: NetworkResult, source: object, bounded: bool) -> None:
    """A hardware description on which no layer has any valid mapping is bad input, not a partial compile."""
    if bounded or any(entry.result.ok or entry.result.status not in ("UNMAPPABLE", "INFEASIBLE")
                      for entry in network.layers):
        return
    first = network.layers[0]
    where = str(source) if isinstance(source, (str, os.PathLike)) else f"hardware '{network.hardware.name}'"
    raise InputError(f"no layer of the model fits this hardware ({network.hardware.rows} x {network.hardware.cols} "
                     f"PEs); e.g. {first.name}: {first.result.reason}", where=where)


def runner_up_table(network: NetworkResult, hw: Hardware, max_cycles: int | None) -> dict[str, tuple[RunnerUp, ...]]:
    """``compile --explain``: each mapped layer's runner-ups, one search per distinct shape, side by side."""
    from mapper.search.parallel import solve_each
    from mapper.search.runner_ups import runner_ups

    # A pinned layer's runner-ups would be its optimum's, not its own mapping's: it gets none, but its searched
    # optimum is the first answer a searched layer of the same shape may share.
    wanted = {entry.shared_with or entry.name for entry in network.layers if entry.result.ok and not entry.pinned}
    firsts = {entry.name: entry for entry in network.layers if entry.name in wanted}
    found = solve_each(list(firsts), lambda name: runner_ups(firsts[name].layer, hw, firsts[name].searched,
                                                             firsts[name].ratios, max_cycles, network.mapping_space))
    return {entry.name: found[entry.shared_with or entry.name] for entry in network.layers
            if entry.result.ok and not entry.pinned and (entry.shared_with or entry.name) in found}


def space_table(job: _Job, network: NetworkResult) -> dict[str, dict[str, LayerResult]]:
    """Every layer's optimum in both mapping spaces, the report's ``mapping_spaces`` (the other space re-solved)."""
    from mapper.search.network import space_optima

    options = job.options
    return space_optima(network, options["max_layer_cycles"], open_cache(job.cache), options["time_limit"],
                        reuse=options["max_network_cycles"] is None)


def _compile_layers(network: NetworkResult, graph: nx.DiGraph, hw: Hardware, max_cycles: int | None = None,
                    runners: dict[str, tuple[RunnerUp, ...]] | None = None,
                    spaces: dict[str, dict[str, LayerResult]] | None = None,
                    formats: dict[str, LayerFormats] | None = None) -> tuple[CompiledLayer, ...]:
    """Each layer's bitstream, its write-back shift from its formats (0 for a model that cannot run)."""
    out = []
    configs: dict = {}  # one allocation per distinct (shape, mapping): ResNet-50's 54 layers have 24
    for index, data in enumerate(network.layers):
        bits = None
        if data.result.ok:
            assert data.result.mapping is not None
            key = (data.layer, data.result.mapping)
            if key not in configs:
                configs[key] = config_for(data.layer, data.result.mapping, hw, shift=0)
            fmt = (formats or {}).get(data.name)
            config = configs[key] if fmt is None else replace(configs[key], shift=fmt.shift)
            bits = encode(config, hw, index)
        node = graph.nodes[data.name]
        out.append(CompiledLayer(index, data, bits, relu=bool(node.get("relu")), onnx_node=node.get("onnx_node"),
                                 part=node.get("part"), max_cycles=max_cycles,
                                 runner_ups=(runners or {}).get(data.name), spaces=(spaces or {}).get(data.name),
                                 formats=(formats or {}).get(data.name)))
    return tuple(out)
