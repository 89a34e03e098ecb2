"""``eyeriss compile MODEL.onnx``: map every layer, write report.json and the bitstreams."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cost_models.choices import DEFAULT_MAX_BATCH, DEFAULT_SPACE, DEFAULT_ZERO_FRACTION, OBJECTIVES, OVER_BUDGET_CHOICES, SPACES
from mapper.app.exits import EXIT_NOT_PROVEN, EXIT_OK, EXIT_UNMAPPED
from mapper.app.untrusted import printable, text


def _batch(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text[:40]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text[:40]!r}")
    return value


def _number(low: float, high: float, low_ok: bool, what: str):
    """An argparse type: a float in (low, high), or [low, high) with ``low_ok``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not ((low <= value if low_ok else low < value) and value < high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive = _number(0.0, float("inf"), False, "a positive number")
_fraction = _number(0.0, 1.0, True, "a number in [0, 1)")


def _zero_fraction(text: str) -> tuple[str | None, float, float | None]:
    """``Z`` (every ReLU output), ``NAME=Z`` (that layer's ifmap) or ``NAME=Z,ZO`` (its ifmap and ofmap)."""
    name, sep, figures = text.rpartition("=")
    if sep and not name:
        raise argparse.ArgumentTypeError(f"expected NAME=Z, got {text!r}")
    parts = figures.split(",")
    if len(parts) > (2 if sep else 1):
        raise argparse.ArgumentTypeError(f"expected Z, NAME=Z or NAME=Z,ZO, got {text!r}")
    values = [_fraction(part) for part in parts]
    return (name if sep else None, values[0], values[1] if len(values) > 1 else None)


def _input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``NAME=D,D,...`` (frontends.input_shapes: split on the last ``=``), as argparse reports a bad value:
    one usage line, exit 2, the text escaped (argparse prints the message as it is)."""
    from frontends.input_shapes import InputShapeError, parse_input_shape

    try:
        return parse_input_shape(text)
    except InputShapeError as error:
        raise argparse.ArgumentTypeError(printable(error.message.removeprefix("--input-shape "))) from None


def add_input_shape_argument(parser: argparse.ArgumentParser) -> argparse.Action:
    """``--input-shape NAME=D,D,...``, repeatable: every command that loads a model has it."""
    return parser.add_argument(
        "--input-shape", dest="input_shape", type=_input_shape, action="append", default=[], metavar="NAME=D,D,...",
        help="the whole shape of graph input NAME, for a model exported with dynamic dimensions (height, width, "
        "sequence length); one per input, repeatable; split on the last '=', so a name may hold '=' or ','; "
        "a leading dimension given to a symbolic batch is the batch (--batch must agree)")


def scan_line(started: dict[int, int], done: list[int]) -> str:
    """``--batch auto`` progress: the sizes done (in order) and those being solved."""
    running = sorted(set(started) - set(done))
    return (f"batch sizes done {done[0]}-{done[-1]}" if done else "batch sizes") + (
        f", solving {', '.join(map(str, running))}" if running else "")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("compile", help="map an ONNX model onto the array; write report.json and bitstreams")
    parser.add_argument("model", help="ONNX file")
    parser.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default: ./<model name>)")
    add_compile_options(parser)
    parser.add_argument("--json", action="store_true", help="print the report JSON instead of tables")


def add_compile_options(parser: argparse.ArgumentParser, explain: bool = True) -> None:
    """Every option that decides what a compile produces; shared by compile and ``simulate MODEL``.

    The options and their defaults are kept on the namespace (``compile_options``) so that a command
    given a compiled folder instead of a model can refuse the ones that would not apply."""
    actions: list[argparse.Action] = []

    def add(*names: str, **options) -> None:
        actions.append(parser.add_argument(*names, **options))

    add("--batch", type=_batch, help="batch size, or 'auto' for the least energy per inference "
        "(default: the model's, 1 if symbolic)")
    add("--max-batch", type=int, default=DEFAULT_MAX_BATCH, help="largest batch --batch auto tries")
    add("--objective", default="energy", choices=OBJECTIVES)
    add("--mapping-space", default=DEFAULT_SPACE, choices=SPACES,
        help="full: every mapping the hardware allows (default); jssc: only mappings shaped like "
        "the chip's published ones (the chip team's rules, docs/cost_model.md)")
    actions.append(add_input_shape_argument(parser))
    add("--hardware", metavar="FILE.yaml", help="hardware description (default: the bundled Eyeriss)")
    add("--mapping", metavar="FILE.yaml", help="pin the mappings of the layers the file names (docs/mapping-file.md; "
        "`eyeriss report OUTDIR --mappings-out FILE.yaml` writes one): those layers keep them, the rest are "
        "searched, and each pinned layer's searched optimum is reported beside it")
    add("--time-limit", type=positive, metavar="S",
        help="stop each distinct layer's search after S seconds, keeping the best mapping so far "
        "(default: no clock; the search is bounded by deterministic work, so the result does "
        "not depend on the machine's load)")
    add("--total-time-limit", type=positive, metavar="S", help="search time for the whole network")
    add("--layer-latency-ms", type=positive, metavar="MS", help="latency bound per layer")
    add("--network-latency-ms", type=positive, metavar="MS", help="latency bound for the network")
    add("--over-budget", choices=OVER_BUDGET_CHOICES, default="error",
        help="a --network-latency-ms the fastest mappings miss: error (default: one error naming "
        "the bound and the fastest latency, nothing written) or fastest (write the fastest "
        "mappings, exit 1)")
    add("--zero-fraction", type=_zero_fraction, action="append", default=[], metavar="[NAME=]Z[,ZO]",
        help=f"share of zeros in ReLU outputs for RLC and gating (default {DEFAULT_ZERO_FRACTION}); "
        "NAME=Z gives layer NAME's ifmap zeros, NAME=Z,ZO its ifmap and ofmap zeros; repeatable")
    add("--calibration", metavar="INPUTS", help="sample inputs (.npy, or .npz by input name, docs/calibration.md): "
        "run the model in onnxruntime and measure every layer's zeros and RLC size")
    add("--weights", default="model", metavar="model|seeded[:SEED]",
        help="model: the model's own weights (default); seeded: every parameter drawn from a seed (default 0; "
        "He-normal, not a trained model: frontends/seeded.py), for a model exported without its weights")
    if explain:
        add("--explain", action="store_true",
            help="also find each layer's runner-ups: for every mapping parameter the best mapping with a "
            "different value of it (one re-solve per parameter; off by default)")
    before = len(parser._actions)
    add_cache_arguments(parser)
    actions.extend(parser._actions[before:])
    parser.set_defaults(compile_options=tuple((a.dest, a.default, a.option_strings[0]) for a in actions))


def add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cache DIR`` / ``--no-cache``, shared by compile and sweep."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cache", metavar="DIR", help="result cache folder (default: $XDG_CACHE_HOME/eyeriss, "
                       "else ~/.cache/eyeriss)")
    group.add_argument("--no-cache", action="store_true", help="search every layer afresh; read and write no cache")


def cache_choice(args: argparse.Namespace) -> str | bool:
    """The ``cache=`` argument the command line asks for."""
    return False if args.no_cache else (args.cache or True)


def compile_options(args: argparse.Namespace) -> dict:
    """``compile_model``'s keyword arguments from the options ``add_compile_options`` registered."""
    overall = next((z for name, z, _ in reversed(args.zero_fraction) if name is None), None)
    per_layer = {name: (z_in, z_out) for name, z_in, z_out in args.zero_fraction if name is not None}
    return dict(batch=args.batch, objective=args.objective, hardware=args.hardware, time_limit=args.time_limit,
                total_time_limit=args.total_time_limit, layer_latency_ms=args.layer_latency_ms,
                network_latency_ms=args.network_latency_ms, zero_fraction=overall, layer_zero_fractions=per_layer,
                calibration=args.calibration, max_batch=args.max_batch, cache=cache_choice(args),
                mapping_space=args.mapping_space, over_budget=args.over_budget,
                weights=args.weights, mappings=args.mapping, input_shapes=input_shapes(args))


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    """The ``--input-shape`` options as name -> dims (an input given twice is an InputShapeError: exit 2)."""
    if not args.input_shape:
        return {}  # frontends (and onnx with it) load only when a compile needs them
    from frontends.input_shapes import input_shape_map

    return input_shape_map(args.input_shape)


def run(args: argparse.Namespace, search: bool = True) -> int:
    """``eyeriss compile``; ``search=False`` is ``eyeriss evaluate`` (every layer's mapping given, none searched)."""
    from mapper.app import output_cache
    from mapper.app.outdir import check_output_dir, publish

    out = Path(args.output) if args.output else Path.cwd() / Path(args.model).stem
    check_output_dir(out)  # refuse before minutes of search, not after
    root, key = _output_cache_key(args, search)
    stored = output_cache.load(root, key, args.model) if key is not None else None
    if stored is not None:  # the same inputs compiled before: the same files, written again
        publish(out, stored.files)
        return _show(args, out, stored.files, stored.warnings)
    result = _compile(args, search)
    report_json = result.report_bytes()
    files = result.files(report_json)
    publish(out, files)
    if key is not None and _output_cache_key(args, search, result.model_sha256)[1] != key:
        key = None  # an input changed after the key hashed it: this output is not the key's (output_cache)
    failure = output_cache.store(root, key, args.model, files, result.warnings, result.external_data) \
        if key is not None else None
    cache_warning = result.cache_warning or (failure and f"without the output cache: {root} cannot be written "
                                             f"({failure}); this compile was not stored")
    return _show(args, out, files, result.warnings + ((cache_warning,) if cache_warning else ()))


def _output_cache_key(args: argparse.Namespace, search: bool, model_sha256: str | None = None
                      ) -> tuple[Path, str | None]:
    """The cache folder and this compile's key there (None: not kept, mapper.app.output_cache);
    ``model_sha256``: the digest of the model bytes the compile read, instead of hashing the file again."""
    from mapper.app.output_cache import compile_key
    from mapper.search.cache_meta import default_dir

    choice = cache_choice(args)
    root = default_dir() if choice is True else Path(choice) if choice else Path()
    if choice is False:
        return root, None
    options = {**compile_options(args), "explain": getattr(args, "explain", False)}
    del options["cache"]
    inputs = {name: options.pop(name) for name in ("hardware", "mappings", "calibration")}
    return root, compile_key("compile" if search else "evaluate", args.model, options, inputs, model_sha256)


def _compile(args: argparse.Namespace, search: bool):
    """The compile itself, with a progress bar on a terminal."""
    from mapper.app.compiler import compile_model

    err = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    with progress:
        task = progress.add_task("mapping", total=None)

        sizes: dict[int, int] = {}  # batch sizes started -> their layers (--batch auto solves them side by side)
        done: list[int] = []

        def on_graph(batch: int, layers: int) -> None:
            sizes[batch] = layers
            if args.batch == "auto":
                progress.update(task, total=sum(sizes.values()), description=scan_line(sizes, done))
            else:
                progress.update(task, description=f"batch {batch}", completed=0, total=layers)

        def on_batch(batch: int, network) -> None:
            done.append(batch)
            progress.update(task, description=scan_line(sizes, done))

        def on_layer(name: str, result) -> None:
            last = printable(f"{name[:24]}: {result.status.lower()}")
            progress.update(task, advance=1, description=f"{scan_line(sizes, done)}; {last}" if args.batch == "auto"
                            else last)

        return compile_model(args.model, **compile_options(args), explain=getattr(args, "explain", False),
                             on_layer=on_layer, on_graph=on_graph, on_batch=on_batch, search=search)


def _show(args: argparse.Namespace, out: Path, files: dict[str, bytes], warnings: tuple[str, ...]) -> int:
    """What a compile prints, from the files it wrote (a compile and its replay from the cache print the same)."""
    from mapper.app.report import BITSTREAM_DIR, REPORT_FILE, failures
    from mapper.app.report_view import command, name_list, network_summary

    for warning in warnings:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    report_json = files[REPORT_FILE]
    report = json.loads(report_json)
    if args.json:  # the bytes of report.json
        sys.stdout.write(report_json.decode())
    else:
        console = Console()
        console.print(network_summary(report))
        bitstreams = sum(1 for name in files if name.startswith(f"{BITSTREAM_DIR}/"))
        console.print(text(f"wrote {out / REPORT_FILE} and {bitstreams} bitstream(s); view with:"))
        command(console, f"eyeriss report {shlex.quote(str(out))}")
    for names, reason in failures(report["unmapped"]):
        which = f"layer '{names[0]}' has" if len(names) == 1 else f"{name_list(names, len(report['layers']))} have"
        print(printable(f"error: {which} no valid mapping: {reason}"), file=sys.stderr)
    return exit_status(report)


def exit_status(report: dict) -> int:
    """0; 1 a layer unmapped or the network budget missed; 4 compiled but far from proven (README)."""
    totals = report["totals"]
    if totals["unmapped"] or not totals.get("network_budget", {"met": True})["met"]:
        return EXIT_UNMAPPED
    return EXIT_NOT_PROVEN if totals["search"]["far"] else EXIT_OK
