"""Runs one example's render.cpp in the Bela host runner on its committed input and
checks the output against PyTorch's offline processing of the same input (the
expected data its train.py committed): within 1e-4 (absolute, or relative to the
expected value, as `rtml run --test-data`), and 0 heap allocations in render()
and in the auxiliary tasks.

usage: check_example.py NAME RUNNER WORKDIR [--emulator "qemu-arm-static;-L;/"] [--allow-unmeasured-heap]
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train_common import read_wav_float  # noqa: E402

TOLERANCE = 1e-4
ANALOG_RATE, ANALOG_FRAMES = 22050, 8   # the runner's analog inputs and outputs: 8 frames per block


def compare(what, actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        sys.exit(f"FAIL {what}: shape {actual.shape}, expected {expected.shape}")
    err = np.abs(actual - expected)
    bad = (err > TOLERANCE) & (err > TOLERANCE * np.abs(expected))
    print(f"{what}: {expected.size} values, max abs error {err.max():.3g}, {int(bad.sum())} out of tolerance {TOLERANCE}")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        sys.exit(f"FAIL {what}: first mismatch at {np.unravel_index(i, expected.shape)}: "
                 f"{actual.flat[i]!r} vs PyTorch {expected.flat[i]!r}")


def write_wav(path, pcm16, bits, fmt):
    """input.wav's 16-bit samples as another WAV format holding the same values:
    integer PCM of `bits` (the 16 bits shifted up) or 32-bit float (v / 32768)."""
    if fmt == 3:
        data = (pcm16.astype(np.float32) / np.float32(32768)).astype("<f4").tobytes()
    elif bits == 24:
        v = pcm16.astype("<i4") << 8
        data = np.stack([(v >> s) & 0xFF for s in (0, 8, 16)], axis=1).astype(np.uint8).tobytes()
    else:
        data = (pcm16.astype("<i4") << (bits - 16)).astype("<i4").tobytes()
    width = bits // 8
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, fmt, 1, 44100, 44100 * width, width, bits))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def check_audio_effect(d, run):
    """input.wav (16-bit) and the same samples as 24-bit, 32-bit and float WAV files: each
    read by the runner gives the same floats, so each output must match PyTorch's."""
    expected = np.load(os.path.join(d, "expected.npy"))
    if np.sqrt(np.mean(expected ** 2)) < 1e-3:
        sys.exit("FAIL audio_effect: the expected output is silent; nothing would be checked")
    with open(os.path.join(d, "input.wav"), "rb") as f:
        blob = f.read()
    pcm16 = np.frombuffer(blob[blob.index(b"data") + 8:], dtype="<i2")
    inputs = [("16-bit", os.path.join(d, "input.wav"))]
    for label, bits, fmt in (("24-bit", 24, 1), ("32-bit", 32, 1), ("float", 32, 3)):
        path = os.path.join(os.path.dirname(run.audio_out), f"input-{label}.wav")
        write_wav(path, pcm16, bits, fmt)
        inputs.append((label, path))
    for label, path in inputs:
        run(["--audio-in", path])
        out, _ = read_wav_float(run.audio_out)
        compare(f"{label} input: audio out 0 vs PyTorch", out[:, 0], expected)
        compare(f"{label} input: audio out 1 vs PyTorch", out[:, 1], expected)


