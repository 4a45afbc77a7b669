#!/usr/bin/python3
"""Tests of the model zoo (ctest runs each subcommand as its own test).

usage: check_zoo.py manifest|engine|deterministic|frontend ZOO_DIR RTML

  manifest       manifest.json matches the files: every file listed exists and
                 nothing unlisted sits beside them; inputs, outputs and parameter
                 bytes agree with what rtml's own ONNX reader sees (rtml info
                 --json); test data sets hold the declared tensors; FLOPs agree
                 with hand counts for the matvec, MLP and TCN formulas; the
                 TorchScript file reproduces the expected outputs.
  engine         every model, run by rtml on its test data, matches PyTorch within
                 1e-4 (absolute or relative); the trained classifiers reach >= 90%
                 top-1 on their held-out split when run by rtml; the seeded random
                 bottleneck draws the same z every run, and that z is a plausible
                 draw of mu + sigma * N(0, 1).
  deterministic  `rtml zoo` run again (default set, and --only one model) writes
                 byte-identical files; its int8 models (zoo/quantized.py, made by
                 `rtml quantize`, not in the test zoo): files, parameter bytes, rtml
                 against the ONNX-spec evaluator's outputs on every kernel set,
                 top-1 within 1 point of float, the other families' int8 vs float
                 error as the manifest says and under 5% of the outputs, weights a
                 quarter of float32, `rtml bench` runs them with 0 allocations per run.
  frontend       `rtml zoo` with a Python lacking torch says what to install.
"""
import filecmp
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, numpy_helper.to_array(t)


def rtml(binary, *args, **kw):
    return subprocess.run([binary, *args], capture_output=True, text=True, **kw)


def load_manifest(zoo):
    with open(os.path.join(zoo, "manifest.json")) as f:
        man = json.load(f)
    check(man.get("schema") == "rtml.zoo/1", f"manifest schema is {man.get('schema')!r}")
    return man


# --- manifest ---------------------------------------------------------------

def hand_flops(e):
    """FLOPs by hand for the families whose graph is simple enough to count on paper."""
    p = e["params"]
    if e["family"] == "matvec":
        return 2 * p["n"] * p["n"]                       # n dot products of length n
    if e["family"] == "mlp":
        dims = [p["inputs"]] + [p["width"]] * (p["depth"] - 1) + [p["outputs"]]
        total = 0
        for i in range(p["depth"]):
            total += 2 * dims[i] * dims[i + 1] + dims[i + 1]          # multiply-adds + bias
            if i < p["depth"] - 1:
                act = {"relu": 1, "tanh": 1, "sigmoid": 1, "sin": 2, "gelu": 5}[p["activation"]]
                total += act * dims[i + 1]   # sin(30 x): Mul + Sin; gelu: x/sqrt2, erf, +1, *x, *0.5
        return total
    if e["family"] == "conv1d" and e["name"].startswith("tcn") and p["groups"] == "g1":
        c, length = p["channels"], p["length"]
        total = 0
        for d in p["dilations"]:
            padded = length + 2 * d          # conv output before the causal slice
            total += 2 * c * padded * c * 3 + c * padded + 2 * c * length   # conv, bias, relu + residual add
        return total
    return None


