"""The schedule rows of `make bench` (issue 18): tiling into a RAM budget and tuning.

Used by scripts/bench.py (not run alone). Two tables:
  - tiled: each model compiled for the emulated Cortex-M7 (QEMU, cortex-m kernels) as it is and
    with `--ram` at half its arena (or, when no tiling reaches half, the smallest tiling `rtml info
    --ram` finds): arena bytes and instructions per inference of both, so the RAM saved and the
    instructions the row bands cost (halos recomputed, per-band overhead) are side by side; and
    with `--memory fast:B,slow:4x` (B half the arena, else 0.7x): the fast level's bytes and the
    instructions with the copies between the levels;
  - tuned: `rtml tune --target host` on a few zoo models (per-step medians, default and candidate
    in alternating pinned blocks) and `rtml tune --target cortex-m7` on one (instructions under
    QEMU): the whole model before and after, and how many steps changed.
QEMU counts instructions, not time: the Cortex-M rows have no times.
"""
import json
import os
import re
import subprocess
import sys

# Zoo conv models (2-D: digits; 1-D over time: gesture), float and int8; MLPerf Tiny's ResNet-8
# when ../shared has it.
TILED = ["digits_cnn", "gesture_cnn", "digits_cnn_int8", "gesture_cnn_int8"]
MLPERF_RESNET = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "models", "mlperf-tiny",
                             "pretrainedResnet_quant.tflite")
TUNED_HOST = ["digits_cnn", "gesture_cnn", "resnet1d_c32_l64", "digits_cnn_int8"]
TUNED_M7 = ["digits_cnn_int8"]
TARGET = "cortex-m7"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def emulated(rtml, model, out, ram=None, memory=None):
    """(instructions per inference, arena bytes, error, the run's "ram") of MODEL on the emulated target."""
    path = os.path.join(out, "target.json")
    cmd = [rtml, "bench", model, "--target", TARGET, "--kernels", "cortex-m", "--no-db", "--no-accuracy",
           "--json", path]
    if ram:
        cmd += ["--ram", str(ram)]
    if memory:
        cmd += ["--memory", memory]
    if os.path.exists(path):
        os.remove(path)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(path):
        return None, None, (p.stderr or p.stdout).strip().splitlines()[-1:] or ["exit %d" % p.returncode], None
    with open(path) as f:
        run = json.load(f)["runs"][0]
    e = run.get("emulated") or {}
    if run.get("status") != "ok" or not e:
        return None, None, [run.get("error", "no emulated result")], None
    return e["instructions"]["median"], e["ram"]["arena_bytes"], None, e["ram"]


def levels_for(rtml, model, arena):
    """--memory fast:B,slow:4x with B half the arena when that fits, else 0.7x; None when neither does."""
    for frac in (0.5, 0.7):
        spec = f"fast:{int(arena * frac)},slow:{arena * 4}"
        p = subprocess.run([rtml, "info", model, "--kernels", "cortex-m", "--memory", spec], capture_output=True,
                           text=True)
        if p.returncode == 0:
            return spec
    return None


def budget_for(rtml, model, arena):
    """Half the arena when a tiling fits it, else the smallest tiling's arena, else None."""
    half = arena // 2
    p = subprocess.run([rtml, "info", model, "--kernels", "cortex-m", "--ram", str(half)], capture_output=True,
                       text=True)
    if p.returncode == 0:
        return half
    m = re.search(r"the smallest of \d+ row-band tilings needs ([\d,]+) B", p.stderr)
    if m:
        smallest = int(m.group(1).replace(",", ""))
        if smallest < arena:
            return smallest
    return None


def tiled_rows(rtml, zoo, out):
    models = [(m, os.path.join(zoo, m)) for m in TILED if os.path.isdir(os.path.join(zoo, m))]
    if os.path.exists(MLPERF_RESNET):
        models.append(("pretrainedResnet_quant (MLPerf Tiny)", MLPERF_RESNET))
    rows = []
    for i, (name, path) in enumerate(models, 1):
        log(f"bench: tiled [{i}/{len(models)}] {name} on {TARGET} (QEMU)...")
        ins, arena, err, _ = emulated(rtml, path, out)
        row = {"model": name, "instructions": ins, "arena_bytes": arena, "budget_bytes": None,
               "tiled_instructions": None, "tiled_arena_bytes": None, "error": err,
               "memory": None, "levels_instructions": None, "fast_bytes": None, "slow_bytes": None}
        if ins:
            budget = budget_for(rtml, path, arena)
            row["budget_bytes"] = budget
            if budget:
                t_ins, t_arena, err, _ = emulated(rtml, path, out, budget)
                row.update({"tiled_instructions": t_ins, "tiled_arena_bytes": t_arena, "error": err})
            spec = levels_for(rtml, path, arena)
            if spec:
                l_ins, _, l_err, ram = emulated(rtml, path, out, memory=spec)
                if l_ins:
                    row.update({"memory": spec, "levels_instructions": l_ins,
                                "fast_bytes": ram["levels"][0]["bytes"], "slow_bytes": ram["levels"][1]["bytes"]})
                elif not row["error"]:
                    row["error"] = l_err
        rows.append(row)
    return rows


