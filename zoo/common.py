"""What every zoo model shares: its description, export, test data and manifest entry.

A family module (zoo/families/*.py) returns a list of ZooModel from models().
export() turns one into a folder:

    NAME/model.onnx              ONNX, fixed shapes, weights as initializers
    NAME/model.pt                TorchScript (torch.jit.trace) of the same module
    NAME/test_data_set_K/        ONNX backend test layout:
        input_I.pb               onnx.TensorProto named after the model input
        output_I.pb              PyTorch's output (absent for stochastic outputs)
        label.pb                 int64 [1], the true class (trained classifiers)

and returns the model's manifest entry.
"""
import os
import shutil
import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import onnx
import torch
from onnx import numpy_helper, shape_inference


@dataclass
class ZooModel:
    name: str
    family: str
    description: str
    params: dict
    build: Callable[[], torch.nn.Module]      # called after seeding torch with the model's seed
    inputs: dict                              # input name -> shape (all float32)
    outputs: list
    sets: tuple = ("sweep",)                  # "default" and/or "sweep"
    opset: int = 13
    streaming: bool = False                   # batch 1, one step per call (a real-time loop)
    test_sets: int = 2                        # random test data sets (when test_data is None)
    # () -> (list of input tuples of numpy arrays, list of int labels or None);
    # called after build(), for trained models: their held-out split.
    test_data: Optional[Callable] = None
    input_dist: dict = field(default_factory=dict)   # input name -> "normal" (default) | "uniform"
    stochastic_outputs: tuple = ()            # outputs drawn from the model's own RNG: no expected data
    seed_random_ops: bool = False             # give RandomNormal*/RandomUniform* nodes a fixed seed
    extra: dict = field(default_factory=dict)  # more manifest fields (filled by build() for trained models)

    @property
    def seed(self):
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF


def sets_for(name, default_names):
    """A sweep model that is also in the default set when listed in default_names."""
    return ("default", "sweep") if name in default_names else ("sweep",)


RANDOM_OPS = ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike")


def random_inputs(m, rng):
    arrays = []
    for name, shape in m.inputs.items():
        if m.input_dist.get(name, "normal") == "uniform":
            arrays.append(rng.uniform(0.0, 1.0, size=shape).astype(np.float32))
        else:
            arrays.append(rng.standard_normal(size=shape).astype(np.float32))
    return arrays


def run_torch(module, arrays):
    # Gradients stay enabled on purpose: PyTorch's no_grad fast path for
    # TransformerEncoderLayer is not what the ONNX exporter traces.
    out = module(*(torch.from_numpy(a) for a in arrays))
    if not isinstance(out, (tuple, list)):
        out = (out,)
    return [o.detach().numpy() for o in out]


