#!/usr/bin/python3
"""`rtml quantize` end to end, against oracles that are not rtml:

- onnx.checker accepts every file it writes (full check, shapes inferred);
- a QDQ evaluator written here from the ONNX operator spec in numpy/torch
  (QuantizeLinear rounds half to even and saturates, DequantizeLinear per
  tensor and per axis) runs the int8 digits_mlp and digits_cnn on their
  held-out sets: top-1 within 1 point of PyTorch's float top-1 (the manifest's
  pytorch_top1), and rtml's own outputs within 1 quantization unit of it;
- ONNX Runtime (rtml's onnxruntime plugin, skipped when it is not built) on the
  same sets: within 1 quantization unit of the evaluator;
- weight bytes: the int8 weight initializers in the file are a quarter of the
  float ones (within 5%);
- a hand-built two-layer model: every scale and zero point in the file equals
  what numpy computes from the activation ranges it sees on the calibration
  data (minmax), per channel and per tensor, int8 and uint8, and the bias
  scale is input scale x weight scale;
- the report's JSON fields, SQNR finite and > 20 dB per layer of digits_mlp;
- causal residual blocks exported by PyTorch: the Slice inside the Conv -> Relu group,
  the Adds int8, rtml's outputs equal to the integer
  evaluator's bit for bit;
- LSTM weight-only, the options, and the errors (exit 1 or 2, message naming
  the problem).

usage: check_quantize.py RTML ZOO_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "zoo"))
from qdq_eval import attrs, run_qdq  # noqa: E402  (the spec evaluator, shared with zoo/quantized.py)

RTML, ZOO = sys.argv[1], sys.argv[2]
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def rtml(*args):
    p = subprocess.run([RTML, *map(str, args)], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def save_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def output_scale(model, name):
    """The scale of the DequantizeLinear that writes graph output `name`."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] == name:
            return float(inits[n.input[1]])
    return None


