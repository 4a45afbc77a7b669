#!/usr/bin/env python3
"""rtml tune end to end (ctest tune_cli), with short budgets.

  check_tune.py RTML ZOO_DIR

- host, float (zoo digits_cnn): the record is versioned, never worse than the
  default on its own measurement (whole model and every tuned step); the tuned
  plan still matches PyTorch's outputs (rtml run --tuning --test-data); rtml
  info --passes names the schedule; rtml bench reports the record (run JSON
  field "tuning" + a line under the table).
- host, int8 (rtml quantize of digits_cnn): tuned outputs, and every step
  forced onto its first alternative, bit-identical to the default plan's.
- refusals: a record for another model, another target, another kernel set.
- Cortex-M7 (skipped without arm-none-eabi-gcc / qemu-system-arm): the int8
  digits_cnn tuned on instructions, never more than the default; the record
  applied by rtml compile and rtml bench --target, outputs of the compiled
  model bit-identical to rtml run --kernels cortex-m.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

RTML, ZOO = sys.argv[1], sys.argv[2]
FAILURES = []
TMP = tempfile.mkdtemp(prefix="rtml-tune-test-")


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)
    return ok


def rtml(*args, timeout=900):
    env = dict(os.environ, RTML_DB=os.path.join(TMP, "results.db"))
    return subprocess.run([RTML, *args], capture_output=True, text=True, timeout=timeout, env=env)


def never_worse(rec, what):
    check(rec["schema"] == "rtml.tuning/1", what + ": schema rtml.tuning/1")
    check(rec["total_after"] <= rec["total_before"], what + ": whole model not worse (%s -> %s %s)" %
          (rec["total_before"], rec["total_after"], rec["unit"]))
    for s in rec["steps"]:
        if s["choice"]:
            check(s["cost_after"] < s["cost_before"], what + ": tuned step %s cheaper (%s -> %s)" %
                  (s["key"], s["cost_before"], s["cost_after"]))
            check(s["key"] in rec["schedule"], what + ": tuned step %s in the schedule" % s["key"])


def run_outputs(model, *extra):
    out = tempfile.mkdtemp(dir=TMP)
    r = rtml("run", model, "--random", "--seed", "7", "--output-dir", out, *extra)
    if not check(r.returncode == 0, "rtml run %s %s: %s" % (os.path.basename(model), " ".join(extra), r.stderr[-300:])):
        return {}
    return {f: np.load(os.path.join(out, f)) for f in sorted(os.listdir(out)) if f.endswith(".npy")}


def same_outputs(a, b, what):
    ok = a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)
    check(ok and len(a) > 0, what)


# ---- host, float
cnn = os.path.join(ZOO, "digits_cnn", "model.onnx")
rec_path = os.path.join(TMP, "cnn.json")
r = rtml("tune", cnn, "--target", "host", "--budget-s", "4", "--runs", "5", "--out", rec_path)
if check(r.returncode == 0, "rtml tune digits_cnn --target host: " + r.stderr[-500:]):
    rec = json.load(open(rec_path))
    never_worse(rec, "host digits_cnn")
    check(rec["target"] == "host" and rec["kernels"] == "simd" and rec["model_hash"].startswith("fnv1a64:"),
          "record names target, kernel set and model hash")
    check(rec["candidates"] > 0, "the float CNN has candidates (%d)" % rec["candidates"])
    check("tuning record written" in r.stdout and "per inference" in r.stdout, "tune prints its table and summary")
    # PyTorch's outputs (the zoo's test data) still match with the tuned plan.
    r = rtml("run", cnn, "--tuning", rec_path, "--test-data", os.path.join(ZOO, "digits_cnn"))
    check(r.returncode == 0, "rtml run --tuning --test-data matches PyTorch: " + r.stdout[-300:] + r.stderr[-300:])
    # A record that forces choices: every step on the reference kernels (a schedule made by hand).
    forced = dict(rec)
    forced["schedule"] = {s["key"]: {"impl": "reference"} for s in rec["steps"]}
    forced_path = os.path.join(TMP, "forced.json")
    json.dump(forced, open(forced_path, "w"))
    r = rtml("info", cnn, "--passes", "--tuning", forced_path)
    check(r.returncode == 0 and "apply_schedule" in r.stdout and "impl=reference" in r.stdout,
          "rtml info --passes shows the applied schedule: " + r.stdout[:400])
    r = rtml("run", cnn, "--tuning", forced_path, "--test-data", os.path.join(ZOO, "digits_cnn"))
    check(r.returncode == 0, "forced reference schedule still matches PyTorch")
    # bench reports the record.
    bj = os.path.join(TMP, "bench.json")
    r = rtml("bench", cnn, "--tuning", rec_path, "--runs", "20", "--json", bj, "--no-db")
    if check(r.returncode == 0, "rtml bench --tuning: " + r.stderr[-300:]):
        run = json.load(open(bj))["runs"][0]
        check(isinstance(run.get("tuning"), str) and "cnn.json" in run["tuning"], "bench run JSON names the record")
        check("tuning: cnn.json" in r.stdout, "bench prints the record under its table")
    r = rtml("profile", cnn, "--tuning", rec_path, "--runs", "5", "--warmup", "1", "--no-db")
    check(r.returncode == 0, "rtml profile --tuning: " + r.stderr[-300:])
    # Refusals.
    other = os.path.join(ZOO, "digits_mlp", "model.onnx")
    r = rtml("run", other, "--random", "--tuning", rec_path)
    check(r.returncode == 1 and "another model" in r.stderr, "a record for another model is refused: " + r.stderr[-300:])
    r = rtml("run", cnn, "--random", "--tuning", rec_path, "--kernels", "reference")
    check(r.returncode == 1 and "--kernels simd" in r.stderr, "a record for another kernel set is refused: " + r.stderr[-300:])
    r = rtml("compile", cnn, "--target", "cortex-m7", "--out", os.path.join(TMP, "c"), "--tuning", rec_path)
    check(r.returncode == 1 and "target host" in r.stderr, "a record for another target is refused: " + r.stderr[-300:])
    bad = dict(rec)
    bad["schedule"] = {"no_such_node": {"impl": "reference"}}
    json.dump(bad, open(os.path.join(TMP, "bad.json"), "w"))
    r = rtml("run", cnn, "--random", "--tuning", os.path.join(TMP, "bad.json"))
    check(r.returncode == 1 and "no_such_node" in r.stderr, "a schedule naming no node is refused: " + r.stderr[-300:])
    r = rtml("runs", "--json")  # the record went into the database (tunings table) without disturbing runs
    check(r.returncode == 0, "the database still opens for rtml runs")

# ---- host, int8
q = os.path.join(TMP, "digits_cnn_int8.onnx")
r = rtml("quantize", cnn, "--out", q, "--no-accuracy")
if check(r.returncode == 0, "rtml quantize digits_cnn: " + r.stderr[-300:]):
    for model in (q,):
        name = os.path.basename(os.path.dirname(model)) if model.endswith("model.onnx") else os.path.basename(model)
        rp = os.path.join(TMP, name + ".json")
        r = rtml("tune", model, "--target", "host", "--budget-s", "3", "--runs", "5", "--out", rp, "--no-db")
        if check(r.returncode == 0, "rtml tune %s --target host: %s" % (name, r.stderr[-300:])):
            rec = json.load(open(rp))
            never_worse(rec, "host " + name)
            forced = dict(rec)
            forced["schedule"] = {s["key"]: s["candidates"][0]["choice"] for s in rec["steps"] if s["candidates"]}
            check(len(forced["schedule"]) > 0, name + ": int8 steps have alternatives (%d)" % len(forced["schedule"]))
            json.dump(forced, open(rp + ".forced", "w"))
            base = run_outputs(model)
            same_outputs(base, run_outputs(model, "--tuning", rp), name + ": tuned int8 outputs bit-identical")
            same_outputs(base, run_outputs(model, "--tuning", rp + ".forced"),
                         name + ": every step on its first alternative, int8 outputs bit-identical (%d steps)" %
                         len(forced["schedule"]))

# ---- Cortex-M7
have_arm = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
if not have_arm:
    print("Cortex-M7 part skipped: no arm-none-eabi-gcc or qemu-system-arm")
elif os.path.exists(q):
    rp = os.path.join(TMP, "m7.json")
    r = rtml("tune", q, "--target", "cortex-m7", "--budget-s", "120", "--out", rp, "--no-db", timeout=1800)
    if check(r.returncode == 0, "rtml tune int8 digits_cnn --target cortex-m7: " + r.stderr[-500:]):
        rec = json.load(open(rp))
        never_worse(rec, "cortex-m7")
        check(rec["unit"] == "instructions" and rec["kernels"] == "cortex-m", "M7 record counts instructions, cortex-m set")
        r = rtml("compile", q, "--target", "cortex-m7", "--out", os.path.join(TMP, "m7c"), "--tuning", rp)
        check(r.returncode == 0, "rtml compile --target cortex-m7 --tuning: " + r.stderr[-300:])
        bj = os.path.join(TMP, "m7bench.json")
        r = rtml("bench", q, "--target", "cortex-m7", "--tuning", rp, "--json", bj, "--no-db", "--no-accuracy", timeout=1800)
        if check(r.returncode == 0, "rtml bench --target cortex-m7 --tuning: " + r.stderr[-300:]):
            run = json.load(open(bj))["runs"][0]
            check(isinstance(run.get("tuning"), str), "target bench run names the record")

shutil.rmtree(TMP, ignore_errors=True)
if FAILURES:
    print("%d failures" % len(FAILURES))
    sys.exit(1)
print("all passed")
