#!/usr/bin/python3
"""rtml remote against a real rtml agent, end to end, through real processes.

    check_remote.py RTML ZOO_DIR                  the x86-64 agent on loopback (ctest remote_e2e)
    check_remote.py RTML ZOO_DIR --armhf RTML_ARM the armhf agent under qemu-arm-static, driven by
                                                  the x86-64 client (make test-remote-armhf)

Exit 0: passed; 77: skipped (said why); 1: failed.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
SCHEMA = os.path.join(SOURCE, "docs", "bench-report.schema.json")
SKIP = 77

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_command(rtml, prefix, command):
    r = subprocess.run(prefix + [rtml, command, "--help"], capture_output=True, text=True, timeout=120)
    return r.returncode == 0


class Agent:
    def __init__(self, prefix, rtml, tmp, token, extra=()):
        self.port = free_port()
        self.workdir = os.path.join(tmp, "agent-work")
        self.log_path = os.path.join(tmp, "agent.log")
        self.log = open(self.log_path, "w")
        cmd = prefix + [rtml, "agent", "--listen", f"127.0.0.1:{self.port}", "--token-file", token,
                        "--workdir", self.workdir, *extra]
        print("agent:", " ".join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.token = open(token).read().strip()
        self.info = None

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/v1/info", headers={"Authorization": f"Bearer {self.token}"})
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200:
                    self.info = json.loads(body)
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def blob_count(self):
        d = os.path.join(self.workdir, "blobs")
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def count_puts(log):
    return len(re.findall(r"\bPUT\b", log))


def uploaded_of(stderr):
    """'rtml remote: N of M blobs uploaded ...' -> (N, M)."""
    m = re.search(r"rtml remote: (\d+) of (\d+) blobs uploaded", stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def test_sets(zoo, model):
    return len([d for d in os.listdir(os.path.join(zoo, model)) if d.startswith("test_data_set_")])


def check_report(report, model, agent_name, zoo, runs=None, min_top1=None, label=""):
    """A report from the agent: valid schema, one run of `model`, accuracy over all its test sets passed."""
    try:
        import jsonschema
        jsonschema.validate(report, json.load(open(SCHEMA)))
        check(True, f"{label}report matches docs/bench-report.schema.json")
    except ImportError:
        check(report.get("schema") == "rtml.bench/1", f"{label}report schema tag")
    except Exception as e:  # jsonschema.ValidationError
        check(False, f"{label}report matches the schema: {str(e)[:300]}")
    check(report["host"].get("target") == agent_name,
          f"{label}host.target is the agent's name ({report['host'].get('target')!r} == {agent_name!r})")
    check(len(report["runs"]) == 1, f"{label}one run ({len(report['runs'])})")
    run = report["runs"][0]
    check(run["model"] == model and run["backend"] == "native" and run["status"] == "ok",
          f"{label}run is {model} on native, ok ({run['model']}, {run['backend']}, {run['status']}, "
          f"{run.get('error')})")
    acc = run.get("accuracy") or {}
    check(acc.get("passed") is True, f"{label}accuracy passed on the board")
    # The agent ran the data we sent: every test set, not some other model's.
    n = test_sets(zoo, model)
    check(acc.get("sets") == n, f"{label}accuracy over all {n} test sets of {model} ({acc.get('sets')})")
    if min_top1 is not None:
        check(acc.get("top1") is not None and acc["top1"] >= min_top1,
              f"{label}top-1 {acc.get('top1')} >= {min_top1}")
    if runs is not None:
        check(run.get("timed_runs") == runs, f"{label}{runs} timed runs ({run.get('timed_runs')})")


def run(cmd, timeout=600, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return r


def load_python_client():
    spec = importlib.util.spec_from_file_location("rtml_remote", os.path.join(SOURCE, "tools", "rtml_remote.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_agent_checks(rtml, zoo, env):
    """Answers a real agent never gives, from a stand-in server: a job that failed, a report that is
    not rtml.bench/1, another protocol version. The client must say so and exit 1."""
    import http.server
    import threading
    behaviour = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, obj=None):
            body = json.dumps(obj).encode() if obj is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            if self.path == "/v1/info":
                self.reply(200, {"protocol": behaviour.get("protocol", 1), "name": "fake", "rtml_version": "0",
                                 "host": {"hostname": "fake", "arch": "armv7l"}, "backends": ["native"],
                                 "limits": {"max_body_bytes": 1 << 28, "max_model_bytes": 1 << 27,
                                            "job_timeout_s": 5, "max_queue": 8}})
            elif self.path == "/v1/jobs/j1":
                self.reply(200, behaviour["job"])
            else:
                self.reply(404, {"error": {"code": "not_found", "message": "no"}})

        def do_HEAD(self):
            self.reply(200)  # every blob is "already there"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.reply(202, {"job": "j1", "state": "queued", "position": 0})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    where = f"127.0.0.1:{server.server_address[1]}"
    model = os.path.join(zoo, "gru_stream_h64")
    try:
        behaviour["job"] = {"job": "j1", "state": "failed", "error": "the bench child crashed (SIGSEGV)"}
        r = run([rtml, "remote", where, "bench", model, "--no-db"], env=env)
        check(r.returncode == 1 and "failed on the agent 'fake'" in r.stderr and "SIGSEGV" in r.stderr
              and "remote job failed" in r.stdout, f"a failed job: exit 1, an error row with the agent's message "
              f"({r.stderr.strip()[-200:]})")
        behaviour["job"] = {"job": "j1", "state": "done", "report": {"schema": "rtml.bench/2", "runs": []}}
        r = run([rtml, "remote", where, "bench", model, "--no-db"], env=env)
        check(r.returncode == 1 and "not an rtml.bench/1 report" in r.stderr,
              f"a report of another schema: exit 1, said so ({r.stderr.strip()[-200:]})")
        behaviour["job"] = {"job": "j1", "state": "done", "report": {"schema": "rtml.bench/1", "created": "x",
                                                                      "host": {}, "options": {}, "runs": [{}]}}
        r = run([rtml, "remote", where, "bench", model, "--no-db"], env=env)
        check(r.returncode == 1 and "not an rtml.bench/1 report" in r.stderr,
              f"a run without model/backend/status: exit 1, said so ({r.stderr.strip()[-200:]})")
        behaviour["protocol"] = 2
        r = run([rtml, "remote", where, "info"], env=env)
        check(r.returncode == 1 and "protocol 2" in r.stderr, f"another protocol version: exit 1, said so "
                                                              f"({r.stderr.strip()[-200:]})")
    finally:
        server.shutdown()


def tflite_checks(remote, tmp, agent_backends, env):
    """A .tflite model pushed to the agent runs there as a .tflite file: on native, and on armnn (which
    takes .tflite files only) where the agent has it."""
    sys.path.insert(0, os.path.join(SOURCE, "tests", "tflite"))
    import numpy as np
    from tflite_writer import float_fully_connected
    path = os.path.join(tmp, "fc_relu.tflite")
    with open(path, "wb") as f:
        f.write(float_fully_connected(np.linspace(-1, 1, 8 * 16).reshape(8, 16), np.linspace(-0.5, 0.5, 8)))
    backends = ["native"] + (["armnn"] if "armnn" in agent_backends else [])
    out = os.path.join(tmp, "tflite.json")
    r = run(remote + ["bench", path, "--backend", ",".join(backends), "--runs", "20", "--json", out, "--no-db"],
            env=env)
    rows = {x["backend"]: x for x in json.load(open(out))["runs"]} if os.path.exists(out) else {}
    check(r.returncode == 0 and all(rows.get(be, {}).get("status") == "ok" and rows[be].get("model") == "fc_relu"
                                    for be in backends),
          f"rtml remote bench of a .tflite file: an ok row on {backends} ({r.returncode}: "
          f"{ {be: x.get('status') for be, x in rows.items()} } {r.stderr.strip()[-300:]})")


def main_x86(rtml, zoo):
    if not has_command(rtml, [], "agent") or not has_command(rtml, [], "remote"):
        print(f"SKIP: {rtml} was built without the remote agent/client (cpp-httplib: libcpp-httplib-dev)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="rtml-remote-")
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("s3cret-token-for-the-test\n")
    os.chmod(token, 0o600)
    wrong = os.path.join(tmp, "wrong-token")
    with open(wrong, "w") as f:
        f.write("not-the-token\n")
    os.chmod(wrong, 0o600)
    db = os.path.join(tmp, "results.db")
    env = dict(os.environ)
    env.pop("RTML_TOKEN_FILE", None)
    env["RTML_DB"] = os.path.join(tmp, "default.db")  # nothing goes to the user's database

    fake_agent_checks(rtml, zoo, env)

    agent = Agent([], rtml, tmp, token)
    try:
        if not check(agent.wait_ready(30), "agent answers GET /v1/info"):
            print(agent.log_text())
            return 1
        name = agent.info["name"]
        where = f"127.0.0.1:{agent.port}"
        remote = [rtml, "remote", where, "--token-file", token]

        # --- usage errors: exit 2 -------------------------------------------------------------
        r = run([rtml, "remote"], env=env)
        check(r.returncode == 2, f"rtml remote without arguments exits 2 ({r.returncode})")
        r = run([rtml, "remote", "no-port-here", "bench", os.path.join(zoo, "digits_mlp")], env=env)
        check(r.returncode == 2 and "HOST:PORT" in r.stderr, f"HOST without port: exit 2 naming HOST:PORT ({r.returncode})")
        r = run(remote + ["bench", os.path.join(zoo, "digits_mlp"), "--runs", "5", "--seconds", "1"], env=env)
        check(r.returncode == 2 and "--runs and --seconds" in r.stderr, f"--runs with --seconds: exit 2 ({r.returncode})")
        r = run(remote + ["frobnicate"], env=env)
        check(r.returncode == 2 and "bench or info" in r.stderr, f"unknown remote command: exit 2 ({r.returncode})")

        # --- nobody listening: a clear message ------------------------------------------------
        dead = free_port()
        r = run([rtml, "remote", f"127.0.0.1:{dead}", "--token-file", token, "bench",
                 os.path.join(zoo, "digits_mlp"), "--no-db"], env=env)
        check(r.returncode == 1 and "cannot connect" in r.stderr and f"127.0.0.1:{dead}" in r.stderr,
              f"no agent on the port: exit 1, 'cannot connect' naming host:port ({r.stderr.strip()[:200]})")

        # --- info ------------------------------------------------------------------------------
        r = run(remote + ["info"], env=env)
        check(r.returncode == 0 and name in r.stdout and "native" in r.stdout,
              f"rtml remote info names the agent and its backends ({r.returncode})")
        r = run(remote + ["info", "--json"], env=env)
        check(r.returncode == 0 and json.loads(r.stdout).get("protocol") == 1, "rtml remote info --json is /v1/info")

        # --- refused without a token and with a wrong one ---------------------------------------
        blobs0 = agent.blob_count()
        r = run([rtml, "remote", where, "bench", os.path.join(zoo, "digits_mlp"), "--runs", "5", "--db", db], env=env)
        check(r.returncode == 1 and "401" in r.stderr and "token" in r.stderr,
              f"no token: exit 1, says 401 and token ({r.stderr.strip()[:200]})")
        r = run([rtml, "remote", where, "--token-file", wrong, "bench", os.path.join(zoo, "digits_mlp"),
                 "--runs", "5", "--db", db], env=env)
        check(r.returncode == 1 and "refused the token" in r.stderr,
              f"wrong token: exit 1, 'refused the token' ({r.stderr.strip()[:200]})")
        env_tok = dict(env, RTML_TOKEN_FILE=wrong)
        r = run([rtml, "remote", where, "info"], env=env_tok)
        check(r.returncode == 1 and "refused the token" in r.stderr, "$RTML_TOKEN_FILE is used (wrong token refused)")
        check(agent.blob_count() == blobs0, "nothing stored for refused clients")

        # --- the bench ----------------------------------------------------------------------------
        out1 = os.path.join(tmp, "out.json")
        t0 = time.monotonic()
        r = run(remote + ["bench", os.path.join(zoo, "digits_mlp"), "--runs", "50", "--json", out1, "--db", db],
                env=env)
        print(f"      (first bench took {time.monotonic() - t0:.1f} s)")
        if not check(r.returncode == 0, f"rtml remote bench digits_mlp exits 0 ({r.returncode})"):
            print(r.stdout, r.stderr[-3000:], agent.log_text()[-3000:], sep="\n")
            return 1
        report = json.load(open(out1))
        check_report(report, "digits_mlp", name, zoo, runs=50, min_top1=0.9)
        check(report["host"].get("hostname") == agent.info["host"].get("hostname"),
              "host is the board's (the agent's host section)")
        check("digits_mlp" in r.stdout and "native" in r.stdout, "the table names the model and backend")
        up = uploaded_of(r.stderr)
        n_files = 2 + 3 * test_sets(zoo, "digits_mlp")  # model.onnx, model.pt, input/output/label per set
        check(up is not None and 0 < up[0] <= up[1] <= n_files, f"first run uploads blobs ({up}, {n_files} files)")
        blobs1 = agent.blob_count()
        check(up is not None and blobs1 == up[0], f"the agent holds what was uploaded ({blobs1} blobs)")
        puts1 = count_puts(agent.log_text())
        check(puts1 == (up[0] if up else -1), f"agent log: one PUT per uploaded blob ({puts1})")

        # --- the same again: nothing is sent ---------------------------------------------------------
        out2 = os.path.join(tmp, "out2.json")
        r = run(remote + ["bench", os.path.join(zoo, "digits_mlp"), "--runs", "50", "--json", out2, "--db", db],
                env=env)
        check(r.returncode == 0, f"second identical run exits 0 ({r.returncode})")
        up2 = uploaded_of(r.stderr)
        check(up2 is not None and up2[0] == 0, f"second run uploads nothing ({up2})")
        check(count_puts(agent.log_text()) == puts1, "agent log: no PUT in the second run")
        check(agent.blob_count() == blobs1, "blob count unchanged")
        check_report(json.load(open(out2)), "digits_mlp", name, zoo, runs=50, label="second run: ")

        # --- the Python client ------------------------------------------------------------------------
        mod = load_python_client()
        client = mod.RemoteClient("127.0.0.1", agent.port, mod.read_token_file(token))
        seen = []
        rep = client.bench(os.path.join(zoo, "digits_mlp"), runs=50, progress=seen.append)
        check_report(rep, "digits_mlp", name, zoo, runs=50, min_top1=0.9, label="python: ")
        check(client.stats["blobs_uploaded"] == 0, f"python: nothing uploaded again ({client.stats})")
        check(len(seen) >= 1, f"python: progress reported ({seen[:4]})")
        try:
            mod.RemoteClient("127.0.0.1", agent.port, "not-the-token").info()
            check(False, "python: a wrong token is refused")
        except mod.AuthError as e:
            check("refused the token" in str(e), "python: a wrong token raises AuthError")
        try:
            mod.RemoteClient("127.0.0.1", agent.port, None).info()
            check(False, "python: no token is refused")
        except mod.AuthError as e:
            check("wants a token" in str(e), "python: no token raises AuthError")
        out3 = os.path.join(tmp, "py.json")
        r = run(["/usr/bin/python3", os.path.join(SOURCE, "tools", "rtml_remote.py"), where, "--token-file", token,
                 "bench", os.path.join(zoo, "digits_mlp"), "--runs", "20", "--json", out3], env=env)
        check(r.returncode == 0, f"tools/rtml_remote.py bench exits 0 ({r.returncode}: {r.stderr.strip()[-300:]})")
        if os.path.exists(out3):
            check_report(json.load(open(out3)), "digits_mlp", name, zoo, runs=20, label="rtml_remote.py: ")
        r = run(["/usr/bin/python3", os.path.join(SOURCE, "tools", "rtml_remote.py"), where, "--token-file", wrong,
                 "info"], env=env)
        check(r.returncode == 1 and "refused the token" in r.stderr, "tools/rtml_remote.py: wrong token, exit 1")

        # --- two clients at once, different models ----------------------------------------------------
        outs = {m: os.path.join(tmp, f"{m}.json") for m in ("digits_cnn", "gesture_cnn")}
        procs = {m: subprocess.Popen(remote + ["bench", os.path.join(zoo, m), "--runs", "30", "--json", outs[m],
                                               "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env) for m in outs}
        for m, p in procs.items():
            so, se = p.communicate(timeout=900)
            if not check(p.returncode == 0, f"concurrent client for {m} exits 0 ({p.returncode})"):
                print(se[-2000:])
                continue
            check_report(json.load(open(outs[m])), m, name, zoo, runs=30, min_top1=0.8, label=f"concurrent {m}: ")

        # --- the runs in the local database -----------------------------------------------------------
        r = run([rtml, "runs", "--db", db, "--limit", "0"], env=env)
        check(r.returncode == 0 and "target" in r.stdout and name in r.stdout,
              f"rtml runs lists the runs with the target ({r.returncode})")
        r = run([rtml, "runs", "--db", db, "--target", name, "--limit", "0", "--json"], env=env)
        rows = json.loads(r.stdout) if r.returncode == 0 else []
        models = sorted(x["model"] for x in rows)
        check(models == ["digits_cnn", "digits_mlp", "digits_mlp", "gesture_cnn"],
              f"database: 4 runs on target {name} ({models})")
        with sqlite3.connect(db) as con:
            hosts = [json.loads(h) for (h,) in con.execute("SELECT host FROM reports")]
        check(len(hosts) == 4 and all(h.get("target") == name and h.get("arch") == agent.info["host"].get("arch")
                                      for h in hosts), "database: reports keep the board's host description")
        tflite_checks(remote, tmp, agent.info.get("backends", []), env)
        check(agent.proc.poll() is None, "the agent is still running")
    finally:
        agent.stop()

    # --- a tight agent: its limits and its job time limit, as the client reports them ------------
    tight_tmp = os.path.join(tmp, "tight")
    os.makedirs(tight_tmp)
    tight = Agent([], rtml, tight_tmp, token, extra=["--max-body-mb", "1", "--max-model-mb", "1",
                                                    "--job-timeout-s", "2", "--name", "tight"])
    try:
        if check(tight.wait_ready(30), "tight agent answers GET /v1/info"):
            where = f"127.0.0.1:{tight.port}"
            # tcn_c128_l64_g1: model.onnx and model.pt of 0.76 MiB each, under max_body_bytes but together
            # over max_model_bytes: refused before anything is sent.
            r = run([rtml, "remote", where, "--token-file", token, "bench", os.path.join(zoo, "tcn_c128_l64_g1"),
                     "--no-db"], env=env)
            check(r.returncode == 1 and "max_model_bytes 1.0 MiB" in r.stderr and tight.blob_count() == 0,
                  f"over the agent's model limit: exit 1 naming the limit, nothing sent ({r.stderr.strip()[-250:]})")
            # A blob over max_body_bytes, sent anyway: the agent's 413 comes back with the limits.
            big = os.path.join(tight_tmp, "big.bin")
            with open(big, "wb") as f:
                f.write(os.urandom(3 << 20))
            mod = load_python_client()
            c = mod.RemoteClient("127.0.0.1", tight.port, mod.read_token_file(token))
            c.info()
            try:
                c.upload(big)
                check(False, "python: a blob over max_body_bytes is refused")
            except mod.RemoteError as e:
                check("413" in str(e) and "max_body_bytes 1.0 MiB" in str(e),
                      f"python: 413 for a blob over the limit, naming it ({str(e)[:200]})")
            check(tight.blob_count() == 0, "nothing stored for the refused blob")
            # A job running past --job-timeout-s 2: an error row saying so, exit 1, the agent goes on.
            out = os.path.join(tight_tmp, "timeout.json")
            r = run([rtml, "remote", where, "--token-file", token, "bench", os.path.join(zoo, "gru_stream_h64"),
                     "--seconds", "30", "--json", out, "--no-db"], env=env)
            rep = json.load(open(out)) if os.path.exists(out) else {"runs": [{}]}
            row = rep["runs"][0]
            check(r.returncode == 1 and row.get("status") == "error"
                  and (row.get("error") or "").startswith("remote job timeout:") and "--job-timeout-s" in row["error"]
                  and rep.get("host", {}).get("target") == "tight",
                  f"a job over the time limit: exit 1, an error row naming the limit ({row.get('error')})")
            r = run([rtml, "remote", where, "--token-file", token, "bench", os.path.join(zoo, "gru_stream_h64"),
                     "--runs", "20", "--no-db"], env=env)
            check(r.returncode == 0, f"the agent runs the next job after a timeout ({r.returncode})")
    finally:
        tight.stop()
    if failures:
        print("agent log (tail):\n" + agent.log_text()[-3000:])
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def main_armhf(rtml, zoo, rtml_arm):
    qemu = shutil.which("qemu-arm-static")
    if not os.path.exists(rtml_arm):
        print(f"SKIP: no armhf build at {rtml_arm} (make test-armhf / scripts/test-cross.sh armhf builds it)")
        return SKIP
    if not qemu:
        print("SKIP: qemu-arm-static is not installed (apt-get install qemu-user-static)")
        return SKIP
    prefix = [qemu, "-L", "/"]
    if not has_command(rtml_arm, prefix, "agent"):
        print(f"SKIP: {rtml_arm} was built without the agent (cross cpp-httplib: libcpp-httplib0.11:armhf "
              f"and libssl-dev:armhf)")
        return SKIP
    if not has_command(rtml, [], "remote"):
        print(f"SKIP: {rtml} was built without rtml remote (libcpp-httplib-dev)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="rtml-remote-armhf-")
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("armhf-test-token\n")
    os.chmod(token, 0o600)
    env = dict(os.environ)
    env.pop("RTML_TOKEN_FILE", None)
    agent = Agent(prefix, rtml_arm, tmp, token, extra=["--launcher", f"{qemu} -L /"])
    try:
        if not check(agent.wait_ready(120), "armhf agent (qemu) answers GET /v1/info"):
            print(agent.log_text())
            return 1
        name = agent.info["name"]
        check(agent.info["host"].get("arch", "").startswith("arm"),
              f"the agent runs as armhf ({agent.info['host'].get('arch')})")
        out = os.path.join(tmp, "arm.json")
        db = os.path.join(tmp, "results.db")
        model = "gesture_cnn"
        r = run([rtml, "remote", f"127.0.0.1:{agent.port}", "--token-file", token, "bench",
                 os.path.join(zoo, model), "--runs", "20", "--warmup", "5", "--json", out, "--db", db],
                timeout=1800, env=env)
        if check(r.returncode == 0, f"x86-64 client -> armhf agent: bench {model} exits 0 ({r.returncode})"):
            report = json.load(open(out))
            check_report(report, model, name, zoo, runs=20, min_top1=0.8, label="armhf: ")
            check(report["host"].get("arch", "").startswith("arm"), f"the report's host is the armhf board "
                                                                    f"({report['host'].get('arch')})")
        else:
            print(r.stderr[-3000:])
    finally:
        agent.stop()
    if failures:
        print("agent log (tail):\n" + agent.log_text()[-3000:])
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3:
        return main_x86(os.path.abspath(argv[1]), os.path.abspath(argv[2]))
    if len(argv) == 5 and argv[3] == "--armhf":
        return main_armhf(os.path.abspath(argv[1]), os.path.abspath(argv[2]), os.path.abspath(argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    rc = main(sys.argv)
    if rc == 0:
        print("remote: all checks passed")
    elif rc == 1:
        print(f"remote: {len(failures)} check(s) failed: " + "; ".join(failures))
    sys.exit(rc)
