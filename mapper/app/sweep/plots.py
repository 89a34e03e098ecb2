"""Pictures of a sweep: the energy-latency scatter per network, area as colour, the Pareto front ringed.

matplotlib on the Agg backend (no display), with the metadata that would
differ run to run (creation date, tool version, SVG ids) fixed, so the same
points give the same PNG and SVG bytes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

from mapper.app.atomic import atomic_write_bytes

PNG_META = {"Software": "eyeriss sweep"}
SVG_META = {"Date": None, "Creator": "eyeriss sweep"}


def _figure(rows: Sequence[dict[str, Any]], networks: Sequence[str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "eyeriss"   # deterministic SVG element ids
    fig, axes = plt.subplots(1, len(networks), figsize=(5 * len(networks), 4), squeeze=False)
    for ax, network in zip(axes[0], networks):
        mine = [r for r in rows if r["network"] == network and r["feasible"]]
        if mine:
            points = ax.scatter([r["latency_ms"] for r in mine], [r["energy_pj_per_inference"] / 1e6 for r in mine],
                                c=[r["area_mm2"] for r in mine], cmap="viridis", s=18)
            fig.colorbar(points, ax=ax, label="core area (mm2)")
            best = [r for r in mine if r["pareto"]]
            ax.scatter([r["latency_ms"] for r in best], [r["energy_pj_per_inference"] / 1e6 for r in best],
                       facecolors="none", edgecolors="red", s=60, label="Pareto front")
            ax.legend(loc="upper right", fontsize="small")
        ax.set_title(network)
        ax.set_xlabel("latency (ms per batch)")
        ax.set_ylabel("energy (uJ per inference)")
    fig.tight_layout()
    return fig, plt


def write_plots(rows: Sequence[dict[str, Any]], networks: Sequence[str], outdir: Path) -> list[Path]:
    """pareto.png and pareto.svg in ``outdir``, written atomically."""
    fig, plt = _figure(rows, networks)
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
