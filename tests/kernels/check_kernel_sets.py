#!/usr/bin/python3
"""Every zoo model on every kernel set: `rtml run MODEL --kernels SET --test-data`
for reference, simd and cortex-m must match the test data (PyTorch's outputs)
within the default tolerance, and `rtml ops`-level promises hold: with the
reference and cortex-m sets no step runs a Highway (`_hwy`) kernel.

usage: check_kernel_sets.py RTML ZOO_DIR
"""
import json
import os
import subprocess
import sys

RTML, ZOO = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


models = sorted(d for d in os.listdir(ZOO) if os.path.isfile(os.path.join(ZOO, d, "model.onnx")))
check(len(models) >= 20, f"the zoo holds its models ({len(models)})")
runs = 0
for m in models:
    folder = os.path.join(ZOO, m)
    model = os.path.join(folder, "model.onnx")
    if not any(d.startswith("test_data_set_") for d in os.listdir(folder)):
        continue
    for ks in ["reference", "simd", "cortex-m"]:
        p = subprocess.run([RTML, "run", model, "--kernels", ks, "--test-data", folder], capture_output=True, text=True)
        check(p.returncode == 0, f"{m} [{ks}]: matches its test data\n{p.stdout[-800:]}{p.stderr[-800:]}")
        runs += 1
        info = subprocess.run([RTML, "info", model, "--kernels", ks, "--json"], capture_output=True, text=True)
        if check(info.returncode == 0, f"{m} [{ks}]: rtml info --json ({info.stderr[-300:]})"):
            j = json.loads(info.stdout)
            kernels = [s["kernel"] for s in j["step_kernels"]]
            check(j["kernels"] == ks, f"{m} [{ks}]: info names the kernel set")
            if ks != "simd":
                check(not any("_hwy" in k for k in kernels), f"{m} [{ks}]: no Highway kernel ({kernels})")
                # Split and Concat keep their block sizes as a (portable) step constant.
                if not any("_split__" in k or "_concat__" in k for k in kernels):
                    check(j["step_constant_bytes"] == 0, f"{m} [{ks}]: nothing packed for Highway kernels")
print(f"{runs} (model, kernel set) runs: " + ("all good" if not failures else f"{len(failures)} failures"))
sys.exit(1 if failures else 0)
