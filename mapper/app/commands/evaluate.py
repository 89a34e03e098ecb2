"""``eyeriss evaluate MODEL.onnx --mapping FILE.yaml``: model mode, every layer's mapping given, nothing searched.

The same report, bitstreams and program as ``eyeriss compile`` (the folder
passes ``eyeriss simulate OUTDIR``), from the mappings the file names
(docs/mapping-file.md); a layer the file leaves out, or a mapping that breaks a
hardware limit or (default space) a chip rule, is one error, exit 2.
"""

from __future__ import annotations

import argparse

from cost_models.errors import InputError
from mapper.app.commands import compile as compile_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("evaluate", help="score the mappings a file gives for every layer (no search); write "
                                             "report.json and bitstreams as compile does")
    parser.add_argument("model", help="ONNX file")
    parser.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default: ./<model name>)")
    compile_command.add_compile_options(parser, explain=False)
    parser.add_argument("--json", action="store_true", help="print the report JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    if args.mapping is None:
        raise InputError("evaluate needs --mapping FILE.yaml: the mapping of every array layer "
                         "(`eyeriss report OUTDIR --mappings-out FILE.yaml` writes a compile's)")
    return compile_command.run(args, search=False)
