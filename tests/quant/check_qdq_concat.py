#!/usr/bin/python3
"""A QDQ Concat (DequantizeLinear on each input -> Concat -> QuantizeLinear)
runs as one int8 step, bit-identical with ONNX's float definition computed by
numpy, and through `rtml compile` on the host.

usage: check_qdq_concat.py RTML
For int8 and uint8 models (three inputs of odd sizes, random scales and zero
points, one input quantized as the output; axis 0, 1 and -1), with the
numpy results as test data: `rtml info --passes` must name the fused group,
`rtml info --json` list one rtml_x8_qconcat__ref step, `rtml run` give
numpy's bytes; then tests/compile/check_compile.py compiles each model for
the host (both kernel sets) against `rtml run`, bit for bit.
numpy: QuantizeLinear(DequantizeLinear(q)) in float32, as the ONNX spec
writes it: (q - zp) * scale, divided by the output scale, rounded half to
even (np.rint), plus the output zero point, saturated.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

RTML = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def requantize(q, scale, zp, y_scale, y_zp, dtype):
    real = (q.astype(np.int32) - zp).astype(np.float32) * np.float32(scale)
    v = np.rint(real / np.float32(y_scale)) + y_zp
    info = np.iinfo(dtype)
    return np.clip(v, info.min, info.max).astype(dtype)


def make_case(folder, dtype, axis, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    onnx_type = onnx.TensorProto.INT8 if dtype == np.int8 else onnx.TensorProto.UINT8
    y_scale, y_zp = np.float32(2.0 ** rng.uniform(-8, 2)), int(rng.integers(info.min, info.max + 1))
    nodes, inits, inputs, xs, quant = [], [], [], [], []
    for k, dim in enumerate([3, 1, 5]):
        shape = [3, 5, 7]
        shape[axis] = dim
        scale = y_scale if k == 1 else np.float32(2.0 ** rng.uniform(-8, 2))
        zp = y_zp if k == 1 else int(rng.integers(info.min, info.max + 1))
        x = rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
        xs.append(x)
        quant.append((scale, zp))
        inputs.append(helper.make_tensor_value_info(f"x{k}", onnx_type, shape))
        inits += [numpy_helper.from_array(np.array(scale, np.float32), f"x{k}_scale"),
                  numpy_helper.from_array(np.array(zp, dtype), f"x{k}_zero_point")]
        nodes.append(helper.make_node("DequantizeLinear", [f"x{k}", f"x{k}_scale", f"x{k}_zero_point"], [f"x{k}_float"],
                                      name=f"dq{k}"))
    inits += [numpy_helper.from_array(np.array(y_scale, np.float32), "y_scale"),
              numpy_helper.from_array(np.array(y_zp, dtype), "y_zero_point")]
    nodes.append(helper.make_node("Concat", [f"x{k}_float" for k in range(3)], ["y_float"], name="concat",
                                  axis=-1 if axis == 2 else axis))
    nodes.append(helper.make_node("QuantizeLinear", ["y_float", "y_scale", "y_zero_point"], ["y"], name="q"))
    want = np.concatenate([requantize(x, s, z, y_scale, y_zp, dtype) for x, (s, z) in zip(xs, quant)], axis=axis)
    graph = helper.make_graph(nodes, "qdq_concat", inputs, [helper.make_tensor_value_info("y", onnx_type, want.shape)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.join(folder, "test_data_set_0"))
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for k, x in enumerate(xs):
        onnx.save_tensor(numpy_helper.from_array(x, f"x{k}"), os.path.join(folder, "test_data_set_0", f"input_{k}.pb"))
    onnx.save_tensor(numpy_helper.from_array(want, "y"), os.path.join(folder, "test_data_set_0", "output_0.pb"))
    return xs, want


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    folders = []
    for dtype in (np.int8, np.uint8):
        for axis in (0, 1, 2):
            name = f"concat_{np.dtype(dtype).name}_axis{axis}"
            folder = os.path.join(tmp, name)
            xs, want = make_case(folder, dtype, axis, seed=len(folders) + 1)
            folders.append(folder)
            model = os.path.join(folder, "model.onnx")
            passes = run([RTML, "info", model, "--passes"]).stdout
            check("fused 1 QDQ group into int8 steps: concat (Concat)" in passes,
                  f"{name}: rtml info --passes names the fused Concat\n{passes}")
            info = json.loads(run([RTML, "info", model, "--json"]).stdout)
            kernels = [s["kernel"] for s in info["step_kernels"]]
            check(kernels == ["rtml_x8_qconcat__ref"], f"{name}: one rtml_x8_qconcat__ref step, got {kernels}")
            args = []
            for k, x in enumerate(xs):
                path = os.path.join(folder, f"x{k}.npy")
                np.save(path, x)
                args += ["--input", f"x{k}={path}"]
            out = os.path.join(folder, "out")
            r = run([RTML, "run", model, *args, "--output-dir", out])
            if r.returncode == 0:
                got = np.load(os.path.join(out, "y.npy"))
                check(got.dtype == want.dtype and np.array_equal(got, want),
                      f"{name}: rtml run equals numpy (max |diff| "
                      f"{np.max(np.abs(got.astype(np.int32) - want.astype(np.int32)))})")
            else:
                check(False, f"{name}: rtml run exits 0\n{r.stderr}")
            print(f"{name}: {want.shape}, checked")
    c = subprocess.run([sys.executable, os.path.join(HERE, "..", "compile", "check_compile.py"), RTML, *folders,
                        "--kernels", "reference,simd"])
    if c.returncode == 77:
        print("rtml compile: skipped (no host compilers)")
    else:
        check(c.returncode == 0, "rtml compile --target host: bit-identical with rtml run")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
