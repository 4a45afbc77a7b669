"""Family 6: mixture-density heads. K components of D-dimensional diagonal Gaussians
from a 32-feature input: mixture weights (softmax), means, scales (exp), and one
sample drawn with the noise given as inputs: the component is the first whose
cumulative weight exceeds u ~ U(0,1), the sample is its mean + scale * eps.
"""
import torch

from common import ZooModel, sets_for

FEATURES, HIDDEN = 32, 64
COMPONENTS = (2, 8, 32)
DIMS = (1, 4, 16)
DEFAULT = {"mdn_k8_d2", "mdn_k8_d4"}


class Mdn(torch.nn.Module):
    def __init__(self, k, d):
        super().__init__()
        self.k, self.d = k, d
        self.hidden = torch.nn.Linear(FEATURES, HIDDEN)
        self.logits = torch.nn.Linear(HIDDEN, k)
        self.means = torch.nn.Linear(HIDDEN, k * d)
        self.log_scales = torch.nn.Linear(HIDDEN, k * d)
        self.register_buffer("upper", torch.triu(torch.ones(k, k)))          # cumulative sum as a matmul
        self.register_buffer("index", torch.arange(k, dtype=torch.float32))

    def forward(self, features, u, eps):
        h = torch.tanh(self.hidden(features))
        weights = torch.softmax(self.logits(h), dim=-1)                       # [1, K]
        means = self.means(h).reshape(1, self.k, self.d)                      # [1, K, D]
        scales = torch.exp(self.log_scales(h)).reshape(1, self.k, self.d)     # [1, K, D]
        cdf = weights @ self.upper                                            # [1, K]
        chosen = torch.clamp((cdf < u).float().sum(dim=-1, keepdim=True), max=self.k - 1)
        onehot = (self.index == chosen).float().unsqueeze(-1)                 # [1, K, 1]
        mean = (onehot * means).sum(dim=1)
        scale = (onehot * scales).sum(dim=1)
        return weights, means, scales, mean + scale * eps


def models():
    out = []
    for k in COMPONENTS:
        for d in sorted(DIMS + ((2,) if k == 8 else ())):
            name = f"mdn_k{k}_d{d}"
            out.append(ZooModel(
                name=name, family="mdn",
                description=f"mixture-density head: {k} Gaussians in {d} dimensions from {FEATURES} features, "
                            "weights, means, scales and a sample drawn with noise inputs u (uniform) and eps (normal)",
                params={"components": k, "dims": d, "features": FEATURES, "hidden": HIDDEN},
                build=lambda k=k, d=d: Mdn(k, d),
                inputs={"features": (1, FEATURES), "u": (1, 1), "eps": (1, d)},
                input_dist={"u": "uniform"},
                outputs=["weights", "means", "scales", "sample"],
                sets=sets_for(name, DEFAULT), streaming=True, test_sets=4))
    return out
