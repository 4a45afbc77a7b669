#!/usr/bin/python3
"""Weight-only int8 LSTM and GRU end to end, against PyTorch.

For the zoo's lstm_stream_h64 and gru_stream_h64, `rtml quantize` writes the
int8 QDQ file (as the zoo's _int8 models are made); then:

- `rtml info --json`: the recurrent step runs rtml_f32_<cell>_w8__hwy (simd)
  and the plan's constants are the int8 weights, not float ones (under 40% of
  the float model's constant bytes);
- `rtml run` (simd and reference kernel sets) on seeded random inputs and
  states: h_out (and c_out) against torch.nn.LSTM / nn.GRU holding the
  weights the file's DequantizeLinear nodes give (numpy, from the ONNX spec),
  within a bound derived per set: each gate's pre-activation is a float32 sum
  of K = I + H + 2 terms, within (K+4) * 2^-24 * sum|terms| of the exact
  value in any order (PyTorch's and ours, so twice that between them: delta);
  sigmoid (slope <= 1/4) and tanh (<= 1) carry it to h and c at most
  2 * delta for the LSTM (|c| <= 1 here) and (3 + max|R_h h + b_h| / 4) *
  delta for the GRU, plus 1e-6 for the activations' own rounding;
- y (the int8 head) against zoo/qdq_eval.py's evaluation of the same file
  within one quantization step of y;
- given ALLOC_TEST (tests/alloc's rtml_alloc_test), no heap call in
  Session::run of either int8 file.

usage: check_recurrent_w8.py RTML ZOO_DIR [ALLOC_TEST]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "zoo"))
from qdq_eval import attrs, run_qdq  # noqa: E402

RTML, ZOO = sys.argv[1], sys.argv[2]
ALLOC_TEST = sys.argv[3] if len(sys.argv) > 3 else None
SETS = 6
U = 2.0 ** -24
FAILURES = []


def fail(msg):
    print("FAIL:", msg)
    FAILURES.append(msg)


def dequantized(model, name):
    """The float value of tensor `name`: an initializer, or a DequantizeLinear of initializers."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    if name in init:
        return init[name].astype(np.float32)
    node = next(n for n in model.graph.node if name in n.output)
    assert node.op_type == "DequantizeLinear", node.op_type
    q = init[node.input[0]].astype(np.int64)
    scale = init[node.input[1]].astype(np.float32)
    zp = init[node.input[2]].astype(np.int64) if len(node.input) > 2 and node.input[2] else np.zeros((), np.int64)
    axis = attrs(node).get("axis", 1) % q.ndim
    shape = [1] * q.ndim
    if scale.ndim:
        shape[axis] = -1
    return ((q - zp.reshape(shape if zp.ndim else [])) * scale.reshape(shape if scale.ndim else [])).astype(np.float32)


def torch_cell(cell, W, R, B):
    """nn.LSTM / nn.GRU with ONNX's W, R, B ([1, G*H, K]; gates iofc / zrh) in PyTorch's order (ifgo / rzn)."""
    H = R.shape[2]
    order = [0, 2, 3, 1] if cell == "LSTM" else [1, 0, 2]
    perm = lambda m: np.concatenate([m[g * H:(g + 1) * H] for g in order])  # noqa: E731
    m = (torch.nn.LSTM if cell == "LSTM" else torch.nn.GRU)(W.shape[2], H)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(perm(W[0])))
        m.weight_hh_l0.copy_(torch.from_numpy(perm(R[0])))
        G = len(order)
        m.bias_ih_l0.copy_(torch.from_numpy(perm(B[0, :G * H])))
        m.bias_hh_l0.copy_(torch.from_numpy(perm(B[0, G * H:])))
    return m