def save_tensor(path, array, name):
    t = numpy_helper.from_array(np.ascontiguousarray(array), name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def export(m, out_dir):
    """Exports one model into out_dir/m.name; returns its manifest entry."""
    torch.manual_seed(m.seed)
    np_rng = np.random.default_rng(m.seed)
    module = m.build()
    module.eval()
    d = os.path.join(out_dir, m.name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)

    if m.test_data is not None:
        sets, labels = m.test_data()
    else:
        sets, labels = [random_inputs(m, np_rng) for _ in range(m.test_sets)], None
    example = tuple(torch.from_numpy(a) for a in sets[0])

    onnx_path = os.path.join(d, "model.onnx")
    torch.onnx.export(module, example, onnx_path, input_names=list(m.inputs), output_names=list(m.outputs),
                      opset_version=m.opset, do_constant_folding=True)
    model = onnx.load(onnx_path)
    if m.seed_random_ops:
        for node in model.graph.node:
            if node.op_type in RANDOM_OPS:
                node.attribute.append(onnx.helper.make_attribute("seed", float(m.seed % 100000)))
    fix_output_shapes(m, model, [o.shape for o in run_torch(module, sets[0])])
    onnx.save(model, onnx_path)
    check_interface(m, model)

    traced = torch.jit.trace(module, example, check_trace=False)
    traced.save(os.path.join(d, "model.pt"))

    test_dirs = []
    for k, arrays in enumerate(sets):
        sd = os.path.join(d, f"test_data_set_{k}")
        os.makedirs(sd)
        for i, (name, a) in enumerate(zip(m.inputs, arrays)):
            save_tensor(os.path.join(sd, f"input_{i}.pb"), a, name)
        for i, (name, o) in enumerate(zip(m.outputs, run_torch(module, arrays))):
            if name not in m.stochastic_outputs:
                save_tensor(os.path.join(sd, f"output_{i}.pb"), o, name)
        if labels is not None:
            save_tensor(os.path.join(sd, "label.pb"), np.array([labels[k]], dtype=np.int64), "label")
        test_dirs.append(f"{m.name}/test_data_set_{k}")

    values, nbytes = parameter_size(model)
    entry = {
        "name": m.name,
        "family": m.family,
        "description": m.description,
        "params": m.params,
        "sets": list(m.sets),
        "streaming": m.streaming,
        "opset": m.opset,
        "flops": count_flops(model),
        "parameters": values,
        "parameter_bytes": nbytes,
        "inputs": [{"name": n, "dtype": "float32", "shape": list(s)} for n, s in m.inputs.items()],
        "outputs": [{"name": n, "dtype": onnx_dtype(model, n), "shape": onnx_shape(model, n)} for n in m.outputs],
        "stochastic_outputs": list(m.stochastic_outputs),
        "files": {"onnx": f"{m.name}/model.onnx", "torchscript": f"{m.name}/model.pt", "test_data": test_dirs},
        "labelled": labels is not None,
        "seed": m.seed,
    }
    entry.update(m.extra)
    return entry


def _value_info(model, name):
    for v in list(model.graph.input) + list(model.graph.output):
        if v.name == name:
            return v
    raise ValueError(f"{name}: not an input or output of the exported graph")


def onnx_shape(model, name):
    return [d.dim_value if d.HasField("dim_value") else d.dim_param
            for d in _value_info(model, name).type.tensor_type.shape.dim]


def onnx_dtype(model, name):
    elem = _value_info(model, name).type.tensor_type.elem_type
    return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem]).name


def fix_output_shapes(m, model, shapes):
    """The exporter leaves some output dims symbolic (e.g. after Pad); they are fixed: write them."""
    for v, shape in zip(model.graph.output, shapes):
        dims = v.type.tensor_type.shape.dim
        if len(dims) != len(shape):
            raise RuntimeError(f"{m.name}: output {v.name} exported with rank {len(dims)}, PyTorch gives {shape}")
        for d, n in zip(dims, shape):
            if d.HasField("dim_value") and d.dim_value != n:
                raise RuntimeError(f"{m.name}: output {v.name} exported as {onnx_shape(model, v.name)}, "
                                   f"PyTorch gives {list(shape)}")
            d.dim_value = n


def check_interface(m, model):
    """The exported graph has exactly the declared inputs and outputs, all with fixed shapes."""
    inits = {t.name for t in model.graph.initializer}
    got_in = [v.name for v in model.graph.input if v.name not in inits]
    got_out = [v.name for v in model.graph.output]
    if got_in != list(m.inputs) or got_out != list(m.outputs):
        raise RuntimeError(f"{m.name}: exported inputs {got_in} / outputs {got_out}, "
                           f"declared {list(m.inputs)} / {m.outputs}")
    for n, shape in m.inputs.items():
        if onnx_shape(model, n) != list(shape):
            raise RuntimeError(f"{m.name}: input {n} exported as {onnx_shape(model, n)}, declared {list(shape)}")
    for n in m.outputs:
        if not all(isinstance(x, int) and x > 0 for x in onnx_shape(model, n)):
            raise RuntimeError(f"{m.name}: output {n} has no fixed shape: {onnx_shape(model, n)}")


def parameter_size(model):
    """Values and bytes of the initializers: the weights and buffers (not the shape
    constants the exporter writes as Constant nodes)."""
    values = nbytes = 0
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        values += int(a.size)
        nbytes += int(a.nbytes)
    return values, nbytes


# FLOPs per inference, counted from the graph with inferred shapes.
# A multiply-add counts 2; every other arithmetic op counts 1 per output
# element (Softmax 4, LayerNormalization 5, BatchNormalization 2 per element);
# reshaping and data movement count 0.
FREE_OPS = {"Reshape", "Transpose", "Concat", "Slice", "Gather", "Squeeze", "Unsqueeze", "Shape", "Constant",
            "Identity", "Cast", "Expand", "Flatten", "Split", "ConstantOfShape", "Range", "Pad", "Dropout"}
