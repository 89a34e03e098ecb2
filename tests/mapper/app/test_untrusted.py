"""Untrusted strings reach the terminal escaped and never as markup."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from mapper.app.untrusted import printable, text


def test_control_sequences_are_escaped() -> None:
    assert printable("conv\x1b]52;c;ZXZpbA==\x07") == "conv\\x1b]52;c;ZXZpbA==\\x07"
    assert printable("a\u202eb\r\n") == "a\\u202eb\\r\\n"
    assert printable("/inception3a/Conv_1") == "/inception3a/Conv_1"
    assert printable("back\\slash") == "back\\\\slash"  # escaping is unambiguous


def test_markup_is_shown_not_parsed() -> None:
    console = Console(record=True, width=80, color_system=None)
    console.print(text("[/] [bold]x[/bold]"))
    assert "[/] [bold]x[/bold]" in console.export_text()


@given(st.text())
def test_nothing_unprintable_survives(value: str) -> None:
    out = printable(value)
    assert all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in out)
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\n" not in out
