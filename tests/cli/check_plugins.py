#!/usr/bin/python3
"""Runtimes as plugins, from the command line, as a user meets them:

- the rtml executable links no other runtime (ldd), and `rtml info` maps none;
- an rtml without its plugins says which plugin is missing, where it looked
  and how to install it (exit 1), and the engine still runs;
- each plugin built here (PLUGIN...) runs zoo models through `rtml bench` with
  the accuracy check passing against the zoo's test data (PyTorch's outputs),
  reports its runtime and counts heap allocations per run, and
  `rtml profile` shows per-operator rows from the runtime's own profiler.

usage: check_plugins.py RTML ZOO_DIR [PLUGIN...]   (PLUGIN: torch, onnxruntime, xnnpack, armnn; armnn
runs .tflite files, not the zoo's: tests/armnn/check_armnn.py checks it beyond step 2)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

RTML, ZOO, PLUGINS = sys.argv[1], sys.argv[2], sys.argv[3:]
failures = []
RUNTIME_LIBS = ("libtorch", "libc10", "libonnxruntime", "libXNNPACK", "libarmnn")
# What each plugin's runtime calls itself in the report's backend_info.
RUNTIME_NAME = {"torch": "LibTorch ", "onnxruntime": "ONNX Runtime ", "xnnpack": "XNNPACK "}
# Models each runtime can run (XNNPACK's 2022 build has no recurrent cells, Tanh or Exp).
MODELS = {"torch": ["mlp_relu_d3_w64", "gru_stream_h64", "digits_cnn", "mdn_k8_d2"],
          "onnxruntime": ["mlp_relu_d3_w64", "gru_stream_h64", "digits_cnn", "mdn_k8_d2"],
          "xnnpack": ["mlp_relu_d3_w64", "digits_cnn", "gesture_cnn", "resnet1d_c32_l64"]}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def rtml(*args, exe=RTML, env=None):
    p = subprocess.run([exe, *args], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def write_unknown_op_model(path):
    """y = RtmlNoSuchOp(x): a valid ONNX file no runtime can run."""
    import onnx
    from onnx import TensorProto, helper
    node = helper.make_node("RtmlNoSuchOp", ["x"], ["y"], name="mystery")
    graph = helper.make_graph([node], "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def loaded_objects(exe, *args):
    """The shared objects the dynamic loader opens while `exe args` runs
    (LD_DEBUG=files names each one)."""
    env = dict(os.environ, LD_DEBUG="files")
    p = subprocess.run([exe, *args], capture_output=True, text=True, env=env)
    return [line for line in p.stderr.splitlines() if "file=" in line]


# 1. ldd: no runtime library in the executable.
ldd = subprocess.run(["ldd", RTML], capture_output=True, text=True).stdout
for lib in RUNTIME_LIBS:
    check(lib not in ldd, f"ldd rtml lists {lib}")
opened = loaded_objects(RTML, "info", os.path.join(ZOO, "matvec_16", "model.onnx"))
check(len(opened) > 0, "LD_DEBUG=files showed no library loads (the check would prove nothing)")
for lib in RUNTIME_LIBS + ("rtml-backend-",):
    check(not any(lib in line for line in opened), f"rtml info loads {lib}")

with tempfile.TemporaryDirectory() as tmp:
    # 2. rtml without its plugins (a copy alone in a folder; no RTML_PLUGIN_PATH).
    lone = os.path.join(tmp, "rtml")
    shutil.copy(RTML, lone)
    env = {k: v for k, v in os.environ.items() if k != "RTML_PLUGIN_PATH"}
    model = os.path.join(ZOO, "mlp_relu_d3_w64")
    for name, hint in (("torch", "libtorch-dev"), ("onnxruntime", "RTML_ONNXRUNTIME_ROOT"),
                       ("xnnpack", "libxnnpack-dev"), ("armnn", "libarmnn-dev")):
        rc, out, err = rtml("bench", model, "--backend", name, "--no-db", "--runs", "5", exe=lone, env=env)
        check(rc == 1, f"bench --backend {name} without its plugin: exit {rc}, expected 1")
        for part in (f"rtml-backend-{name}.so", "not installed", tmp, hint):
            check(part in err, f"bench --backend {name} without its plugin: '{part}' not in: {err.strip()}")
    rc, out, err = rtml("bench", model, "--backend", "native", "--no-db", "--runs", "5", exe=lone, env=env)
    check(rc == 0, f"native bench without any plugin: exit {rc}: {err.strip()}")

    # 3. Every plugin built here: accuracy against the zoo's test data, its runtime named, heap counted.
    for plugin in (p for p in PLUGINS if p in MODELS):
        report = os.path.join(tmp, f"{plugin}.json")
        rc, out, err = rtml("bench", *[os.path.join(ZOO, m) for m in MODELS[plugin]], "--backend", f"native,{plugin}",
                            "--no-db", "--runs", "20", "--json", report)
        check(rc == 0, f"bench --backend native,{plugin}: exit {rc}: {err.strip()[-400:]}")
        if not os.path.exists(report):
            continue
        runs = [r for r in json.load(open(report))["runs"] if r["backend"] == plugin]
        check(sorted(r["model"] for r in runs) == sorted(MODELS[plugin]), f"{plugin}: runs {[r['model'] for r in runs]}")
        for r in runs:
            where = f"{plugin} on {r['model']}"
            check(r["status"] == "ok", f"{where}: status {r['status']}: {r.get('error')}")
            acc = r.get("accuracy") or {}
            check(acc.get("passed") is True, f"{where}: accuracy not passed: {acc}")
            check(acc.get("compared_elements", 0) > 0, f"{where}: nothing compared: {acc}")
            check(r["backend_info"].get("runtime", "").startswith(RUNTIME_NAME[plugin]),
                  f"{where}: runtime {r['backend_info'].get('runtime')}")
            heap = r.get("heap") or {}
            check(isinstance(heap.get("allocations_per_run"), (int, float)),
                  f"{where}: heap allocations not counted: {heap}")

        # A model the runtime cannot take is an error row naming it, and the sweep goes on.
        bad_dir = os.path.join(tmp, "bad_model")
        os.makedirs(bad_dir, exist_ok=True)
        write_unknown_op_model(os.path.join(bad_dir, "model.onnx"))
        if plugin == "torch":  # torch runs the TorchScript beside the model: make that the bad part
            with open(os.path.join(bad_dir, "model.pt"), "w") as f:
                f.write("not a zip archive")
        bad_report = os.path.join(tmp, f"{plugin}-bad.json")
        rc, out, err = rtml("bench", bad_dir, model, "--backend", plugin, "--no-db", "--runs", "5",
                            "--json", bad_report)
        check(rc == 1, f"{plugin} on a model with an unknown op: exit {rc}, expected 1")
        if os.path.exists(bad_report):
            rows = {r["model"]: r for r in json.load(open(bad_report))["runs"]}
            bad = rows.get("bad_model", {})
            check(bad.get("status") == "error", f"{plugin} on an unknown op: status {bad.get('status')}")
            check(plugin in (bad.get("error") or "") or "RtmlNoSuchOp" in (bad.get("error") or ""),
                  f"{plugin} on an unknown op: error {bad.get('error')}")
            check(rows.get("mlp_relu_d3_w64", {}).get("status") == "ok", f"{plugin}: the sweep did not go on")
        if plugin == "torch":
            # A model without TorchScript (the zoo's int8 files) is not covered, not an error.
            os.remove(os.path.join(bad_dir, "model.pt"))
            rc, out, err = rtml("bench", bad_dir, "--backend", plugin, "--no-db", "--runs", "5", "--json", bad_report)
            check(rc == 0, f"torch on a model without TorchScript: exit {rc}, expected 0 (not covered)")
            gaps = json.load(open(bad_report)).get("not_covered") or [{}]
            check(gaps[0].get("model") == "bad_model" and "no TorchScript" in gaps[0].get("reason", ""),
                  f"torch on a model without TorchScript: not covered {gaps}")

        # 4. The runtime's own per-operator profile.
        if plugin == "onnxruntime":
            prof = os.path.join(tmp, "profile.json")
            rc, out, err = rtml("profile", os.path.join(ZOO, "digits_cnn"), "--backend", plugin, "--no-db",
                                "--runs", "30", "--json", prof)
            check(rc == 0, f"profile --backend {plugin}: exit {rc}: {err.strip()[-400:]}")
            if os.path.exists(prof):
                p = json.load(open(prof))
                ops = p.get("ops") or []
                check(len(ops) >= 3, f"profile --backend {plugin}: {len(ops)} operator rows")
                check(all(o.get("calls") == 30 for o in ops), f"profile --backend {plugin}: calls per row "
                      f"{[o.get('calls') for o in ops]}, expected 30 each (one per profiled run)")
                types = {o.get("op_type") for o in ops}
                check({"Conv", "Gemm"} <= types, f"profile --backend {plugin}: op types {types}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print(f"plugins: all checks passed ({', '.join(PLUGINS) or 'no plugin built'})")
