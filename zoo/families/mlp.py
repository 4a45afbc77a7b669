"""Family 4: MLPs, depth 2-4 linear layers, hidden width 16-512, 16 inputs, 8 outputs.

Activations relu, tanh, sigmoid, gelu, and sin: the "sin" models are SIRENs
(sin(30 (W x + b)) with the SIREN initialisation of Sitzmann et al. 2020).
"""
import math

import torch

from common import ZooModel, sets_for

DEPTHS = (2, 3, 4)
WIDTHS = (16, 64, 256, 512)
ACTS = ("relu", "tanh", "sigmoid", "gelu", "sin")
IN, OUT = 16, 8
OMEGA = 30.0
DEFAULT = {"mlp_relu_d3_w64", "mlp_tanh_d2_w16", "mlp_sigmoid_d2_w64", "mlp_gelu_d4_w256", "mlp_sin_d3_w64"}


class Sine(torch.nn.Module):
    def forward(self, x):
        return torch.sin(OMEGA * x)


def build(depth, width, act):
    def make():
        dims = [IN] + [width] * (depth - 1) + [OUT]
        layers = []
        for i in range(depth):
            lin = torch.nn.Linear(dims[i], dims[i + 1])
            if act == "sin":
                bound = 1.0 / dims[i] if i == 0 else math.sqrt(6.0 / dims[i]) / OMEGA
                lin.weight.data.uniform_(-bound, bound)
            layers.append(lin)
            if i < depth - 1:
                layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
                               "gelu": torch.nn.GELU, "sin": Sine}[act]())
        return torch.nn.Sequential(*layers)
    return make


def models():
    out = []
    for act in ACTS:
        for depth in DEPTHS:
            for width in WIDTHS:
                name = f"mlp_{act}_d{depth}_w{width}"
                kind = "SIREN (sin(30 x) activations)" if act == "sin" else f"{act} MLP"
                out.append(ZooModel(
                    name=name, family="mlp",
                    description=f"{kind}: {depth} linear layers, hidden width {width}, {IN} -> {OUT}",
                    params={"depth": depth, "width": width, "activation": act, "inputs": IN, "outputs": OUT},
                    build=build(depth, width, act), inputs={"x": (1, IN)}, outputs=["y"],
                    sets=sets_for(name, DEFAULT), streaming=True))
    return out
