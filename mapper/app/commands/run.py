"""``eyeriss run OUTDIR --inputs X.npy|.npz``: the compiled network on the simulated chip, from its folder alone.

Each array layer runs on the functional simulator configured by its decoded
bitstream; host nodes run under the host rule (docs/run.md).  ``--reference``
also runs the float model in onnxruntime and compares, layer by layer.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from cost_models.errors import InputError
from mapper.app.execute import BACKENDS
from mapper.app.untrusted import text

SHOWN_INPUTS = 10  # top-5 rows printed (the JSON has every input)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run a compiled network on the simulated chip in 16-bit fixed point")
    parser.add_argument("outdir", help="the folder `eyeriss compile` wrote")
    parser.add_argument("--inputs", required=True, metavar="X.npy|X.npz",
                        help="float samples along the first axis (.npz: one array per input name, optional 'labels')")
    parser.add_argument("--output", metavar="Y.npy", help="write the network output (float32) to this .npy file")
    parser.add_argument("--reference", nargs="?", const=True, default=False, metavar="MODEL.onnx",
                        help="also run the float model in onnxruntime (the folder's copy, or MODEL.onnx) and compare")
    parser.add_argument("--backend", choices=BACKENDS, default="chip",
                        help="chip: the simulated array from the bitstreams (default); numpy: plain integer numpy")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


def _db(value: float | None) -> str | float | None:
    if value is None:
        return None
    return "exact" if math.isinf(value) else round(value, 2)


def as_dict(result) -> dict:
    """The run's figures as JSON-ready data (inf SQNR as "exact")."""
    top5 = result.top5()
    out = {"backend": result.backend, "batches": result.batches, "seconds_per_batch": round(result.seconds_per_batch, 3),
           "saturations": result.saturations,
           "outputs": {name: list(value.shape) for name, value in result.outputs.items()},
           "top5": None if top5 is None else top5.tolist(), "accuracy": result.accuracy,
           "layers": [{"name": c.name, "sqnr_db": _db(c.sqnr_db), "saturations": c.saturations}
                      for c in result.layers]}
    if result.output is not None:
        o = result.output
        out["output"] = {"name": o.name, "sqnr_db": _db(o.sqnr_db), "max_abs_error": o.max_abs_error,
                         "top1_agreement": o.top1_agreement, "top5_agreement": o.top5_agreement}
    return out


def _write_output(path: str, result) -> None:
    from mapper.app.atomic import atomic_write_bytes
    from mapper.app.program import npy_bytes

    if not path.endswith(".npy"):
        raise InputError("--output must name a .npy file", path)
    if len(result.outputs) != 1:
        raise InputError(f"the network has {len(result.outputs)} outputs; --output writes a single-output network's",
                         path)
    try:
        atomic_write_bytes(Path(path), npy_bytes(next(iter(result.outputs.values()))))
    except OSError as error:
        raise InputError(f"cannot write the output: {error.strerror or error}", path) from None


def run(args: argparse.Namespace) -> int:
    from mapper.app.run import run as run_folder

    if args.output and not args.output.endswith(".npy"):
        raise InputError("--output must name a .npy file", args.output)
    result = run_folder(args.outdir, args.inputs, reference=args.reference, backend=args.backend)
    if args.output:
        _write_output(args.output, result)
    if args.json:
        print(json.dumps(as_dict(result), sort_keys=True))
        return 0
    _print(result, args)
    return 0


def _print(result, args) -> None:
    console = Console()
    count = next(iter(result.outputs.values())).shape[0]
    console.print(text(f"{args.outdir}: {count} input(s) in {result.batches} batch(es), "
                       f"{result.seconds_per_batch:.2f} s per batch ({result.backend} backend)"))
    if result.layers and result.output is not None:
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), title="array layers: chip ofmap against the float model")
        for column in ("layer", "SQNR dB", "saturated"):
            table.add_column(column, justify="left" if column == "layer" else "right")
        for c in result.layers:
            table.add_row(text(c.name), str(_db(c.sqnr_db)), str(c.saturations))
        console.print(table)
        o = result.output
        line = f"output {o.name}: SQNR {_db(o.sqnr_db)} dB, largest |error| {o.max_abs_error:.3g}"
        if o.top1_agreement is not None:
            line += f", top-1 agreement {100 * o.top1_agreement:.1f} %, top-5 agreement {100 * o.top5_agreement:.1f} %"
        console.print(text(line))
    else:
        saturated = sum(v for v in result.saturations.values())
        console.print(text(f"saturated words: {saturated}"))
    if result.accuracy is not None:
        shown = ", ".join(f"{who} {100 * value:.2f} %" for who, value in result.accuracy.items())
        console.print(text(f"top-1 accuracy on the labels: {shown}"))
    _print_top5(console, result)


def _print_top5(console: Console, result) -> None:
    top5 = result.top5()
    if top5 is None:
        return
    for k, row in enumerate(top5[:SHOWN_INPUTS]):
        console.print(text(f"input {k}: top-5 classes {' '.join(str(int(c)) for c in row)}"))
    if len(top5) > SHOWN_INPUTS:
        console.print(text(f"... {len(top5) - SHOWN_INPUTS} more input(s) (--json has all)"))
