#!/usr/bin/python3
"""Exports small PyTorch models to ONNX with inputs and PyTorch's own outputs.

The oracle for tests/models/check_pytorch.py: what PyTorch computes is the
expected value; rtml must match it. Also makes the demo model `make run` uses.

usage: pytorch_models.py OUT_DIR [--only NAME ...]
Writes OUT_DIR/NAME/model.onnx, OUT_DIR/NAME/inputs/<input>.npy and
OUT_DIR/NAME/expected/<output>.npy for every model.
"""
import argparse
import os
import sys
import warnings

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - environment check
    sys.exit(f"pytorch_models.py needs Debian's python3-torch and python3-numpy "
             f"(run scripts/install-deps.sh): {e}")

torch.manual_seed(0)
warnings.filterwarnings("ignore")


class LstmStep(torch.nn.Module):
    """A streaming LSTM: one step, state in and out as explicit tensors."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size=8, hidden_size=16)
        self.out = torch.nn.Linear(16, 4)

    def forward(self, x, h, c):
        y, (h2, c2) = self.lstm(x, (h, c))
        return self.out(y), h2, c2


class LstmBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(input_size=4, hidden_size=32, num_layers=2, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        return y


class Conv1dNet(torch.nn.Module):
    """A TCN-style stack: dilated, grouped and depthwise 1-D convolutions."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv1d(2, 8, kernel_size=3, dilation=1, padding=1)
        self.c2 = torch.nn.Conv1d(8, 8, kernel_size=3, dilation=2, padding=2, groups=4)
        self.c3 = torch.nn.Conv1d(8, 8, kernel_size=5, dilation=4, padding=8, groups=8)
        self.c4 = torch.nn.Conv1d(8, 3, kernel_size=1, stride=2)
        self.bn = torch.nn.BatchNorm1d(8)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.tanh(self.bn(self.c2(x)))
        x = torch.nn.functional.leaky_relu(self.c3(x) + x, 0.1)
        return self.c4(x)


class PadConv(torch.nn.Module):
    """F.pad in front of a Conv1d (exported as Pad with computed pads): rtml folds the Pad into the Conv."""

    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv1d(2, 4, kernel_size=3, padding=1)

    def forward(self, x):
        return torch.relu(self.c(torch.nn.functional.pad(x, (2, 1))))


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0,
                                                      batch_first=True)

    def forward(self, x):
        return self.layer(x)


