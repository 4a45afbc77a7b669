#!/usr/bin/python3
"""Where rtml and ArmNN part on the int8 MLPerf Tiny models: every layer alone.

usage: check_armnn_layers.py RTML MODELS_DIR [SEEDS (default 3)]
MODELS_DIR is ../shared/models/mlperf-tiny (or $RTML_SHARED/models/mlperf-tiny);
without it, or without Debian's python3-pyarmnn, the test is skipped (exit 77).

End to end, ArmNN 20.08's CpuRef (which requantizes through float, and
computes the softmax in float) and rtml (TFLite's fixed-point arithmetic,
bit-exact with CMSIS-NN by ctest cmsis_nn_tflite) differ by more than 2 int8
units on ad01_int8, kws_ref_model and pretrainedResnet_quant. This test shows
where that comes from. Each operator of the three files is cut out as a
one-operator .tflite file (tflite_reader.py: the same weights, scales, zero
points, paddings and fused activations) and run alone through ArmNN and
through rtml on identical int8 inputs:

- "chain": the inputs are rtml's own tensors of the previous layer (the
  whole model walked on a seeded random input, layer after layer);
- "random": every value of every input drawn uniformly from -128..127.

Asserted, for each model and seed:
- every layer alone is within LAYER_LIMIT (2) units of ArmNN, on both kinds
  of input (the softmax too, fed identical logits);
- the layers chained through rtml give rtml's whole-model output bit for
  bit, and chained through ArmNN (each fed ArmNN's previous layer) ArmNN's
  whole-model output bit for bit: the cut layers are the models' layers, and
  the end-to-end difference is nothing but the per-layer ones carried
  forward. It grows along the way (printed per layer: how far the two
  trajectories are apart), as a unit of difference in one layer's output
  moves the next layer's sums, and most at the int8 softmax, whose output
  (scale 1/256) moves by up to p(1 - p) * logit scale * 256 units per unit of
  logit: about 9 units near p = 0.5 on kws_ref_model (logit scale 0.145);
- the softmax adds no difference of its own: rtml's softmax of ArmNN's
  logits is within LAYER_LIMIT of ArmNN's probabilities (measured: equal),
  and the probabilities are no further apart than the logits' difference
  allows: logits delta apart (in real units) move a probability by at most
  tanh(delta / 2), 256 output units each.

Where rtml's whole-model output differs from ArmNN's, rtml is TFLite's
arithmetic: ctest cmsis_nn_tflite finds it identical to CMSIS-NN's kernels
fed the same files, layer by layer up to the probabilities.
"""
import os
import sys
import tempfile

import numpy as np

LAYER_LIMIT = 2
MODELS = ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant"]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from armnn_compare import ArmNN, mlperf_tiny_setup, random_input, rtml_run  # noqa: E402  (shared by tests/tflite)
from tflite_reader import Model  # noqa: E402

rtml, models_dir = mlperf_tiny_setup(sys.argv)
SEEDS = range(1, 1 + (int(sys.argv[3]) if len(sys.argv) > 3 else 3))

failures = []


def check(cond, msg):
    if not cond:
        print("FAIL " + msg, flush=True)
        failures.append(msg)
    return cond


def units(a, b):
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


class Layer:
    """Operator k of a model as a one-operator file, on ArmNN and on rtml."""

    def __init__(self, model, k, tmp, runtime):
        self.model, self.k = model, k
        self.op = model.ops[k]
        self.ins = model.activation_inputs(k)
        self.path = os.path.join(tmp, f"layer{k}.tflite")
        with open(self.path, "wb") as f:
            f.write(model.cut(k))
        self.armnn = ArmNN(self.path, runtime)
        self.tmp = tmp

    def run_armnn(self, xs):
        return self.armnn.run(xs)[0]

    def run_rtml(self, xs):
        out = os.path.join(self.tmp, "out")
        os.makedirs(out, exist_ok=True)
        rtml_run(rtml, self.path, {f"input{i}": x for i, x in enumerate(xs)}, out)
        return np.load(os.path.join(out, "output0.npy"))


