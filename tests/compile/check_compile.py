#!/usr/bin/python3
"""`rtml compile --project` against `rtml run` on zoo models, on the host or
under QEMU on an emulated Cortex-M (--target cortex-m7|cortex-m4|cortex-m55).
A MODEL ending in .tflite (the MLPerf Tiny files) has no test data: it runs on
three seeded random inputs (uniform over int8, or in [-1, 1) for float).

For every model folder given: compile it with each kernel set, build the project
with its Makefile (C99 -pedantic -Werror: any warning fails), run it on each
test_data_set_N's inputs, and compare with `rtml run --kernels SET` on the same
inputs. The generated code calls the same kernels with the same params in the
same order, so with the reference set the outputs must be identical bit for bit;
with simd (Highway kernels built by another compiler invocation) within 1e-5.
The cmsis-nn set (--cmsis-nn DIR: the CMSIS-NN tree the project builds) runs
its int8 steps in CMSIS-NN, the rest in rtml's kernels: compared with `rtml run
--kernels cortex-m`, bit for bit (both compute TFLite's integer arithmetic).
On a Cortex-M (arm-none-eabi-gcc, QEMU's board) the float results may differ
from the host's in the last bits (the FPU fuses multiply-adds): within 1e-5.
Each set runs in its own process, as `rtml run` does (random ops start from
their seed each time).

With --ram FRACTION, each model is compiled with --ram set to FRACTION of its
untiled arena (docs/tiling.md: the first layers run in row bands) and still
compared with the default plan's `rtml run` (no --ram): bit for bit where the
untiled code is; on a Cortex-M the arena is linked alone into a RAM region of
exactly that budget (TARGET_budget.ld), and the test main's arena is checked
against it.

With --memory F0,F1,... each model is compiled with --memory l0:B0,l1:B1,...
where Bk is Fk times its untiled arena (docs/tiling.md: the steps work in l0,
tensors that do not fit there are kept in l1 and copied in and out around the
steps that use them, row bands when that is not enough), and compared in the
same way; on a Cortex-M each level is linked alone into a RAM region of exactly
its budget, and the generated header's level sizes are checked against them.

usage: check_compile.py RTML MODEL_DIR|MODEL.tflite... [--kernels reference,simd] [--target NAME] [--cmsis-nn DIR]
                        [--ram FRACTION | --memory F0,F1,...] [--max-sets N]
Exit 77 (skip) when the compilers (or, for a Cortex-M, QEMU) are not installed,
or when a .tflite file (or the --cmsis-nn folder) given is missing (the MLPerf Tiny models live in ../shared;
$RTML_SHARED, when set, replaces the folder of every .tflite file given by
$RTML_SHARED/models/mlperf-tiny, as the tflite tests do).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from onnx import TensorProto, numpy_helper

args = sys.argv[1:]
kernel_sets = ["reference", "simd"]
if "--kernels" in args:
    i = args.index("--kernels")
    kernel_sets = args[i + 1].split(",")
    del args[i:i + 2]
target = "host"
if "--target" in args:
    i = args.index("--target")
    target = args[i + 1]
    del args[i:i + 2]
    if "--kernels" not in sys.argv:
        kernel_sets = ["cortex-m"]
cmsis_nn = None
if "--cmsis-nn" in args:
    i = args.index("--cmsis-nn")
    cmsis_nn = args[i + 1]
    del args[i:i + 2]
    if not os.path.isfile(os.path.join(cmsis_nn, "Include", "arm_nnfunctions.h")):
        print(f"SKIP: no CMSIS-NN at {cmsis_nn} (it lives in ../shared/third_party; set RTML_CMSIS_NN_DIR)")
        sys.exit(77)
ram_fraction = None
if "--ram" in args:
    i = args.index("--ram")
    ram_fraction = float(args[i + 1])
    del args[i:i + 2]
memory_fractions = None
if "--memory" in args:
    i = args.index("--memory")
    memory_fractions = [float(f) for f in args[i + 1].split(",")]
    del args[i:i + 2]
max_sets = None  # --max-sets N: the first N test sets of each model (gesture_cnn has 226)
if "--max-sets" in args:
    i = args.index("--max-sets")
    max_sets = int(args[i + 1])
    del args[i:i + 2]
RTML, MODELS = args[0], args[1:]
if os.environ.get("RTML_SHARED"):  # as the tflite tests: $RTML_SHARED/models/mlperf-tiny overrides
    MODELS = [os.path.join(os.environ["RTML_SHARED"], "models", "mlperf-tiny", os.path.basename(m))
              if m.endswith(".tflite") else m for m in MODELS]
absent = [m for m in MODELS if m.endswith(".tflite") and not os.path.isfile(m)]
if absent:
    print("SKIP: missing: " + ", ".join(absent) + " (the MLPerf Tiny models live in ../shared; set RTML_SHARED_DIR)")
    sys.exit(77)
cortex_m = target.startswith("cortex-m")
tools = ["arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm", "make"] if cortex_m else ["cc", "c++", "make"]
missing = [t for t in tools if not shutil.which(t)]
if missing:
    print("SKIP: not installed: " + ", ".join(missing) + " (scripts/install-deps.sh installs them)")
    sys.exit(77)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def load_pb(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def random_inputs(tensors, seed):
    """Seeded random inputs for a model without test data (rtml info --json's inputs)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for t in tensors:
        dt = np.dtype({"float": "float32", "double": "float64"}.get(t["dtype"], t["dtype"]))  # ONNX's names
        if np.issubdtype(dt, np.integer):
            lim = np.iinfo(dt)
            arrays.append(rng.integers(lim.min, lim.max, size=t["shape"], endpoint=True).astype(dt))
        else:
            arrays.append(rng.uniform(-1, 1, size=t["shape"]).astype(dt))
    return arrays


checked = 0
if "cmsis-nn" in kernel_sets:  # the set's usage errors, on the first model
    first = MODELS[0] if MODELS[0].endswith(".tflite") else os.path.join(MODELS[0], "model.onnx")
    e = run([RTML, "compile", first, "--out", "unused", "--kernels", "cmsis-nn"])
    check(e.returncode == 2 and "--cmsis-nn DIR" in e.stderr, f"--kernels cmsis-nn without --cmsis-nn: exit 2\n{e.stderr}")
    e = run([RTML, "compile", first, "--out", "unused", "--kernels", "cmsis-nn", "--cmsis-nn", os.path.dirname(first)])
    check(e.returncode == 1 and "arm_nnfunctions.h" in e.stderr, f"--cmsis-nn without CMSIS-NN in it: exit 1\n{e.stderr}")
    e = run([RTML, "run", first, "--kernels", "cmsis-nn", "--random"])
    check(e.returncode == 1 and "generated code only" in e.stderr, f"rtml run refuses cmsis-nn\n{e.stderr}")
with tempfile.TemporaryDirectory() as tmp:
    for folder in MODELS:
        tflite = folder.endswith(".tflite")
        model = folder if tflite else os.path.join(folder, "model.onnx")
        name = os.path.basename(os.path.normpath(folder)).removesuffix(".tflite")
        info = json.loads(run([RTML, "info", model, "--json"]).stdout)
        in_names = [t["name"] for t in info["inputs"]]
        out_names = [t["name"] for t in info["outputs"]]
        sets = ["seed_1", "seed_2", "seed_3"] if tflite else \
            sorted(d for d in os.listdir(folder) if d.startswith("test_data_set_"))
        sets = sets[:max_sets]
        check(len(sets) > 0, f"{name}: has test data")
        for ks in kernel_sets:
            out = os.path.join(tmp, f"{name}-{ks}")
            ram, levels = [], []
            if ram_fraction or memory_fractions:
                untiled = json.loads(run([RTML, "info", model, "--json", "--kernels", ks]).stdout)["arena_bytes"]
            if ram_fraction:
                budget = int(untiled * ram_fraction)
                ram = ["--ram", str(budget)]
            if memory_fractions:
                levels = [(f"l{k}", int(untiled * f)) for k, f in enumerate(memory_fractions)]
                ram = ["--memory", ",".join(f"{n}:{b}" for n, b in levels)]
            p = run([RTML, "compile", model, "--out", out, "--project", "--kernels", ks, "--target", target] +
                    (["--cmsis-nn", cmsis_nn] if ks == "cmsis-nn" else []) + ram)
            if not check(p.returncode == 0, f"{name} [{ks}]: rtml compile exits 0\n{p.stderr}"):
                continue
            if ram_fraction:
                check("--ram      tiled: arena" in p.stdout, f"{name} [{ks}]: compiled tiled within {budget} B\n{p.stdout}")
            if levels:
                check("--memory   " in p.stdout and " kept out of l0" in p.stdout,
                      f"{name} [{ks}]: compiled with tensors kept out of l0 ({ram[1]})\n{p.stdout}")
                header = open(os.path.join(out, name.replace("-", "_") + ".h")).read()
                for n, b in levels:
                    size = [line.split()[2] for line in header.splitlines() if f"_LEVEL_{n}_BYTES " in line]
                    check(size and int(size[0].rstrip("u")) <= b, f"{name} [{ks}]: level {n} within its {b} B: {size}")
            if ram:
                check(not cortex_m or os.path.isfile(os.path.join(out, f"{target}_budget.ld")),
                      f"{name} [{ks}]: {target}_budget.ld written")
            c_name = name.replace("-", "_")
            b = run(["make", "-s", "-j2"] + ([f"TARGET={target}", "MARKERS=0"] if cortex_m else []), cwd=out)
            if not check(b.returncode == 0 and "warning" not in b.stderr,
                         f"{name} [{ks}]: the project builds warning-free\n{b.stdout}{b.stderr}"):
                continue
            if levels and cortex_m:  # each level's array linked into its own region
                maps = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(out, "build")) for f in fs
                        if f == "model.map"]
                text = open(maps[0]).read() if maps else ""
                for n, b in levels:
                    m = re.search(r"^\.rtml_level_" + n + r"\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", text, re.M)
                    check(m and 0 < int(m.group(1), 16) <= b,
                          f"{name} [{ks}]: section .rtml_level_{n} linked, within {b} B ({m.group(1) if m else 'absent'})")
            for s in sets:
                if tflite:
                    inputs = random_inputs(info["inputs"], int(s.removeprefix("seed_")))
                else:
                    d = os.path.join(folder, s)
                    inputs = [load_pb(os.path.join(d, f"input_{i}.pb")) for i in range(len(in_names))]
                with open(os.path.join(out, "inputs.bin"), "wb") as f:
                    for a in inputs:
                        f.write(np.ascontiguousarray(a).tobytes())
                if cortex_m:
                    r = run(["make", "-s", "run", f"TARGET={target}", "MARKERS=0"], cwd=out)
                else:
                    r = run([os.path.join(out, c_name), "inputs.bin", "outputs.bin"], cwd=out)
                if not check(r.returncode == 0, f"{name} [{ks}] {s}: the compiled model runs\n{r.stderr}"):
                    continue
                if ram_fraction and cortex_m:
                    arena = [w for w in (r.stdout + r.stderr).split() if w.startswith("arena_bytes=")]
                    check(arena and int(arena[0].split("=")[1]) <= budget,
                          f"{name} [{ks}] {s}: the test main's arena is within --ram {budget}\n{r.stdout}")
                npys = []
                for n, a in zip(in_names, inputs):
                    path = os.path.join(out, f"in_{len(npys)}.npy")
                    np.save(path, a)
                    npys += ["--input", f"{n}={path}"]
                ref_dir = os.path.join(out, "ref")
                e = run([RTML, "run", model, "--kernels", "cortex-m" if ks == "cmsis-nn" else ks, *npys,
                         "--output-dir", ref_dir])
                if not check(e.returncode == 0, f"{name} [{ks}] {s}: rtml run exits 0\n{e.stderr}"):
                    continue
                raw = open(os.path.join(out, "outputs.bin"), "rb").read()
                at = 0
                for n in out_names:
                    want = np.load(os.path.join(ref_dir, f"{n}.npy"))
                    got = np.frombuffer(raw[at:at + want.nbytes], dtype=want.dtype).reshape(want.shape)
                    at += want.nbytes
                    if ks == "reference" and not cortex_m or not np.issubdtype(want.dtype, np.floating):
                        same = np.array_equal(np.atleast_1d(got).view(np.uint8), np.atleast_1d(want).view(np.uint8))
                        check(same, f"{name} [{ks}] {s} output {n}: bit-identical to rtml run "
                                    f"(max |diff| {np.max(np.abs(got.astype(np.float64) - want)) if want.size else 0})")
                    else:
                        check(np.allclose(got, want, rtol=1e-5, atol=1e-5, equal_nan=True),
                              f"{name} [{ks}] {s} output {n}: within 1e-5 of rtml run")
                check(at == len(raw), f"{name} [{ks}] {s}: outputs.bin holds exactly the outputs ({len(raw)} bytes)")
                checked += 1

print(f"{checked} (model, kernel set, test set) runs compared: " + ("all good" if not failures else f"{len(failures)} failures"))
sys.exit(1 if failures else 0)
