"""Calibration and validation of the cost model against the Eyeriss chip (JSSC 2017 Table V).

Prints, for AlexNet CONV1-5 at N=4 with the published mappings (JSSC Table III),
our figures beside the measured ones and their ratio; the JSSC text's VGG-16
check (CONV1-2 against CONV4-2, on mappings derived from Table VI); the fit of the two
calibrated energy constants; the normalized energy breakdown per level; and
the mapper's optimal mapping in both mapping spaces (the full space, and the
chip team's rules: cost_models.rules) beside the published one under our own
model.
The measurements are `cost_models.silicon`, the fit `cost_models.calibration`.

    python benchmarks/jssc_alexnet.py      (after `pip install -e .`)
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cost_models.calibration import fit_energy, ratios, vgg_ratios
from cost_models.cost import Cost, evaluate
from cost_models.hardware import default_hardware
from cost_models.rlc import ratio_from_zero_fraction
from cost_models.rowstationary import RATIO_ONE
from cost_models.silicon import (FMAP_DRAM_SAVING, LAYERS, MEASURED, ORDER, PUBLISHED, UNCOMPRESSED_DRAM_MB, VGG_LAYERS,
                                 VGG_MAPPINGS, VGG_MEASURED)
from cost_models.rules import SPACES
from mapper.search.cpsat import map_layer


def main() -> None:
    console = Console(width=140)
    hw = default_hardware()
    costs: dict[str, Cost] = {name: evaluate(LAYERS[name], PUBLISHED[name], hw, ratios(name)) for name in ORDER}

    table = Table(title="AlexNet CONV1-5, N=4, published mappings: model vs JSSC Table V (ratio = model / measured)")
    for column in ("layer", "active PEs", "GLB MB", "ratio", "DRAM MB", "ratio", "proc. ms", "ratio",
                   "total ms", "ratio", "power mW", "ratio", "energy mJ", "ratio"):
        table.add_column(column, justify="right")
    for name in ORDER:
        c, m = costs[name], MEASURED[name]
        glb_mb = (c.accesses.glb.ifmap + c.accesses.glb.psum) * 2 / 1e6  # the banked 100 kB buffer
        dram_mb = c.level_total("dram") * 2 / 1e6
        chip_mj = (c.energy_pj - c.energy_pj_by_level["dram"]) / 1e9  # the chip's power excludes DRAM
        meas_mj = m.power_mw * m.total_ms / 1e3
        power_mw = chip_mj / c.total_ms * 1e3  # chip energy over the total latency, as the chip's power was measured
        table.add_row(name, f"{c.active_pes} / {m.active_pes}",
                      f"{glb_mb:.1f}", f"{glb_mb / m.glb_mb:.2f}", f"{dram_mb:.2f}", f"{dram_mb / m.dram_mb:.2f}",
                      f"{c.processing_ms:.1f}", f"{c.processing_ms / m.processing_ms:.2f}",
                      f"{c.total_ms:.1f}", f"{c.total_ms / m.total_ms:.2f}",
                      f"{power_mw:.0f}", f"{power_mw / m.power_mw:.2f}",
                      f"{chip_mj:.2f}", f"{chip_mj / meas_mj:.2f}")
    console.print(table)

    console.print(dram_table(hw, costs))
    vgg_check(console, hw)

    a, s = fit_energy(hw)
    console.print(f"Energy calibration (static share anchored on JSSC Fig. 16, scale by least relative squares): pj_per_unit = {a:.4f}, "
                  f"static_per_cycle = {s}   (bundled eyeriss.yaml: {hw.pj_per_unit}, {hw.energy_static_per_cycle})")

    breakdown = Table(title="Normalized energy per level (MAC = 1), share of the layer's total")
    for column in ("layer", "units/MAC", "DRAM", "GLB", "array", "RF", "MAC", "static"):
        breakdown.add_column(column, justify="right")
    for name in ORDER:
        c = costs[name]
        total = c.energy_total_units
        shares = [f"{100 * c.energy_units[k] / total:.1f}%" for k in ("dram", "glb", "array", "rf", "mac", "static")]
        breakdown.add_row(name, f"{total / c.macs:.2f}", *shares)
    console.print(breakdown)

    console.print(searched_table(hw, costs))


def dram_table(hw, costs: dict[str, Cost]) -> Table:
    """DRAM without RLC against the ISSCC chart, with RLC against Table V, and the fmap saving against the JSSC text."""
    table = Table(title="AlexNet DRAM MB, published mappings: raw counts vs ISSCC Fig. 14.5.6 (RLC off), RLC-coded vs "
                        "JSSC Table V, fmap saving vs JSSC IV-B")
    for column in ("layer", "raw", "chart", "ratio", "RLC", "Table V", "ratio", "fmap saving", "stated", "ofmap coded"):
        table.add_column(column, justify="right")
    for name in ORDER:
        raw, coded = evaluate(LAYERS[name], PUBLISHED[name], hw).accesses.dram, costs[name].accesses.dram
        raw_mb, coded_mb = raw.total * 2 / 1e6, coded.total * 2 / 1e6
        saving = 1 - (coded.ifmap + coded.psum) / (raw.ifmap + raw.psum)
        stated = f"{FMAP_DRAM_SAVING[name]:.0%}" if name in FMAP_DRAM_SAVING else ""
        ofmap = ratios(name).ofmap_dram / RATIO_ONE
        table.add_row(name, f"{raw_mb:.2f}", f"{UNCOMPRESSED_DRAM_MB[name]:.1f}",
                      f"{raw_mb / UNCOMPRESSED_DRAM_MB[name]:.2f}", f"{coded_mb:.2f}", f"{MEASURED[name].dram_mb:.1f}",
                      f"{coded_mb / MEASURED[name].dram_mb:.2f}", f"{saving:.0%}", stated,
                      f"{ofmap:.3f} = {zero_share_of(ratios(name).ofmap_dram):.0%} zeros")
    table.caption = ("ofmap coded: its RLC size over raw, and the i.i.d. zero share that gives it; CONV1's comes from "
                     "the stated saving (cost_models.calibration.ratios), the others' from the next layer's measured zeros")
    return table


def zero_share_of(ratio: int) -> float:
    """The zero share whose expected RLC ratio is ``ratio`` (cost_models.rlc), by bisection (it falls with z)."""
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ratio_from_zero_fraction(mid) > ratio else (lo, mid)
    return (lo + hi) / 2


def vgg_check(console: Console, hw) -> None:
    """The JSSC text's VGG-16 fact: CONV1-2 and CONV4-2 have equal MACs, CONV1-2 takes nearly 4x longer [JSSC VI-B]."""
    table = Table(title="VGG-16, N=3, mappings derived from JSSC Table VI (cost_models/silicon.py): processing latency")
    for column in ("layer", "active PEs", "GLB MB", "ratio", "proc. ms", "ratio", "GMAC/s", "measured", "largest part"):
        table.add_column(column, justify="right")
    costs = {name: evaluate(VGG_LAYERS[name], VGG_MAPPINGS[name], hw, vgg_ratios(name)) for name in VGG_LAYERS}
    for name, c in costs.items():
        m = VGG_MEASURED[name]
        glb_mb = (c.accesses.glb.ifmap + c.accesses.glb.psum) * 2 / 1e6
        largest = max(c.cycle_parts, key=lambda k: c.cycle_parts[k] if k != "fmap_dram" else -1)
        share = c.cycle_parts[largest] / c.processing_cycles
        table.add_row(name, f"{c.active_pes} / {m.active_pes}", f"{glb_mb:.0f}", f"{glb_mb / m.glb_mb:.2f}",
                      f"{c.processing_ms:.1f}", f"{c.processing_ms / m.processing_ms:.2f}",
                      f"{c.macs / c.processing_ms / 1e6:.1f}", f"{c.macs / m.processing_ms / 1e6:.1f}",
                      f"{largest} {100 * share:.0f}%")
    console.print(table)
    early, late = costs["CONV1-2"], costs["CONV4-2"]
    measured = VGG_MEASURED["CONV1-2"].processing_ms / VGG_MEASURED["CONV4-2"].processing_ms
    console.print(f"CONV1-2 / CONV4-2 processing latency: model {early.processing_ms / late.processing_ms:.2f}x, "
                  f"measured {measured:.2f}x (\"nearly four times\"); MAC rate {late.processing_ms / early.processing_ms:.2f}x "
                  f"of CONV4-2's, measured {1 / measured:.2f}x")


def searched_table(hw, costs: dict[str, Cost]) -> Table:
    """The mapper's optimum in both mapping spaces (full, and the chip team's rules: cost_models.rules) beside
    the published mapping, energy under our model relative to the published mapping's."""
    table = Table(title="Searched mappings under our model (energy, N=4, measured zeros): full space and chip "
                        "rules (jssc) vs published")
    for column in ("layer", "space", "n e p q r t g m", "units / published", "status", "search s"):
        table.add_column(column, justify="right")
    for name in ORDER:
        published = costs[name].objective_units["energy"]
        table.add_row(name, "published", _params(PUBLISHED[name]), "1.0000", "", "")
        for space in SPACES:
            result = map_layer(LAYERS[name], hw, "energy", ratios=ratios(name), space=space)
            same = " (= published)" if result.mapping == PUBLISHED[name] else ""
            shown = f"{result.objective_value / published:.4f}" if result.ok else "no mapping"
            table.add_row("", space, _params(result.mapping) + same if result.ok else "", shown, result.status,
                          f"{result.wall_s:.2f}")
    return table


def _params(mapping) -> str:
    return " ".join(str(v) for v in mapping.as_dict().values())


if __name__ == "__main__":
    main()
