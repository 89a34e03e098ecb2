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


# How much of another library's message an error line quotes (assumed: onnxruntime's longest useful
# messages, a shape mismatch listing each axis, fit; its stack dumps do not need to).
FOREIGN_MESSAGE_CHARS = 300


def foreign_message(error: BaseException, limit: int = FOREIGN_MESSAGE_CHARS) -> str:
    """A library's exception message (onnxruntime's, numpy's) as one line to quote in an ``InputError``.

    onnxruntime writes one fact per line ("Got invalid dimensions ...\\n index: 2 Got: 30 Expected: 32");
    an error line escapes newlines (the CLI prints one line), which turned them into literal ``\\n``.  Here
    each non-empty line is stripped and they are joined with "; ", and onnxruntime's ``[ONNXRuntimeError] :
    2 :`` prefix is dropped.  Other control characters are left for the printer to escape.
    """
    text = str(error)
    if text.startswith("[ONNXRuntimeError]"):
        text = text.split(":", 2)[-1]
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip()) or type(error).__name__
    return line if len(line) <= limit else f"{line[:limit]}..."
