"""Neural audio effect: a GRU learns a drive + tone effect and runs sample by sample
in Bela's audio callback (render.cpp), its state carried from block to block.

The effect (generated here, no data set is downloaded): an asymmetric tanh
waveshaper (drive 4, bias 0.15) followed by a one-pole low-pass tone filter at
1.8 kHz; the filter is what gives it memory. The model: GRU(1 -> HIDDEN) + linear
(HIDDEN -> 1) over one block of 16 samples per call, the hidden state as input
`h` and output `h_out` (render.cpp links them, so one call continues the last).

usage: /usr/bin/python3 examples/audio_effect/train.py [--out DIR]
Writes DIR/model.onnx (+ test_data_set_0 for rtml bench), DIR/input.wav (0.5 s,
16-bit) and DIR/expected.npy: PyTorch's output for input.wav processed offline in
one pass, which the host runner's block-by-block output must match (1e-4).
Prints and checks the error-to-signal ratio on held-out audio.
"""
import argparse
import os
import sys
import time

import numpy as np
import scipy.signal
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import train_common  # noqa: E402

RATE = 44100
BLOCK = 16          # Bela's default block: one model call per render()
HIDDEN = 16         # measured to fit the block (README.md: rtml bench --block 16 --rate 44100 --rt)
DRIVE, BIAS, TONE_HZ = 4.0, 0.15, 1800.0
ESR_LIMIT = 0.02
SEGMENT = 210       # samples per training excerpt


def effect(x):
    """The target: waveshaper, then a one-pole low-pass (float64, sample by sample)."""
    s = np.tanh(DRIVE * (x + BIAS)) - np.tanh(DRIVE * BIAS)
    a = 1.0 - np.exp(-2 * np.pi * TONE_HZ / RATE)
    return 0.5 * scipy.signal.lfilter([a], [1.0, a - 1.0], s)   # y[n] = y[n-1] + a (s[n] - y[n-1])


def test_signal(rng, seconds):
    """Plucked notes (decaying harmonics) over a quiet sine sweep, at random levels."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0, f1 = rng.uniform(60, 120), rng.uniform(800, 2000)
    x = 0.1 * rng.uniform(0.2, 1) * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds)))
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.05, 0.25) * RATE)
        seg = np.arange(min(length, n - pos)) / RATE
        f, amp, decay = rng.uniform(80, 900), rng.uniform(0.05, 0.9), rng.uniform(4, 30)
        note = sum(np.sin(2 * np.pi * k * f * seg + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        x[pos:pos + len(seg)] += amp * np.exp(-decay * seg) * note / 2.3
        pos += length
    return np.clip(x + rng.normal(0, 0.002, n), -0.99, 0.99)


class Effect(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(1, HIDDEN, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, 1)

    def forward(self, x, h):
        y, h_out = self.gru(x, h)
        return self.head(y), h_out


def esr(y, target):
    return float(np.sum((y - target) ** 2) / np.sum(target ** 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    train_common.seed_everything(17)
    rng = np.random.default_rng(17)
    start = time.time()

    # Short excerpts: the effect's memory (the tone filter) lasts a few samples, and short
    # sequences keep training within a minute or two on two cores.
    train_x = np.stack([test_signal(rng, 0.2) for _ in range(64)]).reshape(-1, SEGMENT).astype(np.float32)
    train_y = np.stack([effect(x) for x in train_x.astype(np.float64)]).astype(np.float32)
    model = Effect()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    xs, ys = torch.from_numpy(train_x[..., None]), torch.from_numpy(train_y[..., None])
    for step in range(args.steps):
        idx = torch.randint(0, len(xs), (128,))
        h0 = torch.zeros(1, 128, HIDDEN)
        y, _ = model(xs[idx], h0)
        warm = 32   # the first samples only settle the state
        loss = torch.mean((y[:, warm:] - ys[idx, warm:]) ** 2) / torch.mean(ys[idx, warm:] ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()

    # Held-out audio, processed in one pass (the state runs through the whole signal).
    held = test_signal(np.random.default_rng(99), 2.0).astype(np.float32)
    with torch.no_grad():
        y, _ = model(torch.from_numpy(held[None, :, None]), torch.zeros(1, 1, HIDDEN))
    held_esr = esr(y[0, :, 0].numpy().astype(np.float64), effect(held.astype(np.float64)))
    print(f"audio_effect: GRU hidden {HIDDEN}, {args.steps} steps in {time.time() - start:.0f} s; "
          f"error-to-signal ratio on 2 s of held-out audio: {held_esr:.4f} (limit {ESR_LIMIT})")

    os.makedirs(args.out, exist_ok=True)
    x_block = held[None, :BLOCK, None].copy()
    h0 = np.zeros((1, 1, HIDDEN), np.float32)
    train_common.export(model, (x_block, h0), os.path.join(args.out, "model.onnx"), ["x", "h"], ["y", "h_out"],
                        test_sets=[(x_block, h0)])

    # The host runner's input (0.5 s, 16-bit) and PyTorch's offline output for it.
    x = test_signal(np.random.default_rng(5), 0.5)
    x = train_common.write_wav_pcm16(os.path.join(args.out, "input.wav"), x, RATE)
    with torch.no_grad():
        y, _ = model(torch.from_numpy(x[None, :, None]), torch.zeros(1, 1, HIDDEN))
    np.save(os.path.join(args.out, "expected.npy"), y[0, :, 0].numpy().astype(np.float32))
    assert held_esr < ESR_LIMIT, f"ESR {held_esr:.4f} is over {ESR_LIMIT}"


if __name__ == "__main__":
    main()
