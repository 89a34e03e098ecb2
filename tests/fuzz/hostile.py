"""Hostile inputs, second round: one generator per family of attack (issue 20), each its own cases.

Families: ``attributes`` (node attributes and arity), ``tensors`` (data types, value fields, sizes),
``external`` (external data that is no plain file of the right size), ``injection`` (control
sequences and rich markup in every string that reaches the terminal), ``sizes`` (inputs that make work
grow: long names, long chains, deep nesting, huge numbers), ``special`` (FIFOs, devices, folders,
sparse files where a file is read), ``output`` (``-o`` paths that cannot be written, folders holding
files that are not ours), ``yaml`` (hardware files), ``report`` (reports), ``options`` (the command
line itself), ``graph`` (structures that made work quadratic or memory explode, or names collide).  A case expects exit 2 with one error line (``needle`` in it), unless it lists other
codes: the documented right result, e.g. a compile that succeeds while printing escaped names.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import yaml
from onnx import AttributeProto, TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HARDWARE = ROOT / "cost_models" / "data" / "eyeriss.yaml"
OK, REFUSED = frozenset({0}), frozenset({2})
# Every control sequence an attacker would try: CSI colour and screen clear, OSC 52 (writes the
# clipboard), OSC 8 (a hyperlink), BEL, a carriage return that overwrites the line, a bidi override.
NASTY = ("\x1b[31mred\x1b[0m", "\x1b]52;c;cHduZWQ=\x07", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "bell\x07",
         "over\rwrite", "\u202eevil", "[/]", "[bold red]x[/bold red]", "[link=http://evil]x[/link]")


@dataclass(frozen=True)
class Hostile:
    family: str
    name: str
    args: tuple[str, ...]  # "{out}" is replaced by a fresh output folder
    codes: frozenset[int] = REFUSED
    needle: str | None = None  # a word the error line must hold
    heavy: bool = False  # large in memory or time: run in the one child process that measures both (test_hostile)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, initializers, outputs=None, opset=17, name="g") -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs or [_vi("y", None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _conv(attrs=(), inputs=("x", "w"), weight=None, node_name="conv", x_type=TensorProto.FLOAT) -> onnx.ModelProto:
    w = weight if weight is not None else numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", list(inputs), ["y"], name=node_name)
    node.attribute.extend(attrs)
    return _model([node], [_vi("x", [1, 3, 8, 8], x_type)], [w])


def _attr(name: str, kind: int, **fields) -> AttributeProto:
    attribute = AttributeProto(name=name, type=kind)
    for key, value in fields.items():
        if isinstance(value, list):
            getattr(attribute, key).extend(value)
        elif isinstance(value, onnx.GraphProto) or isinstance(value, onnx.TensorProto):
            getattr(attribute, key).CopyFrom(value)
        else:
            setattr(attribute, key, value)
    return attribute


def chain(op: str, length: int) -> onnx.ModelProto:
    """``length`` nodes of ``op`` ("Conv": 4 -> 4 channels, 3x3, same padding; "Relu", then one Conv), one after
    another on a 1x4x8x8 input: the graph whose work must grow linearly with its length."""
    w = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w")
    graph = onnx.GraphProto(name="chain", input=[_vi("t0", [1, 4, 8, 8])], initializer=[w])
    for i in range(length):
        node = graph.node.add(op_type=op, input=[f"t{i}", "w"][:2 if op == "Conv" else 1], output=[f"t{i + 1}"],
                              name=f"{op[0].lower()}{i}")
        if op == "Conv":
            node.attribute.append(helper.make_attribute("pads", [1, 1, 1, 1]))
    if op != "Conv":
        graph.node.add(op_type="Conv", input=[f"t{length}", "w"], output=["y"], name="conv")
    graph.output.append(_vi(f"t{length}" if op == "Conv" else "y", None))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _save(model: onnx.ModelProto, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return str(path)


def attributes(tmp: Path) -> list[Hostile]:
    """Attributes of the wrong type, twice, UNDEFINED, unknown, function references; wrong arity."""
    g = helper.make_graph([], "sub", [], [])
    t = numpy_helper.from_array(np.array([1, 1], np.int64), "t")
    variants = {
        "strides_float": [_attr("strides", AttributeProto.FLOAT, f=1.5)],
        "strides_floats": [_attr("strides", AttributeProto.FLOATS, floats=[1.5, 2.5])],
        "dilations_tensor": [_attr("dilations", AttributeProto.TENSOR, t=t)],
        "kernel_shape_graph": [_attr("kernel_shape", AttributeProto.GRAPH, g=g)],
        "pads_string": [_attr("pads", AttributeProto.STRING, s=b"1 1 1 1")],
        "group_float": [_attr("group", AttributeProto.FLOAT, f=1.0)],
        "group_strings": [_attr("group", AttributeProto.STRINGS, strings=[b"1"])],
        "auto_pad_int": [_attr("auto_pad", AttributeProto.INT, i=1)],
        "undefined_type": [_attr("strides", AttributeProto.UNDEFINED)],
        "given_twice": [_attr("strides", AttributeProto.INTS, ints=[1, 1]), _attr("strides", AttributeProto.INTS,
                                                                                    ints=[2, 2])],
        "ref_attr_outside_function": [_attr("strides", AttributeProto.INTS, ref_attr_name="s")],
        "unknown_attribute": [_attr("turbo", AttributeProto.INT, i=1)],
        "empty_attribute_name": [_attr("", AttributeProto.INT, i=1)],
    }
    out = [Hostile("attributes", name, ("compile", _save(_conv(attrs), tmp / f"attr_{name}.onnx"), "-o", "{out}"))
           for name, attrs in variants.items()]
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    for name, inputs in (("conv_five_inputs", ("x", "w", "b", "b", "b")), ("conv_one_input", ("x",))):
        model = _conv(inputs=inputs)
        model.graph.initializer.append(b)
        out.append(Hostile("attributes", name, ("inspect", _save(model, tmp / f"{name}.onnx")), needle="input size"))
    two_out = _conv()
    two_out.graph.node[0].output.append("y2")
    out.append(Hostile("attributes", "conv_two_outputs", ("inspect", _save(two_out, tmp / "two_out.onnx"))))
    unknown = _conv()
    unknown.graph.node.append(helper.make_node("NoSuchOp", ["y"], ["z"], name="ghost"))
    out.append(Hostile("attributes", "unknown_standard_op", ("inspect", _save(unknown, tmp / "unknown_op.onnx")),
                       needle="NoSuchOp"))
    w = numpy_helper.from_array(np.ones((16, 4), np.float32), "w")
    gemm = _model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], [_vi("x", [1, 16])], [w])
    gemm.graph.node[0].attribute[0].type = AttributeProto.FLOAT
    out.append(Hostile("attributes", "gemm_transB_float", ("inspect", _save(gemm, tmp / "gemm_float.onnx"))))
    # ConvTranspose whose output_shape contradicts its input, kernel and strides.
    wt = numpy_helper.from_array(np.ones((3, 4, 3, 3), np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2], output_shape=[3, 5])
    out.append(Hostile("attributes", "convtranspose_output_shape_contradicts",
                       ("inspect", _save(_model([node], [_vi("x", [1, 3, 8, 8])], [wt]), tmp / "convt_shape.onnx"))))
    return out


def tensors(tmp: Path) -> list[Hostile]:
    """Weights and inputs whose type, value fields or size are wrong; declared data that is not there."""
    out: list[Hostile] = []

    def weight(name: str, edit, shape=(4, 3, 3, 3), needle=None, command="compile", heavy=False) -> None:
        tensor = numpy_helper.from_array(np.ones(shape, np.float32), "w")
        edit(tensor)
        path = _save(_conv(weight=tensor), tmp / f"tensor_{name}.onnx")
        args = (command, path, "-o", "{out}") if command == "compile" else (command, path)
        out.append(Hostile("tensors", name, args, needle=needle, heavy=heavy))

    weight("data_type_0", lambda t: setattr(t, "data_type", 0), needle="data type")
    weight("data_type_999", lambda t: setattr(t, "data_type", 999), needle="data type")
    weight("large_data_type_999", lambda t: setattr(t, "data_type", 999), shape=(400, 3, 3, 3), needle="data type")
    weight("raw_and_float", lambda t: t.float_data.extend([1.0] * 108), needle="raw_data and float_data")
    weight("large_raw_and_float", lambda t: t.float_data.extend([1.0] * 10800), shape=(400, 3, 3, 3), needle="fields")
    weight("float_data_on_int64", lambda t: (t.ClearField("raw_data"), setattr(t, "data_type", TensorProto.INT64),
                                             t.float_data.extend([1.0] * 108)), needle="float_data")
    weight("declared_16GB_no_data", lambda t: (t.ClearField("raw_data"), t.ClearField("dims"),
                                               t.dims.extend([65536, 65536, 1, 1])), needle="no data", heavy=True)
    weight("declared_small_no_data", lambda t: t.ClearField("raw_data"), needle="no data")
    weight("string_weight", lambda t: (t.ClearField("raw_data"), setattr(t, "data_type", TensorProto.STRING),
                                       t.string_data.extend([b"a"] * 108)))
    weight("bool_weight", lambda t: (setattr(t, "data_type", TensorProto.BOOL), setattr(t, "raw_data", b"\1" * 108)))
    weight("negative_dim", lambda t: (t.ClearField("dims"), t.dims.extend([4, 3, -3, -3])), needle="negative")
    weight("dims_overflow_int64", lambda t: (t.ClearField("dims"), t.dims.extend([2**62, 2**62, 1, 1])))
    weight("raw_short_in_simulate", lambda t: setattr(t, "raw_data", t.raw_data[:8]), command="simulate",
           needle="need 432")
    path = _save(_conv(x_type=TensorProto.STRING), tmp / "tensor_string_input.onnx")
    out.append(Hostile("tensors", "string_input", ("compile", path, "-o", "{out}")))
    path = _save(_conv(x_type=TensorProto.COMPLEX64), tmp / "tensor_complex_input.onnx")
    out.append(Hostile("tensors", "complex_input", ("inspect", path)))
    constant = _conv()
    bad = numpy_helper.from_array(np.ones((2,), np.float32), "c")
    bad.data_type = 999
    constant.graph.node.insert(0, helper.make_node("Constant", [], ["c"], name="const", value=bad))
    out.append(Hostile("tensors", "constant_bad_type", ("inspect", _save(constant, tmp / "tensor_constant.onnx")),
                       needle="data type"))
    return out


def _external_model(tmp: Path, name: str, location: str, dims=(4, 3, 3, 3), length: int | None = None) -> str:
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=list(dims), data_location=TensorProto.EXTERNAL)
    tensor.external_data.add(key="location", value=location)
    if length is not None:
        tensor.external_data.add(key="length", value=str(length))
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    return _save(_model([node], [_vi("x", [1, dims[1], 8, 8])], [tensor]), tmp / name / "model.onnx")


def external(tmp: Path) -> list[Hostile]:
    """External data that is a FIFO, a folder, missing, a URL, a symlink loop, outside the model's folder, too
    short, or 16 GB: refused by compile, inspect and simulate alike, naming the tensor and the file (a
    missing file only by simulate: compile and inspect map from shapes)."""
    out: list[Hostile] = []
    specs = {"fifo": "w.bin", "folder": "w.bin", "url": "file:///etc/passwd", "url_relative": "file:w.bin",
             "symlink_loop": "loop.bin", "device": "dev.bin", "short": "w.bin", "offset_past_end": "w.bin",
             "missing": "w.bin", "missing_in_subfolder": "weights/w.bin", "parent_folder": "../w.bin",
             "symlink_outside": "out.bin", "absolute": str(tmp / "w.bin"), "empty_location": "",
             "dangling_symlink": "gone.bin", "backslash_absolute": "\\\\server\\w.bin"}
    (tmp / "w.bin").write_bytes(b"\0" * 432)  # the right size, outside every model's folder
    for name, location in specs.items():
        path = _external_model(tmp, f"ext_{name}", location)
        _external_file(name, Path(path), location, tmp / "w.bin")
        for command in ("compile", "inspect", "simulate"):
            args = (command, path, "-o", "{out}") if command == "compile" else (command, path)
            # A file that is simply not there is an architecture-only export: it maps from shapes (one
            # warning), and only simulate, which needs the weights, refuses it.
            codes = OK if name.startswith("missing") and command != "simulate" else REFUSED
            out.append(Hostile("external", f"{name}_{command}", args, codes, needle="initializer 'w'",
                               heavy=name == "fifo"))
    # A declared 65536 x 65536 weight in a sparse 16 GB file: the shapes compile, simulating refuses by size.
    path = _external_model(tmp, "ext_sparse_16GB", "w.bin", dims=(65536, 65536, 1, 1))
    with open(Path(path).parent / "w.bin", "wb") as handle:
        handle.truncate(65536 * 65536 * 4)
    out.append(Hostile("external", "sparse_16GB_simulate", ("simulate", path), needle="simulat", heavy=True))
    out.append(Hostile("external", "length_disagrees", ("compile", _external_model(tmp, "ext_length", "w.bin",
                                                                                    length=10), "-o", "{out}"),
                       needle="length"))
    return out


def _external_file(name: str, model: Path, location: str, outside: Path) -> None:
    """What the location of case ``name`` names, next to ``model``."""
    folder = model.parent
    if name == "fifo":
        os.mkfifo(folder / location)
    elif name == "folder":
        (folder / location).mkdir()
    elif name == "symlink_loop":
        (folder / "loop.bin").symlink_to(folder / "loop2.bin")
        (folder / "loop2.bin").symlink_to(folder / "loop.bin")
    elif name == "device":
        os.symlink("/dev/zero", folder / location)
    elif name == "symlink_outside":
        (folder / location).symlink_to(outside)
    elif name == "dangling_symlink":
        (folder / location).symlink_to(folder / "nothing.bin")
    elif name == "short":
        (folder / location).write_bytes(b"\0" * 100)
    elif name == "offset_past_end":
        (folder / location).write_bytes(b"\0" * 432)
        proto = onnx.load(model, load_external_data=False)
        proto.graph.initializer[0].external_data.add(key="offset", value="4096")
        model.write_bytes(proto.SerializeToString())


def injection(tmp: Path, report: Path) -> list[Hostile]:
    """Control sequences and markup in node names, graph names, file names, hardware names, report names."""
    out: list[Hostile] = []
    for index, nasty in enumerate(NASTY):
        path = _save(_conv(node_name=f"conv{nasty}"), tmp / f"inject_{index}" / "model.onnx")
        out.append(Hostile("injection", f"node_name_{index}_inspect", ("inspect", path), OK))
        out.append(Hostile("injection", f"node_name_{index}_compile", ("compile", path, "-o", "{out}"), OK))
        bad = _conv(node_name=f"conv{nasty}", attrs=[_attr("strides", AttributeProto.FLOAT, f=1.0)])
        out.append(Hostile("injection", f"node_name_{index}_error",
                           ("inspect", _save(bad, tmp / f"inject_{index}" / "bad.onnx"))))
        safe = "".join(ch for ch in nasty if ch not in "/\0")
        folder = tmp / f"inject_file_{index}"
        out.append(Hostile("injection", f"file_name_{index}",
                           ("inspect", _save(_conv(), folder / f"m{safe}.onnx")), OK))
        out.append(Hostile("injection", f"missing_file_{index}", ("inspect", str(folder / f"no{safe}.onnx")),
                           needle="no such file"))
        hw = yaml.safe_load(HARDWARE.read_text())
        hw["name"] = f"chip{nasty}"
        hw_path = tmp / f"inject_hw_{index}.yaml"
        hw_path.write_text(yaml.safe_dump(hw))
        out.append(Hostile("injection", f"hardware_name_{index}",
                           ("compile", str(EXAMPLES / "lenet5.onnx"), "--hardware", str(hw_path), "-o", "{out}"), OK))
        data = json.loads(report.read_text())
        for layer in data["layers"]:
            layer["name"] = f"{layer['name']}{nasty}"
        data["model"]["name"] = f"model{nasty}"
        data["hardware"]["name"] = f"hw{nasty}"
        data["layers"][0]["solver"]["status"] = f"OPT{nasty}"
        path = tmp / f"inject_report_{index}.json"
        path.write_text(json.dumps(data))
        out.append(Hostile("injection", f"report_names_{index}", ("report", str(path)), OK))
        out.append(Hostile("injection", f"report_layer_{index}",
                           ("report", str(path), "--layer", data["layers"][0]["name"]), OK))
        out.append(Hostile("injection", f"report_no_such_layer_{index}", ("report", str(path), "--layer", nasty)))
    return out


def sizes(tmp: Path, report: Path) -> list[Hostile]:
    """Inputs that make work grow: 1 MB names, 10 000-layer and 100 000-node chains, huge reports."""
    out: list[Hostile] = []
    long_op = _conv()
    long_op.graph.node.append(helper.make_node("X" * 2**20, ["y"], ["z"], name="long"))
    out.append(Hostile("sizes", "op_type_1MB", ("inspect", _save(long_op, tmp / "size_op.onnx")), needle="long"))
    long_name = _conv(node_name="n" * 2**20)
    out.append(Hostile("sizes", "node_name_1MB", ("compile", _save(long_name, tmp / "size_name.onnx"), "-o", "{out}"),
                       needle="long"))
    # A chain and one a tenth as long: test_hostile compares their CPU times (linear growth).
    for op, length in (("Conv", 1000), ("Conv", 10_000), ("Relu", 10_000), ("Relu", 100_000)):
        path = _save(chain(op, length), tmp / f"size_{op.lower()}_chain_{length}.onnx")
        out.append(Hostile("sizes", f"{op.lower()}_chain_{length}_inspect", ("inspect", path), OK, heavy=True))
    fan = onnx.GraphProto(name="fan", input=[_vi("x", [1, 4, 8, 8])], output=[_vi("t0", None)])
    for i in range(250_000):
        fan.node.add(op_type="Relu", input=["x"], output=[f"t{i}"], name=f"r{i}")
    path = _save(helper.make_model(fan, opset_imports=[helper.make_opsetid("", 17)]), tmp / "size_too_many.onnx")
    out.append(Hostile("sizes", "nodes_250000", ("inspect", path), needle="nodes", heavy=True))
    data = json.loads(report.read_text())
    layer = json.dumps(dict(data["layers"][0], name="@name@", index=0))
    layers = ", ".join(layer.replace('"@name@"', f'"l{i}"') for i in range(40_000))
    (tmp / "size_report_40000.json").write_text(json.dumps(dict(data, layers=["@layers@"])).replace('"@layers@"',
                                                                                                    layers))
    out.append(Hostile("sizes", "report_40000_layers", ("report", str(tmp / "size_report_40000.json")), needle="bytes",
                       heavy=True))
    for key, value in (("mapping_1e308", 1e308), ("mapping_huge_int", 10**18), ("mapping_negative", -5),
                       ("mapping_zero", 0)):
        hot = json.loads(report.read_text())
        for entry in hot["layers"]:
            entry["mapping"]["e"] = value
            entry["mapping"]["t"] = value
        path = tmp / f"size_{key}.json"
        path.write_text(json.dumps(hot))
        out.append(Hostile("sizes", f"report_{key}_layer", ("report", str(path), "--layer", hot["layers"][0]["name"])))
        out.append(Hostile("sizes", f"report_{key}", ("report", str(path)), frozenset({0, 2})))
    shape = json.loads(report.read_text())
    shape["layers"][0]["shape"]["H"] = 10**15
    (tmp / "size_shape_huge.json").write_text(json.dumps(shape))
    out.append(Hostile("sizes", "report_shape_huge_layer",
                       ("report", str(tmp / "size_shape_huge.json"), "--layer", shape["layers"][0]["name"])))
    (tmp / "size_json_deep.json").write_text("[" * 100_000 + "]" * 100_000)
    out.append(Hostile("sizes", "report_json_deep", ("report", str(tmp / "size_json_deep.json")), needle="JSON"))
    digits = json.loads(report.read_text())
    digits["schema"] = "eyeriss-report/" + "9" * 5000
    (tmp / "size_schema_digits.json").write_text(json.dumps(digits))
    out.append(Hostile("sizes", "report_schema_5000_digits", ("report", str(tmp / "size_schema_digits.json")),
                       needle="newer"))
    text = report.read_text().replace('"batch": 1', '"batch": ' + "1" * 5000, 1)
    (tmp / "size_number_digits.json").write_text(text)
    out.append(Hostile("sizes", "report_number_5000_digits", ("report", str(tmp / "size_number_digits.json"))))
    return out


def special(tmp: Path) -> list[Hostile]:
    """Special files where a file is read: devices, folders, FIFOs, sparse giants, /proc files."""
    out: list[Hostile] = []
    sparse = tmp / "special_sparse.yaml"
    with open(sparse, "wb") as handle:
        handle.truncate(3 * 2**30)
    sparse_onnx = tmp / "special_sparse.onnx"
    with open(sparse_onnx, "wb") as handle:
        handle.truncate(3 * 2**30)
    lenet = str(EXAMPLES / "lenet5.onnx")
    for name, path in (("dev_zero", "/dev/zero"), ("dev_null", "/dev/null"), ("folder", str(tmp)),
                       ("dev_urandom", "/dev/urandom"), ("proc_self_mem", "/proc/self/mem")):
        endless = name in ("dev_zero", "dev_urandom")  # a reader that trusted them would fill the memory
        out.append(Hostile("special", f"hardware_{name}", ("compile", lenet, "--hardware", path, "-o", "{out}"),
                           heavy=endless))
        out.append(Hostile("special", f"decode_{name}", ("decode", path), heavy=endless))
        out.append(Hostile("special", f"report_{name}", ("report", path if name != "folder" else str(tmp / "none")),
                           heavy=endless))
        out.append(Hostile("special", f"inspect_{name}", ("inspect", path), heavy=endless))
    out.append(Hostile("special", "hardware_sparse_3GB", ("compile", lenet, "--hardware", str(sparse), "-o", "{out}"),
                       needle="bytes", heavy=True))
    out.append(Hostile("special", "onnx_sparse_3GB", ("inspect", str(sparse_onnx)), needle="bytes", heavy=True))
    out.append(Hostile("special", "decode_sparse_3GB", ("decode", str(sparse)), needle="bytes", heavy=True))
    out.append(Hostile("special", "hardware_proc_status", ("decode", lenet, "--hardware", "/proc/self/status")))
    # A FIFO nobody writes to: a reader that opened it would block forever (heavy: the child has a timeout).
    fifo = tmp / "special_pipe"
    os.mkfifo(fifo)
    for name, args in (("model", ("inspect", str(fifo))), ("bitstream", ("decode", str(fifo))),
                       ("report", ("report", str(fifo))),
                       ("hardware", ("compile", lenet, "--hardware", str(fifo), "-o", "{out}")),
                       ("simulate_hardware", ("simulate", lenet, "--hardware", str(fifo))),
                       ("decode_hardware", ("decode", lenet, "--hardware", str(fifo)))):
        out.append(Hostile("special", f"fifo_{name}", args, needle="FIFO", heavy=True))
    return out


def output(tmp: Path) -> list[Hostile]:
    """-o paths that cannot be written, and folders holding what eyeriss did not write."""
    lenet = str(EXAMPLES / "lenet5.onnx")
    (tmp / "out_a_file").write_text("mine")
    cases = {
        "too_long_component": str(tmp / ("x" * 300)),
        "too_long_path": str(tmp / "/".join(["y" * 200] * 25)),
        "under_proc": "/proc/eyeriss_out",
        "under_proc_self": "/proc/self/eyeriss_out",
        "under_sys": "/sys/eyeriss_out",
        "below_a_file": str(tmp / "out_a_file" / "sub"),
        "deep_below_a_file": str(tmp / "out_a_file" / "a" / "b" / "c"),
        "is_a_file": str(tmp / "out_a_file"),
        "dev_null": "/dev/null",
        "nul_byte": str(tmp / "nul\0byte"),
    }
    out = [Hostile("output", name, ("compile", lenet, "-o", path)) for name, path in cases.items()]
    # Folders that look like ours but hold a user's file, or an edited one, or no manifest.
    report_like = {"report.json": json.dumps({"schema": "eyeriss-report/1"}), "bitstreams/keep_me.txt": "mine"}
    for name, files in (("user_file_in_bitstreams", report_like),
                        ("old_output_without_manifest", {"report.json": json.dumps({"schema": "eyeriss-report/1"})}),
                        ("home_like", {".bashrc": "x", "notes.txt": "y"})):
        folder = tmp / f"out_{name}"
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        out.append(Hostile("output", name, ("compile", lenet, "-o", str(folder)), needle="not an eyeriss output"))
    link = tmp / "out_symlink"
    link.symlink_to(tmp / "out_home_like")
    out.append(Hostile("output", "symlink_to_folder", ("compile", lenet, "-o", str(link))))
    out.append(Hostile("output", "simulate_emit_under_proc", ("simulate", lenet, "--emit", "/proc/eyeriss_emit")))
    return out


def yaml_files(tmp: Path) -> list[Hostile]:
    """Hardware YAML: duplicate keys, deep nesting, alias bombs, huge integers, bad bytes."""
    text = HARDWARE.read_text()
    lenet = str(EXAMPLES / "lenet5.onnx")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    variants = {
        "duplicate_top_key": text + "\nname: other\n",
        "duplicate_nested_key": text.replace("array:\n", "array:\n  rows: 1\n", 1),
        "nested_100000_deep": "a: " + "[" * 100_000 + "]" * 100_000,
        "nested_mapping_deep": "".join(f"{' ' * i}k{i}:\n" for i in range(2000)),
        "alias_bomb": bomb,
        "int_5000_digits": text.replace("word_bits: 16", "word_bits: " + "1" * 5000, 1),
        "float_inf": text.replace("pj_per_unit:", "pj_per_unit: .inf #", 1),
        "unhashable_key": "? [a, b]\n: 1\n",
        "python_object": "!!python/object/apply:os.system ['touch /tmp/eyeriss_pwned']\n",
        "binary_tag": text.replace("name:", "name: !!binary aGVsbG8= #", 1),
        "timestamp_name": text.replace("name:", "name: 2001-12-14 #", 1),
        "many_documents": "---\na: 1\n---\nb: 2\n",
        "tabs": "array:\n\trows: 1\n",
    }
    out = []
    for name, body in variants.items():
        path = tmp / f"yaml_{name}.yaml"
        path.write_text(body)
        needle = {"duplicate_top_key": "duplicate", "duplicate_nested_key": "duplicate",
                  "nested_100000_deep": "nested", "nested_mapping_deep": "nested"}.get(name)
        out.append(Hostile("yaml", name, ("compile", lenet, "--hardware", str(path), "-o", "{out}"), needle=needle))
    path = tmp / "yaml_latin1.yaml"
    path.write_bytes(text.encode("utf-8").replace(b"name:", b"name: \xff\xfe #", 1))
    out.append(Hostile("yaml", "not_utf8", ("decode", lenet, "--hardware", str(path)), needle="UTF-8"))
    return out


def reports(tmp: Path, report: Path) -> list[Hostile]:
    """Reports whose values are of the wrong kind deep inside (the reader checks keys; the view must not crash)."""
    base = json.loads(report.read_text())
    out: list[Hostile] = []

    def variant(name: str, edit, layer: bool = False, codes=REFUSED) -> None:
        data = json.loads(json.dumps(base))
        edit(data)
        path = tmp / f"rep_{name}.json"
        path.write_text(json.dumps(data))
        args = ("report", str(path)) + (("--layer", base["layers"][0]["name"]) if layer else ())
        out.append(Hostile("report", name, args, codes))

    variant("nan_energy", lambda d: d["totals"]["energy"].update(total_pj=float("nan")), codes=frozenset({0, 2}))
    variant("string_energy", lambda d: d["totals"]["energy"].update(total_pj="lots"))
    variant("hardware_description_bad", lambda d: d["hardware"]["description"].update(array="big"), layer=True)
    variant("hardware_rows_huge", lambda d: d["hardware"]["description"]["array"].update(rows=2**40), layer=True)
    variant("layers_not_list", lambda d: d.update(layers={"a": 1}))
    variant("layer_name_int", lambda d: d["layers"][0].update(name=5))
    variant("spads_wrong", lambda d: d["layers"][0].update(spads={"filter_spad": "x"}), layer=True)
    variant("spads_zero_capacity", lambda d: d["layers"][0].update(spads={"filter_spad": [1, 0]}), layer=True)
    variant("macs_zero", lambda d: d["layers"][0].update(macs=0), layer=True)
    variant("stride_string", lambda d: d["layers"][0]["shape"].update(stride="ab"), layer=True)
    variant("groups_zero", lambda d: d["layers"][0]["shape"].update(groups=0), layer=True)
    variant("schema_int", lambda d: d.update(schema=1))
    variant("schema_list", lambda d: d.update(schema=["eyeriss-report/1"]))
    variant("unmapped_not_list", lambda d: d.update(unmapped=5))
    variant("sort_key_missing", lambda d: d["layers"][0].pop("energy"))
    # Two 2000-layer reports (8 MB each) that differ in every layer: the diff table
    # shows the 1000 largest (test_hostile counts its lines), --json has all.
    paths = []
    for tag, factor in (("a", 1.0), ("b", 2.0)):
        layer = json.loads(json.dumps(base["layers"][0]))
        layer.update(name="@name@", index=0)
        layer["energy"]["total_pj"] *= factor
        template = json.dumps(layer)
        layers = ", ".join(template.replace('"@name@"', f'"l{i}"') for i in range(2000))
        paths.append(tmp / f"rep_diff_{tag}.json")
        paths[-1].write_text(json.dumps(dict(base, layers=["@layers@"])).replace('"@layers@"', layers))
    out.append(Hostile("report", "diff_2000_layers", ("diff", *map(str, paths)), OK, heavy=True))
    return out


def options(tmp: Path) -> list[Hostile]:
    """The command line itself: numbers out of range, huge, not numbers."""
    lenet, conv = str(EXAMPLES / "lenet5.onnx"), _save(_conv(), tmp / "opt_conv.onnx")
    runs = {
        "batch_2_63": ("compile", lenet, "--batch", str(2**63), "-o", "{out}"),
        "batch_2_64": ("compile", lenet, "--batch", str(2**64), "-o", "{out}"),
        "batch_5000_digits": ("compile", lenet, "--batch", "9" * 5000, "-o", "{out}"),
        "batch_negative": ("compile", lenet, "--batch", "-3", "-o", "{out}"),
        "batch_float": ("compile", lenet, "--batch", "1.5", "-o", "{out}"),
        "inspect_batch_huge": ("inspect", conv, "--batch", str(2**63)),
        "inspect_batch_zero": ("inspect", conv, "--batch", "0"),
        "simulate_batch_huge": ("simulate", conv, "--batch", str(10**30)),
        "max_batch_1000000": ("compile", lenet, "--batch", "auto", "--max-batch", "1000000", "-o", "{out}"),
        "max_batch_zero": ("compile", lenet, "--batch", "auto", "--max-batch", "0", "-o", "{out}"),
        "max_batch_huge": ("compile", lenet, "--batch", "auto", "--max-batch", str(2**70), "-o", "{out}"),
        "time_limit_nan": ("compile", lenet, "--time-limit", "nan", "-o", "{out}"),
        "time_limit_inf": ("compile", lenet, "--time-limit", "inf", "-o", "{out}"),
        "time_limit_negative": ("compile", lenet, "--time-limit", "-1", "-o", "{out}"),
        "zero_fraction_nan": ("compile", lenet, "--zero-fraction", "nan", "-o", "{out}"),
        "layer_latency_huge": ("compile", lenet, "--layer-latency-ms", "1e308", "-o", "{out}"),
        "network_latency_tiny": ("compile", lenet, "--network-latency-ms", "1e-300", "-o", "{out}"),
        "simulate_seed_negative": ("simulate", conv, "--seed", "-1"),
        "simulate_seed_huge": ("simulate", conv, "--seed", str(2**200)),
        "simulate_time_limit_zero": ("simulate", conv, "--time-limit", "0"),
        "report_layer_huge": ("report", str(tmp), "--layer", "x" * 100_000),
    }
    codes = { "simulate_seed_huge": frozenset({0, 2}),
             "network_latency_tiny": frozenset({1, 2})}
    return [Hostile("options", name, args, codes.get(name, REFUSED)) for name, args in runs.items()]


def _graph(nodes: list[onnx.NodeProto], initializers=(), opsets=(("", 17),), output="y",
           x_shape=(1, 4, 8, 8)) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w")
    graph = onnx.GraphProto(name="g", input=[_vi("x", list(x_shape))], initializer=[w, *initializers],
                            node=nodes, output=[_vi(output, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def _conv_clips(pairs: int, low=np.array(0.0, np.float32)) -> onnx.ModelProto:
    """Conv -> Clip(min) pairs, each Clip with its own min initializer (one scan of them per Clip was quadratic)."""
    nodes, mins = [], []
    for i in range(pairs):
        nodes.append(helper.make_node("Conv", [f"t{i}" if i else "x", "w"], [f"c{i}"], name=f"conv{i}", pads=[1] * 4))
        nodes.append(helper.make_node("Clip", [f"c{i}", f"lo{i}"], ["y" if i == pairs - 1 else f"t{i + 1}"],
                                      name=f"clip{i}"))
        mins.append(numpy_helper.from_array(low, f"lo{i}"))
    return _graph(nodes, mins)


def _external_inputs(tmp: Path, count: int) -> str:
    """``count`` external weights also listed as graph inputs (a scan of the initializers per input was quadratic)."""
    folder = tmp / f"graph_external_inputs_{count}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "w.bin").write_bytes(b"\0" * 16)
    model = _graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")])
    for i in range(count):
        tensor = model.graph.initializer.add(name=f"e{i}", data_type=TensorProto.FLOAT, dims=[4],
                                             data_location=TensorProto.EXTERNAL)
        tensor.external_data.add(key="location", value="w.bin")
        model.graph.input.append(_vi(f"e{i}", [4]))
    return _save(model, folder / "model.onnx")


def _constant_fold(op: str, inputs: dict[str, np.ndarray], **attrs) -> onnx.ModelProto:
    """One foldable node on constants whose output would be gigabytes, next to a Conv."""
    nodes = [helper.make_node(op, list(inputs), ["big"], name="big", **attrs),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    model = _graph(nodes, [numpy_helper.from_array(v, k) for k, v in inputs.items()])
    model.graph.output.append(_vi("big", None))
    return model


def _contrib_chain(length: int) -> onnx.ModelProto:
    """com.microsoft QLinearSigmoid nodes, each waiting on the one before through an Identity."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q0"], name="quant")]
    for i in range(length):
        nodes.append(helper.make_node("QLinearSigmoid", [f"q{i}", "s", "z", "s", "z"], [f"a{i}"], name=f"sig{i}",
                                      domain="com.microsoft"))
        nodes.append(helper.make_node("Identity", [f"a{i}"], [f"q{i + 1}"], name=f"id{i}"))
    nodes += [helper.make_node("DequantizeLinear", [f"q{length}", "s", "z"], ["d"], name="deq"),
              helper.make_node("Conv", ["d", "w"], ["y"], name="conv")]
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.uint8), "z")
    return _graph(nodes, [scale, zero], opsets=(("", 17), ("com.microsoft", 1)))


