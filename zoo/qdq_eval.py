"""A QDQ model evaluator written from the ONNX operator spec, in numpy (and torch for
Conv and MaxPool): the reference the zoo's int8 test data and rtml quantize's tests are
computed with, independent of rtml's engine.

QuantizeLinear rounds half to even and saturates to the zero point's type;
DequantizeLinear per tensor or per axis; Gemm, MatMul, Relu, Conv (1-D, 2-D,
symmetric pads), MaxPool, Flatten, ReduceMean and GlobalAveragePool; the elementwise,
shape and data-movement ops of the zoo's other families (FLOAT_OPS); LSTM and GRU (one
direction, the default activations, as the spec's equations write them); Softmax and
LayerNormalization (computed in float64, rounded to float32): the ops of the zoo's int8
models. run_qdq(model, feeds) returns the graph outputs in order.

run_qdq(model, feeds, integer=True) computes what rtml's planner runs instead: each
DequantizeLinear -> Conv / Gemm / MatMul [-> Relu] -> QuantizeLinear group (a Conv also
with a causal Slice before its Relu) as one integer
product, as docs/quantization.md writes it down (int32 accumulation of (x - x_zero_point) *
w, the int32 bias, then TFLite's fixed-point requantization: QuantizeMultiplier, the
saturating rounding doubling high multiply and the rounding divide by a power of two,
ties away from zero). It is written here from that description in numpy, not taken from
rtml; it differs from the float reading of the spec by one unit where the two roundings
part. Each DequantizeLinear -> ReduceMean / GlobalAveragePool -> QuantizeLinear group
(per tensor) likewise as TFLite's int8 MEAN: the int32 sum of x - x_zero_point, requantized
with the multiplier of x_scale / (y_scale * count). Each pair of DequantizeLinear -> Add | Mul
[-> Relu] -> QuantizeLinear (per tensor, one type) as TFLite's integer Add / Mul. Each
DequantizeLinear -> Sigmoid | Tanh ->
QuantizeLinear group (per tensor) as a lookup table, QuantizeLinear(f(DequantizeLinear(q)))
with f in float64 (docs/quantization.md). The other ops (MaxPool and Flatten on the quantized
values) give the same result either way.
"""
import numpy as np
import torch
import torch.nn.functional as F
from onnx import helper, mapping, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def per_axis(v, x, axis):
    """A scale or zero point shaped to broadcast along `axis` of x."""
    if v.ndim == 0:
        return v
    shape = [1] * x.ndim
    shape[axis] = v.size
    return v.reshape(shape)


