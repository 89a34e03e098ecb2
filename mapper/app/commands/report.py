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
    parser.add_argument("--mappings-out", metavar="FILE.yaml",
                        help="write the compile's mappings as a mapping file (docs/mapping-file.md), to edit and "
                        "give back to `eyeriss evaluate MODEL --mapping FILE.yaml`")
    form = parser.add_mutually_exclusive_group()  # one output form: --csv --json would silently drop one
    form.add_argument("--json", action="store_true", help="print the report (or the layer's entry) as JSON")
    form.add_argument("--csv", action="store_true",
                        help="print one CSV row per layer with every figure of its entry (nested keys joined by '.')")


def run(args: argparse.Namespace) -> int:
    from mapper.app.report_view import layer_view, network_view, resolve_layer

    report = load_report(args.path)
    console = Console()
    if args.mappings_out is not None:
        from mapper.app.mapping_file import write_mapping_file

        written = write_mapping_file(report, args.mappings_out)
        print(printable(f"wrote the mappings of {sum(1 for e in report['layers'] if e.get('mapping'))} layer(s) to "
                        f"{written}"), file=sys.stderr)
        return 0
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


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection, OWASP): a layer name
# from the model such as "=HYPERLINK(...)" must stay text, so such a cell gets a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell as written: numbers as they are, strings escaped for a terminal and never a formula."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(report: dict, out: TextIO) -> None:
    """One row per layer, every figure of its entry; strings through ``csv_cell``."""
    columns, rows = layer_rows(report)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
