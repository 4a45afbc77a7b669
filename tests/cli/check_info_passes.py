#!/usr/bin/python3
"""`rtml info --passes` and the `passes` array of `rtml info --json`: every
pass of the planner (the list in src/plan/pass.h and ARCHITECTURE.md), in
order, one line each, and numbers that agree with the rest of `info --json`.

usage: check_info_passes.py RTML ZOO_DIR
Uses the zoo's resnet1d_c32_l64 (ResNet blocks: Conv -> Relu and
Conv -> Add -> Relu, so fusion has work to do), and the patterns set for the
rewrites of what exporters write out.
"""
import json
import os
import subprocess
import sys

RTML, ZOO = sys.argv[1], sys.argv[2]
MODEL = os.path.join(ZOO, "resnet1d_c32_l64", "model.onnx")
PASSES = ["fold_transpose_matmul", "resolve_inputs", "apply_schedule", "prepare_fold", "fold_pad", "fold_causal_slice", "fuse_layer_norm", "fuse_softmax",
          "fuse_qdq", "drop_dead_steps", "fuse_epilogues", "fuse_elementwise_chains", "tile_rows", "alias_views",
          "emit_steps", "place_arena"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def rtml(*args):
    p = subprocess.run([RTML, *args], capture_output=True, text=True)
    check(p.returncode == 0, f"rtml {' '.join(args)} exits 0 (got {p.returncode}: {p.stderr.strip()})")
    return p.stdout


lines = rtml("info", MODEL, "--passes").splitlines()
check([line.split()[0] for line in lines if line.split()] == PASSES,
      f"--passes prints one line per pass, in order: {PASSES}; got {lines}")
for line in lines:
    check(len(line.split(None, 1)) == 2, f"each pass line says what the pass changed: {line!r}")

info = json.loads(rtml("info", MODEL, "--json"))
passes = {p["name"]: p for p in info.get("passes", [])}
check([p["name"] for p in info.get("passes", [])] == PASSES, "--json lists the same passes in the same order")
for line in lines:
    name, summary = line.split(None, 1)
    check(passes.get(name, {}).get("summary") == summary, f"--json's summary of {name} is the line --passes prints")
if set(passes) == set(PASSES):
    check(passes["fuse_epilogues"]["fused_nodes"] > 0, "the ResNet blocks' Relu and Add are fused")
    check(passes["emit_steps"]["steps"] == info["steps"], "emit_steps counts the plan's steps")
    check(passes["place_arena"]["arena_bytes"] == info["arena_bytes"], "place_arena reports the arena's size")
    check(passes["place_arena"]["lower_bound_bytes"] == info["lower_bound_bytes"],
          "place_arena reports the lower bound")
    # Every prepared step is dropped, absorbed by fusion, aliased, or emitted
    # (a chain of n nodes keeps one step).
    chains = passes["fuse_elementwise_chains"]
    left = (passes["prepare_fold"]["steps"] - passes["drop_dead_steps"]["dropped_steps"] -
            passes["fuse_epilogues"]["fused_nodes"] - (chains["fused_nodes"] - chains["chains"]) -
            passes["alias_views"]["aliased_views"])
    check(left == info["steps"], f"prepared - dropped - fused - aliased = {left} steps, the plan has {info['steps']}")

# The rewrites on the zoo's patterns set (torch.onnx exports of ordinary modules;
# zoo/families/patterns.py says what each writes out): each happens, as many
# times as the module has the pattern.
REWRITES = {
    "pattern_pad_conv_c32_l128": {"fold_pad": ("folded_pads", 4)},  # ConstantPad1d, F.pad x2, the exporter's Pad
    "pattern_tcn_tanh_c32_l128": {"fold_causal_slice": ("folded_slices", 4)},  # one per dilation
    "pattern_block_d64_h4_s32": {"fuse_layer_norm": ("layer_norms", 2), "fuse_softmax": ("softmaxes", 1)},
}
for name, expected in REWRITES.items():
    model = os.path.join(ZOO, name, "model.onnx")
    if not os.path.exists(model):
        check(False, f"{model}: missing (the zoo's 'patterns' set is part of --set all)")
        continue
    got = {p["name"]: p for p in json.loads(rtml("info", model, "--json")).get("passes", [])}
    for pass_name, (number, count) in expected.items():
        check(got.get(pass_name, {}).get(number) == count,
              f"{name}: {pass_name} reports {number} = {got.get(pass_name, {}).get(number)}, expected {count}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("ok: rtml info --passes and --json passes")