def graph_structure(tmp: Path) -> list[Hostile]:
    """Graphs whose structure, not their size alone, makes work or memory explode or names collide."""
    out: list[Hostile] = []

    def case(name: str, model: onnx.ModelProto, codes=OK, needle=None, heavy=False, command="inspect") -> None:
        path = _save(model, tmp / f"graph_{name}.onnx")
        args = (command, path, "-o", "{out}") if command == "compile" else (command, path)
        out.append(Hostile("graph", name, args, codes, needle, heavy))

    # A node named like a ConvTranspose phase ('up/phase00'): both layers stay (test_hostile checks the five).
    for command in ("inspect", "compile"):
        up = helper.make_node("ConvTranspose", ["x", "w"], ["u"], name="up", strides=[2, 2])
        case(f"phase_name_collision_{command}", _graph([up, helper.make_node("Conv", ["u", "w"], ["y"],
                                                                             name="up/phase00")]), command=command)
    for pairs in (400, 4000):  # test_hostile compares their CPU (linear growth)
        case(f"conv_clip_{pairs}", _conv_clips(pairs), heavy=True)
    for count in (500, 5000):
        out.append(Hostile("graph", f"external_inputs_{count}", ("inspect", _external_inputs(tmp, count)), OK,
                           heavy=True))
    case("clip_min_empty", _conv_clips(1, np.zeros((0,), np.float32)), frozenset({0, 2}))
    case("clip_min_vector", _conv_clips(1, np.zeros((3,), np.float32)), frozenset({0, 2}))
    # Constant shape arithmetic whose result would take gigabytes: left unfolded, never allocated.
    case("fold_constant_of_shape_2GB", _constant_fold("ConstantOfShape", {"shape": np.array([16384, 16384], np.int64)}),
         heavy=True)
    case("fold_expand_16GB", _constant_fold("Expand", {"one": np.array([1], np.int64),
                                                        "to": np.array([65536, 32768], np.int64)}), heavy=True)
    case("fold_range_8GB", _constant_fold("Range", {"a": np.array(0, np.int64), "b": np.array(2**30, np.int64),
                                                     "c": np.array(1, np.int64)}), heavy=True)
    case("fold_where_broadcast_2GB", _constant_fold("Where", {"c": np.ones((1024, 1, 1), bool),
                                                               "a": np.ones((1, 512, 1), np.int64),
                                                               "b": np.ones((1, 1, 512), np.int64)}), heavy=True)
    adds = [helper.make_node("Add", [f"k{i}", "zero"], [f"k{i + 1}"], name=f"add{i}") for i in range(12_000)]
    adds += [helper.make_node("Conv", ["x", "w"], ["y0"], name="conv"),
             helper.make_node("Unsqueeze", ["y0", "k12000"], ["y"], name="unsqueeze")]
    case("fold_chain_12000", _graph(adds, [numpy_helper.from_array(np.array([0], np.int64), "k0"),
                                           numpy_helper.from_array(np.array([0], np.int64), "zero")]),
         REFUSED, "shape-computation", heavy=True)
    case("contrib_chain_100", _contrib_chain(100))
    case("contrib_chain_2000", _contrib_chain(2000), REFUSED, "com.microsoft", heavy=True)
    same = [helper.make_node("Relu", ["x" if i == 0 else f"t{i}"], [f"t{i + 1}"], name="same") for i in range(5000)]
    same.append(helper.make_node("Conv", ["t5000", "w"], ["y"], name="same_1"))
    case("one_name_5000_times", _graph(same))
    leaf = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "leaf", [], [_vi("y", None)])
    deep = leaf
    for level in range(25):  # If inside If (in one branch: both would double it each level), 25 deep: 75 messages
        inner = helper.make_node("If", ["c"], ["y"], name=f"if{level}", then_branch=deep, else_branch=leaf)
        deep = helper.make_graph([inner], f"level{level}", [], [_vi("y", None)])
    case("if_nested_25_deep", _graph([helper.make_node("Identity", ["x"], ["c"], name="c"),
                                       helper.make_node("If", ["c"], ["y"], name="top", then_branch=deep,
                                                        else_branch=leaf)]), frozenset({0, 2}))
    case("input_rank_100000", _graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                                     x_shape=(1,) * 100_000), REFUSED, "conv")
    return out


def every_case(tmp: Path, report: Path) -> list[Hostile]:
    """All families; ``report`` is a real compile's report.json that the report families mutate."""
    return (attributes(tmp) + tensors(tmp) + external(tmp) + injection(tmp, report) + sizes(tmp, report)
            + special(tmp) + output(tmp) + yaml_files(tmp) + reports(tmp, report) + options(tmp) + graph_structure(tmp))
