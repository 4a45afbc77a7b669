"""Family 2: 1-D conv nets: TCN stacks (dilation 1/2/4/8) and a 1-D ResNet block.

TCN: four residual blocks, each a causal kernel-3 convolution with groups 1
("g1"), 4 ("g4"), or depthwise followed by a 1x1 pointwise convolution ("dw"),
then ReLU, plus the block's input. Causal: padded by 2*dilation on both sides,
the last 2*dilation outputs dropped (a Slice), so output t sees inputs <= t.
"""
import torch

from common import ZooModel, sets_for

CHANNELS = (8, 32, 128)
LENGTHS = (64, 1024)
GROUPS = ("g1", "g4", "dw")
DEFAULT = {"tcn_c8_l64_g1", "tcn_c32_l64_g4", "tcn_c32_l64_dw", "resnet1d_c32_l64"}


class TcnBlock(torch.nn.Module):
    def __init__(self, c, dilation, groups):
        super().__init__()
        self.dilation = dilation
        g = {"g1": 1, "g4": 4, "dw": c}[groups]
        self.conv = torch.nn.Conv1d(c, c, kernel_size=3, dilation=dilation, groups=g, padding=2 * dilation)
        self.pointwise = torch.nn.Conv1d(c, c, kernel_size=1) if groups == "dw" else None

    def forward(self, x):
        y = self.conv(x)[:, :, : x.shape[2]]
        if self.pointwise is not None:
            y = self.pointwise(y)
        return torch.relu(y) + x


class Tcn(torch.nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.blocks = torch.nn.Sequential(*[TcnBlock(c, d, groups) for d in (1, 2, 4, 8)])

    def forward(self, x):
        return self.blocks(x)


class ResNet1d(torch.nn.Module):
    """conv-BN-ReLU-conv-BN, plus the input, then ReLU (batch-norm statistics randomised)."""

    def __init__(self, c):
        super().__init__()
        self.c1 = torch.nn.Conv1d(c, c, 3, padding=1, bias=False)
        self.b1 = torch.nn.BatchNorm1d(c)
        self.c2 = torch.nn.Conv1d(c, c, 3, padding=1, bias=False)
        self.b2 = torch.nn.BatchNorm1d(c)
        for bn in (self.b1, self.b2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.2, 0.2)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + x)


def models():
    out = []
    for c in CHANNELS:
        for length in LENGTHS:
            for g in GROUPS:
                name = f"tcn_c{c}_l{length}_{g}"
                kind = {"g1": "full", "g4": "4-group", "dw": "depthwise-separable"}[g]
                out.append(ZooModel(
                    name=name, family="conv1d",
                    description=f"TCN: 4 causal residual blocks, dilation 1/2/4/8, {kind} kernel-3 "
                                f"convolutions, {c} channels, {length} samples",
                    params={"channels": c, "length": length, "groups": g, "dilations": [1, 2, 4, 8]},
                    build=lambda c=c, g=g: Tcn(c, g), inputs={"x": (1, c, length)}, outputs=["y"],
                    sets=sets_for(name, DEFAULT)))
            name = f"resnet1d_c{c}_l{length}"
            out.append(ZooModel(
                name=name, family="conv1d",
                description=f"1-D ResNet basic block (two kernel-3 conv + batch norm, skip), {c} channels, "
                            f"{length} samples",
                params={"channels": c, "length": length},
                build=lambda c=c: ResNet1d(c), inputs={"x": (1, c, length)}, outputs=["y"],
                sets=sets_for(name, DEFAULT)))
    return out
