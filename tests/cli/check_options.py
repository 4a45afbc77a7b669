#!/usr/bin/python3
"""Every rtml subcommand parses its command line the same way (src/cli/options.h).

usage: check_options.py RTML

For every subcommand: --help (and -h) exits 0 and lists each of its options (the
lists below are the options README.md and docs/ promise); an unknown option exits
2 naming it and `rtml CMD --help`; a near miss gets "did you mean --xyz?"; an
option without its value exits 2; a missing or an extra positional argument
exits 2; --opt=value works like --opt value. Errors that are not usage errors
(a missing model file) still exit 1. No check needs a model, a network or a
database: each fails (or finishes) while parsing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

RTML = sys.argv[1]
FAILURES = []

BENCH_SHARED = ["--backend", "--filter", "--warmup", "--runs", "--seconds", "--threads", "--tolerance", "--samples",
                "--block", "--rate", "--period-us", "--rt", "--priority", "--cpu", "--json", "--csv", "--markdown",
                "--db", "--no-db"]

# command: (its options, [args before an option: the positionals a parse needs], a typo and the option it is
# close to, an option that needs a value, a call with a positional missing, a call with one too many)
COMMANDS = {
    "info": (["--shape", "--json", "--passes", "--max-memory", "--threads"], ["m.onnx"], ("--jsn", "--json"), "--shape", [], ["a.onnx", "b.onnx"]),
    "run": (["--input", "--random", "--seed", "--output-dir", "--shape", "--test-data", "--tolerance", "--report",
             "--max-memory", "--threads"],
            ["m.onnx"], ("--ouput-dir", "--output-dir"), "--seed", [], ["a.onnx", "b.onnx"]),
    "ops": ([], [], None, None, None, ["extra"]),
    "zoo": (["--out", "--set", "--only", "--list"], [], ("--lst", "--list"), "--only", None, ["extra"]),
    "bench": (BENCH_SHARED + ["--test-data", "--no-accuracy", "--torch-model", "--memory-interval-us",
                              "--no-samples", "--max-memory"],
              ["m.onnx"], ("--rnus", "--runs"), "--warmup", [], None),
    "compare": (["--threshold", "--json"], ["a.json", "b.json"], ("--treshold", "--threshold"), "--threshold",
                ["a.json"], ["a.json", "b.json", "c.json"]),
    "runs": (["--db", "--model", "--backend", "--since", "--target", "--limit", "--json", "--show", "--add"], [],
             ("--limt", "--limit"), "--limit", None, ["extra"]),
    "remote": (["--token-file"] + BENCH_SHARED, ["127.0.0.1:9"], ("--token-fle", "--token-file"), "--token-file",
               ["127.0.0.1:9"], None),
    "agent": (["--listen", "--token-file", "--insecure-local", "--workdir", "--name", "--max-body-mb",
               "--max-model-mb", "--job-timeout-s", "--max-queue", "--launcher"],
              [], ("--max-queu", "--max-queue"), "--listen", None, ["extra"]),
    "profile": (["--backend", "--runs", "--warmup", "--counters", "--perf", "--perf-seconds", "--trace-runs",
                 "--threads", "--torch-model", "--top", "--by-type-only", "--json", "--chrome-trace", "--speedscope",
                 "--folded", "--db", "--no-db", "--max-memory"],
                ["m.onnx"], ("--by-typeonly", "--by-type-only"), "--top", [], ["a.onnx", "b.onnx"]),
    "ui": (["--db", "--port", "--host", "--log"], [], ("--prot", "--port"), "--port", None, ["extra"]),
    "limits": (["--json", "--seconds", "--repetitions", "--cpu"], [], ("--repetition", "--repetitions"),
               "--seconds", None, ["extra"]),
    "quantize": (["--out", "--calibration", "--calibration-sets", "--method", "--percentile", "--activations",
                  "--per-tensor", "--weights-only", "--test-data", "--no-accuracy", "--report", "--shape",
                  "--max-memory"],
                 ["m.onnx"], ("--calibraton", "--calibration"), "--out", [], ["a.onnx", "b.onnx"]),
    "tune": (["--target", "--budget-s", "--runs", "--cmsis-nn", "--out", "--db", "--no-db", "--kernels", "--shape",
              "--max-memory"],
             ["m.onnx"], ("--budget-sec", "--budget-s"), "--out", [], ["a.onnx", "b.onnx"]),
}


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what)
    return ok


def rtml(*args):
    env = dict(os.environ, RTML_DB=os.path.join(TMP, "none.db"))
    env.pop("RTML_TOKEN_FILE", None)
    return subprocess.run([RTML, *args], capture_output=True, text=True, timeout=60, env=env)


def listed(option, text):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def usage_error(args, needles, what):
    r = rtml(*args)
    ok = r.returncode == 2 and all(n in r.stderr for n in needles)
    check(ok, f"{what}: rtml {' '.join(args)}: want exit 2 and {needles}; got {r.returncode}: {r.stderr.strip()}")
    return r


with tempfile.TemporaryDirectory() as TMP:
    for cmd, (options, before, typo, needs_value, missing, extra) in COMMANDS.items():
        see = f"rtml {cmd} --help"
        for flag in ("--help", "-h"):
            r = rtml(cmd, flag)
            check(r.returncode == 0 and r.stdout.startswith(f"usage: rtml {cmd}"),
                  f"{cmd} {flag}: exit 0 and a usage line ({r.returncode}: {r.stdout[:80]!r} {r.stderr.strip()})")
            missing_options = [o for o in options + ["--help"] if not listed(o, r.stdout)]
            check(not missing_options, f"{cmd} {flag} lists every option; missing {missing_options}")

        r = usage_error([cmd, *before, "--frobnicate"], ["unknown option '--frobnicate'", see], f"{cmd}: unknown option")
        check("did you mean" not in r.stderr, f"{cmd}: no suggestion for a word nothing is close to ({r.stderr})")
        if typo:
            wrong, right = typo
            usage_error([cmd, *before, wrong], [f"'{wrong}'", f"did you mean {right}?", see], f"{cmd}: a typo")
        if needs_value:
            usage_error([cmd, *before, needs_value], [f"{needs_value} needs a value", see], f"{cmd}: a missing value")
        if missing is not None:
            usage_error([cmd, *missing], ["given", f"rtml {cmd}"], f"{cmd}: a missing positional argument")
        if extra is not None:
            usage_error([cmd, *extra], ["unexpected argument", see], f"{cmd}: an extra positional argument")

    # rtml remote's sub-commands: their options are parsed (and refused) before any connection.
    where = "127.0.0.1:9"
    usage_error(["remote", where, "bench", "m.onnx", "--rnus", "5"], ["did you mean --runs?", "rtml remote --help"],
                "remote bench: a typo")
    usage_error(["remote", where, "bench", "m.onnx", "--warmup"], ["--warmup needs a value"],
                "remote bench: a missing value")
    usage_error(["remote", where, "bench", "m.onnx", "--cpu", "-1"], ["--cpu needs a whole number >= 0"],
                "remote bench: a bad number")
    usage_error(["remote", where, "bench"], ["no MODEL|FOLDER|manifest.json given"], "remote bench: no model")
    usage_error(["remote", where, "info", "--jsn"], ["did you mean --json?"], "remote info: a typo")
    usage_error(["remote", where, "info", "extra"], ["unexpected argument 'extra'"], "remote info: an extra argument")
    usage_error(["remote", where], ["no bench|info given"], "remote: no command")
    r = rtml("remote", where, "bench", "--help")
    check(r.returncode == 0 and "bench MODEL" in r.stdout and listed("--period-us", r.stdout),
          f"remote ... bench --help: the bench options ({r.returncode})")

    # Bad values, in both spellings, and the checks between options.
    usage_error(["limits", "--seconds=0"], ["--seconds needs a number >= 0.001, got '0'"], "--opt=value")
    usage_error(["limits", "--cpu", "x"], ["--cpu needs a whole number >= 0, got 'x'"], "a bad number")
    usage_error(["ui", "--port", "70000"], ["--port needs a whole number from 0 to 65535"], "a number above its maximum")
    usage_error(["zoo", "--set", "everything"], ["--set must be one of default|sweep|patterns|all"], "a bad choice")
    usage_error(["run", "m.onnx", "--tolerance", "1e-3"], ["--tolerance only applies with --test-data"],
                "run --tolerance without --test-data")
    usage_error(["bench", "m.onnx", "--runs", "5", "--seconds", "1"], ["--runs and --seconds both given"],
                "bench --runs with --seconds")
    usage_error(["info", "m.onnx", "--shape", "x"], ["--shape needs NAME=DIMS"], "info --shape x")
    # --threads: 0 (every core) to 64 (engine::kMaxThreads), on every command that runs a model.
    for cmd in ("run", "info", "bench", "profile"):
        usage_error([cmd, "m.onnx", "--threads", "-1"], ["--threads needs a whole number from 0 to 64, got '-1'"],
                    f"{cmd} --threads -1")
    usage_error(["bench", "m.onnx", "--threads", "1000"], ["--threads needs a whole number from 0 to 64, got '1000'"],
                "bench --threads 1000")
    usage_error(["agent", "--workdir", TMP], ["--listen ADDR:PORT is needed"], "agent without --listen")
    usage_error(["info", "m.onnx", "--max-memory", "lots"], ["--max-memory"], "info --max-memory lots")
    usage_error(["bench", "m.onnx", "--max-memory", "0"], ["--max-memory must be more than 0"], "bench --max-memory 0")

    # --max-memory holds a model to the limit: an input of 1000 float32 (4000 bytes, by hand) is over 1k
    # (1000 bytes) and under 1M, for info and for bench (an error row: exit 1).
    import onnx
    from onnx import TensorProto, helper
    big = os.path.join(TMP, "relu1000.onnx")
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1000])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1000])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), big)
    for cmd in (["info", big], ["bench", big, "--runs", "3", "--no-db"]):
        r = rtml(*cmd, "--max-memory", "1k")
        check(r.returncode == 1 and "over the memory limit" in (r.stderr + r.stdout) and "--max-memory" in
              (r.stderr + r.stdout), f"{cmd[0]} --max-memory 1k refuses a 4000-byte input ({r.returncode}: "
              f"{(r.stderr + r.stdout)[-300:]})")
        r = rtml(*cmd, "--max-memory", "1M")
        check(r.returncode == 0, f"{cmd[0]} --max-memory 1M runs it ({r.returncode}: {r.stderr[-300:]})")

    # A model folder (as the zoo writes them) stands for its model.onnx in every command that
    # takes MODEL; a folder without one is refused with its name.
    folder = os.path.join(TMP, "relu_folder")
    os.makedirs(folder)
    shutil.copy(big, os.path.join(folder, "model.onnx"))
    for cmd in (["info", folder], ["run", folder], ["tune", folder, "--budget-s", "1", "--runs", "3", "--no-db",
                                                      "--out", os.path.join(TMP, "relu_tuning.json")]):
        r = rtml(*cmd)
        check(r.returncode == 0, f"rtml {cmd[0]} takes a model folder ({r.returncode}: {r.stderr[-300:]})")
    r = rtml("info", folder)
    check(os.path.join(folder, "model.onnx") in r.stdout, f"info names the folder's model.onnx ({r.stdout[:200]})")
    r = rtml("info", TMP)
    check(r.returncode == 1 and "is a directory" in r.stderr, f"a folder without a model exits 1 ({r.returncode})")

    # --opt=value is --opt value: an empty database directory lists nothing.
    db = os.path.join(TMP, "sub", "results.db")
    r = rtml("runs", f"--db={db}", "--json")
    check(r.returncode == 0 and r.stdout.strip() == "[]", f"runs --db=PATH --json: [] ({r.returncode}: {r.stderr})")

    # Not a usage error: exit 1.
    r = rtml("info", os.path.join(TMP, "missing.onnx"))
    check(r.returncode == 1 and "missing.onnx" in r.stderr, f"a missing model exits 1 naming it ({r.returncode})")

    # The top level: no command, an unknown one.
    check(rtml().returncode == 2, "rtml without a command exits 2")
    r = rtml("frobnicate")
    check(r.returncode == 2 and "unknown command" in r.stderr, f"an unknown command exits 2 ({r.returncode})")

if FAILURES:
    sys.exit(f"{len(FAILURES)} check(s) failed")
print("options: all checks passed")
