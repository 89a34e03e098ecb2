"""Hypothesis strategies for hostile input: random convolution attributes and hardware fields.

The seeded corpus (``corpus.py``, run in-process by ``harness.py``) holds the named cases;
these properties search the space around them.  They call the CLI's ``main``
in-process (the same code path minus interpreter start-up) so hypothesis can
afford many examples.  For convolutions an independent validity rule (the ONNX
Conv definition plus the documented limits) says which exit codes are right.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from corpus import HARDWARE, _conv_model
from mapper.app.cli import main

FAST = ["--time-limit", "2"]


def run_cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def assert_contract(code: int, stderr: str, codes: set[int], outdir: Path) -> None:
    assert code in codes, (code, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert not outdir.exists() or not any(outdir.iterdir()), sorted(p.name for p in outdir.iterdir())


@st.composite
def conv_cases(draw) -> tuple[dict, bool]:
    """A Conv node, valid or with up to two attributes pushed out of range, and whether it is valid."""
    group = draw(st.sampled_from([1, 1, 2, 3]))
    C, M = group * draw(st.integers(1, 4)), group * draw(st.integers(1, 3))
    R, S = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    spec = dict(x=[draw(st.integers(1, 2)), C, draw(st.integers(R, 14)), draw(st.integers(S, 14))],
                w=[M, C // group, R, S], group=group,
                strides=[draw(st.sampled_from([1, 1, 2, 3, 4])) for _ in range(2)],
                dilations=[1, 1], pads=[draw(st.integers(0, k - 1)) for k in (R, S, R, S)])
    breakers = {
        "x": lambda: spec["x"].__setitem__(draw(st.integers(1, 3)), draw(st.integers(-1, 0))),
        "w": lambda: spec["w"].__setitem__(1, draw(st.integers(1, 5))),
        "group": lambda: spec.__setitem__("group", draw(st.integers(-1, 5))),
        "strides": lambda: spec["strides"].__setitem__(draw(st.integers(0, 1)), draw(st.integers(-1, 0))),
        "dilations": lambda: spec["dilations"].__setitem__(draw(st.integers(0, 1)), draw(st.integers(0, 3))),
        "pads": lambda: spec["pads"].__setitem__(draw(st.integers(0, 3)), draw(st.integers(-1, 6))),
    }
    for name in draw(st.lists(st.sampled_from(sorted(breakers)), max_size=2)):
        breakers[name]()
    (N, C, H, W), (M, w_c, R, S), group = spec["x"], spec["w"], spec["group"]
    strides, dilations, pads = spec["strides"], spec["dilations"], spec["pads"]
    ext_h, ext_w = (R - 1) * dilations[0] + 1, (S - 1) * dilations[1] + 1
    # ONNX Conv's definition plus the documented limits (pads below the filter extent).
    valid = (min(C, H, W) >= 1 and group >= 1 and C % group == 0 and M % group == 0 and w_c * group == C
             and min(strides) >= 1 and min(dilations) >= 1 and min(pads) >= 0
             and max(pads[0], pads[2]) < ext_h and max(pads[1], pads[3]) < ext_w
             and ext_h <= H + pads[0] + pads[2] and ext_w <= W + pads[1] + pads[3])
    return spec, valid


def conv_model(spec: dict):
    w = numpy_helper.from_array(np.ones(spec["w"], np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=spec["group"], strides=spec["strides"],
                            dilations=spec["dilations"], pads=spec["pads"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, spec["x"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# Examples per property (derandomized: the same ones each run): every breaker and field is drawn many times
# over at this count; each example is a compile (about 60 ms), and the suite must stay fast (issue 16).
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases())
def test_random_conv_attributes_compile_or_are_refused_by_name(case):
    spec, valid = case
    event("valid" if valid else "invalid")
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "conv.onnx"
        model.write_bytes(conv_model(spec).SerializeToString())
        out = Path(tmp) / "out"
        code, stderr = run_cli(["compile", str(model), "-o", str(out), *FAST])
        # Valid: compiled (0), or the chip cannot run it (a stride of 3, say), which
        # with the model's only layer is bad input for this hardware (2, saying so).
        assert_contract(code, stderr, {0, 2} if valid else {2}, out)
        if not valid:
            assert "'conv'" in stderr or "'x'" in stderr or "'y'" in stderr, stderr  # names the node or tensor
        elif code == 2:
            assert "no layer of the model fits" in stderr and "conv:" in stderr, stderr
        else:
            assert (out / "report.json").exists()


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    else:
        yield path


BASE = yaml.safe_load(HARDWARE.read_text())
LEAVES = sorted(_leaves(BASE))
odd_values = st.one_of(st.integers(-2, 2**40), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                       st.none(), st.booleans(), st.lists(st.integers(0, 3), max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(LEAVES), st.one_of(odd_values, st.just("<delete>"))), min_size=1, max_size=3))
def test_random_hardware_edits_compile_or_are_refused_by_field(edits):
    data = yaml.safe_load(HARDWARE.read_text())
    for path, value in edits:
        parent = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue  # an earlier edit replaced this branch
        if value == "<delete>":
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        hw = Path(tmp) / "hw.yaml"
        hw.write_text(yaml.safe_dump(data))
        model = Path(tmp) / "conv.onnx"
        model.write_bytes(_conv_model().SerializeToString())
        out = Path(tmp) / "out"
        code, stderr = run_cli(["compile", str(model), "-o", str(out), "--hardware", str(hw), *FAST])
        assert_contract(code, stderr, {0, 1, 2}, out)
        event(f"exit {code}")
        if code == 2:
            # The edited field, or the one it now contradicts (cols=17 vs 4-bit column IDs), by its full name.
            fields = {".".join(path) for path in LEAVES} | {".".join(path) for path, _ in edits} | set(BASE)
            assert any(name in stderr for name in fields) or "no layer of the model fits" in stderr, (edits, stderr)
