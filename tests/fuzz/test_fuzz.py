"""Hostile input through the real CLI: one error line, the right exit code, no traceback, no files left."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from corpus import Case, cases


def run_case(case: Case, workdir: Path) -> tuple[Case, subprocess.CompletedProcess, Path]:
    out = workdir / f"out_{case.name}"
    args = [a.replace("{out}", str(out)) for a in case.args]
    env = dict(os.environ, NO_COLOR="1", COLUMNS="100")
    result = subprocess.run([sys.executable, "-m", "mapper", *args], capture_output=True, text=True, cwd=workdir,
                            timeout=120, env=env)
    return case, result, out


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[tuple[Case, subprocess.CompletedProcess, Path]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    corpus = cases(tmp)
    from mapper.app.commands import COMMANDS

    corpus = [case for case in corpus if case.args[0] in COMMANDS]  # every command is registered on main
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda case: run_case(case, tmp), corpus))


def test_corpus_is_large(results):
    from mapper.app.commands import COMMANDS

    if "compile" in COMMANDS:
        assert len(results) >= 200


def test_every_case_answers_with_the_contract(results):
    failures = []
    for case, result, out in results:
        problems = []
        if result.returncode not in case.codes:
            problems.append(f"exit {result.returncode}, expected {sorted(case.codes)}")
        if "Traceback" in result.stderr or "internal error" in result.stderr:
            problems.append("traceback or internal error")
        if result.returncode == 2:
            lines = result.stderr.strip().splitlines()
            if len(lines) != 1 or not lines[0].startswith("error:"):
                problems.append(f"stderr is not one error line: {result.stderr[:300]!r}")
            if out.exists() and any(out.iterdir()):
                problems.append(f"files left in {out}: {sorted(p.name for p in out.iterdir())}")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def test_errors_name_the_problem(results):
    by_name = {case.name: result.stderr for case, result, _ in results}
    expectations = {
        "onnx_cycle": "cycle", "onnx_undefined_input": "never produced", "onnx_duplicate_output": "more than once",
        "onnx_stride_zero": "stride", "onnx_groups_not_dividing": "group", "onnx_conv_inside_if": "control-flow",
        "onnx_external_absolute": "absolute", "onnx_external_parent": "outside", "onnx_external_symlink_escape": "outside",
        "onnx_empty": "empty", "hardware_missing_array.rows": "array.rows", "hardware_extra_top": "turbo",
        "hardware_wrongtype_glb.banks": "glb.banks", "hardware_python_tag": "YAML",
        "bitstream_magic": "magic", "bitstream_version": "version", "bitstream_truncated_payload": "payload",
        "onnx_macs_overflow": "MACs", "onnx_symbolic_height": "symbolic",
        "report_schema_newer": "newer", "report_not_json": "JSON", "report_missing_layers": "layers",
        "report_no_such_layer": "no_such_layer", "option_batch_zero": "batch",
        "option_hardware_missing": "no such file",
        "simulate_weights_raw_short": "need 432", "onnx_weights_large_raw_short": "need 43200",
        "inspect_weights_typed_short": "10 values", "hardware_array_too_small": "no layer of the model fits",
        "hardware_buffer_too_small": "no layer of the model fits",
        "hardware_glb_banks_huge": "glb.banks", "hardware_array_pes_huge": "PEs exceeds",
    }
    for name, needle in expectations.items():
        if name in by_name:
            assert needle in by_name[name], (name, by_name[name])
    assert not Path("/tmp/eyeriss_pwned").exists()
