#!/usr/bin/python3
"""Runs PyTorch-exported models with `rtml run` and compares with PyTorch.

usage: check_pytorch.py RTML_BINARY MODELS_DIR
MODELS_DIR is what pytorch_models.py wrote. An output element passes when its
absolute or its relative error is within 1e-4 (or the absolute error within
the number in MODEL/tolerance, when there is one: a quantized model's
quantum). Prints one line per model and
"pytorch: N passed, N failed" last; exits 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-4


def check(rtml, model_dir):
    name = os.path.basename(model_dir)
    tol_file = os.path.join(model_dir, "tolerance")
    atol = float(open(tol_file).read()) if os.path.exists(tol_file) else TOL
    args = [rtml, "run", os.path.join(model_dir, "model.onnx")]
    for f in sorted(os.listdir(os.path.join(model_dir, "inputs"))):
        args += ["--input", f"{f[:-4]}={os.path.join(model_dir, 'inputs', f)}"]
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run(args + ["--output-dir", out], capture_output=True, text=True)
        if r.returncode != 0:
            return f"rtml run failed: {r.stderr.strip()}"
        for f in sorted(os.listdir(os.path.join(model_dir, "expected"))):
            expected = np.load(os.path.join(model_dir, "expected", f))
            got_path = os.path.join(out, f)
            if not os.path.exists(got_path):
                return f"rtml wrote no {f}"
            got = np.load(got_path)
            if got.shape != expected.shape:
                return f"{f}: shape {got.shape}, PyTorch {expected.shape}"
            err = np.abs(got.astype(np.float64) - expected)
            ok = (err <= atol) | (err <= TOL * np.abs(expected))
            if not ok.all():
                i = int(np.argmax(~ok.ravel()))
                return (f"{f}: element {i} is {got.ravel()[i]:.7g}, PyTorch {expected.ravel()[i]:.7g} "
                        f"(max abs error {err.max():.3g})")
            print(f"  {name}/{f[:-4]}: max abs error {err.max():.2e} over {expected.size} values")
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rtml, root = sys.argv[1:]
    passed = failed = 0
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.exists(os.path.join(d, "model.onnx")):
            continue
        problem = check(rtml, d)
        if problem:
            failed += 1
            print(f"FAIL {name}: {problem}")
        else:
            passed += 1
            print(f"PASS {name}")
    print(f"pytorch: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