PER_ELEMENT = {"Softmax": 4, "LogSoftmax": 4, "LayerNormalization": 5, "BatchNormalization": 2}


def _with_constant_pads(model):
    """A copy of the model whose Pad nodes read their pads from an initializer when
    the exporter computed them from constants (F.pad writes ConstantOfShape, Concat,
    Reshape, Slice, Transpose, Cast): ONNX shape inference cannot see through that
    chain, so every shape after such a Pad would be unknown. Evaluated with numpy."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    values = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for node in g.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        ins = [values.get(i) for i in node.input]
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(a["value"])
        elif any(x is None for x in ins):
            continue
        elif node.op_type == "ConstantOfShape":
            fill = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            values[node.output[0]] = np.full(ins[0], fill[0], fill.dtype)
        elif node.op_type == "Concat":
            values[node.output[0]] = np.concatenate(ins, axis=a["axis"])
        elif node.op_type == "Reshape":
            values[node.output[0]] = ins[0].reshape([d if d else ins[0].shape[k] for k, d in enumerate(ins[1])])
        elif node.op_type == "Transpose":
            values[node.output[0]] = np.transpose(ins[0], a.get("perm"))
        elif node.op_type == "Cast":
            values[node.output[0]] = ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])
        elif node.op_type == "Slice" and len(ins) == 5:
            index = [slice(None)] * ins[0].ndim
            for start, end, axis, step in zip(*ins[1:]):
                index[axis] = slice(start, None if end < -ins[0].shape[axis] else end, step)
            values[node.output[0]] = ins[0][tuple(index)]
    for node in g.node:
        if node.op_type == "Pad" and len(node.input) > 1 and node.input[1] in values:
            g.initializer.append(numpy_helper.from_array(values[node.input[1]], node.input[1] + ":folded"))
            node.input[1] = node.input[1] + ":folded"
    return model


def count_flops(model):
    inferred = shape_inference.infer_shapes(_with_constant_pads(model))
    shapes = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = v.type.tensor_type.shape.dim
        if all(x.HasField("dim_value") for x in dims):
            shapes[v.name] = [x.dim_value for x in dims]
    for t in inferred.graph.initializer:
        shapes[t.name] = list(t.dims)
    for node in inferred.graph.node:
        if node.op_type == "Constant":
            shapes[node.output[0]] = [list(a.t.dims) for a in node.attribute if a.name == "value"][0]

    def numel(name):
        if name not in shapes:
            raise RuntimeError(f"count_flops: no inferred shape for '{name}'")
        return int(np.prod(shapes[name], dtype=np.int64))

    total = 0
    for node in inferred.graph.node:
        op, ins, outs = node.op_type, node.input, node.output
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if op in FREE_OPS:
            continue
        if op == "MatMul":
            total += 2 * numel(outs[0]) * shapes[ins[0]][-1]
        elif op == "Gemm":
            k = shapes[ins[0]][0 if attrs.get("transA", 0) else 1]
            total += 2 * numel(outs[0]) * k + (numel(outs[0]) if len(ins) > 2 and ins[2] else 0)
        elif op == "Conv":
            w = shapes[ins[1]]
            total += 2 * numel(outs[0]) * int(np.prod(w[1:])) + (numel(outs[0]) if len(ins) > 2 and ins[2] else 0)
        elif op in ("LSTM", "GRU"):
            seq, batch, inp = shapes[ins[0]]
            gates, per_h = (4, 17) if op == "LSTM" else (3, 15)
            hidden = attrs["hidden_size"]
            dirs = 2 if attrs.get("direction", b"forward") == b"bidirectional" else 1
            total += dirs * seq * batch * (2 * gates * hidden * (inp + hidden) + per_h * hidden)
        elif op in ("MaxPool", "AveragePool"):
            total += numel(outs[0]) * int(np.prod(attrs["kernel_shape"]))
        elif op in ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum", "ReduceMax"):
            total += numel(ins[0])
        else:
            total += PER_ELEMENT.get(op, 1) * numel(outs[0])
    return int(total)
