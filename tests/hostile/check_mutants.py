#!/usr/bin/python3
"""Structure-aware mutants of small models through a built rtml (issue 20).

Takes small models (ONNX node tests from libonnx-testdata, and the smallest
zoo models when --zoo is given), writes 200 mutants of them (--count), one
hostile change each:

  dims      huge, wrapping (2^32 x 2^32), 2^62, INT64_MAX or negative dims on
            an initializer (its data left as it was, or removed) or on a
            graph input
  values    int64 initializers (shapes, pads, repeats, axes...) set to huge,
            negative or INT64_MIN/MAX values
  attrs     an attribute's type changed (int <-> float, ints -> string,
            a tensor dropped), or its ints made huge
  names     a node input renamed to nothing (dangling), a node reading a
            later node's output (a cycle), an extra node output, an output
            renamed to an initializer
  external  an initializer moved to external data: absolute path, "..",
            a missing file, an offset past the end or near 2^64
  dtypes    an initializer's data_type changed (string, undefined, an
            unknown number, a type of another size)
  ops       an unknown op type, a domain, an empty op type

and runs `rtml info MODEL` and `rtml run MODEL --random` on each with
RTML_MAX_MEMORY=256M and a time limit. A case passes when rtml exits 0, 1
or 2 (never a signal), prints no sanitizer report, and when it fails says
so on stderr with a message that is not an internal error. With an ASan
build of rtml (make test-asan) this also proves the error paths are clean
under AddressSanitizer and UBSan.

Usage: check_mutants.py RTML [--zoo DIR] [--out DIR] [--seed N] [--jobs N]
Exit 0 if every case passes, 1 otherwise (the failing cases are listed).
"""
import argparse
import collections
import concurrent.futures
import copy
import os
import random
import shutil
import subprocess
import sys

import onnx
from onnx import TensorProto, helper

NODE_TESTS = "/usr/share/libonnx-testdata/data/node"
# Ops whose inputs decide output shapes, plus common ones: their node tests seed the mutants.
SEED_TESTS = [
    "test_relu", "test_transpose_default", "test_transpose_all_permutations_0", "test_reshape_negative_dim",
    "test_reshape_extended_dims", "test_slice", "test_slice_neg_steps", "test_expand_dim_changed", "test_tile",
    "test_concat_1d_axis_0", "test_pad", "test_constant_pad", "test_range_float_type_positive_delta",
    "test_range_int32_type_negative_delta", "test_constantofshape_float_ones", "test_gather_0",
    "test_conv_with_strides_padding", "test_maxpool_2d_default", "test_averagepool_2d_pads", "test_lstm_defaults",
    "test_gru_defaults", "test_gemm_default_single_elem_vector", "test_matmul_2d", "test_split_equal_parts_1d",
    "test_squeeze", "test_unsqueeze_axis_0", "test_softmax_axis_0", "test_batchnorm_example", "test_flatten_axis0",
    "test_depthtospace_example", "test_spacetodepth_example", "test_convtranspose", "test_reduce_mean_default_axes_keepdims_example",
    "test_scatternd", "test_gathernd_example_int32", "test_trilu_upper", "test_eyelike_populate_off_main_diagonal",
    "test_cast_FLOAT_to_FLOAT16", "test_where_example", "test_add_bcast", "test_shape", "test_size",
]
BAD_MARKERS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer", "runtime error:",
               "internal error", "terminate called", "Segmentation fault", "std::bad_alloc", "out of memory")
HUGE = [1 << 62, (1 << 63) - 1, 1 << 32, 4611686018427387904, 1152921504606846977, -1, -7, 0]


def load_seeds(zoo, rng):
    seeds = []
    for name in SEED_TESTS:
        path = os.path.join(NODE_TESTS, name, "model.onnx")
        if os.path.exists(path):
            seeds.append((name, onnx.load(path)))
    if zoo and os.path.isdir(zoo):
        smallest = {}
        for name in sorted(os.listdir(zoo)):
            path = os.path.join(zoo, name, "model.onnx")
            if os.path.exists(path) and os.path.getsize(path) < 40000:
                family = name.split("_")[0]
                if family not in smallest or os.path.getsize(path) < smallest[family][0]:
                    smallest[family] = (os.path.getsize(path), name, path)
        for _, name, path in sorted(smallest.values()):
            seeds.append((name, onnx.load(path)))
    return seeds


