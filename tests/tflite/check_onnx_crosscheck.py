#!/usr/bin/python3
"""Cross-check of rtml's two int8 importers: digits_mlp_int8, the zoo's
digits_mlp quantized here by `rtml quantize` as `rtml zoo` does (a QDQ ONNX
file: QuantizeLinear on the input, then Gemm layers with per-channel int8
weights and int32 biases, Relu, QuantizeLinear after each), and the TFLite
model of the same network, written here from the ONNX file's own integers:
QUANTIZE (float in, int8), one FULLY_CONNECTED per Gemm (the same int8
weights and per-channel scales, the int32 bias of scale input scale x weight
scale, a fused RELU where the Gemm is followed by one), DEQUANTIZE out, every
scale and zero point copied from the initializers.

- `rtml run` on both files, on 100 held-out sets of digits_mlp: the
  outputs must be bit-identical (both are the same int8 values dequantized
  with the same scale and zero point, so equal floats mean equal int8);
- the same for `rtml quantize --per-tensor` of the float digits_mlp;
- each .tflite through Arm NN's TFLite parser on CpuRef (python3-pyarmnn, in
  a child process), an implementation that shares nothing with rtml: within
  2 int8 units of rtml's output (Arm NN requantizes through float, TFLite in
  fixed point). Arm NN 20.08 aborts on per-channel FULLY_CONNECTED weights,
  so for the per-channel file this is reported, and asserted for the per-tensor
  one. Without pyarmnn that part is skipped with a message.

usage: check_onnx_crosscheck.py RTML ZOO_DIR
ZOO_DIR is the tests' generated zoo (build/zoo-all). Exit 77 (skipped) when
numpy, onnx or the zoo's digits_mlp is missing.
"""
import contextlib
import io
import os
import subprocess
import sys
import tempfile

SETS = 100  # of the held-out sets: two `rtml run`s per set and model
failures = []


def skip(why):
    print(f"onnx/tflite cross-check: skipped: {why}")
    sys.exit(77)