def cmd_manifest(zoo, binary):
    man = load_manifest(zoo)
    names = [e["name"] for e in man["models"]]
    check(len(names) == len(set(names)), "model names are unique")
    dirs = {d for d in os.listdir(zoo) if os.path.isdir(os.path.join(zoo, d))}
    check(dirs == set(names), f"folders without a manifest entry {sorted(dirs - set(names))}, "
                              f"entries without a folder {sorted(set(names) - dirs)}")
    families = {e["family"] for e in man["models"]}
    want = {"matvec", "conv1d", "rnn", "mlp", "transformer", "mdn", "vae", "classifier"}
    check(want <= families, f"families present: {sorted(families)}, missing {sorted(want - families)}")
    hand_checked = 0
    for e in man["models"]:
        n = e["name"]
        files = e["files"]
        listed = {files[k] for k in ("onnx", "torchscript", "report") if k in files} | set(files["test_data"])
        on_disk = {f"{n}/{x}" for x in os.listdir(os.path.join(zoo, n))}
        check(listed == on_disk, f"{n}: files listed {sorted(listed)} != on disk {sorted(on_disk)}")
        if not check(os.path.isfile(os.path.join(zoo, files["onnx"])), f"{n}: no {files['onnx']}"):
            continue
        for key in ("description", "params", "flops", "parameter_bytes", "inputs", "outputs"):
            check(key in e, f"{n}: manifest entry lacks '{key}'")

        r = rtml(binary, "info", os.path.join(zoo, files["onnx"]), "--json")
        if not check(r.returncode == 0, f"{n}: rtml info failed: {r.stderr.strip()}"):
            continue
        info = json.loads(r.stdout)
        canon = {"float": "float32", "double": "float64"}
        for side in ("inputs", "outputs"):
            got = [(t["name"], canon.get(t["dtype"], t["dtype"]), list(t["shape"])) for t in info[side]]
            declared = [(t["name"], t["dtype"], t["shape"]) for t in e[side]]
            check(got == declared, f"{n}: {side} in the file {got} != manifest {declared}")
        check(info["parameter_bytes"] == e["parameter_bytes"],
              f"{n}: rtml counts {info['parameter_bytes']} parameter bytes, manifest says {e['parameter_bytes']}")
        expected_flops = hand_flops(e)
        if expected_flops is not None:
            hand_checked += 1
            check(e["flops"] == expected_flops, f"{n}: manifest FLOPs {e['flops']} != hand count {expected_flops}")

        check(len(files["test_data"]) >= 1, f"{n}: no test data sets")
        for sd in files["test_data"]:
            path = os.path.join(zoo, sd)
            for i, t in enumerate(e["inputs"]):
                name, a = load_pb(os.path.join(path, f"input_{i}.pb"))
                check(name == t["name"] and list(a.shape) == t["shape"] and a.dtype.name == t["dtype"],
                      f"{sd}/input_{i}.pb holds {name} {a.dtype} {list(a.shape)}, manifest says {t}")
            for i, t in enumerate(e["outputs"]):
                f = os.path.join(path, f"output_{i}.pb")
                if t["name"] in e["stochastic_outputs"]:
                    check(not os.path.exists(f), f"{sd}: stochastic output {t['name']} has expected data")
                    continue
                name, a = load_pb(f)
                check(name == t["name"] and list(a.shape) == t["shape"],
                      f"{sd}/output_{i}.pb holds {name} {list(a.shape)}, manifest says {t}")
            check(os.path.exists(os.path.join(path, "label.pb")) == e["labelled"], f"{sd}: label.pb vs labelled")
        if e["family"] == "classifier" and "quantized_from" not in e:
            check(e["pytorch_top1"] >= 0.9, f"{n}: PyTorch's held-out top-1 is {e['pytorch_top1']}")
    check(hand_checked >= 10, f"only {hand_checked} models had hand-counted FLOPs")
    check_torchscript(zoo, man)
    print(f"manifest: {len(names)} models checked against their files ({hand_checked} FLOP counts by hand)")


def check_torchscript(zoo, man):
    """Each model.pt, run by TorchScript on test_data_set_0, gives the expected outputs."""
    import torch
    torch.set_num_threads(1)
    for e in man["models"]:
        if "torchscript" not in e["files"]:  # the int8 models
            continue
        module = torch.jit.load(os.path.join(zoo, e["files"]["torchscript"]))
        sd = os.path.join(zoo, e["files"]["test_data"][0])
        args = [torch.from_numpy(load_pb(os.path.join(sd, f"input_{i}.pb"))[1]) for i in range(len(e["inputs"]))]
        out = module(*args)
        out = out if isinstance(out, tuple) else (out,)
        for i, t in enumerate(e["outputs"]):
            f = os.path.join(sd, f"output_{i}.pb")
            if os.path.exists(f):
                want = load_pb(f)[1]
                check(np.allclose(out[i].detach().numpy(), want, rtol=1e-4, atol=1e-5),
                      f"{e['name']}: TorchScript output {t['name']} differs from the test data")


# --- engine -----------------------------------------------------------------

