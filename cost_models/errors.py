"""The one error type every layer of the compiler raises for bad input.

The CLI turns an ``InputError`` into a single line and exit code 2; anything
else escaping is a bug (exit code 3).  ``where`` names the file, node, tensor or
field so the user can find the problem without a traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input: a model, hardware file, bitstream or report we refuse."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message
