#!/usr/bin/python3
"""End-to-end tests of `rtml profile` through its command line.

usage: check_profile.py RTML ZOO_DIR PROFILE_SCHEMA_JSON

- Profiles of zoo models on native (and torch when built with LibTorch)
  validate against docs/profile-report.schema.json; percentages add up to 100;
  the per-op FLOPs add up to the model's FLOPs from `rtml info --json`.
- Counters the machine cannot measure are null, never 0 (a machine without a
  PMU in /sys/bus/event_source/devices has no hardware counters).
- The Chrome trace has the Trace Event Format's shape (complete events with
  name/ph/ts/dur/pid/tid, op events inside their run event, an RSS counter
  track with values > 0); the speedscope file matches a JSON Schema subset
  written here from speedscope's file format spec (src/lib/file-format-spec.ts:
  File, Frame, EventedProfile, SampledProfile), with balanced, time-ordered
  events; folded stacks parse as `stack count`.
- --perf: with perf installed, call stacks are sampled (top frames, folded
  file, a sampled speedscope profile); with perf missing from PATH, the
  profile is still produced with perf.ok false and the reason.
- The results database holds the benchmark run and its profiles.
- Bad options exit 2, a bad model path exits 1, naming it.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import jsonschema

RTML, ZOO, SCHEMA = sys.argv[1:4]
FAILURES = []
QUICK = ["--runs", "40", "--warmup", "5", "--trace-runs", "5"]
HW = ["cycles", "instructions", "cache_misses", "branch_misses"]


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def rtml(*args, env=None):
    return subprocess.run([RTML, *args], capture_output=True, text=True, env=env)


# speedscope's file format (https://www.speedscope.app/file-format-schema.json),
# the parts rtml writes, from the TypeScript spec: File {$schema, shared:
# {frames}, profiles, name?, activeProfileIndex?}; Frame {name, file?, line?,
# col?}; EventedProfile {type, name, unit, startValue, endValue, events: [{type
# O|C, at, frame}]}; SampledProfile {type, name, unit, startValue, endValue,
# samples: number[][], weights: number[]}.
UNITS = ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"]
SPEEDSCOPE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["$schema", "shared", "profiles"],
    "properties": {
        "$schema": {"const": "https://www.speedscope.app/file-format-schema.json"},
        "shared": {
            "type": "object",
            "required": ["frames"],
            "properties": {
                "frames": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "file": {"type": "string"},
                                       "line": {"type": "number"}, "col": {"type": "number"}},
                    },
                }
            },
        },
        "profiles": {"type": "array", "items": {"oneOf": [{"$ref": "#/$defs/evented"}, {"$ref": "#/$defs/sampled"}]}},
        "name": {"type": "string"},
        "activeProfileIndex": {"type": "number"},
        "exporter": {"type": "string"},
    },
    "$defs": {
        "evented": {
            "type": "object",
            "required": ["type", "name", "unit", "startValue", "endValue", "events"],
            "properties": {
                "type": {"const": "evented"},
                "name": {"type": "string"},
                "unit": {"enum": UNITS},
                "startValue": {"type": "number"},
                "endValue": {"type": "number"},
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "at", "frame"],
                        "properties": {"type": {"enum": ["O", "C"]}, "at": {"type": "number"},
                                       "frame": {"type": "integer", "minimum": 0}},
                    },
                },
            },
        },
        "sampled": {
            "type": "object",
            "required": ["type", "name", "unit", "startValue", "endValue", "samples", "weights"],
            "properties": {
                "type": {"const": "sampled"},
                "name": {"type": "string"},
                "unit": {"enum": UNITS},
                "startValue": {"type": "number"},
                "endValue": {"type": "number"},
                "samples": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
                "weights": {"type": "array", "items": {"type": "number", "minimum": 0}},
            },
        },
    },
}


def validate(doc, schema, what):
    try:
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
        return True
    except jsonschema.ValidationError as e:
        return check(False, f"{what} does not match its schema: {e.message} at {list(e.absolute_path)}")


def no_pmu():
    """True when the kernel shows no CPU performance-monitoring unit (no hardware counters)."""
    d = "/sys/bus/event_source/devices"
    return os.path.isdir(d) and not any(n == "cpu" or n.startswith("cpu_") or n.startswith("armv") for n in os.listdir(d))


def check_profile(p, model, backend, info_flops):
    tag = f"{model} on {backend}"
    check(p["model"] == model and p["backend"] == backend, f"{tag}: model/backend fields {p['model']} {p['backend']}")
    ops = p["ops"]
    check(len(ops) > 0, f"{tag}: no ops")
    for key in ("percent",):
        total = sum(o[key] for o in ops)
        check(abs(total - 100) <= 0.5, f"{tag}: op percentages add up to {total}")
    check(abs(sum(t["percent"] for t in p["by_type"]) - 100) <= 0.5, f"{tag}: by-type percentages")
    cum = [o["cumulative_percent"] for o in sorted(ops, key=lambda o: -o["total_us"])]
    check(all(a <= b + 1e-9 for a, b in zip(cum, cum[1:])) and abs(cum[-1] - 100) <= 0.5,
          f"{tag}: cumulative percent rises to 100: {cum[:3]}...{cum[-1]}")
    check(abs(sum(t["total_us"] for t in p["by_type"]) - sum(o["total_us"] for o in ops)) < 1e-6 * max(1, sum(o["total_us"] for o in ops)),
          f"{tag}: by-type rows hold every op's time")
    for o in ops:
        check(o["median_us"] is None or o["median_us"] >= 0, f"{tag}: {o['node']} median")
    if backend == "native":
        flops = sum(o["flops"] for o in ops)
        check(abs(flops - info_flops) <= 1e-6 * max(1, info_flops),
              f"{tag}: per-op FLOPs add up to {flops}, rtml info says {info_flops}")
        check([o["index"] for o in ops] == list(range(len(ops))), f"{tag}: ops not in execution order")
        check(all(o["calls"] == p["runs"] for o in ops), f"{tag}: every step runs once per run")
        check(all(o["output_bytes"] is not None and o["output_bytes"] > 0 for o in ops), f"{tag}: output bytes")
        for o in ops:
            if o["gflops"] is not None:
                check(abs(o["gflops"] - o["flops"] / o["mean_us"] / 1e3) <= 1e-6 * o["gflops"] + 1e-12,
                      f"{tag}: {o['node']} GFLOP/s {o['gflops']} != flops / mean")
        check(p["ops_us"] is not None and abs(p["ops_us"] - sum(o["mean_us"] for o in ops)) < 1e-6 * p["ops_us"],
              f"{tag}: ops_us is the sum of per-step means")
        check(p["counters"]["per_op"] is True, f"{tag}: native has per-op counters")
        e = p["engine_overhead"]
        if check(isinstance(e, dict), f"{tag}: native has an engine_overhead object"):
            steps = sum(max(0.0, o["median_us"] - e["clock_window_us"]) for o in ops)
            check(abs(e["kernels_us"] - steps) <= 1e-6 * max(1.0, steps),
                  f"{tag}: engine_overhead.kernels_us {e['kernels_us']} != sum of (step median - clock window) {steps}")
            check(abs(e["overhead_us"] - (e["plain_median_us"] - e["kernels_us"])) <= 1e-9 * max(1.0, e["plain_median_us"]),
                  f"{tag}: engine overhead is not plain median - kernels")
            check(0 <= e["clock_window_us"] < 50, f"{tag}: an empty clock window of {e['clock_window_us']} µs")
        n_steps = len(ops)
        check(len(p["trace"]["events"]) == n_steps * p["trace"]["runs"], f"{tag}: one trace event per step per run")
    else:
        check(all(o["flops"] is None and o["kernel"] is None for o in ops), f"{tag}: torch rows have no flops/kernel")
        check(all(all(v is None for v in o["counters"].values()) for o in ops), f"{tag}: torch op counters not null")
        check(len(p["trace"]["events"]) > 0, f"{tag}: LibTorch's profiler gave no op events")
        check(p["engine_overhead"] is None, f"{tag}: torch has no engine_overhead (the engine is ours)")
    check(p["total_us"]["median"] > 0 and p["threads_wall_us"] > 0, f"{tag}: times")
    check(any(t["cpu_us"] > 0 for t in p["threads"]), f"{tag}: no thread used CPU time")
    level = p["counters"]["level"]
    if no_pmu():
        check(level in ("task-clock", "clock"), f"{tag}: no PMU here, but counters level {level}")
        for c in HW:
            check(p["counters"]["per_run"][c] is None, f"{tag}: per-run {c} should be null (not measured), got "
                                                       f"{p['counters']['per_run'][c]!r}")
            check(p["counters"]["ipc"] is None, f"{tag}: IPC without cycles")
            for o in ops:
                if not check(o["counters"][c] is None, f"{tag}: {o['node']} {c} should be null, got {o['counters'][c]!r}"):
                    break
        check(bool(p["counters"]["notes"]), f"{tag}: the refused levels are not explained")
    if level in ("task-clock", "group", "single"):
        check(p["counters"]["per_run"]["task_clock_ns"] > 0, f"{tag}: task-clock per run")


def check_trace(t, p, tag):
    events = t.get("traceEvents")
    if not check(isinstance(events, list), f"{tag}: traceEvents is not a list"):
        return
    xs = [e for e in events if e.get("ph") == "X"]
    for e in xs:
        missing = [k for k in ("name", "ph", "ts", "dur", "pid", "tid") if k not in e]
        if not check(not missing and isinstance(e["ts"], (int, float)) and e["dur"] >= 0,
                     f"{tag}: X event missing {missing}: {e}"):
            return
    runs = [e for e in xs if e.get("cat") == "run"]
    opsx = [e for e in xs if e.get("cat") != "run"]
    check(len(runs) == p["trace"]["runs"] and len(opsx) == len(p["trace"]["events"]),
          f"{tag}: {len(runs)} run events and {len(opsx)} op events in the trace")
    by_run = {e["args"]["run"]: e for e in runs}
    for e in opsx:
        r = by_run.get(e["args"]["run"])
        if not check(r is not None and r["pid"] == e["pid"] and r["tid"] == e["tid"]
                     and r["ts"] - 1e-6 <= e["ts"] and e["ts"] + e["dur"] <= r["ts"] + r["dur"] + 1e-6,
                     f"{tag}: op event {e['name']} at {e['ts']}+{e['dur']} is not inside its run {r}"):
            break
    meta = {e["name"] for e in events if e.get("ph") == "M"}
    check({"process_name", "thread_name"} <= meta, f"{tag}: metadata events {meta}")
    counters = [e for e in events if e.get("ph") == "C"]
    check(len(counters) >= 2 and all(e["args"]["rss_bytes"] > 0 for e in counters)
          and all("ts" in e and "pid" in e for e in counters), f"{tag}: RSS counter track {counters[:2]}")


def check_speedscope(s, tag, sampled):
    if not validate(s, SPEEDSCOPE, f"{tag} speedscope file"):
        return
    frames = s["shared"]["frames"]
    kinds = [pr["type"] for pr in s["profiles"]]
    check(kinds == (["evented", "sampled"] if sampled else ["evented"]), f"{tag}: speedscope profiles {kinds}")
    ev = s["profiles"][0]
    stack, last = [], ev["startValue"]
    for e in ev["events"]:
        if not check(e["frame"] < len(frames), f"{tag}: frame index {e['frame']} out of range"):
            return
        if not check(e["at"] >= last, f"{tag}: evented 'at' goes back: {e['at']} < {last}"):
            return
        last = e["at"]
        if e["type"] == "O":
            stack.append(e["frame"])
        elif not check(stack and stack.pop() == e["frame"], f"{tag}: unbalanced close of frame {e['frame']}"):
            return
    check(not stack and last <= ev["endValue"], f"{tag}: evented events leave {stack} open or pass endValue")
    if sampled:
        sp = s["profiles"][1]
        check(len(sp["samples"]) == len(sp["weights"]) > 0, f"{tag}: samples and weights differ in length")
        check(all(0 <= i < len(frames) for st in sp["samples"] for i in st), f"{tag}: sample frame out of range")
        check(abs(sum(sp["weights"]) - sp["endValue"]) < 1e-9, f"{tag}: sampled endValue is not the total weight")


def check_db(db, run_id, model, backend, kinds, p):
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT model, backend, status FROM runs WHERE id = ?", (run_id,)).fetchone()
        check(row == (model, backend, "ok"), f"database run {run_id}: {row}")
        stored = dict(con.execute("SELECT kind, content FROM profiles WHERE run_id = ?", (run_id,)).fetchall())
        check(set(stored) == set(kinds), f"database profiles of run {run_id}: {sorted(stored)}, want {sorted(kinds)}")
        if "profile" in stored:
            sp = json.loads(stored["profile"])
            check(sp["run_id"] == run_id and sp["ops"] == p["ops"], "the stored profile is not the one written")
        for kind in ("chrome-trace", "speedscope"):
            if kind in stored:
                json.loads(stored[kind])
    finally:
        con.close()


def main():
    tmp = tempfile.mkdtemp()
    try:
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        have = ["native"]
        probe = rtml("profile", os.path.join(ZOO, "matvec_16"), "--backend", "torch", "--no-db", "--runs", "2")
        if "not installed" not in probe.stderr:  # no rtml-backend-torch.so in sanitizer builds
            have.append("torch")
        print("backends:", have)
        db = os.path.join(tmp, "results.db")
        perf_on_path = shutil.which("perf") is not None

        cases = [(m, "native", False) for m in ("gru_stream_h64", "transformer_d64_h4_s16")]
        cases.append(("digits_cnn", "native", True))
        if "torch" in have:
            cases.append(("gru_stream_h64", "torch", False))
        for model, backend, perf in cases:
            tag = f"{model} on {backend}{' --perf' if perf else ''}"
            base = os.path.join(tmp, f"{model}-{backend}")
            args = ["profile", os.path.join(ZOO, model), "--backend", backend, "--db", db, *QUICK,
                    "--json", base + ".json", "--chrome-trace", base + ".trace.json",
                    "--speedscope", base + ".speedscope.json"]
            if perf:
                args += ["--perf", "--perf-seconds", "1", "--folded", base + ".folded"]
            r = rtml(*args)
            if not check(r.returncode == 0, f"{tag}: exit {r.returncode}\n{r.stderr[-2000:]}"):
                continue
            check("%" in r.stdout and "By op type" in r.stdout and "Counters: level" in r.stdout,
                  f"{tag}: tables missing from the output:\n{r.stdout[:500]}")
            if no_pmu():
                check("n/a" in r.stdout, f"{tag}: unmeasured counters should print n/a")
            with open(base + ".json") as f:
                p = json.load(f)
            if not validate(p, schema, f"{tag} profile"):
                continue
            info = json.loads(rtml("info", os.path.join(ZOO, model, "model.onnx"), "--json").stdout)
            check_profile(p, model, backend, info["flops"])
            with open(base + ".trace.json") as f:
                check_trace(json.load(f), p, tag)
            sampled = bool(perf and p["perf"]["ok"])
            with open(base + ".speedscope.json") as f:
                check_speedscope(json.load(f), tag, sampled)
            kinds = {"profile", "chrome-trace", "speedscope"}
            if perf:
                pf = p["perf"]
                if perf_on_path:
                    check(pf["ok"], f"{tag}: perf is installed but sampling failed: {pf['error']}")
                if pf["ok"]:
                    kinds.add("folded")
                    check(pf["samples"] > 0 and pf["top"] and pf["event"] in ("cycles", "cpu-clock"),
                          f"{tag}: perf summary {pf}")
                    total = 0
                    with open(base + ".folded") as f:
                        for line in f:
                            m = re.fullmatch(r"(\S.*) (\d+)\n", line)
                            if not check(m, f"{tag}: folded line does not parse as 'stack count': {line!r}"):
                                break
                            total += int(m.group(2))
                    check(0 < total <= pf["samples"], f"{tag}: folded counts {total} vs {pf['samples']} samples")
                    check(any(t["self"] > 0 for t in pf["top"]), f"{tag}: top frames have no self samples")
                else:
                    check(isinstance(pf["error"], str) and pf["error"], f"{tag}: perf failed without a reason")
            if check(isinstance(p["run_id"], int), f"{tag}: run_id {p['run_id']!r}"):
                check_db(db, p["run_id"], model, backend, kinds, p)

        # perf missing: the profile is still produced, perf.ok false with the reason.
        out = os.path.join(tmp, "noperf.json")
        env = dict(os.environ, PATH="/nonexistent")
        r = rtml("profile", os.path.join(ZOO, "matvec_16"), "--no-db", "--perf", "--perf-seconds", "0.2", *QUICK,
                 "--json", out, env=env)
        if check(r.returncode == 0, f"--perf without perf should still profile: exit {r.returncode}\n{r.stderr}"):
            with open(out) as f:
                p = json.load(f)
            validate(p, schema, "profile without perf")
            check(p["perf"]["ok"] is False and "perf" in (p["perf"]["error"] or ""),
                  f"perf missing: {p['perf']}")
            check(p["run_id"] is None, "--no-db should leave run_id null")

        # Errors: bad options exit 2, a bad model exits 1 naming it.
        for args, want in [(["--runs", "0"], "--runs"), (["--counters", "fast"], "fast"),
                           (["--frobnicate"], "--frobnicate"), (["--folded", "x.txt"], "--perf"),
                           (["--backend", "tensorflow"], "native")]:
            r = rtml("profile", os.path.join(ZOO, "matvec_16"), "--no-db", *args)
            check(r.returncode == 2 and want in r.stderr, f"{args}: exit {r.returncode}, {r.stderr.strip()}")
        r = rtml("profile", ZOO, "--no-db")
        check(r.returncode == 2 and "one" in r.stderr, f"a whole zoo: exit {r.returncode}, {r.stderr.strip()}")
        r = rtml("profile", os.path.join(tmp, "nope.onnx"), "--no-db")
        check(r.returncode == 1 and "nope.onnx" in r.stderr, f"missing model: exit {r.returncode}, {r.stderr.strip()}")
        r = rtml("profile")
        check(r.returncode == 2, "no model given should exit 2")
    finally:
        shutil.rmtree(tmp)
    if FAILURES:
        sys.exit(f"{len(FAILURES)} check(s) failed")
    print("profile: all checks passed")


if __name__ == "__main__":
    main()