def cmd_engine(zoo, binary):
    man = load_manifest(zoo)
    with tempfile.TemporaryDirectory() as tmp:
        for e in man["models"]:
            n = e["name"]
            report = os.path.join(tmp, n + ".json")
            r = rtml(binary, "run", os.path.join(zoo, e["files"]["onnx"]), "--test-data", os.path.join(zoo, n),
                     "--tolerance", "1e-4", "--report", report)
            if not check(r.returncode == 0, f"{n}: rtml run --test-data failed:\n{r.stdout}{r.stderr}"):
                continue
            with open(report) as f:
                rep = json.load(f)
            check(rep["passed"] and rep["sets"] == len(e["files"]["test_data"]), f"{n}: report {rep}")
            compared = {o["name"] for o in rep["outputs"] if o["compared"]}
            check(compared == {t["name"] for t in e["outputs"]} - set(e["stochastic_outputs"]),
                  f"{n}: compared outputs {sorted(compared)}")
            worst = max(o["max_abs_error"] for o in rep["outputs"] if o["compared"])
            top = f"  top-1 {rep['top1']:.1%} of {rep['labelled_sets']}" if rep.get("top1") is not None else ""
            print(f"{n:28s} {rep['sets']:4d} sets  max abs error {worst:.2e}{top}", flush=True)
            if e["family"] == "classifier":
                check(rep["labelled_sets"] == len(e["files"]["test_data"]), f"{n}: labels not all read")
                check(rep["top1"] is not None and rep["top1"] >= 0.90, f"{n}: rtml's held-out top-1 is {rep['top1']}")
        for e in man["models"]:
            if e["stochastic_outputs"]:
                check_random_draw(zoo, binary, e, tmp)


def check_random_draw(zoo, binary, e, tmp):
    """z comes from the graph's own seeded RandomNormalLike: the same every run of a
    fresh session, and eps = (z - mu) / exp(logvar / 2) looks like N(0, 1) draws."""
    n = e["name"]
    sd = os.path.join(zoo, e["files"]["test_data"][0])
    x = load_pb(os.path.join(sd, "input_0.pb"))[1]
    np.save(os.path.join(tmp, "x.npy"), x)
    outs = []
    for k in range(2):
        d = os.path.join(tmp, f"{n}_draw{k}")
        r = rtml(binary, "run", os.path.join(zoo, e["files"]["onnx"]), "--input", f"x={tmp}/x.npy", "--output-dir", d)
        if not check(r.returncode == 0, f"{n}: rtml run failed: {r.stderr}"):
            return
        outs.append({o["name"]: np.load(os.path.join(d, o["name"] + ".npy")) for o in e["outputs"]})
    check(np.array_equal(outs[0]["z"], outs[1]["z"]), f"{n}: two runs drew different z from one seed")
    eps = ((outs[0]["z"] - outs[0]["mu"]) / np.exp(0.5 * outs[0]["logvar"])).ravel()
    check(abs(eps.mean()) < 4 / np.sqrt(eps.size) and 0.5 < eps.std() < 1.5,
          f"{n}: implied noise has mean {eps.mean():.3f}, std {eps.std():.3f} over {eps.size} draws")
    check(not np.allclose(eps, eps[0]), f"{n}: implied noise is constant")


# --- deterministic ----------------------------------------------------------

def cmd_deterministic(zoo, binary):
    man = load_manifest(zoo)
    default = [e["name"] for e in man["models"] if "default" in e["sets"]]
    with tempfile.TemporaryDirectory() as tmp:
        again = os.path.join(tmp, "default")
        r = rtml(binary, "zoo", "--out", again, "--set", "default")
        check(r.returncode == 0, f"rtml zoo failed:\n{r.stdout}{r.stderr}")
        with open(os.path.join(again, "manifest.json")) as f:
            redone = json.load(f)
        int8 = [e for e in redone["models"] if "quantized_from" in e]
        regenerated = sorted(d for d in os.listdir(again) if os.path.isdir(os.path.join(again, d)))
        check(regenerated == sorted(default + [e["name"] for e in int8]),
              f"default set regenerated {regenerated}, manifest says {sorted(default)} and int8 {[e['name'] for e in int8]}")
        for name in default:
            compare_trees(os.path.join(zoo, name), os.path.join(again, name))
        check([e for e in man["models"] if e["name"] in default] == [e for e in redone["models"] if e not in int8],
              "manifest entries of the default set differ between runs")
        check_int8(again, redone, binary, tmp)
        one = os.path.join(tmp, "one")
        r = rtml(binary, "zoo", "--out", one, "--only", "lstm_stream_h64")
        check(r.returncode == 0, f"rtml zoo --only failed:\n{r.stdout}{r.stderr}")
        compare_trees(os.path.join(zoo, "lstm_stream_h64"), os.path.join(one, "lstm_stream_h64"))
        one_int8 = os.path.join(tmp, "one_int8")
        r = rtml(binary, "zoo", "--out", one_int8, "--only", "digits_mlp")
        check(r.returncode == 0, f"rtml zoo --only digits_mlp failed:\n{r.stdout}{r.stderr}")
        compare_trees(os.path.join(again, "digits_mlp_int8"), os.path.join(one_int8, "digits_mlp_int8"))
    print(f"deterministic: {len(default)} default models regenerated byte for byte, and one alone")


