"""Peer benchmark: eyeriss compile against ZigZag 3.9.1 on the same ONNX files, measured in one run.

    python benchmarks/peers.py [--repeat N] [--networks alexnet,resnet18,mobilenet_v2]

Installs nothing.  ZigZag (KU Leuven's DSE framework, PyPI ``zigzag-dse``) comes from the optional extra:
``pip install -e ".[peers]"``.  It installs beside our own dependencies without a conflict (numpy, onnx and
networkx are unpinned there); should a later setup need it apart, point ``EYERISS_PEERS_PYTHON`` at the Python of a
separate venv holding ``zigzag-dse==3.9.1`` and the benchmark runs ZigZag with that interpreter.  Without ZigZag it
prints one line saying so and exits 0.

Each measurement is one whole-process cold start in a fresh child: ``python -m mapper compile FILE --batch 1
--no-cache`` for eyeriss, and for ZigZag a child that loads the same file, binds its batch to 1 and runs onnx's
shape inference (ZigZag's parser reads tensor shapes from ``value_info`` and does not infer them itself), then calls
``zigzag.api.get_hardware_performance_zigzag`` with its bundled ``inputs/hardware/eyeriss_like.yaml`` (14 x 12 PEs),
LOMA (its default temporal search, default ``lpf_limit``), the energy objective (as eyeriss compile's default), and
the mapping below: ZigZag's spatial-mapping generator restricted to row-stationary's unrollings (ofmap rows or
filters across the 14 columns, filter rows or channels down the 12 rows).  Wall time is the parent's clock around
the child; CPU is the child's user + system time from ``os.wait4`` (its own and its reaped children's).  The two tools
alternate on each file, a repetition at a time, so a busy period hits both; the table gives the medians and the
median of the per-repetition ratios (ZigZag / eyeriss), with the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapper.app.untrusted import printable  # noqa: E402

NETWORKS = {"alexnet": ("AlexNet", "alexnet.onnx"), "resnet18": ("ResNet-18", "resnet18.onnx"),
            "mobilenet_v2": ("MobileNetV2", "mobilenet_v2.onnx")}
ZIGZAG = "zigzag-dse"
ZIGZAG_VERSION = "3.9.1"
PYTHON_ENV = "EYERISS_PEERS_PYTHON"

# Row-stationary's spatial unrollings on ZigZag's Eyeriss-like array (D1: 14 columns, D2: 12 rows): Chen et al.,
# ISCA 2016, section V: filter rows down a PE set's rows, ofmap rows across its columns, filters and channels
# replicated over the remaining PEs.  ZigZag picks the sizes (nb_spatial_mappings_generated, its default 3).
MAPPING_YAML = """\
- name: default
  spatial_mapping_hint:
    D1: [OY, K]
    D2: [FY, C]
  memory_operand_links:
    O: O
    W: I2
    I: I1
"""

# Runs in the ZigZag interpreter: argv = model.onnx mapping.yaml dump_dir.
ZIGZAG_CHILD = """\
import logging, sys
from pathlib import Path
import onnx
import zigzag
from zigzag.api import get_hardware_performance_zigzag
model = onnx.load(sys.argv[1])
for value in model.graph.input:
    dims = value.type.tensor_type.shape.dim
    if len(dims) and dims[0].dim_param:
        dims[0].dim_value = 1
model = onnx.shape_inference.infer_shapes(model)
hardware = Path(zigzag.__file__).parent / "inputs" / "hardware" / "eyeriss_like.yaml"
energy, latency, _ = get_hardware_performance_zigzag(
    model, str(hardware), sys.argv[2], opt="energy", dump_folder=sys.argv[3], loma_show_progress_bar=False)
