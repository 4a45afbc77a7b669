#!/usr/bin/python3
"""How fast is rtml on this machine, and how far from the hardware's limits?

usage: scripts/bench.py [--rtml build/rtml] [--zoo build/zoo] [--patterns build/zoo-patterns]
                        [--out build/bench] [--seconds S] [--filter SUBSTR]... [--no-profile]
                        [--no-patterns] [--no-schedules] [--update-readme README.md]

For every model of the zoo (default set) and of its `patterns` set (what torch.onnx writes out for
ordinary PyTorch code, which the plan's rewrites take apart), measured here in one go:
  - the core's limits: `rtml limits` (FMA peak GFLOP/s, read bandwidth from L1, L2, L3, DRAM);
  - `rtml bench --backend native,torch,handwritten,...`: the medians of our engine, LibTorch
    (single thread, OpenBLAS), ONNX Runtime and XNNPACK where their plugins are built (single
    thread), and, for the streaming models it covers, a plain hand-written C++ loop, all in one
    process on the same core; native / the best other runtime per model;
  - start-up: `rtml info` on a small model, wall time and peak resident memory (median of 20);
  - per model: GFLOP/s and GB/s (parameters + inputs + outputs per inference) and where that
    sits on the roofline of this core (min of FMA peak and bandwidth x intensity, bandwidth of
    the smallest cache level holding the weights and the arena);
  - `rtml profile`: the engine's own overhead per inference (plain-run median minus the steps'
    medians, without the step clocks), and the largest share of the profile taken by an op type
    that is not a product (Conv, Gemm, MatMul, recurrent cells and their int8 forms): the
    elementwise ops, pads, normalisations and data movement that surround the products;
  - real-time mode (`--block 16 --rate 44100 --rt`) for the streaming models: p99.9 / median;
  - `rtml info`: arena bytes against the liveness lower bound;
  - the zoo's int8 models (`NAME_int8`, made by `rtml quantize`) beside their float models:
    native medians of the same run, int8 / float32, parameter bytes, and the accuracy the
    manifest gives (top-1, or the max abs error of the int8 outputs against float);
  - schedules (scripts/bench_schedules.py; --no-schedules skips them): conv models tiled into
    half their arena on the emulated Cortex-M7 (arena and instructions, tiled and not), and
    `rtml tune` on the host and the Cortex-M7 (the whole model, default and tuned).
Prints one table, writes OUT/bench.json (everything) and OUT/bench.md (the table with the date
and the machine), and with --update-readme replaces the table between the
<!-- bench-table:begin --> and <!-- bench-table:end --> lines of that file.
A benchmark, not a test: timing is noisy on shared machines; read ratios measured in one run.
"""
import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time

from bench_schedules import schedule_markdown, schedule_rows

# The streaming real-time models: one inference per audio block. Their hand-written baseline,
# real-time tails and engine overhead are the issue's targets.
STREAMING = ["matvec_16", "matvec_64", "lstm_stream_h16", "lstm_stream_h64", "gru_stream_h64",
             "mlp_relu_d3_w64", "mlp_tanh_d2_w16", "mlp_sigmoid_d2_w64", "mdn_k8_d2", "mdn_k8_d4"]

# Op types whose steps are matrix products or recurrent cells. A fused step is named after its
# nodes' types ("Conv+Relu", an int8 group "DequantizeLinear+Conv+Relu+QuantizeLinear"), an
# elementwise chain after its ops ("Tanh+Add"): a step is a product when one of its nodes is.
PRODUCTS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN", "QLinearConv", "QLinearMatMul",
            "ConvInteger", "MatMulInteger", "Attention"}

# Bytes per element of the dtypes `rtml info --json` names.
DTYPE_BYTES = {"float": 4, "double": 8, "float16": 2, "int64": 8, "int32": 4, "int8": 1, "uint8": 1, "bool": 1}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, **kw)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def bench_runs(path):
    rep = load_json(path)
    by_model = {}
    for r in rep["runs"]:
        by_model.setdefault(r["model"], {})[r["backend"]] = r
    return rep, by_model


def median(run):
    if not run or run.get("status") != "ok":
        return None
    return run["latency_us"]["median"]


