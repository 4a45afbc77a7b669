#!/usr/bin/env bash
# Installs rtml into a scratch prefix, builds examples/embed against the
# installed package with find_package(rtml), and runs it on the streaming
# LSTM that PyTorch exported (its step-by-step outputs are the oracle).
# usage: embed_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$build/embed-test
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" > /dev/null
cmake -S "$src/examples/embed" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/build" > /dev/null
m=$build/pytorch_models/lstm_step
"$work/build/embed" "$m/model.onnx" "$m/stream/x.f32" "$m/stream/y.f32"
