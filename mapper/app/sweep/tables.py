"""What the terminal shows of a sweep: the front as a table, the infeasible points with their reasons, the counts.

Readable at 80 columns: a varied field's header is its shortest dotted tail
that tells it from the other fields (``array.rows`` -> ``rows``, the full name
in the legend line, in points.json and points.csv), split on two lines when
longer than its values; each figure column carries one unit, picked from its
values (23.5 mJ, not 2.351e+04 uJ).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from mapper.app.sweep.units import ENERGY_UNITS, POWER_UNITS, TIME_UNITS, pick_unit
from mapper.app.untrusted import printable, text

DIGITS = 4               # significant digits of a column's smallest value
MAX_REASONS = 20         # infeasible rows listed in the terminal; points.csv holds every one


@dataclass(frozen=True)
class Column:
    """A figure column: its header (unit included) and its cells, all in that unit."""

    header: str
    cells: tuple[str, ...]


def figure_column(title: str, values: Sequence[float | None], units: Sequence[tuple[float, str]],
                  per: str = "") -> Column:
    """``values`` in the base unit (factor 1 in ``units``) shown in one unit, the largest the smallest value
    reaches, with enough decimals for DIGITS significant digits of the smallest value."""
    scale, unit = pick_unit(values, units)
    smallest = min((abs(v) for v in values if v is not None and v != 0), default=scale)
    shown = smallest / scale
    decimals = max(0, DIGITS - len(str(int(shown))) if shown >= 1 else DIGITS)
    cells = tuple("-" if v is None else f"{v / scale:.{decimals}f}" for v in values)
    return Column(f"{title}\n{unit}{per}", cells)


def short_names(fields: Sequence[str]) -> list[str]:
    """Each dotted field as its shortest tail (whole dotted parts) that no other field ends with."""
    out = []
    for field in fields:
        parts = field.split(".")
        for keep in range(1, len(parts) + 1):
            tail = ".".join(parts[-keep:])
            if not any(other != field and (other == tail or other.endswith("." + tail)) for other in fields):
                break
        out.append(tail)
    return out


def header_lines(name: str, width: int) -> str:
    """``name`` split after its dots and underscores into lines of at most ``width`` characters (or of its
    longest part), so a long field name costs its column height, not width: ``spad_words.ifmap`` -> ``spad_``,
    ``words.``, ``ifmap`` over a column of 2-digit values."""
    parts = re.findall(r"[^._]*[._]|[^._]+$", name)
    width = max(width, max(len(p) for p in parts))
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def solver_cell(statuses: str | None) -> str:
    """``OPTIMAL=8`` -> ``opt``; otherwise each status's count, lower case (``6 opt 2 feasible``)."""
    if not statuses:
        return "-"
    counts = [pair.split("=", 1) for pair in statuses.split()]
    if len(counts) == 1 and counts[0][0] == "OPTIMAL":
        return "opt"
    return " ".join(f"{n} {'opt' if status == 'OPTIMAL' else status.lower()}" for status, n in counts)


def front_table(rows: Sequence[dict[str, Any]], varied: Sequence[str], networks: Sequence[str]) -> Table:
    """The front rows: one network's name in the title, several networks' in a column of their own."""
    title = ("Pareto front of " + printable(networks[0]) if len(networks) == 1 else "Pareto front per network")
    table = Table(title=Text(f"{title} (energy, latency, area)"), title_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False, padding=0)   # columns one space apart (the box's divider)
    columns: list[tuple[str, Sequence[str], str]] = []
    for field, name in zip(varied, short_names(varied)):
        cells = [str(r[field]) for r in rows]
        columns.append((header_lines(name, max((len(c) for c in cells), default=0)), cells, "right"))
    figures = (figure_column("area", [r["area_mm2"] for r in rows], ((1.0, "mm2"),)),
               figure_column("energy", [r["energy_pj_per_inference"] for r in rows], ENERGY_UNITS, "/inf"),
               figure_column("latency", [r["latency_ms"] for r in rows], TIME_UNITS),
               figure_column("power", [r["power_mw"] for r in rows], POWER_UNITS))
    columns += [(c.header, c.cells, "right") for c in figures]
    columns.append(("util\n%", [f"{100 * r['utilization']:.0f}" if r["utilization"] is not None else "-"
                                for r in rows], "right"))
    columns.append(("solver", [solver_cell(r["statuses"]) for r in rows], "left"))
    if len(networks) > 1:   # the one column that may fold (a long name over two lines), never cut
        table.add_column("network", overflow="fold", ratio=1, min_width=8)
    for header, cells, justify in columns:   # whole, on one line each: they are what the table is read for
        width = max(len(line) for line in [*header.split("\n"), *cells])
        table.add_column(Text(header), justify=justify, no_wrap=True, min_width=width)  # type: ignore[arg-type]
    for i in range(len(rows)):
        names = [Text(printable(rows[i]["network"]))] if len(networks) > 1 else []
        table.add_row(*names, *(Text(cells[i]) for _, cells, _ in columns))  # Text: never parsed as markup
    return table


def names_line(varied: Sequence[str]) -> Text | None:
    """The full name of each shortened header (None when none is shortened)."""
    pairs = [f"{short} = {field}" for field, short in zip(varied, short_names(varied)) if short != field]
    return Text("; ".join(pairs) + "; solver: opt = every layer proven optimal.", style="dim") if pairs else None


def point_label(row: dict[str, Any], varied: Sequence[str]) -> str:
    return ", ".join(f"{field}={row[field]}" for field in varied)


def infeasible_lines(rows: Sequence[dict[str, Any]], varied: Sequence[str], networks: Sequence[str],
                     limit: int = MAX_REASONS) -> list[Text]:
    """One line per infeasible row: the point, its values, the network (when several) and why."""
    bad = [r for r in rows if not r["feasible"]]
    lines = []
    for r in bad[:limit]:
        where = f"point {r['point']} ({point_label(r, varied)})" + (f" {r['network']}" if len(networks) > 1 else "")
        lines.append(text(f"{where}: {r['reason'] or 'infeasible'}"))
    if len(bad) > limit:
        lines.append(Text(f"... and {len(bad) - limit} more (points.csv: feasible, reason)"))
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def counts_lines(progress: Any, rows: Sequence[dict[str, Any]], front: int, networks: int) -> list[str]:
    """Points, rows and the front; then where each distinct layer search's answer came from, solved in this
    run or read from the result cache, and how many points an earlier run in the output folder had finished."""
    infeasible = sum(1 for row in rows if not row["feasible"])
    p = progress
    return [f"{_count(p.points, 'design point')} x {_count(networks, 'network')}: {len(rows) - infeasible} "
            f"feasible, {infeasible} infeasible, {front} on the front.",
            f"Layer searches: {p.tasks + p.cache_hits} distinct, {p.tasks} solved now, {p.cache_hits} from the "
            f"result cache. Points resumed from the output folder: {p.points_resumed} of {p.points}."]
