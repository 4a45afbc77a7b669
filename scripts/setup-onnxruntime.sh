#!/usr/bin/env bash
# Sets up ONNX Runtime for the optional `onnxruntime` backend plugin, in the
# layout of an ONNX Runtime release (include/ and lib/), at .deps/onnxruntime
# (or $RTML_ONNXRUNTIME_DIR). CMake finds it there (or anywhere with
# -DRTML_ONNXRUNTIME_ROOT=DIR).
#
# Debian has no ONNX Runtime. Its CPU library for Linux comes inside the npm
# package onnxruntime-node (fetched with `npm pack`: no install scripts run);
# the C API header is not in that package: it is taken from
# ../shared/third_party/onnxruntime/include when that folder exists (as in this
# project's CI). Without the header this prints why and exits 0: rtml builds
# without the backend and says how to enable it.
# Quiet when already set up.
set -euo pipefail
version=1.30.0
top=$(cd "$(dirname "$0")/.." && pwd)
dest=${RTML_ONNXRUNTIME_DIR:-$top/.deps/onnxruntime}
header_src=${RTML_ONNXRUNTIME_HEADER_DIR:-$top/../shared/third_party/onnxruntime/include}

[ -f "$dest/include/onnxruntime_c_api.h" ] && [ -f "$dest/lib/libonnxruntime.so.1" ] && exit 0

case "$(uname -m)" in
  x86_64) npm_arch=x64 ;;
  aarch64) npm_arch=arm64 ;;
  *) echo "setup-onnxruntime: npm's onnxruntime-node has no library for $(uname -m): no onnxruntime backend"; exit 0 ;;
esac
if [ ! -f "$header_src/onnxruntime_c_api.h" ]; then
  echo "setup-onnxruntime: no onnxruntime_c_api.h in $header_src: no onnxruntime backend" \
       "(point cmake at an ONNX Runtime release with -DRTML_ONNXRUNTIME_ROOT=DIR to build it)"
  exit 0
fi
command -v npm >/dev/null || { echo "setup-onnxruntime: npm is missing: no onnxruntime backend"; exit 0; }

echo "setup-onnxruntime: ONNX Runtime $version from npm's onnxruntime-node into $dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$version.tgz" -C "$tmp" "package/bin/napi-v6/linux/$npm_arch/libonnxruntime.so.1"
mkdir -p "$dest/include" "$dest/lib"
install -m 644 "$header_src/onnxruntime_c_api.h" "$dest/include/"
cp "$tmp/package/bin/napi-v6/linux/$npm_arch/libonnxruntime.so.1" "$dest/lib/"
ln -sf libonnxruntime.so.1 "$dest/lib/libonnxruntime.so"
echo "$version" > "$dest/VERSION"
