#!/usr/bin/python3
"""The rtml commands around a .tflite file that are not its import: `rtml info`
names the format (TFLite and its schema version, not an ONNX opset), `rtml
quantize` refuses a .tflite file saying what to do, and `rtml compare` sets a
bench report of a .tflite model against one of the .onnx model of the same
network.

The two files are written here: y = relu(x @ w^T + b), x [1, 16], w [8, 16],
as a TFLite FULLY_CONNECTED with a fused RELU (schema version 3, by
tflite_writer.py) and as an ONNX Gemm (transB) + Relu at opset 13, both named
fc_relu (in two folders), as a user converting one model both ways has them.

usage: check_tflite_cli.py RTML    (exit 77 when numpy or onnx is missing)
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print(f"SKIP: {e.name} is missing (/usr/bin/python3 with Debian's python3-onnx and python3-numpy)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tflite_writer import float_fully_connected  # noqa: E402

RTML = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        failures.append(what)
    return cond


def rtml(*args):
    return subprocess.run([RTML, *args], capture_output=True, text=True)


def write_models(tmp, w, b):
    tfl = os.path.join(tmp, "tflite", "fc_relu.tflite")
    onx = os.path.join(tmp, "onnx", "fc_relu.onnx")
    os.makedirs(os.path.dirname(tfl))
    os.makedirs(os.path.dirname(onx))
    with open(tfl, "wb") as f:
        f.write(float_fully_connected(w, b))
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
        "fc_relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), onx)
    return tfl, onx


def check_info(tfl, onx):
    r = rtml("info", tfl)
    check(r.returncode == 0 and "format      tflite (schema version 3)" in r.stdout and "opset" not in r.stdout,
          f"rtml info on a .tflite names the format and the schema version, no opset:\n{r.stdout[:300]}{r.stderr}")
    r = rtml("info", onx)
    check(r.returncode == 0 and "format      onnx (opset 13)" in r.stdout,
          f"rtml info on an .onnx names the format and its opset:\n{r.stdout[:300]}{r.stderr}")
    for path, want in ((tfl, {"format": "tflite", "tflite_schema_version": 3}), (onx, {"format": "onnx", "opset": 13})):
        r = rtml("info", path, "--json")
        info = json.loads(r.stdout) if r.returncode == 0 else {}
        other = "opset" if "opset" not in want else "tflite_schema_version"
        check(all(info.get(k) == v for k, v in want.items()) and other not in info,
              f"rtml info --json {os.path.basename(path)}: {want}, no {other} "
              f"(got {({k: info.get(k) for k in ('format', 'opset', 'tflite_schema_version')})})")


def check_quantize(tfl, tmp):
    out = os.path.join(tmp, "q.onnx")
    r = rtml("quantize", tfl, "--out", out, "--weights-only")
    msg = r.stderr.strip()
    check(r.returncode == 1 and tfl in msg and ".tflite" in msg and "reads ONNX models only" in msg
          and "export it to ONNX" in msg and not os.path.exists(out),
          f"rtml quantize on a .tflite: exit 1 saying it reads ONNX and what to do, nothing written "
          f"(exit {r.returncode}: {msg[:400]})")


def check_compare(tfl, onx, tmp):
    x = np.linspace(-2, 2, 16, dtype=np.float32).reshape(1, 16)
    ys = []
    for path in (tfl, onx):
        xf, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "out-" + os.path.basename(path))
        np.save(xf, x)
        r = rtml("run", path, "--input", f"x={xf}", "--output-dir", out)
        ys.append(np.load(os.path.join(out, "y.npy")) if r.returncode == 0 else None)
    check(ys[0] is not None and ys[1] is not None and np.allclose(ys[0], ys[1], atol=1e-6),
          f"rtml run: the .tflite and the .onnx give the same outputs ({ys})")
    reports = []
    for path in (onx, tfl):
        report = os.path.join(tmp, os.path.basename(path) + ".json")
        r = rtml("bench", path, "--runs", "20", "--no-db", "--json", report)
        check(r.returncode == 0, f"rtml bench {path}: exit {r.returncode}: {r.stderr[-300:]}")
        reports.append(report)
    r = rtml("compare", *reports, "--json")
    res = json.loads(r.stdout) if r.returncode in (0, 1) else {}
    rows = [(x["model"], x["backend"], x["kind"]) for x in res.get("rows", [])]
    # Timing is the machine's: exit 0 or 1 (a regression) are both a comparison made.
    check(r.returncode in (0, 1) and rows == [("fc_relu", "native", "compared")],
          f"rtml compare onnx-report tflite-report: one compared row for fc_relu on native "
          f"(exit {r.returncode}: {rows or r.stderr[-300:]})")


with tempfile.TemporaryDirectory() as tmp:
    w = np.linspace(-1, 1, 8 * 16, dtype=np.float32).reshape(8, 16)
    b = np.linspace(-0.5, 0.5, 8, dtype=np.float32)
    tfl, onx = write_models(tmp, w, b)
    check_info(tfl, onx)
    check_quantize(tfl, tmp)
    check_compare(tfl, onx, tmp)
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("tflite cli: info, quantize and compare checks passed")