try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    skip(f"{e.name} is missing (scripts/install-deps.sh installs it)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tflite_writer import tflite_model  # noqa: E402  (the tests' FlatBuffers writer for .tflite)

FLOAT32, INT32, INT8 = 0, 2, 9                     # TensorType
DEQUANTIZE, FULLY_CONNECTED, QUANTIZE = 6, 9, 114  # BuiltinOperator
FULLY_CONNECTED_OPTIONS, RELU = 8, 1               # BuiltinOptions, ActivationFunctionType


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def fail_model(why):
    print(f"FAIL: the int8 digits_mlp is not the QDQ chain of Gemm layers this test translates: {why}")
    sys.exit(1)


def layers_of(model):
    """The ONNX file as (input name, input q, [layers], output q, output name): q = (scale, zero point);
    a layer = (weight int8 [N,K], weight scales [N] or [1], bias int32 [N], bias scales [N] or [1], relu, output q)."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    by_input = {}
    for n in model.graph.node:
        for i in n.input:
            by_input.setdefault(i, []).append(n)
    dq_of = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}

    def only(name, op):
        users = by_input.get(name, [])
        if len(users) != 1 or users[0].op_type != op:
            fail_model(f"{name} feeds {[u.op_type for u in users]}, expected one {op}")
        return users[0]

    def q_params(node):
        return float(init[node.input[1]]), int(init[node.input[2]])

    def const(dq, dtype):
        """The integers, scales and zero points behind a DequantizeLinear of an initializer."""
        if dq is None or dq.input[0] not in init:
            fail_model(f"{dq and dq.output[0]}: not a DequantizeLinear of an initializer")
        q, s, z = (init[i] for i in dq.input[:3])
        if q.dtype != dtype or np.any(z != 0):
            fail_model(f"{dq.input[0]}: {q.dtype} with zero points {z}, expected {dtype.__name__} symmetric")
        return q, np.atleast_1d(s).astype(np.float32)  # one scale (per tensor) or one per row

    x = model.graph.input[0].name
    q = only(x, "QuantizeLinear")
    in_q, layers, name = q_params(q), [], q.output[0]
    while True:
        dq = only(name, "DequantizeLinear")
        users = by_input.get(dq.output[0], [])
        if len(users) != 1 or users[0].op_type != "Gemm":
            break
        gemm = users[0]
        a = {at.name: onnx.helper.get_attribute_value(at) for at in gemm.attribute}
        if a.get("transB") != 1 or a.get("transA", 0) != 0 or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            fail_model(f"Gemm {gemm.name}: attributes {a}")
        w, ws = const(dq_of.get(gemm.input[1]), np.int8)
        b, bs = const(dq_of.get(gemm.input[2]), np.int32)
        out = gemm.output[0]
        relu = by_input.get(out, [None])[0]
        relu = relu is not None and relu.op_type == "Relu"
        if relu:
            out = only(out, "Relu").output[0]
        q = only(out, "QuantizeLinear")
        layers.append((w, ws, b, bs, relu, q_params(q)))
        name = q.output[0]
    if not layers or len(model.graph.output) != 1 or dq.output[0] != model.graph.output[0].name:
        fail_model(f"chain ends at {dq.output[0]}, not at the graph's one output")
    return x, in_q, layers, q_params(dq), dq.output[0]


def tflite_of(x, in_q, layers, out_name):
    """The .tflite bytes of the same network: tensors x (float), x_q, then per layer weights, bias and
    its int8 output, then the float output; buffers 1, 2... hold the weights and biases in order."""
    k = layers[0][0].shape[1]
    tensors = [(x, [1, k], FLOAT32, 0, [], []), (x + "_q", [1, k], INT8, 0, [in_q[0]], [in_q[1]])]
    ops, buffers, prev, prev_scale = [(2, [0], [1], 0, None)], [], 1, in_q[0]
    for i, (w, ws, b, bs, relu, (s, z)) in enumerate(layers):
        n = w.shape[0]
        # TFLite's bias scale is input scale x weight scale; the ONNX file must agree to be translatable.
        check(np.array_equal(bs, (np.float32(prev_scale) * ws).astype(np.float32)),
              f"layer {i}: bias scale != input scale x weight scale")
        buffers += [w.tobytes(), b.astype("<i4").tobytes()]
        tensors += [(f"fc{i}.weight", [n, k], INT8, len(buffers) - 1, list(ws), [0] * len(ws)),
                    (f"fc{i}.bias", [n], INT32, len(buffers), list(bs), [0] * len(bs)),
                    (f"fc{i}.out", [1, n], INT8, 0, [s], [z])]
        t = len(tensors)
        ops.append((1, [prev, t - 3, t - 2], [t - 1], FULLY_CONNECTED_OPTIONS, {0: np.int8(RELU if relu else 0)}))
        prev, prev_scale, k = t - 1, s, n
    tensors.append((out_name, [1, k], FLOAT32, 0, [], []))
    ops.append((0, [prev], [len(tensors) - 1], 0, None))
    return tflite_model([DEQUANTIZE, FULLY_CONNECTED, QUANTIZE], tensors, ops, buffers, [0], [len(tensors) - 1])


def rtml_run(path, x_name, x, tmp):
    inp = os.path.join(tmp, "x.npy")
    np.save(inp, x)
    out_dir = os.path.join(tmp, "out")
    p = subprocess.run([RTML, "run", path, "--input", f"{x_name}={inp}", "--output-dir", out_dir],
                       capture_output=True, text=True)
    if not check(p.returncode == 0, f"rtml run {os.path.basename(path)}: exit {p.returncode}: {p.stderr[-400:]}"):
        return None
    return np.load(os.path.join(out_dir, os.listdir(out_dir)[0]))


def armnn_main(tfl, inputs, outputs):
    """Run in a child process (Arm NN 20.08 aborts on some files): every row of INPUTS.npy through the
    .tflite on Arm NN's CpuRef; the outputs to OUTPUTS.npy. Exit 77 without pyarmnn."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import pyarmnn as ann  # (which prints the parsers it lacks)
    except ImportError:
        sys.exit(77)
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(tfl)
    rt = ann.IRuntime(ann.CreationOptions())
    opt, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], rt.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, _ = rt.LoadNetwork(opt)
    in_info = parser.GetNetworkInputBindingInfo(0, parser.GetSubgraphInputTensorNames(0)[0])
    out_info = parser.GetNetworkOutputBindingInfo(0, parser.GetSubgraphOutputTensorNames(0)[0])
    ys = []
    for x in np.load(inputs):
        outs = ann.make_output_tensors([out_info])
        rt.EnqueueWorkload(net_id, ann.make_input_tensors([in_info], [x]), outs)
        ys.append(ann.workload_tensors_to_ndarray(outs)[0])
    np.save(outputs, np.stack(ys))


def load_sets(folder):
    """The inputs of FOLDER's test_data_set_N, in N's order."""
    sets = sorted((d for d in os.listdir(folder) if d.startswith("test_data_set_")), key=lambda d: int(d.split("_")[-1]))
    xs = []
    for s in sets:
        t = onnx.TensorProto()
        with open(os.path.join(folder, s, "input_0.pb"), "rb") as f:
            t.ParseFromString(f.read())
        xs.append(numpy_helper.to_array(t).astype(np.float32))
    return xs