def quantize_multiplier(m):
    """TFLite's QuantizeMultiplier: m = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if m == 0:
        return 0, 0
    q, shift = np.frexp(m)
    mult = int(np.floor(q * 2.0 ** 31 + 0.5))  # q > 0: half away from zero
    if mult == 2 ** 31:
        mult //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return mult, int(shift)


def requantize(acc, mult, shift):
    """MultiplyByQuantizedMultiplier on int64 arrays holding int32 values."""
    acc = acc.astype(np.int64) * (2 ** max(shift, 0))
    right = max(-shift, 0)
    ab = acc * mult
    nudge = np.where(ab >= 0, 2 ** 30, 1 - 2 ** 30)
    num = ab + nudge
    high = np.where(num >= 0, num // 2 ** 31, -((-num) // 2 ** 31))  # truncating division
    high = np.where((acc == -2 ** 31) & (mult == -2 ** 31), 2 ** 31 - 1, high)
    mask = (1 << right) - 1
    rem = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (rem > threshold)


def integer_product(model, prod, vals, qnode):
    """The Q output of a fused DQ -> product [-> Relu] -> Q group, or None if qnode ends none.
    A Conv may be followed by a Slice before its Relu (a causal convolution's trim, which
    rtml folds into the Conv's padding): the integer sums are sliced, then requantized."""
    src = prod.get(qnode.input[0])
    relu = src is not None and src.op_type == "Relu"
    if relu:
        src = prod.get(src.input[0])
    trim = None
    if relu and src is not None and src.op_type == "Slice":
        trim, src = src, prod.get(src.input[0])
        if src is None or src.op_type != "Conv":
            return None
    if src is None or src.op_type not in ("Conv", "Gemm", "MatMul"):
        return None
    a = attrs(src)
    if src.op_type == "Gemm" and (a.get("transA", 0) or a.get("alpha", 1.0) != 1 or a.get("beta", 1.0) != 1):
        return None
    dq = [prod.get(i) if i else None for i in src.input]
    if any(d is None or d.op_type != "DequantizeLinear" for d in dq):
        return None
    xq, xs, xz = (vals[i] for i in dq[0].input)
    wq, ws = vals[dq[1].input[0]], vals[dq[1].input[1]]
    if len(dq[1].input) > 2 and np.any(vals[dq[1].input[2]] != 0):
        return None
    bq = vals[dq[2].input[0]].astype(np.int64) if len(dq) > 2 else None
    x = xq.astype(np.int64) - np.int64(xz)
    w = wq.astype(np.int64)
    if src.op_type == "Conv":
        dims = w.ndim - 2
        pads = a.get("pads", [0] * 2 * dims)
        conv = F.conv1d if dims == 1 else F.conv2d
        acc = conv(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)), None,
                   stride=a.get("strides", 1), padding=pads[:dims], dilation=a.get("dilations", 1),
                   groups=a.get("group", 1)).numpy()
        acc = np.rint(acc).astype(np.int64)  # exact: integer sums far below 2^53
        channel_axis = 1
    else:
        if src.op_type == "Gemm" and a.get("transB", 0):
            w = w.T  # its scales stay one per output column
        acc = x @ w
        channel_axis = acc.ndim - 1
    if trim is not None:
        acc = slice_op([acc] + [vals[i] if i else None for i in trim.input[1:]])
    if bq is not None:
        acc = acc + per_axis(bq, acc, channel_axis)
    yq_node_scale, yz = vals[qnode.input[1]], vals[qnode.input[2]]
    info = np.iinfo(yz.dtype)
    lo = max(info.min, int(yz)) if relu else info.min
    ws = np.broadcast_to(ws, (acc.shape[channel_axis],))
    y = np.empty(acc.shape, np.int64)
    for c in range(acc.shape[channel_axis]):
        m, sh = quantize_multiplier(np.float64(xs) * np.float64(ws[c]) / np.float64(yq_node_scale))
        idx = [slice(None)] * acc.ndim
        idx[channel_axis] = c
        y[tuple(idx)] = requantize(acc[tuple(idx)], m, sh)
    return np.clip(y + int(yz), lo, info.max).astype(yz.dtype)


def integer_add(model, prod, vals, qnode):
    """The Q output of a fused DQ, DQ -> Add | Mul [-> Relu] -> Q group (per tensor, one type),
    or None: TFLite's integer Add and Mul as docs/quantization.md writes them (NumPy
    broadcasting). Add: each input (q - zero point) * 2^20 requantized by its scale over twice
    the larger input scale, the two summed, requantized by twice that scale over 2^20 times
    the output scale; Mul: the product requantized by a_scale * b_scale / y_scale."""
    src = prod.get(qnode.input[0])
    relu = src is not None and src.op_type == "Relu"
    if relu:
        src = prod.get(src.input[0])
    if src is None or src.op_type not in ("Add", "Mul") or len(src.input) != 2:
        return None
    dq = [prod.get(i) for i in src.input]
    if any(d is None or d.op_type != "DequantizeLinear" for d in dq):
        return None
    (aq, a_s, az), (bq, b_s, bz) = ([vals[i] for i in d.input] for d in dq)
    ys, yz = vals[qnode.input[1]], vals[qnode.input[2]]
    if any(v.size != 1 for v in (a_s, az, b_s, bz, ys)) or not (aq.dtype == bq.dtype == yz.dtype):
        return None
    a = aq.astype(np.int64) - np.int64(az)
    b = bq.astype(np.int64) - np.int64(bz)
    a_s, b_s, ys = np.float64(a_s), np.float64(b_s), np.float64(ys)
    if src.op_type == "Add":
        twice_max = 2 * max(a_s, b_s)
        y = sum(requantize(v * 2 ** 20, *quantize_multiplier(sc / twice_max)) for v, sc in ((a, a_s), (b, b_s)))
        y = requantize(y, *quantize_multiplier(twice_max / (2 ** 20 * ys)))
    else:
        y = requantize(a * b, *quantize_multiplier(a_s * b_s / ys))
    info = np.iinfo(yz.dtype)
    lo = max(info.min, int(yz)) if relu else info.min
    return np.clip(y + int(yz), lo, info.max).astype(yz.dtype)


