"""ONNX -> layer graph (networkx) of array layers and host operations.

Modules: ``loading`` (safe reading, external-data checks, weight stripping), ``wire``
(reading a file without its large weight values),
``shapes`` (batch binding, shape inference, shape-subgraph folding), ``input_shapes`` (``--input-shape``:
graph input shapes the user fixes),
``contrib`` (shapes of onnxruntime's com.microsoft quantized ops),
``lowering`` (operators the array computes -> LayerShape), ``decompose``
(ConvTranspose phases, patch convolutions), ``host`` (why a node is host
work), ``graph`` (fusion
and the networkx graph), ``weights`` (real weights and small constants, on demand),
``execution`` (what running the lowered network needs: each array layer's operands,
the host operations as one ONNX model), ``calibration`` (sample inputs, per-layer statistics).

The graph: one node per array layer or host operation, keyed by its ONNX node
name (a ConvTranspose's phases: ``<node>/phaseIJ``), in topological order
(``order``).  Node attributes: ``kind`` ("array" or "host"), ``op``,
``onnx_op``, ``onnx_node`` (the ONNX node it computes), ``part`` and
``transform`` (a rewritten node's part: frontends.decompose; else None),
``layer`` (LayerShape or None), ``fused`` ((name, op_type) of ONNX nodes
folded into it), ``onnx_nodes``, ``relu``, ``batchnorm`` (what folding a fused
BatchNormalization needs), ``weight`` (weight tensor name), ``output`` (output
tensor), ``reason`` (a host op's: frontends.host), ``protos`` (the NodeProtos the node
computes: a host op's own, an array layer's main node then its fused ones).  Edges carry ``tensor`` and
``shape``.
Graph attributes: ``name``, ``path``, ``sha256``, ``batch``, ``batch_symbolic``, ``opset``,
``inputs`` and ``outputs`` ((name, shape) lists; not nodes), ``input_shapes`` (the ``--input-shape`` overrides
applied, name -> dims), ``folded`` (shape
computation nodes evaluated at compile time), ``missing_weights`` (external-data files the model
names that do not exist: it maps from shapes, nothing runs), ``external_data`` (every external-data file the model
names, relative to its folder, present or not, -> its ``file_identity`` when the model was read, before any
weight: None if absent), ``initializers`` (the small initializers kept,
which host operations read), ``weights_seed`` (None: the model's own weights; else the seed its
parameters are drawn from, frontends.seeded).
"""

from __future__ import annotations

import os

import networkx as nx
import onnx

from cost_models.layer import LayerShape
from frontends.contrib import infer_with_contrib
from frontends.graph import build_graph
from frontends.input_shapes import (InputShapeError, InputShapes, apply_input_shapes, format_input_shape,
                                   input_shape_map, quoted)
from frontends.loading import (FrontendError, check_structure, file_identity, missing_weights_error, opset_of, read_model,
                               strip_weights)
from frontends.seeded import parameters
from frontends.shapes import (MAX_BATCH, MAX_FOLD_ELEMENTS, bind_batch, fixed_batch, fold_shape_subgraphs, static_shapes,
                             weight_inputs)
from frontends.validate import MAX_NODES, check_model
from frontends.weights import load_layer_weights, load_node_weights

__all__ = ["FrontendError", "InputShapeError", "array_layers", "host_ops", "load_layer_weights", "load_node_weights", "load_onnx",
           "missing_weights_warning", "require_weights"]


