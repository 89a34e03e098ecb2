"""The ``eyeriss`` command line: argument parsing and the error contract.

Exit codes: 0 success; 1 compiled but some layer has no valid mapping;
2 bad input or usage; 3 internal error (a bug); 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import traceback
from typing import Sequence

from cost_models.errors import InputError
from mapper.app.commands import COMMANDS
from mapper.app.exits import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNMAPPED  # noqa: F401
from mapper.app.untrusted import printable


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def version() -> str:
    """The installed package's version (pyproject.toml), as pip recorded it."""
    from importlib import metadata

    try:
        return metadata.version("eyeriss-compiler")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of command ``only`` alone.

    Registering a command imports its module; ``eyeriss compile`` then loads
    none of the other eight (a compile answered from the output cache starts
    in a tenth of a second: benchmarks/compile_speed.py)."""
    parser = _Parser(prog="eyeriss", description="Dataflow mapping compiler for the Eyeriss accelerator.")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    parser.add_argument("--version", action="version", version=f"eyeriss {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"mapper.app.commands.{name}").register(sub)
    for command in sub.choices.values():  # `eyeriss CMD ... --debug` works too; SUPPRESS keeps a leading --debug
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show a traceback on errors")
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, if it names one before anything else (only ``--debug`` may come first);
    None for ``--help``, ``--version``, a typo or nothing: those get the parser of every command."""
    for word in argv:
        if word != "--debug":
            return word if word in COMMANDS else None
    return None


# An error line quotes names and paths from the input; past this many characters it is cut (a 1 MB
# op_type must not become a 1 MB line).  Assumed: long enough for any real path and name.
MAX_ERROR_CHARS = 2000


def error_line(error: BaseException) -> str:
    """The error as one line of printable text: control characters escaped, newlines too, length bounded."""
    line = printable(str(error))
    return line if len(line) <= MAX_ERROR_CHARS else f"{line[:MAX_ERROR_CHARS]}... ({len(line)} characters)"


def _interrupted(error: BaseException) -> bool:
    """A Ctrl-C that a library turned into its own error (a C extension's import interrupted becomes
    ``ImportError: initialization failed`` with the KeyboardInterrupt as its context)."""
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, KeyboardInterrupt):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


@functools.lru_cache(maxsize=None)
def _parser(only: str | None) -> argparse.ArgumentParser:
    """One parser per command and process: the test suite calls ``main`` in-process hundreds of times.
    Parsing leaves it unchanged."""
    return build_parser(only)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_command_named(argv)).parse_args(argv)
    # The command's run is looked up now, not kept from the first parse: a test may replace it.
    command = importlib.import_module(f"mapper.app.commands.{args.command}")
    try:
        return int(command.run(args))
    except InputError as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - the contract is "bugs exit 3"
        if _interrupted(error):
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(error).__name__}: {error_line(error)} -- this is a bug in eyeriss; "
              "please file an issue with the model attached (rerun with --debug for a traceback)", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    raise SystemExit(main())