# ---- mutations: each takes (model, rng) and returns a label, or None if it does not apply.

def mut_initializer_dims(m, rng):
    if not m.graph.initializer:
        return None
    t = rng.choice(m.graph.initializer)
    dims = rng.choice([[1 << 32, 1 << 32], [1 << 62, 4], [(1 << 63) - 1], [-3], [1 << 31, 1 << 31, 8],
                       [4611686018427387904], [1152921504606846977, 16]])
    del t.dims[:]
    t.dims.extend(dims)
    if rng.random() < 0.5:  # and no data at all
        t.ClearField("raw_data")
        for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            t.ClearField(f)
    return f"initializer {t.name} dims {dims}"


def mut_input_dims(m, rng):
    inits = {t.name for t in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in inits and i.type.tensor_type.HasField("shape")]
    if not inputs:
        return None
    vi = rng.choice(inputs)
    dims = vi.type.tensor_type.shape.dim
    if not dims:
        return None
    d = rng.randrange(len(dims))
    v = rng.choice(HUGE)
    dims[d].ClearField("dim_param")
    dims[d].dim_value = v
    if rng.random() < 0.3 and len(dims) > 1:
        dims[(d + 1) % len(dims)].dim_value = 1 << 32
    return f"input {vi.name} dim {d} = {v}"


def mut_int_values(m, rng):
    ints = [t for t in m.graph.initializer if t.data_type == TensorProto.INT64]
    if not ints:
        # Turn a node's constant int64 input (from a Constant node) into one: handled by attrs instead.
        return None
    t = rng.choice(ints)
    n = 1
    for d in t.dims:
        n *= d
    vals = [rng.choice(HUGE + [-(1 << 63), 3]) for _ in range(max(n, 0))]
    t.ClearField("raw_data")
    t.ClearField("int64_data")
    t.int64_data.extend(vals)
    return f"initializer {t.name} values {vals}"


def mut_attr_type(m, rng):
    nodes = [n for n in m.graph.node if n.attribute]
    if not nodes:
        return None
    node = rng.choice(nodes)
    a = rng.choice(node.attribute)
    kind = rng.choice(["float", "string", "ints_huge", "int_huge", "empty_tensor", "graph"])
    name = a.name
    node.attribute.remove(a)
    if kind == "float":
        node.attribute.append(helper.make_attribute(name, 1.5))
    elif kind == "string":
        node.attribute.append(helper.make_attribute(name, "x"))
    elif kind == "ints_huge":
        node.attribute.append(helper.make_attribute(name, [rng.choice(HUGE) for _ in range(rng.randint(0, 4))]))
    elif kind == "int_huge":
        node.attribute.append(helper.make_attribute(name, rng.choice(HUGE + [-(1 << 63)])))
    elif kind == "empty_tensor":
        t = TensorProto()
        t.data_type = rng.choice([0, 1, 7, 8])
        t.dims.extend([rng.choice(HUGE)])
        node.attribute.append(helper.make_attribute(name, t))
    else:
        node.attribute.append(helper.make_attribute(name, helper.make_graph([], "g", [], [])))
    return f"node {node.name or node.op_type} attribute {name} -> {kind}"


def mut_names(m, rng):
    nodes = list(m.graph.node)
    if not nodes:
        return None
    kind = rng.choice(["dangling", "cycle", "extra_output", "output_is_initializer", "dup_output", "no_outputs"])
    node = rng.choice(nodes)
    if kind == "dangling" and node.input:
        node.input[rng.randrange(len(node.input))] = "nowhere"
    elif kind == "cycle" and node.input:
        node.input[rng.randrange(len(node.input))] = nodes[-1].output[0] if nodes[-1].output else "y"
    elif kind == "extra_output":
        node.output.append("extra")
        m.graph.output.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, None))
    elif kind == "output_is_initializer" and m.graph.initializer and node.output:
        node.output[0] = m.graph.initializer[0].name
    elif kind == "dup_output" and len(nodes) > 1 and node.output and nodes[0].output:
        node.output[0] = nodes[0].output[0]
    elif kind == "no_outputs":
        del m.graph.output[:]
    else:
        return None
    return f"names: {kind} at {node.name or node.op_type}"


