"""A synthetic but physically plausible 6-axis IMU gesture data set.

Each example is one second at 100 Hz from a hand-held device: accelerometer
(x, y, z, specific force in g: at rest it reads +1 g along the axis pointing
up) and gyroscope (x, y, z, angular rate in units of pi rad/s). The simulator
moves a rigid body: a body-frame angular velocity profile is integrated into an
orientation (rotation matrices, exponential map per sample), a world-frame
linear acceleration profile is added to gravity, and the accelerometer sees that
specific force rotated into the body frame, so tilting really moves gravity
between the axes. Every example draws its own start time, duration, amplitude,
frequency, initial orientation (a few degrees from flat), sensor biases
(0.02 g, 0.02 rad/s) and white noise (0.01 g, 0.01 rad/s).

Gestures (classes, in label order):
  0 idle    resting in the hand: physiological tremor only
  1 shake   side-to-side shake along x, 4-7 Hz, 0.8-2 g, 0.4-0.8 s
  2 tap     a tap on the screen: a sharp z impulse (2-4 g, ~15 ms) and rebound
  3 circle  a horizontal circle, 1-2 Hz, 0.3-0.8 g, 0.6-0.9 s
  4 tilt    tilt about x by 30-60 degrees and back, 0.5-0.9 s
  5 flick   a fast wrist turn about z by 60-120 degrees in 0.1-0.2 s

generate(per_class, seed) returns (x [N, 6, 100] float32, labels [N] int64).
"""
import numpy as np

RATE = 100
SAMPLES = 100
G = 9.81
CLASSES = ("idle", "shake", "tap", "circle", "tilt", "flick")


def _expmap(w):
    """Rotation matrix for a rotation vector w (Rodrigues)."""
    angle = np.linalg.norm(w)
    if angle < 1e-12:
        return np.eye(3)
    k = w / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _window(rng, t, lo, hi):
    """A random sub-window [t0, t0 + d) of the second, d in [lo, hi]: (phase 0..1, inside mask, d)."""
    d = rng.uniform(lo, hi)
    t0 = rng.uniform(0.05, 1.0 - d - 0.02)
    phase = (t - t0) / d
    return phase, (phase >= 0) & (phase < 1), d


def simulate(kind, rng):
    t = np.arange(SAMPLES) / RATE
    omega = rng.normal(0, 0.02, (SAMPLES, 3))          # tremor, rad/s (body frame)
    lin = rng.normal(0, 0.05, (SAMPLES, 3))            # tremor, m/s^2 (world frame)
    if kind == "shake":
        phase, inside, d = _window(rng, t, 0.4, 0.8)
        f, a = rng.uniform(4, 7), rng.uniform(0.8, 2.0) * G
        env = np.where(inside, np.sin(np.pi * np.clip(phase, 0, 1)) ** 2, 0)
        lin[:, 0] += a * env * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        omega[:, 2] += 0.1 * a / G * env * np.cos(2 * np.pi * f * t)
    elif kind == "tap":
        t0, a = rng.uniform(0.15, 0.85), rng.uniform(2, 4) * G
        lin[:, 2] += -a * np.exp(-0.5 * ((t - t0) / 0.015) ** 2) + 0.4 * a * np.exp(-0.5 * ((t - t0 - 0.04) / 0.02) ** 2)
        omega[:, 0] += rng.uniform(-0.5, 0.5) * np.exp(-0.5 * ((t - t0) / 0.02) ** 2)
    elif kind == "circle":
        phase, inside, d = _window(rng, t, 0.6, 0.9)
        f, a = rng.uniform(1, 2), rng.uniform(0.3, 0.8) * G
        env = np.where(inside, np.sin(np.pi * np.clip(phase, 0, 1)) ** 2, 0)
        sign = rng.choice([-1, 1])
        lin[:, 0] += a * env * np.cos(2 * np.pi * f * t)
        lin[:, 1] += sign * a * env * np.sin(2 * np.pi * f * t)
    elif kind == "tilt":
        phase, inside, d = _window(rng, t, 0.5, 0.9)
        theta = np.deg2rad(rng.uniform(30, 60)) * rng.choice([-1, 1])
        # angle(t) = theta sin^2(pi phase): up and back down, rate is its derivative
        omega[:, 0] += np.where(inside, theta * np.pi / d * np.sin(2 * np.pi * np.clip(phase, 0, 1)), 0)
    elif kind == "flick":
        phase, inside, d = _window(rng, t, 0.1, 0.2)
        theta = np.deg2rad(rng.uniform(60, 120)) * rng.choice([-1, 1])
        # angle(t) = theta (1 - cos(pi phase)) / 2: a one-way turn, rate is its derivative
        rate = np.where(inside, theta * np.pi / (2 * d) * np.sin(np.pi * np.clip(phase, 0, 1)), 0)
        omega[:, 2] += rate
        lin[:, 1] += 0.08 * rate ** 2                   # centripetal: the device sits ~8 cm from the wrist axis
    elif kind != "idle":
        raise ValueError(kind)

    rot = _expmap(rng.normal(0, 0.05, 3))              # body -> world, a few degrees from flat
    acc = np.empty((SAMPLES, 3))
    for i in range(SAMPLES):
        rot = rot @ _expmap(omega[i] / RATE)
        acc[i] = rot.T @ (lin[i] + np.array([0.0, 0.0, G]))
    acc = acc / G + rng.normal(0, 0.02, 3) + rng.normal(0, 0.01, (SAMPLES, 3))
    gyro = (omega + rng.normal(0, 0.02, 3) + rng.normal(0, 0.01, (SAMPLES, 3))) / np.pi
    return np.concatenate([acc, gyro], axis=1).T.astype(np.float32)   # [6, 100]


def generate(per_class, seed):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(per_class):
        for label, kind in enumerate(CLASSES):
            xs.append(simulate(kind, rng))
            ys.append(label)
    return np.stack(xs), np.array(ys, dtype=np.int64)
