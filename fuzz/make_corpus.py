#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/), small files only.

  fuzz_onnx       the smallest model of each zoo family (a generated zoo:
                  --zoo DIR, e.g. build/zoo-all) and the ONNX node tests of
                  libonnx-testdata whose model is at most 180 bytes
  fuzz_tflite     .tflite files of one to three operators each, float and
                  int8, written with tests/tflite/tflite_writer.py (a minimal
                  FlatBuffers writer the tests share)
  fuzz_tensor_pb  input_0.pb files of those node tests, the three smallest of
                  each element type
  fuzz_npy        arrays of every dtype rtml reads, in .npy versions 1 and 2
  fuzz_job        job descriptions (POST /v1/jobs) of docs/remote-protocol.md:
                  valid ones using every field, and a few that are refused
  fuzz_upload     the body headers of uploads and jobs (flags byte, method,
                  path, Content-Length, Content-Encoding, Authorization)

Usage: fuzz/make_corpus.py --zoo build/zoo-all [--out fuzz/corpus] [TARGET...]
(no TARGET: all; --zoo is needed for fuzz_onnx only).
Run it again only to refresh the committed corpora.
"""
import argparse
import collections
import hashlib
import io
import json
import os
import shutil
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tflite"))
from tflite_writer import tflite_model  # noqa: E402

NODE_TESTS = "/usr/share/libonnx-testdata/data/node"


def put(out_dir, data):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


TARGETS = ("fuzz_onnx", "fuzz_tflite", "fuzz_tensor_pb", "fuzz_npy", "fuzz_job", "fuzz_upload")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zoo")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"))
    ap.add_argument("targets", nargs="*", help="of " + ", ".join(TARGETS) + " (default: all)")
    args = ap.parse_args()
    targets = args.targets or TARGETS
    for t in targets:
        if t not in TARGETS:
            ap.error("no fuzz target " + t)
    if ("fuzz_onnx" in targets or "fuzz_tensor_pb" in targets) and not args.zoo:
        ap.error("fuzz_onnx and fuzz_tensor_pb need --zoo DIR")
    for t in targets:
        shutil.rmtree(os.path.join(args.out, t), ignore_errors=True)
    if "fuzz_onnx" in targets or "fuzz_tensor_pb" in targets:
        write_model_corpora(args.zoo, args.out, targets)
    if "fuzz_tflite" in targets:
        write_tflite_corpus(os.path.join(args.out, "fuzz_tflite"))
    if "fuzz_npy" in targets:
        write_npy_corpus(os.path.join(args.out, "fuzz_npy"))
    if "fuzz_job" in targets:
        write_job_corpus(os.path.join(args.out, "fuzz_job"))
    if "fuzz_upload" in targets:
        write_upload_corpus(os.path.join(args.out, "fuzz_upload"))


def write_model_corpora(zoo, out, targets):
    smallest = {}
    for name in sorted(os.listdir(zoo)):
        path = os.path.join(zoo, name, "model.onnx")
        if not os.path.exists(path):
            continue
        family, size = name.split("_")[0], os.path.getsize(path)
        if size <= 30000 and (family not in smallest or size < smallest[family][0]):
            smallest[family] = (size, path)
    for _, path in smallest.values():
        if "fuzz_onnx" in targets:
            put(os.path.join(out, "fuzz_onnx"), read(path))

    by_type = collections.defaultdict(list)
    for test in sorted(os.listdir(NODE_TESTS)):
        model = os.path.join(NODE_TESTS, test, "model.onnx")
        if "fuzz_onnx" in targets and os.path.exists(model) and os.path.getsize(model) <= 180:
            put(os.path.join(out, "fuzz_onnx"), read(model))
        pb = os.path.join(NODE_TESTS, test, "test_data_set_0", "input_0.pb")
        if os.path.exists(pb) and os.path.getsize(pb) <= 400:
            t = onnx.TensorProto()
            t.ParseFromString(read(pb))
            by_type[t.data_type].append((os.path.getsize(pb), pb))
    for files in by_type.values():
        for _, pb in sorted(files)[:3]:
            if "fuzz_tensor_pb" in targets:
                put(os.path.join(out, "fuzz_tensor_pb"), read(pb))


def write_tflite_corpus(out):
    rng = np.random.default_rng(1)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32).tobytes()
    s8 = lambda *shape: rng.integers(-127, 128, shape).astype(np.int8).tobytes()
    i32, i8 = np.int32, np.int8
    conv_opts = {0: i8(0), 1: i32(1), 2: i32(2), 3: i8(1)}  # SAME, stride_w 1, stride_h 2, RELU
    q = lambda s, z: ([s], [z])
    # float: CONV_2D -> DEPTHWISE_CONV_2D -> MAX_POOL_2D
    put(out, tflite_model(
        [3, 4, 17],
        [("x", [1, 5, 4, 2], 0, 0, [], []), ("w", [3, 3, 3, 2], 0, 1, [], []), ("b", [3], 0, 2, [], []),
         ("c", [1, 3, 4, 3], 0, 0, [], []), ("dw", [1, 3, 3, 6], 0, 3, [], []), ("d", [1, 3, 4, 6], 0, 0, [], []),
         ("y", [1, 2, 2, 6], 0, 0, [], [])],
        [(0, [0, 1, 2], [3], 1, conv_opts), (1, [3, 4, -1], [5], 2, {0: i8(0), 1: i32(1), 2: i32(1), 3: i32(2), 4: i8(3)}),
         (2, [5], [6], 5, {0: i8(0), 1: i32(2), 2: i32(2), 3: i32(2), 4: i32(2)})],
        [f32(3, 3, 3, 2), f32(3), f32(1, 3, 3, 6)], [0], [6]))
    # float: RESHAPE -> FULLY_CONNECTED -> SOFTMAX, and ADD / MUL / CONCATENATION / PAD / MEAN / TRANSPOSE
    put(out, tflite_model(
        [22, 9, 25],
        [("x", [1, 2, 2, 3], 0, 0, [], []), ("shape", [2], 2, 1, [], []), ("r", [1, 12], 0, 0, [], []),
         ("w", [4, 12], 0, 2, [], []), ("f", [1, 4], 0, 0, [], []), ("y", [1, 4], 0, 0, [], [])],
        [(0, [0, 1], [2], 0, None), (1, [2, 3, -1], [4], 8, {0: i8(3)}), (2, [4], [5], 9, {0: np.float32(1.0)})],
        [np.array([1, 12], np.int32).tobytes(), f32(4, 12)], [0], [5]))
    put(out, tflite_model(
        [0, 18, 2, 34, 40, 39],
        [("a", [1, 2, 2, 3], 0, 0, [], []), ("k", [3], 0, 1, [], []), ("s", [1, 2, 2, 3], 0, 0, [], []),
         ("m", [1, 2, 2, 3], 0, 0, [], []), ("c", [1, 2, 2, 6], 0, 0, [], []), ("p", [4, 2], 2, 2, [], []),
         ("pd", [1, 3, 4, 6], 0, 0, [], []), ("ax", [2], 2, 3, [], []), ("mn", [1, 6], 0, 0, [], []),
         ("perm", [2], 2, 4, [], []), ("y", [6, 1], 0, 0, [], [])],
        [(0, [0, 1], [2], 11, {0: i8(1)}), (1, [2, 0], [3], 21, {0: i8(0)}), (2, [2, 3], [4], 10, {0: i32(-1)}),
         (3, [4, 5], [6], 0, None), (4, [6, 7], [8], 27, {0: np.uint8(0)}), (5, [8, 9], [10], 0, None)],
        [f32(3), np.array([0, 0, 1, 0, 0, 2, 0, 0], np.int32).tobytes(), np.array([1, 2], np.int32).tobytes(),
         np.array([1, 0], np.int32).tobytes()], [0], [10]))
    # int8: QUANTIZE -> CONV_2D (per-channel) -> AVERAGE_POOL_2D -> FULLY_CONNECTED -> LOGISTIC -> DEQUANTIZE
    put(out, tflite_model(
        [114, 3, 1, 9, 14, 6],
        [("x", [1, 4, 4, 1], 0, 0, [], []), ("xq", [1, 4, 4, 1], 9, 0, *q(0.05, 3)),
         ("w", [2, 3, 3, 1], 9, 1, [0.01, 0.02], [0, 0]), ("b", [2], 2, 2, [0.0005, 0.001], [0, 0]),
         ("c", [1, 4, 4, 2], 9, 0, *q(0.1, -5)), ("p", [1, 2, 2, 2], 9, 0, *q(0.1, -5)),
         ("fw", [3, 8], 9, 3, *q(0.02, 0)), ("f", [1, 3], 9, 0, *q(0.2, 1)),
         ("s", [1, 3], 9, 0, *q(1 / 256, -128)), ("y", [1, 3], 0, 0, [], [])],
        [(0, [0], [1], 0, None), (1, [1, 2, 3], [4], 1, {0: i8(0), 1: i32(1), 2: i32(1), 3: i8(3)}),
         (2, [4], [5], 5, {0: i8(1), 1: i32(2), 2: i32(2), 3: i32(2), 4: i32(2)}), (3, [5, 6, -1], [7], 8, {0: i8(0)}),
         (4, [7], [8], 0, None), (5, [8], [9], 0, None)],
        [s8(2, 3, 3, 1), np.array([100, -200], np.int32).tobytes(), s8(3, 8)], [0], [9]))


def write_npy_corpus(out):
    rng = np.random.default_rng(0)
    for dtype in ("<f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1"):
        for shape in ((), (3,), (2, 3), (0, 4), (1, 2, 1, 2)):
            a = (rng.standard_normal(shape) * 3).astype(dtype)
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, version=(1, 0) if len(shape) != 2 else (2, 0))
            put(out, buf.getvalue())


def write_job_corpus(out):
    h = [hashlib.sha256(bytes([i])).hexdigest() for i in range(4)]
    minimal = {"kind": "bench", "model": {"name": "mlp_s", "onnx": h[0]}}
    full = {
        "kind": "bench",
        "model": {
            "name": "cnn1d_m-2.v1",
            "onnx": h[0],
            "torchscript": h[1],
            "test_data": [
                {"set": 0, "kind": "input", "index": 0, "blob": h[2]},
                {"set": 0, "kind": "output", "index": 0, "blob": h[3]},
                {"set": 0, "kind": "label", "blob": h[1]},
                {"set": 1, "kind": "input", "index": 1, "blob": h[2]},
            ],
        },
        "options": {"backends": ["native", "torch"], "warmup": 10, "runs": 100, "threads": 2, "tolerance": 1e-4,
                    "period_us": 1000, "rt": True, "priority": 80, "cpu": 1, "samples": False},
    }
    seconds = {"kind": "bench", "model": {"name": "gru_s", "onnx": h[2]},
               "options": {"seconds": 2.5, "runs": None, "backends": ["onnxruntime"]}}
    for job in (minimal, full, seconds):
        put(out, json.dumps(job).encode())
        put(out, json.dumps(job, indent=1).encode())
    # refused: another kind, a name with a slash, a hash in capitals, a number out of range, not UTF-8
    put(out, json.dumps(dict(minimal, kind="profile")).encode())
    put(out, json.dumps({"kind": "bench", "model": {"name": "../x", "onnx": h[0].upper()}}).encode())
    put(out, b'{"kind": "bench", "model": {"name": "m", "onnx": "%s"}, "options": {"runs": 1e400}}' % h[0].encode())
    put(out, b'{"kind": "bench\xff", "model": {"name": "m\ud800"}}')


def write_upload_corpus(out):
    h = hashlib.sha256(b"model").hexdigest()
    def headers(flags, method, path, length, encoding="", auth="Bearer s3cret-token"):
        return bytes([flags]) + "\n".join([method, path, length, encoding, auth]).encode()
    put(out, headers(2, "PUT", "/v1/blobs/" + h, "5"))
    put(out, headers(6, "PUT", "/v1/blobs/" + h, "268435456", "identity", "bearer  tok  "))
    put(out, headers(2, "POST", "/v1/jobs", "1048577", "gzip", "Basic dXNlcjpwYXNz"))
    put(out, headers(3, "PUT", "/v1/blobs/" + h, "12"))
    put(out, headers(0, "POST", "/v1/jobs", "", "", ""))
    put(out, headers(2, "PUT", "/v1/elsewhere", "100000000"))
    put(out, headers(2, "POST", "/v1/jobs", "-1", "", "BEARER x\t"))
    put(out, headers(2, "PUT", "/v1/blobs/", "0000000000000000001"))


if __name__ == "__main__":
    main()
