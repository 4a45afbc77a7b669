#!/usr/bin/python3
"""`rtml compare` and `rtml runs` from the command line: exit codes (0 no
regression, 1 regression, 2 bad input), the messages a user reads, and the
results database round trip (runs --add, list, --show, compare of a shown run).

usage: check_compare_runs.py RTML SCHEMA.json
The hand-made reports are first checked against the report schema, so they
are what `rtml bench` is specified to write.
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

RTML, SCHEMA = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def rtml(*args):
    p = subprocess.run([RTML, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def run(model, median, p90, p99, p999, backend="native"):
    return {"model": model, "backend": backend, "status": "ok",
            "latency_us": {"min": median * 0.9, "mean": median, "median": median, "p90": p90, "p99": p99,
                           "p999": p999, "max": p999 * 1.2, "stddev": 1.0, "jitter": p99 - median},
            "memory": {"rss_baseline_bytes": 1 << 20, "rss_after_load_bytes": 2 << 20, "rss_peak_bytes": 3 << 20,
                       "rss_mean_bytes": 2 << 20, "sample_interval_us": 1000},
            "heap": {"allocations_per_run": 0, "bytes_per_run": 0}}


def report(runs, created):
    return {"schema": "rtml.bench/1", "created": created,
            "host": {"hostname": "box", "target": None, "arch": "x86_64", "os": "Linux", "cpu_model": "cpu",
                     "cores": 2, "memory_bytes": 1 << 30, "rtml_version": "0.1.0"},
            "options": {"warmup": 10, "runs": 100, "threads": 1, "tolerance": 1e-4, "memory_interval_us": 1000},
            "runs": runs}


with open(SCHEMA) as f:
    schema = json.load(f)
tmp = tempfile.mkdtemp(prefix="rtml_cli_compare_")


def write(name, obj):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


# A: two models. B: mlp's median 100 -> 120 (p90 - median = 2: a real change),
# cnn 100 -> 103 (under 5 %): one regression.
A = report([run("mlp", 100, 102, 110, 112), run("cnn", 100, 102, 110, 112)], "2024-05-01T12:00:00Z")
B = report([run("mlp", 120, 122, 130, 132), run("cnn", 103, 105, 110, 112)], "2024-05-02T12:00:00Z")
jsonschema.validate(A, schema)
jsonschema.validate(B, schema)
a, b = write("a.json", A), write("b.json", B)

# --- compare -----------------------------------------------------------------
code, out, err = rtml("compare", a, a)
check(code == 0, f"compare A A exits 0 (got {code}: {err})")
check("no regression" in out, "compare A A says no regression")

code, out, err = rtml("compare", a, b)
check(code == 1, f"compare A B exits 1 on a 20 % slower median (got {code}: {err})")
lines = {l.split()[0]: l for l in out.splitlines() if l.startswith(("mlp ", "cnn "))}
check("slower" in lines.get("mlp", "") and "+20.0%" in lines.get("mlp", ""), "mlp row: +20.0% slower\n" + out)
check("same (within noise)" in lines.get("cnn", ""), "cnn row: same (within noise)\n" + out)
check("REGRESSION" in out, "compare A B names the regression")

code, out, err = rtml("compare", a, b, "--threshold", "25")
check(code == 0, f"compare --threshold 25 exits 0 (got {code})")

code, out, err = rtml("compare", b, a)
check(code == 0, f"compare B A (faster) exits 0 (got {code})")
check("faster" in out, "compare B A says faster")

code, out, err = rtml("compare", a, b, "--json")
check(code == 1, f"compare --json exits 1 too (got {code})")
try:
    j = json.loads(out)
    mlp = next(r for r in j["rows"] if r["model"] == "mlp")
    check(j["schema"] == "rtml.compare/1" and j["regression"] is True, "--json: schema, regression")
    check(mlp["median"]["verdict"] == "slower" and abs(mlp["median"]["change_pct"] - 20) < 1e-9,
          "--json: mlp median slower by 20 %")
    check(mlp["median"]["noise_us"] == 2 and mlp["median"]["threshold_us"] == 5, "--json: noise 2, threshold 5")
except (ValueError, StopIteration, KeyError) as e:
    check(False, f"--json output is the comparison ({e}): {out[:300]}")

missing = os.path.join(tmp, "missing.json")
code, out, err = rtml("compare", a, missing)
check(code == 2 and missing in err, f"missing file: exit 2, named ({code}: {err})")
notjson = write("notjson.json", "{\"schema\": ")
code, out, err = rtml("compare", notjson, a)
check(code == 2 and notjson in err and "not JSON" in err, f"not JSON: exit 2, named ({code}: {err})")
other = write("other.json", {"schema": "something/else", "runs": []})
code, out, err = rtml("compare", a, other)
check(code == 2 and other in err and "schema" in err, f"wrong schema: exit 2, named ({code}: {err})")
bad_run = json.loads(json.dumps(A))
bad_run["runs"][1]["latency_us"]["median"] = "fast"
bad = write("badrun.json", bad_run)
code, out, err = rtml("compare", a, bad)
check(code == 2 and "runs[1]" in err and "latency_us.median" in err, f"bad run: exit 2, located ({code}: {err})")
code, out, err = rtml("compare", a)
check(code == 2, f"one file: exit 2 ({code})")
code, out, err = rtml("compare", a, b, "--threshold", "-1")
check(code == 2, f"negative threshold: exit 2 ({code})")
code, out, err = rtml("compare", "--help")
check(code == 0 and "p90 - median" in out and "Mann-Whitney" in out, "compare --help explains the noise rule")

# --- runs ----------------------------------------------------------------------
db = os.path.join(tmp, "sub", "results.db")
code, out, err = rtml("runs", "--db", db)
if "without SQLite" in err:
    print("rtml built without SQLite: skipping rtml runs")
else:
    check(code == 0 and "No results database" in out and "rtml bench" in out,
          f"runs on a missing database says how to fill it ({code}: {out}{err})")
    check(not os.path.exists(db), "runs on a missing database does not create it")

    code, out, err = rtml("runs", "--db", db, "--add", a, b)
    check(code == 0 and out.count("stored 2 runs") == 2, f"runs --add stores both reports ({code}: {out}{err})")

    code, out, err = rtml("runs", "--db", db)
    body = [l for l in out.splitlines()[1:] if l.strip()]
    check(code == 0 and len(body) == 4, f"runs lists 4 runs ({code}: {out})")
    check(body and body[0].split()[1] == "2024-05-02", "newest first:\n" + out)
    check("3.00 MiB" in out and "120.0" in out, "runs shows peak RSS and median:\n" + out)

    code, out, err = rtml("runs", "--db", db, "--model", "MLP", "--json")
    rows = json.loads(out) if code == 0 else []
    check(len(rows) == 2 and all(r["model"] == "mlp" for r in rows), f"--model MLP --json: 2 mlp rows ({out[:300]})")
    check(rows and rows[0]["median_us"] == 120 and rows[1]["median_us"] == 100, "--json: newest first, medians")

    code, out, err = rtml("runs", "--db", db, "--since", "2024-05-02", "--json")
    check(code == 0 and len(json.loads(out)) == 2, "--since 2024-05-02: the second report's 2 runs")
    code, out, err = rtml("runs", "--db", db, "--since", "May")
    check(code == 1 and "YYYY-MM-DD" in err, f"--since May: error ({code}: {err})")

    # --show: a one-run report, which compare reads.
    code, out, err = rtml("runs", "--db", db, "--show", str(rows[0]["id"]) if rows else "1")
    check(code == 0, f"--show exits 0 ({code}: {err})")
    shown = write("shown.json", out)
    try:
        jsonschema.validate(json.loads(out), schema)
    except (ValueError, jsonschema.ValidationError) as e:
        check(False, f"--show prints a valid report: {e}")
    code, out, err = rtml("compare", a, shown)
    check(code == 1 and "removed" in out, f"compare A with the shown B run: mlp slower, cnn removed ({code}: {out})")
    code, out, err = rtml("runs", "--db", db, "--show", "999")
    check(code == 1 and "no run 999" in err, f"--show 999: no such run ({code}: {err})")

    # A file that is not a database is named and left alone.
    code, out, err = rtml("runs", "--db", a)
    check(code == 1 and a in err and "not an SQLite database" in err, f"runs --db A.json ({code}: {err})")
    with open(a) as f:
        check(json.load(f) == A, "the JSON file given as --db is unchanged")
    # --add checks every file before storing any.
    code, out, err = rtml("runs", "--db", db, "--add", a, notjson)
    check(code == 1 and notjson in err, f"--add with a bad file fails naming it ({code}: {err})")
    code, out, err = rtml("runs", "--db", db, "--json", "--limit", "0")
    check(len(json.loads(out)) == 4, "--add with a bad file stored nothing")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
subprocess.run(["rm", "-rf", tmp])
