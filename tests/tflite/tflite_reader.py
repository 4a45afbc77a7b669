"""Reads a .tflite file's first subgraph (operator codes, tensors with their
quantization, operators with their options, buffers) and cuts one operator
out of it as a .tflite file of its own, written by tflite_writer.py: the
operator, its constant inputs with their bytes, its activation inputs as the
new model's inputs and its outputs as its outputs, every shape, type, scale
and zero point as in the file. Field numbers are TensorFlow Lite's
schema.fbs. A reader for the tests' own trusted inputs (the MLPerf Tiny
files): it checks nothing; the importer's reader (src/import/flatbuffer_reader.h)
is the one that checks.
"""
import struct

import numpy as np

from tflite_writer import tflite_model

BUILTIN_NAMES = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
                 6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL",
                 22: "RESHAPE", 25: "SOFTMAX", 114: "QUANTIZE"}
# The scalar fields of the option tables these operators use (BuiltinOptions
# union index -> struct format per field, in field order); None: a vector of int.
OPTION_FIELDS = {
    1: "biibiib",   # Conv2DOptions: padding, stride_w, stride_h, fused activation, dilation w, h, bias type
    2: "biiibii",   # DepthwiseConv2DOptions: padding, strides, depth_multiplier, activation, dilations
    5: "biiiib",    # Pool2DOptions: padding, strides, filter width, height, activation
    8: "bb??b",     # FullyConnectedOptions: activation, weights format, keep_num_dims, asymmetric, bias type
    9: "f",         # SoftmaxOptions: beta
    11: "b?",       # AddOptions: activation, pot_scale_int16
    17: [None],     # ReshapeOptions: new_shape
}
NUMPY_OF = {"b": np.int8, "i": np.int32, "?": np.bool_, "f": np.float32}


class Table:
    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]

    def offset(self, field):
        slot = 4 + 2 * field
        if slot >= struct.unpack_from("<H", self.buf, self.vtable)[0]:
            return 0
        return struct.unpack_from("<H", self.buf, self.vtable + slot)[0]

    def scalar(self, field, fmt, default=0):
        off = self.offset(field)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + off)[0] if off else default

    def _target(self, field):
        off = self.offset(field)
        if not off:
            return None
        at = self.pos + off
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, field):
        at = self._target(field)
        return Table(self.buf, at) if at is not None else None

    def vector(self, field, dtype):
        at = self._target(field)
        if at is None:
            return None
        n = struct.unpack_from("<I", self.buf, at)[0]
        return np.frombuffer(self.buf, dtype, n, at + 4).copy()

    def tables(self, field):
        at = self._target(field)
        if at is None:
            return []
        n = struct.unpack_from("<I", self.buf, at)[0]
        return [Table(self.buf, at + 4 + 4 * i + struct.unpack_from("<I", self.buf, at + 4 + 4 * i)[0])
                for i in range(n)]

    def string(self, field):
        at = self._target(field)
        if at is None:
            return ""
        n = struct.unpack_from("<I", self.buf, at)[0]
        return bytes(self.buf[at + 4:at + 4 + n]).decode()


class Model:
    """The first subgraph of a .tflite file: tensors [dict], ops [dict], inputs, outputs (tensor indices)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            buf = f.read()
        root = Table(buf, struct.unpack_from("<I", buf, 0)[0])
        self.codes = [max(c.scalar(0, "b"), c.scalar(3, "i")) for c in root.tables(1)]
        self.buffers = [b.vector(0, np.uint8) for b in root.tables(4)]
        sg = root.tables(2)[0]
        self.tensors = []
        for t in sg.tables(0):
            q = t.table(4)
            scale = q.vector(2, np.float32) if q else None
            self.tensors.append({
                "name": t.string(3), "shape": [int(d) for d in t.vector(0, np.int32)], "type": t.scalar(1, "b"),
                "buffer": t.scalar(2, "I"), "scale": None if scale is None or not len(scale) else scale,
                "zero_point": q.vector(3, np.int64) if q else None, "axis": q.scalar(6, "i") if q else 0})
        self.inputs = [int(i) for i in sg.vector(1, np.int32)]
        self.outputs = [int(i) for i in sg.vector(2, np.int32)]
        self.ops = []
        for op in sg.tables(3):
            code = self.codes[op.scalar(0, "I")]
            opt_type = op.scalar(3, "B")
            self.ops.append({"code": code, "name": BUILTIN_NAMES.get(code, f"builtin {code}"),
                             "inputs": [int(i) for i in op.vector(1, np.int32)],
                             "outputs": [int(i) for i in op.vector(2, np.int32)],
                             "options_type": opt_type, "options": op.table(4) if opt_type else None})

    def constant(self, t):
        b = self.tensors[t]["buffer"]
        return b != 0 and self.buffers[b] is not None and len(self.buffers[b]) > 0

    def activation_inputs(self, k):
        return [t for t in self.ops[k]["inputs"] if t >= 0 and not self.constant(t)]

    def cut(self, k):
        """Operator k alone as .tflite bytes; its inputs are activation_inputs(k), named input0, input1...,
        its outputs the op's, named output0... (the file's names can be longer than a file name may be)."""
        op = self.ops[k]
        used = [t for t in op["inputs"] if t >= 0] + op["outputs"]
        used = list(dict.fromkeys(used))
        index = {t: i for i, t in enumerate(used)}
        names = {t: f"input{i}" for i, t in enumerate(self.activation_inputs(k))}
        names.update({t: f"output{i}" for i, t in enumerate(op["outputs"])})
        tensors, buffers = [], []
        for t in used:
            x = self.tensors[t]
            buf = 0
            if self.constant(t):
                buffers.append(self.buffers[x["buffer"]].tobytes())
                buf = len(buffers)
            scale = list(x["scale"]) if x["scale"] is not None else None
            zp = list(x["zero_point"]) if scale else None
            tensors.append((names.get(t, x["name"]), x["shape"], x["type"], buf, scale, zp, x["axis"]))
        options = None
        if op["options"] is not None:
            fields = OPTION_FIELDS.get(op["options_type"])
            if fields is None:
                raise ValueError(f"operator {k} ({op['name']}): options type {op['options_type']} not known here")
            options = {}
            for i, f in enumerate(fields):
                if op["options"].offset(i) == 0:
                    continue
                if f is None:
                    options[i] = ("vec", op["options"].vector(i, np.int32))
                else:
                    options[i] = NUMPY_OF[f](op["options"].scalar(i, f))
        ins = [index[t] if t >= 0 else -1 for t in op["inputs"]]
        outs = [index[t] for t in op["outputs"]]
        return tflite_model([op["code"]], tensors, [(0, ins, outs, op["options_type"], options)], buffers,
                            [index[t] for t in self.activation_inputs(k)], outs)