def check_model(name, runtime):
    path = os.path.join(models_dir, name + ".tflite")
    model = Model(path)
    whole = ArmNN(path, runtime)
    worst = {"chain": [0] * len(model.ops), "random": [0] * len(model.ops)}
    apart = [0] * len(model.ops)  # how far rtml's and ArmNN's trajectories are, per layer
    end_to_end = 0
    with tempfile.TemporaryDirectory() as tmp:
        layers = [Layer(model, k, tmp, runtime) for k in range(len(model.ops))]
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            x = random_input("int8", model.tensors[model.inputs[0]]["shape"], rng)
            ours, theirs = {model.inputs[0]: x}, {model.inputs[0]: x}
            for layer in layers:
                k, out = layer.k, layer.op["outputs"][0]
                xs = [ours[t] for t in layer.ins]
                r, a = layer.run_rtml(xs), layer.run_armnn(xs)
                ours[out], theirs[out] = r, layer.run_armnn([theirs[t] for t in layer.ins])
                worst["chain"][k] = max(worst["chain"][k], units(r, a))
                apart[k] = max(apart[k], units(ours[out], theirs[out]))
                xr = [random_input("int8", model.tensors[t]["shape"], rng) for t in layer.ins]
                worst["random"][k] = max(worst["random"][k], units(layer.run_rtml(xr), layer.run_armnn(xr)))
            y = model.outputs[0]
            with tempfile.TemporaryDirectory() as out:
                rtml_run(rtml, path, {whole.inputs[0][0]: x}, out)
                y_rtml = np.load(os.path.join(out, whole.outputs[0][0] + ".npy"))
            y_armnn = whole.run([x])[0]
            check(np.array_equal(ours[y], y_rtml),
                  f"{name} seed {seed}: rtml's layers one by one give {units(ours[y], y_rtml)} units from its whole model")
            check(np.array_equal(theirs[y], y_armnn),
                  f"{name} seed {seed}: ArmNN's layers one by one give {units(theirs[y], y_armnn)} units from its whole model")
            end_to_end = max(end_to_end, units(y_rtml, y_armnn))
            last = layers[-1]
            if last.op["name"] == "SOFTMAX":
                z = last.ins[0]
                d = units(last.run_rtml([theirs[z]]), theirs[y])
                check(d <= LAYER_LIMIT, f"{name} seed {seed}: rtml's softmax of ArmNN's logits is {d} units "
                      f"from ArmNN's probabilities (limit {LAYER_LIMIT})")
                # Logits apart by at most delta (real units) move a softmax probability by at most
                # tanh(delta / 2) (a logistic function of logit differences that move by 2 delta),
                # 256 units of the output scale 1/256 each, plus the rounding of either side.
                delta = units(ours[z], theirs[z]) * float(model.tensors[z]["scale"][0])
                allowed = 256 * np.tanh(delta / 2) + 2
                check(units(y_rtml, y_armnn) <= allowed,
                      f"{name} seed {seed}: the softmax outputs are {units(y_rtml, y_armnn)} units apart, more than "
                      f"logits {units(ours[z], theirs[z])} units apart allow ({allowed:.1f})")
        whole.close()
        for layer in layers:
            layer.armnn.close()
    print(f"{name}: {len(model.ops)} layers, {len(SEEDS)} seeds; end to end rtml vs ArmNN: {end_to_end} units")
    print(f"  {'layer':<24} {'alone, rtml inputs':>18} {'alone, random':>14} {'trajectories apart':>19}")
    for k, op in enumerate(model.ops):
        print(f"  {k:>2} {op['name']:<21} {worst['chain'][k]:>18} {worst['random'][k]:>14} {apart[k]:>19}")
        for kind in ("chain", "random"):
            check(worst[kind][k] <= LAYER_LIMIT, f"{name}: layer {k} ({op['name']}) alone differs from ArmNN by "
                  f"{worst[kind][k]} units on {kind} inputs (limit {LAYER_LIMIT})")


runtime = ArmNN.new_runtime()
for model_name in MODELS:
    try:
        check_model(model_name, runtime)
    except RuntimeError as e:
        check(False, str(e))
sys.exit(1 if failures else 0)
