"""Family 5: one transformer encoder layer (post-norm, LayerNormalization at opset 17,
feed-forward 4 x d_model, no dropout), batch 1."""
import torch

from common import ZooModel, sets_for

DMODELS = (32, 64, 128)
HEADS = (2, 4)
SEQS = (16, 64)
DEFAULT = {"transformer_d32_h2_s16", "transformer_d64_h4_s16"}


def models():
    out = []
    for d in DMODELS:
        for h in HEADS:
            for s in SEQS:
                name = f"transformer_d{d}_h{h}_s{s}"
                out.append(ZooModel(
                    name=name, family="transformer",
                    description=f"transformer encoder layer: d_model {d}, {h} heads, feed-forward {4 * d}, "
                                f"sequence {s}, layer norm",
                    params={"d_model": d, "heads": h, "sequence": s, "feedforward": 4 * d},
                    build=lambda d=d, h=h: torch.nn.TransformerEncoderLayer(
                        d_model=d, nhead=h, dim_feedforward=4 * d, dropout=0.0, batch_first=True),
                    inputs={"x": (1, s, d)}, outputs=["y"], opset=17,
                    sets=sets_for(name, DEFAULT)))
    return out