logging.disable()
print(f"energy {energy:.6g} pJ, latency {latency:.6g} cycles")
"""


@dataclass(frozen=True)
class Run:
    """One child process: wall and user+sys CPU seconds, its exit code, and the last line it wrote."""

    wall: float
    cpu: float
    code: int
    last_line: str


def child_env(work: Path) -> dict[str, str]:
    """Both tools read Python's bytecode cache as on a user's machine (pip byte-compiles a wheel; our editable
    install writes it on its first run, ``measure``'s unmeasured one), even where PYTHONDONTWRITEBYTECODE is set."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(work / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_child(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """``argv`` in a fresh process; CPU from wait4, so nothing the parent does counts."""
    with tempfile.TemporaryFile("w+b") as out:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
    return Run(wall, usage.ru_utime + usage.ru_stime, child.returncode, lines[-1] if lines else "")


def zigzag_python() -> str:
    """The interpreter that runs ZigZag: $EYERISS_PEERS_PYTHON, else this one."""
    return os.environ.get(PYTHON_ENV) or sys.executable


def zigzag_version(python: str) -> str | None:
    """ZigZag's installed version under ``python``, or None when it is not installed there."""
    probe = f"import importlib.metadata as m; print(m.version({ZIGZAG!r}))"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> str:
    """Cores this process may use and the CPU model, from /proc/cpuinfo where there is one."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{len(os.sched_getaffinity(0))} cores (nproc), {model}"


def measure(file: Path, python: str, repeat: int, work: Path) -> tuple[list[Run], list[Run]]:
    """eyeriss and ZigZag on ``file``, alternating, ``repeat`` times each."""
    mapping = work / "mapping.yaml"
    mapping.write_text(MAPPING_YAML)
    ours: list[Run] = []
    theirs: list[Run] = []
    env = child_env(work)
    eyeriss = [sys.executable, "-m", "mapper", "compile", str(file), "--batch", "1", "--no-cache", "-o"]
    run_child([*eyeriss, str(work / "eyeriss-warm-up")], ROOT, env)  # writes the bytecode cache, not measured
    for index in range(repeat):
        ours.append(run_child([*eyeriss, str(work / f"eyeriss{index}")], ROOT, env))
        if ours[-1].code != 0:
            raise SystemExit(f"peers: eyeriss compile {file.name} failed ({ours[-1].code}): "
                             f"{printable(ours[-1].last_line)}")
        theirs.append(run_child([python, "-c", ZIGZAG_CHILD, str(file), str(mapping), str(work / f"zigzag{index}")],
                                work, env))
        if theirs[-1].code != 0:
            break  # ZigZag does not take this file; the table says why
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool per network (default 3)")
    parser.add_argument("--networks", default=",".join(NETWORKS),
                        help=f"comma-separated, from {', '.join(NETWORKS)} (default: all)")
    args = parser.parse_args()
    names = [name.strip() for name in args.networks.split(",") if name.strip()]
    unknown = [name for name in names if name not in NETWORKS]
    if unknown or args.repeat < 1:
        parser.error(f"unknown network {printable(unknown[0])}" if unknown else "--repeat must be at least 1")

    python = zigzag_python()
    version = zigzag_version(python)
    if version is None:
        print(f"peers: skipped: ZigZag ({ZIGZAG}) is not installed for {printable(python)}; "
              f"pip install -e \".[peers]\" or set {PYTHON_ENV}")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = Table(title=f"Cold whole process, batch 1, median of {args.repeat}: eyeriss compile --no-cache vs "
                        f"ZigZag {version} (LOMA, eyeriss_like.yaml)")
    for column in ("network", "eyeriss wall s", "eyeriss CPU s", "ZigZag wall s", "ZigZag CPU s",
                   "wall ratio", "CPU ratio"):
        table.add_column(column, justify="right")
    found: list[Text] = []
    for name in names:
        title, file = NETWORKS[name]
        with tempfile.TemporaryDirectory(prefix="eyeriss-peers-") as tmp:
            ours, theirs = measure(ROOT / "examples" / file, python, args.repeat, Path(tmp))
        wall, cpu = (statistics.median(getattr(run, field) for run in ours) for field in ("wall", "cpu"))
        if theirs[-1].code != 0:
            table.add_row(title, f"{wall:.2f}", f"{cpu:.2f}", "-", "-", "-", "-")
            found.append(Text(f"{title}: ZigZag failed ({theirs[-1].code}): {printable(theirs[-1].last_line)[:300]}"))
            continue
        pairs = list(zip(ours, theirs))
        table.add_row(
            title, f"{wall:.2f}", f"{cpu:.2f}",
            f"{statistics.median(run.wall for run in theirs):.1f}", f"{statistics.median(run.cpu for run in theirs):.1f}",
            f"{statistics.median(z.wall / e.wall for e, z in pairs):.0f}x",
            f"{statistics.median(z.cpu / e.cpu for e, z in pairs):.0f}x")
        found.append(Text(f"{title}: ZigZag found {printable(theirs[-1].last_line)[:300]}"))
    console = Console(width=max(Console().width, 110))
    console.print(table)
    for line in found:
        console.print(line)
    console.print(f"machine: {machine()}; python {platform.python_version()}; {date}")


if __name__ == "__main__":
    main()
