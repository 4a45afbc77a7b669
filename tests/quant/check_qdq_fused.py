#!/usr/bin/python3
"""Checks that rtml runs a PyTorch QDQ model's layers as int8 steps.

usage: check_qdq_fused.py RTML MODEL.onnx
MODEL is tests/models/pytorch_models.py's quantized_residual (Conv+ReLU, a
1x1 Conv added back, a Mul, MaxPool, Sigmoid, Conv, Flatten, Linear; PyTorch exports
each as DequantizeLinear -> float op -> QuantizeLinear). Its values are
checked against PyTorch by check_pytorch.py; this checks how they are
computed: `rtml info --json` must list the input's QuantizeLinear, one fused
step per layer on the uint8 kernels (products: uint8 data, int8 weights),
the output's DequantizeLinear and nothing else (the Flatten runs on the
uint8 data and shares its input's bytes), and the fuse_qdq pass must report
six groups, three ops on uint8 data (MaxPool, Sigmoid's table, Flatten) and
none left in float. Both kernel sets
(reference and the default).
"""
import json
import subprocess
import sys

rtml, model = sys.argv[1:3]
WANT = [  # (op_type, kernel prefix) of every step, in order
    ("QuantizeLinear", "rtml_u8_quantize"),
    ("DequantizeLinear+Conv+Relu+QuantizeLinear", "rtml_u8s8_conv"),
    ("DequantizeLinear+Conv+QuantizeLinear", "rtml_u8s8_conv"),
    ("DequantizeLinear+Add+QuantizeLinear", "rtml_u8_qadd"),
    ("DequantizeLinear+Mul+QuantizeLinear", "rtml_u8_qmul"),
    ("DequantizeLinear+MaxPool+QuantizeLinear", "rtml_u8_maxpool"),
    ("DequantizeLinear+Sigmoid+QuantizeLinear", "rtml_u8_lookup"),
    ("DequantizeLinear+Conv+QuantizeLinear", "rtml_u8s8_conv"),
    ("DequantizeLinear+Gemm+QuantizeLinear", "rtml_u8s8_fully_connected"),
    ("DequantizeLinear", "rtml_u8_dequantize"),
]
failures = []
for kernels in ("reference", "simd"):
    info = json.loads(subprocess.run([rtml, "info", model, "--json", "--kernels", kernels],
                                     check=True, capture_output=True, text=True).stdout)
    steps = [(s["op_type"], s["kernel"]) for s in info["step_kernels"]]
    qdq = next(p for p in info["passes"] if p["name"] == "fuse_qdq")
    if len(steps) != len(WANT) or any(op != w_op or not k.startswith(w_k) for (op, k), (w_op, w_k) in zip(steps, WANT)):
        failures.append(f"{kernels}: steps {steps}, expected {WANT}")
    if qdq.get("fused_groups") != 6 or qdq.get("int8_pass_through") != 3 or qdq.get("left_in_float") != 0:
        failures.append(f"{kernels}: fuse_qdq reports: {qdq['summary']}")
    print(f"{kernels}: {len(steps)} steps; fuse_qdq: {qdq['summary']}")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
