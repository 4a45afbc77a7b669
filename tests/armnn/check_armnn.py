#!/usr/bin/python3
"""`rtml bench --backend armnn` end to end, as a user meets it:

- a hand-made .tflite (one FULLY_CONNECTED with a fused ReLU, weights chosen
  so the answer is computed by hand in this file) gives that answer;
- MLPerf Tiny's ad01_fp32 and pretrainedResnet_quant (int8 in, int8 out) run
  with latency rows, their backend placement and heap counts reported, and
  their outputs equal those of Arm NN called directly from Python (pyarmnn,
  which copies tensors in and out where the plugin has Arm NN use its buffers
  in place) on the same random input: the plugin binds the right tensors, in
  the right types and order;
- `rtml profile --backend armnn` shows Arm NN's own per-workload rows;
- models Arm NN refuses are error rows with its reason (kws_ref_model_float32:
  a float Conv2d with int8 weights that CpuRef lacks; a truncated file), and
  an ONNX model is "not covered" by armnn while native runs it in the same
  table.

usage: check_armnn.py RTML MLPERF_TINY_DIR
Exit 77 (skipped) when rtml has no armnn plugin, or pyarmnn or the MLPerf
Tiny models are missing.
"""
import json
import os
import subprocess
import sys
import tempfile

RTML, MLPERF = sys.argv[1], sys.argv[2]
failures = []


def skip(why):
    print(f"armnn: skipped: {why}")
    sys.exit(77)


try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper
except ImportError as e:
    skip(f"{e.name} is missing (scripts/install-deps.sh installs it)")
if not os.path.exists(os.path.join(os.path.dirname(RTML), "rtml-backend-armnn.so")):
    skip("rtml was built without the armnn plugin (install libarmnn-dev libarmnntfliteparser-dev and rebuild)")
try:
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import pyarmnn as ann  # (which prints the parsers it lacks)
except ImportError:
    skip("python3-pyarmnn is missing")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tflite"))
from tflite_writer import float_fully_connected  # noqa: E402
MODELS = {name: os.path.join(MLPERF, name + ".tflite")
          for name in ("ad01_fp32", "pretrainedResnet_quant", "kws_ref_model_float32")}
if not all(os.path.exists(p) for p in MODELS.values()):
    skip(f"the MLPerf Tiny models are not in {MLPERF}")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def bench(*args):
    p = subprocess.run([RTML, "bench", *args, "--no-db"], capture_output=True, text=True)
    check(p.returncode >= 0, f"rtml bench {' '.join(args)} was killed by signal {-p.returncode}: {p.stderr[-400:]}")
    return p


def rows(report_path):
    if not os.path.exists(report_path):
        return {}, []
    r = json.load(open(report_path))
    return {(x["model"], x["backend"]): x for x in r["runs"]}, r.get("not_covered") or []


def tflite_fully_connected(path, w, b):
    """y[1,N] = relu(x[1,K] @ w^T + b) as a .tflite file: tests/tflite/tflite_writer.py's float_fully_connected."""
    with open(path, "wb") as f:
        f.write(float_fully_connected(w, b))


def write_set(folder, inputs, expected):
    for sub, tensors in (("inputs", inputs), ("expected", expected)):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        for name, a in tensors.items():
            np.save(os.path.join(folder, sub, name.replace("/", "_").replace(":", "_") + ".npy"), a)


def pyarmnn_run(path, inputs):
    """Outputs of the model on Arm NN's CpuRef, called from Python, by output name."""
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(path)
    rt = ann.IRuntime(ann.CreationOptions())
    opt, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], rt.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, _ = rt.LoadNetwork(opt)
    in_infos = [parser.GetNetworkInputBindingInfo(0, n) for n in inputs]
    names = parser.GetSubgraphOutputTensorNames(0)
    out_tensors = ann.make_output_tensors([parser.GetNetworkOutputBindingInfo(0, n) for n in names])
    rt.EnqueueWorkload(net_id, ann.make_input_tensors(in_infos, list(inputs.values())), out_tensors)
    return dict(zip(names, ann.workload_tensors_to_ndarray(out_tensors)))


