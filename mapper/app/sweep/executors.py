"""Where the layer searches of a sweep run: the local cores, or a Dask cluster.

Dask over Ray: a pure-Python install (``pip install -e ".[distributed]"``), a
``LocalCluster`` that tests can start in-process, Slurm/PBS/SGE through
dask-jobqueue, and a task whose worker dies is re-run on another worker by
the scheduler itself (``distributed.scheduler.allowed-failures``).  A task is
one layer search (mapper.search.cpsat.map_layer, deterministic), so where it
runs changes nothing but the time.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator, Protocol, TypeVar

from cost_models.errors import InputError

T = TypeVar("T")
R = TypeVar("R")
EXECUTORS = ("local", "dask")


class Executor(Protocol):
    workers: int

    def run(self, fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R]]:
        """(index into ``items``, fn(item)) as each finishes."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """The local cores, one search per core (CP-SAT releases the GIL, so threads suffice)."""

    def __init__(self, workers: int | None = None) -> None:
        from mapper.search.parallel import cores

        self.workers = workers or cores()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sweep")

    def run(self, fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R]]:
        from mapper.search.stopping import stop_all_searches

        futures = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.__getitem__):
                    yield futures[future], future.result()
        except BaseException:
            with stop_all_searches():
                self._pool.shutdown(wait=True, cancel_futures=True)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class DaskExecutor:
    """A running Dask scheduler at ``address`` (``tcp://host:8786``), or a ``distributed.Client``."""

    def __init__(self, address: Any, retries: int = 2) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError('the dask executor needs the distributed extra: pip install -e ".[distributed]"') from None
        if isinstance(address, Client):
            self.client, self._own = address, False
        else:
            if not address:
                raise InputError("--executor dask needs --address of a running Dask scheduler")
            try:
                self.client, self._own = Client(address, timeout="20s"), True
            except (OSError, TimeoutError) as error:
                raise InputError(f"cannot reach the Dask scheduler: {error}", where=str(address)) from None
        self.retries = retries
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def run(self, fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R]]:
        """Submits every item at once (the scheduler spreads them), then yields as they finish."""
        futures = self.client.map(fn, items, pure=False, retries=self.retries)
        return self._finished(futures)

    def _finished(self, futures: list) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                yield index[future.key], future.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._own:
            self.client.close()


def make_executor(kind: str, address: Any = None, workers: int | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(address)
    raise InputError(f"unknown executor {kind!r} (one of: {', '.join(EXECUTORS)})")