def check_gesture(d, run):
    """Window k ends at IMU row r = 99 + 10k; the runner holds row r from analog frame
    ceil(r * 22050 / 100) on, render() schedules the classifier in that frame's block, and
    (auxiliary tasks synchronous) the next block writes its probabilities to analog outputs 0-5."""
    run(["--analog-in", os.path.join(d, "imu.csv"), "--analog-in-rate", "100"])
    out, _ = read_wav_float(run.analog_out)
    expected = np.load(os.path.join(d, "expected.npy"))
    rows = [99 + 10 * k for k in range(len(expected))]
    frames = [((r * ANALOG_RATE + 99) // 100 // ANALOG_FRAMES + 1) * ANALOG_FRAMES for r in rows]
    if run.report["aux_task_runs"] != len(expected):
        sys.exit(f"FAIL gesture: {run.report['aux_task_runs']} classifier runs, expected {len(expected)} windows")
    compare("analog out 0-5 (class probabilities) vs PyTorch", out[frames, :6], expected)
    before_first = out[:frames[0], :6]
    if np.any(before_first != 0):
        sys.exit("FAIL gesture: probabilities on the analog outputs before the first window was classified")
    audio, _ = read_wav_float(run.audio_out)
    if np.sqrt(np.mean(audio[:, 0] ** 2)) < 1e-3:
        sys.exit("FAIL gesture: the synth is silent although gestures were recognised")


def check_sensor_reduction(d, run):
    """Block b runs the encoder on its first analog frame, b * 8, which holds CSV row
    floor(b * 8 * 100 / 22050); the latent goes to analog outputs 0-1 for the whole block."""
    run(["--analog-in", os.path.join(d, "sensors.csv"), "--analog-in-rate", "100"])
    out, _ = read_wav_float(run.analog_out)
    expected = np.load(os.path.join(d, "expected.npy"))
    blocks = len(out) // ANALOG_FRAMES
    rows = [b * ANALOG_FRAMES * 100 // ANALOG_RATE for b in range(blocks)]
    first = out[::ANALOG_FRAMES][:blocks, :2]
    last = out[ANALOG_FRAMES - 1::ANALOG_FRAMES][:blocks, :2]
    compare("analog out 0-1 (latent) vs PyTorch, first frame of each block", first, expected[rows])
    compare("analog out 0-1 (latent) vs PyTorch, last frame of each block", last, expected[rows])
    if np.ptp(expected[:, 0]) < 0.1 or np.ptp(expected[:, 1]) < 0.1:
        sys.exit("FAIL sensor_reduction: the latent hardly moves over the stream; the check would prove little")


def check_runner_errors(d, run):
    """Bad input files and options: exit 1 (2 for usage) with a message naming the problem."""
    work = os.path.dirname(run.audio_out)

    def write(name, content):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(content)
        return path
    good_csv = os.path.join(d, "sensors.csv")
    cases = [
        (["--analog-in", os.path.join(work, "missing.csv"), "--analog-in-rate", "100"], 1, "missing.csv: cannot open"),
        (["--analog-in", write("ragged.csv", b"a,b\n1,2\n3\n"), "--analog-in-rate", "100"], 1,
         "ragged.csv: line 3: 1 columns, the first row has 2"),
        (["--analog-in", write("text.csv", b"a,b\n1,2\n3,x\n"), "--analog-in-rate", "100"], 1,
         "text.csv: line 3: not a row of numbers"),
        (["--analog-in", write("wide.csv", b"1,2,3,4,5,6,7,8,9\n"), "--analog-in-rate", "100"], 1,
         "has 9 columns; there are 8 analog inputs"),
        (["--audio-in", write("short.wav", b"RIFF\x04\x00\x00\x00WA")], 1, "short.wav: not a WAV file"),
        (["--audio-in", write("cut.wav", b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00")], 1,
         "cut.wav: chunk 'fmt ' runs past the end of the file"),
        (["--audio-in", write("alaw.wav", b"RIFF\x00\x00\x00\x00WAVEfmt " + struct.pack("<IHHIIHH", 16, 6, 1, 8000, 8000, 1, 8)
                              + b"data\x02\x00\x00\x00ab")], 1, "format 6 with 8 bits"),
        (["--analog-in", good_csv], 2, "--analog-in needs --analog-in-rate"),
        (["--analog-in", good_csv, "--analog-in-rate", "fast"], 2, "--analog-in-rate needs a positive number"),
        (["--seconds", "1", "--bogus"], 2, "unknown option '--bogus'"),
        (["--seconds", "1", "--project", os.path.join(work, "no-such-project")], 1,
         "cannot change into the project folder"),
        (["--seconds", "1", "--project", work], 1, "model.onnx"),   # setup() cannot load the model
    ]
    for args, code, message in cases:
        got, text = run.raw(args)
        if got != code or message not in text:
            sys.exit(f"FAIL runner errors: {args}: exit {got}, output {text!r}; expected exit {code} and {message!r}")
        if "Segmentation" in text or "internal error" in text:
            sys.exit(f"FAIL runner errors: {args}: {text!r}")
        print(f"ok  exit {code}: {text.strip().splitlines()[0]}")


CHECKS = {"runner_errors": check_runner_errors, "audio_effect": check_audio_effect, "gesture": check_gesture, "sensor_reduction": check_sensor_reduction}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(CHECKS))
    ap.add_argument("runner")
    ap.add_argument("workdir")
    ap.add_argument("--emulator", default="")
    ap.add_argument("--allow-unmeasured-heap", action="store_true",
                    help="sanitizer builds: their allocator replaces the counting one")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    d = os.path.join(HERE, "sensor_reduction" if args.name == "runner_errors" else args.name)
    prefix = [a for a in args.emulator.split(";") if a]

    def run(extra):
        report = os.path.join(args.workdir, "report.json")
        cmd = prefix + [args.runner, "--project", d, "--sync-aux", "--json", report,
                        "--audio-out", run.audio_out, "--analog-out", run.analog_out] + extra
        print("$", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=540)
        print(p.stdout, end="")
        if p.returncode != 0:
            sys.exit(f"FAIL {args.name}: the runner exited {p.returncode}")
        with open(report) as f:
            run.report = json.load(f)
        r = run.report
        if not r["heap_counted"] and not args.allow_unmeasured_heap:
            sys.exit(f"FAIL {args.name}: the runner could not count heap allocations")
        if r["heap_counted"] and (r["render_heap_allocations"] or r["aux_heap_allocations"]):
            sys.exit(f"FAIL {args.name}: {r['render_heap_allocations']} heap allocations in render(), "
                     f"{r['aux_heap_allocations']} in auxiliary tasks (expected 0)")
    def raw(extra):
        cmd = prefix + [args.runner, "--project", d] + extra
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        return p.returncode, p.stdout
    run.raw = raw
    run.audio_out = os.path.join(args.workdir, "audio_out.wav")
    run.analog_out = os.path.join(args.workdir, "analog_out.wav")

    CHECKS[args.name](d, run)
    print(f"PASS {args.name}")


if __name__ == "__main__":
    main()
