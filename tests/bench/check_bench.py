#!/usr/bin/python3
"""End-to-end tests of `rtml bench` through its command line.

usage: check_bench.py RTML ZOO_DIR SCHEMA_JSON

- Accuracy catches a model whose weights were perturbed (1% on one layer):
  the run fails its check and rtml exits 1; the untouched copy passes.
- Reports validate against docs/bench-report.schema.json, including an
  error row for a broken model file, and the sweep goes on past it.
- Every backend this rtml has (native, and torch when built with LibTorch)
  runs zoo models; the torch backend names the BLAS it uses.
- --block/--rate sets the real-time period; CSV and Markdown have one row
  per run; --db records every run, `rtml runs` lists them.
- The handwritten backend beside native: a model it does not cover is in
  the report's not_covered list and the table's "not covered" lines, not a
  run or an error (exit 0); a covered one is an ordinary run.
- samples_us holds every timed run by default (null with --no-samples); the
  memory timeline starts at 0, increases, peaks at rss_peak_bytes, and stays
  within 2000 evenly spaced points over a long window.
- A model folder whose name is not UTF-8 still gets its report and its run
  in the database.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import numpy as np
import onnx
from onnx import numpy_helper

RTML, ZOO, SCHEMA = sys.argv[1:4]
FAILURES = []
QUICK = ["--warmup", "2", "--runs", "20"]


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def bench(*args):
    r = subprocess.run([RTML, "bench", *args], capture_output=True, text=True)
    return r


def load(path):
    with open(path) as f:
        report = json.load(f)
    with open(SCHEMA) as f:
        schema = json.load(f)
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as e:
        check(False, f"{path} does not match the schema: {e.message} at {list(e.absolute_path)}")
    return report


def backends():
    have = ["native"]
    probe = bench(os.path.join(ZOO, "matvec_16"), "--backend", "torch", "--no-db", *QUICK)
    if "not installed" not in probe.stderr:  # no rtml-backend-torch.so in sanitizer builds
        have.append("torch")
    return have


def main():
    tmp = tempfile.mkdtemp()
    try:
        have = backends()
        print("backends:", have)

        # Perturbed weights are caught by the accuracy check.
        orig = os.path.join(tmp, "models", "mlp_relu_d3_w64")
        shutil.copytree(os.path.join(ZOO, "mlp_relu_d3_w64"), orig)
        bad = os.path.join(tmp, "models", "mlp_perturbed")
        shutil.copytree(orig, bad)
        m = onnx.load(os.path.join(bad, "model.onnx"))
        w = m.graph.initializer[0]
        w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * np.float32(1.01), w.name))
        onnx.save(m, os.path.join(bad, "model.onnx"))
        os.remove(os.path.join(bad, "model.pt"))  # TorchScript still has the old weights: native only

        report_path = os.path.join(tmp, "acc.json")
        r = bench(orig, bad, "--json", report_path, "--no-db", *QUICK)
        check(r.returncode == 1, f"a failed accuracy check should exit 1, got {r.returncode}\n{r.stderr}")
        rep = load(report_path)
        runs = {x["model"]: x for x in rep["runs"]}
        check(runs["mlp_relu_d3_w64"]["accuracy"]["passed"] is True, "unperturbed model fails accuracy")
        acc = runs["mlp_perturbed"]["accuracy"]
        check(acc["passed"] is False and acc["max_abs_error"] > 1e-4,
              f"perturbed weights not caught: {acc}")

        # A broken model is an error row; the sweep goes on; the report is schema-valid.
        broken = os.path.join(tmp, "models", "broken")
        os.makedirs(broken)
        with open(os.path.join(ZOO, "matvec_16", "model.onnx"), "rb") as f:
            data = f.read()
        with open(os.path.join(broken, "model.onnx"), "wb") as f:
            f.write(data[: len(data) // 2])
        report_path = os.path.join(tmp, "sweep.json")
        csv_path = os.path.join(tmp, "sweep.csv")
        db = os.path.join(tmp, "results.db")
        models = [broken] + [os.path.join(ZOO, n) for n in ("gru_stream_h64", "digits_mlp", "vae_random_f64_z32")]
        r = bench(*models, "--backend", ",".join(have), "--json", report_path, "--csv", csv_path, "--db", db,
                  "--block", "16", "--rate", "44100", *QUICK)
        check(r.returncode == 1, f"a sweep with an error row should exit 1, got {r.returncode}")
        rep = load(report_path)
        check(len(rep["runs"]) == len(models) * len(have), f"{len(rep['runs'])} runs in the report")
        for run in rep["runs"]:
            if run["model"] == "broken":
                check(run["status"] == "error" and "model.onnx" in (run["error"] or ""),
                      f"broken model row: {run.get('error')}")
                continue
            check(run["status"] == "ok", f"{run['model']} on {run['backend']}: {run.get('error')}")
            if run["status"] != "ok":
                continue
            check(run["accuracy"]["passed"], f"{run['model']} on {run['backend']} fails accuracy: {run['accuracy']}")
            check(abs(run["realtime"]["period_us"] - 16 / 44100 * 1e6) < 1e-6, "period from --block/--rate")
            check(run["realtime"]["periods"] == 20 and run["timed_runs"] == 20, "20 periods")
            lat = run["latency_us"]
            check(lat["min"] <= lat["median"] <= lat["p99"] <= lat["max"], f"latency order {lat}")
            check(sum(run["histogram"]["counts"]) == run["timed_runs"], "histogram counts every run")
            samples = run["samples_us"]
            check(isinstance(samples, list) and len(samples) == run["timed_runs"]
                  and abs(min(samples) - lat["min"]) < 1e-9 and abs(max(samples) - lat["max"]) < 1e-9,
                  f"samples_us (kept by default) should hold every timed run: {str(samples)[:80]}")
            tl = run["memory"]["timeline"]
            check(len(tl["t_us"]) == len(tl["rss_bytes"]) >= 2, f"memory timeline lengths {tl}")
            check(all(a < b for a, b in zip(tl["t_us"], tl["t_us"][1:])) and tl["t_us"][0] == 0,
                  f"memory timeline times start at 0 and increase: {tl['t_us'][:5]}")
            check(all(r > 0 for r in tl["rss_bytes"]) and max(tl["rss_bytes"]) == run["memory"]["rss_peak_bytes"],
                  f"memory timeline RSS > 0, its max the peak: {tl['rss_bytes'][:5]}")
            if run["model"] == "digits_mlp":
                check(run["accuracy"]["top1"] >= 0.9 and run["accuracy"]["labelled_sets"] == 360,
                      f"digits top-1 {run['accuracy']}")
            if run["backend"] == "native":
                check(run["heap"] is None or run["heap"]["allocations_per_run"] == 0,
                      f"native allocates: {run['heap']}")
            if run["backend"] == "torch":
                check("blas" in run["backend_info"], f"torch backend does not name its BLAS: {run['backend_info']}")
        with open(csv_path) as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == len(rep["runs"]), "one CSV row per run")
        check(all(row["median_us"] for row in rows if row["status"] == "ok"), "CSV has medians")

        r = subprocess.run([RTML, "runs", "--db", db, "--json", "--limit", "100"], capture_output=True, text=True)
        if check(r.returncode == 0, f"rtml runs failed: {r.stderr}"):
            listed = json.loads(r.stdout)
            listed = listed["runs"] if isinstance(listed, dict) else listed
            check(len(listed) == len(rep["runs"]), f"rtml runs lists {len(listed)} of {len(rep['runs'])} runs")

        # --no-samples leaves samples_us out; a long window keeps the timeline bounded and evenly spaced.
        path = os.path.join(tmp, "nosamples.json")
        r = bench(os.path.join(ZOO, "matvec_16"), "--no-samples", "--json", path, "--no-db", *QUICK)
        if check(r.returncode == 0, f"--no-samples failed: {r.stderr}"):
            check(load(path)["runs"][0]["samples_us"] is None, "--no-samples still wrote samples_us")
        path = os.path.join(tmp, "timeline.json")
        # (a model slow enough that 1.5 s stays below the 2-million-run cap)
        r = bench(os.path.join(ZOO, "transformer_d64_h4_s16"), "--seconds", "1.5", "--memory-interval-us", "200",
                  "--json", path, "--no-db", "--no-accuracy")
        if check(r.returncode == 0, f"long window failed: {r.stderr}"):
            run = load(path)["runs"][0]
            tl = run["memory"]["timeline"]
            n, readings = len(tl["t_us"]), run["memory"]["samples"]
            # Up to ~7500 readings in 1.5 s (fewer on a loaded machine): past 2000 every other point goes
            # (and again), so between 1000 and 2000 points remain, one per 2^k readings (k >= 1) plus the
            # last. Counted in readings, not in time: the sampler's pace depends on the machine's load.
            if readings > 2000:
                check(1000 <= n <= 2000, f"timeline of {readings} readings has {n} points")
                check(any(abs(n - (readings - 1) / 2 ** k) <= 2 for k in range(1, 16)),
                      f"timeline of {readings} readings has {n} points: not one per 2^k readings")
            else:
                check(n == readings, f"timeline of {readings} readings (no decimation) has {n} points")
            check(all(a < b for a, b in zip(tl["t_us"], tl["t_us"][1:])), "timeline times should increase")
            busy = sum(run["samples_us"])
            check(tl["t_us"][-1] >= busy, f"timeline should cover the timed window ({busy} us of runs): "
                                          f"ends at {tl['t_us'][-1]}")

        # The hand-written baseline beside the engine: a model it has no code for is listed as not
        # covered (not a run, not an error: exit 0), the covered ones are runs like any other.
        path = os.path.join(tmp, "handwritten.json")
        db = os.path.join(tmp, "handwritten.db")
        r = bench(os.path.join(ZOO, "lstm_stream_h16"), os.path.join(ZOO, "digits_cnn"), "--backend",
                  "native,handwritten", "--json", path, "--db", db, *QUICK)
        check(r.returncode == 0, f"handwritten sweep should exit 0, got {r.returncode}\n{r.stdout}\n{r.stderr}")
        rep = load(path)
        pairs = sorted((x["model"], x["backend"], x["status"]) for x in rep["runs"])
        check(pairs == [("digits_cnn", "native", "ok"), ("lstm_stream_h16", "handwritten", "ok"),
                        ("lstm_stream_h16", "native", "ok")], f"handwritten sweep runs: {pairs}")
        nc = rep.get("not_covered", [])
        check(len(nc) == 1 and nc[0]["model"] == "digits_cnn" and nc[0]["backend"] == "handwritten"
              and "Conv" in nc[0]["reason"], f"not_covered: {nc}")
        for x in rep["runs"]:
            if x["backend"] == "handwritten":
                check(x["backend_info"].get("pattern") == "lstm I=16 H=16 one step, head 16-8"
                      and (x["heap"] is None or x["heap"]["allocations_per_run"] == 0)  # None: sanitizers
                      and x["accuracy"]["passed"],
                      f"handwritten run: {x.get('backend_info')} {x.get('heap')} {x.get('accuracy')}")
        check("not covered" in r.stdout and "handwritten: digits_cnn" in r.stdout and "errors:" not in r.stdout,
              f"table for the handwritten sweep:\n{r.stdout}")

        r = bench(os.path.join(ZOO, "matvec_16"), "--markdown", "--no-db", *QUICK)
        check(r.returncode == 0 and "| matvec_16" in r.stdout, f"markdown table:\n{r.stdout}")
        r = bench(os.path.join(ZOO, "matvec_16"), "--runs", "5", "--seconds", "1", "--no-db")
        check(r.returncode != 0 and "choose one" in r.stderr, "--runs with --seconds is refused")
        r = bench(os.path.join(ZOO, "matvec_16"), "--backend", "tensorflow", "--no-db")
        check(r.returncode != 0 and "native" in r.stderr, "an unknown backend names the available ones")

        # A model folder whose name is not UTF-8 (Linux names are bytes): the measurement is still
        # written and stored; the name shows the bytes that are not UTF-8 as U+FFFD.
        odd = os.path.join(os.fsencode(tmp), b"matvec_\xff\xfe")
        shutil.copytree(os.path.join(os.fsencode(ZOO), b"matvec_16"), odd)
        path = os.path.join(tmp, "odd.json")
        db = os.path.join(tmp, "odd.db")
        r = subprocess.run([os.fsencode(RTML), b"bench", odd, b"--json", os.fsencode(path), b"--db",
                            os.fsencode(db), *[os.fsencode(a) for a in QUICK]], capture_output=True)
        check(r.returncode == 0, f"a folder name that is not UTF-8: exit {r.returncode}\n{r.stderr!r}")
        if check(os.path.isfile(path), "a folder name that is not UTF-8: no report written"):
            rep = load(path)
            runs = [(x["model"], x["status"]) for x in rep["runs"]]
            check(runs == [("matvec_\ufffd\ufffd", "ok")], f"a folder name that is not UTF-8: runs {runs}")
        listed = subprocess.run([RTML, "runs", "--db", db], capture_output=True)
        check(listed.returncode == 0 and b"matvec_" in listed.stdout,
              f"a folder name that is not UTF-8: the run is in the database\n{listed.stdout!r}{listed.stderr!r}")
    finally:
        shutil.rmtree(tmp)
    if FAILURES:
        sys.exit(f"{len(FAILURES)} check(s) failed")
    print("bench: all checks passed")


if __name__ == "__main__":
    main()