def load_onnx(model: str | os.PathLike | onnx.ModelProto, batch: int | None = None,
              weights_seed: int | None = None, input_shapes: InputShapes | None = None) -> nx.DiGraph:
    """Load, check and lower a model; ``batch`` fixes a symbolic batch dimension (default 1).

    ``weights_seed``: every parameter is drawn from this seed when its values are read (frontends.seeded,
    ``--weights seeded``); graph attribute ``weights_seed``.

    ``input_shapes`` (``--input-shape``, frontends.input_shapes): graph input name -> its whole shape, fixed
    before shape inference; the way to load a model with symbolic dimensions past the batch. A leading
    dimension it gives to a symbolic batch is the batch (``batch``, if given, must agree). Graph attribute
    ``input_shapes``.

    A model exported with a fixed batch keeps it; asking for another is an error rather than a report that
    claims a batch the layers do not have. Graph attribute ``batch_symbolic`` says whether the batch could be chosen.
    """
    missing, named = [], {}  # external-data files not there (shapes still map), and all it names: graph attributes
    # Before the read: weights read later come from this very file or are refused (frontends.weights).
    identity = None if isinstance(model, onnx.ModelProto) else file_identity(model)
    proto, path, sha256 = read_model(model, keep_elements=MAX_FOLD_ELEMENTS, max_nodes=MAX_NODES, missing=missing,
                                     named=named)
    where = str(path) if path is not None else "<model>"
    opset = opset_of(proto, where)
    check_model(proto, where, MAX_FOLD_ELEMENTS)
    work, stripped = strip_weights(proto, MAX_FOLD_ELEMENTS)
    del proto  # the caller's copy or the file's: never duplicated
    check_structure(work, where)
    if weights_seed is not None:
        parameters(work, where)  # a parameter that cannot be drawn is refused before any search
    weights = weight_inputs(work)  # binding the batch changes dims only, never which inputs are weights
    overrides = input_shape_map(input_shapes)
    given_batch = _batch_of_overrides(apply_input_shapes(work, overrides, where, weights), batch, where)
    if given_batch is not None:
        batch = given_batch
    bound = bind_batch(work, 1 if batch is None else batch, where, weights)
    if not bound:
        fixed = fixed_batch(work, weights)
        if batch is not None and fixed is not None and batch != fixed:
            raise FrontendError(f"the model's batch dimension is fixed at {fixed}; --batch {batch} cannot change it "
                                "(re-export with a dynamic batch axis)", where)
        batch = fixed if fixed is not None else 1
    batch = 1 if batch is None else batch
    try:
        work = infer_with_contrib(work, where)
        shapes = static_shapes(work)
        work, folded = fold_shape_subgraphs(work, opset, where, shapes)
        # Folding can remove the Shape nodes that made a graph input look like data: then both are computed again.
        graph = build_graph(work, static_shapes(work) if folded else shapes, folded, where, stripped,
                            None if folded else weights)
    except FrontendError as error:
        if not overrides:
            raise
        # A size the rest of the graph cannot take fails further on: the line says which shapes were given.
        given = " ".join(f"--input-shape {format_input_shape(name, dims)}" for name, dims in overrides.items())
        raise FrontendError(f"{error.message} (with {given})", error.where) from None
    name = path.stem if path is not None else (work.graph.name or "model")
    graph.graph.update(name=name, path=str(path) if path is not None else None, sha256=sha256, batch=batch, opset=opset,
                       batch_symbolic=bool(bound) and given_batch is None, weights_seed=weights_seed,
                       missing_weights=tuple(dict.fromkeys(missing)), external_data=named, input_shapes=overrides,
                       file_identity=identity)
    return graph


def _batch_of_overrides(batches: dict[int, str], batch: int | None, where: str) -> int | None:
    """The batch the ``--input-shape`` overrides fix (the leading dim they give to a symbolic batch), if any.

    Two overrides that give a symbolic batch different sizes, or one that ``--batch`` contradicts, are refused:
    every symbolic batch dimension is the one batch the report states."""
    if not batches:
        return None
    (first, name), *rest = batches.items()
    if rest:
        other, second = rest[0]
        raise InputShapeError(f"--input-shape gives the batch (dimension 0) as {first} for input {quoted(name)} and "
                              f"as {other} for input {quoted(second)}; the inputs share one batch", where)
    if first > MAX_BATCH:
        raise InputShapeError(f"--input-shape {quoted(name)} gives the batch (dimension 0) as {first}; at most "
                              f"{MAX_BATCH}", where)
    if batch is not None and batch != first:
        raise InputShapeError(f"--input-shape {quoted(name)} gives the batch (dimension 0) as {first}; --batch "
                              f"{batch} contradicts it (give one, or the same figure in both)", where)
    return first


def require_weights(graph: nx.DiGraph, where: str) -> None:
    """Refuse (FrontendError) a model whose external weights file is missing: what needs the weights calls this."""
    files = graph.graph.get("missing_weights") or ()
    if files:
        if graph.graph.get("path"):
            read_model(graph.graph["path"])  # refuses naming the tensor and its file, as a strict load does
        raise missing_weights_error(files[0], where)


def missing_weights_warning(graph: nx.DiGraph) -> str | None:
    """The one warning an architecture-only export gets (its external weights file is not there)."""
    files = graph.graph.get("missing_weights") or ()
    if not files:
        return None
    named = ", ".join(f"'{name[:200]}'" for name in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return (f"the model's external weights file{'s' if len(files) > 1 else ''} {named} "
            f"{'are' if len(files) > 1 else 'is'} missing: mapping from shapes alone; simulate and run need the weights")


def array_layers(graph: nx.DiGraph) -> list[tuple[str, LayerShape]]:
    """(name, shape) of every array layer in topological order."""
    nodes = sorted(graph.nodes(data=True), key=lambda item: item[1]["order"])
    return [(name, data["layer"]) for name, data in nodes if data["kind"] == "array"]


def host_ops(graph: nx.DiGraph) -> list[tuple[str, str]]:
    nodes = sorted(graph.nodes(data=True), key=lambda item: item[1]["order"])
    return [(name, data["op"]) for name, data in nodes if data["kind"] == "host"]