def tune(rtml, model, out, target, budget_s):
    path = os.path.join(out, "tuning.json")
    cmd = [rtml, "tune", model, "--target", target, "--budget-s", str(budget_s), "--no-db", "--out", path]
    if target != "host":
        cmd += ["--kernels", "cortex-m"]
    if os.path.exists(path):
        os.remove(path)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(path):
        return {"error": ((p.stderr or p.stdout).strip().splitlines() or ["exit %d" % p.returncode])[-1]}
    with open(path) as f:
        r = json.load(f)
    return {"before": r["total_before"], "after": r["total_after"], "unit": r["unit"],
            "candidates": r["candidates_measured"], "steps": len(r["steps"]), "changed": len(r["schedule"]),
            "error": None}


def tuned_rows(rtml, zoo, out, host_budget_s=10, m7_budget_s=60):
    jobs = [(m, "host", host_budget_s) for m in TUNED_HOST] + [(m, TARGET, m7_budget_s) for m in TUNED_M7]
    jobs = [j for j in jobs if os.path.isdir(os.path.join(zoo, j[0]))]
    rows = []
    for i, (m, target, budget) in enumerate(jobs, 1):
        log(f"bench: tune [{i}/{len(jobs)}] {m} on {target} (budget {budget} s)...")
        rows.append({"model": m, "target": target, **tune(rtml, os.path.join(zoo, m), out, target, budget)})
    return rows


def schedule_rows(rtml, zoo, out):
    os.makedirs(out, exist_ok=True)
    return {"tiled": tiled_rows(rtml, zoo, out), "tuned": tuned_rows(rtml, zoo, out)}


def _n(v):
    return "-" if v is None else f"{v:,.0f}"


def schedule_markdown(s):
    out = [f"Tiling (`--ram`, docs/tiling.md) on the emulated Cortex-M7 (QEMU instruction counts, cortex-m "
           "kernels): the model as it is, and with a RAM budget of half its arena (or the smallest tiling "
           "there is, when none reaches half):",
           "",
           "| model | arena B | budget B | tiled arena B | tiled / arena | instructions | tiled instructions "
           "| extra instructions |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in s["tiled"]:
        if r["error"] and not r["instructions"]:
            out.append(f"| {r['model']} | error: {r['error'][0]} | | | | | | |")
            continue
        ratio = (f"{r['tiled_arena_bytes'] / r['arena_bytes']:.2f}"
                 if r["tiled_arena_bytes"] and r["arena_bytes"] else "-")
        extra = (f"{100 * (r['tiled_instructions'] / r['instructions'] - 1):+.1f}%"
                 if r["tiled_instructions"] and r["instructions"] else "-")
        budget = _n(r["budget_bytes"]) if r["budget_bytes"] else "no tiling is smaller"
        out.append(f"| {r['model']} | {_n(r['arena_bytes'])} | {budget} | {_n(r['tiled_arena_bytes'])} | {ratio} "
                   f"| {_n(r['instructions'])} | {_n(r['tiled_instructions'])} | {extra} |")
    out += ["",
            "Two memory levels (`--memory fast:B,slow:S`, docs/tiling.md): the steps work in the fast level "
            "(B half the arena, else 0.7x; S four times the arena), tensors that do not fit there are kept "
            "in the slow one and copied in and out, row bands when that is not enough:",
            "",
            "| model | --memory | fast level B | fast / arena | slow level B | instructions | extra instructions |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for r in s["tiled"]:
        if not r.get("levels_instructions"):
            out.append(f"| {r['model']} | no two-level plan at 0.5x or 0.7x | | | | | |")
            continue
        out.append(f"| {r['model']} | {r['memory']} | {_n(r['fast_bytes'])} "
                   f"| {r['fast_bytes'] / r['arena_bytes']:.2f} | {_n(r['slow_bytes'])} "
                   f"| {_n(r['levels_instructions'])} "
                   f"| {100 * (r['levels_instructions'] / r['instructions'] - 1):+.1f}% |")
    out += ["",
            "Tuning (`rtml tune`, docs/tuning.md): the whole model with the default schedule and with the "
            "tuned one, on the host (median ns per inference, per-step medians in alternating pinned "
            "blocks) and on the emulated Cortex-M7 (instructions):",
            "",
            "| model | target | default | tuned | default / tuned | steps changed | candidates measured |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for r in s["tuned"]:
        if r.get("error"):
            out.append(f"| {r['model']} | {r['target']} | error: {r['error']} | | | | |")
            continue
        unit = " ns" if r["unit"] == "ns" else ""
        out.append(f"| {r['model']} | {r['target']} | {_n(r['before'])}{unit} | {_n(r['after'])}{unit} "
                   f"| {r['before'] / r['after']:.3f} | {r['changed']} of {r['steps']} | {r['candidates']} |")
    return "\n".join(out)