def rtml_run(model, feeds, kernels, out):
    args = [RTML, "run", model, "--kernels", kernels, "--output-dir", out]
    for k, v in feeds.items():
        p = os.path.join(out, f"in_{k}.npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return {f[:-4]: np.load(os.path.join(out, f)) for f in os.listdir(out) if not f.startswith("in_")}


def check(name, tmp):
    src = os.path.join(ZOO, name, "model.onnx")
    q_path = os.path.join(tmp, name + "_int8.onnx")
    r = subprocess.run([RTML, "quantize", src, "--out", q_path, "--report", q_path + ".json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return fail(f"{name}: rtml quantize: {r.stderr.strip()[-500:]}")
    model = onnx.load(q_path)
    node = next(n for n in model.graph.node if n.op_type in ("LSTM", "GRU"))
    cell = node.op_type
    if cell == "GRU" and attrs(node).get("linear_before_reset", 0) != 1:
        return fail(f"{name}: a GRU without linear_before_reset (PyTorch's) is not what the zoo exports")

    # The plan: int8 weights in a w8 step.
    infos = {}
    for f in (src, q_path):
        r = subprocess.run([RTML, "info", f, "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            return fail(f"{name}: rtml info: {r.stderr.strip()}")
        infos[f] = json.loads(r.stdout)
    steps = infos[q_path]["step_kernels"]
    kernel = f"rtml_f32_{cell.lower()}_w8__hwy"
    if not any(s.get("kernel") == kernel for s in steps):
        fail(f"{name}: no step runs {kernel}: {[s.get('kernel') for s in steps]}")
    fb, qb = infos[src]["constant_bytes"], infos[q_path]["constant_bytes"]
    if ALLOC_TEST:
        r = subprocess.run([ALLOC_TEST, q_path], capture_output=True, text=True)
        print("  " + r.stdout.strip().replace("\n", "\n  "))
        if r.returncode != 0:
            fail(f"{name}: heap calls in Session::run: {r.stdout.strip()} {r.stderr.strip()}")
    print(f"  {name}: plan constants {fb} B float32 -> {qb} B weight-only int8 ({qb / fb:.2f}x)")
    if qb > 0.4 * fb:
        fail(f"{name}: the int8 plan holds {qb} B of constants, the float one {fb} B")

    W, R = dequantized(model, node.input[1]), dequantized(model, node.input[2])
    B = dequantized(model, node.input[3])
    H, I = R.shape[2], W.shape[2]
    m = torch_cell(cell, W, R, B)
    names = [i.name for i in model.graph.input]
    rng = np.random.default_rng(13)
    y_name = model.graph.output[0].name
    # y's quantization step: the DequantizeLinear nearest before y (the head's output; a float
    # bias Add may follow it)
    prod = {o: n for n in model.graph.node for o in n.output}
    y_q, frontier = None, [y_name]
    while y_q is None and frontier:
        n = prod.get(frontier.pop(0))
        if n is not None:
            y_q = n if n.op_type == "DequantizeLinear" else None
            frontier += list(n.input)
    y_step = float(numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == y_q.input[1])))
    worst = {}
    for k in range(SETS):
        x = rng.standard_normal((1, 1, I)).astype(np.float32)
        h = rng.uniform(-1, 1, (1, 1, H)).astype(np.float32)
        c = rng.uniform(-1, 1, (1, 1, H)).astype(np.float32)
        feeds = {names[0]: x, names[1]: h}
        if cell == "LSTM":
            feeds[names[2]] = c
        with torch.no_grad():
            if cell == "LSTM":
                _, (th, tc) = m(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
                want = {"h_out": th.numpy(), "c_out": tc.numpy()}
            else:
                _, th = m(torch.from_numpy(x), torch.from_numpy(h))
                want = {"h_out": th.numpy()}
        # delta per gate row: the sum's terms, both biases, the scale's product
        terms = np.abs(W[0] * x[0, 0]).sum(1) + np.abs(R[0] * h[0, 0]).sum(1) + np.abs(B[0, :W.shape[1]]) + \
            np.abs(B[0, W.shape[1]:])
        delta = 2 * (I + H + 6) * U * terms.max()
        if cell == "LSTM":
            tol = 2 * delta + 1e-6
        else:
            rh = R[0, 2 * H:] @ h[0, 0] + B[0, 3 * H + 2 * H:]
            tol = (3 + np.abs(rh).max() / 4) * delta + 1e-6
        y_want = run_qdq(model, feeds, integer=True)[0]
        for kernels in ("simd", "reference"):
            with tempfile.TemporaryDirectory() as out:
                got = rtml_run(q_path, feeds, kernels, out)
            for o, w in want.items():
                err = float(np.abs(got[o].astype(np.float64) - w).max())
                worst[(kernels, o)] = max(worst.get((kernels, o), (0, 0)), (err / tol, tol))
                if err > tol:
                    fail(f"{name} set {k} {kernels}: {o} differs from PyTorch by {err:.3g} > {tol:.3g}")
            err = float(np.abs(got[y_name] - y_want).max())
            if err > y_step * 1.0001:
                fail(f"{name} set {k} {kernels}: y differs from the QDQ evaluator by {err:.3g} > one step {y_step:.3g}")
    for (kernels, o), (ratio, tol) in sorted(worst.items()):
        print(f"  {name} {kernels} {o}: worst error {ratio:.3f} of the bound ({tol:.2g} there)")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("lstm_stream_h64", "gru_stream_h64"):
            if not os.path.exists(os.path.join(ZOO, name, "model.onnx")):
                fail(f"no {name} in {ZOO}")
                continue
            check(name, tmp)
    print(f"recurrent_w8: {len(FAILURES)} failures")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
