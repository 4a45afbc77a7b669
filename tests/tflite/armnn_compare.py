"""A .tflite file on Arm NN's CpuRef backend through its TFLite parser
(Debian's python3-pyarmnn, with /usr/bin/python3), and `rtml info` / `rtml
run` on the same file: what the tests in tests/tflite compare."""
import json
import os
import subprocess
import sys

import numpy as np

try:
    import pyarmnn as ann
except ImportError:
    ann = None

SKIP = 77


def mlperf_tiny_setup(argv):
    """(rtml, models dir) from `RTML MODELS_DIR` ($RTML_SHARED/models/mlperf-tiny when set); exits 77,
    saying why, without the models or pyarmnn."""
    rtml, models_dir = argv[1:3]
    if os.environ.get("RTML_SHARED"):
        models_dir = os.path.join(os.environ["RTML_SHARED"], "models", "mlperf-tiny")
    if not os.path.isdir(models_dir):
        print(f"SKIP: {models_dir} is missing (the MLPerf Tiny models live in ../shared; set RTML_SHARED)")
        sys.exit(SKIP)
    if ann is None:
        print("SKIP: pyarmnn is missing (apt-get install python3-pyarmnn; run with /usr/bin/python3)")
        sys.exit(SKIP)
    return rtml, models_dir


class ArmNN:
    """One .tflite file on ArmNN's CpuRef backend; `runtime` may be shared by several."""

    def __init__(self, path, runtime=None):
        self.parser = ann.ITfLiteParser()
        network = self.parser.CreateNetworkFromBinaryFile(path)
        self.runtime = runtime or ArmNN.new_runtime()
        opt, _ = ann.Optimize(network, [ann.BackendId("CpuRef")], self.runtime.GetDeviceSpec(), ann.OptimizerOptions())
        self.net_id, _ = self.runtime.LoadNetwork(opt)
        self.inputs = [(n, self.parser.GetNetworkInputBindingInfo(0, n))
                       for n in self.parser.GetSubgraphInputTensorNames(0)]
        self.outputs = [(n, self.parser.GetNetworkOutputBindingInfo(0, n))
                        for n in self.parser.GetSubgraphOutputTensorNames(0)]

    @staticmethod
    def new_runtime():
        return ann.IRuntime(ann.CreationOptions())

    @staticmethod
    def describe(binding):
        info = binding[1]
        dtype = {ann.DataType_Float32: "float", ann.DataType_QAsymmS8: "int8",
                 ann.DataType_QAsymmU8: "uint8"}.get(info.GetDataType(), str(info.GetDataType()))
        shape = [info.GetShape()[i] for i in range(info.GetNumDimensions())]
        quant = (info.GetQuantizationScale(), info.GetQuantizationOffset()) if dtype != "float" else None
        return dtype, shape, quant

    def run(self, arrays):
        ins = ann.make_input_tensors([b for _, b in self.inputs], arrays)
        outs = ann.make_output_tensors([b for _, b in self.outputs])
        self.runtime.EnqueueWorkload(self.net_id, ins, outs)
        return ann.workload_tensors_to_ndarray(outs)

    def close(self):
        self.runtime.UnloadNetwork(self.net_id)


def rtml_info(rtml, path):
    out = subprocess.run([rtml, "info", path, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"rtml info {path}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def rtml_run(rtml, path, inputs, tmp):
    """`rtml run path` on {name: array}; the outputs are tmp/<name>.npy."""
    args = [rtml, "run", path, "--output-dir", tmp]
    for name, value in inputs.items():
        f = os.path.join(tmp, name.replace("/", "_") + ".in.npy")
        np.save(f, value)
        args += ["--input", f"{name}={f}"]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"rtml run {path}: {out.stderr.strip()}")
    return out


def random_input(dtype, shape, rng):
    """Normal noise for float, every value equally likely for int8 / uint8."""
    if dtype == "float":
        return rng.standard_normal(shape).astype(np.float32)
    lo, hi = (-128, 127) if dtype == "int8" else (0, 255)
    return rng.integers(lo, hi + 1, size=shape).astype(np.int8 if dtype == "int8" else np.uint8)
