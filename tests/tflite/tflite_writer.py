"""A minimal FlatBuffers writer for .tflite files, shared by the tests that
need small hand-made TFLite models (tests/tflite, tests/armnn) and by
fuzz/make_corpus.py's fuzz_tflite seeds. Field numbers are those of
TensorFlow Lite's schema.fbs.
"""
import struct

import numpy as np


def write_tflite(model):
    """A .tflite file: FlatBuffers laid out parents first (every offset points
    forward), each table after its vtable. `model` is a tree of ("table",
    {field index: value}), ("vec", numpy array), ("str", text),
    ("tables", [tables]); a table's scalars are numpy scalars."""
    out = bytearray(b"\0\0\0\0TFL3")

    def align(n):
        out.extend(b"\0" * (-len(out) % n))

    def write(obj):
        align(8)
        kind, value = obj
        at = len(out)
        if kind in ("vec", "str"):
            data = value.encode() + b"\0" if kind == "str" else np.ascontiguousarray(value).tobytes()
            out.extend(struct.pack("<I", len(value)) + data)
        elif kind == "tables":
            out.extend(struct.pack("<I", len(value)) + b"\0" * 4 * len(value))
            for i, t in enumerate(value):
                slot = at + 4 + 4 * i
                struct.pack_into("<I", out, slot, write(t) - slot)
        else:
            fields = sorted(value.items())
            slots = max([i for i, _ in fields], default=-1) + 1
            vt = at
            out.extend(struct.pack("<HH", 4 + 2 * slots, 8 + 8 * len(fields)) + b"\0" * 2 * slots)
            align(8)
            at = len(out)
            out.extend(struct.pack("<i", at - vt) + b"\0" * (4 + 8 * len(fields)))
            refs = []
            for k, (index, v) in enumerate(fields):
                struct.pack_into("<H", out, vt + 4 + 2 * index, 8 + 8 * k)
                if isinstance(v, tuple):
                    refs.append((at + 8 + 8 * k, v))
                else:
                    out[at + 8 + 8 * k:at + 8 + 8 * k + v.nbytes] = v.tobytes()
            for slot, child in refs:
                struct.pack_into("<I", out, slot, write(child) - slot)
        return at

    struct.pack_into("<I", out, 0, write(model))
    return bytes(out)


def tflite_model(codes, tensors, ops, buffers, inputs, outputs):
    """codes: builtin codes; tensors: (name, shape, type, buffer, scales, zero points[,
    quantized dimension]);
    ops: (opcode index, inputs, outputs, options type, {field: value} or None)."""
    i32, u8, i8, u32 = np.int32, np.uint8, np.int8, np.uint32
    code_tables = [("table", {0: i8(min(c, 127)), 3: i32(c)}) for c in codes]
    tensor_tables = []
    for name, shape, ttype, buf, scale, zp, *axis in tensors:
        f = {0: ("vec", np.array(shape, i32)), 1: i8(ttype), 2: u32(buf), 3: ("str", name)}
        if scale:
            q = {2: ("vec", np.array(scale, np.float32)), 3: ("vec", np.array(zp, np.int64))}
            if axis and axis[0]:
                q[6] = i32(axis[0])
            f[4] = ("table", q)
        tensor_tables.append(("table", f))
    op_tables = []
    for code, ins, outs, opt_type, opts in ops:
        f = {0: u32(code), 1: ("vec", np.array(ins, i32)), 2: ("vec", np.array(outs, i32))}
        if opts is not None:
            f[3], f[4] = u8(opt_type), ("table", opts)
        op_tables.append(("table", f))
    buffer_tables = [("table", {})] + [("table", {0: ("vec", np.frombuffer(b, u8))}) for b in buffers]
    subgraph = ("table", {0: ("tables", tensor_tables), 1: ("vec", np.array(inputs, i32)),
                          2: ("vec", np.array(outputs, i32)), 3: ("tables", op_tables)})
    return write_tflite(("table", {0: u32(3), 1: ("tables", code_tables), 2: ("tables", [subgraph]),
                                   4: ("tables", buffer_tables)}))


def float_fully_connected(w, b):
    """y[1,N] = relu(x[1,K] @ w^T + b): TensorFlow Lite's FULLY_CONNECTED (weights [N,K]) with a fused
    ReLU, float32; tensors x (0), w (1), b (2), y (3)."""
    n, k = w.shape
    f32 = lambda name, shape, buf: (name, shape, 0, buf, [], [])  # TensorType FLOAT32 = 0
    # FULLY_CONNECTED = 9; options FullyConnectedOptions (8) {fused_activation_function 0: RELU = 1}.
    return tflite_model([9], [f32("x", [1, k], 0), f32("w", [n, k], 1), f32("b", [n], 2), f32("y", [1, n], 0)],
                        [(0, [0, 1, 2], [3], 8, {0: np.int8(1)})],
                        [w.astype("<f4").tobytes(), b.astype("<f4").tobytes()], [0], [3])
