#!/usr/bin/python3
"""int8 against float32 on the engine: the issue's ratios, measured in one process.

usage: scripts/bench_int8.py [--rtml build/rtml] [--out build/bench-int8] [--seconds S]

Builds pairs of one-layer models with random weights (the same shapes in float32 and in int8:
QLinearMatMul / QLinearConv with int8 data, int8 weights per output channel, int32 bias):
  matvec_256      y = x W, x [1 x 256], W [256 x 256]           (issue 13: int8 <= 0.4x float32)
  conv1d          32 -> 32 channels, kernel 5, 256 samples       (int8 conv >= 1.5x faster)
  conv2d          16 -> 32 channels, 3x3, 32 x 32
  depthwise2d     32 channels, 3x3, 32 x 32
runs `rtml bench` on all of them in one process (native backend, simd kernels) and prints
each pair's medians and the int8 / float32 ratio; writes OUT/int8.json and OUT/int8.md.
A benchmark, not a test: read the ratios of one run, on a quiet machine if you can.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(13)


def float_model(op, x_shape, w, attrs, y_shape):
    inits = [numpy_helper.from_array(w.astype(np.float32), "w")]
    inputs = ["x", "w"]
    if op == "Conv":
        inits.append(numpy_helper.from_array(RNG.standard_normal(w.shape[0]).astype(np.float32), "b"))
        inputs.append("b")
    node = helper.make_node(op, inputs, ["y"], **attrs)
    return helper.make_graph([node], "float", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)


def int8_model(op, x_shape, w, attrs, y_shape):
    channels = w.shape[1] if op == "MatMul" else w.shape[0]
    wq = np.clip(np.round(w / (np.abs(w).max() / 127.0)), -127, 127).astype(np.int8)
    w_scale = (RNG.uniform(0.5, 1.5, channels) * 0.01).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "x_scale"),
             numpy_helper.from_array(np.array(-3, np.int8), "x_zp"),
             numpy_helper.from_array(wq, "w"),
             numpy_helper.from_array(w_scale, "w_scale"),
             numpy_helper.from_array(np.zeros(channels, np.int8), "w_zp"),
             numpy_helper.from_array(np.array(0.2, np.float32), "y_scale"),
             numpy_helper.from_array(np.array(5, np.int8), "y_zp")]
    inputs = ["x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp"]
    if op == "Conv":
        inits.append(numpy_helper.from_array(RNG.integers(-1000, 1000, channels).astype(np.int32), "b"))
        inputs.append("b")
    node = helper.make_node("QLinear" + op, inputs, ["y"], **attrs)
    return helper.make_graph([node], "int8", [helper.make_tensor_value_info("x", TensorProto.INT8, x_shape)],
                             [helper.make_tensor_value_info("y", TensorProto.INT8, y_shape)], inits)


PAIRS = [
    ("matvec_256", "MatMul", [1, 256], (256, 256), {}, [1, 256]),
    ("conv1d", "Conv", [1, 32, 256], (32, 32, 5), {"pads": [2, 2]}, [1, 32, 256]),
    ("conv2d", "Conv", [1, 16, 32, 32], (32, 16, 3, 3), {"pads": [1, 1, 1, 1]}, [1, 32, 32, 32]),
    ("depthwise2d", "Conv", [1, 32, 32, 32], (32, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 32}, [1, 32, 32, 32]),
]


def write(folder, graph):
    os.makedirs(folder, exist_ok=True)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(folder, "model.onnx"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rtml", default="build/rtml")
    ap.add_argument("--out", default="build/bench-int8")
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    models = os.path.join(args.out, "models")
    for name, op, x_shape, w_shape, attrs, y_shape in PAIRS:
        w = RNG.standard_normal(w_shape).astype(np.float32) * 0.1
        write(os.path.join(models, name + "_f32"), float_model(op, x_shape, w, attrs, y_shape))
        write(os.path.join(models, name + "_int8"), int8_model(op, x_shape, w, attrs, y_shape))
    report = os.path.join(args.out, "int8.json")
    cmd = [args.rtml, "bench", models, "--backend", "native", "--seconds", str(args.seconds), "--no-accuracy",
           "--no-db", "--no-samples", "--json", report]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(report) as f:
        median = {r["model"]: r["latency_us"]["median"] for r in json.load(f)["runs"] if r.get("latency_us")}
    lines = ["| layer | float32 median µs | int8 median µs | int8 / float32 |", "|---|---:|---:|---:|"]
    for name, *_ in PAIRS:
        f, q = median.get(name + "_f32"), median.get(name + "_int8")
        ratio = f"{q / f:.2f}x" if f and q else "n/a"
        lines.append(f"| {name} | {f if f is not None else 'n/a'} | {q if q is not None else 'n/a'} | {ratio} |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.out, "int8.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