# The zoo's int8 models (zoo/quantized.py's QUANTIZED): one or more of every default family.
INT8_SOURCES = ["matvec_256", "tcn_c8_l64_g1", "resnet1d_c32_l64", "lstm_stream_h64", "gru_stream_h64",
                "mlp_relu_d3_w64", "transformer_d32_h2_s16", "mdn_k8_d2", "vae_f64_z8",
                "digits_mlp", "digits_cnn", "gesture_cnn"]


def check_int8(zoo, man, binary, tmp):
    """The int8 models `rtml zoo` makes with `rtml quantize` (zoo/quantized.py)."""
    entries = {e["name"]: e for e in man["models"]}
    want = [n + "_int8" for n in INT8_SOURCES]
    made = sorted(n for n in entries if "quantized_from" in entries[n])
    check(sorted(want) == made, f"int8 models: {made}, expected {sorted(want)}")
    check({entries[n]["family"] for n in made} >= {e["family"] for e in man["models"] if "default" in e["sets"]},
          f"int8 models cover the families {sorted({entries[n]['family'] for n in made})} only")
    for n in want:
        e = entries.get(n)
        if e is None:
            continue
        src = entries[e["quantized_from"]]
        files = e["files"]
        listed = {files["onnx"], files["report"]} | set(files["test_data"]) | ({files["calibration"]} if "calibration" in files else set())
        on_disk = {f"{n}/{x}" for x in os.listdir(os.path.join(zoo, n))}
        check(listed == on_disk, f"{n}: files listed {sorted(listed)} != on disk {sorted(on_disk)}")
        check(len(files["test_data"]) == len(src["files"]["test_data"]), f"{n}: test sets differ from {src['name']}'s")
        model = onnx.load(os.path.join(zoo, files["onnx"]))
        onnx.checker.check_model(model, full_check=True)
        r = rtml(binary, "info", os.path.join(zoo, files["onnx"]), "--json")
        if check(r.returncode == 0, f"{n}: rtml info failed: {r.stderr.strip()}"):
            info = json.loads(r.stdout)
            check(info["parameter_bytes"] == e["parameter_bytes"],
                  f"{n}: rtml counts {info['parameter_bytes']} parameter bytes, manifest says {e['parameter_bytes']}")
        # The weights: int8 initializers a quarter of the float32 ones they replace (those the
        # int8 file no longer holds as float: not the LSTM's or GRU's bias, say).
        int8_bytes = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer
                         if t.data_type == onnx.TensorProto.INT8 and len(t.dims) >= 2)
        still_float = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
        float_model = onnx.load(os.path.join(zoo, src["files"]["onnx"]))
        float_bytes = sum(numpy_helper.to_array(t).nbytes for t in float_model.graph.initializer
                          if len(t.dims) >= 2 and t.name not in still_float)
        check(int8_bytes * 4 == float_bytes, f"{n}: int8 weights {int8_bytes} B, float32 {float_bytes} B")
        # The synthetic models calibrate on their own sets, drawn like the test data, not on it.
        if src["family"] != "classifier":
            check("calibration" in files and len(os.listdir(os.path.join(zoo, files["calibration"]))) == 64,
                  f"{n}: calibration sets {files.get('calibration')}")
        # rtml against the spec evaluator's expected outputs (and the labels), on every kernel set.
        report = os.path.join(tmp, n + ".json")
        for kernels in ("simd", "reference", "cortex-m"):
            r = rtml(binary, "run", os.path.join(zoo, files["onnx"]), "--test-data", os.path.join(zoo, n),
                     "--report", report, "--kernels", kernels)
            check(r.returncode == 0, f"{n}: rtml run --test-data --kernels {kernels} failed:\n{r.stdout[-1500:]}{r.stderr}")
        # No heap allocation per run, and the expected outputs again, through rtml bench.
        bench = os.path.join(tmp, n + ".bench.json")
        r = rtml(binary, "bench", os.path.join(zoo, n), "--no-db", "--runs", "20", "--warmup", "2", "--json", bench)
        if check(r.returncode == 0, f"rtml bench {n} failed:\n{r.stdout[-1000:]}{r.stderr[-1000:]}"):
            run = json.load(open(bench))["runs"][0]
            heap = run["heap"]  # None in a sanitizer build: its allocator cannot be counted
            check(heap is None or heap["allocations_per_run"] == 0, f"{n}: {heap} allocations per run")
            check(run["accuracy"]["passed"], f"{n}: rtml bench's accuracy {run['accuracy']}")
        if src["family"] == "classifier":
            check(abs(e["float_top1"] - src["pytorch_top1"]) <= 0.005,
                  f"{n}: float top-1 {e['float_top1']} != PyTorch's {src['pytorch_top1']}")
            check(e["int8_top1"] >= src["pytorch_top1"] - 0.01,
                  f"{n}: int8 top-1 {e['int8_top1']} more than 1 point below float {src['pytorch_top1']}")
            if os.path.exists(report):
                check(abs(json.load(open(report))["top1"] - e["int8_top1"]) <= 0.005, f"{n}: rtml's top-1 vs the manifest's")
        else:
            check_int8_error(zoo, n, e, src)
    print(f"int8: {len(want)} models checked")