def mut_external(m, rng):
    if not m.graph.initializer:
        return None
    t = rng.choice(m.graph.initializer)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    loc, off = rng.choice([("/etc/passwd", None), ("../../etc/passwd", None), ("missing.bin", None),
                           ("model.onnx", "18446744073709551600"), ("model.onnx", "99999999999"),
                           ("model.onnx", "-5"), ("model.onnx", "0x10"), ("", None), (".", None)])
    e = t.external_data.add()
    e.key, e.value = "location", loc
    if off is not None:
        e = t.external_data.add()
        e.key, e.value = "offset", off
    return f"initializer {t.name} external {loc} offset {off}"


def mut_dtype(m, rng):
    if not m.graph.initializer:
        return None
    t = rng.choice(m.graph.initializer)
    t.data_type = rng.choice([0, 8, 14, 15, 99, -1, 10, 11, 7, 9])
    return f"initializer {t.name} data_type {t.data_type}"


def mut_op(m, rng):
    if not m.graph.node:
        return None
    node = rng.choice(m.graph.node)
    kind = rng.choice(["unknown", "domain", "empty"])
    if kind == "unknown":
        node.op_type = "NoSuchOp"
    elif kind == "domain":
        node.domain = "com.example"
    else:
        node.op_type = ""
    return f"op {kind}"


MUTATIONS = [mut_initializer_dims, mut_input_dims, mut_int_values, mut_attr_type, mut_names, mut_external,
             mut_dtype, mut_op]


def constants_as_initializers(m):
    """Constant nodes of int64 tensors become initializers, so value mutations reach shape inputs."""
    keep = []
    for n in m.graph.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].type == onnx.AttributeProto.TENSOR:
            t = copy.deepcopy(n.attribute[0].t)
            t.name = n.output[0]
            m.graph.initializer.append(t)
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)


def make_mutants(seeds, out, count, rng):
    cases = []
    for i in range(count):
        name, seed = seeds[i % len(seeds)]
        m = copy.deepcopy(seed)
        constants_as_initializers(m)
        label = None
        for _ in range(10):
            label = rng.choice(MUTATIONS)(m, rng)
            if label:
                break
        if not label:
            continue
        folder = os.path.join(out, f"{i:04d}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "model.onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        cases.append((path, f"{name}: {label}"))
    return cases


def run_case(rtml, path, label, timeout):
    failures, codes = [], []
    env = dict(os.environ, RTML_MAX_MEMORY="256M", ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    for args in (["info", path], ["run", path, "--random"]):
        try:
            p = subprocess.run([rtml] + args, capture_output=True, text=True, errors="replace", timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            failures.append(f"{' '.join(args[:1])}: no answer within {timeout} s (a hang)")
            continue
        codes.append(p.returncode)
        err = p.stderr.strip()
        bad = [m for m in BAD_MARKERS if m in err]
        if p.returncode < 0:
            failures.append(f"{args[0]}: killed by signal {-p.returncode}: {err[-300:]}")
        elif p.returncode not in (0, 1, 2):
            failures.append(f"{args[0]}: exit code {p.returncode}: {err[-300:]}")
        elif bad:
            failures.append(f"{args[0]}: stderr has {bad}: {err[-400:]}")
        elif p.returncode != 0 and len(err) < 10:
            failures.append(f"{args[0]}: exit {p.returncode} without a message")
    return label, path, failures, codes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rtml")
    ap.add_argument("--zoo")
    ap.add_argument("--out", default="mutants")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    if not os.path.isdir(NODE_TESTS):
        print(f"skipped: {NODE_TESTS} is missing (apt-get install libonnx-testdata)")
        return 77
    rng = random.Random(args.seed)
    shutil.rmtree(args.out, ignore_errors=True)
    cases = make_mutants(load_seeds(args.zoo, rng), args.out, args.count, rng)
    failed = 0
    exits = collections.Counter()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for label, path, failures, codes in pool.map(lambda c: run_case(args.rtml, c[0], c[1], args.timeout), cases):
            exits.update(codes)
            if failures:
                failed += 1
                print(f"FAIL {path} ({label})")
                for f in failures:
                    print(f"    {f}")
    print(f"{len(cases)} mutants, {2 * len(cases)} runs of rtml (exit codes: {dict(sorted(exits.items()))}): "
          f"{failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