def dq_params(model):
    """For every DequantizeLinear: its output name -> (scale, zero point, axis)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear":
            out[n.output[0]] = (inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None,
                                attrs(n).get("axis"))
    return out


# --- the zoo classifiers ---------------------------------------------------------

def sets_of(folder):
    names = sorted((d for d in os.listdir(folder) if d.startswith("test_data_set_")), key=lambda d: int(d.split("_")[-1]))
    return [os.path.join(folder, d) for d in names]


def plugin_built(name):
    return os.path.exists(os.path.join(os.path.dirname(os.path.abspath(RTML)), f"rtml-backend-{name}.so"))


def check_classifier(name, tmp, manifest):
    src = os.path.join(ZOO, name)
    out = os.path.join(tmp, name + ".int8.onnx")
    report = os.path.join(tmp, name + ".json")
    rc, stdout, err = rtml("quantize", os.path.join(src, "model.onnx"), "--out", out, "--report", report)
    if not check(rc == 0, f"{name}: rtml quantize exit {rc}: {err.strip()[-600:]}"):
        return None
    print(stdout, flush=True)
    check("calibrating: 360 of 360 samples" in err, f"{name}: no progress line on stderr: {err[-300:]!r}")
    model = onnx.load(out)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # noqa: BLE001 - the checker's message is the failure
        check(False, f"{name}: onnx.checker refuses the file: {e}")
    check(any(o.domain in ("", "ai.onnx") and o.version >= 13 for o in model.opset_import), f"{name}: opset < 13")
    ops = [n.op_type for n in model.graph.node]
    check(ops.count("QuantizeLinear") >= 3 and ops.count("DequantizeLinear") >= 6, f"{name}: ops {ops}")

    # Weight bytes: the int8 weights of the file against the float weights they replace.
    float_model = onnx.load(os.path.join(src, "model.onnx"))
    float_w = {t.name: numpy_helper.to_array(t) for t in float_model.graph.initializer}
    int8 = [numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == TensorProto.INT8]
    int8_bytes = sum(a.nbytes for a in int8 if a.ndim >= 2)
    float_bytes = sum(a.nbytes for a in float_w.values() if a.ndim >= 2)
    check(abs(int8_bytes - float_bytes / 4) <= 0.05 * float_bytes / 4,
          f"{name}: int8 weights {int8_bytes} B vs a quarter of float32 {float_bytes / 4} B")
    rep = json.load(open(report))
    check(rep["weight_bytes"]["int8"] == int8_bytes and rep["weight_bytes"]["float32"] == float_bytes,
          f"{name}: report weight bytes {rep['weight_bytes']} vs file {int8_bytes} / {float_bytes}")

    # The evaluator on every held-out set: top-1 against PyTorch's float top-1.
    scale = output_scale(model, "logits")
    sets = sets_of(src)
    folder = os.path.join(tmp, name + "_int8")
    os.makedirs(folder)
    shutil.copy(out, os.path.join(folder, "model.onnx"))
    correct = 0
    for k, sd in enumerate(sets):
        x = load_pb(os.path.join(sd, "input_0.pb"))
        label = int(load_pb(os.path.join(sd, "label.pb")).ravel()[0])
        logits = run_qdq(model, {"x": x})[0]
        correct += int(np.argmax(logits) == label)
        dst = os.path.join(folder, f"test_data_set_{k}")
        os.makedirs(dst)
        shutil.copy(os.path.join(sd, "input_0.pb"), dst)
        shutil.copy(os.path.join(sd, "label.pb"), dst)
        save_pb(os.path.join(dst, "output_0.pb"), logits.astype(np.float32), "logits")
    top1 = correct / len(sets)
    pytorch = manifest[name]["pytorch_top1"]
    print(f"{name}: int8 top-1 (spec evaluator) {top1:.2%}, PyTorch float {pytorch:.2%}; output scale {scale:.4g}")
    check(pytorch - top1 <= 0.01, f"{name}: int8 top-1 {top1:.4f} is more than 1 point below float {pytorch:.4f}")
    acc = rep["accuracy"]
    check(abs(acc["int8_top1"] - top1) <= 0.01, f"{name}: report's int8 top-1 {acc['int8_top1']} vs evaluator {top1}")
    check(abs(acc["float_top1"] - pytorch) <= 0.005, f"{name}: report's float top-1 {acc['float_top1']} vs {pytorch}")

    # rtml and ONNX Runtime against the evaluator: within one unit of the output's scale.
    rrep = os.path.join(tmp, name + "_run.json")
    rtml("run", os.path.join(folder, "model.onnx"), "--test-data", folder, "--tolerance", "1e-9", "--report", rrep)
    if check(os.path.exists(rrep), f"{name}: rtml run wrote no report"):
        worst = json.load(open(rrep))["outputs"][0]["max_abs_error"]
        print(f"{name}: rtml vs the evaluator: max abs error {worst:.4g} ({worst / scale:.2f} units)")
        check(worst <= scale * 1.001, f"{name}: rtml is {worst / scale:.2f} quantization units from the evaluator")
    if plugin_built("onnxruntime"):
        brep = os.path.join(tmp, name + "_ort.json")
        rtml("bench", folder, "--backend", "onnxruntime", "--no-db", "--runs", "3", "--tolerance", "1e-9",
             "--json", brep)
        if check(os.path.exists(brep), f"{name}: rtml bench --backend onnxruntime wrote no report"):
            run = json.load(open(brep))["runs"][0]
            if check(run["status"] == "ok", f"{name}: ONNX Runtime refused the file: {run.get('error')}"):
                worst = run["accuracy"]["max_abs_error"]
                print(f"{name}: ONNX Runtime vs the evaluator: max abs error {worst:.4g} ({worst / scale:.2f} units)")
                check(worst <= scale * 1.001, f"{name}: ONNX Runtime is {worst / scale:.2f} units from the evaluator")
                check(abs(run["accuracy"]["top1"] - top1) <= 0.01, f"{name}: ONNX Runtime top-1 {run['accuracy']['top1']}")
    else:
        print(f"{name}: ONNX Runtime comparison skipped (no rtml-backend-onnxruntime.so beside {RTML})")
    return rep


def check_report_fields(rep):
    for key in ("schema", "model", "out", "settings", "tensors", "layers", "weight_bytes", "parameter_bytes", "accuracy"):
        check(key in rep, f"report lacks '{key}'")
    check(rep.get("schema") == "rtml.quantize/1", f"report schema {rep.get('schema')}")
    for t in rep.get("tensors", []):
        check({"name", "kind", "dtype", "scale", "zero_point"} <= set(t), f"tensor row {t}")
    layers = rep.get("layers", [])
    check(len(layers) == 3, f"digits_mlp: {len(layers)} layers in the report")
    for row in layers:
        db = row.get("sqnr_db")
        check(isinstance(db, (int, float)) and np.isfinite(db) and db > 20, f"digits_mlp: layer {row}: SQNR {db}")
    check(rep["parameter_bytes"]["after"] < rep["parameter_bytes"]["before"], f"parameter bytes {rep['parameter_bytes']}")


# --- a hand-built model: scales against numpy -----------------------------------

def two_layer_model(path, rng):
    """x[1, 8] -> Gemm(W1 [6, 8], b1, transB) -> Relu -> h -> MatMul(W2 [6, 4]) -> y"""
    w1 = rng.normal(0, 0.5, (6, 8)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 6).astype(np.float32)
    w2 = rng.normal(0, 0.5, (6, 4)).astype(np.float32)
    w2[:, 3] *= 5  # one column much larger: per-channel scales differ
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["g"], name="fc1", transB=1),
             helper.make_node("Relu", ["g"], ["h"], name="relu"),
             helper.make_node("MatMul", ["h", "W2"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "two_layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "b1"),
                               numpy_helper.from_array(w2, "W2")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return w1, b1, w2


def expected_act(lo, hi, qmin, qmax):
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = np.float32((hi - lo) / (qmax - qmin))
    zp = np.clip(np.floor(qmin - lo / float(scale) + 0.5), qmin, qmax)  # half away from zero: the value is >= qmin
    return scale, int(zp)


def check_hand_model(tmp):
    rng = np.random.default_rng(7)
    d = os.path.join(tmp, "two_layer")
    os.makedirs(d)
    w1, b1, w2 = two_layer_model(os.path.join(d, "model.onnx"), rng)
    xs = []
    for k in range(20):   # the .npy layout of rtml run --test-data
        x = rng.normal(0.3, 1.0, (1, 8)).astype(np.float32)
        xs.append(x)
        os.makedirs(os.path.join(d, f"test_data_set_{k}", "inputs"))
        np.save(os.path.join(d, f"test_data_set_{k}", "inputs", "x.npy"), x)
    X = np.concatenate(xs)
    H = np.maximum(X @ w1.T + b1, 0)
    Y = H @ w2
    for act, (qmin, qmax) in (("int8", (-128, 127)), ("uint8", (0, 255))):
        out = os.path.join(tmp, f"two_layer_{act}.onnx")
        rc, _, err = rtml("quantize", os.path.join(d, "model.onnx"), "--out", out, "--activations", act)
        if not check(rc == 0, f"two-layer model, {act}: exit {rc}: {err[-400:]}"):
            continue
        m = onnx.load(out)
        onnx.checker.check_model(m, full_check=True)
        p = dq_params(m)
        for name, values in (("x_dequantized", X), ("h", H), ("y", Y)):
            want_s, want_z = expected_act(values.min(), values.max(), qmin, qmax)
            s, z, _ = p[name]
            check(np.isclose(s, want_s, rtol=1e-5) and int(z) == want_z,
                  f"two-layer {act} {name}: scale {s} zero point {z}, numpy says {want_s} {want_z}")
            check(z.dtype == np.dtype(act), f"two-layer {act} {name}: zero point type {z.dtype}")
        s, z, axis = p["W1"]
        check(axis == 0 and np.allclose(s, np.abs(w1).max(axis=1) / 127, rtol=1e-6) and not z.any(),
              f"two-layer W1 (Gemm, transB): axis {axis}, scales {s}")
        s, z, axis = p["W2"]
        check(axis == 1 and np.allclose(s, np.abs(w2).max(axis=0) / 127, rtol=1e-6),
              f"two-layer W2 (MatMul): axis {axis}, scales {s}")
        s, z, axis = p["b1"]
        check(axis == 0 and np.allclose(s, np.float32(p["x_dequantized"][0]) * p["W1"][0], rtol=1e-6) and z.dtype == np.int32,
              f"two-layer b1: scales {s} != input scale x weight scales")
        # The file on the evaluator matches float within what 8 bits allow.
        err = max(np.abs(run_qdq(m, {"x": x})[0] - np.maximum(x @ w1.T + b1, 0) @ w2).max()
                  for x in xs)
        check(err < 0.05 * np.abs(Y).max(), f"two-layer {act}: evaluator vs float max error {err}")

    # --per-tensor: one scale per weight, max |W| / 127.
    out = os.path.join(tmp, "two_layer_pt.onnx")
    rc, _, err = rtml("quantize", os.path.join(d, "model.onnx"), "--out", out, "--per-tensor")
    if check(rc == 0, f"--per-tensor: exit {rc}: {err[-300:]}"):
        p = dq_params(onnx.load(out))
        check(p["W2"][0].ndim == 0 and np.isclose(p["W2"][0], np.abs(w2).max() / 127, rtol=1e-6) and p["W2"][2] is None,
              f"--per-tensor W2: {p['W2']}")
    # --weights-only: no QuantizeLinear, float bias, activations untouched.
    out = os.path.join(tmp, "two_layer_wo.onnx")
    rc, _, err = rtml("quantize", os.path.join(d, "model.onnx"), "--out", out, "--weights-only")
    if check(rc == 0, f"--weights-only: exit {rc}: {err[-300:]}"):
        m = onnx.load(out)
        ops = [n.op_type for n in m.graph.node]
        check("QuantizeLinear" not in ops and ops.count("DequantizeLinear") == 2, f"--weights-only ops {ops}")
    # --method percentile / mse write valid files.
    for method in ("percentile", "mse"):
        out = os.path.join(tmp, f"two_layer_{method}.onnx")
        rc, _, err = rtml("quantize", os.path.join(d, "model.onnx"), "--out", out, "--method", method)
        if check(rc == 0, f"--method {method}: exit {rc}: {err[-300:]}"):
            onnx.checker.check_model(onnx.load(out), full_check=True)
            s, _, _ = dq_params(onnx.load(out))["x_dequantized"]
            check(s <= expected_act(X.min(), X.max(), -128, 127)[0] * 1.0001,
                  f"--method {method}: input scale {s} wider than min/max's")
    return d


class CausalBlock(torch.nn.Module):
    """relu(Conv1d(padding=2d, dilation=d)(x)[..., :-2d]) + x: a TCN block, as PyTorch users write it."""

    def __init__(self, channels, dilation):
        super().__init__()
        self.trim = 2 * dilation
        self.conv = torch.nn.Conv1d(channels, channels, 3, padding=self.trim, dilation=dilation)

    def forward(self, x):
        return torch.relu(self.conv(x)[..., :-self.trim]) + x


def check_residual(tmp):
    """Two causal residual blocks, then a Relu, exported by torch.onnx: the Slice inside each
    block's Conv -> Relu group, every Add int8 (an Add -> Relu at the end), rtml's outputs
    equal to the integer evaluator's (zoo/qdq_eval.py) bit for bit."""
    torch.manual_seed(3)
    net = torch.nn.Sequential(CausalBlock(6, 1), CausalBlock(6, 2), torch.nn.ReLU()).eval()
    d = os.path.join(tmp, "residual")
    os.makedirs(d)
    src = os.path.join(d, "model.onnx")
    torch.onnx.export(net, torch.zeros(1, 6, 32), src, input_names=["x"], output_names=["y"], opset_version=13)
    rng = np.random.default_rng(11)
    xs = []
    for k in range(12):
        xs.append(rng.normal(0, 1, (1, 6, 32)).astype(np.float32))
        os.makedirs(os.path.join(d, f"test_data_set_{k}", "inputs"))
        np.save(os.path.join(d, f"test_data_set_{k}", "inputs", "x.npy"), xs[-1])
    what = "residual blocks"
    out = os.path.join(tmp, "residual.onnx")
    rc, stdout, err = rtml("quantize", src, "--out", out)
    if not check(rc == 0, f"{what}: exit {rc}: {err[-400:]}"):
        return
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    prod = {o: n for n in m.graph.node for o in n.output}
    readers = {}
    for n in m.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    q_inputs = [prod.get(n.input[0]) for n in m.graph.node if n.op_type == "QuantizeLinear"]
    check(not any(p is not None and p.op_type in ("Conv", "Slice") for p in q_inputs),
          f"{what}: a QuantizeLinear between a Conv and its Relu: {[p.op_type for p in q_inputs if p]}")
    for n in m.graph.node:
        if n.op_type == "Slice":
            nxt = readers.get(n.output[0], [])
            check(len(nxt) == 1 and nxt[0].op_type == "Relu" and
                  [r.op_type for r in readers.get(nxt[0].output[0], [])] == ["QuantizeLinear"],
                  f"{what}: Slice {n.name} is not followed by Relu -> QuantizeLinear")
    check(prod["y"].op_type == "DequantizeLinear", f"{what}: y written by {prod['y'].op_type}, not a DequantizeLinear")
    with open(os.path.join(tmp, "residual.quantize.json")) as f:
        adds = [row for row in json.load(f)["layers"] if row["op_type"] == "Add"]
    check(len(adds) == 2 and all(row["sqnr_db"] and row["sqnr_db"] > 20 for row in adds), f"{what}: report Add rows {adds}")
    rc, info, err = rtml("info", out, "--json")
    if check(rc == 0, f"{what}: rtml info exit {rc}: {err[-300:]}"):
        passes = {p["name"]: p for p in json.loads(info)["passes"]}
        check(passes["fold_causal_slice"]["folded_slices"] == 2, f"{what}: {passes['fold_causal_slice']['summary']}")
        q = passes["fuse_qdq"]
        check(q["fused_groups"] == 4 and q["left_in_float"] == 0, f"{what}: {q['summary']}")
    for k, x in enumerate(xs[:4]):
        np.save(os.path.join(tmp, "x.npy"), x)
        outs = os.path.join(tmp, "residual_out")
        rc, _, err = rtml("run", out, "--input", f"x={os.path.join(tmp, 'x.npy')}", "--output-dir", outs)
        if check(rc == 0, f"{what}: rtml run exit {rc}: {err[-300:]}"):
            got, want = np.load(os.path.join(outs, "y.npy")), run_qdq(m, {"x": x}, integer=True)[0]
            check(np.array_equal(got, want), f"{what}, set {k}: rtml differs from the integer evaluator "
                  f"by up to {np.abs(got - want).max()}")