def check_int8_error(zoo, n, e, src):
    """The manifest's int8 vs float error is what the expected outputs show: the spec evaluator's
    int8 outputs against PyTorch's float ones (rtml quantize measured it with rtml's float
    engine: within 1e-4 of PyTorch), and small against the outputs themselves (within 5%
    of each output's largest magnitude)."""
    worst = 0.0
    for sd_q, sd_f in zip(e["files"]["test_data"], src["files"]["test_data"]):
        for i, o in enumerate(e["outputs"]):
            f = os.path.join(zoo, sd_f, f"output_{i}.pb")
            if o["name"] in e["stochastic_outputs"] or not os.path.exists(f):
                continue
            y_float = load_pb(f)[1]
            err = float(np.abs(load_pb(os.path.join(zoo, sd_q, f"output_{i}.pb"))[1] - y_float).max())
            worst = max(worst, err)
            check(err <= 0.05 * float(np.abs(y_float).max()),
                  f"{n}: output {o['name']} int8 vs float error {err}, largest |float| {np.abs(y_float).max()}")
    check(abs(worst - e["max_abs_error"]) <= 1e-3,
          f"{n}: int8 vs float max abs error {worst} in the test data, {e['max_abs_error']} in the manifest")


def compare_trees(a, b):
    cmp = filecmp.dircmp(a, b)
    check(not cmp.left_only and not cmp.right_only, f"{a} vs {b}: {cmp.left_only} / {cmp.right_only}")
    for f in cmp.common_files:
        check(filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False), f"{a}/{f} differs between runs")
    for d in cmp.common_dirs:
        compare_trees(os.path.join(a, d), os.path.join(b, d))


# --- frontend ---------------------------------------------------------------

def cmd_frontend(zoo, binary):
    with tempfile.TemporaryDirectory() as tmp:
        fake = os.path.join(tmp, "python-without-torch")
        with open(fake, "w") as f:   # a Python on which every import fails, like one without Debian's packages
            f.write("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
        os.chmod(fake, 0o755)
        r = rtml(binary, "zoo", "--out", os.path.join(tmp, "z"), env=dict(os.environ, RTML_PYTHON=fake))
        check(r.returncode != 0, "rtml zoo succeeded with a Python that has no torch")
        check("apt-get install" in r.stderr and "python3-torch" in r.stderr,
              f"rtml zoo without torch does not say what to install:\n{r.stderr}")
        check(not os.path.exists(os.path.join(tmp, "z", "manifest.json")), "a manifest was written anyway")
        r = rtml(binary, "zoo", "--set", "everything")
        check(r.returncode != 0, "rtml zoo accepted --set everything")
    print("frontend: missing torch and a bad --set are refused with a clear message")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("manifest", "engine", "deterministic", "frontend"):
        sys.exit(__doc__)
    globals()["cmd_" + sys.argv[1]](sys.argv[2], sys.argv[3])
    if FAILURES:
        sys.exit(f"{len(FAILURES)} check(s) failed")
