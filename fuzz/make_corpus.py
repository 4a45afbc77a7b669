#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/), small files only.

  fuzz_onnx       the smallest model of each zoo family (a generated zoo:
                  --zoo DIR, e.g. build/zoo-all) and the ONNX node tests of
                  libonnx-testdata whose model is at most 180 bytes
  fuzz_tensor_pb  input_0.pb files of those node tests, the three smallest of
                  each element type
  fuzz_npy        arrays of every dtype rtml reads, in .npy versions 1 and 2

Usage: fuzz/make_corpus.py --zoo build/zoo-all [--out fuzz/corpus]
Run it again only to refresh the committed corpora.
"""
import argparse
import collections
import hashlib
import io
import os
import shutil

import numpy as np
import onnx

NODE_TESTS = "/usr/share/libonnx-testdata/data/node"


def put(out_dir, data):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"))
    args = ap.parse_args()
    for t in ("fuzz_onnx", "fuzz_tensor_pb", "fuzz_npy"):
        shutil.rmtree(os.path.join(args.out, t), ignore_errors=True)

    smallest = {}
    for name in sorted(os.listdir(args.zoo)):
        path = os.path.join(args.zoo, name, "model.onnx")
        if not os.path.exists(path):
            continue
        family, size = name.split("_")[0], os.path.getsize(path)
        if size <= 30000 and (family not in smallest or size < smallest[family][0]):
            smallest[family] = (size, path)
    for _, path in smallest.values():
        put(os.path.join(args.out, "fuzz_onnx"), read(path))

    by_type = collections.defaultdict(list)
    for test in sorted(os.listdir(NODE_TESTS)):
        model = os.path.join(NODE_TESTS, test, "model.onnx")
        if os.path.exists(model) and os.path.getsize(model) <= 180:
            put(os.path.join(args.out, "fuzz_onnx"), read(model))
        pb = os.path.join(NODE_TESTS, test, "test_data_set_0", "input_0.pb")
        if os.path.exists(pb) and os.path.getsize(pb) <= 400:
            t = onnx.TensorProto()
            t.ParseFromString(read(pb))
            by_type[t.data_type].append((os.path.getsize(pb), pb))
    for files in by_type.values():
        for _, pb in sorted(files)[:3]:
            put(os.path.join(args.out, "fuzz_tensor_pb"), read(pb))

    rng = np.random.default_rng(0)
    for dtype in ("<f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1"):
        for shape in ((), (3,), (2, 3), (0, 4), (1, 2, 1, 2)):
            a = (rng.standard_normal(shape) * 3).astype(dtype)
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, version=(1, 0) if len(shape) != 2 else (2, 0))
            put(os.path.join(args.out, "fuzz_npy"), buf.getvalue())


if __name__ == "__main__":
    main()
