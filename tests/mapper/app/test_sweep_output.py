"""What a user sees of a sweep: the front table at 80 and 100 columns (whole headers, one unit a column, full
names in the legend line), the counts line, and the plot (legend outside every data area, identical points
counted, front points labelled, infeasible points drawn, the same bytes run to run)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from rich.console import Console

from mapper.app.sweep.plots import pareto_figure, write_plots
from mapper.app.sweep.tables import counts_lines, figure_column, front_table, header_lines, names_line, short_names
from mapper.app.sweep.units import ENERGY_UNITS

# Long dotted names of the kind a real sweep varies, two of them ending alike (.ifmap).
VARIED = ["array.rows", "spad_words.filter", "spad_words.ifmap", "noc.bus_words.ifmap", "glb.bank_words"]


def row(point: int, network: str = "lenet5", **changes) -> dict:
    base = {"point": point, "network": network, "array.rows": 12, "spad_words.filter": 224, "spad_words.ifmap": 12,
            "noc.bus_words.ifmap": 4, "glb.bank_words": 2048, "batch": 4, "area_mm2": 12.25,
            "energy_pj_per_inference": 23_514_000_000.0 + point * 1e8, "latency_ms": 362.4 - point,
            "edp_pj_ms": 1.0, "power_mw": 254.1, "utilization": 0.357, "dram_words": 1, "layers": 8, "unmapped": 0,
            "statuses": "OPTIMAL=8", "feasible": True, "reason": None, "pareto": True}
    return base | changes


def render(renderable, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().splitlines()


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("networks", [["lenet5"], ["lenet5", "mobilenet_v2_quantized"]])
def test_front_table_fits_with_whole_headers_and_humane_units(width, networks) -> None:
    rows = [row(i, network) for i, network in enumerate(networks * 3)]
    table = front_table(rows, VARIED, networks)
    headers = [str(column.header).replace("\n", "") for column in table.columns]
    assert headers[len(networks) > 1:][:len(VARIED)] == short_names(VARIED)   # split on lines, never cut
    assert ("network" in headers) == (len(networks) > 1)
    lines = render(table, width)
    assert max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    assert "…" not in text
    head = "\n".join(lines[:lines.index(next(line for line in lines if line.startswith("─")))])
    for title in ("area", "mm2", "energy", "mJ/inf", "latency", "ms", "power", "mW", "util", "solver"):
        assert re.search(rf"(^|\s){re.escape(title)}(\s|$)", head), title   # every header word whole
    last = len(rows) - 1
    figures = [line for line in lines if " 362.4 " in line or f" {362.4 - last:.1f} " in line]
    assert len(figures) == 2 and all("23.51" in line or f"{23.514 + last / 10:.2f}" in line for line in figures)
    assert "e+" not in text and all(" opt" in line for line in figures)
    if len(networks) == 1:
        assert f"Pareto front of {networks[0]} " in lines[0]
    for network in networks[1:]:   # each name whole, over one line or folded over several
        assert network in "".join(line.split(" ", 1)[0] for line in lines)


def test_short_names_are_distinct_tails_and_the_legend_line_gives_the_full_names() -> None:
    short = short_names(VARIED)
    assert short == ["rows", "filter", "spad_words.ifmap", "bus_words.ifmap", "bank_words"]
    assert header_lines("spad_words.ifmap", 2) == "spad_\nwords.\nifmap" and header_lines("rows", 2) == "rows"
    assert all(field.endswith(name) for field, name in zip(VARIED, short))
    legend = names_line(VARIED).plain
    assert all(f"{s} = {f}" in legend for s, f in zip(short, VARIED) if s != f)
    assert "spad_words.ifmap = " not in legend   # a name kept whole needs no key


@given(st.lists(st.floats(1.0, 1e15), min_size=1, max_size=8))
def test_a_column_has_one_unit_that_shows_its_smallest_value_at_one_or_more(values) -> None:
    column = figure_column("energy", values, ENERGY_UNITS)
    unit = column.header.split("\n")[1]
    assert unit in {u for _, u in ENERGY_UNITS}
    shown = [float(cell) for cell in column.cells]
    scale = dict((u, f) for f, u in ENERGY_UNITS)[unit]
    assert min(shown) >= 1 or unit == "pJ"
    for value, cell in zip(values, shown):   # four significant digits of the smallest value, at least
        assert abs(cell * scale - value) <= 0.5e-3 * min(values) + 1e-9 * value


@dataclass
class _Progress:
    points: int = 6
    tasks: int = 10
    cache_hits: int = 6
    points_resumed: int = 2


def test_counts_say_what_was_solved_now_and_what_came_from_the_cache() -> None:
    rows = [row(0), row(1, feasible=False, reason="x", pareto=False)]
    first, second = counts_lines(_Progress(), rows, 1, 1)
    assert first == "6 design points x 1 network: 1 feasible, 1 infeasible, 1 on the front."
    assert "16 distinct, 10 solved now, 6 from the result cache" in second and "2 of 6" in second


def _plot_rows() -> list[dict]:
    return [row(0), row(1), row(2, pareto=False, latency_ms=362.4, energy_pj_per_inference=23_514_000_000.0),
            row(3, pareto=False, latency_ms=362.4, energy_pj_per_inference=23_514_000_000.0),
            row(4, feasible=False, pareto=False, reason="area", area_mm2=30.0, latency_ms=340.0),
            row(5, feasible=False, pareto=False, reason="no chip", latency_ms=None, energy_pj_per_inference=None,
                area_mm2=None)]


def test_plot_legend_is_outside_the_data_and_every_point_is_shown() -> None:
    fig, plt = pareto_figure(_plot_rows(), ["lenet5"], VARIED)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend = fig.legends[0].get_window_extent(renderer)
        ax = fig.axes[0]
        assert not legend.overlaps(ax.get_window_extent(renderer))
        texts = [t.get_text() for t in ax.texts]
        assert "x3" in texts     # rows 0, 2, 3 share a spot: drawn once, counted
        labels = [t for t in texts if "rows=12" in t]
        assert len(labels) == 2 and all("filter=224" in t for t in labels)   # the two front spots, labelled
        assert any("not drawn: 1 infeasible" in t for t in texts)
        crosses = [c for c in ax.collections if c.get_offsets().tolist() == [[340.0, pytest.approx(23.914)]]]
        assert crosses and tuple(crosses[0].get_facecolor()[0][:3]) == pytest.approx((0x88 / 255,) * 3)
        assert crosses   # the infeasible point with figures is drawn
        assert {t.get_text() for t in fig.legends[0].get_texts()} >= {"Pareto front (labelled)",
                                                                      "infeasible (points.csv: reason)"}
    finally:
        plt.close(fig)


def test_plots_are_byte_identical_run_to_run(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # matplotlib's "constrained_layout not applied": the axes collapsed
        write_plots(_plot_rows(), ["lenet5"], first, VARIED)
    write_plots(_plot_rows(), ["lenet5"], second, VARIED)
    for name in ("pareto.png", "pareto.svg"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert not re.search(rb"\d{4}-\d\d-\d\dT", (first / "pareto.svg").read_bytes())   # no date in it


def test_a_search_two_points_share_counts_once_solved_or_cached(tmp_path: Path) -> None:
    """The row-ID width changes no mapping (only the bitstream spells it out), so both points share every
    search: a rerun into a fresh folder on the same cache reads exactly what the first run solved, once each."""
    from mapper.app.sweep.run import sweep
    from mapper.app.sweep.spec import spec_from_dict

    root = Path(__file__).resolve().parents[3]
    spec = spec_from_dict({"base": "eyeriss", "vary": {"noc.row_id_bits": [4, 5]},
                           "networks": [{"model": str(root / "examples" / "lenet5.onnx"), "batch": 1}]},
                          root, "spec.yaml")
    first = sweep(spec, tmp_path / "a", cache=tmp_path / "cache")
    again = sweep(spec, tmp_path / "b", cache=tmp_path / "cache")
    assert first.progress.tasks > 0 and first.progress.cache_hits == 0
    assert again.progress.tasks == 0 and again.progress.cache_hits == first.progress.tasks
