#!/bin/sh
# The cmsis-nn kernel set beyond make test's slice (compile_host_cmsis_nn,
# compile_cortex-m7_cmsis_nn): the int8 zoo models (build/zoo, made by
# `rtml zoo --out build/zoo`) on the host and the emulated Cortex-M7, and every
# int8 MLPerf Tiny model on the M7, M4 and M55 (Helium), each against `rtml run --kernels
# cortex-m`, bit for bit (tests/compile/check_compile.py). About 10 minutes.
#   scripts/check-cmsis-nn.sh [BUILD] [CMSIS_NN_DIR] [SHARED_DIR]
set -e
BUILD=${1:-build}
CMSIS_NN=${2:-../shared/third_party/cmsis-nn}
SHARED=${3:-../shared}
M=$SHARED/models/mlperf-tiny
CHECK="/usr/bin/python3 tests/compile/check_compile.py $BUILD/rtml"
ZOO="$BUILD/zoo/digits_cnn_int8 $BUILD/zoo/gesture_cnn_int8"
TFLITE="$M/kws_ref_model.tflite $M/pretrainedResnet_quant.tflite $M/ad01_int8.tflite"
$CHECK $ZOO --kernels cmsis-nn --cmsis-nn "$CMSIS_NN"
for target in cortex-m7 cortex-m4 cortex-m55; do
  $CHECK $ZOO $TFLITE --target $target --kernels cmsis-nn --cmsis-nn "$CMSIS_NN"
done