def integer_mean(model, prod, vals, qnode):
    """The Q output of a fused DQ -> ReduceMean | GlobalAveragePool -> Q group (per tensor), or None:
    TFLite's int8 MEAN as docs/quantization.md writes it, the int32 sum of x - x_zero_point
    over the count averaged values, requantized with QuantizeMultiplier(x_scale / (y_scale * count))."""
    src = prod.get(qnode.input[0])
    if src is None or src.op_type not in ("ReduceMean", "GlobalAveragePool"):
        return None
    dq = prod.get(src.input[0])
    if dq is None or dq.op_type != "DequantizeLinear" or len(src.input) > 1:
        return None
    xq, xs, xz = (vals[i] for i in dq.input)
    ys, yz = vals[qnode.input[1]], vals[qnode.input[2]]
    if xs.size != 1 or ys.size != 1 or xq.dtype != yz.dtype:
        return None
    a = attrs(src)
    if src.op_type == "GlobalAveragePool":
        axes, keep = tuple(range(2, xq.ndim)), True
    else:
        axes, keep = tuple(ax % xq.ndim for ax in a.get("axes", range(xq.ndim))), bool(a.get("keepdims", 1))
    if sorted(axes) != list(range(min(axes), max(axes) + 1)):
        return None  # rtml fuses a block of contiguous axes only
    count = int(np.prod([xq.shape[ax] for ax in axes]))
    total = (xq.astype(np.int64) - np.int64(xz)).sum(axis=axes, keepdims=keep)
    m, sh = quantize_multiplier(np.float64(xs) / (np.float64(ys) * np.float64(count)))
    info = np.iinfo(yz.dtype)
    return np.clip(requantize(total, m, sh) + int(yz), info.min, info.max).astype(yz.dtype)


