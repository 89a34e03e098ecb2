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

from cost_models.errors import InputError, foreign_message

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

    def __init__(self, address: Any, retries: int = 2, connect_seconds: float | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError('the dask executor needs the distributed extra: pip install -e ".[distributed]"') from None
        if isinstance(address, Client):
            self.client, self._own = address, False
        else:
            if not address:
                raise InputError("--executor dask needs --address of a running Dask scheduler")
            self.client, self._own = _connect(address, connect_seconds or CONNECT_SECONDS), True
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


CONNECT_SECONDS = 10  # assumed: a scheduler answers its handshake in well under a second, a far or busy one in a few
MAX_CONNECT_SECONDS = 600  # assumed: longer than any handshake; a longer wait is a hang, whatever the user asked


def _connect(address: str, seconds: float = CONNECT_SECONDS) -> Any:
    """A client of the scheduler at ``address``, or one error line saying why not, within ``seconds`` and a margin.

    The address is checked first (a known scheme; for tcp and tls a host and a port); a tcp or tls port
    where nothing listens is refused at once, not after distributed's connect retries; and a peer that
    accepts but speaks another protocol (an HTTP server, a proxy) is an error too, whatever the client
    raises on its bytes (a bogus frame length is a MemoryError).
    """
    import socket
    import threading

    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    where = str(address)
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls") else (None, None)
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port {port} is not between 1 and 65535")
    except (ValueError, TypeError) as error:
        raise InputError(f"not a Dask scheduler address: {foreign_message(error)}", where=where) from None
    if host is not None:
        try:
            socket.create_connection((host, port), timeout=seconds).close()
        except OSError as error:
            reason = "nothing listens there (connection refused)" if isinstance(error, ConnectionRefusedError) \
                else foreign_message(error)
            raise InputError(f"cannot reach the Dask scheduler: {reason}", where=where) from None
    # The client's own timeout does not bound its handshake: a peer that accepts and stays silent held it
    # for minutes (distributed 2026.8).  So it connects in a thread of its own, waited for ``seconds`` and a
    # margin (for the client's own timeout error to arrive first); one that never returns is left behind (a
    # daemon thread: it ends with the process).
    made: dict[str, Any] = {}

    def make() -> None:
        try:
            made["client"] = Client(address, timeout=f"{seconds}s")
        except BaseException as error:  # noqa: BLE001 - whatever a peer that is no scheduler makes it raise
            made["error"] = error

    thread = threading.Thread(target=make, name="dask-connect", daemon=True)
    thread.start()
    thread.join(seconds + min(5.0, max(1.0, seconds / 2)))
    if "client" in made:
        return made["client"]
    reason = f": {foreign_message(made['error'])}" if "error" in made else " (it accepted the connection, then said nothing)"
    raise InputError(f"no Dask scheduler answered within {seconds:g} s{reason}", where=where)


def make_executor(kind: str, address: Any = None, workers: int | None = None,
                  connect_seconds: float | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(address, connect_seconds=connect_seconds)
    raise InputError(f"unknown executor {kind!r} (one of: {', '.join(EXECUTORS)})")

