#!/usr/bin/python3
"""`rtml bench MODEL --target cortex-m4`: the model compiled, built with
arm-none-eabi-gcc and run under QEMU, reported in the bench report schema
with instructions (never times), flash and RAM, and accuracy on the test data.

Expectations from hand calculations on matvec_64 (y = x W, W 64x64 float32):
its weights are 64*64*4 = 16384 bytes of flash; the product is 4096
multiply-adds, each needing at least a load of W and an FPU multiply-add, so
at least 8192 instructions per inference; there is one step.

`rtml profile MODEL --target cortex-m4` gives the same per-step count in an
rtml.profile/1 report (docs/profile-report.schema.json) with no times.
With --ram (digits_cnn at 8192 B), the arena in its own linker section is
counted in the RAM report, and the profile shows each row band as a step.

usage: check_bench_target.py RTML ZOO_DIR SCHEMA
Exit 77 (skip) without arm-none-eabi-gcc or qemu-system-arm.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema

RTML, ZOO, SCHEMA = sys.argv[1:4]
missing = [t for t in ["arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm"] if not shutil.which(t)]
if missing:
    print("SKIP: not installed: " + ", ".join(missing))
    sys.exit(77)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


model = os.path.join(ZOO, "matvec_64")
with tempfile.TemporaryDirectory() as tmp:
    report_path = os.path.join(tmp, "r.json")
    p = subprocess.run([RTML, "bench", model, "--target", "cortex-m4", "--json", report_path, "--no-db"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"rtml bench --target cortex-m4 exits 0 ({p.stderr.strip()})")
    check("instructions" in p.stdout and "us" not in p.stdout.split("emulated")[-1].split("\n")[1],
          "the table shows instructions and no time column")
    report = json.load(open(report_path))
    try:
        jsonschema.validate(report, json.load(open(SCHEMA)))
    except jsonschema.ValidationError as e:
        check(False, f"the report matches docs/bench-report.schema.json: {e.message}")
    run = report["runs"][0]
    e = run.get("emulated") or {}
    check(run["status"] == "ok" and run["target"] == "cortex-m4", "one ok run on cortex-m4")
    check(run["latency_us"] is None, "no latency: QEMU has no timing model")
    check(e.get("core") == "Cortex-M4", "the core is named")
    check(e["flash"]["weights_bytes"] == 64 * 64 * 4, f"weights in flash: 16384 bytes (got {e['flash']['weights_bytes']})")
    check(e["flash"]["total_bytes"] > e["flash"]["weights_bytes"], "flash holds code besides the weights")
    inst = e["instructions"]["per_inference"]
    sets = len([d for d in os.listdir(model) if d.startswith("test_data_set_")])
    check(len(inst) == sets, f"one instruction count per test set ({len(inst)} for {sets})")
    check(all(n >= 8192 for n in inst), f"at least 2 instructions per multiply-add (got {inst})")
    check(len(set(inst)) == 1, "the same count for every set (no data-dependent branches in a dense product)")
    check(len(e["steps"]) == 1 and e["steps"][0]["kernel"] == "rtml_f32_matmul__ref",
          f"one step, the reference MatMul kernel ({e['steps']})")
    check(0 < e["steps"][0]["instructions"] <= inst[0], "the step's count is part of the inference's")
    info = json.loads(subprocess.run([RTML, "info", os.path.join(model, "model.onnx"), "--json"], capture_output=True,
                                     text=True).stdout)
    check(e["ram"]["arena_bytes"] == info["arena_bytes"], "the arena is the planned one")
    check(0 < e["ram"]["stack_bytes"] < 64 * 1024, f"a measured stack ({e['ram']['stack_bytes']} bytes)")
    check(run["accuracy"] and run["accuracy"]["passed"], "the test data passes")
    ram = {r["region"]: r for r in e.get("memory_traffic", [])}
    check(ram.get("flash", {}).get("load_bytes", 0) >= 16384 * sets, "every weight is loaded from flash in each inference")

    profile_path = os.path.join(tmp, "p.json")
    p = subprocess.run([RTML, "profile", model, "--target", "cortex-m4", "--json", profile_path, "--no-db"],
                       capture_output=True, text=True)
    if check(p.returncode == 0, f"rtml profile --target cortex-m4 exits 0 ({p.stderr.strip()})"):
        prof = json.load(open(profile_path))
        try:
            jsonschema.validate(prof, json.load(open(os.path.join(os.path.dirname(SCHEMA), "profile-report.schema.json"))))
        except jsonschema.ValidationError as err:
            check(False, f"the profile matches docs/profile-report.schema.json: {err.message}")
        op = prof["ops"][0]
        check(op["counters"]["instructions"] == e["steps"][0]["instructions"],
              "the profile's step count equals the bench run's (deterministic)")
        check(op["mean_us"] is None and prof["total_us"]["mean"] is None, "the profile has no times")
        check(str(op["counters"]["instructions"]) in p.stdout, "the printed table shows the step's instructions")

    check(e["ram"]["static_bytes"] >= e["ram"]["arena_bytes"], "static RAM holds the arena")

    # --ram: the arena linked alone into a region of the budget is still RAM the model takes, and
    # `rtml profile --target --ram` shows each row band as a step.
    digits = os.path.join(ZOO, "digits_cnn")
    tiled_path = os.path.join(tmp, "tiled.json")
    p = subprocess.run([RTML, "bench", digits, "--target", "cortex-m4", "--ram", "8192", "--no-accuracy", "--json",
                        tiled_path, "--no-db"], capture_output=True, text=True)
    if check(p.returncode == 0, f"rtml bench --target cortex-m4 --ram 8192 exits 0 ({p.stderr.strip()[-300:]})"):
        t = json.load(open(tiled_path))["runs"][0]["emulated"]["ram"]
        check(0 < t["arena_bytes"] <= 8192, f"the tiled arena is within the budget ({t})")
        check(t["static_bytes"] >= t["arena_bytes"] and t["total_bytes"] >= t["arena_bytes"] + t["stack_bytes"],
              f"RAM counts the arena in its own section ({t})")
    tiled_profile = os.path.join(tmp, "tp.json")
    p = subprocess.run([RTML, "profile", digits, "--target", "cortex-m4", "--ram", "8192", "--json", tiled_profile,
                        "--no-db"], capture_output=True, text=True)
    if check(p.returncode == 0, f"rtml profile --target cortex-m4 --ram 8192 exits 0 ({p.stderr.strip()[-300:]})"):
        nodes = [op["node"] for op in json.load(open(tiled_profile))["ops"]]
        check(sum("@rows" in n for n in nodes) >= 4, f"the profile has the band steps ({nodes})")
    p = subprocess.run([RTML, "profile", digits, "--ram", "8192", "--no-db"], capture_output=True, text=True)
    check(p.returncode == 2 and "--target" in p.stderr, f"profile --ram without --target is a usage error ({p.stderr})")

    # --memory: the MDN head (576 B of activations) in a first level of 403 B keeps two Gemm
    # outputs in the second level; each copy between the levels is a step with its instructions,
    # and the RAM report gives each level against its budget.
    mdn = os.path.join(ZOO, "mdn_k8_d4")
    levels_profile = os.path.join(tmp, "lp.json")
    p = subprocess.run([RTML, "profile", mdn, "--target", "cortex-m4", "--memory", "dtcm:403,sram:2304", "--json",
                        levels_profile, "--no-db"], capture_output=True, text=True)
    if check(p.returncode == 0, f"rtml profile --target cortex-m4 --memory exits 0 ({p.stderr.strip()[-300:]})"):
        prof = json.load(open(levels_profile))
        copies = [op for op in prof["ops"] if op["op_type"] == "LevelCopy"]
        check(len(copies) >= 2 and all(op["counters"]["instructions"] > 0 for op in copies)
              and any("dtcm -> sram" in op["node"] for op in copies) and any("sram -> dtcm" in op["node"] for op in copies),
              f"the copies between levels are steps with instructions ({[op['node'] for op in copies]})")
        check("--memory dtcm " in p.stdout and "copies between levels" in p.stdout,
              f"the profile prints each level and the copies\n{p.stdout[-400:]}")

    bad = subprocess.run([RTML, "bench", model, "--target", "cortex-m9", "--no-db"], capture_output=True, text=True)
    check(bad.returncode != 0 and "cortex-m7" in bad.stderr, f"an unknown target names the known ones ({bad.stderr.strip()})")
    bad = subprocess.run([RTML, "bench", model, "--target", "cortex-m7", "--kernels", "simd", "--no-db"],
                         capture_output=True, text=True)
    check(bad.returncode == 2 and "simd" in bad.stderr, "--kernels simd is refused for a microcontroller")

print("bench --target: " + ("all good" if not failures else f"{len(failures)} failures"))
sys.exit(1 if failures else 0)
