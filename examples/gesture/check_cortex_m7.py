"""The gesture example's microcontroller variant: the classifier compiled to C by
`rtml compile --target cortex-m7` (through `rtml bench --target cortex-m7`) and run on
QEMU's emulated Cortex-M7 classifies the same recording the Bela host runner
classifies: the 111 windows of imu.csv that render.cpp sees (ending at IMU sample
99, 109, ...), whose logits must match PyTorch's (expected_logits.npy, from
train.py) within 1e-4.
Exits 77 (skipped) without arm-none-eabi-gcc or qemu-system-arm.

usage: check_cortex_m7.py RTML WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW, HOP = 100, 10   # render.cpp's kWindow, kHop


def main():
    rtml, work = sys.argv[1:3]
    missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if not shutil.which(t)]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    stream = np.loadtxt(os.path.join(HERE, "imu.csv"), delimiter=",", skiprows=1, dtype=np.float32)
    expected = np.load(os.path.join(HERE, "expected_logits.npy"))
    ends = list(range(WINDOW - 1, len(stream), HOP))
    if len(ends) != len(expected):
        sys.exit(f"FAIL: {len(ends)} windows in imu.csv, {len(expected)} expected")
    for k, e in enumerate(ends):
        d = os.path.join(work, "windows", f"test_data_set_{k}")
        os.makedirs(os.path.join(d, "inputs"))
        os.makedirs(os.path.join(d, "expected"))
        np.save(os.path.join(d, "inputs", "x.npy"), np.ascontiguousarray(stream[e - WINDOW + 1:e + 1].T[None]))
        np.save(os.path.join(d, "expected", "logits.npy"), expected[k:k + 1])
    report = os.path.join(work, "report.json")
    cmd = [rtml, "bench", os.path.join(HERE, "model.onnx"), "--target", "cortex-m7", "--test-data",
           os.path.join(work, "windows"), "--tolerance", "1e-4", "--no-db", "--json", report]
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1500)
    print(p.stdout[-3000:], end="")
    if p.returncode != 0:
        sys.exit(f"FAIL: rtml bench --target cortex-m7 exited {p.returncode}")
    with open(report) as f:
        run = json.load(f)["runs"][0]
    acc = run["accuracy"]
    if not acc["passed"] or acc["compared_elements"] != expected.size:
        sys.exit(f"FAIL: accuracy {acc}")
    print(f"PASS gesture on cortex-m7: {len(expected)} windows, {acc['compared_elements']} logits within 1e-4 "
          f"of PyTorch (max abs error {acc['max_abs_error']:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
