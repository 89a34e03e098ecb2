"""Stopping every running search of this process at once (Ctrl-C during layers solved side by side).

``mapper.search.cpsat.solve`` polls ``stopping()``; callers that run searches
in threads (``mapper.search.parallel.solve_each``, the sweep's executors) wrap
their clean-up in ``stop_all_searches()``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


# Set while a caller stops every search of this process (Ctrl-C during a
# network's layers solved side by side, mapper.search.parallel.solve_each).
_STOPPING = threading.Event()


def stopping() -> bool:
    """True while some caller stops every search."""
    return _STOPPING.is_set()


_STOP_DEPTH = [0]  # stop_all_searches nests (a batch scan's sizes, each with its layers, side by side)
_STOP_LOCK = threading.Lock()


@contextmanager
def stop_all_searches() -> Iterator[None]:
    """Within it, every running and every new ``solve`` stops and raises KeyboardInterrupt.

    Nestable: the searches resume only when the outermost one ends, so an inner
    pool shutting down cannot let the outer pool's searches run on.
    """
    with _STOP_LOCK:
        _STOP_DEPTH[0] += 1
        _STOPPING.set()
    try:
        yield
    finally:
        with _STOP_LOCK:
            _STOP_DEPTH[0] -= 1
            if not _STOP_DEPTH[0]:
                _STOPPING.clear()
