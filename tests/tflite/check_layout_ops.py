#!/usr/bin/python3
"""The TFLite importer's layout translation (NHWC in the file, NCHW in the
graph), checked against numpy evaluating the same ops in NHWC.

usage: check_layout_ops.py RTML
Small .tflite files are written with tflite_writer.py (the tests' FlatBuffers writer):
ADD of a broadcast constant with a fused RELU, MUL, CONCATENATION on the
channel axis, PAD, MEAN without keep_dims, TRANSPOSE of a 2-D result; a 4-D
TRANSPOSE, CONCATENATION on H, MEAN with keep_dims, SOFTMAX on a 4-D tensor
(a 4-D graph output), SQUEEZE; a DEPTHWISE_CONV_2D with multiplier 2,
dilation 2, stride 2, VALID padding and RELU6, and a CONV_2D with SAME
padding, strides 2x1 and an odd pad; each compared with numpy within 1e-5.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tflite_writer import tflite_model  # noqa: E402

rtml = sys.argv[1]
rng = np.random.default_rng(7)
i8, i32, f32 = np.int8, np.int32, np.float32
failures = []


def run(name, model, inputs, expected):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name + ".tflite")
        with open(path, "wb") as f:
            f.write(model)
        args = [rtml, "run", path, "--output-dir", tmp]
        for k, v in inputs.items():
            np.save(os.path.join(tmp, k + ".in.npy"), v)
            args += ["--input", f"{k}={os.path.join(tmp, k + '.in.npy')}"]
        out = subprocess.run(args, capture_output=True, text=True)
        if out.returncode != 0:
            failures.append(f"{name}: rtml run failed: {out.stderr.strip()}")
            print("FAIL " + failures[-1])
            return
        for k, want in expected.items():
            got = np.load(os.path.join(tmp, k + ".npy"))
            err = np.abs(got - want).max() if got.shape == want.shape else float("inf")
            ok = err <= 1e-5
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {k} {list(got.shape)} vs numpy {list(want.shape)}, max error {err:g}")
            if not ok:
                failures.append(f"{name}: {k}")


def t(name, shape, buf=0):
    return (name, shape, 0, buf, [], [])


def depthwise_nhwc(x, w, stride, dilation, mult):
    """TFLite DEPTHWISE_CONV_2D, VALID: w [1, kh, kw, C * mult]."""
    _, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    oh = (h - (kh - 1) * dilation - 1) // stride + 1
    ow = (wd - (kw - 1) * dilation - 1) // stride + 1
    y = np.zeros((1, oh, ow, c * mult), f32)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                for kx in range(kw):
                    pix = x[0, oy * stride + ky * dilation, ox * stride + kx * dilation]  # [C]
                    y[0, oy, ox] += np.repeat(pix, mult) * w[0, ky, kx]
    return y


def conv_same_nhwc(x, w, sh, sw):
    """TFLite CONV_2D, SAME (the odd pad after): w [O, kh, kw, I]."""
    _, h, wd, _ = x.shape
    o, kh, kw, _ = w.shape
    oh, ow = -(-h // sh), -(-wd // sw)
    ph = max((oh - 1) * sh + kh - h, 0)
    pw = max((ow - 1) * sw + kw - wd, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    y = np.zeros((1, oh, ow, o), f32)
    for oy in range(oh):
        for ox in range(ow):
            patch = xp[0, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw]  # [kh, kw, I]
            y[0, oy, ox] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2]))
    return y


# 1. ADD(+RELU) / MUL / CONCATENATION(-1) / PAD / MEAN(1,2) / TRANSPOSE(1,0)
x = rng.standard_normal((1, 2, 2, 3)).astype(f32)
k = rng.standard_normal(3).astype(f32)
pads = np.array([[0, 0], [1, 0], [0, 2], [0, 0]], i32)
model = tflite_model(
    [0, 18, 2, 34, 40, 39],
    [t("x", [1, 2, 2, 3]), t("k", [3], 1), t("s", [1, 2, 2, 3]), t("m", [1, 2, 2, 3]), t("c", [1, 2, 2, 6]),
     ("p", [4, 2], 2, 2, [], []), t("pd", [1, 3, 4, 6]), ("ax", [2], 2, 3, [], []), t("mn", [1, 6]),
     ("perm", [2], 2, 4, [], []), t("y", [6, 1])],
    [(0, [0, 1], [2], 11, {0: i8(1)}), (1, [2, 0], [3], 21, {0: i8(0)}), (2, [2, 3], [4], 10, {0: i32(-1)}),
     (3, [4, 5], [6], 0, None), (4, [6, 7], [8], 27, {0: np.uint8(0)}), (5, [8, 9], [10], 0, None)],
    [k.tobytes(), pads.tobytes(), np.array([1, 2], i32).tobytes(), np.array([1, 0], i32).tobytes()], [0], [10])
s = np.maximum(x + k, 0)
c = np.concatenate([s, s * x], axis=-1)
want = np.pad(c, pads).mean(axis=(1, 2)).T
run("elementwise_concat_pad_mean", model, {"x": x}, {"y": want})

# 2. TRANSPOSE(0,2,1,3) / CONCATENATION(1) / MEAN(2, keep) / SOFTMAX (4-D output) / SQUEEZE
x = rng.standard_normal((1, 2, 3, 4)).astype(f32)
model = tflite_model(
    [39, 2, 40, 25, 43],
    [t("x", [1, 2, 3, 4]), ("perm", [4], 2, 1, [], []), t("tr", [1, 3, 2, 4]), t("cc", [1, 6, 2, 4]),
     ("ax", [1], 2, 2, [], []), t("mn", [1, 6, 1, 4]), t("sm", [1, 6, 1, 4]), t("sq", [6, 4])],
    [(0, [0, 1], [2], 0, None), (1, [2, 2], [3], 10, {0: i32(1)}), (2, [3, 4], [5], 27, {0: np.uint8(1)}),
     (3, [5], [6], 9, {0: f32(0.5)}), (4, [6], [7], 30, {0: ("vec", np.array([0, 2], i32))})],
    [np.array([0, 2, 1, 3], i32).tobytes(), np.array([2], i32).tobytes()], [0], [6, 7])
tr = x.transpose(0, 2, 1, 3)
mn = np.concatenate([tr, tr], axis=1).mean(axis=2, keepdims=True)
e = np.exp(0.5 * mn - (0.5 * mn).max(axis=-1, keepdims=True))
sm = e / e.sum(axis=-1, keepdims=True)
run("transpose_concat_mean_softmax_squeeze", model, {"x": x}, {"sm": sm, "sq": sm.reshape(6, 4)})

# 3. DEPTHWISE_CONV_2D (multiplier 2, dilation 2, stride 2, VALID, RELU6) and CONV_2D (SAME, stride 2x1)
x = rng.standard_normal((1, 9, 8, 3)).astype(f32)
dw = rng.standard_normal((1, 2, 3, 6)).astype(f32)
db = rng.standard_normal(6).astype(f32)
cw = rng.standard_normal((4, 3, 2, 6)).astype(f32)
model = tflite_model(
    [4, 3],
    [t("x", [1, 9, 8, 3]), t("dw", [1, 2, 3, 6], 1), t("db", [6], 2), t("d", [1, 4, 2, 6]),
     t("cw", [4, 3, 2, 6], 3), t("y", [1, 2, 2, 4])],
    [(0, [0, 1, 2], [3], 2, {0: i8(1), 1: i32(2), 2: i32(2), 3: i32(2), 4: i8(3), 5: i32(2), 6: i32(2)}),
     (1, [3, 4, -1], [5], 1, {0: i8(0), 1: i32(1), 2: i32(2), 3: i8(0)})],
    [dw.tobytes(), db.tobytes(), cw.tobytes()], [0], [5])
d = np.clip(depthwise_nhwc(x, dw, 2, 2, 2) + db, 0, 6)
run("depthwise_multiplier_conv_same", model, {"x": x}, {"y": conv_same_nhwc(d, cw, 2, 1)})

sys.exit(1 if failures else 0)
