"""Paths an input file names: one check for what the OS cannot take (issue 29)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_models.errors import InputError
from cost_models.files import MAX_NAME_BYTES, MAX_PATH_BYTES, checked_path_text


def _bad(name: str) -> bool:
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        return True
    encoded = name.encode("utf-8")
    return len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/"))


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.text(max_size=300), st.text(alphabet="ab/\x00\x1b\udcff", max_size=600)))
def test_a_named_path_is_refused_exactly_when_the_os_cannot_take_it(name):
    if _bad(name):
        with pytest.raises(InputError, match="model file"):
            checked_path_text(name, "model file", "spec.yaml")
    else:
        assert checked_path_text(name, "model file") == name


@pytest.mark.parametrize("name, words", [("w\x00.bin", "NUL byte"), ("w\x1b[2J.bin", "control character"),
                                         ("w\udcff", "not valid text"), ("w" * 256, "longer than a path may be"),
                                         ("a/" * 2049, "longer than a path may be")])
def test_each_refusal_says_why(name, words):
    with pytest.raises(InputError, match=words):
        checked_path_text(name, "external data location")
