"""Family 1: matrix-vector products y = W x, square N x N, dense and 90% sparse."""
import torch

from common import ZooModel, sets_for

SIZES = (16, 64, 256, 1024)
DEFAULT = {"matvec_16", "matvec_64", "matvec_256", "matvec_sparse_256"}


def build(n, sparsity):
    def make():
        layer = torch.nn.Linear(n, n, bias=False)
        if sparsity:
            w = layer.weight.data.view(-1)
            zero = torch.randperm(w.numel())[: round(sparsity * w.numel())]
            w[zero] = 0.0
        return layer
    return make


def models():
    out = []
    for sparse in (False, True):
        for n in SIZES:
            name = f"matvec_sparse_{n}" if sparse else f"matvec_{n}"
            desc = (f"y = W x with a {n}x{n} weight matrix" +
                    (" of which 90% of the entries are zero (stored dense)" if sparse else ""))
            out.append(ZooModel(
                name=name, family="matvec", description=desc,
                params={"n": n, "sparsity": 0.9 if sparse else 0.0},
                build=build(n, 0.9 if sparse else 0.0), inputs={"x": (1, n)}, outputs=["y"],
                sets=sets_for(name, DEFAULT), streaming=True))
    return out
