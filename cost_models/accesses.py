"""Access counts as a typed table: memory level x data type, in 16-bit words.

The cost model (``cost_models.rowstationary``) fills one per mapping, the
simulator (``mapper.chip.simulator``) counts one while it runs, and the report
(``mapper.app.report``) writes one; all three share this structure, so a level
or data type is an attribute, never a string built and parsed back.  The
entries are ``cost_models.arith`` numbers: ints for one mapping, numpy arrays
for many, symbolic CP-SAT expressions while the search builds its model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from cost_models.arith import Num

# The memory hierarchy, outermost first [JSSC Fig. 2]: off-chip DRAM, the
# global buffer (its banked ifmap/psum part and the filter buffer), the array's
# networks (deliveries to PEs, local-link hops), the PEs' spads (register files).
LEVELS = ("dram", "glb", "array", "rf")
DATA_TYPES = ("ifmap", "filter", "psum")  # psum also carries the ofmap (its final psums)


@dataclass(frozen=True)
class Words:
    """The words one level moves, per data type."""

    ifmap: Num
    filter: Num
    psum: Num

    @property
    def total(self) -> Num:
        return self.ifmap + self.filter + self.psum

    def of(self, data_type: str) -> Num:
        if data_type not in DATA_TYPES:
            raise KeyError(data_type)
        return getattr(self, data_type)

    def map(self, fn: Callable[[Num], Num]) -> "Words":
        return Words(ifmap=fn(self.ifmap), filter=fn(self.filter), psum=fn(self.psum))

    def as_dict(self) -> dict[str, Num]:
        return {dt: self.of(dt) for dt in DATA_TYPES}


@dataclass(frozen=True)
class Accesses:
    """Words moved at every level of the hierarchy, per data type."""

    dram: Words
    glb: Words
    array: Words
    rf: Words

    @classmethod
    def build(cls, count: Callable[[str, str], Num]) -> "Accesses":
        """The table whose (level, data type) entry is ``count(level, data_type)``."""
        return cls(**{level: Words(**{dt: count(level, dt) for dt in DATA_TYPES}) for level in LEVELS})

    def level(self, name: str) -> Words:
        if name not in LEVELS:
            raise KeyError(name)
        return getattr(self, name)

    def map(self, fn: Callable[[Num], Num]) -> "Accesses":
        """The same table with ``fn`` applied to every entry (e.g. ``int``)."""
        return Accesses.build(lambda level, dt: fn(self.level(level).of(dt)))

    def items(self) -> Iterator[tuple[str, str, Num]]:
        """(level, data type, words), outermost level first."""
        for level in LEVELS:
            for dt in DATA_TYPES:
                yield level, dt, self.level(level).of(dt)

    def named(self) -> dict[str, Num]:
        """Every entry under a display name, ``level_type`` (``dram_ifmap``, ...): for tables and diffs."""
        return {f"{level}_{dt}": value for level, dt, value in self.items()}

    def as_dict(self) -> dict[str, dict[str, Num]]:
        """JSON-ready nesting, level -> data type -> words (the report's ``accesses_by_type``)."""
        return {level: self.level(level).as_dict() for level in LEVELS}