def cross_check(label, onnx_path, xs, tmp, armnn_must_run):
    """rtml on ONNX_PATH and on its .tflite translation, bit for bit; Arm NN on the .tflite within 2 units."""
    x_name, in_q, layers, (out_scale, out_zp), out_name = layers_of(onnx.load(onnx_path))
    print(f"{label}: {len(layers)} Gemm layers "
          f"({', '.join(f'{w.shape[1]}->{w.shape[0]}' + (' relu' if r else '') for w, _, _, _, r, _ in layers)}), "
          f"{len(layers[0][1])} weight scale(s) in the first, input scale {in_q[0]:g} zero point {in_q[1]}, "
          f"output scale {out_scale:g} zero point {out_zp}")
    tfl = os.path.join(tmp, label + ".tflite")
    with open(tfl, "wb") as f:
        f.write(tflite_of(x_name, in_q, layers, out_name))
    units = lambda y: np.round(y / out_scale).astype(np.int64) + out_zp  # the int8 behind a dequantized output
    identical, max_units, ys = 0, 0, []
    for i, x in enumerate(xs):
        y_onnx = rtml_run(onnx_path, x_name, x, tmp)
        y_tfl = rtml_run(tfl, x_name, x, tmp)
        if y_onnx is None or y_tfl is None:
            return
        ys.append(y_tfl)
        same = y_onnx.shape == y_tfl.shape and np.array_equal(y_onnx, y_tfl)
        identical += same
        if y_onnx.shape == y_tfl.shape:
            max_units = max(max_units, int(np.abs(units(y_onnx) - units(y_tfl)).max()))
        check(same, f"{label} set {i}: rtml's outputs for the .onnx and the .tflite differ: {y_onnx} vs {y_tfl}")
    check(np.ptp(np.stack(ys), axis=0).max() > 0, f"{label}: the same output for every input")
    print(f"{label}: rtml .onnx vs rtml .tflite: {identical}/{len(xs)} sets bit-identical, "
          f"max difference {max_units} int8 units")

    inputs, outputs = os.path.join(tmp, "armnn_in.npy"), os.path.join(tmp, "armnn_out.npy")
    np.save(inputs, np.stack(xs))
    p = subprocess.run([sys.executable, __file__, "--armnn", tfl, inputs, outputs], capture_output=True, text=True)
    if p.returncode == 77:
        print(f"{label}: Arm NN part skipped: python3-pyarmnn is missing")
    elif p.returncode != 0:
        why = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][-300:]
        print(f"{label}: Arm NN cannot run the .tflite: {why}")
        check(not armnn_must_run, f"{label}: Arm NN failed (exit {p.returncode})")
    else:
        y_armnn = np.load(outputs).reshape(np.stack(ys).shape)
        diff = int(np.abs(units(y_armnn) - units(np.stack(ys))).max())
        print(f"{label}: Arm NN CpuRef .tflite vs rtml: max difference {diff} int8 units over {len(xs)} sets")
        check(diff <= 2, f"{label}: Arm NN differs from rtml by {diff} int8 units (> 2)")


if sys.argv[1] == "--armnn":
    armnn_main(*sys.argv[2:5])
    sys.exit(0)
RTML, ZOO = sys.argv[1], sys.argv[2]
FLOAT = os.path.join(ZOO, "digits_mlp", "model.onnx")
if not os.path.exists(FLOAT):
    skip(f"{FLOAT} is missing (the zoo_all target generates it)")
xs = load_sets(os.path.dirname(FLOAT))[:SETS]
check(len(xs) == SETS, f"{ZOO}/digits_mlp: only {len(xs)} test sets")
with tempfile.TemporaryDirectory() as tmp:
    # rtml quantize as `rtml zoo` runs it for digits_mlp_int8 (calibrated on the test sets beside the model):
    # per-channel weights, which Arm NN 20.08's FULLY_CONNECTED does not take; then --per-tensor, which it does.
    for label, flags, armnn_must_run in (("digits_mlp_int8", [], False),
                                         ("digits_mlp_int8_per_tensor", ["--per-tensor"], True)):
        out = os.path.join(tmp, label + ".onnx")
        p = subprocess.run([RTML, "quantize", FLOAT, "--out", out, "--no-accuracy", *flags],
                           capture_output=True, text=True)
        if check(p.returncode == 0, f"rtml quantize {' '.join(flags)}: exit {p.returncode}: {p.stderr[-400:]}"):
            cross_check(label, out, xs, tmp, armnn_must_run)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("onnx/tflite cross-check: all checks passed")
