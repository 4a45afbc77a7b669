#!/usr/bin/env bash
# Cross-builds the library, its unit tests and the conformance runner for an
# ARM target and runs them under qemu-user-static.
#   scripts/test-cross.sh armhf     (Cortex-A8, NEON, hard float: BeagleBone/Bela)
#   scripts/test-cross.sh aarch64
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-armhf}
case "$arch" in
  armhf) toolchain=toolchains/armhf-cortex-a8.cmake ;;
  aarch64) toolchain=toolchains/aarch64.cmake ;;
  *) echo "test-cross: unknown target '$arch' (armhf or aarch64)" >&2; exit 2 ;;
esac
build=${BUILD:-build}-$arch
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DRTML_BUILD_CLI=ON "${launcher[@]}" > /dev/null
cmake --build "$build" -j "$(nproc)" --target rtml_unit_tests rtml_conformance rtml_cli rtml_examples
cd "$build" && ctest --output-on-failure -j "$(nproc)"
