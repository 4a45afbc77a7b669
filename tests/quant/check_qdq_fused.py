#!/usr/bin/python3
"""Checks that rtml runs a PyTorch QDQ model's Convs and Linear as int8 steps.

usage: check_qdq_fused.py RTML MODEL.onnx
MODEL is tests/models/pytorch_models.py's quantized_per_channel (Conv+ReLU,
Conv, Flatten, Linear; PyTorch exports each as DequantizeLinear -> float op ->
QuantizeLinear). Its values are checked against PyTorch by check_pytorch.py;
this checks how they are computed: `rtml info --json` must list the input's
QuantizeLinear, three fused steps (one per layer) on the uint8-data /
int8-weight kernels, the output's DequantizeLinear and nothing else (the
Flatten runs on the uint8 data and aliases its input), with the fuse_qdq
pass reporting three groups, one int8 pass-through op and none left in
float. Both kernel sets (reference and the default).
"""
import json
import subprocess
import sys

rtml, model = sys.argv[1:3]
failures = []
for kernels in ("reference", "simd"):
    info = json.loads(subprocess.run([rtml, "info", model, "--json", "--kernels", kernels],
                                     check=True, capture_output=True, text=True).stdout)
    steps = info["step_kernels"]
    floats = [s for s in steps if s["op_type"].split("+")[0] in ("Conv", "Gemm", "MatMul")]
    fused = [s for s in steps if s["op_type"].startswith("DequantizeLinear+") and s["op_type"].endswith("+QuantizeLinear")]
    want_ops = ["DequantizeLinear+Conv+Relu+QuantizeLinear", "DequantizeLinear+Conv+QuantizeLinear",
                "DequantizeLinear+Gemm+QuantizeLinear"]
    qdq = next(p for p in info["passes"] if p["name"] == "fuse_qdq")
    problems = []
    if floats:
        problems.append("float steps left: " + ", ".join(s["node"] for s in floats))
    if [s["op_type"] for s in steps] != ["QuantizeLinear"] + want_ops + ["DequantizeLinear"]:
        problems.append("steps " + str([s["op_type"] for s in steps]) + ", expected the fused " + str(want_ops))
    if any(not s["kernel"].startswith("rtml_u8s8_") for s in fused):
        problems.append("kernels " + str([s["kernel"] for s in fused]) + ", expected rtml_u8s8_*")
    if qdq.get("fused_groups") != 3 or qdq.get("int8_pass_through") != 1 or qdq.get("left_in_float") != 0:
        problems.append("fuse_qdq reports: " + qdq["summary"])
    for p in problems:
        failures.append(f"{kernels}: {p}")
    print(f"{kernels}: {len(fused)} fused steps of {len(steps)}; fuse_qdq: {qdq['summary']}")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
