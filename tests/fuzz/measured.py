"""Run ``eyeriss`` command lines one after another in this process and measure each: a child process of the tests.

    python tests/fuzz/measured.py CASES.json RESULTS.json

CASES.json is a list of ``{"args": [...], "cwd": "..."}``.  Each runs through ``harness.run_cli`` (in-process,
as every other fuzz case); RESULTS.json gets, per case, the exit code, the two streams, the files left behind,
the wall and CPU seconds, and the process's peak RSS so far.  The peak is the process's own
(VmHWM, which only grows): after the last case it bounds every case's memory, interpreter and imports
included, which a pytest process running everything else could not show.

The cases that could take gigabytes (a 16 GB declared weight, /dev/zero) run here, so that a regression
fails this child rather than the test run; the address space is capped far above the limit tested (it
only stops a runaway from exhausting a shared machine), not at it (the libraries reserve virtual memory
they never touch).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import run_cli  # noqa: E402 - the path above first

SAFETY_CAP_BYTES = 16 * 2**30  # assumed: 16x the 1 GB tested, and below what a shared 2-core box survives


def peak_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM, which exec resets (``ru_maxrss`` keeps the peak of the
    process that forked this one, the pytest run itself)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(args: list[str], cwd: Path) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    run = run_cli(args, cwd)
    return {"code": run.code, "stdout": run.stdout, "stderr": run.stderr, "left": list(run.left),
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "peak_rss": peak_rss_bytes()}


def main(cases_path: str, results_path: str) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > SAFETY_CAP_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (SAFETY_CAP_BYTES, hard))
    cases = json.loads(Path(cases_path).read_text())
    warm = Path(cases_path).parent / "warm-up"
    run_cli(["inspect", str(Path(__file__).resolve().parents[2] / "examples" / "lenet5.onnx")], warm)  # imports
    results = {"before_cases_rss": peak_rss_bytes(), "cases": []}
    for case in cases:
        results["cases"].append(measure(case["args"], Path(case["cwd"])))
    Path(results_path).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
