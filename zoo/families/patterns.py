"""Family 9: the `patterns` set: ordinary PyTorch modules whose torch.onnx export
spells out what rtml's plan rewrites (src/plan/passes/): a causal Slice after a
padded Conv, a LayerNorm written out at opset 13 (ReduceMean / Sub / Pow /
ReduceMean / Add / Sqrt / Div / Mul / Add), a softmax written out (ReduceMax /
Sub / Exp / ReduceSum / Div), separate Pad nodes in front of a Conv and a pool,
and the elementwise ops that dominate such models (Tanh, LeakyRelu, Sin).
"""
import torch
import torch.nn.functional as F

from common import ZooModel

SETS = ("patterns",)


class TcnTanh(torch.nn.Module):
    """Causal TCN: kernel-3 Conv1d padded 2*dilation on both sides, the last 2*dilation
    outputs sliced off, Tanh, residual; dilations 1/2/4/8."""

    def __init__(self, c):
        super().__init__()
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv1d(c, c, 3, dilation=d, padding=2 * d) for d in (1, 2, 4, 8))

    def forward(self, x):
        for conv in self.convs:
            x = torch.tanh(conv(x)[:, :, : x.shape[2]]) + x
        return x


class ResNet1dLeaky(torch.nn.Module):
    """Two 1-D ResNet basic blocks (conv-BN-LeakyReLU-conv-BN + skip, LeakyReLU)."""

    def __init__(self, c):
        super().__init__()
        self.convs = torch.nn.ModuleList(torch.nn.Conv1d(c, c, 3, padding=1, bias=False) for _ in range(4))
        self.bns = torch.nn.ModuleList(torch.nn.BatchNorm1d(c) for _ in range(4))
        for bn in self.bns:
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        for k in (0, 2):
            y = F.leaky_relu(self.bns[k](self.convs[k](x)), 0.1)
            x = F.leaky_relu(self.bns[k + 1](self.convs[k + 1](y)) + x, 0.1)
        return x


class Siren(torch.nn.Module):
    """SIREN: Linear layers with sin(30 x) between them (SIREN initialisation)."""

    def __init__(self, features, width, depth):
        super().__init__()
        dims = [features] + [width] * depth
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.head = torch.nn.Linear(width, 1)
        for i, layer in enumerate(self.layers):
            bound = 1.0 / layer.in_features if i == 0 else (6.0 / layer.in_features) ** 0.5 / 30.0
            layer.weight.data.uniform_(-bound, bound)

    def forward(self, x):
        for layer in self.layers:
            x = torch.sin(30.0 * layer(x))
        return self.head(x)


class WrittenOutBlock(torch.nn.Module):
    """Pre-norm transformer block as hand-written code has it: nn.LayerNorm (written out
    by the exporter below opset 17), attention with the softmax spelled out
    (max-subtracted exp over the sum), a GELU feed-forward."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(d)
        self.norm2 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ff1 = torch.nn.Linear(d, 4 * d)
        self.ff2 = torch.nn.Linear(4 * d, d)
        for norm in (self.norm1, self.norm2):
            norm.weight.data.uniform_(0.5, 1.5)
            norm.bias.data.uniform_(-0.2, 0.2)

    def forward(self, x):
        b, s, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, s, 3, h, d // h).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / (d // h) ** 0.5
        e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
        attn = e / e.sum(dim=-1, keepdim=True)
        y = (attn @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(y)
        return x + self.ff2(F.gelu(self.ff1(self.norm2(x))))


class PaddedConv(torch.nn.Module):
    """Conv1d behind a separate nn.ConstantPad1d, an F.pad in front of an AvgPool1d
    (zeros counted in the average), Conv1d, ReLU; a linear head."""

    def __init__(self, cin, c, length):
        super().__init__()
        self.pad = torch.nn.ConstantPad1d((2, 2), 0.0)
        self.conv1 = torch.nn.Conv1d(cin, c, 5)
        self.conv2 = torch.nn.Conv1d(c, c, 3)
        self.head = torch.nn.Linear(c * (length // 2), 8)

    def forward(self, x):
        y = torch.relu(self.conv1(self.pad(x)))
        y = F.avg_pool1d(F.pad(y, (1, 1)), 3, 2)
        y = torch.relu(self.conv2(F.pad(y, (1, 1))))
        return self.head(y.flatten(1))


def models():
    c, length = 32, 128
    return [
        ZooModel(name=f"pattern_tcn_tanh_c{c}_l{length}", family="patterns",
                 description=f"causal TCN, Tanh after each Conv1d + Slice, dilation 1/2/4/8, {c} channels, "
                             f"{length} samples",
                 params={"channels": c, "length": length, "dilations": [1, 2, 4, 8]},
                 build=lambda: TcnTanh(c), inputs={"x": (1, c, length)}, outputs=["y"], sets=SETS),
        ZooModel(name=f"pattern_resnet1d_leaky_c{c}_l{length}", family="patterns",
                 description=f"two 1-D ResNet blocks with LeakyReLU(0.1), {c} channels, {length} samples",
                 params={"channels": c, "length": length, "blocks": 2},
                 build=lambda: ResNet1dLeaky(c), inputs={"x": (1, c, length)}, outputs=["y"], sets=SETS),
        ZooModel(name="pattern_siren_w64", family="patterns",
                 description="SIREN MLP: 3 Linear(64) + sin(30 x), 2 coordinates in, 256 points",
                 params={"width": 64, "depth": 3, "points": 256},
                 build=lambda: Siren(2, 64, 3), inputs={"x": (256, 2)}, outputs=["y"], sets=SETS,
                 input_dist={"x": "uniform"}),
        ZooModel(name="pattern_block_d64_h4_s32", family="patterns",
                 description="pre-norm transformer block at opset 13: LayerNorm and softmax written out, "
                             "d_model 64, 4 heads, sequence 32",
                 params={"d_model": 64, "heads": 4, "sequence": 32, "feedforward": 256},
                 build=lambda: WrittenOutBlock(64, 4), inputs={"x": (1, 32, 64)}, outputs=["y"], sets=SETS),
        ZooModel(name=f"pattern_pad_conv_c{c}_l{length}", family="patterns",
                 description=f"Conv1d behind nn.ConstantPad1d and F.pad, F.pad before AvgPool1d, {c} channels, "
                             f"{length} samples, 8 outputs",
                 params={"channels": c, "length": length, "in_channels": 4},
                 build=lambda: PaddedConv(4, c, length), inputs={"x": (1, 4, length)}, outputs=["y"],
                 sets=SETS),
    ]
