#!/usr/bin/env python3
"""Drive an `rtml agent` on a board from Python: the host side of the rtml
remote protocol (docs/remote-protocol.md), with the standard library only.

As a module (e.g. in a notebook):

    import sys; sys.path.insert(0, "tools")
    from rtml_remote import RemoteClient, read_token_file
    c = RemoteClient("bela.local", 7070, read_token_file("~/.config/rtml/bela.token"))
    c.info()                                    # GET /v1/info
    report = c.bench("build/zoo/digits_mlp", runs=200, backends=["native"])
    report["runs"][0]["latency_us"]["median"]

As a script:

    tools/rtml_remote.py bela.local:7070 --token-file TOKEN info
    tools/rtml_remote.py bela.local:7070 --token-file TOKEN bench build/zoo/digits_mlp --runs 200 --json out.json

bench() hashes every file (SHA-256), asks the agent for each blob (HEAD) and
uploads only the missing ones, submits the job, polls it every 200 ms and
returns the board's rtml.bench/1 report with report["host"]["target"] set to
the agent's name. Errors are RemoteError (AuthError for 401, JobError for a
job that failed or ran out of time) with a message saying what to check.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import time

PROTOCOL = 1
POLL_INTERVAL_S = 0.2
QUEUE_FULL_WAIT_S = 60
_OPTION_NAMES = ("warmup", "runs", "seconds", "threads", "tolerance", "period_us", "rt", "priority", "cpu", "samples")


class RemoteError(Exception):
    """Something went wrong talking to the agent; the message says what to check."""


class AuthError(RemoteError):
    """The agent answered 401: no token or the wrong one."""


class JobError(RemoteError):
    """The agent accepted the job but it ended "failed" or "timeout" (self.state)."""

    def __init__(self, state, message):
        super().__init__(message)
        self.state = state


def read_token_file(path):
    """The token file's first line, whitespace trimmed."""
    path = os.path.expanduser(path)
    try:
        with open(path, encoding="utf-8") as f:
            token = f.readline().strip()
    except OSError as e:
        raise RemoteError(f"cannot read the token file {path}: {e.strerror}") from None
    if not token:
        raise RemoteError(f"the token file {path} is empty: its first line should hold the agent's token")
    return token


def parse_endpoint(text):
    """'HOST:PORT' or '[IPv6]:PORT' -> (host, port)."""
    m = re.fullmatch(r"\[([^\]]+)\]:(\d{1,5})", text) or re.fullmatch(r"([^:\[\]]+):(\d{1,5})", text)
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise ValueError(f"'{text}' is not HOST:PORT (e.g. bela.local:7070; IPv6 in brackets: [::1]:7070)")
    return m.group(1), int(m.group(2))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def model_files(model):
    """A model folder (holding model.onnx) or a .onnx file -> (name, files) where
    files = {"onnx": path, "torchscript": path or None, "test_data": [(set, kind, index, path)]},
    named as `rtml bench` names them (the folder's name for model.onnx, else the file's stem)."""
    model = os.path.abspath(model)
    if os.path.isdir(model):
        onnx = os.path.join(model, "model.onnx")
        if not os.path.isfile(onnx):
            raise RemoteError(f"{model} holds no model.onnx")
    elif os.path.isfile(model) and model.endswith(".onnx"):
        onnx = model
    else:
        raise RemoteError(f"{model}: not a model folder (holding model.onnx) or a .onnx file")
    folder = os.path.dirname(onnx)
    stem = os.path.splitext(os.path.basename(onnx))[0]
    name = os.path.basename(folder) if stem == "model" else stem
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "model"
    pt = os.path.join(folder, "model.pt")
    test_data = []
    for entry in sorted(os.listdir(folder)):
        m = re.fullmatch(r"test_data_set_(\d+)", entry)
        d = os.path.join(folder, entry)
        if not m or not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            fm = re.fullmatch(r"(input|output)_(\d+)\.pb", f)
            if fm:
                test_data.append((int(m.group(1)), fm.group(1), int(fm.group(2)), os.path.join(d, f)))
            elif f == "label.pb":
                test_data.append((int(m.group(1)), "label", None, os.path.join(d, f)))
    return name, {"onnx": onnx, "torchscript": pt if os.path.isfile(pt) else None, "test_data": test_data}


