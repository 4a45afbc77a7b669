#!/usr/bin/python3
"""Native vs LibTorch: the median latency ratio for every zoo model, measured in one run.

usage: scripts/bench-ratio.py [--rtml build/rtml] [--zoo build/zoo] [--set default|all] [--seconds S]
                              [-- extra rtml bench options]

Generates the zoo if it is missing, runs `rtml bench ZOO --backend native,torch`
(same process, same core, one thread each), and prints per model both medians
and native/torch (below 1: rtml is faster). A benchmark, not a test: timing
here is noisy, so read ratios, not absolute numbers.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rtml", default="build/rtml")
    ap.add_argument("--zoo", default="build/zoo")
    ap.add_argument("--set", default="default", choices=["default", "sweep", "all"])
    ap.add_argument("--seconds", default="1")
    ap.add_argument("extra", nargs="*", help="more rtml bench options (after --)")
    args = ap.parse_args()

    if not os.path.exists(os.path.join(args.zoo, "manifest.json")):
        subprocess.run([args.rtml, "zoo", "--out", args.zoo, "--set", args.set], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "ratio.json")
        cmd = [args.rtml, "bench", args.zoo, "--backend", "native,torch", "--seconds", args.seconds,
               "--no-accuracy", "--no-db", "--json", report, *args.extra]
        print("$", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, stdout=subprocess.DEVNULL)
        with open(report) as f:
            rep = json.load(f)

    by_model = {}
    for run in rep["runs"]:
        by_model.setdefault(run["model"], {})[run["backend"]] = run
    blas = next((r["backend_info"].get("blas") for r in rep["runs"]
                 if r["backend"] == "torch" and r.get("backend_info")), "?")
    print(f"host: {rep['host']['cpu_model']}, {rep['host']['arch']}; LibTorch BLAS: {blas}")
    print(f"{'model':28s} {'native us':>11s} {'torch us':>11s} {'native/torch':>13s}")
    ratios = []
    for model, runs in by_model.items():
        n, t = runs.get("native"), runs.get("torch")
        def med(r):
            return r["latency_us"]["median"] if r and r["status"] == "ok" else None
        mn, mt = med(n), med(t)
        ratio = mn / mt if mn and mt else None
        if ratio:
            ratios.append(ratio)
        cell = lambda v: f"{v:11.2f}" if v is not None else f"{'error':>11s}"
        print(f"{model:28s} {cell(mn)} {cell(mt)} {f'{ratio:13.3f}' if ratio else f'{chr(45):>13s}'}")
    if ratios:
        ratios.sort()
        print(f"median ratio {ratios[len(ratios) // 2]:.3f} over {len(ratios)} models "
              f"(best {ratios[0]:.3f}, worst {ratios[-1]:.3f})")


if __name__ == "__main__":
    main()