def check_lstm(tmp):
    src = os.path.join(ZOO, "lstm_stream_h16")
    out = os.path.join(tmp, "lstm.int8.onnx")
    rc, stdout, err = rtml("quantize", os.path.join(src, "model.onnx"), "--out", out)
    if not check(rc == 0, f"lstm_stream_h16: exit {rc}: {err[-500:]}"):
        return
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    lstm = next(n for n in m.graph.node if n.op_type == "LSTM")
    p = dq_params(m)
    for w in lstm.input[1:3]:
        check(w in p and p[w][2] == 1, f"lstm_stream_h16: LSTM input {w} is not dequantized per channel along axis 1")
    check("weight-only" in stdout, f"lstm_stream_h16: the report does not say weight-only:\n{stdout}")


def check_fused_accuracy(tmp):
    """The report's int8 error is that of the int8 model as rtml runs it (QDQ groups fused into
    integer steps), not of its unfused float reading: on the transformer, whose two part by
    0.003, the spec evaluator's integer outputs against PyTorch's float ones."""
    name = "transformer_d32_h2_s16"
    src = os.path.join(ZOO, name)
    out, report = os.path.join(tmp, name + ".int8.onnx"), os.path.join(tmp, name + ".int8.json")
    rc, _, err = rtml("quantize", os.path.join(src, "model.onnx"), "--out", out, "--report", report)
    if not check(rc == 0, f"{name}: exit {rc}: {err[-500:]}"):
        return
    model = onnx.load(out)
    err = np.concatenate([np.abs(run_qdq(model, {"x": load_pb(os.path.join(sd, "input_0.pb"))}, integer=True)[0]
                                 - load_pb(os.path.join(sd, "output_0.pb"))).ravel() for sd in sets_of(src)])
    reported = json.load(open(report))["accuracy"]["outputs"][0]
    print(f"{name}: int8 vs float max abs error {reported['max_abs_error']:.6g}, mean {reported['mean_abs_error']:.6g} "
          f"(report); {err.max():.6g}, {err.mean():.6g} (integer evaluator against PyTorch)")
    check(abs(reported["max_abs_error"] - err.max()) <= 1e-4 and abs(reported["mean_abs_error"] - err.mean()) <= 2e-6,
          f"{name}: the report's int8 vs float error is not the integer evaluator's")


