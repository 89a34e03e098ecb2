"""The report's tools for users and other programs: --csv, --layer by suffix or row, --version, units,
partial compiles said in the totals line, and decode naming the hardware a bitstream was made for."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cost_models.hardware import load_hardware
from mapper import compile_model
from mapper.search.result import as_ms
from mapper.app import cli
from mapper.app.report import flatten
from mapper.app.totals import NetworkBudget

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
LARGE = ROOT / "cost_models" / "data" / "large.yaml"


# pytest -n auto --dist loadgroup: this file's tests share module fixtures, so one worker runs them all.
pytestmark = pytest.mark.xdist_group("test_report_tools")


@pytest.fixture(scope="module")
def lenet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lenet") / "out"
    compile_model(EXAMPLES / "lenet5.onnx").save(out)
    return out


def test_csv_has_one_row_per_layer_with_every_figure(lenet, capsys):
    assert cli.main(["report", str(lenet), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    report = json.loads((lenet / "report.json").read_text())
    assert [row["name"] for row in rows] == [layer["name"] for layer in report["layers"]]
    for row, layer in zip(rows, report["layers"]):
        flat = flatten(layer)
        assert set(flat) <= set(row)  # every figure of the entry has a column
        assert row["energy.by_level.pj.dram"] == str(layer["energy"]["by_level"]["pj"]["dram"])
        assert row["spads.filter_spad.0"] == str(layer["spads"]["filter_spad"][0])
        assert all(row[key] == ("" if value is None else str(value)) for key, value in flat.items())


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "plain"])
def test_a_csv_cell_from_the_model_never_becomes_a_formula(lenet, tmp_path, capsys, name):
    report = json.loads((lenet / "report.json").read_text())
    report["layers"][0]["name"] = name
    edited = tmp_path / "report.json"
    edited.write_text(json.dumps(report))
    assert cli.main(["report", str(edited), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    cell = rows[0]["name"]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    shown = name.replace("\t", "\\t")  # a tab is shown escaped, as every string from an input file
    assert cell == ("'" + shown if shown.startswith(("=", "+", "-", "@")) else shown)
    assert rows[0]["energy.total_pj"] == str(report["layers"][0]["energy"]["total_pj"])  # numbers stay numbers


def test_csv_and_json_together_are_refused(lenet, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["report", str(lenet), "--csv", "--json"])
    assert exited.value.code == 2 and "not allowed with argument --csv" in capsys.readouterr().err


def test_layer_by_unique_suffix_or_row_number(lenet, capsys):
    assert cli.main(["report", str(lenet), "--layer", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "conv2"
    assert cli.main(["report", str(lenet), "--layer", "m3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "gemm3"
    assert cli.main(["report", str(lenet), "--layer", "1", "--json"]) == 0  # a row number, not a suffix
    assert json.loads(capsys.readouterr().out)["name"] == "conv1"
    assert cli.main(["report", str(lenet), "--layer", "v2"]) == 0
    assert cli.main(["report", str(lenet), "--layer", "nope"]) == 2
    assert "rows 1-5" in capsys.readouterr().err


def test_an_ambiguous_suffix_is_refused_with_the_candidates():
    from cost_models.errors import InputError
    from mapper.app.report_view import resolve_layer

    report = {"layers": [{"name": "/inception3a/branch1/conv/Conv"}, {"name": "/inception3b/branch1/conv/Conv"},
                         {"name": "/inception3b/branch2/conv/Conv"}]}
    assert resolve_layer(report, "3a/branch1/conv/Conv")["name"].startswith("/inception3a")
    assert resolve_layer(report, "branch2/conv/Conv") is report["layers"][2]
    with pytest.raises(InputError, match="2 layers end with 'branch1/conv/Conv'.*inception3a.*inception3b"):
        resolve_layer(report, "branch1/conv/Conv")


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    from importlib.metadata import version

    assert capsys.readouterr().out.strip() == f"eyeriss {version('eyeriss-compiler')}"


def test_decode_names_the_hardware_a_bitstream_was_made_for(lenet, tmp_path, capsys):
    bits = sorted((lenet / "bitstreams").iterdir())[0]
    assert cli.main(["decode", str(bits), "--hardware", str(LARGE)]) == 2
    err = capsys.readouterr().err
    assert "made for hardware 'eyeriss' (12x14 PEs" in err and "--hardware" in err and "eyeriss.yaml" in err
    large = tmp_path / "large"
    compile_model(EXAMPLES / "lenet5.onnx", hardware=LARGE).save(large)
    other = sorted((large / "bitstreams").iterdir())[0]
    assert cli.main(["decode", str(other)]) == 2  # larger than the default chip's file: the header is read first
    err = capsys.readouterr().err
    assert f"made for hardware '{load_hardware(LARGE).name}' (32x32 PEs" in err and str(LARGE.name) in err
    assert cli.main(["decode", str(other), "--hardware", str(LARGE)]) == 0


def test_a_budget_nothing_meets_is_one_error_naming_it_and_the_fastest_latency(tmp_path, capsys):
    out = tmp_path / "o"
    assert cli.main(["compile", str(EXAMPLES / "lenet5.onnx"), "-o", str(out), "--network-latency-ms", "0.001"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no valid mapping" not in errors[0]
    assert "latency bound of 0.001 ms (200 cycles at 200 MHz)" in errors[0]
    fastest = compile_model(EXAMPLES / "lenet5.onnx", objective="latency", compare_spaces=False, program=False)
    cycles = fastest.totals.latency.total_cycles  # lenet5's fastest, as compiled
    assert f"the fastest mappings need {as_ms(cycles, fastest.hardware)}" in errors[0]
    assert "latency bound" not in captured.out and "PARTIAL" not in captured.out
    assert not out.exists()  # nothing written


def test_over_budget_fastest_writes_the_fastest_mappings_and_exits_1(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["compile", str(EXAMPLES / "lenet5.onnx"), "-o", str(out), "--network-latency-ms", "0.001"]
    assert cli.main([*argv, "--over-budget", "fastest"]) == 1
    report = json.loads((out / "report.json").read_text())
    fastest = compile_model(EXAMPLES / "lenet5.onnx", objective="latency", compare_spaces=False, program=False)
    assert not report["unmapped"] and report["totals"]["network_budget"] == {"ms": 0.001, "met": False}
    assert report["totals"]["latency"]["total_cycles"] == fastest.totals.latency.total_cycles
    assert f"over the network latency budget: {fastest.totals.latency.total_ms:.6g} ms > 0.001 ms" \
        in capsys.readouterr().out
    met = compile_model(EXAMPLES / "lenet5.onnx", network_latency_ms=1.0, compare_spaces=False, program=False)
    assert met.totals.network_budget == NetworkBudget(ms=1.0, met=True) and not met.over_budget


def test_searches_stopped_far_from_their_bounds_say_so_and_exit_4(tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    argv = ["compile", str(EXAMPLES / "lenet5.onnx"), "-o", str(out), "--no-cache"]
    assert cli.main(argv) == 0
    proven = json.loads((out / "report.json").read_text())["totals"]["search"]
    assert proven == {"layers": 5, "proven": 5, "gap": 0.0, "worst": None, "far": False, "pinned": 0}
    assert "not proven" not in capsys.readouterr().out
    import mapper.search.cpsat as search_stages

    for stage in ("SOLO_WORK", "PORTFOLIO_WORK", "FALLBACK_WORK"):  # every stage starved: nothing is proven
        monkeypatch.setattr(search_stages, stage, 1e-9)
    assert cli.main(argv) == 4
    search = json.loads((out / "report.json").read_text())["totals"]["search"]
    assert search["proven"] < 5 and search["far"] and search["gap"] > 0.05 and search["worst"]["gap"] > 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the console's width
    assert f"search: {5 - search['proven']} of 5 layers not proven optimal; the network's energy may be up to {100 * search['gap']:.1f} %" in printed


def test_partial_compile_says_so_in_its_totals(tmp_path, capsys):
    result = compile_model(EXAMPLES / "lenet5.onnx", layer_latency_ms=0.02)
    missing = [entry.name for entry in result.layers if not entry.ok]
    mapped = [entry for entry in result.layers if entry.ok]
    assert missing and mapped  # the bound is between the fastest and the slowest layer
    report = result.report()
    assert report["totals"]["missing"] == missing and report["totals"]["layers"] == len(mapped)
    assert report["totals"]["energy"]["total_pj"] == pytest.approx(sum(e.cost.energy_pj for e in mapped), abs=0.01)
    result.save(tmp_path / "o")
    assert cli.main(["report", str(tmp_path / "o")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"PARTIAL, {len(mapped)} of 5 layers mapped (no mapping: {', '.join(missing)}); totals over the " \
           f"{len(mapped)} mapped only:" in out


@pytest.mark.parametrize("damage, needle", [
    (lambda spaces: spaces.pop("jssc"), "missing key 'jssc'"),
    (lambda spaces: spaces.update(full_gain="2.6%"), "key 'full_gain' should be"),
    (lambda spaces: spaces["full"].update(mapping=[1, 2]), "mapping_spaces: full"),
])
def test_the_reader_checks_the_mapping_spaces(lenet, tmp_path, capsys, damage, needle):
    """A report's ``mapping_spaces`` is read back, and a damaged one is bad input naming where, not a crash."""
    report = json.loads((lenet / "report.json").read_text())
    assert cli.main(["report", str(lenet)]) == 0 and " gain " in capsys.readouterr().out
    damage(report["layers"][0]["mapping_spaces"])
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "layers[0]" in err and len(err.strip().splitlines()) == 1


def test_row_numbers_and_file_numbers_agree(lenet, capsys):
    """Row # in the terminal table, ``--layer #``, the layer view and the shipped file names count alike (issue 31)."""
    assert cli.main(["report", str(lenet)]) == 0
    table = capsys.readouterr().out
    shipped = sorted(p.name for p in (lenet / "bitstreams").iterdir())
    for file in shipped:
        number, name = file.removesuffix(".bin").split("_", 1)
        assert any(line.split()[:2] == [str(int(number)), name] for line in table.splitlines()), (file, table)
        assert cli.main(["report", str(lenet), "--layer", str(int(number))]) == 0
        view = capsys.readouterr().out
        assert view.startswith(name) and f"row {int(number)}: bitstreams/{file}" in view
    weights = sorted(p.name.removesuffix(".npy") for p in (lenet / "program" / "weights").iterdir())
    assert weights == [file.removesuffix(".bin") for file in shipped]
