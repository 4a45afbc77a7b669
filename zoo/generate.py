#!/usr/bin/python3
"""Generates the rtml model zoo: ONNX + TorchScript + test data + manifest.json.

usage: generate.py [--out DIR] [--set default|sweep|patterns|all] [--only NAME]... [--list] [--rtml PATH]

Deterministic: fixed seeds and one thread, so two runs write identical files.
Runs with Debian's Python (/usr/bin/python3) and its python3-torch,
python3-onnx, python3-numpy and python3-sklearn packages. `rtml zoo` calls this.
"""
import argparse
import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MANIFEST_SCHEMA = "rtml.zoo/1"


def export_in_child(export, m, out):
    """Runs export(m, out) in a forked child of this process (torch already imported).

    TorchScript numbers the classes it compiles per process (___torch_mangle_N), so
    in one process a model's .pt would depend on which models were traced before
    it; a fresh child per model makes every file depend on its model alone (and
    keeps one model's crash from taking the others down)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            result = {"entry": export(m, out)}
        except Exception as e:
            result = {"error": f"{type(e).__name__}: {e}"}
        with os.fdopen(write_end, "w") as f:
            json.dump(result, f)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    if not text:
        return {"error": f"exporter process died (wait status {status})"}
    return json.loads(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="rtml-zoo", help="output folder (default: ./rtml-zoo)")
    ap.add_argument("--set", default="default", choices=["default", "sweep", "patterns", "all"],
                    help="default: a small set for quick checks; sweep: the size sweeps; patterns: models whose export spells out what the plan rewrites; all: every model")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="generate only this model (repeatable); others already in the manifest are kept")
    ap.add_argument("--list", action="store_true", help="list the models of the set and exit")
    ap.add_argument("--rtml", metavar="PATH",
                    help="also write int8 versions of some models with `PATH quantize` (zoo/quantized.py; "
                         "rtml zoo passes itself)")
    args = ap.parse_args()

    missing = []
    for mod in ("torch", "onnx", "numpy", "sklearn"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        sys.exit(f"generate.py: missing Python modules {missing} in {sys.executable}; install Debian's packages: "
                 "sudo apt-get install python3-torch python3-onnx python3-numpy python3-sklearn")

    import torch
    import onnx
    from families import all_models
    import common
    import quantized

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)

    models = all_models()
    if args.only:
        known = {m.name for m in models}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            sys.exit(f"generate.py: no zoo model named {unknown} (generate.py --list --set all lists them)")
        chosen = [m for m in models if m.name in args.only]
    else:
        chosen = [m for m in models if args.set == "all" or args.set in m.sets]
    if args.list:
        for m in chosen:
            print(f"{m.name:28s} {m.family:12s} {m.description}")
        return

    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    entries = {}
    if args.only and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        if old.get("schema") == MANIFEST_SCHEMA:
            entries = {e["name"]: e for e in old["models"]
                       if os.path.exists(os.path.join(args.out, e["files"]["onnx"]))}

    start = time.monotonic()
    for i, m in enumerate(chosen, 1):
        t0 = time.monotonic()
        print(f"[{i:3d}/{len(chosen)}] {m.name:28s}", end="", flush=True)
        result = export_in_child(common.export, m, args.out)
        if "error" in result:
            print(" FAILED")
            sys.exit(f"generate.py: {m.name}: {result['error']}")
        entries[m.name] = result["entry"]
        e = entries[m.name]
        acc = f"  held-out top-1 {e['pytorch_top1']:.1%}" if "pytorch_top1" in e else ""
        print(f" {time.monotonic() - t0:5.1f} s  {e['flops'] / 1e6:9.3f} MFLOP  "
              f"{e['parameter_bytes'] / 1024:8.1f} KiB{acc}", flush=True)

    if args.rtml:
        for m in chosen:
            if m.name not in quantized.QUANTIZED:
                continue
            t0 = time.monotonic()
            print(f"      {m.name + '_int8':28s}", end="", flush=True)
            try:
                e = quantized.quantize(args.rtml, args.out, entries[m.name], m)
            except Exception as ex:
                print(" FAILED")
                sys.exit(f"generate.py: {m.name}_int8: {ex}")
            entries[e["name"]] = e
            acc = (f"  top-1 {e['int8_top1']:.1%} (float {e['float_top1']:.1%})" if "int8_top1" in e
                   else f"  max abs error {e['max_abs_error']:.3g}")
            print(f" {time.monotonic() - t0:5.1f} s  int8, {e['parameter_bytes'] / 1024:8.1f} KiB{acc}", flush=True)

    order = {m.name: k for k, m in enumerate(models)}

    def position(e):  # an int8 model right after the model it was made from
        src = e.get("quantized_from", e["name"])
        return (order.get(src, len(order)), "quantized_from" in e)

    manifest = {
        "schema": MANIFEST_SCHEMA,
        "set": "custom" if args.only else args.set,
        "generator": {"torch": torch.__version__, "onnx": onnx.__version__},
        "models": sorted(entries.values(), key=position),
    }
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(tmp, manifest_path)
    int8 = sum(1 for m in chosen if args.rtml and m.name in quantized.QUANTIZED)
    made = f"{len(chosen)} models" + (f" (+ {int8} int8)" if int8 else "")
    print(f"zoo: {made} in {time.monotonic() - start:.1f} s -> {manifest_path}")


if __name__ == "__main__":
    main()
