"""The zoo's int8 models: QDQ ONNX files made by `rtml quantize` from zoo models.

For each model of QUANTIZED that was just exported, NAME_int8/ gets:

    NAME_int8/model.onnx          `rtml quantize`'s output: int8 weights per output channel,
                                  int8 activations (minmax over the calibration data), int32
                                  bias; LSTM and GRU weight-only (int8 weights, float gates)
    NAME_int8/quantize.json       its report (scales, SQNR per layer, weight bytes, accuracy)
    NAME_int8/calibration/        synthetic models only: CALIBRATION_SETS sets of random inputs
                                  drawn like NAME's test data (another seed), the calibration
                                  data; trained models calibrate on their held-out split
    NAME_int8/test_data_set_K/    NAME's inputs (and labels); as expected outputs, what the
                                  QDQ file computes with each DQ -> product -> Q group as one
                                  integer product (zoo/qdq_eval.py's integer=True, written from
                                  docs/quantization.md; the rest as the ONNX spec says), not rtml's

and a manifest entry like NAME's, with `quantized_from`, `quantization`, the bytes of the
file's initializers as `parameter_bytes`, and the report's accuracy (`float_top1` and
`int8_top1` for classifiers, else `max_abs_error` and `mean_abs_error` of the int8 outputs
against the float model's, on NAME's test data). No TorchScript: the torch backend lists
them as not covered.

generate.py runs this when given --rtml (rtml zoo passes itself); the quantizer runs in
the zoo folder with relative paths, so the report is the same wherever the zoo is.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import onnx
from onnx import numpy_helper

from common import random_inputs, save_tensor
from qdq_eval import run_qdq

# One or more default models of every family.
QUANTIZED = ("matvec_256", "tcn_c8_l64_g1", "resnet1d_c32_l64", "lstm_stream_h64", "gru_stream_h64",
             "mlp_relu_d3_w64", "transformer_d32_h2_s16", "mdn_k8_d2", "vae_f64_z8",
             "digits_mlp", "digits_cnn", "gesture_cnn")
CALIBRATION_SETS = 64  # for the synthetic models, whose 2 (or 4) test sets are held out


def write_calibration(m, out, name):
    """CALIBRATION_SETS sets of m's random inputs (the distribution of its test data, another
    seed) in NAME_int8/calibration/test_data_set_K/; returns that folder, relative to out."""
    rng = np.random.default_rng([m.seed, 1])
    d = f"{name}/calibration"
    for k in range(CALIBRATION_SETS):
        sd = os.path.join(out, d, f"test_data_set_{k}")
        os.makedirs(sd)
        for i, (input_name, a) in enumerate(zip(m.inputs, random_inputs(m, rng))):
            save_tensor(os.path.join(sd, f"input_{i}.pb"), a, input_name)
    return d


def quantize(rtml, out, entry, m):
    """Makes entry's (zoo model m's) int8 version in out/; returns its manifest entry."""
    src = entry["name"]
    name = src + "_int8"
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cmd = [rtml, "quantize", entry["files"]["onnx"], "--out", f"{name}/model.onnx", "--report", f"{name}/quantize.json"]
    calibration = None
    if m.test_data is None:  # trained models calibrate on their held-out split (the test data)
        calibration = write_calibration(m, out, name)
        cmd += ["--calibration", calibration]  # accuracy: on the test data beside NAME, as by default
    r = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {r.returncode}): {r.stderr.strip()[-1000:]}")
    model = onnx.load(os.path.join(d, "model.onnx"))
    test_dirs = []
    for k, sd in enumerate(entry["files"]["test_data"]):
        dst = f"{name}/test_data_set_{k}"
        os.makedirs(os.path.join(out, dst))
        feeds = {}
        for i, spec in enumerate(entry["inputs"]):
            f = f"input_{i}.pb"
            shutil.copyfile(os.path.join(out, sd, f), os.path.join(out, dst, f))
            t = onnx.TensorProto()
            with open(os.path.join(out, sd, f), "rb") as fh:
                t.ParseFromString(fh.read())
            feeds[spec["name"]] = numpy_helper.to_array(t)
        if os.path.exists(os.path.join(out, sd, "label.pb")):
            shutil.copyfile(os.path.join(out, sd, "label.pb"), os.path.join(out, dst, "label.pb"))
        for i, (spec, y) in enumerate(zip(entry["outputs"], run_qdq(model, feeds, integer=True))):
            if spec["name"] in entry["stochastic_outputs"]:
                continue
            with open(os.path.join(out, dst, f"output_{i}.pb"), "wb") as fh:
                fh.write(numpy_helper.from_array(y.astype("float32"), spec["name"]).SerializeToString())
        test_dirs.append(dst)
    with open(os.path.join(d, "quantize.json")) as f:
        rep = json.load(f)

    e = {k: v for k, v in entry.items() if k not in ("pytorch_top1", "files")}
    e["name"] = name
    e["description"] = f"{src} quantized to int8 by rtml quantize (QDQ): " + entry["description"]
    e["parameter_bytes"] = rep["parameter_bytes"]["after"]
    e["files"] = {"onnx": f"{name}/model.onnx", "test_data": test_dirs, "report": f"{name}/quantize.json"}
    if calibration:
        e["files"]["calibration"] = calibration
    e["quantized_from"] = src
    s = rep["settings"]
    e["quantization"] = {"weights": s["weights"], "activations": s["activations"], "method": s["method"],
                         "weight_bytes": rep["weight_bytes"]}
    acc = rep["accuracy"]
    if acc["float_top1"] is not None:
        e["float_top1"] = acc["float_top1"]
        e["int8_top1"] = acc["int8_top1"]
    else:
        e["max_abs_error"] = max(o["max_abs_error"] for o in acc["outputs"])
        e["mean_abs_error"] = max(o["mean_abs_error"] for o in acc["outputs"])
    e["sqnr_db"] = {row["node"]: row["sqnr_db"] for row in rep["layers"]}
    return e
