"""Gesture recognition and mapping: a 1-D CNN classifies a sliding one-second
window of a 6-axis IMU (accelerometer in g, gyroscope in pi rad/s, 100 Hz) into
idle, shake, tap, circle, tilt and flick; render.cpp runs it every 10 IMU
samples in an auxiliary task and lets the recognised gesture pick the synth's
note and filter, and shows the class probabilities on analog outputs 0-5.

Data and model are the zoo's (zoo/imu.py: a simulated IMU moving a rigid body;
zoo/families/trained.py: GestureCnn, the same training loop and split).

usage: /usr/bin/python3 examples/gesture/train.py [--out DIR]
Writes DIR/model.onnx (+ --test-sets labelled held-out examples, default 6, as
test_data_set_N for rtml bench and rtml quantize), DIR/imu.csv (12 held-out gestures one after the other, 12 s
at 100 Hz: the host runner's analog input) and DIR/expected.npy: PyTorch's
class probabilities for every window render.cpp classifies (ending at IMU
sample 99, 109, 119, ...), and their logits in DIR/expected_logits.npy (what the
microcontroller build must compute for the same windows). Prints and checks
held-out accuracy.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "zoo"))
import train_common  # noqa: E402
import imu  # noqa: E402
from families import trained  # noqa: E402

WINDOW, HOP = imu.SAMPLES, 10     # render.cpp: kWindow, kHop
ACCURACY_LIMIT = 0.9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--test-sets", type=int, default=6,
                    help="held-out examples written as labelled test_data_set_N (calibration and accuracy data)")
    args = ap.parse_args()
    train_common.seed_everything(2026)
    start = time.time()
    xtr, xte, ytr, yte = trained.gestures()
    model = trained.train(trained.GestureCnn(), xtr, ytr, trained.EPOCHS["gesture_cnn"], seed=2026)
    accuracy = trained.top1(model, xte, yte)
    print(f"gesture: trained in {time.time() - start:.0f} s; held-out accuracy {accuracy:.3f} on {len(yte)} "
          f"examples (limit {ACCURACY_LIMIT})")

    os.makedirs(args.out, exist_ok=True)
    sets = [(xte[i:i + 1].copy(),) for i in range(args.test_sets)]
    train_common.export(model, sets[0], os.path.join(args.out, "model.onnx"), ["x"], ["logits"], test_sets=sets)
    for i in range(args.test_sets):
        train_common.save_tensor(os.path.join(args.out, f"test_data_set_{i}", "label.pb"),
                                 np.array([yte[i]], np.int64), "label")

    # The stream: two held-out examples of each gesture, in class order, twice.
    picks = [int(np.flatnonzero(yte == c)[k]) for k in range(2) for c in range(len(imu.CLASSES))]
    stream = np.concatenate([xte[i].T for i in picks])            # [1200, 6]
    stream = train_common.write_csv(os.path.join(args.out, "imu.csv"), stream, ["ax", "ay", "az", "gx", "gy", "gz"])
    ends = range(WINDOW - 1, len(stream), HOP)
    windows = np.stack([stream[e - WINDOW + 1:e + 1].T for e in ends])   # [N, 6, 100]
    with torch.no_grad():
        logits = model(torch.from_numpy(windows))
    probs = torch.softmax(logits, dim=-1).numpy()
    np.save(os.path.join(args.out, "expected.npy"), probs.astype(np.float32))
    np.save(os.path.join(args.out, "expected_logits.npy"), logits.numpy().astype(np.float32))
    aligned = [k for k, e in enumerate(ends) if (e + 1) % WINDOW == 0]   # windows that are exactly one example
    hits = sum(int(probs[k].argmax() == yte[picks[(ends[k] + 1) // WINDOW - 1]]) for k in aligned)
    print(f"gesture: stream of {len(picks)} gestures, {len(windows)} windows; the {len(aligned)} windows that are "
          f"exactly one gesture: {hits} recognised")
    assert accuracy >= ACCURACY_LIMIT, f"held-out accuracy {accuracy:.3f} is under {ACCURACY_LIMIT}"


if __name__ == "__main__":
    main()
