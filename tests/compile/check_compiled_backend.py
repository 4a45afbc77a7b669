#!/usr/bin/python3
"""`rtml bench MODEL --backend native,compiled`: the generated C (rtml compile
--target host) built as a shared library and timed in rtml's own bench loop,
next to the engine, in one report.

What a user relies on, each checked against an independent source:
- the compiled model's outputs match the test data beside the model (PyTorch's
  outputs, the bench's accuracy check), for a dense layer and a one-step LSTM
  whose state goes in and out as tensors;
- the generated code allocates nothing per inference (the bench's heap counter
  reads 0 allocations, as for the engine; not counted in sanitizer builds);
- both backends' runs are in the same report with latencies, and the report
  matches docs/bench-report.schema.json;
- asking for threads the generated code does not have is an error row that says so.
No speed is asserted.

usage: check_compiled_backend.py RTML ZOO_DIR SCHEMA
Exit 77 (skip) without cc, c++ or make.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema

RTML, ZOO, SCHEMA = sys.argv[1:4]
missing = [t for t in ["cc", "c++", "make"] if not shutil.which(t)]
if missing:
    print("SKIP: not installed: " + ", ".join(missing))
    sys.exit(77)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


models = [os.path.join(ZOO, m) for m in ["matvec_64", "lstm_stream_h16"]]
with tempfile.TemporaryDirectory() as tmp:
    report_path = os.path.join(tmp, "r.json")
    p = subprocess.run([RTML, "bench", *models, "--backend", "native,compiled", "--runs", "50", "--warmup", "5",
                        "--json", report_path, "--no-db"], capture_output=True, text=True)
    check(p.returncode == 0, f"rtml bench --backend native,compiled exits 0 ({p.stderr.strip()[-2000:]})")
    report = json.load(open(report_path))
    try:
        jsonschema.validate(report, json.load(open(SCHEMA)))
    except jsonschema.ValidationError as e:
        check(False, f"the report matches docs/bench-report.schema.json: {e.message}")
    runs = report["runs"]
    check(len(runs) == 4, f"one run per model and backend ({len(runs)})")
    for run in runs:
        if run["backend"] != "compiled":
            continue
        name = run["model"]
        if not check(run["status"] == "ok", f"{name}: the compiled run is ok ({run.get('error')})"):
            continue
        check("generated C" in run["backend_info"]["runtime"], f"{name}: backend_info names the generated C")
        check(run["timed_runs"] == 50 and run["latency_us"]["median"] > 0, f"{name}: 50 timed runs with latencies")
        acc = run["accuracy"]
        check(acc is not None and acc["passed"], f"{name}: the outputs match PyTorch's test data ({acc})")
        if run["heap"] is not None:
            check(run["heap"]["allocations_per_run"] == 0, f"{name}: no allocation per inference ({run['heap']})")
    check(sorted(r["model"] for r in runs if r["backend"] == "compiled") == sorted(os.path.basename(m) for m in models),
          "a compiled run for each model")

    p = subprocess.run([RTML, "bench", models[0], "--backend", "compiled", "--threads", "2", "--runs", "5",
                        "--json", report_path, "--no-db"], capture_output=True, text=True)
    run = json.load(open(report_path))["runs"][0]
    check(p.returncode == 1 and run["status"] == "error" and "one thread" in run["error"],
          f"--threads 2 is an error row naming the one thread ({run.get('error')})")

print("bench --backend compiled: " + ("all good" if not failures else f"{len(failures)} failures"))
sys.exit(1 if failures else 0)
