"""Train the small digits CNN and export it: ``digits_cnn.onnx`` and its held-out split ``heldout.npz``.

    python examples/digits/train.py

regenerates both files next to this script, byte for byte the same on every run
on the same machine and library versions (fixed seed, one BLAS thread so no sum is
split differently between runs, ``SerializeToString(deterministic=True)``, an .npz
written with fixed member order and a fixed zip timestamp; nothing records the time).
Only this script needs scikit-learn (for ``load_digits``, bundled with it: no
download); the committed files need neither it nor a deep-learning framework.

Why plain numpy and not torch: torch is not installed on the build machines (it is
far too large for them), and the network is tiny (~45 k parameters on 8 x 8 images),
so im2col convolutions, their backward pass, Adam and softmax cross-entropy take a
page of numpy and train in well under a minute on two cores.

Data: sklearn's digits (1,797 8 x 8 images, pixels 0..16) scaled to [0, 1] (x / 16),
float32 [N, 1, 8, 8]; a stratified split with a fixed seed, 80 % train, 20 % held
out (per class: round(0.2 * count) images).  ``heldout.npz`` holds exactly
``input`` float32 [K, 1, 8, 8] and ``labels`` int64 [K].

Network (float32, NCHW, opset 17, ir_version 8, input ``input`` [N, 1, 8, 8],
output ``logits`` [N, 10]):

    conv1 (1->16, 3x3, pad 1) -> relu -> conv2 (16->32, 3x3, pad 1) -> relu
    -> pool1 (MaxPool 2x2, stride 2) -> conv3 (32->32, 3x3, pad 1) -> relu
    -> add1 (+ pool1's output: a residual, [N, 32, 4, 4]) -> flatten
    -> fc1 (Gemm 512->64, transB=1) -> relu -> fc2 (Gemm 64->10, transB=1)

The script checks the export with onnx.checker and runs it in onnxruntime on the
held-out split: its accuracy must equal the numpy model's (it exits non-zero if
not, or if the held-out accuracy is under 97 %).
"""

from __future__ import annotations

import os

# One BLAS thread: a multi-threaded BLAS may split a reduction differently from run to
# run, and the files must be the same byte for byte.  Set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import io  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HERE = Path(__file__).resolve().parent
ONNX_PATH = HERE / "digits_cnn.onnx"
HELDOUT_PATH = HERE / "heldout.npz"
# The compiler's --calibration samples: the first training images (never the held-out ones).
CALIBRATION_PATH = HERE / "calibration.npz"
CALIBRATION_SAMPLES = 256

SEED = 2024
HELDOUT_FRACTION = 0.2
EPOCHS = 40
BATCH = 32
LR = 2e-3
MIN_ACCURACY = 0.97
OPSET = 17

F32 = np.float32


# ----------------------------------------------------------------------------- data

def load_split(rng: np.random.Generator):
    """The digits scaled to [0, 1] as [N, 1, 8, 8] float32, split 80/20 per class."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float64) / 16.0).astype(F32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    held = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        k = int(round(HELDOUT_FRACTION * idx.size))
        held.append(rng.permutation(idx)[:k])
    held_idx = np.sort(np.concatenate(held))
    train_mask = np.ones(y.size, dtype=bool)
    train_mask[held_idx] = False
    return x[train_mask], y[train_mask], x[held_idx], y[held_idx]


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift each image by -1, 0 or +1 pixel in each direction (zero fill)."""
    n = x.shape[0]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy = rng.integers(0, 3, size=n)
    dx = rng.integers(0, 3, size=n)
    out = np.empty_like(x)
    for i in range(3):
        for j in range(3):
            sel = (dy == i) & (dx == j)
            out[sel] = padded[sel, :, i:i + 8, j:j + 8]
    return out


# ----------------------------------------------------------------------------- layers

