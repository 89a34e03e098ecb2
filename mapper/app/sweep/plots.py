"""Pictures of a sweep: energy against latency per network, area as colour, the Pareto front ringed and labelled.

Nothing of the data is hidden: the legend sits below the plots, outside every
data area; points at one spot are drawn once, larger, with their count
(``x3``); infeasible rows that have figures are crosses, and those with none
(no chip, no compile) are counted under the plot. matplotlib on the Agg
backend (no display), with the metadata that would differ run to run
(creation date, tool version, SVG ids) fixed, so the same points give the
same PNG and SVG bytes.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any, Sequence

from mapper.app.atomic import atomic_write_bytes
from mapper.app.sweep.tables import short_names
from mapper.app.sweep.units import ENERGY_UNITS, TIME_UNITS, pick_unit
from mapper.app.untrusted import printable

PNG_META = {"Software": "eyeriss sweep"}
SVG_META = {"Date": None, "Creator": "eyeriss sweep"}
DOT = 22            # marker area (pt^2) of one point; a spot holding n points is n times larger (capped)
MAX_DOT = 6 * DOT
INFEASIBLE = "#888888"
FRONT = "red"


def spots(rows: Sequence[dict[str, Any]]) -> list[tuple[float, float, list[dict[str, Any]]]]:
    """Rows grouped by their (latency, energy), in first-seen order: rows at one spot hide each other."""
    groups: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["latency_ms"], row["energy_pj_per_inference"]), []).append(row)
    return [(x, y, group) for (x, y), group in groups.items()]


def drawable(row: dict[str, Any]) -> bool:
    """Whether a row has whole-network figures: none without a chip or a compile, partial with an unmapped layer."""
    return (row.get("latency_ms") is not None and row.get("energy_pj_per_inference") is not None
            and not row.get("unmapped"))


def front_label(row: dict[str, Any], varied: Sequence[str]) -> str:
    """A front point's varied values, fields by their short names (``rows=12 banks=16``)."""
    return " ".join(f"{short}={row[field]}" for field, short in zip(varied, short_names(varied)))


def _size(group: list[Any]) -> float:
    return min(MAX_DOT, DOT * len(group))


def _panel(ax, fig, rows: Sequence[dict[str, Any]], network: str, varied: Sequence[str]) -> None:
    mine = [r for r in rows if r["network"] == network]
    drawn = [r for r in mine if drawable(r)]
    good = [r for r in drawn if r["feasible"]]
    bad = [r for r in drawn if not r["feasible"]]
    t_scale, t_unit = pick_unit([r["latency_ms"] for r in drawn], TIME_UNITS)
    e_scale, e_unit = pick_unit([r["energy_pj_per_inference"] for r in drawn], ENERGY_UNITS)
    xy = lambda x, y: (x / t_scale, y / e_scale)  # noqa: E731

    def count_labels(groups) -> None:
        for x, y, group in groups:
            if len(group) > 1:
                ax.annotate(f"x{len(group)}", xy(x, y), xytext=(0, -11), textcoords="offset points",
                            ha="center", fontsize=7, color="black")

    if bad:
        groups = spots(bad)
        ax.scatter([xy(x, y)[0] for x, y, _ in groups], [xy(x, y)[1] for x, y, _ in groups], marker="x",
                   c=INFEASIBLE, s=[_size(g) for _, _, g in groups], linewidths=1, zorder=2)
        count_labels(groups)
    if good:
        groups = spots(good)
        areas = [min(r["area_mm2"] for r in g) for _, _, g in groups]
        dots = ax.scatter([xy(x, y)[0] for x, y, _ in groups], [xy(x, y)[1] for x, y, _ in groups], c=areas,
                          cmap="viridis", s=[_size(g) for _, _, g in groups], edgecolors="white",
                          linewidths=0.5, zorder=3)
        if min(areas) == max(areas):
            dots.set_clim(areas[0] - 0.5, areas[0] + 0.5)
        fig.colorbar(dots, ax=ax, label="core area (mm2)")
        count_labels(groups)
        best = sorted((g for g in groups if any(r["pareto"] for r in g[2])), key=lambda g: (g[0], g[1]))
        ax.scatter([xy(x, y)[0] for x, y, _ in best], [xy(x, y)[1] for x, y, _ in best], facecolors="none",
                   edgecolors=FRONT, s=[_size(g) * 3 for _, _, g in best], linewidths=1.2, zorder=4)
        for i, (x, y, group) in enumerate(best):   # alternate sides so neighbours' labels do not collide
            label = "\n".join(front_label(r, varied) for r in group if r["pareto"])
            ax.annotate(printable(label), xy(x, y), xytext=(7, 6 if i % 2 == 0 else -14),
                        textcoords="offset points", fontsize=7, color=FRONT, zorder=5)
    missing = len(mine) - len(drawn)
    if missing:
        # Wrapped to the panel's width: one long line made the layout collapse the axes to nothing.
        ax.text(0.0, -0.2, textwrap.fill(f"not drawn: {missing} infeasible row(s) without whole-network figures "
                                         "(no chip, or a layer with no mapping; points.csv: reason)", 70),
                transform=ax.transAxes, fontsize=7, color=INFEASIBLE, va="top")
    if not drawn:
        ax.text(0.5, 0.5, "no point has figures", transform=ax.transAxes, ha="center", color=INFEASIBLE)
    ax.margins(0.15)
    ax.set_title(printable(network))
    ax.set_xlabel(f"latency ({t_unit} per batch)")
    ax.set_ylabel(f"energy ({e_unit} per inference)")


