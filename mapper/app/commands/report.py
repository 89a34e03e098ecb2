"""``eyeriss report OUTDIR|report.json``: the network view, or one layer's view."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TextIO

from rich.console import Console

from cost_models.errors import InputError
from mapper.app.report import layer_rows, load_report
from mapper.app.untrusted import printable

# What a damaged value deep inside a report raises while it is drawn: bad input, not a bug.
MALFORMED = (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError, IndexError, OverflowError)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="view a compiled model's report in the terminal")
    parser.add_argument("path", help="compile output folder or its report.json")
    parser.add_argument("--layer", help="show one layer: PE array, spad fill, energy, loop nest")
    parser.add_argument("--sort", choices=("energy", "latency"), help="order the layer table (default: network order)")
    parser.add_argument("--json", action="store_true", help="print the report (or the layer's entry) as JSON")
    parser.add_argument("--csv", action="store_true",
                        help="print one CSV row per layer with every figure of its entry (nested keys joined by '.')")


def run(args: argparse.Namespace) -> int:
    from mapper.app.report_view import layer_view, network_view, resolve_layer

    report = load_report(args.path)
    console = Console()
    if args.csv:
        write_csv(report, sys.stdout)
        return 0
    if args.layer is not None:
        entry = resolve_layer(report, args.layer, where=str(args.path))
        if args.json:
            print(json.dumps(entry, indent=1))
            return 0
        try:
            console.print(layer_view(report, entry))
        except MALFORMED as error:
            raise InputError(f"layer entry is malformed: {type(error).__name__}: {error}",
                             where=f"{args.path}: layer {printable(args.layer)}") from None
        return 0
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    try:
        console.print(network_view(report, args.sort))
    except MALFORMED as error:
        raise InputError(f"report is malformed: {type(error).__name__}: {error}", where=str(args.path)) from None
    return 0


def write_csv(report: dict, out: TextIO) -> None:
    """One row per layer, every figure of its entry; strings through ``printable`` (a CSV may meet a terminal)."""
    columns, rows = layer_rows(report)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else printable(row[c]) if isinstance(row[c], str) else row[c]
                         for c in columns])