# Runtimes other than the engine, in table order: plugin name -> column title.
RUNTIMES = {"torch": "LibTorch", "onnxruntime": "ONNX Runtime", "xnnpack": "XNNPACK"}


def plugins_beside(rtml):
    """The runtimes whose plugin (rtml-backend-NAME.so) sits beside this rtml."""
    here = os.path.dirname(os.path.abspath(rtml))
    return [b for b in RUNTIMES if os.path.exists(os.path.join(here, f"rtml-backend-{b}.so"))]


def startup(rtml, model, times=20):
    """`rtml info MODEL`: median wall ms (timed here around the child) and median peak resident MiB
    (from /usr/bin/time, Debian's `time`: a direct child of this Python would count Python's own
    resident memory, which its fork copied, in its peak) over `times` runs each."""
    wall, rss = [], []
    for _ in range(times):
        t = time.perf_counter()
        p = subprocess.run([rtml, "info", model], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall.append(1e3 * (time.perf_counter() - t))
        if p.returncode != 0:
            sys.exit(f"bench: rtml info {model} failed")
        p = subprocess.run(["/usr/bin/time", "-f", "%M", rtml, "info", model], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        rss.append(int(p.stderr.strip().splitlines()[-1]) / 1024)  # KiB
    return {"model": model, "wall_ms": sorted(wall)[times // 2], "peak_rss_mib": sorted(rss)[times // 2],
            "runs": times}


def largest_other_share(by_type):
    """(op type, percent) of the costliest op type of a `rtml profile --by-type-only` that is not a
    product, or None."""
    rest = [t for t in by_type if not PRODUCTS.intersection(t["op_type"].split("+"))]
    if not rest:
        return None
    top = max(rest, key=lambda t: t["percent"])
    return top["op_type"], top["percent"]


def level_for(limits, working_bytes):
    """The smallest memory level whose measured buffer is at least the working set."""
    levels = [lv for lv in limits["levels"] if lv.get("read_gbps")]
    for lv in levels:
        if lv.get("bytes") and working_bytes <= lv["bytes"]:
            return lv
    return levels[-1] if levels else None


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rtml", default="build/rtml")
    ap.add_argument("--zoo", default="build/zoo")
    ap.add_argument("--patterns", default="build/zoo-patterns", help="the zoo's patterns set (made when missing)")
    ap.add_argument("--no-patterns", action="store_true", help="the default set only")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--seconds", default="1", help="timed seconds per model and backend (default 1)")
    ap.add_argument("--filter", action="append", default=[], help="only models whose name contains this")
    ap.add_argument("--no-profile", action="store_true", help="skip the engine-overhead profiles")
    ap.add_argument("--no-schedules", action="store_true",
                    help="skip the tiled and tuned rows (about 8 minutes of builds and QEMU runs)")
    ap.add_argument("--update-readme", metavar="FILE", help="replace the table between the bench-table markers")
    args = ap.parse_args()

    if not os.access(args.rtml, os.X_OK):
        sys.exit(f"bench: {args.rtml} is not an executable: build first (make build)")
    os.makedirs(args.out, exist_ok=True)
    zoos = [(args.zoo, "default")] + ([] if args.no_patterns else [(args.patterns, "patterns")])
    for path, which in zoos:
        if not os.path.exists(os.path.join(path, "manifest.json")):
            run([args.rtml, "zoo", "--out", path, "--set", which], check=True)
    filters = [a for f in args.filter for a in ("--filter", f)]

    # 1. The core's limits.
    limits_path = os.path.join(args.out, "limits.json")
    run([args.rtml, "limits", "--json", limits_path], check=True, stdout=subprocess.DEVNULL)
    limits = load_json(limits_path)

    # 2. Native, the other runtimes and the hand-written loops, one process.
    runtimes = plugins_beside(args.rtml)
    missing = [RUNTIMES[b] for b in RUNTIMES if b not in runtimes]
    if missing:
        log(f"bench: no plugin for {', '.join(missing)} beside {args.rtml}: those columns stay empty")
    backends = ",".join(["native", *runtimes, "handwritten"])
    by_model, model_dir = {}, {}
    for path, which in zoos:
        bench_path = os.path.join(args.out, f"bench-runs-{which}.json")
        p = run([args.rtml, "bench", path, "--backend", backends, "--seconds", args.seconds,
                 "--no-db", "--no-samples", "--json", bench_path, *filters], stdout=subprocess.DEVNULL)
        if not os.path.exists(bench_path):
            sys.exit(f"bench: rtml bench {path} wrote no report (exit {p.returncode})")
        report, runs = bench_runs(bench_path)
        by_model.update(runs)
        model_dir.update({m: os.path.join(path, m) for m in runs})
    models = list(by_model)

    # 3. Real-time mode for the streaming models (64 µs of work at most per 363 µs block).
    stream = [m for m in models if m in STREAMING]
    rt = {}
    if stream:
        rt_path = os.path.join(args.out, "bench-rt.json")
        run([args.rtml, "bench", args.zoo, "--backend", "native", "--block", "16", "--rate", "44100", "--rt",
             "--seconds", args.seconds, "--no-db", "--no-samples", "--no-accuracy", "--json", rt_path,
             *[a for m in stream for a in ("--filter", m)]], stdout=subprocess.DEVNULL)
        rt = {m: r.get("native") for m, r in bench_runs(rt_path)[1].items()}

    # 4. Model facts and the engine's overhead.
    info, overhead, other_share = {}, {}, {}
    for m in models:
        onnx = os.path.join(model_dir[m], "model.onnx")
        out = run([args.rtml, "info", onnx, "--json"], capture_output=True, text=True, check=True).stdout
        info[m] = json.loads(out)
        if not args.no_profile:
            prof = os.path.join(args.out, "profile-" + m + ".json")
            p = run([args.rtml, "profile", onnx, "--no-db", "--runs", "2000", "--by-type-only", "--json", prof],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if p.returncode == 0:
                e = load_json(prof).get("engine_overhead")
                overhead[m] = e["overhead_us"] if e else None
                other_share[m] = largest_other_share(load_json(prof).get("by_type", []))

    # 5. Start-up of the rtml command (no runtime loaded: plugins load only when asked for).
    small = os.path.join(args.zoo, "matvec_16", "model.onnx")
    start = startup(args.rtml, small) if os.path.exists(small) and os.access("/usr/bin/time", os.X_OK) else None

    # 6. One row per model.
    peak = limits["fma_gflops"]
    rows = []
    for m in models:
        runs = by_model[m]
        n, t, h = median(runs.get("native")), median(runs.get("torch")), median(runs.get("handwritten"))
        o, x = median(runs.get("onnxruntime")), median(runs.get("xnnpack"))
        others = {b: median(runs.get(b)) for b in RUNTIMES if median(runs.get(b))}
        best = min(others, key=others.get) if others else None
        i = info[m]
        io_bytes = sum(DTYPE_BYTES.get(x["dtype"], 4) * math.prod(x["shape"]) for x in i["inputs"] + i["outputs"])
        moved = i["parameter_bytes"] + io_bytes
        level = level_for(limits, i["parameter_bytes"] + i["arena_bytes"] + io_bytes)
        gflops = i["flops"] / n / 1e3 if n else None
        gbps = moved / n / 1e3 if n else None
        roof = None
        if level and n:
            roof = min(peak, level["read_gbps"] * i["flops"] / moved) if moved else peak
        r = rt.get(m)
        tail = (r["latency_us"]["p999"] / r["latency_us"]["median"]) if r and r.get("status") == "ok" else None
        lb = i["lower_bound_bytes"]
        rows.append({
            "model": m,
            "native_us": n, "torch_us": t, "onnxruntime_us": o, "xnnpack_us": x, "handwritten_us": h,
            "native_vs_torch": n / t if n and t else None,
            "best_other": best, "native_vs_best_other": n / others[best] if n and best else None,
            "native_vs_handwritten": n / h if n and h else None,
            "flops": i["flops"], "bytes_moved": moved,
            "gflops": gflops, "gbps": gbps,
            "percent_of_fma_peak": 100 * gflops / peak if gflops else None,
            "level": level["name"] if level else None,
            "percent_of_level_bandwidth": 100 * gbps / level["read_gbps"] if gbps and level else None,
            "percent_of_roofline": 100 * gflops / roof if gflops and roof else None,
            "engine_overhead_ns": 1e3 * overhead[m] if overhead.get(m) is not None else None,
            "largest_other_op": other_share[m][0] if other_share.get(m) else None,
            "largest_other_percent": other_share[m][1] if other_share.get(m) else None,
            "rt_p999_over_median": tail,
            "rt_missed": r["realtime"]["deadline_misses"] if r and r.get("realtime") else None,
            "arena_bytes": i["arena_bytes"], "lower_bound_bytes": lb,
            "arena_ratio": i["arena_bytes"] / lb if lb else None,
            "accuracy": {b: (x.get("accuracy") or {}).get("passed") for b, x in runs.items()},
            "errors": {b: x.get("error") for b, x in runs.items() if x.get("status") != "ok"},
        })

    int8 = int8_rows(rows, info, load_json(os.path.join(args.zoo, "manifest.json")))

    # 7. Schedules (issue 18): tiled into half the arena and tuned, on the emulated Cortex-M7 and here.
    schedules = None if args.no_schedules else schedule_rows(args.rtml, args.zoo, os.path.join(args.out, "schedules"))

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    host = report["host"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    table = markdown(rows, limits, host, when, commit, args.seconds, start, runtimes)
    if int8:
        table += "\n\n" + int8_markdown(int8)
    if schedules:
        table += "\n\n" + schedule_markdown(schedules)
    print(table)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump({"schema": "rtml.bench-summary/1", "date": when, "commit": commit, "host": host,
                   "limits": limits, "startup": start, "runtimes": runtimes, "rows": rows, "int8": int8,
                   "schedules": schedules},
                  f, indent=1)
    log(f"wrote {args.out}/bench.md and {args.out}/bench.json")
    if args.update_readme:
        update_readme(args.update_readme, table)
        log(f"updated the table in {args.update_readme}")


def int8_rows(rows, info, manifest):
    """Each int8 model measured, beside the float model it was quantized from (when measured too)."""
    native = {r["model"]: r["native_us"] for r in rows}
    out = []
    for e in manifest["models"]:
        src = e.get("quantized_from")
        if not src or e["name"] not in native or src not in native:
            continue
        f, q = native[src], native[e["name"]]
        out.append({"model": e["name"], "float_model": src, "float_us": f, "int8_us": q,
                    "int8_vs_float": q / f if f and q else None,
                    "float_parameter_bytes": info[src]["parameter_bytes"],
                    "int8_parameter_bytes": info[e["name"]]["parameter_bytes"],
                    "float_top1": e.get("float_top1"), "int8_top1": e.get("int8_top1"),
                    "max_abs_error": e.get("max_abs_error"), "mean_abs_error": e.get("mean_abs_error")})
    return out


def int8_markdown(int8):
    out = ["int8 against float32 (the zoo's `NAME_int8` models, made by `rtml quantize`; native medians of "
           "this run; accuracy from the manifest, on the model's test data):",
           "",
           "| model | float32 µs | int8 µs | int8 / float32 | parameters float32 -> int8 | int8 vs float |",
           "|---|---:|---:|---:|---|---|"]
    for r in int8:
        if r["int8_top1"] is not None:
            acc = f"top-1 {100 * r['float_top1']:.1f}% -> {100 * r['int8_top1']:.1f}%"
        else:
            acc = f"max abs error {r['max_abs_error']:.3g}, mean {r['mean_abs_error']:.3g}"
        out.append(f"| {r['model']} | {fmt(r['float_us'], '.2f', 'error')} | {fmt(r['int8_us'], '.2f', 'error')} "
                   f"| {fmt(r['int8_vs_float'], '.2f')} | {r['float_parameter_bytes'] / 1024:.1f} KiB -> "
                   f"{r['int8_parameter_bytes'] / 1024:.1f} KiB | {acc} |")
    return "\n".join(out)


def markdown(rows, limits, host, when, commit, seconds, start, runtimes):
    lv = ", ".join(f"{x['name']} {x['read_gbps']:.0f} GB/s" for x in limits["levels"] if x.get("read_gbps"))
    names = ", ".join(RUNTIMES[b] for b in runtimes) or "no other runtime"
    out = [f"Measured {when} at {commit or 'an uncommitted tree'} on {host['cpu_model']} ({host['arch']}, "
           f"{host['cores']} cores, {host['os']}), one thread, {seconds} s per model and runtime "
           f"(runtimes beside the engine: {names}). "
           f"Limits (`rtml limits`, Highway {limits['target']}): FMA peak {limits['fma_gflops']:.1f} GFLOP/s; "
           f"read bandwidth {lv}.",
           "",
           "| model | native µs | LibTorch µs | ONNX Runtime µs | XNNPACK µs | native / best other | native / LibTorch "
           "| hand-written µs | native / hand | GFLOP/s | % FMA peak | GB/s | level | % level BW | % roofline "
           "| engine overhead ns | largest other op % | rt p99.9 / median | arena / bound |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        def other(b):
            if b not in runtimes:
                return "n/a"
            return fmt(r[b + "_us"], ".2f", "error" if r["errors"].get(b) else "-")
        best = fmt(r["native_vs_best_other"], ".3f")
        if r["best_other"]:
            best += f" ({RUNTIMES[r['best_other']]})"
        out.append("| " + " | ".join([
            r["model"], fmt(r["native_us"], ".2f", "error"), other("torch"), other("onnxruntime"), other("xnnpack"),
            best, fmt(r["native_vs_torch"], ".3f"), fmt(r["handwritten_us"], ".2f"),
            fmt(r["native_vs_handwritten"], ".2f"),
            fmt(r["gflops"], ".2f"), fmt(r["percent_of_fma_peak"], ".0f"), fmt(r["gbps"], ".1f"),
            r["level"] or "-", fmt(r["percent_of_level_bandwidth"], ".0f"), fmt(r["percent_of_roofline"], ".0f"),
            fmt(r["engine_overhead_ns"], ".0f"),
            "-" if r["largest_other_op"] is None else f"{r['largest_other_percent']:.0f} ({r['largest_other_op']})",
            fmt(r["rt_p999_over_median"], ".2f"),
            fmt(r["arena_ratio"], ".2f")]) + " |")
    over = [r["model"] for r in rows
            if (r["percent_of_fma_peak"] or 0) > 100 or (r["percent_of_level_bandwidth"] or 0) > 100]
    if over:
        out += ["", f"Above 100%: {', '.join(over)}. FLOPs and bytes are counted from the graph as dense; "
                    "a kernel that skips zero weights (kernels/fast_sparse) does less work than that count."]
    for key, title in (("native_vs_best_other", "the best other runtime"), ("native_vs_torch", "LibTorch")):
        ratios = sorted(r[key] for r in rows if r[key])
        if ratios:
            out += ["", f"native / {title}: median {ratios[len(ratios) // 2]:.3f} over {len(ratios)} models, "
                        f"best {ratios[0]:.3f}, worst {ratios[-1]:.3f}; above 1.0: "
                        f"{', '.join(r['model'] for r in rows if (r[key] or 0) > 1.0) or 'none'}."]
    shares = [r for r in rows if r["largest_other_percent"] is not None]
    if shares:
        over = [f"{r['model']} ({r['largest_other_percent']:.0f}% {r['largest_other_op']})"
                for r in shares if r["largest_other_percent"] > 10]
        out += ["", "largest other op %: the costliest op type in `rtml profile` that is not a product (Conv, "
                    "Gemm, MatMul, recurrent cells); above 10%: " + (", ".join(over) or "none") + "."]
    if start:
        out += ["", f"Start-up: `rtml info` on {os.path.basename(os.path.dirname(start['model']))} takes "
                    f"{start['wall_ms']:.1f} ms wall and peaks at {start['peak_rss_mib']:.1f} MiB resident "
                    f"(median of {start['runs']}; no runtime plugin is loaded)."]
    return "\n".join(out)


def update_readme(path, table):
    begin, end = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        sys.exit(f"bench: {path} has no {begin} ... {end} lines to replace")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + begin + "\n" + table + "\n" + end + tail)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
