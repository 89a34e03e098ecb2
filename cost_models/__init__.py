"""Row-stationary cost model of Eyeriss and the compiler's shared vocabulary.

Bottom of the dependency stack: numpy (and PyYAML for hardware files) only.
Layer shape, hardware description, mapping and cost breakdown live here.

The names below load on first use (PEP 562): importing ``cost_models.errors`` or
``cost_models.choices`` must not load numpy, so that a command that needs neither
(``eyeriss compile`` answered from the output cache, ``--help``) starts at once.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Area": "area", "Cost": "cost", "InvalidMapping": "cost", "check": "cost", "evaluate": "cost",
    "InputError": "errors", "Hardware": "hardware", "HardwareError": "hardware", "default_hardware": "hardware",
    "hardware_from_dict": "hardware", "load_hardware": "hardware", "LayerShape": "layer", "ShapeError": "layer",
    "Mapping": "mapping", "Placement": "mapping", "placement": "mapping", "DataRatios": "rowstationary",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cost_models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cost_models.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
