"""The layer table at 80 and 100 columns on real torch exports and on torchvision-style names: every row one
line within the width, names shortened from the left without their common prefix, every shown name naming
one layer, the legend naming every column, and names printed as text, never as markup."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from rich.cells import cell_len
from rich.console import Console

from mapper import compile_model
from mapper.app.report_view import (COLUMNS, DROPPABLE, ELLIPSIS, LEGEND, MIN_NAME, common_prefix, energy_j,
                                    network_view, shorten_names)

ROOT = Path(__file__).resolve().parents[3]
TORCH = ROOT / "tests" / "fixtures" / "torch"
# The torch fixtures with the longest layer names (TorchScript exports name layers by module path; the
# dynamo exporter node_<op>_<n>, here with a /phaseNN part per ConvTranspose phase).
EXPORTS = ("resnet_ts17", "densenet_ts17", "efficientnet_ts17", "mobilenet_v3_ts17", "decoder_ts17",
           "decoder_dynamo18")
WIDTHS = (80, 100)
# torchvision's DenseNet-121 and EfficientNet-B0 as the TorchScript exporter names them (the fixtures are
# smaller nets of the same kind): long module paths that share a prefix and differ at their left.
DENSENET = (["/features/conv0/Conv"]
            + [f"/features/denseblock{b}/denselayer{i}/conv{c}/Conv" for b, n in ((1, 6), (2, 12), (3, 24), (4, 16))
               for i in range(1, n + 1) for c in (1, 2)]
            + [f"/features/transition{t}/conv/Conv" for t in (1, 2, 3)] + ["/classifier/Gemm"])
EFFICIENTNET = (["/features/features.0/features.0.0/Conv"]
                + [f"/features/features.{s}/features.{s}.{i}/block/block.{j}/{part}"
                   for s, n in ((1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 1)) for i in range(n)
                   for j, part in ((0, f"block.0.0/Conv"), (1, "fc1/Conv"), (1, "fc2/Conv"), (2, "block.2.0/Conv"))]
                + ["/features/features.8/features.8.0/Conv", "/classifier/classifier.1/Gemm"])

# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_report_widths")


@pytest.fixture(scope="module")
def exports() -> dict[str, dict]:
    """Each export compiled once, at batch 1 (the dynamo export's batch is fixed in the file)."""
    return {name: compile_model(TORCH / f"{name}.onnx", batch=None if "dynamo" in name else 1, cache=False).report()
            for name in EXPORTS}


@pytest.fixture(scope="module")
def template(exports) -> dict:
    return exports["resnet_ts17"]


def _report(template: dict, names: list[str]) -> dict:
    """A report whose layers carry ``names`` (figures from the template's layers, cycled)."""
    report = copy.deepcopy(template)
    report["layers"] = [dict(copy.deepcopy(template["layers"][i % len(template["layers"])]), name=name, index=i)
                        for i, name in enumerate(names)]
    return report


def _render(report: dict, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as capture:
        console.print(network_view(report))
    return capture.get().splitlines()


def _table(lines: list[str]) -> tuple[str, list[str], str | None]:
    """The header, the row lines (between the rule under the header and the first line that is no row) and
    the dim note under them (None when the table has none)."""
    start = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    rows = []
    for line in lines[start + 1:]:
        if not re.match(r"^ *\d+ ", line):
            break
        rows.append(line)
    after = lines[start + 1 + len(rows)]
    return lines[start - 1], rows, after if after.startswith(("names without", "left out at")) else None


def _check(report: dict, width: int) -> None:
    """The table fits ``width``, one line per row, and each shown name names exactly its own layer."""
    lines = _render(report, width)
    assert max(cell_len(line) for line in lines) <= width
    header, rows, note = _table(lines)
    names = [entry["name"] for entry in report["layers"]]
    assert len(rows) == len(names)  # one line per row: a wrapped row would add lines or break the count
    dropped = [title for title in DROPPABLE if not re.search(rf"(^|\s){re.escape(title)}(\s|$)", header)]
    said = re.search(r"common prefix '(.*?)'", note or "")
    prefix = said.group(1) if said else ""  # dropped only when the names do not fit whole
    assert prefix in ("", common_prefix(names))
    assert (f"left out at {width} columns: " in (note or "")) == bool(dropped)
    start = header.index("layer")
    for number, line in enumerate(rows, start=1):
        entry = report["layers"][number - 1]
        assert int(line[:start]) == number
        shown = line[start:].split(" ")[0]
        if shown.startswith(ELLIPSIS):
            owners = [n for n in names if n.endswith(shown[1:])]
            assert len(shown) >= min(MIN_NAME, len(entry["name"]))
        else:
            owners = [n for n in names if n == prefix + shown]
        assert owners == [entry["name"]], (shown, owners)
        mapping = " ".join(str(entry["mapping"][k]) for k in "nepqrtgm")
        for cell in (mapping, energy_j(entry["energy"]["total_pj"]), f"{entry['latency']['total_ms']:.3g}"):
            assert cell in line, (cell, line)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_table_fits_one_line_a_row_and_names_each_layer(exports, name, width):
    _check(exports[name], width)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("names", [DENSENET, EFFICIENTNET], ids=["densenet121", "efficientnet_b0"])
def test_torchvision_names_fit_and_are_cut_from_the_left(template, names, width):
    assert len(names) == len(set(names)) > 50
    report = _report(template, names)
    _check(report, width)
    _, rows, note = _table(_render(report, width))
    assert "common prefix '/'" not in (note or "")  # '/classifier/...' keeps the prefix down to '/'
    assert any(ELLIPSIS in row for row in rows)  # these names are too long for either width


def test_the_common_prefix_is_dropped_and_said():
    assert common_prefix(["/features/a/Conv", "/features/b/Conv"]) == "/features/"
    assert common_prefix(["node_conv2d", "node_conv2d_1"]) == "node_"  # never a whole name
    assert common_prefix(["/0/Conv", "/3/Conv"]) == ""  # '/' alone is kept
    assert common_prefix(["conv1"]) == ""
    shown, width = shorten_names(["/features/x/denselayer12/conv2/Conv", "/features/y/denselayer12/conv2/Conv"], 14,
                                 "/features/")
    assert shown == ["x/denselayer12/conv2/Conv", "y/denselayer12/conv2/Conv"]  # they differ at the left: whole
    shown, width = shorten_names(["/f/block1/layer12/conv2/Conv", "/f/block1/layer12/conv1/Conv"], 14, "/f/")
    assert shown == ["…12/conv2/Conv", "…12/conv1/Conv"] and width == 14  # from the left, to the width
    shown, width = shorten_names(["/f/x/blockname12/layer/conv2/Conv", "/f/x/blockname12/layer/conv1/Conv"], 20,
                                 "/f/")
    assert shown == ["…layer/conv2/Conv", "…layer/conv1/Conv"] and width == 17  # after a separator, not "…ame12/"


def test_a_name_with_markup_or_escapes_is_printed_as_text(template):
    report = _report(template, ["[bold red]x[/]", "\x1b]52;c;aGk=\x07y"] + [f"z{i}" for i in range(3)])
    assert "\x1b" not in "\n".join(_render(report, 80))
    text = "\n".join(_render(report, 100))
    assert "[bold red]x[/]" in text and "\\x1b]52;c;aGk=\\x07y" in text and "\x1b" not in text


def test_a_control_byte_in_the_common_prefix_is_shown_escaped(template):
    report = _report(template, [f"/\x1b[31m/features/block{i}/layer/sublayer/conv/Conv" for i in range(4)])
    text = "\n".join(_render(report, 80))
    assert "common prefix '/\\x1b[31m/features/'" in text and "\x1b" not in text


def test_legend_explains_every_column():
    legend = LEGEND.plain
    for title, _, _ in COLUMNS:
        if title != "layer" and title != "energy":
            assert title in legend, title


PART = st.text(alphabet="abcdefgh0123456789", min_size=1, max_size=12)
PATH = st.lists(PART, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts) + "/Conv")


@given(names=st.lists(PATH, min_size=2, max_size=40, unique=True), width=st.integers(min_value=4, max_value=40),
       prefix=st.sampled_from(["", "/features/", "node_"]))
def test_shortened_names_are_endings_that_name_one_layer(names, width, prefix):
    names = [prefix + name[1:] if prefix else name for name in names]
    drop = common_prefix(names)
    shown, used = shorten_names(names, width, drop)
    assert len(set(shown)) == len(shown)
    assert used == max(cell_len(s) for s in shown)
    for name, s in zip(names, shown):
        if s.startswith(ELLIPSIS):
            assert cell_len(s) <= max(width, used)
            assert [n for n in names if n.endswith(s[1:])] == [name]  # from the left, one layer's ending
        else:
            assert drop + s == name
    if used > width:  # wider only when a cut at the width would name two layers
        assert any(cell_len(name) - len(drop) > width for name in names)
