"""What the examples' train.py scripts share: seeding, ONNX export with test data
in the layout `rtml run --test-data` / `rtml bench` read, and the WAV / CSV files
the Bela host runner reads (examples/bela_host).

Run with Debian's Python (/usr/bin/python3: torch, onnx, numpy).
"""
import os
import random
import struct
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(min(2, os.cpu_count() or 1))


def export(module, inputs, path, input_names, output_names, test_sets=()):
    """ONNX (opset 13) of `module` called on the tuple `inputs`; each of `test_sets`
    (tuples of numpy arrays, one per input) becomes DIR/test_data_set_K/ with
    PyTorch's outputs as the expected ones."""
    module.eval()
    example = tuple(torch.from_numpy(a) for a in inputs)
    with warnings.catch_warnings():   # the exporter's notes on GRU batch sizes and constants' shapes
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, path, input_names=input_names, output_names=output_names,
                          opset_version=13, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    folder = os.path.dirname(path)
    for k, arrays in enumerate(test_sets):
        d = os.path.join(folder, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        with torch.no_grad():
            outs = module(*(torch.from_numpy(a) for a in arrays))
        outs = outs if isinstance(outs, tuple) else (outs,)
        for i, (name, a) in enumerate(zip(input_names, arrays)):
            save_tensor(os.path.join(d, f"input_{i}.pb"), a, name)
        for i, (name, o) in enumerate(zip(output_names, outs)):
            save_tensor(os.path.join(d, f"output_{i}.pb"), o.numpy(), name)


def save_tensor(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(array), name).SerializeToString())


def write_wav_pcm16(path, samples, rate):
    """Mono 16-bit PCM WAV; samples in [-1, 1) are stored as round(x * 32768), clipped.
    Returns the float32 values the host runner will read back (int16 / 32768)."""
    q = np.clip(np.round(np.asarray(samples) * 32768.0), -32768, 32767).astype("<i2")
    data = q.tobytes()
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)
    return q.astype(np.float32) / np.float32(32768.0)


def read_wav_float(path):
    """A WAV the host runner wrote (32-bit float, interleaved) as float32 [frames, channels], and its rate."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, channels, rate, fmt = 12, None, None, None
    while pos + 8 <= len(blob):
        tag, size = blob[pos:pos + 4], struct.unpack("<I", blob[pos + 4:pos + 8])[0]
        body = blob[pos + 8:pos + 8 + size]
        if tag == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", body[:8])
        elif tag == b"data":
            if fmt != 3:
                raise ValueError(f"{path}: format {fmt}, expected 3 (32-bit float)")
            return np.frombuffer(body, dtype="<f4").reshape(-1, channels), rate
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def write_csv(path, rows, header):
    """Sensor frames as CSV (one row per frame, `header` names the columns), 6 decimals.
    Returns the float32 values the runner parses."""
    rows = np.asarray(rows, dtype=np.float64)
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(f"{v:.6f}" for v in r) + "\n")
    return np.array([[float(f"{v:.6f}") for v in r] for r in rows], dtype=np.float32)
