"""The Pareto front: the points no other point beats on every objective at once."""

from __future__ import annotations

from typing import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (all objectives minimised)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def front(figures: Sequence[Sequence[float]]) -> list[bool]:
    """For each figure vector, whether no other one dominates it (quadratic: sweeps are thousands, not millions)."""
    return [not any(dominates(other, mine) for other in figures) for mine in figures]