def pareto_figure(rows: Sequence[dict[str, Any]], networks: Sequence[str], varied: Sequence[str] = ()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    plt.rcParams["svg.hashsalt"] = "eyeriss"   # deterministic SVG element ids
    fig, axes = plt.subplots(1, len(networks), figsize=(6 * len(networks), 5), squeeze=False, layout="constrained")
    for ax, network in zip(axes[0], networks):
        _panel(ax, fig, rows, network, varied)
    drawn = [r for r in rows if drawable(r)]
    key = [Line2D([], [], ls="none", marker="o", color="#3b528b", label="feasible (colour: core area)"),
           Line2D([], [], ls="none", marker="o", mfc="none", mec=FRONT, ms=9, label="Pareto front (labelled)")]
    if any(not r["feasible"] for r in drawn):
        key.append(Line2D([], [], ls="none", marker="x", color=INFEASIBLE, label="infeasible (points.csv: reason)"))
    kinds = [[r for r in drawn if (r["network"], r["feasible"]) == kind] for kind in
             dict.fromkeys((r["network"], r["feasible"]) for r in drawn)]   # as the panels group them
    if any(len(group) > 1 for kind in kinds for _, _, group in spots(kind)):
        key.append(Line2D([], [], ls="none", marker="o", color="#3b528b", ms=11, label="xN: N points at one spot"))
    fig.legend(handles=key, loc="outside lower center", ncols=2 if len(networks) == 1 else len(key), fontsize="small",
               frameon=False)
    return fig, plt


def write_plots(rows: Sequence[dict[str, Any]], networks: Sequence[str], outdir: Path,
                varied: Sequence[str] = ()) -> list[Path]:
    """pareto.png and pareto.svg in ``outdir``, written atomically; front points labelled with ``varied``."""
    fig, plt = pareto_figure(rows, networks, varied)
    written = []
    try:
        for name, meta in (("pareto.png", PNG_META), ("pareto.svg", SVG_META)):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=name.rsplit(".", 1)[1], metadata=meta, dpi=100)
            atomic_write_bytes(outdir / name, buffer.getvalue())
            written.append(outdir / name)
    finally:
        plt.close(fig)
    return written
