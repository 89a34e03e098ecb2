"""The layer table at 80 and 120 columns over GoogLeNet's layer names: no column collapses, no two rows
read the same, the legend names every column, and names are printed as text, never as markup."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from rich.console import Console

from frontends import array_layers, load_onnx
from mapper import compile_model
from mapper.app.report_view import COLUMNS, LEGEND, energy_j, network_view, shorten_names

ROOT = Path(__file__).resolve().parents[3]
TORCH = ROOT / "tests" / "fixtures" / "torch"
# torchvision's GoogLeNet as its TorchScript exporter names it (the fixtures are a smaller GoogLeNet-like net).
TORCHVISION = (["/conv1/conv/Conv", "/conv2/conv/Conv", "/conv3/conv/Conv"]
               + [f"/inception{block}/branch{b}/branch{b}.{i}/conv/Conv" for block in ("3a", "3b", "4a", "4b", "5b")
                  for b in (1, 2, 3, 4) for i in ((0,) if b in (1, 4) else (0, 1))] + ["/fc/Gemm"])


# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_report_widths")


@pytest.fixture(scope="module")
def template() -> dict:
    return compile_model(ROOT / "examples" / "lenet5.onnx").report()


def _names(source: str) -> list[str]:
    if source == "torchvision":
        return TORCHVISION
    return [name for name, _ in array_layers(load_onnx(TORCH / f"{source}.onnx", batch=None))]


def _report(template: dict, names: list[str]) -> dict:
    """A report whose layers carry ``names`` (figures from LeNet's layers, cycled)."""
    report = copy.deepcopy(template)
    report["layers"] = [dict(copy.deepcopy(template["layers"][i % len(template["layers"])]), name=name, index=i)
                        for i, name in enumerate(names)]
    return report


def _render(report: dict, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as capture:
        console.print(network_view(report))
    return capture.get().splitlines()


def _rows(lines: list[str]) -> dict[int, tuple[str, str]]:
    """Row number -> (the name as shown, the line with its figures): one line per row, or two when the
    names have lines of their own (the row number and name, then the figures under the # column's blank)."""
    rows = {}
    for index, line in enumerate(lines):
        match = re.match(r"^[ \d]\d +(\S+)", line)
        if match:
            number = int(line[:2])
            figures = line[match.end():] if line[match.end():].strip() else lines[index + 1]
            rows[number] = (match.group(1), figures)
    return rows


@pytest.mark.parametrize("source", ["googlenet_ts17", "googlenet_dynamo18", "torchvision"])
@pytest.mark.parametrize("width", [80, 120])
def test_layer_table_fits_and_tells_every_layer_apart(template, source, width):
    names = _names(source)
    assert len(names) == len(set(names)) > 20
    report = _report(template, names)
    lines = _render(report, width)
    assert max(len(line) for line in lines) <= width
    header = next(line for line in lines if line.lstrip().startswith("# "))
    for title, _, _ in COLUMNS:  # every header whole (the layer column's is absent when names have own lines)
        assert re.search(rf"(^|\s){re.escape(title)}(\s|$)", header) or title == "layer", (title, header)
    rows = _rows(lines)
    assert sorted(rows) == list(range(1, len(names) + 1))
    shown = [rows[number][0] for number in sorted(rows)]
    assert len(set(shown)) == len(shown)  # no two rows read the same
    for number, (name, figures) in rows.items():
        entry = report["layers"][number - 1]
        if "…" in name:
            head, tail = name.split("…")
            assert [n for n in names if n.startswith(head) and n.endswith(tail)] == [entry["name"]]
        else:
            assert name == entry["name"]
        assert "…" not in figures  # no figure collapsed
        for cell in (" ".join(str(entry["mapping"][k]) for k in "nepqrtgm"), str(entry["active_pes"]),
                     energy_j(entry["energy"]["total_pj"]), f"{entry['latency']['total_ms']:.3g}"):
            assert cell in figures, (cell, figures)


def test_legend_explains_every_column():
    legend = LEGEND.plain
    for title, _, _ in COLUMNS:
        if title != "layer" and title != "energy":
            assert title in legend, title


def test_names_are_cut_to_a_unique_middle_ellipsis():
    names, width = shorten_names(TORCHVISION, 26)
    assert width <= 26 and len(set(names)) == len(names)
    assert "/inception3a…2.1/conv/Conv" in names
    assert shorten_names(["conv1", "conv2"], 3) == (["co…1", "co…2"], 4)
    # Names that differ only in their middle: the column grows until a cut keeps the difference.
    shown, width = shorten_names(["aaaaaa/x/bbbbbb", "aaaaaa/y/bbbbbb"], 8)
    assert width > 8 and len(set(shown)) == 2 and all("x" in a or "y" in a for a in shown)


def test_a_name_with_markup_or_escapes_is_printed_as_text(template):
    report = _report(template, ["[bold red]x[/]", "\x1b]52;c;aGk=\x07y"] + [f"z{i}" for i in range(3)])
    text = "\n".join(_render(report, 80))
    assert "[bold red]x[/]" in text and "\\x1b]52;c;aGk=\\x07y" in text and "\x1b" not in text
