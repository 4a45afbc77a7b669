#!/usr/bin/env bash
# Installs every Debian package rtml needs to build, test and cross-build.
# Non-interactive and idempotent: prints nothing when all is present.
#   scripts/install-deps.sh            everything `make test` needs (host build, tests, armhf)
#   RTML_DEPS=host scripts/install-deps.sh      skip the ARM cross toolchains
#   RTML_DEPS=aarch64 scripts/install-deps.sh   also the arm64 libraries (make test-aarch64)
set -euo pipefail

host_pkgs=(
  cmake make g++ pkg-config
  ccache                              # the test builds (native, armhf, ASan, fuzz) repeat cheaply
  clang libclang-rt-14-dev            # make test-fuzz / make fuzz: libFuzzer with ASan + UBSan
  protobuf-compiler libprotobuf-dev   # ONNX protobuf classes are generated from libonnx-dev's onnx.proto
  libonnx-dev                         # onnx.proto
  libonnx-testdata                    # ONNX backend test cases: the conformance oracle
  libgtest-dev
  libhwy-dev                          # Google Highway: portable SIMD with runtime dispatch (fast kernels)
  python3-numpy python3-onnx python3-torch   # models and expected outputs exported by PyTorch
  python3-sklearn                     # the zoo's digits data set
  python3-pyarmnn                     # ArmNN's TFLite parser: the oracle of the .tflite import tests
  python3-jsonschema                  # tests validate bench reports against docs/bench-report.schema.json
  libtorch-dev                        # the bench's `torch` backend (LibTorch)
  libxnnpack-dev libpthreadpool-dev   # the bench's `xnnpack` backend (xnnpack.h includes pthreadpool.h)
  libarmnn-dev libarmnntfliteparser-dev libarmnn-cpuref-backend22   # the bench's `armnn` backend (.tflite)
  libopenblas0-pthread                # an optimised BLAS for LibTorch (Debian's alternatives switch to it)
  libsqlite3-dev                      # the results database
  nlohmann-json3-dev                  # JSON reports
  libcpp-httplib-dev                  # rtml agent / rtml remote (HTTP); optional: without it, no agent
  time                                # make bench: peak resident memory of rtml info (/usr/bin/time)
  linux-perf                          # rtml profile --perf: sampled call stacks (perf record / perf script)
  chromium fonts-dejavu-core          # rtml ui's browser test (headless, driven by playwright-core)
)
# rtml ui's page takes uPlot from npm (make build runs npm ci in ui/) and its browser test runs
# on node: Debian's nodejs and npm, unless a node with its npm is already there (NodeSource's
# nodejs package includes npm and conflicts with Debian's).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then host_pkgs+=(nodejs npm); fi
cross_pkgs=(
  g++-arm-linux-gnueabihf g++-aarch64-linux-gnu qemu-user-static
  libprotobuf32:armhf                 # the armhf runtime the cross-built tests link and run with
  libc6:armhf                         # the glibc qemu-arm runs them with (threads work with it)
  libhwy-dev:armhf                    # Highway for armhf (NEON kernels)
  libcpp-httplib0.11:armhf            # the armhf agent's HTTP library (pulls libssl3, libbrotli1, zlib1g:armhf)
  libssl-dev:armhf                    # openssl/configuration.h for armhf: httplib.h is built with OpenSSL on
  gcc-arm-none-eabi                   # rtml compile's Cortex-M projects (bare metal; includes arm-none-eabi-g++)
  picolibc-arm-none-eabi              # their C library (small, semihosting support)
  libstdc++-arm-none-eabi-picolibc    # the C++ runtime arm-none-eabi-g++ links the kernels with (-lstdc++)
  libnewlib-arm-none-eabi             # newlib: the libstdc++ headers arm-none-eabi-g++ needs for the C++ kernels
  qemu-system-arm                     # runs them on mps2-an500 (M7), mps2-an386 (M4), mps3-an547 (M55); TCG plugins count instructions
)

aarch64_pkgs=(
  libprotobuf32:arm64 libc6:arm64 libhwy-dev:arm64
  libcpp-httplib0.11:arm64 libssl-dev:arm64
)

pkgs=("${host_pkgs[@]}")
case "${RTML_DEPS:-all}" in
  host) ;;
  aarch64) pkgs+=("${cross_pkgs[@]}" "${aarch64_pkgs[@]}") ;;
  *) pkgs+=("${cross_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
# LibTorch calls whatever libblas.so.3 Debian's alternatives select for the
# host architecture: make that OpenBLAS when it is installed (quiet if it is).
select_openblas() {
  local arch files target alt sudo=""
  arch=$(dpkg --print-architecture)
  files=$(dpkg -L "libopenblas0-pthread:$arch" 2>/dev/null) || return 0   # not installed
  target=$(printf '%s\n' "$files" | grep '/openblas-pthread/libblas\.so\.3$') || return 0
  target=${target%%$'\n'*}
  alt="libblas.so.3-$(basename "$(dirname "$(dirname "$target")")")"   # libblas.so.3-x86_64-linux-gnu
  [ "$(update-alternatives --query "$alt" 2>/dev/null | sed -n 's/^Value: //p')" = "$target" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to select OpenBLAS: update-alternatives --set $alt $target" >&2; return 1; }
    sudo="sudo"
  fi
  echo "install-deps: selecting OpenBLAS for $alt"
  $sudo update-alternatives --quiet --set "$alt" "$target"
}

# The optional ONNX Runtime backend: not a Debian package (scripts/setup-onnxruntime.sh).
setup_onnxruntime() { "$(dirname "$0")/setup-onnxruntime.sh"; }

if [ ${#missing[@]} -eq 0 ]; then select_openblas; setup_onnxruntime; exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
for arch in armhf arm64; do
  if printf '%s\n' "${missing[@]}" | grep -q ":$arch\$" && ! dpkg --print-foreign-architectures | grep -qx $arch; then
    $SUDO dpkg --add-architecture $arch
  fi
done
# A mirror mid-sync can fail one index; retry, then go on with what we have.
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq; then break; fi
  echo "install-deps: apt-get update failed (attempt $attempt), retrying" >&2
  sleep 5
done
host_missing=()
for p in "${missing[@]}"; do [[ $p == *:* ]] || host_missing+=("$p"); done
if [ ${#host_missing[@]} -gt 0 ]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${host_missing[@]}" >/dev/null
fi
for arch in armhf arm64; do
  arch_missing=()
  for p in "${missing[@]}"; do [[ $p == *:$arch ]] && arch_missing+=("$p"); done
  [ ${#arch_missing[@]} -eq 0 ] && continue
  $SUDO apt-get install -y -qq --no-install-recommends "${arch_missing[@]}" >/dev/null && continue
  # Multi-Arch "same" libraries must have one version on every architecture.
  # When this architecture's index lags the host's (a mirror mid-sync), the
  # host's OpenSSL can be newer than any build for it: align both.
  pins=()
  for lib in libssl3 libssl-dev; do
    v=$(apt-cache policy "$lib:$arch" | sed -n 's/^  Candidate: //p')
    if [ -n "$v" ] && [ "$v" != "(none)" ]; then pins+=("$lib=$v" "$lib:$arch=$v"); fi
  done
  echo "install-deps: retrying the $arch packages with ${pins[*]}" >&2
  $SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades "${pins[@]}" "${arch_missing[@]}" >/dev/null
done
select_openblas
setup_onnxruntime
echo "install-deps: done"
