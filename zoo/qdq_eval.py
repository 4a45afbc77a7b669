"""A QDQ model evaluator written from the ONNX operator spec, in numpy (and torch for
Conv and MaxPool): the reference the zoo's int8 test data and rtml quantize's tests are
computed with, independent of rtml's engine.

QuantizeLinear rounds half to even and saturates to the zero point's type;
DequantizeLinear per tensor or per axis; Gemm, MatMul, Relu, Conv (1-D, 2-D,
symmetric pads), MaxPool, Flatten and ReduceMean: the ops of the zoo's int8
models. run_qdq(model, feeds) returns the graph outputs in order.
"""
import numpy as np
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def per_axis(v, x, axis):
    """A scale or zero point shaped to broadcast along `axis` of x."""
    if v.ndim == 0:
        return v
    shape = [1] * x.ndim
    shape[axis] = v.size
    return v.reshape(shape)


def run_qdq(model, feeds):
    vals = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    vals.update(feeds)
    for n in model.graph.node:
        a = attrs(n)
        x = [vals[i] if i else None for i in n.input]
        op = n.op_type
        if op == "QuantizeLinear":
            zp = x[2] if len(x) > 2 else np.uint8(0)
            info = np.iinfo(zp.dtype)
            ax = a.get("axis", 1) % x[0].ndim
            q = np.rint(x[0] / per_axis(x[1], x[0], ax)) + per_axis(zp.astype(np.int64), x[0], ax)
            y = np.clip(q, info.min, info.max).astype(zp.dtype)
        elif op == "DequantizeLinear":
            zp = x[2] if len(x) > 2 else np.zeros((), x[0].dtype)
            ax = a.get("axis", 1) % max(x[0].ndim, 1)
            y = ((x[0].astype(np.int64) - per_axis(zp.astype(np.int64), x[0], ax)) *
                 per_axis(x[1], x[0], ax)).astype(np.float32)
        elif op == "Gemm":
            A, B = x[0], x[1]
            if a.get("transA", 0): A = A.T
            if a.get("transB", 0): B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None: y = y + a.get("beta", 1.0) * x[2]
        elif op == "MatMul":
            y = x[0] @ x[1]
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "Conv":
            t = lambda v: torch.from_numpy(np.ascontiguousarray(v))
            dims = x[1].ndim - 2
            pads = a.get("pads", [0] * 2 * dims)
            assert pads[:dims] == pads[dims:], "asymmetric pads"
            conv = F.conv1d if dims == 1 else F.conv2d
            y = conv(t(x[0]), t(x[1]), t(x[2]) if len(x) > 2 else None, stride=a.get("strides", 1),
                     padding=pads[:dims], dilation=a.get("dilations", 1), groups=a.get("group", 1)).numpy()
        elif op == "MaxPool":
            dims = x[0].ndim - 2
            pool = F.max_pool1d if dims == 1 else F.max_pool2d
            pads = a.get("pads", [0] * 2 * dims)
            y = pool(torch.from_numpy(x[0]), a["kernel_shape"], a.get("strides", a["kernel_shape"]),
                     pads[:dims]).numpy()
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:ax])), -1)
        elif op == "ReduceMean":
            y = x[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        else:
            raise NotImplementedError(op)
        vals[n.output[0]] = y
    return [vals[o.name] for o in model.graph.output]
