"""Terminal views of an ``eyeriss-report/1`` document (rich renderables, 80 columns).

Everything is drawn from the report alone, so a report.json copied off the
build machine renders the same.  The layer view rebuilds the PE roles from
the report's layer shape, mapping and hardware description with the same
``cost_models.mapping.pe_roles`` the bitstream emitter uses.
"""

from __future__ import annotations

import os
import string
from typing import Any, Iterable

from rich import box
from rich.console import Console, Group, RenderableType
from rich.cells import cell_len
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from cost_models.errors import InputError
from cost_models.hardware import hardware_from_dict
from cost_models.layer import LayerShape
from cost_models.mapping import PARAMETERS, Mapping, pe_roles
from mapper.app.report import FAR_FROM_BOUND, failures
from mapper.app.untrusted import printable, text

SET_LETTERS = string.ascii_uppercase + string.ascii_lowercase + string.digits
SET_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta")
BAR = 28  # characters of a full bar


def energy_j(pj: float) -> str:
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if pj >= scale:
            return f"{pj / scale:.3g} {unit}"
    return f"{pj:.3g} pJ"


def _bar(share: float, width: int = BAR) -> str:
    eighths = int(round(max(0.0, min(1.0, share)) * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")


def far_from_bound(entry: dict[str, Any]) -> list[str]:
    """Why a layer is flagged '!': its latency over FAR_FROM_BOUND times its roofline (MACs/PEs cycles plus
    the compulsory DRAM words' link time), or its DRAM traffic over FAR_FROM_BOUND times the compulsory words.

    Over 2x the roofline, more than half the layer's time goes neither to MACs on a full array nor to the
    traffic no mapping avoids, so the mapping or the hardware wastes it; a layer that only waits on its own
    weights (a batch-1 fully connected layer) is at its bound, however far above MACs/PEs.  A report written
    before ``roofline_ratio`` falls back to ``cycles_ratio`` (MACs/PEs alone).
    """
    bound = entry.get("lower_bound") or {}
    reasons = []
    roofline = bound.get("roofline_ratio", bound.get("cycles_ratio", 0))
    if isinstance(roofline, (int, float)) and roofline > FAR_FROM_BOUND:
        limiter = PART_NAMES.get(bound.get("limited_by"), bound.get("limited_by"))
        if bound.get("limited_by") == "streaming" and bound.get("slowest_stream"):
            limiter = f"{bound['slowest_stream']} bus"
        what = "its roofline" if "roofline_ratio" in bound else "MACs/PEs"
        reasons.append(printable(f"latency {roofline:.1f}x {what}" + (f", mostly {limiter}" if limiter else "")))
    dram = bound.get("dram_ratio", 0)
    if isinstance(dram, (int, float)) and dram > FAR_FROM_BOUND:
        worst = bound.get("dram_limited_by")
        reasons.append(printable(f"DRAM {dram:.1f}x compulsory" + (f", mostly {worst}s" if worst else "")))
    return reasons


# Short names of the latency's parts over its bound (mapper.app.explain.latency_gap), for one-line reasons.
PART_NAMES = {"under_use": "array under-use", "streaming": "operand streaming", "filter_fill": "filter spad fills",
              "ifmap_prefill": "ifmap spad prefills", "pipeline_fill": "pipeline fills", "psum_chain": "psum chains",
              "psum_drain": "psum drains", "fmap_dram": "fmap DRAM traffic", "filter_dram": "filter DRAM traffic"}


def why_lines(entry: dict[str, Any]) -> list[Text]:
    """Why this mapping: the limits that bind at it and what keeps its latency and DRAM traffic from their bounds."""
    lines = []
    hard = [b for b in entry.get("binding_limits") or [] if b["kind"] == "hardware"]
    ends = [b for b in entry.get("binding_limits") or [] if b["kind"] == "domain" and b["tight"]]
    if hard:
        shown = [f"{b['name'].replace('_', ' ')} {_amount(entry, b, 'used')}/{_amount(entry, b, 'capacity')}"
                 + (" full" if b["tight"] else "") + (f" (next {'/'.join(b['raised_by'])} breaks it)" if b["raised_by"] else "")
                 for b in hard]
        lines.append(text("binds: " + "; ".join(shown)))
    if ends:
        lines.append(text("at the end of its range: " + ", ".join(b["what"] for b in ends)))
    bound = entry.get("lower_bound") or {}
    gap = bound.get("gap_parts")
    if gap is not None:
        total = max(1, entry["latency"]["total_cycles"])
        parts = ", ".join(f"{PART_NAMES.get(k, k)} {100 * v / total:.0f}%" for k, v in list(gap.items())[:4])
        lines.append(text(f"latency {bound['cycles_ratio']:.2f}x its MACs/PEs bound of {bound['cycles']:,} cycles"
                          + (f"; the rest: {parts} of the total" if parts else "")
                          + (f"; limited by {bound['limited_by_what']}" if bound.get("limited_by") else "")))
        if isinstance(bound.get("roofline_cycles"), int) and isinstance(bound.get("roofline_ratio"), (int, float)):
            lines.append(text(f"latency {bound['roofline_ratio']:.2f}x its roofline of {bound['roofline_cycles']:,} "
                              "cycles (the bound with the compulsory DRAM words' link time)"))
    if bound.get("dram_limited_by"):
        extra = bound["dram_extra_words"]
        lines.append(text(f"DRAM {bound['dram_ratio']:.2f}x compulsory; words beyond it: "
                          + ", ".join(f"{dt} {compact_count(w)}" for dt, w in extra.items() if w > 0)))
    return lines


def runner_up_lines(entry: dict[str, Any]) -> list[Text]:
    """compile --explain: for each parameter, the best mapping with another value of it and what it costs more."""
    runners = entry.get("runner_ups")
    if not runners:
        return []
    best = entry["solver"]["objective_value"] or 1
    lines = [Text(f"runner-ups (best {entry['solver']['objective']} with each value excluded, re-solved)", style="bold")]
    for r in runners:
        head = f"{r['parameter']} != {r['excluded']}: "
        if r["mapping"] is None:
            lines.append(text(head + ("no other value fits" if r["status"] == "INFEASIBLE"
                                      else f"none found ({r['status'].lower()})")))
            continue
        m = r["mapping"]
        proof = "" if r["status"] == "OPTIMAL" else f" (not proven: {r['status'].lower()})"
        worse = "a tie" if r["gain_over_optimum"] == 0 else f"+{100 * r['gain_over_optimum'] / best:.3g}%"
        lines.append(text(head + " ".join(f"{k}={m[k]}" for k in PARAMETERS) + f"  {worse}{proof}"))
    return lines


def _amount(entry: dict[str, Any], binding: dict[str, Any], key: str) -> str:
    """A binding limit's side as the user gave it: a latency bound in ms (it was given in ms), others as counted."""
    if binding["name"] != "latency_bound":
        return str(binding[key])
    lat = entry["latency"]
    return f"{binding[key] * lat['total_ms'] / max(1, lat['total_cycles']):.6g} ms"


def compact_count(value: int) -> str:
    for limit, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return str(value)


def _mapping_text(mapping: dict[str, int]) -> str:
    return " ".join(str(mapping[k]) for k in PARAMETERS)


# Characters that end a part of a layer name (path-like ONNX names: /features/denseblock3/..., node_Conv_12).
NAME_SEPARATORS = "/._-:"
# A common prefix shorter than this is kept (dropping a lone '/' saves a column and costs a line).
MIN_PREFIX = 2
ELLIPSIS = "…"


def common_prefix(names: list[str]) -> str:
    """The prefix all names share, up to and including a separator, that leaves every name something.

    ``/features/denseblock1/...`` and ``/features/transition1/...`` share ``/features/``; ``node_conv2d`` and
    ``node_conv2d_1`` share ``node_`` (``node_conv2d`` would leave the first name empty).  Empty for fewer than
    two names or a prefix shorter than MIN_PREFIX.
    """
    if len(names) < 2:
        return ""
    prefix = os.path.commonprefix(names)
    while prefix and (prefix[-1] not in NAME_SEPARATORS or any(len(name) == len(prefix) for name in names)):
        prefix = prefix[:-1]
    return prefix if len(prefix) >= MIN_PREFIX else ""


def unique_suffix_lengths(names: list[str]) -> list[int]:
    """For each name, the length of its shortest ending that no other name ends with (its full length when
    it is itself the ending of another name or a duplicate).  Neighbours in the order of the reversed names
    share the longest endings, so one sort finds them all."""
    order = sorted(range(len(names)), key=lambda i: names[i][::-1])
    lengths = [1] * len(names)
    for a, b in zip(order, order[1:]):
        x, y = names[a], names[b]
        common = len(os.path.commonprefix([x[::-1], y[::-1]]))
        lengths[a] = max(lengths[a], common + 1)
        lengths[b] = max(lengths[b], common + 1)
    return [min(length, len(name)) for length, name in zip(lengths, names)]


def shorten_names(names: list[str], width: int, prefix: str = "") -> tuple[list[str], int]:
    """Names without ``prefix``, those wider than ``width`` cut from the left (``…layer12/conv2/Conv``).

    Every shown name (less a leading ``…``) is an ending of its own name that no other name ends with, so
    it names one layer (``eyeriss report OUT --layer ENDING``) and no two rows read the same.  Returns the
    shown names and the width they take (terminal cells): more than ``width`` when a cut at ``width``
    would keep an ending another name shares (the caller then makes room).
    """
    rests = [name[len(prefix):] if prefix and name.startswith(prefix) else name for name in names]
    unique = unique_suffix_lengths(names)
    whole = [u >= len(rest) for rest, u in zip(rests, unique)]  # no ending of it is its own: shown whole
    need = max((cell_len(rest) if keep or cell_len(rest) <= width else cell_len(rest[len(rest) - u:]) + 1
                for rest, u, keep in zip(rests, unique, whole)), default=0)
    w = max(width, need)
    while True:
        shown = [rest if keep or cell_len(rest) <= w else ELLIPSIS + _tail(rest, w - 1, u)
                 for rest, u, keep in zip(rests, unique, whole)]
        # a name that itself holds '…' could read like another's cut: widen until none does
        if len(set(shown)) == len(set(names)) or w >= max(map(cell_len, rests)):
            return shown, max(map(cell_len, shown), default=0)
        w += 1


def _tail(name: str, cells: int, unique: int) -> str:
    """The longest ending of ``name`` in at most ``cells`` terminal cells (wide characters take 2), started
    after its first separator when that keeps its ``unique`` last characters, half of it and MIN_NAME - 1
    (``…blocks.0/c1/Conv``, not ``…locks/blocks.0/c1/Conv``)."""
    start = len(name)
    while start > 0 and cell_len(name[start - 1:]) <= cells:
        start -= 1
    if start > 0 and name[start - 1] not in NAME_SEPARATORS:
        keep = max(unique, (len(name) - start + 1) // 2, MIN_NAME - 1)
        after = next((i + 1 for i in range(start, len(name) - keep) if name[i] in NAME_SEPARATORS), None)
        if after is not None:
            start = after
    return name[start:]


# The layer table's columns: header, justification, and the legend's words for it (one entry per column,
# so the legend cannot drift from the table).
COLUMNS = (
    ("#", "right", "# = row (eyeriss report OUT --layer #)"),
    ("layer", "left", None),
    ("n e p q r t g m", "left", "n e p q r t g m = the mapping (docs/report.md)"),
    ("PEs", "right", "PEs = active PEs"),
    ("energy", "right", None),
    ("%", "right", "% = share of the network's energy"),
    ("ms", "right", "ms = total latency"),
    ("lat x", "right", "lat x, DRAM x = latency over MACs/PEs cycles and DRAM traffic over compulsory words"),
    ("DRAM x", "right", None),
    ("gain", "right", "gain = what the full mapping space saves over the chip team's rules (jssc), none = no "
                      "mapping keeps them"),
    ("solver", "left", "solver: opt = proven optimal, else the relative gap; = solved once for identical layers; "
                       "pin = the mapping given (--mapping), -N% = what the searched optimum saves over it, = none"),
    ("!", "left", f"! = far from its bounds: latency over {FAR_FROM_BOUND:g}x its roofline (MACs/PEs cycles plus "
                  f"the compulsory DRAM words' link time, docs/report.md) or DRAM x over {FAR_FROM_BOUND:g}"),
)
LEGEND = Text("; ".join(words for _, _, words in COLUMNS if words) + ".", style="dim")


def _cells(entry: dict[str, Any], row: int, total_pj: float) -> tuple[list[str], str | None]:
    """One row's cells (the name unshortened) and its style."""
    if not entry.get("mapping"):
        status = printable(str(entry["solver"]["status"])[:5].lower())
        return [str(row), printable(entry["name"]), "no mapping", "", "", "", "", "", "", gain_cell(entry), status,
                "!"], "red"
    far = far_from_bound(entry)
    status = entry["solver"]["status"]
    solver = pinned_cell(entry) if status == "PINNED" else "opt" if status == "OPTIMAL" else \
        f"{entry['solver']['gap'] or 0:.1%}"
    if entry["solver"].get("shared_with"):
        solver += "="
    cells = [str(row), printable(entry["name"]), printable(_mapping_text(entry["mapping"])), str(entry["active_pes"]),
             energy_j(entry["energy"]["total_pj"]), f"{100 * entry['energy']['total_pj'] / total_pj:.0f}",
             f"{entry['latency']['total_ms']:.3g}", f"{entry['lower_bound']['cycles_ratio']:.1f}",
             f"{entry['lower_bound']['dram_ratio']:.1f}", gain_cell(entry), solver, "!" if far else ""]
    return cells, "yellow" if far else None


def pinned_cell(entry: dict[str, Any]) -> str:
    """A pinned layer's solver cell: ``pin``, and what its searched optimum saves over it (report ``pinned``)."""
    gain = (entry.get("pinned") or {}).get("gain")
    return "pin" if gain is None else "pin=" if gain <= 0 else "pin-<1%" if gain < 0.005 else f"pin-{100 * gain:.0f}%"


def pinned_line(entry: dict[str, Any]) -> Text | None:
    """The layer view's line on a pinned mapping: the searched optimum beside it."""
    pinned = entry.get("pinned")
    if not pinned:
        return None
    optimum, gain = pinned.get("optimum"), pinned.get("gain")
    if optimum is None:
        return text("pinned mapping (--mapping), evaluated without a search")
    if optimum.get("mapping") is None:
        return text(f"pinned mapping (--mapping); the search found no mapping ({optimum.get('reason')})")
    best = " ".join(f"{k}={optimum['mapping'][k]}" for k in PARAMETERS)
    saves = "the pinned mapping is as good" if gain is not None and gain <= 0 else \
        f"it saves {100 * gain:.3g}% of the pinned {entry['solver']['objective']}" if gain is not None else ""
    return text(f"pinned mapping (--mapping): {entry['solver']['objective']} {entry['solver']['objective_value']:,} "
                f"units; searched optimum {best}: {optimum['objective_value']:,} units ({optimum['status'].lower()}); "
                f"{saves}")


def gain_cell(entry: dict[str, Any]) -> str:
    """The ``gain`` column: the full space's saving over the chip-rule optimum (report ``mapping_spaces``)."""
    spaces = entry.get("mapping_spaces")
    if not spaces:
        return ""  # a report written before the mapping spaces
    if spaces["jssc"]["mapping"] is None:
        return "none"
    gain = spaces["full_gain"]
    return "?" if gain is None else "0" if gain <= 0 else f"{100 * gain:.2g}%"


def spaces_line(entry: dict[str, Any]) -> Text | None:
    """The layer view's line on the mapping spaces: the chip-rule optimum and what the full space buys."""
    spaces = entry.get("mapping_spaces")
    if not spaces:
        return None
    jssc, gain = spaces["jssc"], spaces["full_gain"]
    if jssc["mapping"] is None:
        return text(f"chip rules (jssc): no mapping keeps them ({jssc.get('reason') or jssc['status']})")
    best = " ".join(f"{k}={jssc['mapping'][k]}" for k in PARAMETERS)
    saves = ("the full space finds no better" if gain is not None and gain <= 0 else
             f"the full space saves {100 * gain:.3g}% of its {entry['solver']['objective']}" if gain is not None
             else "the full space has no mapping to compare")
    return text(f"chip rules (jssc): best {best}; {saves}")


# Columns the table leaves out, in this order, when the names would not fit otherwise (the legend still
# explains them; --csv and --json have every figure).  The row number, name, mapping, energy, latency and
# the flag always stay.  The order: the chip-rule comparison and the energy share first (research figures,
# the share follows from the energy column), the proof next (the totals line warns of any unproven layer).
DROPPABLE = ("gain", "%", "solver", "PEs", "DRAM x", "lat x")
# The narrowest a cut name may be before a column is dropped for it (assumed: 12 cells keep the last two
# parts of a path-like name, ``…conv2/Conv``; fewer leave only the op type).
MIN_NAME = 12

# Rows the terminal table shows (assumed: the largest bundled model has 54 layers; a 40 000-layer report
# took 54 s to lay out).  The rest are in --json and --csv; the title says how many are left out.
MAX_TABLE_ROWS = 1000


class LayerTable:
    """One row per array layer, laid out for the console it is printed on (rich calls ``__rich_console__``).

    Every column but the name keeps its full width; the name column takes the
    rest, names lose their common prefix and are cut from the left when they do
    not fit (``shorten_names``), and the least needed columns are left out
    before a cut would leave names unreadable.  Rows far from their bounds are
    marked '!' and highlighted.
    """

    def __init__(self, report: dict[str, Any], sort: str | None = None) -> None:
        self.report, self.sort = report, sort

    def rows(self) -> list[tuple[list[str], str | None]]:
        layers = list(enumerate(self.report["layers"], start=1))
        if self.sort == "energy":
            layers.sort(key=lambda item: -(item[1]["energy"]["total_pj"] if item[1].get("mapping") else -1))
        elif self.sort == "latency":
            layers.sort(key=lambda item: -(item[1]["latency"]["total_cycles"] if item[1].get("mapping") else -1))
        total_pj = self.report["totals"]["energy"]["total_pj"] or 1.0
        return [_cells(entry, row, total_pj) for row, entry in layers[:MAX_TABLE_ROWS]]

    def _table(self, rows: list[tuple[list[str], str | None]], widths: list[int], gap: int,
               names: list[str] | None, keep: list[int]) -> Table:
        """The table of the columns ``keep``; without the layer column when ``names`` is None (each name then
        gets its own line)."""
        table = Table(box=box.SIMPLE_HEAD, padding=(0, gap - 1, 0, 0), pad_edge=False, show_edge=False)
        keep = [i for i in keep if names is not None or i != 1]
        for i in keep:
            header, justify, _ = COLUMNS[i]
            table.add_column(header, justify=justify, no_wrap=True, min_width=widths[i], max_width=widths[i] + gap - 1)
        for index, (cells, style) in enumerate(rows):
            shown = [Text(cell) for cell in cells]
            if names is not None:
                shown[1] = Text(names[index])
            if cells[2] == "no mapping":
                shown[2] = Text("no mapping", style="bold red")
            table.add_row(*[shown[i] for i in keep], style=style)
        return table

    def __rich_console__(self, console, options):
        yield from self._render(console, options)
        hidden = len(self.report["layers"]) - MAX_TABLE_ROWS
        if hidden > 0:
            yield Text(f"... and {hidden} more layers (--json and --csv list every one)")

    def _render(self, console, options):
        """The widest layout that fits: every column and the names whole; else the names without their
        common prefix, cut from the left no shorter than MIN_NAME and still telling every layer apart; else
        that with the DROPPABLE columns left out one by one (a dim line names them and the prefix dropped);
        else each name on its own line above its figures."""
        rows = self.rows()
        width = options.max_width
        widths = [max([len(header)] + [cell_len(cells[i]) for cells, _ in rows])
                  for i, (header, _, _) in enumerate(COLUMNS)]
        names = [cells[1] for cells, _ in rows]
        keep = list(range(len(COLUMNS)))
        others = sum(widths) - widths[1]
        if others + widths[1] + len(COLUMNS) - 1 <= width:  # the names fit whole: nothing to drop
            prefix, attempts = "", (None,)
        else:
            prefix, attempts = common_prefix(names), (None, *DROPPABLE)
        longest = max([len("layer")] + [cell_len(n) for n in shorten_names(names, 1 << 30, prefix)[0]])
        for drop in attempts:
            if drop is not None:
                keep.remove(next(i for i, column in enumerate(COLUMNS) if column[0] == drop))
            others = sum(widths[i] for i in keep if i != 1)
            gaps = len(keep) - 1
            gap = 2 if others + longest + 2 * gaps <= width else 1
            room = width - others - gap * gaps
            shown, need = shorten_names(names, room, prefix)
            if need <= room and room >= min(longest, max(len("layer"), MIN_NAME)):
                widths[1] = max(len("layer"), need)
                yield self._table(rows, widths, gap, shown, keep)
                left_out = [COLUMNS[i][0] for i in range(len(COLUMNS)) if i not in keep]
                notes = ([f"names without their common prefix '{prefix}'"] if prefix else []) + \
                    ([f"left out at {width} columns: {', '.join(left_out)} (--csv and --json have every figure)"]
                     if left_out else [])
                if notes:
                    yield Text("; ".join(notes), style="dim")
                return
        # Too narrow even so: each name on its own line (after its row number), above its figures, which
        # then have the name column's room too.
        keep = list(range(len(COLUMNS)))
        others = sum(widths) - widths[1]
        gap = 2 if others + 2 * (len(COLUMNS) - 2) <= width else 1
        blank = [([""] + cells[1:], style) for cells, style in rows]
        lines = console.render_lines(self._table(blank, widths, gap, None, keep), options, pad=False)
        yield from _lines(lines[:2])
        for (cells, style), line in zip(rows, lines[2:]):
            yield Text(f"{cells[0]:>{widths[0]}} {cells[1]}", style=style or "")
            yield from _lines([line])


def _lines(lines) -> Iterable[Segment]:
    for line in lines:
        yield from line
        yield Segment.line()


def layer_table(report: dict[str, Any], sort: str | None = None) -> LayerTable:
    """The layer table (a renderable that fits the console it is printed on)."""
    return LayerTable(report, sort)


def _totals_line(report: dict[str, Any]) -> Text:
    t = report["totals"]
    parts = [f"{energy_j(t['energy']['total_pj'])} ({energy_j(t['energy']['per_inference_pj'])}/inference)",
             f"{t['latency']['total_ms']:.4g} ms total ({t['latency']['processing_ms']:.4g} ms processing)"]
    if t["inferences_per_s"]:
        parts.append(f"{t['inferences_per_s']:.3g} fps, {t['gmacs_per_s']:.3g} GMAC/s")
    if t["pj_per_mac"]:
        parts.append(f"{t['pj_per_mac']:.3g} pJ/MAC")
    if t["average_active_pes"] is not None:
        parts.append(f"{t['average_active_pes']:.0f}/{report['hardware']['pes']} PEs active on average")
    line = Text()
    line.append(f"batch {report['batch']}: ", style="bold")
    if t["unmapped"]:
        missing = t.get("missing") or [e["name"] for e in report["layers"] if not e.get("mapping")]
        line.append(printable(f"PARTIAL, {t['layers']} of {t['layers'] + t['unmapped']} layers mapped "
                              f"(no mapping: {name_list(missing, len(report['layers']))})"), style="bold red")
        if not t["layers"]:
            return line
        line.append(printable(f"; totals over the {t['layers']} mapped only: "), style="bold red")
    line.append(printable(", ".join(parts)))
    return line


def command(console: Console, line: str) -> None:
    """A command to copy: on a line of its own, indented, never wrapped by rich (soft wrap: the terminal may
    fold a long one, but no newline is put into it)."""
    console.print(text(f"  {line}"), soft_wrap=True)


def name_list(names: list[str], of: int, shown: int = 6) -> str:
    """``conv1, conv2`` / ``all 8 layers`` / ``a, b, ... and 12 more``: a failure list that stays one line."""
    if len(names) == of and of > 2:
        return f"all {of} layers"
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more"


def _title(report: dict[str, Any]) -> Text:
    hw = report["hardware"]
    area = hw.get("area")   # reports written before the area model have none
    core = area.get("core_mm2") if isinstance(area, dict) else None
    size = f", {core:.2f} mm2 core" if isinstance(core, (int, float)) and not isinstance(core, bool) else ""
    return text(f"{report['model']['name']} on {hw['name']} ({hw['rows']}x{hw['cols']} PEs{size}), "
                f"objective {report['objective']}" + _space_words(report), style="bold")


def _space_words(report: dict[str, Any]) -> str:
    """``, mapping space jssc`` for a compile in the chip team's rules (nothing for the default full space)."""
    options = report.get("options")
    space = options.get("mapping_space") if isinstance(options, dict) else None
    return f", mapping space {space}" if isinstance(space, str) and space != "full" else ""


def network_summary(report: dict[str, Any]) -> RenderableType:
    """What ``eyeriss compile`` prints: the layer table, the totals, and how sure the search is of them."""
    return Group(_title(report), layer_table(report), LEGEND, *runner_up_summary(report), _totals_line(report),
                 *_warnings(report))


def runner_up_summary(report: dict[str, Any]) -> list[Text]:
    """compile --explain in the terminal: per layer, each parameter's runner-up value and what it costs more
    than the optimum (``gain_over_optimum`` over the layer's objective), one short line per layer."""
    lines: list[Text] = []
    for row, entry in enumerate(report["layers"], start=1):
        runners = entry.get("runner_ups")
        if not runners or not entry.get("mapping"):
            continue
        best = entry["solver"]["objective_value"] or 1
        parts = []
        for r in runners:
            if r["mapping"] is None:  # no other value fits (or none found): nothing to show
                continue
            extra = r["gain_over_optimum"]
            worse = "tie" if extra == 0 else f"+{100 * extra / best:.2g}%"
            parts.append(f"{r['parameter']}={r['mapping'][r['parameter']]} {worse}"
                         + ("" if r["status"] == "OPTIMAL" else "?"))
        lines.append(text(f"{row:>3} {entry['name']}: " + ", ".join(parts)))
    if lines:
        lines.insert(0, Text("runner-ups: best other value per parameter, objective over the optimum",
                             style="bold"))
        lines.append(Text("? = not proven optimal; eyeriss report OUT --layer # shows the full mappings", style="dim"))
    return lines


def _warnings(report: dict[str, Any]) -> list[Text]:
    """One line each: searches that stopped short of a proof, a network budget missed (reports without
    these totals, older ones, give none)."""
    t, lines = report["totals"], []
    search = t.get("search")
    if isinstance(search, dict) and search.get("layers") and search.get("proven") != search["layers"]:
        worst = search.get("worst") or {}
        gap = search.get("gap")
        within = (f"the network's {report['objective']} may be up to {100 * gap:.1f} % above optimal"
                  if isinstance(gap, (int, float)) else "how far from optimal is unknown")
        worst_words = f" (worst: {worst.get('name')}, {100 * worst.get('gap', 0):.1f} %)" if worst else ""
        style = "bold red" if search.get("far") else "yellow"
        lines.append(Text(printable(f"search: {search['layers'] - search['proven']} of {search['layers']} layers "
                                    f"not proven optimal; {within}{worst_words}"
                                    + ("; raise or drop --time-limit" if search.get("far") else "")), style=style))
    budget = t.get("network_budget")
    if isinstance(budget, dict) and budget.get("met") is False:
        lines.append(Text(printable(f"over the network latency budget: {t['latency']['total_ms']:.6g} ms > "
                                    f"{budget.get('ms')} ms (the fastest mappings, --over-budget fastest)"),
                          style="bold red"))
    return lines


def _bars(title: str, shares: dict[str, float]) -> Table:
    table = Table(box=None, padding=(0, 1), show_header=False, title=title, title_justify="left", pad_edge=False)
    table.add_column(min_width=7)
    table.add_column(width=BAR + 1, no_wrap=True)
    table.add_column(justify="right")
    table.add_column(justify="right")
    total = sum(shares.values()) or 1.0
    for key, value in shares.items():
        table.add_row(text(key), Text(_bar(value / total), style="cyan"), f"{100 * value / total:.1f}%",
                      energy_j(value))
    return table


def network_view(report: dict[str, Any], sort: str | None = None) -> RenderableType:
    parts: list[RenderableType] = [_title(report), layer_table(report, sort), LEGEND]
    energy = report["totals"]["energy"]
    if energy["total_pj"]:
        parts.append(_bars("where the energy goes, by level", energy["by_level_pj"]))
        parts.append(_bars("by data type", energy["by_type_pj"]))
    far = [(entry["name"], far_from_bound(entry)) for entry in report["layers"] if entry.get("mapping")]
    far = [(name, reasons) for name, reasons in far if reasons]
    if far:
        more = f"; and {len(far) - 20} more" if len(far) > 20 else ""
        parts.append(text("far from their bounds (!): " + "; ".join(f"{n} ({', '.join(r)})" for n, r in far[:20])
                          + more, style="yellow"))
    for names, reason in failures(report.get("unmapped", [])):
        parts.append(text(f"no mapping for {name_list(names, len(report['layers']))}: {reason}", style="bold red"))
    parts.append(_totals_line(report))
    return Group(*parts)


# --------------------------------------------------------------- layer view
def find_layer(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    for entry in report["layers"]:
        if entry["name"] == name:
            return entry
    return None


def resolve_layer(report: dict[str, Any], key: str, where: str = "report") -> dict[str, Any]:
    """The layer ``key`` names: its full name, a suffix only it ends with, or its row number (the table's #)."""
    layers = report["layers"]
    exact = find_layer(report, key)
    if exact is not None:
        return exact
    if key.isdigit() and 1 <= int(key) <= len(layers):
        return layers[int(key) - 1]
    ending = [entry for entry in layers if str(entry["name"]).endswith(key)]
    if len(ending) == 1:
        return ending[0]
    if ending:
        shown = ", ".join(printable(e["name"]) for e in ending[:6]) + (", ..." if len(ending) > 6 else "")
        raise InputError(f"{len(ending)} layers end with '{printable(key)}' ({shown}); give more of the name "
                         "or the row number", where=where)
    names = ", ".join(printable(e["name"]) for e in layers[:20]) + (", ..." if len(layers) > 20 else "")
    raise InputError(f"no layer named '{printable(key)}' and none ends with it; rows 1-{len(layers)} "
                     f"(have: {names})", where=where)


def layer_shape(entry: dict[str, Any]) -> LayerShape:
    s = entry["shape"]
    return LayerShape(N=s["N"], M=s["M"], C=s["C"], H=s["H"], W=s["W"], R=s["R"], S=s["S"],
                      stride=tuple(s["stride"]), pads=tuple(s["pads"]), dilation=tuple(s["dilation"]),
                      groups=s["groups"], kind=entry["kind"])


def layer_mapping(entry: dict[str, Any]) -> Mapping:
    return Mapping(**{k: entry["mapping"][k] for k in ("n", "e", "p", "q", "r", "t", "g", "m")})


def pe_grid(report: dict[str, Any], entry: dict[str, Any]) -> RenderableType:
    """The array, one cell per PE: set letter + filter row on top, ofmap row below; '·' = clock gated."""
    hw = hardware_from_dict(report["hardware"]["description"], where="report.json: hardware.description")
    layer, mapping = layer_shape(entry), layer_mapping(entry)
    from cost_models.cost import check  # here, not at the top: the summary a compile prints needs no cost model

    problems = check(layer, mapping, hw)  # a damaged mapping (1e18 rows) must not be drawn PE by PE
    if problems:
        raise InputError(f"the mapping is not valid for this layer on this hardware: {problems[0]}",
                         where=f"report.json: layer {entry['name']}")
    roles = {(role.row, role.col): role for role in pe_roles(layer, mapping, hw)}
    compact = hw.cols > 16
    table = Table(box=None, padding=(0, 1) if not compact else (0, 0), show_header=True, pad_edge=False,
                  title=f"PE array {hw.rows} x {hw.cols}: {len(roles)} active", title_justify="left")
    table.add_column("", justify="right", style="dim")
    for col in range(hw.cols):
        table.add_column(str(col) if not compact else "", justify="center", no_wrap=True)
    for row in range(hw.rows):
        cells = []
        for col in range(hw.cols):
            role = roles.get((row, col))
            if role is None:
                cells.append(Text("·" if compact else "·\n ", style="dim"))
                continue
            pe_set = role.stack * mapping.r + role.ri
            letter = SET_LETTERS[pe_set % len(SET_LETTERS)]
            style = SET_COLOURS[pe_set % len(SET_COLOURS)]
            cells.append(Text(letter if compact else f"{letter}{role.i}\n{role.j}", style=style))
        table.add_row(str(row), *cells)
    legend = Text("cell: PE set letter + filter row (top), ofmap row (bottom); · = clock gated" if not compact
                  else "letter: PE set; · = clock gated", style="dim")
    return Group(table, legend)


def _fill_table(entry: dict[str, Any]) -> Table:
    table = Table(box=None, padding=(0, 1), show_header=False, title="how full", title_justify="left", pad_edge=False)
    table.add_column(min_width=15)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    names = {"filter_spad": "filter spad", "ifmap_spad": "ifmap spad", "psum_spad": "psum spad",
             "glb_ifmap_words": "GLB ifmap", "glb_psum_words": "GLB psum", "filter_buffer": "filter buffer"}
    for key, (used, capacity) in entry["spads"].items():
        table.add_row(text(names.get(key, key)), f"{used}/{capacity}", Text(_bar(used / capacity, 20), style="green"))
    banks = entry["glb_banks"]
    table.add_row("GLB banks", f"{banks['ifmap']}+{banks['psum']}", f"ifmap + psum, {banks['free']} free")
    return table


def loop_nest(entry: dict[str, Any]) -> str:
    """The mapping written out as the loop nest the cost model counts (rowstationary.py, outermost first)."""
    s, m = entry["shape"], entry["mapping"]
    G, N, E, F, S, R = s["groups"], s["N"], s["E"], s["F"], s["S"], s["R"]
    Mg, Cg = s["M"] // G, s["C"] // G
    n, e, p, q, r, t, g, mm = (m[k] for k in ("n", "e", "p", "q", "r", "t", "g", "m"))
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    m_eff = min(mm, Mg)

    def idx(stride: int, outer: str, dilation: int, inner: str) -> str:
        a = outer if stride == 1 else f"{stride}*{outer}"
        b = inner if dilation == 1 else f"{dilation}*{inner}"
        return f"{a} + {b}"

    rows = [
        (f"for g0 in 0..{ceil(G, g)}:", f"blocks of g={g} of {G} group(s)"),
        (f" for n0 in 0..{ceil(N, n)}:", f"blocks of n={n} of {N} ifmap(s)"),
        (f"  for s0 in 0..{ceil(E, e)}:", f"strips of e={e} of {E} ofmap rows"),
        (f"   for m0 in 0..{ceil(Mg, m_eff)}:", f"blocks of m={m_eff} filters, psums in GLB"),
        (f"    for c0 in 0..{ceil(Cg, q * r)}:", f"blocks of q*r={q * r} of {Cg} channels"),
        (f"     for f0 in 0..{ceil(m_eff, p * t)}:", f"a pass: p*t={p * t} filters to spads"),
        (f"      parallel PEs: {t} filter x {r} channel x {g} group set(s) of {R}x{e}", None),
        ("       for n1 in 0..%d, p1 in 0..%d, q1 in 0..%d:  # in PE (i, j)" % (n, p, q), None),
        (f"        for x in 0..{F}, k in 0..{S}:", "1-D conv primitive"),
        (f"         psum[p1][j][x] += w[p1][q1][i][k] * in[q1][{idx(s['stride'][0], 'j', s['dilation'][0], 'i')}]"
         f"[{idx(s['stride'][1], 'x', s['dilation'][1], 'k')}]", None),
    ]
    width = max(len(code) for code, note in rows if note)
    return "\n".join(code if note is None else f"{code:<{width}}  # {note}" for code, note in rows)


def statistics_line(stats: dict[str, Any]) -> Text:
    """The layer's data statistics and their sources: ``ifmap 72.5 % zeros, RLC 0.41 (measured)``."""
    def one(kind: str) -> str:
        d = stats[kind]
        coded = d.get("rlc_coded", True)
        rlc = f"RLC {d['rlc_ratio']:.3f} of raw" if coded else "not RLC-coded"
        return f"{kind} {100 * d['zero_fraction']:.2f} % zeros, {rlc} ({d['source']}: {d['basis']})"

    return text("data: " + "; ".join(one(kind) for kind in ("ifmap", "ofmap")))


def layer_view(report: dict[str, Any], entry: dict[str, Any]) -> RenderableType:
    s = entry["shape"]
    head = text(f"{entry['name']} ({entry['op']}, {entry['kind']}{', ReLU' if entry.get('relu') else ''})",
                style="bold")
    head.append("\n")
    head.append(f"N={s['N']} M={s['M']} C={s['C']} HxW={s['H']}x{s['W']} RxS={s['R']}x{s['S']} "
                f"ExF={s['E']}x{s['F']} stride {s['stride'][0]}x{s['stride'][1]} groups {s['groups']}; "
                f"{entry['macs']:,} MACs", style="none")
    spaces = spaces_line(entry)
    pinned = pinned_line(entry)
    if not entry.get("mapping"):
        return Group(head, text(f"no valid mapping: {entry.get('reason')}", style="bold red"),
                     *([spaces] if spaces is not None else []))
    m = entry["mapping"]
    params = text("mapping: " + "  ".join(f"{k}={m[k]}" for k in ("n", "e", "p", "q", "r", "t", "g", "m")))
    place = text(f"placement: {m['placement']['description']}; {entry['active_pes']} PEs active, "
                 f"{entry['passes']} passes")
    solver = entry["solver"]
    proof = text(f"solver: {solver['status']}" + (f", gap {solver['gap']:.2%}" if solver["gap"] else "")
                 + (f" (solved once with {solver['shared_with']})" if solver.get("shared_with") else ""))
    energy = entry["energy"]
    lat = entry["latency"]
    timing = text(f"energy {energy_j(energy['total_pj'])}, {energy['total_pj'] / entry['macs']:.3g} pJ/MAC; "
                  f"latency {lat['total_ms']:.4g} ms total, {lat['processing_ms']:.4g} ms processing "
                  f"({lat['total_cycles']:,} cycles; bound {entry['lower_bound']['cycles']:,})")
    far = far_from_bound(entry)
    shipped = entry.get("bitstream") or {}
    file = text(f"row {entry['index'] + 1}: {shipped.get('file')} ({shipped.get('bits', 0):,} bits)")
    parts: list[RenderableType] = [head, params, place, proof, timing, file,
                                   *([pinned] if pinned is not None else []),
                                   *([spaces] if spaces is not None else [])]
    if entry.get("statistics"):
        parts.append(statistics_line(entry["statistics"]))
    if far:
        parts.append(Text("far from its bounds: " + ", ".join(far), style="yellow"))
    why = why_lines(entry)
    if why:
        parts += [Text("why this mapping", style="bold"), *why]
    parts += runner_up_lines(entry)
    parts += [pe_grid(report, entry), _fill_table(entry),
              _bars("energy by level", energy["by_level"]["pj"]), _bars("energy by data type", energy["by_type"]["pj"]),
              Text("loop nest (outermost first)", style="bold"), Text("\n").join(text(line) for line in loop_nest(entry).splitlines())]
    return Group(*parts)
