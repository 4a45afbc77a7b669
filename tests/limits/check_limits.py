#!/usr/bin/python3
"""`rtml limits` through its command line.

usage: check_limits.py RTML LIMITS_SCHEMA_JSON

- `--json -` prints only JSON on stdout (progress goes to stderr), and it
  validates against docs/limits.schema.json; every number is finite and > 0
  (absent levels null); the levels are L1d, L2, L3, DRAM; the L1d, L2 and L3
  sizes are the ones /sys/devices/system/cpu/cpuN/cache lists for the core
  it ran on (when it lists them); the median is at most the best.
- `--json FILE` writes the same JSON to FILE and prints the table.
- Bad options exit 2 with the option named.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import jsonschema

RTML, SCHEMA = sys.argv[1:3]
FAILURES = []
QUICK = ["--seconds", "0.02", "--repetitions", "2"]


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def rtml(*args):
    return subprocess.run([RTML, "limits", *args], capture_output=True, text=True)


def sysfs_caches(cpu):
    """{level name: bytes} from sysfs, parsed here independently of rtml."""
    out = {}
    base = f"/sys/devices/system/cpu/cpu{cpu}/cache"
    if not os.path.isdir(base):
        return out
    for entry in sorted(os.listdir(base)):
        if not entry.startswith("index"):
            continue
        try:
            level = open(os.path.join(base, entry, "level")).read().strip()
            kind = open(os.path.join(base, entry, "type")).read().strip()
            size = open(os.path.join(base, entry, "size")).read().strip()
        except OSError:
            continue
        if kind not in ("Data", "Unified") or level not in ("1", "2", "3"):
            continue
        mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(size[-1:], 1)
        digits = size[:-1] if size[-1:] in "KMG" else size
        name = "L1d" if level == "1" else "L" + level
        out.setdefault(name, int(digits) * mult)
    return out


schema = json.load(open(SCHEMA))

# 1. --json -: JSON only on stdout.
r = rtml("--json", "-", *QUICK)
check(r.returncode == 0, f"--json - exits 0 (got {r.returncode}: {r.stderr})")
check("rtml limits: FMA peak" in r.stderr and "read DRAM" in r.stderr, f"progress on stderr: {r.stderr!r}")
try:
    doc = json.loads(r.stdout)
except json.JSONDecodeError as e:
    doc = None
    check(False, f"--json - prints valid JSON: {e}: {r.stdout[:300]!r}")
if doc is not None:
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        check(False, f"matches docs/limits.schema.json: {e.message} at {list(e.absolute_path)}")
    check([l["name"] for l in doc["levels"]] == ["L1d", "L2", "L3", "DRAM"], "levels in order")
    check(math.isfinite(doc["fma_gflops"]) and doc["fma_gflops"] > 0, f"fma_gflops {doc['fma_gflops']}")
    check(doc["fma_gflops_median"] <= doc["fma_gflops"], "FMA median <= best")
    check(doc["repetitions"] == 2 and doc["seconds_per_measurement"] == 0.02, "options recorded")
    check(doc["cpu_model"] == doc["host"]["cpu_model"], "cpu_model is the host's")
    for level in doc["levels"]:
        if level["read_gbps"] is None:
            check(level["name"] == "L3" and level["bytes"] is None, f"only a missing L3 may be absent: {level}")
            continue
        check(math.isfinite(level["read_gbps"]) and level["read_gbps"] > 0, f"{level['name']} GB/s finite > 0")
        check(level["read_gbps_median"] <= level["read_gbps"], f"{level['name']} median <= best")
        check(level["buffer_bytes"] % 4 == 0, f"{level['name']} buffer is whole floats")
    dram = doc["levels"][3]
    largest = max(l["bytes"] or 0 for l in doc["levels"][:3])
    check(dram["buffer_bytes"] >= min(max(8 * largest, 64 << 20), dram["bytes"] // 4 // 64 * 64),
          f"DRAM buffer {dram['buffer_bytes']} is max(8 x {largest}, 64 MiB) unless capped")
    if doc["cpu"] is not None:
        want = sysfs_caches(doc["cpu"])
        if want:
            for level in doc["levels"][:3]:
                check(level["bytes"] == want.get(level["name"]),
                      f"{level['name']} size {level['bytes']} is sysfs's {want.get(level['name'])}")
                if level["bytes"] is not None:
                    check(level["bytes_source"].startswith("sysfs /sys/devices/system/cpu/"), level["bytes_source"])
                    check(level["buffer_bytes"] == level["bytes"] // 2 // 64 * 64, f"{level['name']} buffer is half")

# 2. --json FILE: the table on stdout and the file.
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "limits.json")
    r = rtml("--json", path, *QUICK)
    check(r.returncode == 0, f"--json FILE exits 0 ({r.stderr})")
    check("FMA peak" in r.stdout and "DRAM" in r.stdout and "read GB/s" in r.stdout, f"table: {r.stdout!r}")
    try:
        jsonschema.validate(json.load(open(path)), schema)
    except (OSError, json.JSONDecodeError, jsonschema.ValidationError) as e:
        check(False, f"--json FILE writes a valid result: {e}")

# 3. Usage errors.
for args, needle in [(["--seconds", "0"], "--seconds"), (["--seconds"], "--seconds"), (["--bogus"], "--bogus"),
                     (["--repetitions", "0"], "--repetitions"), (["--cpu", "x"], "--cpu")]:
    r = rtml(*args)
    check(r.returncode == 2 and needle in r.stderr, f"{args}: exit 2 naming {needle} (got {r.returncode}: {r.stderr})")
r = rtml("--help")
check(r.returncode == 0 and "usage: rtml limits" in r.stdout, "--help")

if FAILURES:
    print(f"{len(FAILURES)} check(s) failed")
    sys.exit(1)
print("check_limits: all checks passed")
