"""Design points: every combination of the varied fields, each a ``Hardware`` validated like a file."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Iterator

from cost_models.errors import InputError
from cost_models.hardware import Hardware, hardware_from_dict
from mapper.app.sweep.spec import Spec


@dataclass(frozen=True)
class Point:
    """One design point: its index, the varied fields' values, and its hardware or why there is none."""

    index: int
    values: tuple[tuple[str, int], ...]
    hardware: Hardware | None
    reason: str | None = None     # the hardware validation's message when the combination is no chip

    @property
    def label(self) -> str:
        return ", ".join(f"{field}={value}" for field, value in self.values)

    def key(self, spec: Spec, version: str) -> str:
        """What decides this point's results: resumed output is reused only when it matches."""
        from mapper.search.cache import hardware_key

        doc = {"version": version, "values": list(self.values), "objective": spec.objective,
               "hardware": hardware_key(self.hardware) if self.hardware else None,
               "pj_per_unit": self.hardware.pj_per_unit if self.hardware else None,
               # a network's input_shapes only when given: sweeps without them keep their keys
               "networks": [[str(n.model), n.batch] + ([[[k, list(v)] for k, v in n.input_shapes]]
                                                       if n.input_shapes else []) for n in spec.networks],
               "constraints": [spec.max_area_mm2, list(map(list, spec.max_latency_ms)), spec.max_power_mw],
               "time_limit": spec.time_limit}
        if spec.mapping_space != "full":  # a full-space sweep keeps the keys it had before mapping spaces
            doc["mapping_space"] = spec.mapping_space
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _set(doc: dict[str, Any], field: str, value: int) -> None:
    *parents, leaf = field.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[leaf] = value


def points(spec: Spec) -> Iterator[Point]:
    """Every combination, in the spec's order (the last field varies fastest)."""
    fields = [field for field, _ in spec.vary]
    for index, combo in enumerate(itertools.product(*(values for _, values in spec.vary))):
        doc = copy.deepcopy(spec.base_file)
        for field, value in zip(fields, combo):
            _set(doc, field, value)
        doc["name"] = f"{spec.base.name}-p{index}"
        values = tuple(zip(fields, combo))
        try:
            yield Point(index, values, hardware_from_dict(doc, where="no chip"))   # the row says which point
        except InputError as error:
            yield Point(index, values, None, reason=str(error))
