"""The program folder's .npy files (mapper.app.program): numpy's own format, byte for byte, and nothing pickled."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cost_models.errors import InputError
from mapper.app.program import npy_array, npy_bytes

_DTYPES = st.sampled_from([np.dtype(t) for t in ("<i2", ">i2", "<i8", ">i8", "<f4", ">f8", "u1")])


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)), st.booleans())
def test_npy_bytes_are_what_np_save_writes_and_read_back(values: np.ndarray, transposed: bool) -> None:
    if transposed:  # a non-contiguous view
        values = values.T
    saved = io.BytesIO()
    np.save(saved, np.ascontiguousarray(values.astype(values.dtype.newbyteorder("<"))), allow_pickle=False)
    data = npy_bytes(values)
    assert data == saved.getvalue()
    assert np.array_equal(npy_array(data, "x.npy"), np.ascontiguousarray(values), equal_nan=values.dtype.kind == "f")


def test_object_arrays_have_no_npy_bytes_and_pickles_are_never_loaded() -> None:
    with pytest.raises(ValueError):
        npy_bytes(np.array([1, "a"], dtype=object))
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="without objects"):
        npy_array(pickled.getvalue(), "x.npy")
