"""The Dask executor on a real LocalCluster (worker processes): same bytes as local, a killed worker's task re-run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from mapper.app.sweep.executors import DaskExecutor, LocalExecutor  # noqa: E402
from mapper.app.sweep.run import points_json, sweep  # noqa: E402
from mapper.app.sweep.spec import spec_from_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SPEC = {"base": "eyeriss", "vary": {"array.rows": [6, 12], "glb.banks": [5, 25]},
        "networks": [{"model": str(ROOT / "examples" / "lenet5.onnx"), "batch": 1}]}


# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_sweep_dask")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster:
        yield cluster


def test_dask_results_equal_the_local_executors_byte_for_byte(tmp_path: Path, cluster) -> None:
    spec = spec_from_dict(SPEC, ROOT, "spec.yaml")
    local = sweep(spec, tmp_path / "local", executor=LocalExecutor(), cache=tmp_path / "c1")
    with distributed.Client(cluster) as client:
        remote = sweep(spec, tmp_path / "dask", executor=DaskExecutor(client), cache=tmp_path / "c2")
    assert remote.progress.tasks == local.progress.tasks > 0
    assert points_json(remote, spec) == points_json(local, spec)


def _slow_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_task_whose_worker_dies_is_run_again_elsewhere(cluster) -> None:
    with distributed.Client(cluster) as client:
        executor = DaskExecutor(client)
        pids = client.run(os.getpid)   # worker address -> process id
        results = executor.run(_slow_then_pid, [3.0, 3.0])
        deadline = time.monotonic() + 30
        busy: list[str] = []
        while not busy and time.monotonic() < deadline:   # wait until a worker is running a task
            busy = [address for address, keys in client.processing().items() if keys]
            time.sleep(0.2)
        assert busy, "no worker started a task"
        time.sleep(0.5)
        victim = pids[busy[0]]
        os.kill(victim, signal.SIGKILL)
        finished = dict(results)
        assert sorted(finished) == [0, 1]
        assert victim not in finished.values()   # the killed worker's task finished on another process