class Demo(torch.nn.Module):
    """The `make run` demo: a small audio feature model (conv front end + GRU + dense)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 8, kernel_size=5, padding=2)
        self.gru = torch.nn.GRU(8, 16, batch_first=True)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, audio):
        x = torch.relu(self.conv(audio))          # [1, 8, 64]
        y, _ = self.gru(x.transpose(1, 2))        # [1, 64, 16]
        return torch.softmax(self.head(y[:, -1]), dim=-1)


class QuantizedConvNet(torch.nn.Module):
    """Post-training int8 quantization by PyTorch (qnnpack): Conv2d+ReLU, Linear.

    torch 1.13 exports it as QDQ ONNX (QuantizeLinear / DequantizeLinear around
    float Conv and Gemm, with Constant, Cast and ConstantOfShape nodes); the
    expected values are PyTorch's quantized engine's, which rounds in float:
    rtml may differ by one quantum of the output (tolerance file)."""

    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.fc = torch.nn.Linear(5 * 6 * 6, 7)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.conv(self.quant(x)))
        return self.dequant(self.fc(x.reshape(1, -1)))

    @staticmethod
    def quantized(model):
        return post_training_int8(model, torch.ao.quantization.get_default_qconfig("qnnpack"), (1, 3, 6, 6))


def post_training_int8(model, qconfig, calibration_shape):
    """PyTorch's eager post-training quantization on the qnnpack engine: conv
    and relu fused, 8 random calibration batches. The tolerance is one
    quantum of the output (model.fc's scale)."""
    torch.backends.quantized.engine = "qnnpack"
    model.qconfig = qconfig
    torch.ao.quantization.fuse_modules(model, [["conv", "relu"]], inplace=True)
    prepared = torch.ao.quantization.prepare(model)
    with torch.no_grad():
        for _ in range(8):
            prepared(torch.randn(*calibration_shape))
    q = torch.ao.quantization.convert(prepared)
    q.tolerance = float(q.fc.scale)
    return q


class QuantizedResidualNet(torch.nn.Module):
    """int8 with per-output-channel weights (PyTorch's per-channel observer,
    qnnpack engine): Conv2d+ReLU, a 1x1 Conv2d added back (quantized add),
    a quantized mul, MaxPool, Sigmoid, Conv2d with stride 2, Flatten, Linear.

    Exported as QDQ: rtml's fuse_qdq pass runs the Convs, the Add, the Mul
    and the Gemm (transB, int32 bias per channel) as int8 steps, MaxPool,
    Sigmoid (a table) and Flatten on the uint8 data (check_qdq_fused.py
    checks that). One quantum of
    tolerance as QuantizedConvNet. Also written as test_data_set_0 for the
    compile tests."""

    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.conv_b = torch.nn.Conv2d(8, 8, 1)
        self.skip = torch.ao.nn.quantized.FloatFunctional()
        self.square = torch.ao.nn.quantized.FloatFunctional()
        self.pool = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(8, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4, 6)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.conv(self.quant(x)))
        x = self.skip.add(x, self.conv_b(x))
        x = self.conv2(torch.sigmoid(self.pool(self.square.mul(x, x))))
        return self.dequant(self.fc(torch.flatten(x, 1)))

    @staticmethod
    def quantized(model):
        q = post_training_int8(model, torch.ao.quantization.QConfig(
            activation=torch.ao.quantization.HistogramObserver.with_args(reduce_range=False),
            weight=torch.ao.quantization.default_per_channel_weight_observer), (2, 3, 8, 8))
        q.test_data_set = True
        return q


class ActivationsAfterProducts(torch.nn.Module):
    """GELU (written out: Div/Erf/Add/Mul/Mul), Swish (Mul(x, Sigmoid(x))) and
    LeakyRelu right after Linear and Conv1d: the planner runs each chain in the
    store of the product before it (plan/passes/fuse_elementwise_chains.cpp)."""

    test_data_set = True  # also through rtml compile (tests/compile/check_compile.py)

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv1d(8, 8, 3, padding=2, dilation=2)
        self.fc1 = torch.nn.Linear(8, 24)
        self.fc2 = torch.nn.Linear(24, 8)
        self.fc3 = torch.nn.Linear(8, 5)

    def forward(self, x):                                   # [1, 3, 40]
        y = F.gelu(self.conv1(x))
        y = F.silu(self.conv2(y))
        y = y.transpose(1, 2)                               # [1, 40, 8]: Linear on a 3-D input is MatMul + Add
        y = F.leaky_relu(self.fc1(y), 0.1)
        y = F.gelu(self.fc2(y))
        return F.silu(self.fc3(y.mean(1)))                  # 2-D: Gemm


class TransposedProducts(torch.nn.Module):
    """x @ W.T with W a parameter (a Transpose of a constant, kept by
    do_constant_folding=False) and attention's Q @ K.transpose(-2, -1) (a
    Transpose of an activation): both become the MatMul's transB
    (plan/passes/fold_transpose_matmul.cpp)."""

    test_data_set = True

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(12, 16) * 0.3)
        self.qk = torch.nn.Linear(16, 32)

    def forward(self, x):                                   # [1, 10, 16]
        h = x @ self.w.T                                    # [1, 10, 12]
        q, k = self.qk(x).reshape(1, 10, 2, 2, 8).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1)                    # [1, 2, 10, 10]
        return h.sum(-1, keepdim=True) + scores.sum(1).transpose(1, 2) @ torch.tanh(h)


