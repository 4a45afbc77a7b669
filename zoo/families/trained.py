"""Trained classifiers with real held-out data, so accuracy means something.

digits_mlp and digits_cnn: the 8x8 handwritten digits shipped with scikit-learn
(1797 images, pixel values 0-16 scaled to 0-1), stratified 80/20 split with a
fixed seed; the held-out 360 images are the test data sets, with labels.
gesture_cnn: the synthetic 6-axis IMU gestures of zoo/imu.py (1 s at 100 Hz).
Training is full-precision Adam on one thread with fixed seeds: deterministic.
"""
import functools

import numpy as np
import torch

import imu
from common import ZooModel

DIGITS = [str(i) for i in range(10)]
EPOCHS = {"digits_mlp": 60, "digits_cnn": 40, "gesture_cnn": 40}


@functools.lru_cache(maxsize=None)
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return tuple(train_test_split(x, d.target.astype(np.int64), test_size=0.2, random_state=0, stratify=d.target))


@functools.lru_cache(maxsize=None)
def gestures():
    x, y = imu.generate(per_class=150, seed=2026)
    order = np.random.default_rng(7).permutation(len(y))
    x, y = x[order], y[order]
    cut = int(0.75 * len(y))
    return x[:cut], x[cut:], y[:cut], y[cut:]


def train(model, x, y, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=g).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    return model


def top1(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(-1).numpy() == y).mean())


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.fc = torch.nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


class GestureCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv1d(6, 16, 5, padding=2)
        self.c2 = torch.nn.Conv1d(16, 32, 5, padding=2)
        self.fc = torch.nn.Linear(32, len(imu.CLASSES))

    def forward(self, x):
        x = torch.max_pool1d(torch.relu(self.c1(x)), 2)
        x = torch.relu(self.c2(x)).mean(dim=-1)
        return self.fc(x)


def trained_model(name, description, make, data, shape, classes, params):
    """A ZooModel whose build() trains `make()` on `data()` and records held-out top-1."""
    m = ZooModel(name=name, family="classifier", description=description, params=params, build=None,
                 inputs={"x": shape}, outputs=["logits"], sets=("default",))

    def build():
        xtr, xte, ytr, yte = data()
        model = train(make(), xtr.reshape((-1,) + shape[1:]), ytr, EPOCHS[name], m.seed)
        m.extra = {"classes": classes,
                   "train_examples": int(len(ytr)), "test_examples": int(len(yte)),
                   "pytorch_top1": top1(model, xte.reshape((-1,) + shape[1:]), yte)}
        return model

    def test_data():
        _, xte, _, yte = data()
        return [[a.reshape(shape)] for a in xte], [int(v) for v in yte]

    m.build, m.test_data = build, test_data
    return m


def models():
    return [
        trained_model("digits_mlp", "8x8 digit classifier (scikit-learn digits): MLP 64-64-32-10, relu, "
                      "trained, held-out split with labels",
                      lambda: torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32),
                                                  torch.nn.ReLU(), torch.nn.Linear(32, 10)),
                      digits, (1, 64), DIGITS, {"dataset": "sklearn digits", "layers": [64, 64, 32, 10], "activation": "relu"}),
        trained_model("digits_cnn", "8x8 digit classifier (scikit-learn digits): two 3x3 conv layers, "
                      "max pool, linear; trained, held-out split with labels",
                      DigitsCnn, digits, (1, 1, 8, 8), DIGITS, {"dataset": "sklearn digits", "conv_channels": [16, 32], "kernel": 3}),
        trained_model("gesture_cnn", "6-axis IMU gesture classifier (synthetic data, zoo/imu.py): two "
                      "1-D conv layers, pool, mean over time, linear; trained, held-out split with labels",
                      GestureCnn, gestures, (1, 6, imu.SAMPLES), list(imu.CLASSES),
                      {"dataset": "synthetic IMU gestures", "conv_channels": [16, 32], "kernel": 5}),
    ]
