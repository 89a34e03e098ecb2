"""Search, bitstreams, simulator, CLI and report: the compiler's top layer.

Library API::

    from mapper import map_layer, map_network, compile_model
    result = map_layer(layer_shape, hardware, objective="energy")

Names are imported on first use, so ``eyeriss inspect`` and ``eyeriss decode``
start without loading OR-tools.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LayerResult": "mapper.search.result", "NetworkBudgetError": "mapper.search.result",
    "map_layer": "mapper.search.cpsat",
    "MappedLayer": "mapper.search.network", "NetworkResult": "mapper.search.network", "choose_batch": "mapper.search.network",
    "map_network": "mapper.search.network",
    "compile_model": "mapper.app.compiler", "CompileResult": "mapper.app.compiler",
    "sweep": "mapper.app.sweep",
    "run": "mapper.app.run", "load_program": "mapper.app.run", "RunResult": "mapper.app.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mapper' has no attribute {name!r}")
