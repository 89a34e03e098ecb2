"""Strings that come from input files, made safe to print.

A node name, a layer name in a report, a hardware name or a file path is
whatever the file says: it may hold ESC/CSI/OSC sequences (OSC 52 writes the
user's clipboard), BEL, carriage returns that overwrite a line, bidirectional
overrides that reorder it, or rich markup such as ``[/]``.  Every such string
goes through ``printable`` before it reaches a terminal, and into rich as a
``Text`` (``text``), never as markup.
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

# Unicode categories that must not reach a terminal raw: controls (C0, DEL, C1),
# format characters (bidi overrides, zero-width joiners), unassigned, private use,
# and line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"})
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value: object) -> str:
    """``value`` as text with every control or format character escaped (``\\x1b``, ``\\u202e``)."""
    s = str(value)
    if s.isprintable() and "\\" not in s:  # the common case, fast
        return s
    return "".join(_escape(ch) for ch in s)


def text(value: object, style: str = "") -> Text:
    """A rich ``Text`` of ``printable(value)``: shown as it is, never parsed as markup."""
    return Text(printable(value), style=style)
