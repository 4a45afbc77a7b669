"""Family 3: LSTM and GRU. Streaming: one step, state in and out as explicit
inputs and outputs (what an audio callback calls). Block: a whole sequence.
Both put a linear head (hidden -> 8) on every step's output; 16 input features.
"""
import torch

from common import ZooModel, sets_for

HIDDEN = (16, 32, 64, 128)
SEQS = (16, 128)
FEATURES = 16
HEAD = 8
DEFAULT = {"lstm_stream_h16", "lstm_stream_h64", "gru_stream_h64", "lstm_block_h64_s16", "gru_block_h64_s128"}


class Stream(torch.nn.Module):
    def __init__(self, cell, hidden):
        super().__init__()
        self.cell = cell
        self.rnn = getattr(torch.nn, cell.upper())(FEATURES, hidden)
        self.head = torch.nn.Linear(hidden, HEAD)

    def forward(self, x, h, *c):
        if self.cell == "lstm":
            y, (h2, c2) = self.rnn(x, (h, c[0]))
            return self.head(y), h2, c2
        y, h2 = self.rnn(x, h)
        return self.head(y), h2


class Block(torch.nn.Module):
    def __init__(self, cell, hidden):
        super().__init__()
        self.rnn = getattr(torch.nn, cell.upper())(FEATURES, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, HEAD)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y)


def models():
    out = []
    for cell in ("lstm", "gru"):
        for h in HIDDEN:
            name = f"{cell}_stream_h{h}"
            inputs = {"x": (1, 1, FEATURES), "h": (1, 1, h)}
            outputs = ["y", "h_out"]
            if cell == "lstm":
                inputs["c"] = (1, 1, h)
                outputs.append("c_out")
            out.append(ZooModel(
                name=name, family="rnn",
                description=f"streaming {cell.upper()}, hidden {h}: one step with the state as inputs and "
                            f"outputs, linear head to {HEAD}",
                params={"cell": cell, "hidden": h, "features": FEATURES, "mode": "stream", "sequence": 1},
                build=lambda cell=cell, h=h: Stream(cell, h), inputs=inputs, outputs=outputs,
                sets=sets_for(name, DEFAULT), streaming=True))
            for s in SEQS:
                name = f"{cell}_block_h{h}_s{s}"
                out.append(ZooModel(
                    name=name, family="rnn",
                    description=f"{cell.upper()}, hidden {h}, over a block of {s} steps, linear head to {HEAD}",
                    params={"cell": cell, "hidden": h, "features": FEATURES, "mode": "block", "sequence": s},
                    build=lambda cell=cell, h=h: Block(cell, h), inputs={"x": (1, s, FEATURES)}, outputs=["y"],
                    sets=sets_for(name, DEFAULT)))
    return out
