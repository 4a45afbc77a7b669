#!/usr/bin/python3
"""Soak test of `rtml agent` and of `rtml bench --db` (make soak; not part of make test).

usage: soak.py --rtml RTML --zoo ZOO_DIR [--requests N] [--clients 8] [--max-seconds S]
               [--bench-processes 4] [--bench-rounds R] [--json OUT]

1. A real `rtml agent` on 127.0.0.1 (a free port, a token, a temporary
   workdir) and `--clients` threads (standard library only) sending
   `--requests` requests in all (100 000 by default), a seeded mix of:
   valid GETs, bad tokens, valid and hash-mismatched uploads, truncated
   uploads (a Content-Length, fewer bytes, then the socket closed), malformed
   JSON, JSON that is not UTF-8 or holds 1e400, unknown paths, valid bench
   jobs of the zoo's matvec_16 (with its test data; many are refused 429 while
   the queue is full, which is the protocol), and polls of the jobs accepted.
   Every answer's status is checked against the one the protocol gives that
   kind of request. Afterwards:
   - zero lost runs: every job the agent accepted (202) ended "done" with a
     report of that job's model, retrieved by the client that posted it;
   - no leaked files: tmp/ is empty, blobs/ holds exactly the blobs stored
     (201), jobs/ only folders of jobs the agent still remembers, each with
     only its stderr.txt;
   - flat memory: the agent's RSS at the end is at most 8 MiB above its RSS
     after the warm-up (the first 10% of the requests); a leak of 100 bytes a
     request would show as 9 MB.
2. `--bench-processes` processes at once, each running `rtml bench
   matvec_16 --db F` `--bench-rounds` times into one database: every run is
   stored (the runs table counts processes x rounds rows).

Loopback only. It stops by itself: after the requests, or at --max-seconds
(then it says how many were sent). Exit 0 when every check passed.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Agent:
    def __init__(self, rtml, tmp):
        self.port = free_port()
        self.workdir = os.path.join(tmp, "agent-work")
        token_file = os.path.join(tmp, "token")
        self.token = "soak-" + os.urandom(16).hex()
        with open(token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(token_file, 0o600)
        self.log = open(os.path.join(tmp, "agent.log"), "w")
        self.proc = subprocess.Popen(
            [rtml, "agent", "--listen", f"127.0.0.1:{self.port}", "--token-file", token_file,
             "--workdir", self.workdir, "--job-timeout-s", "300"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, seconds=120):
        until = time.monotonic() + seconds
        while time.monotonic() < until and self.proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                c.request("GET", "/v1/info", headers={"Authorization": f"Bearer {self.token}"})
                ok = c.getresponse().status == 200
                c.close()
                if ok:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.by_kind = {}      # kind -> count
        self.seconds = {}      # kind -> seconds spent waiting for its answers
        self.errors = {}       # "kind: what" -> count
        self.stored = set()    # blob hashes the agent answered 201 for
        self.accepted = {}     # job id -> model name
        self.finished = {}     # job id -> (state, report model or error)
        self.queue_full = 0
        self.reconnects = 0

    def count(self, kind):
        with self.lock:
            self.sent += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        return kind

    def took(self, kind, seconds):
        with self.lock:
            self.seconds[kind] = self.seconds.get(kind, 0) + seconds

    def error(self, kind, what):
        with self.lock:
            key = f"{kind}: {what}"
            self.errors[key] = self.errors.get(key, 0) + 1


class Client:
    """One keep-alive connection, reopened when the agent closes it."""

    def __init__(self, port, stats):
        self.port = port
        self.stats = stats
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the agent closed an idle or used-up keep-alive connection: once more on a new one
                self.close()
                with self.stats.lock:
                    self.stats.reconnects += 1
                if attempt == 1:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def truncated_upload(port, token, rng):
    """Announces n bytes, sends fewer, closes. Nothing must be stored."""
    data = rng.randbytes(rng.randint(100, 20000))
    sent = rng.randint(0, len(data) - 1)
    name = hashlib.sha256(data).hexdigest()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall((f"PUT /v1/blobs/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                  + data[:sent])
    return name


def upload_dir(client, token, path):
    """Uploads a zoo model folder; returns the job's "model" object."""
    def put(p):
        data = open(p, "rb").read()
        h = hashlib.sha256(data).hexdigest()
        status, _ = client.request("PUT", f"/v1/blobs/{h}", data,
                                   {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
        if status not in (200, 201):
            raise RuntimeError(f"upload of {p}: {status}")
        return h, status == 201

    stored = []
    h, new = put(os.path.join(path, "model.onnx"))
    stored += [h] if new else []
    model = {"name": "matvec_16", "onnx": h, "test_data": []}
    s = 0
    while os.path.isdir(os.path.join(path, f"test_data_set_{s}")):
        d = os.path.join(path, f"test_data_set_{s}")
        for f in sorted(os.listdir(d)):
            kind, _, rest = f.partition("_")
            if f == "label.pb":
                entry = {"set": s, "kind": "label"}
            elif kind in ("input", "output"):
                entry = {"set": s, "kind": kind, "index": int(rest.split(".")[0])}
            else:
                continue
            h, new = put(os.path.join(d, f))
            stored += [h] if new else []
            entry["blob"] = h
            model["test_data"].append(entry)
        s += 1
    return model, stored


def client_thread(k, args, agent, stats, model, quota, stop_at):
    rng = random.Random(1000 + k)
    c = Client(agent.port, stats)
    auth = {"Authorization": f"Bearer {agent.token}"}
    mine = []  # job ids this client posted, not yet finished

    def expect(kind, status, want, body=b""):
        if status not in want:
            stats.error(kind, f"status {status} (wanted {sorted(want)}): {body[:200]!r}")

    for i in range(quota):
        if time.monotonic() > stop_at:
            break
        if mine and i % 10 == 0:  # poll the oldest pending job
            jid = mine[0]
            stats.count("poll")
            status, body = c.request("GET", f"/v1/jobs/{jid}", headers=auth)
            expect("poll", status, {200}, body)
            if status == 200:
                j = json.loads(body)
                if j["state"] not in ("queued", "running"):
                    mine.pop(0)
                    report_model = (j.get("report") or {}).get("runs", [{}])[0].get("model")
                    with stats.lock:
                        stats.finished[jid] = (j["state"], report_model if j["state"] == "done" else j.get("error"))
            continue
        r = rng.random()
        kind, t0 = None, time.monotonic()
        try:
            if r < 0.35:
                kind = stats.count("info")
                status, body = c.request("GET", "/v1/info", headers=auth)
                expect("info", status, {200}, body)
            elif r < 0.45:
                kind = stats.count("bad_token")
                status, body = c.request("GET", "/v1/info", headers={"Authorization": "Bearer wrong-" + str(i)})
                expect("bad_token", status, {401}, body)
            elif r < 0.53:
                kind = stats.count("upload")
                data = rng.randbytes(rng.randint(1, 4096))
                h = hashlib.sha256(data).hexdigest()
                status, body = c.request("PUT", f"/v1/blobs/{h}", data,
                                         {**auth, "Content-Type": "application/octet-stream"})
                expect("upload", status, {200, 201}, body)
                if status == 201:
                    with stats.lock:
                        stats.stored.add(h)
            elif r < 0.58:
                kind = stats.count("hash_mismatch")
                data = rng.randbytes(100)
                h = hashlib.sha256(data + b"!").hexdigest()
                status, body = c.request("PUT", f"/v1/blobs/{h}", data,
                                         {**auth, "Content-Type": "application/octet-stream"})
                expect("hash_mismatch", status, {409}, body)
            elif r < 0.66:
                kind = stats.count("truncated_upload")
                truncated_upload(agent.port, agent.token, rng)
            elif r < 0.74:
                kind = stats.count("malformed_json")
                body_in = rng.choice([b'{"kind": "bench", "model": ', b"[1, 2]", b"not json", b"{}",
                                      b'{"kind": "bench\xff\xfe", "model": {}}',
                                      b'{"kind": "bench", "model": {}, "options": {"runs": 1e400}}'])
                status, body = c.request("POST", "/v1/jobs", body_in, {**auth, "Content-Type": "application/json"})
                expect("malformed_json", status, {400}, body)
            elif r < 0.80:
                kind = stats.count("unknown_path")
                status, body = c.request("GET", f"/v1/nothing/{i}", headers=auth)
                expect("unknown_path", status, {404}, body)
            elif r < 0.88:
                kind = stats.count("head_blob")
                status, body = c.request("HEAD", f"/v1/blobs/{model['onnx']}", headers=auth)
                expect("head_blob", status, {200}, body)
            else:
                kind = stats.count("job")
                label = f"soak_{k}_{i}"
                job = {"kind": "bench", "model": {**model, "name": label},
                       "options": {"warmup": 2, "runs": 10}}
                status, body = c.request("POST", "/v1/jobs", json.dumps(job).encode(),
                                         {**auth, "Content-Type": "application/json"})
                expect("job", status, {202, 429}, body)
                if status == 202:
                    jid = json.loads(body)["job"]
                    mine.append(jid)
                    with stats.lock:
                        stats.accepted[jid] = label
                elif status == 429:
                    with stats.lock:
                        stats.queue_full += 1
        except OSError as e:
            stats.error("transport", type(e).__name__ + ": " + str(e))
            c.close()
        stats.took(kind, time.monotonic() - t0)
    # the jobs still pending: wait for them (each ends by the agent's time limit at the latest)
    until = time.monotonic() + 900
    while mine and time.monotonic() < until:
        jid = mine[0]
        try:
            status, body = c.request("GET", f"/v1/jobs/{jid}", headers=auth)
        except OSError as e:
            stats.error("transport", type(e).__name__ + ": " + str(e))
            c.close()
            continue
        if status != 200:
            stats.error("poll", f"status {status} for job {jid}: {body[:200]!r}")
            mine.pop(0)
            continue
        j = json.loads(body)
        if j["state"] in ("queued", "running"):
            time.sleep(0.2)
            continue
        mine.pop(0)
        report_model = (j.get("report") or {}).get("runs", [{}])[0].get("model")
        with stats.lock:
            stats.finished[jid] = (j["state"], report_model if j["state"] == "done" else j.get("error"))
    c.close()


def leftover_files(workdir, stats, remembered):
    """What the workdir holds beyond what it should."""
    extra = []
    top = set(os.listdir(workdir)) - {".rtml-agent", "blobs", "tmp", "jobs"}
    extra += [f"workdir/{t}" for t in sorted(top)]
    extra += [f"tmp/{t}" for t in sorted(os.listdir(os.path.join(workdir, "tmp")))]
    blobs = set(os.listdir(os.path.join(workdir, "blobs")))
    extra += [f"blobs/{b} (never answered 201)" for b in sorted(blobs - stats.stored)]
    missing = stats.stored - blobs
    extra += [f"blobs/{b} missing" for b in sorted(missing)]
    for jid in sorted(os.listdir(os.path.join(workdir, "jobs"))):
        if jid not in remembered:
            extra.append(f"jobs/{jid} (a job the agent forgot)")
            continue
        inside = set(os.listdir(os.path.join(workdir, "jobs", jid)))
        if inside - {"stderr.txt"}:
            extra.append(f"jobs/{jid}: {sorted(inside - {'stderr.txt'})}")
    return extra


def soak_agent(args, tmp, summary):
    agent = Agent(args.rtml, tmp)
    failures = []
    try:
        if not agent.wait_ready():
            return [f"the agent did not start (log: {agent.log.name})"]
        stats = Stats()
        setup = Client(agent.port, stats)
        model, stored = upload_dir(setup, agent.token, os.path.join(args.zoo, "matvec_16"))
        setup.close()
        stats.stored.update(stored)

        t0 = time.monotonic()
        stop_at = t0 + args.max_seconds
        warm = max(1, args.requests // 10)
        quotas = [args.requests // args.clients + (1 if k < args.requests % args.clients else 0)
                  for k in range(args.clients)]
        threads = [threading.Thread(target=client_thread, args=(k, args, agent, stats, model, quotas[k], stop_at))
                   for k in range(args.clients)]
        for t in threads:
            t.start()
        rss_warm = None
        while any(t.is_alive() for t in threads):
            if rss_warm is None and stats.sent >= warm:
                rss_warm = rss_bytes(agent.proc.pid)
                print(f"after warm-up ({stats.sent} requests): agent RSS {rss_warm / 2**20:.1f} MiB", flush=True)
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        rss_end = rss_bytes(agent.proc.pid)
        if rss_warm is None:
            rss_warm = rss_end

        # the jobs the agent remembers now: by asking about each one accepted
        c = Client(agent.port, stats)
        remembered = set()
        for jid in stats.accepted:
            status, _ = c.request("GET", f"/v1/jobs/{jid}", headers={"Authorization": f"Bearer {agent.token}"})
            if status == 200:
                remembered.add(jid)
        c.close()

        lost = [j for j in stats.accepted if j not in stats.finished]
        bad = {j: v for j, v in stats.finished.items() if v[0] != "done" or v[1] != stats.accepted[j]}
        leftovers = leftover_files(agent.workdir, stats, remembered)
        margin = 8 << 20
        summary["agent"] = {
            "requests": stats.sent, "requests_wanted": args.requests, "seconds": round(elapsed, 1),
            "requests_per_second": round(stats.sent / elapsed, 1) if elapsed > 0 else None,
            "by_kind": dict(sorted(stats.by_kind.items())), "errors": stats.errors,
            "mean_ms_by_kind": {k: round(1000 * v / stats.by_kind[k], 1) for k, v in sorted(stats.seconds.items())},
            "reconnects": stats.reconnects, "jobs_accepted": len(stats.accepted), "jobs_refused_queue_full":
            stats.queue_full, "jobs_done": sum(1 for v in stats.finished.values() if v[0] == "done"),
            "jobs_lost": len(lost), "jobs_bad": len(bad), "blobs_stored": len(stats.stored),
            "leftover_files": leftovers[:20], "rss_after_warmup_bytes": rss_warm, "rss_end_bytes": rss_end,
            "rss_margin_bytes": margin,
        }
        if stats.sent < args.requests:
            print(f"note: stopped at --max-seconds {args.max_seconds}: {stats.sent} of {args.requests} requests sent",
                  flush=True)
        if stats.errors:
            failures.append(f"{sum(stats.errors.values())} answers not as the protocol says: "
                            + "; ".join(f"{k} (x{n})" for k, n in list(stats.errors.items())[:10]))
        if lost:
            failures.append(f"{len(lost)} accepted jobs never finished: {lost[:5]}")
        if bad:
            failures.append(f"{len(bad)} jobs did not end done with their own report: {list(bad.items())[:5]}")
        if not stats.accepted:
            failures.append("no job was accepted: the soak ran no bench")
        if leftovers:
            failures.append(f"{len(leftovers)} files left in the workdir: {leftovers[:10]}")
        if rss_end > rss_warm + margin:
            failures.append(f"the agent's RSS grew from {rss_warm / 2**20:.1f} MiB after the warm-up to "
                            f"{rss_end / 2**20:.1f} MiB (allowed: +{margin / 2**20:.1f} MiB)")
        if agent.proc.poll() is not None:
            failures.append(f"the agent exited with {agent.proc.returncode}")
    finally:
        agent.stop()
    return failures


def soak_db(args, tmp, summary):
    db = os.path.join(tmp, "results.db")
    model = os.path.join(args.zoo, "matvec_16")

    def one_process(k, out):
        ok = 0
        for r in range(args.bench_rounds):
            p = subprocess.run([args.rtml, "bench", model, "--db", db, "--warmup", "2", "--runs", "10"],
                               capture_output=True, text=True, timeout=600)
            if p.returncode == 0:
                ok += 1
            else:
                out.append(f"process {k} round {r}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        out.append(ok)

    results = [[] for _ in range(args.bench_processes)]
    t0 = time.monotonic()
    threads = [threading.Thread(target=one_process, args=(k, results[k])) for k in range(args.bench_processes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    wanted = args.bench_processes * args.bench_rounds
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    reports = con.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    con.close()
    failures = [m for r in results for m in r if isinstance(m, str)]
    summary["bench_db"] = {"processes": args.bench_processes, "rounds": args.bench_rounds, "runs_wanted": wanted,
                           "runs_stored": rows, "reports_stored": reports, "seconds": round(elapsed, 1)}
    if rows != wanted:
        failures.append(f"the database holds {rows} runs, not {wanted}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rtml", required=True)
    ap.add_argument("--zoo", required=True, help="a zoo folder holding matvec_16 (build/zoo-all)")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--bench-processes", type=int, default=4)
    ap.add_argument("--bench-rounds", type=int, default=5)
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.zoo, "matvec_16", "model.onnx")):
        sys.exit(f"soak: no matvec_16 in {args.zoo} (make build generates build/zoo-all)")

    tmp = tempfile.mkdtemp(prefix="rtml_soak_")
    summary = {}
    try:
        failures = soak_agent(args, tmp, summary)
        failures += soak_db(args, tmp, summary)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    for f in failures:
        print("FAIL:", f)
    print("soak: " + ("passed" if not failures else f"{len(failures)} checks failed"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
