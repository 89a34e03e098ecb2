"""Malformed inputs made from valid ones: ONNX models, hardware files, bitstreams, reports.

Every case is (name, command line, expected exit codes).  Generation is seeded,
so the corpus is the same on every run.  Mutations that may leave a file valid
(random bit flips) accept success too; every other case must be refused.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HARDWARE = ROOT / "cost_models" / "data" / "eyeriss.yaml"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]  # CLI arguments; "{out}" is replaced by a fresh output folder
    codes: frozenset[int] = frozenset({2})


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _conv_model(**conv_attrs) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **conv_attrs)
    graph = helper.make_graph([node], "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def structural_models(tmp: Path) -> list[tuple[str, Path]]:
    """Hand-made broken graphs: each names one problem the frontend must report."""
    out: list[tuple[str, Path]] = []
    add = lambda name, model: out.append((name, _save(model, tmp / f"{name}.onnx")))  # noqa: E731

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    # A cycle: a -> b -> a.
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    add("cycle", helper.make_model(helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w]),
                                   opset_imports=[helper.make_opsetid("", 17)]))
    nodes = [helper.make_node("Conv", ["ghost", "w"], ["y"], name="conv")]
    add("undefined_input", helper.make_model(helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w]),
                                             opset_imports=[helper.make_opsetid("", 17)]))
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c1"), helper.make_node("Relu", ["x"], ["y"], name="c2")]
    add("duplicate_output", helper.make_model(helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w]),
                                              opset_imports=[helper.make_opsetid("", 17)]))
    bad_attr = _conv_model()
    bad_attr.graph.node[0].attribute.extend([helper.make_attribute("strides", [1.5, 2.5])])
    add("attribute_wrong_type", bad_attr)
    group_str = _conv_model()
    group_str.graph.node[0].attribute.extend([helper.make_attribute("group", "two")])
    add("group_is_a_string", group_str)
    add("stride_zero", _conv_model(strides=[0, 0]))
    add("pads_beyond_kernel", _conv_model(pads=[5, 5, 5, 5]))
    add("negative_pads", _conv_model(pads=[-1, 0, 0, 0]))
    add("groups_not_dividing", _conv_model(group=2))
    for name, shape in (("zero_dim", [1, 3, 0, 8]), ("negative_dim", [1, 3, -4, 8]), ("huge_dims", [1, 3, 2**40, 2**40]),
                        ("symbolic_height", [1, 3, "h", 8])):
        m = _conv_model()
        m.graph.input[0].CopyFrom(_vi("x", shape))
        add(name, m)
    huge = _conv_model()
    huge.graph.input[0].CopyFrom(_vi("x", [2**20, 3, 60000, 60000]))
    add("macs_overflow", huge)
    # Control flow with a convolution inside.
    then = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["t"], name="inner")], "then", [], [_vi("t", None)])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"], name="inner2")], "else", [], [_vi("e", None)])
    cond = numpy_helper.from_array(np.array(True), "cond")
    nodes = [helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then, else_branch=other)]
    add("conv_inside_if", helper.make_model(helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w, cond]),
                                            opset_imports=[helper.make_opsetid("", 17)]))
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"], name="b0"),
                              helper.make_node("Conv", ["x", "w"], ["v"], name="inner_loop_conv")], "body",
                             [_vi("i", [], TensorProto.INT64), _vi("c", [], TensorProto.BOOL)],
                             [_vi("c_out", [], TensorProto.BOOL), _vi("v", None)])
    trip = numpy_helper.from_array(np.array(2, np.int64), "trip")
    nodes = [helper.make_node("Loop", ["trip", "cond"], ["y"], name="loop", body=body)]
    add("conv_inside_loop", helper.make_model(helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)],
                                                                [w, cond, trip]), opset_imports=[helper.make_opsetid("", 17)]))
    future = _conv_model()
    future.opset_import[0].version = 99
    add("opset_from_the_future", future)
    no_graph = onnx.ModelProto()
    no_graph.ir_version = 8
    add("no_graph", no_graph)
    # External data that escapes the model's folder.
    for name, location in (("external_absolute", "/etc/hostname"), ("external_parent", "../../outside.bin")):
        m = _conv_model()
        tensor = m.graph.initializer[0]
        tensor.ClearField("raw_data")
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        tensor.external_data.add(key="location", value=location)
        add(name, m)
    escape = tmp / "escape"
    escape.mkdir(exist_ok=True)
    (tmp / "secret.bin").write_bytes(b"\0" * 432)
    link = escape / "weights.bin"
    if not link.exists():
        link.symlink_to(tmp / "secret.bin")
    m = _conv_model()
    tensor = m.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="weights.bin")
    out.append(("external_symlink_escape", _save(m, escape / "model.onnx")))
    return out


def weight_mutants(tmp: Path) -> list[tuple[str, Path]]:
    """Weights whose data disagrees with their dims: small (kept) and large (skipped by the wire reader)."""
    out: list[tuple[str, Path]] = []
    for name, shape, edit in (
        ("raw_short", (4, 3, 3, 3), lambda t: setattr(t, "raw_data", t.raw_data[:40])),
        ("raw_long", (4, 3, 3, 3), lambda t: setattr(t, "raw_data", t.raw_data + b"\0" * 4)),
        ("large_raw_short", (400, 3, 3, 3), lambda t: setattr(t, "raw_data", t.raw_data[:400])),
        ("typed_short", (4, 3, 3, 3), lambda t: (t.float_data.extend(np.frombuffer(t.raw_data, np.float32)[:10]),
                                                 t.ClearField("raw_data"))),
        ("no_data", (4, 3, 3, 3), lambda t: t.ClearField("raw_data")),
    ):
        model = _conv_model()
        tensor = model.graph.initializer[0]
        tensor.CopyFrom(numpy_helper.from_array(np.ones(shape, np.float32), "w"))
        edit(tensor)
        out.append((f"weights_{name}", _save(model, tmp / f"weights_{name}.onnx")))
    return out


def byte_mutants(tmp: Path, rng: random.Random) -> list[tuple[str, Path, bool]]:
    """(name, path, must_fail): empty, random bytes, truncations, bit flips."""
    out: list[tuple[str, Path, bool]] = []
    (tmp / "empty.onnx").write_bytes(b"")
    out.append(("empty", tmp / "empty.onnx", True))
    for i in range(10):
        path = tmp / f"random{i}.onnx"
        path.write_bytes(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4000))))
        out.append((f"random_bytes_{i}", path, True))
    sources = [EXAMPLES / "lenet5.onnx", EXAMPLES / "alexnet.onnx", EXAMPLES / "resnet18.onnx"]
    for source in sources:
        data = source.read_bytes()
        for i in range(10):
            cut = rng.randint(1, len(data) - 1)
            path = tmp / f"{source.stem}_cut{i}.onnx"
            path.write_bytes(data[:cut])
            # A cut can land on a message boundary and still parse; it must then fail later or succeed.
            out.append((f"truncated_{source.stem}_{cut}", path, False))
        for i in range(8):
            mutable = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                position = rng.randrange(len(mutable))
                mutable[position] ^= 1 << rng.randrange(8)
            path = tmp / f"{source.stem}_flip{i}.onnx"
            path.write_bytes(bytes(mutable))
            out.append((f"bitflip_{source.stem}_{i}", path, False))
    return out


def hardware_mutants(tmp: Path, rng: random.Random) -> list[tuple[str, Path]]:
    """Hardware files with a missing, extra, mistyped or impossible field, or not YAML at all."""
    base = yaml.safe_load(HARDWARE.read_text())
    out: list[tuple[str, Path]] = []

    def leaves(node, prefix=()):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from leaves(value, prefix + (key,))
            else:
                yield prefix + (key,)

    def write(name: str, mutate: Callable[[dict], None] | None = None, text: str | None = None) -> None:
        path = tmp / f"hw_{name}.yaml"
        if text is None:
            data = json.loads(json.dumps(base))
            mutate(data)
            text = yaml.safe_dump(data)
        path.write_text(text)
        out.append((name, path))

    def getp(data, keys):
        for key in keys[:-1]:
            data = data[key]
        return data

    for keys in leaves(base):
        dotted = ".".join(keys)
        write(f"missing_{dotted}", lambda d, k=keys: getp(d, k).pop(k[-1]))
        value = getp(base, keys)[keys[-1]]
        if isinstance(value, bool):
            write(f"wrongtype_{dotted}", lambda d, k=keys: getp(d, k).__setitem__(k[-1], "yes"))
        elif isinstance(value, (int, float)):
            write(f"wrongtype_{dotted}", lambda d, k=keys: getp(d, k).__setitem__(k[-1], "twelve"))
            if keys[-1] != "static_per_cycle":
                write(f"zero_{dotted}", lambda d, k=keys: getp(d, k).__setitem__(k[-1], 0))
            write(f"negative_{dotted}", lambda d, k=keys: getp(d, k).__setitem__(k[-1], -3))
    write("extra_top", lambda d: d.__setitem__("turbo", True))
    write("extra_nested", lambda d: d["array"].__setitem__("depth", 3))
    write("not_yaml", text="array: [rows: 12\n  cols: {{\n")
    write("not_a_mapping", text="- 1\n- 2\n")
    write("python_tag", text="!!python/object/apply:os.system ['echo pwned > /tmp/eyeriss_pwned']\n")
    write("empty", text="")
    write("array_too_wide_for_ids", lambda d: d["array"].__setitem__("cols", 4096))
    # Sizes the bitstream would spell out field by field: refused, not gigabytes allocated.
    write("glb_banks_huge", lambda d: d["glb"].__setitem__("banks", 2**30))
    write("array_pes_huge", lambda d: (d["array"].update(rows=4096, cols=4096),
                                       d["noc"].update(row_id_bits=16, col_id_bits=dict.fromkeys(d["noc"]["col_id_bits"], 16))))
    # Valid files on which no layer of the model can run at all: bad hardware, not a partial compile.
    write("buffer_too_small", lambda d: d["glb"].update(banks=1, bank_words=1))
    write("no_supported_stride", lambda d: d["limits"].__setitem__("vertical_strides", [4]))
    return out


def bitstream_mutants(tmp: Path, rng: random.Random) -> list[tuple[str, Path]]:
    """A valid AlexNet CONV1 configuration with its header or payload damaged (every damage is caught by the CRC)."""
    from cost_models import LayerShape, Mapping, default_hardware
    from mapper.chip.bitstream import HEADER, config_for, encode

    hw = default_hardware()
    layer = LayerShape(1, 96, 3, 227, 227, 11, 11, stride=(4, 4))
    good = encode(config_for(layer, Mapping(n=1, e=7, p=16, q=1, r=1, t=2, g=1, m=96), hw), hw, 0)
    out: list[tuple[str, Path]] = []

    def write(name: str, data: bytes) -> None:
        path = tmp / f"bits_{name}.bin"
        path.write_bytes(data)
        out.append((name, path))

    write("empty", b"")
    write("magic", b"XXXX" + good[4:])
    write("version", good[:4] + bytes([good[4] ^ 0x7F]) + good[5:])
    write("truncated_header", good[: HEADER.size - 3])
    write("truncated_payload", good[:-5])
    write("extended", good + b"\0\0")
    for i in range(20):
        data = bytearray(good)
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
        write(f"bitflip_{i}", bytes(data))
    return out


def report_mutants(tmp: Path, rng: random.Random) -> list[tuple[str, Path, frozenset[int], tuple[str, ...]]]:
    """A real LeNet-5 report damaged: not JSON, truncated, newer schema, missing or mistyped keys, random values."""
    from mapper import compile_model

    good = compile_model(EXAMPLES / "lenet5.onnx", time_limit=20).report()
    refused, survives = frozenset({2}), frozenset({0, 2})
    out: list[tuple[str, Path, frozenset[int], tuple[str, ...]]] = []

    def write(name: str, text: str | bytes, codes: frozenset[int] = refused, extra: tuple[str, ...] = ()) -> None:
        path = tmp / f"report_{name}.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        out.append((name, path, codes, extra))

    def mutated(name: str, mutate: Callable[[dict], None], codes: frozenset[int] = refused,
                extra: tuple[str, ...] = ()) -> None:
        data = json.loads(json.dumps(good))
        mutate(data)
        write(name, json.dumps(data), codes, extra)

    text = json.dumps(good)
    (tmp / "report_good.json").write_text(text)  # the intact side of the diff cases (not a case itself)
    write("empty", "")
    write("not_json", "{\"schema\": ")
    write("binary", bytes(rng.getrandbits(8) for _ in range(300)))
    write("top_level_list", "[1, 2]")
    for i in range(10):
        write(f"truncated_{i}", text[: rng.randrange(1, len(text) - 1)])
    mutated("schema_newer", lambda d: d.__setitem__("schema", "eyeriss-report/2"))
    mutated("schema_other", lambda d: d.__setitem__("schema", "timeloop-stats/1"))
    mutated("schema_missing", lambda d: d.pop("schema"))
    for key in ("model", "batch", "objective", "hardware", "layers", "host_ops", "totals"):
        mutated(f"missing_{key}", lambda d, k=key: d.pop(k))
        mutated(f"wrongtype_{key}", lambda d, k=key: d.__setitem__(k, "x" if not isinstance(d[k], str) else 7))
    for key in ("name", "shape", "macs", "solver", "mapping", "energy", "latency", "spads", "lower_bound"):
        mutated(f"layer_missing_{key}", lambda d, k=key: d["layers"][0].pop(k),
                extra=("--layer", good["layers"][0]["name"]))
    mutated("layer_not_object", lambda d: d["layers"].__setitem__(0, 5))
    mutated("layer_view_bad_hardware", lambda d: d["hardware"]["description"]["array"].__setitem__("rows", -1),
            extra=("--layer", good["layers"][0]["name"]))
    mutated("layer_view_bad_shape", lambda d: d["layers"][0]["shape"].__setitem__("groups", 7),
            extra=("--layer", good["layers"][0]["name"]))
    mutated("layer_view_bad_mapping", lambda d: d["layers"][0]["mapping"].__setitem__("e", "wide"),
            extra=("--layer", good["layers"][0]["name"]))
    write("no_such_layer", text, extra=("--layer", "no_such_layer"))

    def leaves(node, path=()):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from leaves(value, path + (index,))
        else:
            yield path

    paths = sorted(leaves(good), key=str)
    for i in range(30):  # any value anywhere replaced: the viewer renders it or refuses it, never crashes
        target = paths[rng.randrange(len(paths))]
        replacement = rng.choice([None, -1, 0, "x", [], {}, 1e308, True])

        def mutate(d, target=target, replacement=replacement):
            node = d
            for key in target[:-1]:
                node = node[key]
            node[target[-1]] = replacement

        layer = ("--layer", good["layers"][0]["name"]) if i % 2 else ()
        mutated(f"random_value_{i}", mutate, survives, layer)
    return out


def option_cases() -> list[Case]:
    """Bad command-line values for compile: usage errors, exit 2 before any work."""
    model = str(EXAMPLES / "lenet5.onnx")
    bad = {
        "batch_zero": ("--batch", "0"), "batch_word": ("--batch", "many"), "time_limit_negative": ("--time-limit", "-1"),
        "time_limit_nan": ("--time-limit", "nan"), "zero_fraction_one": ("--zero-fraction", "1"),
        "objective_unknown": ("--objective", "area"), "latency_zero": ("--network-latency-ms", "0"),
        "max_batch_zero": ("--batch", "auto", "--max-batch", "0"), "hardware_missing": ("--hardware", "/nonexistent.yaml"),
        "model_missing": (), "latency_objective_with_bound": ("--objective", "latency", "--layer-latency-ms", "5"),
    }
    out = []
    for name, extra in bad.items():
        target = "/nonexistent/model.onnx" if name == "model_missing" else model
        out.append(Case(f"option_{name}", ("compile", target, "-o", "{out}", *extra)))
    return out


def cases(tmp: Path, seed: int = 2026) -> list[Case]:
    """The whole corpus."""
    rng = random.Random(seed)
    out: list[Case] = []
    for index, (name, path) in enumerate(structural_models(tmp)):
        out.append(Case(f"onnx_{name}", ("compile", str(path), "-o", "{out}")))
        out.append(Case(f"inspect_{name}", ("inspect", str(path))))
        if index % 3 == 0:  # simulate shares the frontend; a sample shows it keeps the contract too
            out.append(Case(f"simulate_{name}", ("simulate", str(path))))
    for name, path in weight_mutants(tmp):
        out.append(Case(f"onnx_{name}", ("compile", str(path), "-o", "{out}")))
        out.append(Case(f"inspect_{name}", ("inspect", str(path))))
        out.append(Case(f"simulate_{name}", ("simulate", str(path))))
    for name, path, must_fail in byte_mutants(tmp, rng):
        codes = frozenset({2}) if must_fail else frozenset({0, 1, 2, 4})  # 4: the 5 s clock cut a search
        out.append(Case(f"onnx_{name}", ("compile", str(path), "-o", "{out}", "--time-limit", "5"), codes))
    for name, path in bitstream_mutants(tmp, rng):
        out.append(Case(f"bitstream_{name}", ("decode", str(path))))
    for name, path in hardware_mutants(tmp, rng):
        out.append(Case(f"hardware_{name}", ("compile", str(EXAMPLES / "lenet5.onnx"), "-o", "{out}",
                                             "--hardware", str(path))))
    tiny = yaml.safe_load(HARDWARE.read_text())
    tiny["array"].update(rows=2, cols=2)
    (tmp / "hw_array_2x2.yaml").write_text(yaml.safe_dump(tiny))
    conv_only = _save(_conv_model(), tmp / "conv3x3.onnx")  # R = 3 > 2 rows
    out.append(Case("hardware_array_too_small", ("compile", str(conv_only), "-o", "{out}",
                                                 "--hardware", str(tmp / "hw_array_2x2.yaml"))))
    for index, (name, path, codes, extra) in enumerate(report_mutants(tmp, rng)):
        out.append(Case(f"report_{name}", ("report", str(path), *extra), codes))
        if index % 3 == 0 and not extra:  # diff reads reports with the same reader: a sample, damaged on either side
            pair = (str(path), str(tmp / "report_good.json"))
            out.append(Case(f"diff_{name}", ("diff", *(pair if index % 2 else pair[::-1])), codes))
    out.append(Case("report_missing_folder", ("report", str(tmp / "no_such_folder"))))
    out.extend(option_cases())
    out.extend(sweep_cases(tmp))
    out.extend(run_cases(tmp))
    out.extend(mapping_file_cases(tmp))
    return out


def mapping_file_cases(tmp: Path) -> list[Case]:
    """Hostile mapping files (docs/mapping-file.md) for ``evaluate`` and ``compile --mapping`` on LeNet-5."""
    good = "n: 1\ne: 1\np: 1\nq: 1\nr: 1\nt: 1\ng: 1\nm: 1\n"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")) + "conv1: *i\n"
    files: dict[str, str | bytes] = {
        "not_yaml": b"\x00\xff\xfe binary \x1b[31m",
        "alias_bomb": bomb,
        "top_level_list": "- conv1\n- conv2\n",
        "markup_and_escape_name": "'[bold red]x[/]\\x1b[2J': {" + good.replace("\n", ", ").rstrip(", ") + "}\n",
        "huge_integer": "conv1: {n: 1, e: 1, p: 1, q: 1, r: 1, t: 1, g: 1, m: " + "9" * 400 + "}\n",
        "nan_field": "conv1: {n: .nan, e: 1, p: 1, q: 1, r: 1, t: 1, g: 1, m: 1}\n",
        "deep_nesting": "conv1: " + "[" * 200 + "]" * 200 + "\n",
    }
    out = []
    for name, text in files.items():
        path = tmp / f"mapping_{name}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        for command in ("evaluate", "compile"):
            out.append(Case(f"{command}_mapping_{name}", (command, str(EXAMPLES / "lenet5.onnx"), "-o", "{out}",
                                                            "--mapping", str(path))))
    out.append(Case("evaluate_mapping_missing_file", ("evaluate", str(EXAMPLES / "lenet5.onnx"), "-o", "{out}",
                                                     "--mapping", str(tmp / "no_such_mapping.yaml"))))
    return out


def _compiled_conv(tmp: Path) -> Path:
    """A runnable compile folder of the one-Conv model (small: a second to compile)."""
    from mapper import compile_model

    model = _save(_conv_model(pads=[1, 1, 1, 1]), tmp / "run_conv.onnx")
    return compile_model(model, cache=False, compare_spaces=False).save(tmp / "run_folder")


def run_cases(tmp: Path) -> list[Case]:
    """eyeriss run on bad inputs and on damaged folders: one error each, nothing written."""
    folder = _compiled_conv(tmp)
    good = np.zeros((1, 3, 8, 8), np.float32)
    inputs = {"shape": np.zeros((1, 3, 9, 8), np.float32), "rank": np.zeros((3, 8, 8), np.float32),
              "empty": np.zeros((0, 3, 8, 8), np.float32), "strings": np.array([["a"]]),
              "complex": good.astype(np.complex64), "nan": np.full_like(good, np.nan),
              "inf": np.full_like(good, -np.inf), "object": np.array([None, 1], dtype=object)}
    out = []
    for name, array in inputs.items():
        np.save(tmp / f"run_{name}.npy", array, allow_pickle=True)
        out.append(Case(f"run_inputs_{name}", ("run", str(folder), "--inputs", str(tmp / f"run_{name}.npy"),
                                               "--output", "{out}/y.npy")))
    np.savez(tmp / "run_wrong_name.npz", image=good)
    np.save(tmp / "run_good.npy", good)
    (tmp / "run_truncated.npy").write_bytes((tmp / "run_good.npy").read_bytes()[:100])
    (tmp / "run_garbage.npy").write_bytes(b"\x00garbage" * 10)
    for name in ("wrong_name.npz", "truncated.npy", "garbage.npy", "missing.npy"):
        out.append(Case(f"run_inputs_{name.split('.')[0]}", ("run", str(folder), "--inputs", str(tmp / f"run_{name}"))))
    good_args = ("--inputs", str(tmp / "run_good.npy"))
    out.append(Case("run_output_not_npy", ("run", str(folder), *good_args, "--output", "{out}/y.txt")))
    out.append(Case("run_folder_missing", ("run", str(tmp / "no_such_folder"), *good_args)))
    for name, damage in _folder_damages().items():
        target = tmp / f"run_folder_{name}"
        shutil.copytree(folder, target)
        damage(target)
        out.append(Case(f"run_folder_{name}", ("run", str(target), *good_args)))
    return out


def _folder_damages() -> dict[str, Callable[[Path], None]]:
    def flip(relative: str, offset: int = -1) -> Callable[[Path], None]:
        def damage(folder: Path) -> None:
            data = bytearray((folder / relative).read_bytes())
            data[offset] ^= 1
            (folder / relative).write_bytes(bytes(data))
        return damage

    def remove(relative: str) -> Callable[[Path], None]:
        return lambda folder: (folder / relative).unlink()

    return {"weights_changed": flip("program/weights/001_conv.npy"),
            "bitstream_changed": flip("bitstreams/001_conv.bin", 30),
            "program_changed": flip("program/program.json", 20), "host_changed": flip("program/host.onnx"),
            "bias_missing": remove("program/bias/001_conv.npy"), "manifest_missing": remove("manifest.json")}


def sweep_cases(tmp: Path) -> list[Case]:
    """Bad sweep specs (mapper/app/sweep/spec.py): each one error naming the field, nothing written."""
    lenet = str(EXAMPLES / "lenet5.onnx")
    good = {"vary": {"array.rows": [6, 12]}, "networks": [{"model": lenet, "batch": 1}]}
    bad = {
        "not_a_mapping": "[1, 2]",
        "missing_vary": json.dumps({"networks": good["networks"]}),
        "unknown_field": json.dumps(good | {"colour": 1}),
        "vary_unknown": json.dumps(good | {"vary": {"array.depth": [1]}}),
        "vary_empty_range": json.dumps(good | {"vary": {"glb.banks": {"from": 9, "to": 1}}}),
        "vary_float": json.dumps(good | {"vary": {"glb.banks": [1.5]}}),
        "vary_too_many": json.dumps(good | {"vary": {"array.rows": {"from": 1, "to": 10**7}}}),
        "network_missing": json.dumps(good | {"networks": [{"model": "nope.onnx"}]}),
        "network_batch": json.dumps(good | {"networks": [{"model": lenet, "batch": -3}]}),
        "objective": json.dumps(good | {"objective": "speed"}),
        "constraint_nan": json.dumps(good | {"constraints": {"max_area_mm2": float("nan")}}),
        "constraint_unknown": json.dumps(good | {"constraints": {"max_joules": 1}}),
        "base_missing": json.dumps(good | {"base": "nope.yaml"}),
        "yaml_tag": "!!python/object:os.system {}",
    }
    out = []
    for name, text in bad.items():
        path = tmp / f"sweep_{name}.yaml"
        path.write_text(text)
        out.append(Case(f"sweep_{name}", ("sweep", str(path), "-o", "{out}")))
    path = tmp / "sweep_good.yaml"
    path.write_text(json.dumps(good))
    out.append(Case("sweep_dask_without_address", ("sweep", str(path), "-o", "{out}", "--executor", "dask")))
    return out