class RemoteClient:
    """One agent at host:port. Methods raise RemoteError (or AuthError, JobError)."""

    def __init__(self, host, port, token=None, timeout=60):
        self.host, self.port, self.token, self.timeout = host, int(port), token, timeout
        self._info = None
        self._present = set()  # blobs known to be on the agent
        self._hashes = {}  # path -> ((size, mtime_ns), sha256)
        self.stats = {"blobs_checked": 0, "blobs_uploaded": 0, "bytes_uploaded": 0}

    @property
    def where(self):
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"{h}:{self.port}"

    # --- HTTP ------------------------------------------------------------------
    def _request(self, method, path, body=None, content_type=None, what=None, expect=(200,)):
        """-> (status, body bytes). One connection per request."""
        what = what or f"{method} {path}"
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            if hasattr(body, "read"):  # a file: streamed with its length
                headers["Content-Length"] = str(os.fstat(body.fileno()).st_size)
            try:
                conn.request(method, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # The agent may answer (413) and close before the whole body is sent:
                # its answer is still there to read.
                pass
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
        except ConnectionRefusedError:
            raise RemoteError(f"{what}: cannot connect to the agent at {self.where} (connection refused): is "
                              f"`rtml agent --listen ADDR:{self.port}` running on the board, listening on an "
                              f"address this machine can reach?") from None
        except socket.timeout:
            raise RemoteError(f"{what}: no answer from the agent at {self.where} within {self.timeout} s: check "
                              f"the address, that the board is on the network, and any firewall between") from None
        except socket.gaierror as e:
            raise RemoteError(f"{what}: cannot resolve the host name '{self.host}': {e.strerror}") from None
        except (OSError, http.client.HTTPException) as e:
            raise RemoteError(f"{what}: the connection to the agent at {self.where} failed: {e} (is the agent "
                              f"still running? its log says why)") from None
        finally:
            conn.close()
        if status in expect:
            return status, data
        code, message = "", data[:200].decode("utf-8", "replace")
        try:
            err = json.loads(data)["error"]
            code, message = err.get("code", ""), err.get("message", "") or err.get("code", "")
        except (ValueError, KeyError, TypeError):
            pass
        if status == 401:
            if not self.token:
                raise AuthError(f"{what}: the agent at {self.where} wants a token (401 unauthorized): give its "
                                f"token file with --token-file FILE or $RTML_TOKEN_FILE")
            raise AuthError(f"{what}: the agent at {self.where} refused the token (401 unauthorized): the token "
                            f"file must hold the same token as the agent's --token-file")
        if status == 413:
            raise RemoteError(f"{what}: too large for the agent at {self.where} (413): {message}{self._limits_text()}")
        raise RemoteError(f"{what}: the agent at {self.where} answered {status} {code}: {message}")

    def _json(self, data, what):
        try:
            return json.loads(data)
        except ValueError:
            raise RemoteError(f"{what}: the agent at {self.where} sent something that is not JSON") from None

    def _limits_text(self):
        limits = (self._info or {}).get("limits") or {}
        parts = [f"{k} {limits[k] / 2**20:.1f} MiB" for k in ("max_body_bytes", "max_model_bytes") if k in limits]
        return "; the agent's limits (GET /v1/info): " + ", ".join(parts) if parts else ""

    # --- the protocol ----------------------------------------------------------
    def info(self):
        """GET /v1/info (cached): name, host, backends, limits."""
        if self._info is None:
            _, data = self._request("GET", "/v1/info")
            info = self._json(data, "GET /v1/info")
            if not isinstance(info, dict) or "name" not in info or "protocol" not in info:
                raise RemoteError(f"GET /v1/info: {self.where} did not answer like an rtml agent")
            if info["protocol"] != PROTOCOL:
                raise RemoteError(f"the agent at {self.where} speaks protocol {info['protocol']}, this client "
                                  f"speaks {PROTOCOL}: use the same rtml version on both sides")
            self._info = info
        return self._info

    def sha256(self, path):
        st = os.stat(path)
        key = (st.st_size, st.st_mtime_ns)
        cached = self._hashes.get(path)
        if cached and cached[0] == key:
            return cached[1]
        h = sha256_file(path)
        self._hashes[path] = (key, h)
        return h

    def upload(self, path, sha=None):
        """Makes sure the agent holds `path`: HEAD, then PUT if missing. Returns its SHA-256."""
        sha = sha or self.sha256(path)
        if sha in self._present:
            return sha
        self.stats["blobs_checked"] += 1
        status, _ = self._request("HEAD", f"/v1/blobs/{sha}", what=f"checking {path}", expect=(200, 404))
        if status == 404:
            with open(path, "rb") as f:
                status, data = self._request("PUT", f"/v1/blobs/{sha}", body=f,
                                             content_type="application/octet-stream", what=f"uploading {path}",
                                             expect=(200, 201, 409))
            if status == 409:
                raise RemoteError(f"uploading {path}: the agent at {self.where} received bytes that do not hash "
                                  f"to the file's SHA-256 (409): did the file change while it was sent? Run again")
            self.stats["blobs_uploaded"] += 1
            self.stats["bytes_uploaded"] += os.path.getsize(path)
        self._present.add(sha)
        return sha

    def submit(self, job):
        """POST /v1/jobs -> job id (a full queue is retried for a minute)."""
        deadline = time.monotonic() + QUEUE_FULL_WAIT_S
        while True:
            status, data = self._request("POST", "/v1/jobs", body=json.dumps(job).encode(),
                                         content_type="application/json", what="submitting the job",
                                         expect=(200, 201, 202, 429))
            if status != 429:
                break
            if time.monotonic() > deadline:
                raise RemoteError(f"submitting the job: the agent at {self.where}'s job queue is full (429): "
                                  f"try again later")
            time.sleep(2)
        answer = self._json(data, "submitting the job")
        if not isinstance(answer, dict) or not isinstance(answer.get("job"), str):
            raise RemoteError(f"submitting the job: the agent at {self.where} answered without a job id")
        return answer["job"]

    def job(self, job_id):
        """GET /v1/jobs/<id>."""
        status, data = self._request("GET", f"/v1/jobs/{job_id}", expect=(200, 404))
        if status == 404:
            raise RemoteError(f"the agent at {self.where} no longer knows job {job_id} (was it restarted?)")
        return self._json(data, f"GET /v1/jobs/{job_id}")

    def bench(self, model, backends=("native",), progress=None, **options):
        """Benchmarks a model folder or .onnx file on the board and returns its report.

        options: warmup, runs, seconds, threads, tolerance, period_us, rt, priority, cpu,
        samples (as `rtml bench`; omitted: the board's defaults). progress(text) is
        called whenever the job's state or progress text changes."""
        unknown = set(options) - set(_OPTION_NAMES)
        if unknown:
            raise TypeError(f"unknown bench option(s) {sorted(unknown)}; known: {', '.join(_OPTION_NAMES)}")
        info = self.info()
        have = info.get("backends") or []
        for b in backends:
            if have and b not in have:
                raise RemoteError(f"the agent '{info['name']}' at {self.where} has no backend '{b}' "
                                  f"(it has: {', '.join(have)})")
        name, files = model_files(model)
        blobs = {}  # sha -> path
        spec = {"name": name, "onnx": self.sha256(files["onnx"])}
        blobs[spec["onnx"]] = files["onnx"]
        if files["torchscript"]:
            spec["torchscript"] = self.sha256(files["torchscript"])
            blobs[spec["torchscript"]] = files["torchscript"]
        if files["test_data"]:
            spec["test_data"] = []
            for set_index, kind, index, path in files["test_data"]:
                entry = {"set": set_index, "kind": kind, "blob": self.sha256(path)}
                if index is not None:
                    entry["index"] = index
                blobs[entry["blob"]] = path
                spec["test_data"].append(entry)
        limits = info.get("limits") or {}
        total = sum(os.path.getsize(p) for p in blobs.values())
        if "max_model_bytes" in limits and total > limits["max_model_bytes"]:
            raise RemoteError(f"model {name}: its files total {total / 2**20:.1f} MiB, more than the agent "
                              f"accepts for one job{self._limits_text()}")
        for sha, path in blobs.items():
            self.upload(path, sha)
        opts = {"backends": list(backends)}
        opts.update({k: v for k, v in options.items() if v is not None})
        job_id = self.submit({"kind": "bench", "model": spec, "options": opts})

        timeout_s = limits.get("job_timeout_s", 600)
        give_up = time.monotonic() + (limits.get("max_queue", 8) + 1) * timeout_s + 60
        last, failures = None, 0
        while True:
            try:
                j = self.job(job_id)
                failures = 0
            except RemoteError as e:
                failures += 1
                if failures >= 25 or "no longer knows" in str(e):
                    raise
                time.sleep(POLL_INTERVAL_S)
                continue
            state = j.get("state")
            if state == "queued":
                text = f"queued (position {j['position']})" if isinstance(j.get("position"), int) else "queued"
            elif state == "running":
                text = j.get("progress") or "running"
            else:
                text = str(state)
            if text != last and progress:
                progress(text)
            last = text
            where = f"the agent '{info['name']}' at {self.where}"
            if state == "failed":
                raise JobError(state, f"job {job_id} for {name} failed on {where}: {j.get('error') or '(no message)'}")
            if state == "timeout":
                raise JobError(state, f"job {job_id} for {name} was stopped by {where}: " + (
                    j.get("error") or f"it ran past the agent's time limit (--job-timeout-s {timeout_s})"))
            if state == "done":
                report = j.get("report")
                problem = check_report(report)
                if problem:
                    raise RemoteError(f"{where} sent a report for job {job_id} that is not an rtml.bench/1 "
                                      f"report: {problem}")
                report["host"]["target"] = info["name"]
                for run in report["runs"]:
                    run["model"] = name
                    run["model_path"] = files["onnx"]
                return report
            if state not in ("queued", "running"):
                raise RemoteError(f"{where} reports job {job_id} in an unknown state '{state}'")
            if time.monotonic() > give_up:
                raise RemoteError(f"job {job_id} on {where} is still '{state}' long after the agent's own time "
                                  f"limits: the agent seems stuck (check its log)")
            time.sleep(POLL_INTERVAL_S)


def check_report(report):
    """The basics of an rtml.bench/1 report: what is wrong, or None."""
    if not isinstance(report, dict):
        return "not a JSON object"
    if report.get("schema") != "rtml.bench/1":
        return f"schema is {report.get('schema')!r}, expected 'rtml.bench/1'"
    if not isinstance(report.get("created"), str):
        return "'created' is missing or not a string"
    for key in ("host", "options"):
        if not isinstance(report.get(key), dict):
            return f"'{key}' is missing or not an object"
    runs = report.get("runs")
    if not isinstance(runs, list) or not runs:
        return "'runs' is missing, not a list or empty"
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or not all(isinstance(run.get(k), str) for k in ("model", "backend", "status")):
            return f"run {i} lacks model, backend or status"
    return None


def run_ok(run):
    acc = run.get("accuracy")
    return run.get("status") == "ok" and not (isinstance(acc, dict) and not acc.get("passed", False))


def summary(run):
    if run.get("status") != "ok":
        return f"error: {run.get('error')}"
    lat = run.get("latency_us") or {}
    text = f"median {lat.get('median', float('nan')):.4g} us, p99 {lat.get('p99', float('nan')):.4g} us"
    acc = run.get("accuracy")
    if isinstance(acc, dict):
        if acc.get("top1") is not None:
            text += f", top-1 {acc['top1']:.3f}"
        text += ", accuracy " + ("passed" if acc.get("passed") else "FAILED")
    return text


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="rtml_remote.py", description="Benchmark models on a board through its `rtml agent` "
        "(docs/remote-protocol.md). Exit status: 0 if every run succeeded and passed its accuracy check, 1 "
        "otherwise, 2 for usage errors.")
    p.add_argument("agent", metavar="HOST:PORT", help="the agent's address")
    p.add_argument("--token-file", help="the agent's token (first line); default $RTML_TOKEN_FILE, else none")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("info", help="print GET /v1/info")
    pi.add_argument("--token-file", dest="token_file_sub")
    pb = sub.add_parser("bench", help="benchmark one model on the board")
    pb.add_argument("model", help="a model folder (holding model.onnx) or a .onnx file")
    pb.add_argument("--token-file", dest="token_file_sub")
    pb.add_argument("--backend", default="native", help="comma-separated: native, torch (default native)")
    pb.add_argument("--warmup", type=int)
    g = pb.add_mutually_exclusive_group()
    g.add_argument("--runs", type=int)
    g.add_argument("--seconds", type=float)
    pb.add_argument("--threads", type=int)
    pb.add_argument("--tolerance", type=float)
    pb.add_argument("--period-us", type=float)
    pb.add_argument("--rt", action="store_true")
    pb.add_argument("--priority", type=int)
    pb.add_argument("--cpu", type=int)
    pb.add_argument("--samples", action="store_true")
    pb.add_argument("--json", metavar="FILE", help="write the report here")
    args = p.parse_args(argv)
    try:
        host, port = parse_endpoint(args.agent)
    except ValueError as e:
        p.error(str(e))
    token_file = args.token_file_sub or args.token_file or os.environ.get("RTML_TOKEN_FILE")
    try:
        client = RemoteClient(host, port, read_token_file(token_file) if token_file else None)
        if args.command == "info":
            print(json.dumps(client.info(), indent=2))
            return 0
        tty = sys.stderr.isatty()

        def progress(text):
            sys.stderr.write(f"\r\033[K{args.model}: {text}" if tty else f"{args.model}: {text}\n")
            sys.stderr.flush()

        report = client.bench(args.model, backends=[b for b in args.backend.split(",") if b], progress=progress,
                              warmup=args.warmup, runs=args.runs, seconds=args.seconds, threads=args.threads,
                              tolerance=args.tolerance, period_us=args.period_us, rt=args.rt or None,
                              priority=args.priority, cpu=args.cpu, samples=args.samples or None)
    except RemoteError as e:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
        print(f"rtml_remote.py: error: {e}", file=sys.stderr)
        return 1
    if tty:
        sys.stderr.write("\r\033[K")
    s = client.stats
    print(f"rtml_remote.py: {s['blobs_uploaded']} of {s['blobs_checked']} blobs uploaded "
          f"({s['bytes_uploaded']} bytes)", file=sys.stderr)
    for run in report["runs"]:
        print(f"{run['model']} on {run['backend']} ({report['host']['target']}): {summary(run)}")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        os.replace(tmp, args.json)
    return 0 if all(run_ok(r) for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
