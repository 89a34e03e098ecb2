"""Hostile input through the real CLI: one error line, the right exit code, no traceback, no files left.

Each case runs in-process through ``cli.main`` (``harness.run_cli``) in a fresh working folder that holds its
``{out}``; ``tests/mapper/app/test_cli.py`` keeps the subprocess checks of the process's own exit path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import Case, cases
from harness import Run, contract_problems, run_cli
from mapper.app.commands import COMMANDS


def run_case(case: Case, tmp: Path) -> Run:
    work = tmp / "runs" / case.name
    return run_cli([a.replace("{out}", str(work / "out")) for a in case.args], work)


# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_fuzz")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[Case]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    return tmp, cases(tmp)


@pytest.fixture(scope="module")
def results(corpus) -> dict[str, tuple[Case, Run]]:
    tmp, every = corpus
    return {case.name: (case, run_case(case, tmp)) for case in every}


def test_corpus_is_large_and_names_are_unique(corpus):
    _, every = corpus
    assert len(every) >= 200
    assert len({case.name for case in every}) == len(every)  # a case's folder and its expectations go by name


def test_corpus_covers_every_command(corpus):
    _, every = corpus
    assert {case.args[0] for case in every} == set(COMMANDS)


def test_every_case_answers_with_the_contract(results):
    failures = [f"{name}: {'; '.join(problems)}" for name, (case, run) in results.items()
                if (problems := contract_problems(run, case.codes))]
    assert not failures, "\n".join(failures)


EXPECTATIONS = {
    "onnx_cycle": "cycle", "onnx_undefined_input": "never produced", "onnx_duplicate_output": "more than once",
    "onnx_stride_zero": "stride", "onnx_groups_not_dividing": "group", "onnx_conv_inside_if": "control-flow",
    "onnx_external_absolute": "absolute", "onnx_external_parent": "outside", "onnx_external_symlink_escape": "outside",
    "onnx_empty": "empty", "hardware_missing_array.rows": "array.rows", "hardware_extra_top": "turbo",
    "hardware_wrongtype_glb.banks": "glb.banks", "hardware_python_tag": "YAML",
    "bitstream_magic": "magic", "bitstream_version": "version", "bitstream_truncated_payload": "payload",
    "onnx_macs_overflow": "MACs", "onnx_symbolic_height": "symbolic",
    "report_schema_newer": "newer", "report_not_json": "JSON", "diff_missing_host_ops": "host_ops", "report_missing_layers": "layers",
    "report_no_such_layer": "no_such_layer", "option_batch_zero": "batch",
    "option_hardware_missing": "no such file",
    "simulate_weights_raw_short": "need 432", "onnx_weights_large_raw_short": "need 43200",
    "inspect_weights_typed_short": "10 values", "hardware_array_too_small": "no layer of the model fits",
    "hardware_buffer_too_small": "no layer of the model fits",
    "hardware_glb_banks_huge": "glb.banks", "hardware_array_pes_huge": "PEs exceeds",
    "run_inputs_shape": "shape", "run_inputs_nan": "NaN", "run_inputs_object": "numeric",
    "run_inputs_wrong_name": "image", "run_folder_weights_changed": "was changed",
    "run_folder_bitstream_changed": "was changed", "run_folder_bias_missing": "missing",
    "run_folder_manifest_missing": "manifest", "run_output_not_npy": ".npy",
}


@pytest.mark.parametrize("name, needle", sorted(EXPECTATIONS.items()))
def test_errors_name_the_problem(results, name, needle):
    """A renamed or dropped case fails here (KeyError), it is not skipped."""
    _, run = results[name]
    assert run.code == 2 and needle in run.stderr, run.stderr


def test_no_case_ran_code_from_its_input(results):
    assert results["hardware_python_tag"][1].code == 2
    assert not Path("/tmp/eyeriss_pwned").exists()