def randomize_batchnorm(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)


MODELS = {
    # name: (module, {input name: shape}, output names, opset)
    "lstm_step": (LstmStep, {"x": (1, 1, 8), "h": (1, 1, 16), "c": (1, 1, 16)}, ["y", "h_out", "c_out"], 13),
    "lstm_block": (LstmBlock, {"x": (1, 16, 4)}, ["y"], 13),
    "conv1d": (Conv1dNet, {"x": (1, 2, 64)}, ["y"], 13),
    "pad_conv": (PadConv, {"x": (1, 2, 16)}, ["y"], 13),
    "transformer_encoder": (Encoder, {"x": (1, 16, 32)}, ["y"], 14),
    "demo": (Demo, {"audio": (1, 1, 64)}, ["probabilities"], 13),
    "activations_after_products": (ActivationsAfterProducts, {"x": (1, 3, 40)}, ["y"], 13),
    "transposed_products": (TransposedProducts, {"x": (1, 10, 16)}, ["y"], 13),
    "quantized_conv": (QuantizedConvNet, {"x": (1, 3, 6, 6)}, ["y"], 13),
    "quantized_residual": (QuantizedResidualNet, {"x": (1, 3, 8, 8)}, ["y"], 13),
}


def export(name, out_dir):
    cls, inputs, outputs, opset = MODELS[name]
    torch.manual_seed(sum(map(ord, name)))
    model = cls()
    randomize_batchnorm(model)
    model.eval()
    if hasattr(cls, "quantized"):
        model = cls.quantized(model)
    args = tuple(torch.randn(*shape) for shape in inputs.values())
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(d, "expected"), exist_ok=True)
    with torch.no_grad():
        expected = model(*args)
    if not isinstance(expected, tuple):
        expected = (expected,)
    # Exported with gradients enabled: PyTorch then skips the fused
    # TransformerEncoderLayer fast path, which has no ONNX export.
    torch.onnx.export(model, args, os.path.join(d, "model.onnx"), input_names=list(inputs),
                      output_names=outputs, opset_version=opset, do_constant_folding=False)
    for n, a in zip(inputs, args):
        np.save(os.path.join(d, "inputs", n + ".npy"), a.numpy())
    for n, e in zip(outputs, expected):
        np.save(os.path.join(d, "expected", n + ".npy"), e.numpy())
    if hasattr(model, "tolerance"):  # check_pytorch.py's absolute tolerance for this model
        with open(os.path.join(d, "tolerance"), "w") as f:
            f.write(f"{model.tolerance * 1.001!r}\n")
    if getattr(model, "test_data_set", False):  # the ONNX test layout check_compile.py reads
        from onnx import numpy_helper
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        for kind, arrays in (("input", args), ("output", expected)):
            for i, a in enumerate(arrays):
                with open(os.path.join(d, "test_data_set_0", f"{kind}_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(a.numpy()).SerializeToString())
    if name == "lstm_step":
        export_stream(model, d)


def export_stream(model, d, steps=32):
    """PyTorch runs the streaming LSTM step by step, carrying (h, c) from zero.

    Raw little-endian float32 files, for examples/embed (plain C, no .npy).
    """
    xs = torch.randn(steps, 1, 1, 8)
    h = torch.zeros(1, 1, 16)
    c = torch.zeros(1, 1, 16)
    ys = []
    with torch.no_grad():
        for x in xs:
            y, h, c = model(x, h, c)
            ys.append(y)
    os.makedirs(os.path.join(d, "stream"), exist_ok=True)
    xs.numpy().astype("<f4").tofile(os.path.join(d, "stream", "x.f32"))
    torch.stack(ys).numpy().astype("<f4").tofile(os.path.join(d, "stream", "y.f32"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--only", nargs="*", choices=sorted(MODELS))
    a = p.parse_args()
    for name in a.only or sorted(MODELS):
        export(name, a.out_dir)
        print(f"exported {name}")


if __name__ == "__main__":
    main()
