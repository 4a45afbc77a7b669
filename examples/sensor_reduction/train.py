"""Sensor dimensionality reduction: an autoencoder maps 8 correlated sensor
channels to a 2-D latent space; render.cpp runs its encoder once per audio block
and lets the two latent values drive a synth's pitch and brightness (and analog
outputs 0-1, as control voltages).

The sensors (generated here): a strip of 8 force-sensing resistors under one
finger. Two hidden factors, the finger's position along the strip and its
pressure, make all 8 readings: sensor i sees pressure * a Gaussian bump around
the finger (width 0.15 strip lengths) with its own gain and offset, a little
crosstalk and noise, on Bela's analog scale [0, 1]. The autoencoder (8 -> 16 ->
2, sigmoid: the latent is in (0, 1)^2 -> 16 -> 8) has to find those two factors.

usage: /usr/bin/python3 examples/sensor_reduction/train.py [--out DIR]
Writes DIR/model.onnx (the encoder: x [1, 8] -> z [1, 2]; + test_data_set_0..3),
DIR/sensors.csv (4 s at 100 Hz: the host runner's analog input) and
DIR/expected.npy: PyTorch's latent for every row of sensors.csv. Prints and checks
the reconstruction error on held-out frames.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import train_common  # noqa: E402

SENSORS, LATENT = 8, 2
RELATIVE_ERROR_LIMIT = 0.05   # reconstruction MSE / variance of the sensors


def sensors(position, pressure, rng):
    """Readings [N, 8] for finger positions and pressures in [0, 1]."""
    centres = np.linspace(0, 1, SENSORS)
    gain = np.random.default_rng(1).uniform(0.7, 1.0, SENSORS)      # the strip's own (fixed) sensors
    offset = np.random.default_rng(2).uniform(0.02, 0.08, SENSORS)
    bump = np.exp(-0.5 * ((position[:, None] - centres[None, :]) / 0.15) ** 2)
    x = offset + gain * pressure[:, None] * bump
    x = x + 0.05 * np.roll(x, 1, axis=1) + rng.normal(0, 0.005, x.shape)   # crosstalk, noise
    return np.clip(x, 0, 1).astype(np.float32)


def gesture_path(seconds, rng, rate=100):
    """A finger sliding and pressing: smooth random position and pressure curves."""
    t = np.arange(int(seconds * rate)) / rate
    pos = 0.5 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3)) * \
        np.cos(2 * np.pi * rng.uniform(0.05, 0.2) * t)
    press = 0.55 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * t + rng.uniform(0, 6.3))
    return pos, press


class AutoEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(SENSORS, 16), torch.nn.Tanh(),
                                           torch.nn.Linear(16, LATENT), torch.nn.Sigmoid())
        self.decoder = torch.nn.Sequential(torch.nn.Linear(LATENT, 16), torch.nn.Tanh(), torch.nn.Linear(16, SENSORS))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    train_common.seed_everything(8)
    rng = np.random.default_rng(8)
    start = time.time()
    x_train = sensors(rng.uniform(0, 1, 20000), rng.uniform(0.1, 1, 20000), rng)
    x_test = sensors(rng.uniform(0, 1, 2000), rng.uniform(0.1, 1, 2000), rng)
    model = AutoEncoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    steps = 1500
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    xt = torch.from_numpy(x_train)
    for _ in range(steps):
        batch = xt[torch.randint(0, len(xt), (256,))]
        loss = torch.mean((model(batch) - batch) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        recon = model(torch.from_numpy(x_test)).numpy()
    relative = float(np.mean((recon - x_test) ** 2) / np.var(x_test))
    print(f"sensor_reduction: trained in {time.time() - start:.0f} s; reconstruction error on {len(x_test)} held-out "
          f"frames: {relative:.4f} of the sensors' variance (limit {RELATIVE_ERROR_LIMIT})")

    os.makedirs(args.out, exist_ok=True)
    sets = [(x_test[i:i + 1].copy(),) for i in range(4)]
    train_common.export(model.encoder, sets[0], os.path.join(args.out, "model.onnx"), ["x"], ["z"], test_sets=sets)

    pos, press = gesture_path(4.0, rng)
    stream = train_common.write_csv(os.path.join(args.out, "sensors.csv"), sensors(pos, press, rng),
                                    [f"fsr{i}" for i in range(SENSORS)])
    with torch.no_grad():
        z = model.encoder(torch.from_numpy(stream)).numpy()
    np.save(os.path.join(args.out, "expected.npy"), z.astype(np.float32))
    corr = [abs(np.corrcoef(z[:, k], f)[0, 1]) for k in range(LATENT) for f in (pos, press)]
    print(f"sensor_reduction: |correlation| of latents with (position, pressure) on the stream: "
          f"z0 {corr[0]:.2f} {corr[1]:.2f}, z1 {corr[2]:.2f} {corr[3]:.2f}")
    assert relative < RELATIVE_ERROR_LIMIT, f"reconstruction error {relative:.4f} is over {RELATIVE_ERROR_LIMIT}"


if __name__ == "__main__":
    main()