def im2col(x: np.ndarray) -> np.ndarray:
    """[N, C, H, W] -> [N*H*W, C*9] for a 3x3, pad-1, stride-1 convolution (columns in (c, kh, kw) order)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=2)  # N C 9 H W
    return cols.transpose(0, 3, 4, 1, 2).reshape(n * h * w, c * 9)


def col2im(dcols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    n, c, h, w = shape
    d = dcols.reshape(n, h, w, c, 9).transpose(0, 3, 4, 1, 2)  # N C 9 H W
    dxp = np.zeros((n, c, h + 2, w + 2), dtype=dcols.dtype)
    for k in range(9):
        i, j = divmod(k, 3)
        dxp[:, :, i:i + h, j:j + w] += d[:, :, k]
    return dxp[:, :, 1:-1, 1:-1]


def conv_forward(x, w, b):
    n, _, h, wd = x.shape
    cols = im2col(x)
    y = cols @ w.reshape(w.shape[0], -1).T + b
    return y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def conv_backward(dy, cols, w, x_shape, need_dx=True):
    cout = w.shape[0]
    dy2 = dy.transpose(0, 2, 3, 1).reshape(-1, cout)
    dw = (dy2.T @ cols).reshape(w.shape)
    db = dy2.sum(axis=0)
    dx = col2im(dy2 @ w.reshape(cout, -1), x_shape) if need_dx else None
    return dx, dw, db


def pool_forward(x):
    """MaxPool 2x2 stride 2; also returns the one-hot argmax mask for the backward pass."""
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    arg = win.argmax(axis=-1)
    mask = np.arange(4) == arg[..., None]
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], mask


def pool_backward(dy, mask):
    n, c, h2, w2, _ = mask.shape
    d = mask * dy[..., None]
    return d.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h2 * 2, w2 * 2)


# ----------------------------------------------------------------------------- model

SHAPES = {
    "conv1.weight": (16, 1, 3, 3), "conv1.bias": (16,),
    "conv2.weight": (32, 16, 3, 3), "conv2.bias": (32,),
    "conv3.weight": (32, 32, 3, 3), "conv3.bias": (32,),
    "fc1.weight": (64, 512), "fc1.bias": (64,),
    "fc2.weight": (10, 64), "fc2.bias": (10,),
}


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-normal weights (std sqrt(2 / fan_in)), zero biases; fc2 (no ReLU after it) std sqrt(1 / fan_in)."""
    params = {}
    for name, shape in SHAPES.items():
        if name.endswith(".bias"):
            params[name] = np.zeros(shape, dtype=F32)
        else:
            fan_in = int(np.prod(shape[1:]))
            gain = 1.0 if name.startswith("fc2") else 2.0
            params[name] = (rng.standard_normal(shape) * np.sqrt(gain / fan_in)).astype(F32)
    return params


def forward(p, x, train=False):
    a1, c1 = conv_forward(x, p["conv1.weight"], p["conv1.bias"])
    r1 = np.maximum(a1, 0)
    a2, c2 = conv_forward(r1, p["conv2.weight"], p["conv2.bias"])
    r2 = np.maximum(a2, 0)
    pl, mask = pool_forward(r2)
    a3, c3 = conv_forward(pl, p["conv3.weight"], p["conv3.bias"])
    r3 = np.maximum(a3, 0)
    s = r3 + pl
    f = s.reshape(s.shape[0], -1)
    h = f @ p["fc1.weight"].T + p["fc1.bias"]
    hr = np.maximum(h, 0)
    logits = hr @ p["fc2.weight"].T + p["fc2.bias"]
    if not train:
        return logits
    return logits, (x, c1, a1, r1, c2, a2, mask, pl, c3, a3, f, h, hr)


def backward(p, cache, dlogits):
    x, c1, a1, r1, c2, a2, mask, pl, c3, a3, f, h, hr = cache
    g = {}
    g["fc2.weight"] = dlogits.T @ hr
    g["fc2.bias"] = dlogits.sum(axis=0)
    dh = (dlogits @ p["fc2.weight"]) * (h > 0)
    g["fc1.weight"] = dh.T @ f
    g["fc1.bias"] = dh.sum(axis=0)
    ds = (dh @ p["fc1.weight"]).reshape(pl.shape)
    da3 = ds * (a3 > 0)
    dpl, g["conv3.weight"], g["conv3.bias"] = conv_backward(da3, c3, p["conv3.weight"], pl.shape)
    dpl = dpl + ds  # the residual
    dr2 = pool_backward(dpl, mask)
    da2 = dr2 * (a2 > 0)
    dr1, g["conv2.weight"], g["conv2.bias"] = conv_backward(da2, c2, p["conv2.weight"], r1.shape)
    da1 = dr1 * (a1 > 0)
    _, g["conv1.weight"], g["conv1.bias"] = conv_backward(da1, c1, p["conv1.weight"], x.shape, need_dx=False)
    return g


def softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    prob = e / e.sum(axis=1, keepdims=True)
    n = y.size
    loss = float(-np.log(prob[np.arange(n), y] + 1e-12).mean())
    d = prob
    d[np.arange(n), y] -= 1
    return loss, (d / n).astype(F32)


def accuracy(p, x, y) -> float:
    return float((forward(p, x).argmax(axis=1) == y).mean())