def check_errors(tmp, hand_dir):
    # No quantizable layer.
    d = os.path.join(tmp, "add_only")
    os.makedirs(d)
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "add",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(d, "model.onnx"))
    rc, _, err = rtml("quantize", os.path.join(d, "model.onnx"), "--calibration", hand_dir)
    check(rc == 1 and "no quantizable layer" in err, f"no quantizable layer: exit {rc}: {err.strip()}")
    # No calibration data beside the model and none given: a usage error.
    lone = os.path.join(tmp, "lone")
    os.makedirs(lone)
    shutil.copy(os.path.join(hand_dir, "model.onnx"), lone)
    rc, _, err = rtml("quantize", os.path.join(lone, "model.onnx"))
    check(rc == 2 and "--calibration" in err, f"no calibration data: exit {rc}: {err.strip()}")
    rc, _, err = rtml("quantize", os.path.join(lone, "model.onnx"), "--calibration", os.path.join(tmp, "nowhere"))
    check(rc == 1 and "nowhere" in err, f"missing --calibration folder: exit {rc}: {err.strip()}")
    rc, _, err = rtml("quantize", os.path.join(hand_dir, "model.onnx"), "--out", "/nonexistent-dir/m.onnx")
    check(rc == 1 and "/nonexistent-dir" in err, f"unwritable --out: exit {rc}: {err.strip()}")
    rc, _, err = rtml("quantize", os.path.join(hand_dir, "model.onnx"), "--method", "kl")
    check(rc == 2 and "--method" in err, f"--method kl: exit {rc}: {err.strip()}")
    rc, _, err = rtml("quantize", os.path.join(hand_dir, "model.onnx"), "--percentile", "99")
    check(rc == 2 and "--percentile" in err, f"--percentile without the method: exit {rc}: {err.strip()}")
    # A NaN weight, and an opset below 13 (per-axis DequantizeLinear).
    for what, opset, w in (("NaN weight", 13, np.float32("nan")), ("opset 11", 11, np.float32(1))):
        bad = os.path.join(tmp, what.replace(" ", "_"))
        os.makedirs(bad)
        weight = np.ones((4, 4), np.float32)
        weight[1, 2] = w
        g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              [numpy_helper.from_array(weight, "W")])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), os.path.join(bad, "model.onnx"))
        rc, _, err = rtml("quantize", os.path.join(bad, "model.onnx"), "--weights-only", "--no-accuracy")
        expected = "'W' holds NaN" if opset == 13 else "opset 11"
        check(rc == 1 and expected in err, f"{what}: exit {rc}: {err.strip()}")
    rc, out, _ = rtml("quantize", "--help")
    for opt in ("--calibration", "--out", "--method", "--percentile", "--activations", "--per-tensor",
                "--weights-only", "--report", "--test-data"):
        check(opt in out, f"rtml quantize --help lacks {opt}")


def main():
    with open(os.path.join(ZOO, "manifest.json")) as f:
        manifest = {e["name"]: e for e in json.load(f)["models"]}
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        rep = check_classifier("digits_mlp", tmp, manifest)
        if rep:
            check_report_fields(rep)
        check_classifier("digits_cnn", tmp, manifest)
        hand = check_hand_model(tmp)
        check_residual(tmp)
        check_lstm(tmp)
        check_fused_accuracy(tmp)
        check_errors(tmp, hand)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        sys.exit(1)
    print("quantize: all checks passed")


if __name__ == "__main__":
    main()