def integer_lookup(model, prod, vals, qnode):
    """The Q output of a fused DQ -> Sigmoid | Tanh -> Q group (per tensor), or None: each int8
    value through QuantizeLinear(f(DequantizeLinear(q))) with f in float64."""
    src = prod.get(qnode.input[0])
    if src is None or src.op_type not in ("Sigmoid", "Tanh"):
        return None
    dq = prod.get(src.input[0])
    if dq is None or dq.op_type != "DequantizeLinear":
        return None
    xq, xs, xz = (vals[i] for i in dq.input)
    ys, yz = vals[qnode.input[1]], vals[qnode.input[2]]
    if xs.size != 1 or ys.size != 1 or xq.dtype != yz.dtype:
        return None
    x = ((xq.astype(np.int64) - np.int64(xz)) * xs).astype(np.float32).astype(np.float64)
    f = np.tanh(x) if src.op_type == "Tanh" else 1.0 / (1.0 + np.exp(-x))
    info = np.iinfo(yz.dtype)
    return np.clip(np.rint(f / np.float64(ys)) + int(yz), info.min, info.max).astype(yz.dtype)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def recurrent(op, x, a):
    """LSTM (gates i, o, f, c) or GRU (gates z, r, h) forward, layout 0, the default activations,
    as the ONNX spec's equations write them; returns Y [seq, 1, batch, hidden] and the last states."""
    w, r = x[1][0], x[2][0]
    hidden = a["hidden_size"]
    assert a.get("direction", b"forward") in (b"forward", "forward") and "activations" not in a, op
    gates = 4 if op == "LSTM" else 3
    b = x[3][0] if len(x) > 3 and x[3] is not None else np.zeros(2 * gates * hidden, np.float32)
    wb, rb = b[:gates * hidden], b[gates * hidden:]
    seq, batch = x[0].shape[0], x[0].shape[1]
    h = x[5][0] if len(x) > 5 and x[5] is not None else np.zeros((batch, hidden), np.float32)
    c = x[6][0] if len(x) > 6 and x[6] is not None else np.zeros((batch, hidden), np.float32)
    assert len(x) <= 4 or x[4] is None, f"{op}: sequence_lens"
    ys = []
    for t in range(seq):
        if op == "LSTM":
            g = x[0][t] @ w.T + wb + h @ r.T + rb
            i, o, f, cc = np.split(g, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(cc)
            h = sigmoid(o) * np.tanh(c)
        else:
            gx = x[0][t] @ w.T + wb
            wz, wr, wh = np.split(gx, 3, axis=-1)
            rz, rr, rh = np.split(r, 3, axis=0)
            bz, br, bh = np.split(rb, 3)
            z = sigmoid(wz + h @ rz.T + bz)
            rg = sigmoid(wr + h @ rr.T + br)
            if a.get("linear_before_reset", 0):
                hh = np.tanh(wh + rg * (h @ rh.T + bh))
            else:
                hh = np.tanh(wh + (rg * h) @ rh.T + bh)
            h = (1 - z) * hh + z * h
        ys.append(h)
    y = np.stack(ys)[:, None].astype(np.float32)
    return [y, h[None].astype(np.float32), c[None].astype(np.float32)]


def slice_op(x):
    data, starts, ends = x[0], x[1], x[2]
    axes = x[3] if len(x) > 3 and x[3] is not None else range(len(starts))
    steps = x[4] if len(x) > 4 and x[4] is not None else [1] * len(starts)
    idx = [slice(None)] * data.ndim
    for s0, e0, ax, st in zip(starts, ends, axes, steps):
        idx[int(ax)] = slice(*slice(int(s0), int(e0), int(st)).indices(data.shape[int(ax)]))
    return data[tuple(idx)]


def reduce_sum(x, a):
    axes = tuple(int(v) for v in x[1]) if len(x) > 1 and x[1] is not None else None
    if axes == () and a.get("noop_with_empty_axes", 0):
        return x[0]
    return x[0].sum(axis=axes or None, keepdims=bool(a.get("keepdims", 1)))


def softmax(v, axis):
    v = v.astype(np.float64)
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def layer_norm(x, a):
    axes = tuple(range(a.get("axis", -1) % x[0].ndim, x[0].ndim))
    v = x[0].astype(np.float64)
    d = v - v.mean(axis=axes, keepdims=True)
    y = d / np.sqrt((d * d).mean(axis=axes, keepdims=True) + a.get("epsilon", 1e-5)) * x[1]
    return (y + x[2] if len(x) > 2 and x[2] is not None else y).astype(np.float32)


# Ops whose float32 result numpy gives directly: name -> f(inputs, attributes).
FLOAT_OPS = {
    "Add": lambda x, a: x[0] + x[1],
    "Sub": lambda x, a: x[0] - x[1],
    "Mul": lambda x, a: x[0] * x[1],
    "Div": lambda x, a: x[0] / x[1] if x[0].dtype.kind == "f" else x[0] // x[1],
    "Tanh": lambda x, a: np.tanh(x[0]),
    "Sigmoid": lambda x, a: sigmoid(x[0].astype(np.float64)).astype(np.float32),
    "Exp": lambda x, a: np.exp(x[0]),
    "Less": lambda x, a: x[0] < x[1],
    "Equal": lambda x, a: x[0] == x[1],
    "Clip": lambda x, a: np.clip(x[0], x[1] if len(x) > 1 and x[1] is not None else -np.inf,
                                 x[2] if len(x) > 2 and x[2] is not None else np.inf).astype(x[0].dtype),
    "Cast": lambda x, a: x[0].astype(mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]),
    "Identity": lambda x, a: x[0],
    "Shape": lambda x, a: np.array(x[0].shape, np.int64),
    "Gather": lambda x, a: np.take(x[0], x[1], axis=a.get("axis", 0)),
    "Reshape": lambda x, a: x[0].reshape([d if d != 0 else x[0].shape[i] for i, d in enumerate(x[1])]),
    "Transpose": lambda x, a: np.transpose(x[0], a.get("perm")),
    "Squeeze": lambda x, a: np.squeeze(x[0], axis=tuple(int(v) for v in x[1])) if len(x) > 1 else np.squeeze(x[0]),
    "Unsqueeze": lambda x, a: np.expand_dims(x[0], tuple(int(v) for v in x[1])),
    "Slice": lambda x, a: slice_op(x),
    "ReduceSum": reduce_sum,
    "Softmax": lambda x, a: softmax(x[0], a.get("axis", -1)),
    "LayerNormalization": layer_norm,
}


def run_qdq(model, feeds, integer=False):
    vals = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    vals.update(feeds)
    prod = {o: n for n in model.graph.node for o in n.output}
    for n in model.graph.node:
        a = attrs(n)
        x = [vals[i] if i else None for i in n.input]
        op = n.op_type
        y = None
        if integer and op == "QuantizeLinear":
            y = integer_product(model, prod, vals, n)
            y = integer_add(model, prod, vals, n) if y is None else y
            y = integer_mean(model, prod, vals, n) if y is None else y
            y = integer_lookup(model, prod, vals, n) if y is None else y
        if y is not None:
            pass
        elif op == "QuantizeLinear":
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
        elif op == "GlobalAveragePool":
            y = x[0].mean(axis=tuple(range(2, x[0].ndim)), keepdims=True)
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"]) if "value" in a else np.array(next(iter(a.values())))
        elif op in ("LSTM", "GRU"):
            for name, v in zip(n.output, recurrent(op, x, a)):
                if name:
                    vals[name] = v
            continue
        elif op in FLOAT_OPS:
            y = FLOAT_OPS[op](x, a)
        else:
            raise NotImplementedError(op)
        vals[n.output[0]] = y
    return [vals[o.name] for o in model.graph.output]