def train(p, x, y, rng: np.random.Generator, xh, yh):
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(w) for k, w in p.items()}
    step = 0
    steps_per_epoch = -(-x.shape[0] // BATCH)
    total = EPOCHS * steps_per_epoch
    for epoch in range(EPOCHS):
        order = rng.permutation(x.shape[0])
        xa = augment(x, rng)
        losses = []
        for s in range(0, x.shape[0], BATCH):
            idx = order[s:s + BATCH]
            logits, cache = forward(p, xa[idx], train=True)
            loss, dlogits = softmax_xent(logits, y[idx])
            losses.append(loss)
            grads = backward(p, cache, dlogits)
            step += 1
            lr = LR * 0.5 * (1 + np.cos(np.pi * (step - 1) / total))  # cosine decay to 0
            for k in p:
                gk = grads[k].astype(F32)
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                mhat = m[k] / (1 - b1 ** step)
                vhat = v[k] / (1 - b2 ** step)
                p[k] = (p[k] - lr * mhat / (np.sqrt(vhat) + eps)).astype(F32)
        if (epoch + 1) % 5 == 0 or epoch == 0:
            print(f"epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  "
                  f"train {accuracy(p, x, y):.4f}  held-out {accuracy(p, xh, yh):.4f}", flush=True)
    return p


# ----------------------------------------------------------------------------- export

def build_onnx(p) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.ascontiguousarray(p[k], dtype=F32), k) for k in SHAPES]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1.out"], name="conv1", **conv),
        helper.make_node("Relu", ["conv1.out"], ["conv1.relu.out"], name="conv1.relu"),
        helper.make_node("Conv", ["conv1.relu.out", "conv2.weight", "conv2.bias"], ["conv2.out"], name="conv2", **conv),
        helper.make_node("Relu", ["conv2.out"], ["conv2.relu.out"], name="conv2.relu"),
        helper.make_node("MaxPool", ["conv2.relu.out"], ["pool1.out"], name="pool1",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1.out", "conv3.weight", "conv3.bias"], ["conv3.out"], name="conv3", **conv),
        helper.make_node("Relu", ["conv3.out"], ["conv3.relu.out"], name="conv3.relu"),
        helper.make_node("Add", ["conv3.relu.out", "pool1.out"], ["add1.out"], name="add1"),
        helper.make_node("Flatten", ["add1.out"], ["flatten.out"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flatten.out", "fc1.weight", "fc1.bias"], ["fc1.out"], name="fc1", transB=1),
        helper.make_node("Relu", ["fc1.out"], ["fc1.relu.out"], name="fc1.relu"),
        helper.make_node("Gemm", ["fc1.relu.out", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="eyeriss-compiler examples/digits/train.py")
    model.ir_version = 8
    model.doc_string = ("Small CNN on scikit-learn's digits (8x8, pixels / 16 in [0, 1]); "
                        "held-out split in heldout.npz. Trained in numpy by examples/digits/train.py.")
    return model


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez's layout (one .npy member per key, in order, uncompressed) with a fixed timestamp.

    np.savez stamps each member with the current time, so two runs would differ.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    path.write_bytes(buf.getvalue())


def main() -> int:
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    x, y, xh, yh = load_split(rng)
    print(f"train {x.shape[0]} images, held out {xh.shape[0]}")
    params = init_params(rng)
    params = train(params, x, y, rng, xh, yh)
    train_time = time.perf_counter() - t0

    np_train = accuracy(params, x, y)
    np_held = accuracy(params, xh, yh)
    print(f"numpy model: train accuracy {np_train:.4f}, held-out accuracy {np_held:.4f} "
          f"({int(round(np_held * yh.size))}/{yh.size})")

    model = build_onnx(params)
    onnx.checker.check_model(model, full_check=True)
    ONNX_PATH.write_bytes(model.SerializeToString(deterministic=True))
    write_npz(HELDOUT_PATH, {"input": xh.astype(F32), "labels": yh.astype(np.int64)})
    write_npz(CALIBRATION_PATH, {"input": x[:CALIBRATION_SAMPLES].astype(F32)})

    import onnxruntime as ort

    onnx.checker.check_model(str(ONNX_PATH), full_check=True)
    sess = ort.InferenceSession(str(ONNX_PATH), providers=["CPUExecutionProvider"])
    with np.load(HELDOUT_PATH) as data:
        assert sorted(data.files) == ["input", "labels"]
        hx, hy = data["input"], data["labels"]
    ort_logits = sess.run(["logits"], {"input": hx})[0]
    ort_held = float((ort_logits.argmax(axis=1) == hy).mean())
    np_logits = forward(params, hx)
    print(f"onnxruntime held-out accuracy {ort_held:.4f} ({int((ort_logits.argmax(axis=1) == hy).sum())}/{hy.size}); "
          f"numpy {np_held:.4f}; max |logit difference| {np.abs(ort_logits - np_logits).max():.2e}")
    print(f"training took {train_time:.1f} s; wrote {ONNX_PATH.name} ({ONNX_PATH.stat().st_size} B), "
          f"{HELDOUT_PATH.name} ({HELDOUT_PATH.stat().st_size} B)")
    if ort_held != np_held:
        print("error: onnxruntime's held-out accuracy differs from the numpy model's", file=sys.stderr)
        return 1
    if ort_held < MIN_ACCURACY:
        print(f"error: held-out accuracy under {MIN_ACCURACY:.0%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