with tempfile.TemporaryDirectory() as tmp:
    # 1. The hand-made model: x = [1, 2, 3, 4]; rows of w give 1+4+9+16 + 0.5 = 30.5,
    #    -1+3 - 1 = 1, and 0.5*10 - 10 = -5, which the fused ReLU makes 0.
    fc_dir = os.path.join(tmp, "fc_relu")
    os.makedirs(fc_dir)
    w = np.array([[1, 2, 3, 4], [-1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]], np.float32)
    b = np.array([0.5, -1, -10], np.float32)
    tflite_fully_connected(os.path.join(fc_dir, "fc_relu.tflite"), w, b)
    write_set(fc_dir, {"x": np.array([[1, 2, 3, 4]], np.float32)}, {"y": np.array([[30.5, 1, 0]], np.float32)})
    report = os.path.join(tmp, "fc.json")
    # native beside armnn: one table for both, each row checked against the hand-computed y.
    p = bench(os.path.join(fc_dir, "fc_relu.tflite"), "--backend", "native,armnn", "--runs", "5", "--json", report)
    runs, _ = rows(report)
    for backend in ("armnn", "native"):
        fc = runs.get(("fc_relu", backend), {})
        check(fc.get("status") == "ok",
              f"fc_relu on {backend}: {fc.get('status')}: {fc.get('error')} {p.stderr[-400:]}")
        acc = fc.get("accuracy") or {}
        check(acc.get("passed") is True and acc.get("compared_elements") == 3,
              f"fc_relu on {backend}: y is not [30.5, 1, 0] (hand-computed): {acc}")

    # 2. MLPerf Tiny models against pyarmnn on the same random input.
    rng = np.random.default_rng(7)
    for name in ("ad01_fp32", "pretrainedResnet_quant"):
        folder = os.path.join(tmp, name)
        os.makedirs(folder)
        os.symlink(MODELS[name], os.path.join(folder, name + ".tflite"))
        parser = ann.ITfLiteParser()
        parser.CreateNetworkFromBinaryFile(MODELS[name])
        inputs = {}
        for n in parser.GetSubgraphInputTensorNames(0):
            info = parser.GetNetworkInputBindingInfo(0, n)[1]
            shape = tuple(info.GetShape()[d] for d in range(info.GetNumDimensions()))
            if info.GetDataType() == ann.DataType_QAsymmS8:
                inputs[n] = rng.integers(-128, 128, shape).astype(np.int8)
            else:
                inputs[n] = rng.standard_normal(shape).astype(np.float32)
        expected = pyarmnn_run(MODELS[name], inputs)
        check(any(np.any(v != 0) for v in expected.values()), f"{name}: pyarmnn's outputs are all zero")
        write_set(folder, inputs, expected)
    report = os.path.join(tmp, "mlperf.json")
    p = bench(os.path.join(tmp, "ad01_fp32", "ad01_fp32.tflite"),
              os.path.join(tmp, "pretrainedResnet_quant", "pretrainedResnet_quant.tflite"),
              "--backend", "armnn", "--runs", "5", "--warmup", "1", "--json", report)
    check(p.returncode == 0, f"bench ad01 + resnet on armnn: exit {p.returncode}: {p.stderr[-600:]}")
    runs, _ = rows(report)
    for name in ("ad01_fp32", "pretrainedResnet_quant"):
        r = runs.get((name, "armnn"), {})
        where = f"{name} on armnn"
        check(r.get("status") == "ok", f"{where}: {r.get('status')}: {r.get('error')}")
        check(r.get("timed_runs") == 5 and (r.get("latency_us") or {}).get("median", 0) > 0,
              f"{where}: no latency row: {r.get('timed_runs')} {r.get('latency_us')}")
        acc = r.get("accuracy") or {}
        check(acc.get("passed") is True and acc.get("compared_elements", 0) >= 10,
              f"{where}: outputs differ from pyarmnn's: {acc}")
        info = r.get("backend_info") or {}
        check(info.get("runtime", "").startswith("Arm NN "), f"{where}: runtime {info.get('runtime')}")
        check(info.get("compute", "").startswith(("CpuAcc: ", "CpuRef: ")), f"{where}: compute {info.get('compute')}")
        check(isinstance((r.get("heap") or {}).get("allocations_per_run"), (int, float)),
              f"{where}: heap allocations not counted: {r.get('heap')}")
        check(any(line.split()[:3] == [name, "armnn", "ok"] for line in p.stdout.splitlines()),
              f"{where}: no row in the table:\n{p.stdout}")

    # `rtml profile`: Arm NN's own profiler, one row per executed workload. MLPerf Tiny's anomaly
    # detection model is a dense autoencoder of 10 layers (128, 128, 128, 128, 8, 128, 128, 128, 128,
    # 640 units), each a FullyConnected workload, 9 of them followed by a ReLU.
    prof = os.path.join(tmp, "profile.json")
    p = subprocess.run([RTML, "profile", MODELS["ad01_fp32"], "--backend", "armnn", "--runs", "10", "--no-db",
                        "--json", prof], capture_output=True, text=True)
    check(p.returncode == 0, f"profile ad01_fp32 --backend armnn: exit {p.returncode}: {p.stderr[-400:]}")
    if os.path.exists(prof):
        ops = json.load(open(prof)).get("ops") or []
        fc = [o for o in ops if o.get("op_type", "").endswith("FullyConnected")]
        check(len(fc) == 10, f"profile ad01_fp32 on armnn: {len(fc)} FullyConnected rows, expected 10: {ops}")
        check(all(o.get("calls") == 10 for o in ops), f"profile on armnn: calls per row {[o.get('calls') for o in ops]}")

    # 3. Models Arm NN refuses: error rows with its reason; the sweep goes on.
    truncated = os.path.join(tmp, "truncated.tflite")
    with open(MODELS["ad01_fp32"], "rb") as f:
        open(truncated, "wb").write(f.read()[:3000])
    report = os.path.join(tmp, "refused.json")
    p = bench(MODELS["kws_ref_model_float32"], truncated, MODELS["ad01_fp32"], "--backend", "armnn", "--runs", "3",
              "--json", report)
    check(p.returncode == 1, f"bench of refused models: exit {p.returncode}, expected 1: {p.stderr[-400:]}")
    runs, _ = rows(report)
    kws = runs.get(("kws_ref_model_float32", "armnn"), {})
    check(kws.get("status") == "error" and "Convolution2d" in (kws.get("error") or "")
          and "not supported" in (kws.get("error") or ""), f"kws_ref_model_float32 on armnn: {kws}")
    cut = runs.get(("truncated", "armnn"), {})
    check(cut.get("status") == "error" and truncated in (cut.get("error") or "")
          and "Arm NN" in (cut.get("error") or ""), f"truncated .tflite on armnn: {cut}")
    check(runs.get(("ad01_fp32", "armnn"), {}).get("status") == "ok", "armnn: the sweep did not go on after errors")
    check("errors:" in p.stdout and "kws_ref_model_float32 / armnn" in p.stdout, f"no error lines:\n{p.stdout}")

    # 4. An ONNX model: not covered by armnn (Debian's Arm NN has no ONNX parser), run by native.
    onnx_path = os.path.join(tmp, "relu.onnx")
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    graph = helper.make_graph([node], "relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), onnx_path)
    report = os.path.join(tmp, "onnx.json")
    p = bench(onnx_path, "--backend", "native,armnn", "--runs", "5", "--json", report)
    check(p.returncode == 0, f"bench relu.onnx on native,armnn: exit {p.returncode}: {p.stderr[-400:]}")
    runs, gaps = rows(report)
    native = runs.get(("relu", "native"), {})
    check(native.get("status") == "ok", f"relu.onnx on native: {native}")
    check(any(g.get("backend") == "armnn" and ".tflite" in g.get("reason", "") for g in gaps),
          f"relu.onnx on armnn: not listed as not covered: {gaps}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("armnn: all checks passed")
