#!/usr/bin/python3
"""rtml ui end to end: a results database of real runs, `rtml ui` on it, and
Debian's chromium driven by playwright-core (tests/ui/e2e.mjs).

  run_e2e.py RTML ZOO_DIR ARTIFACT_DIR

The database gets:
  - `rtml bench` of gru_stream_h64 and digits_cnn on native and torch (every
    timed run's latency kept),
  - `rtml profile --perf` of gru_stream_h64 on native (twice: operators that
    match node for node) and on torch, and of digits_cnn on native: a run
    each, with its operator profile and perf's folded stacks (torch only when
    this rtml has it),
  - over a thousand more real runs for the scale check: one `rtml bench` of
    the whole zoo (short), stored seven times under seven dates with
    `rtml runs --add`.
Then `rtml ui --port 0` serves it and e2e.mjs checks the pages; screenshots go
to ARTIFACT_DIR. A second `rtml ui` on an empty database checks the empty
state. Exit 77 (skipped) when chromium, node or ui/node_modules is missing, except under CI=true
(then that fails).
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

# The flame graphs are checked on the stacks `rtml profile --perf` stored.
# Only on a machine where perf is refused (perf_event_paranoid 3, some
# containers) set this to True: a profiled run with no folded stacks then
# gets the hand-written stacks of fixtures/ (same shape), with a NOTE in the
# output; everything else stays real rtml output.
ALLOW_FOLDED_FIXTURE = False

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
UI_DIR = os.path.join(SOURCE, "ui")
CHROMIUM = os.environ.get("RTML_CHROMIUM", "/usr/bin/chromium")


def skip(why):
    # In CI (CI=true) every prerequisite is installed by scripts/install-deps.sh and `make build`:
    # a missing one is a broken setup, not a reason to skip the browser test.
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        sys.exit(f"FAIL (CI): {why}")
    print(f"SKIP: {why}")
    sys.exit(77)


def run(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.stdout.write(p.stdout[-4000:])
        sys.stderr.write(p.stderr[-4000:])
    return p


def check(p, what):
    if p.returncode != 0:
        sys.exit(f"FAIL: {what} exited {p.returncode}")
    return p


def start_ui(rtml, db):
    proc = subprocess.Popen([rtml, "ui", "--db", db, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    prefix = f"rtml ui: serving {db} at "
    if not line.startswith(prefix):
        proc.kill()
        sys.exit(f"FAIL: rtml ui printed {line!r}, expected a line starting {prefix!r}; stderr: {proc.stderr.read()}")
    url = line[len(prefix):].split()[0]
    return proc, url


def stop_ui(proc):
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        sys.exit("FAIL: rtml ui did not stop within 15 s of SIGINT")
    if rc != 0:
        sys.exit(f"FAIL: rtml ui exited {rc} on SIGINT; stderr: {proc.stderr.read()}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    rtml, zoo, artifacts = (os.path.abspath(a) for a in sys.argv[1:])
    if not os.access(CHROMIUM, os.X_OK):
        skip(f"no chromium at {CHROMIUM} (install Debian's chromium: scripts/install-deps.sh does)")
    node = shutil.which("node")
    if not node:
        skip("no node (install Debian's nodejs: scripts/install-deps.sh does)")
    if not os.path.isfile(os.path.join(UI_DIR, "node_modules", "playwright-core", "package.json")):
        skip("ui/node_modules has no playwright-core: run `npm ci` in ui/ (make build does)")
    p = subprocess.run([rtml, "ui", "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: rtml ui --help exited {p.returncode}: {p.stderr}")

    os.makedirs(artifacts, exist_ok=True)
    for name in os.listdir(artifacts):  # this run's screenshots only
        if name.endswith(".png"):
            os.remove(os.path.join(artifacts, name))
    tmp = tempfile.mkdtemp(prefix="rtml_ui_e2e_")
    procs = []
    try:
        db = os.path.join(tmp, "results.db")
        models = [os.path.join(zoo, m) for m in ("gru_stream_h64", "digits_cnn")]
        for m in models:
            if not os.path.isdir(m):
                sys.exit(f"FAIL: {m} is missing: generate the zoo (the build does: target zoo_all)")
        # torch when this rtml has it (not in the sanitizer build).
        probe = run([rtml, "bench", os.path.join(zoo, "matvec_16"), "--backend", "torch", "--runs", "10",
                     "--warmup", "1", "--no-accuracy", "--no-db"])
        torch = "not installed" not in probe.stderr  # no rtml-backend-torch.so (sanitizer builds)
        if not torch:
            print("NOTE: this rtml has no torch backend: native runs only", flush=True)
        t0 = time.time()
        check(run([rtml, "bench", *models, "--backend", "native,torch" if torch else "native", "--runs", "300",
                   "--warmup", "20", "--db", db]), "rtml bench")

        # The profiles: real `rtml profile --perf` output.
        # gru_stream_h64 on native twice: two profiles whose operators match node for node.
        profiled = [("gru_stream_h64", "native"), ("gru_stream_h64", "native"), ("gru_stream_h64", "torch"),
                    ("digits_cnn", "native")]
        if not torch:
            profiled.remove(("gru_stream_h64", "torch"))
        for model, backend in profiled:
            check(run([rtml, "profile", os.path.join(zoo, model), "--backend", backend, "--runs", "200",
                       "--perf", "--db", db]), f"rtml profile {model} --backend {backend}")

        if ALLOW_FOLDED_FIXTURE:
            con = sqlite3.connect(db)
            profile_runs = con.execute("SELECT DISTINCT runs.id, runs.backend FROM runs JOIN profiles ON "
                                       "profiles.run_id = runs.id WHERE kind = 'profile'").fetchall()
            for run_id, backend in profile_runs:
                if con.execute("SELECT 1 FROM profiles WHERE run_id = ? AND kind = 'folded'", (run_id,)).fetchone():
                    continue
                model = con.execute("SELECT model FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
                fixture = "torch" if backend == "torch" else "native"
                perf = json.loads(con.execute("SELECT content FROM profiles WHERE run_id = ? AND kind = 'profile'",
                                              (run_id,)).fetchone()[0]).get("perf")
                print(f"NOTE: rtml profile --perf stored no stacks for {model} on {backend} "
                      f"(perf: {perf and perf.get('error')}); using tests/ui/fixtures/{fixture}.folded", flush=True)
                text = open(os.path.join(HERE, "fixtures", fixture + ".folded")).read()
                con.execute("INSERT INTO profiles (run_id, kind, content) VALUES (?, 'folded', ?)", (run_id, text))
            con.commit()
            con.close()

        # A compiled model on an emulated Cortex-M7 (rtml profile --target): instructions, no times.
        emulated = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))
        if emulated:
            check(run([rtml, "profile", os.path.join(zoo, "matvec_64"), "--target", "cortex-m7", "--db", db]),
                  "rtml profile --target cortex-m7")
        else:
            print("NOTE: no arm-none-eabi-gcc or qemu-system-arm: the emulated-run page is not checked", flush=True)

        # Scale: the whole zoo measured once, briefly, stored under seven dates.
        sweep = os.path.join(tmp, "sweep.json")
        check(run([rtml, "bench", zoo, "--backend", "native", "--runs", "10", "--warmup", "2", "--no-accuracy",
                   "--no-samples", "--json", sweep, "--no-db"]), "rtml bench of the zoo")
        report = json.load(open(sweep))
        for day in range(1, 8):
            report["created"] = f"2026-01-{day:02d}T12:00:00Z"
            path = os.path.join(tmp, f"sweep{day}.json")
            json.dump(report, open(path, "w"))
            check(run([rtml, "runs", "--add", path, "--db", db]), "rtml runs --add")
        print(f"database built in {time.time() - t0:.1f} s", flush=True)

        # What the page should show, read straight from the file.
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        q = lambda sql, *a: con.execute(sql, a).fetchall()
        total = q("SELECT count(*) FROM runs")[0][0]
        if total < 1000:
            sys.exit(f"FAIL: only {total} runs in the database, the scale check needs 1000+")
        digits_total = q("SELECT count(*) FROM runs WHERE instr(lower(model), 'digits') > 0")[0][0]

        def profiled_run(model, backend, nth=0):
            rows = q("SELECT runs.id, runs.run FROM runs JOIN profiles ON profiles.run_id = runs.id "
                     "WHERE runs.model = ? AND runs.backend = ? AND profiles.kind = 'folded' "
                     "ORDER BY runs.id", model, backend)
            if len(rows) <= nth:
                sys.exit(f"FAIL: rtml profile stored no folded stacks for {model} on {backend}")
            run_id, run_json = rows[nth]
            profile = json.loads(q("SELECT content FROM profiles WHERE run_id = ? AND kind = 'profile' "
                                   "ORDER BY id DESC LIMIT 1", run_id)[0][0])
            folded = q("SELECT content FROM profiles WHERE run_id = ? AND kind = 'folded' ORDER BY id DESC LIMIT 1",
                       run_id)[0][0]
            return run_id, json.loads(run_json), profile, folded

        gru_id, gru_run, gru_profile, gru_folded = profiled_run("gru_stream_h64", "native")
        gru2_id, _, gru2_profile, _ = profiled_run("gru_stream_h64", "native", 1)
        # Without torch, the cross-backend comparison pairs gru_stream_h64 with digits_cnn instead.
        gru_torch_id = profiled_run("gru_stream_h64", "torch")[0] if torch else profiled_run("digits_cnn", "native")[0]
        # The heaviest leaf frames of perf's stacks: the flame graph must show them.
        leaves = {}
        for line in gru_folded.splitlines():
            if not line.strip():
                continue
            stack, count = line.rsplit(" ", 1)
            leaf = stack.split(";")[-1]
            leaves[leaf] = leaves.get(leaf, 0) + float(count)
        top_leaves = [n for n, _ in sorted(leaves.items(), key=lambda kv: -kv[1])[:3]]
        # Ops by mean time, slowest first (the table sorted by "mean", descending).
        ops_by_mean = [o["node"] for o in sorted(gru_profile["ops"], key=lambda o: -o["mean_us"])]
        timeline = (gru_run.get("memory") or {}).get("timeline") or (gru_profile.get("memory") or {}).get("timeline")
        emulated_id, emulated_instructions = None, None
        if emulated:
            emulated_id, content = q("SELECT runs.id, profiles.content FROM runs JOIN profiles ON profiles.run_id = runs.id "
                                     "WHERE runs.backend = 'compiled' AND profiles.kind = 'profile' ORDER BY runs.id DESC LIMIT 1")[0]
            emulated_instructions = json.loads(content)["ops"][0]["counters"]["instructions"]
        unprofiled = q("SELECT runs.id FROM runs WHERE model = 'digits_cnn' AND NOT EXISTS "
                       "(SELECT 1 FROM profiles WHERE run_id = runs.id) ORDER BY id LIMIT 1")[0][0]
        con.close()

        empty_db = os.path.join(tmp, "empty.db")
        # An rtml results database with no runs: a copy of this one, emptied.
        with sqlite3.connect(db) as src, sqlite3.connect(empty_db) as dst:
            src.backup(dst)
            dst.execute("DELETE FROM profiles")
            dst.execute("DELETE FROM runs")
            dst.execute("DELETE FROM reports")
        check(run([rtml, "runs", "--db", empty_db]), "rtml runs on the emptied database")

        proc, url = start_ui(rtml, db)
        procs.append(proc)
        empty_proc, empty_url = start_ui(rtml, empty_db)
        procs.append(empty_proc)
        expect = {
            "url": url, "empty_url": empty_url, "artifacts": artifacts, "chromium": CHROMIUM,
            "total": total, "digits_total": digits_total,
            "gru_id": gru_id, "gru2_id": gru2_id, "gru_torch_id": gru_torch_id, "unprofiled_id": unprofiled,
            "gru_nodes": sorted(o["node"] for o in gru_profile["ops"]),
            "samples": len(gru_run.get("samples_us") or []),
            "histogram_bins": len(gru_run["histogram"]["counts"]),
            "has_timeline": bool(timeline and timeline.get("t_us")),
            "top_leaves": top_leaves, "ops_by_mean": ops_by_mean,
            "gru_median_us": gru_run["latency_us"]["median"],
            "emulated_id": emulated_id, "emulated_instructions": emulated_instructions,
        }
        print("expectations: " + json.dumps(expect), flush=True)
        env = dict(os.environ, RTML_UI_DIR=UI_DIR)
        p = subprocess.run([node, os.path.join(HERE, "e2e.mjs"), json.dumps(expect)], env=env, timeout=600)
        if p.returncode != 0:
            sys.exit(f"FAIL: e2e.mjs exited {p.returncode}")
        for proc in procs:
            stop_ui(proc)
        procs = []
        print(f"screenshots in {artifacts}")
    finally:
        for proc in procs:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
