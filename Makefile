# rtml: the two commands a new user needs.
#   make run    install deps, build, generate the default model zoo and benchmark it on the native
#               engine and LibTorch (latency, memory, heap, accuracy); runs go to the results database
#   make test   install deps, build, run every test: unit, ONNX conformance, PyTorch comparisons,
#               zero-allocation proof, embedding example, armhf under qemu, ASan+UBSan, a short
#               run of every fuzzer over its corpus and past crashes
# Other targets: build, install (PREFIX=...), examples-train (retrain the examples/ models: a few minutes), test-native, test-armhf, test-aarch64, test-remote-armhf, test-asan, conformance,
#               bench (not a test: the speed table of README.md, about 15 minutes), bench-int8, fuzz, test-fuzz,
#               soak (not part of make test: the agent under 100 000 requests, 4 bench writers, one database), clean.

JOBS   ?= $(shell nproc)
BUILD  ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
# ccache, when present, makes the three test builds cheap to repeat.
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache,)

.PHONY: examples-train all deps ui-deps build run bench bench-int8 soak test test-native test-armhf test-aarch64 test-remote-armhf test-asan conformance install clean fuzz fuzz-build test-fuzz

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(LAUNCHER) $(CMAKE_FLAGS) > /dev/null

# rtml ui's front-end libraries from npm (ui/package-lock.json), embedded in rtml by the build.
ui-deps: ui/node_modules/.package-lock.json
ui/node_modules/.package-lock.json: ui/package.json ui/package-lock.json | deps
	@cd ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

build: deps ui-deps $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@echo "== rtml zoo --out $(BUILD)/zoo    (the default model zoo: ONNX + TorchScript + test data)"
	@$(BUILD)/rtml zoo --out $(BUILD)/zoo
	@echo
	@echo "== rtml bench $(BUILD)/zoo --backend native,torch    (the default zoo on both runtimes)"
	@$(BUILD)/rtml bench $(BUILD)/zoo --backend native,torch

# For every default zoo model: native, LibTorch and hand-written medians and ratios, GFLOP/s and
# GB/s against this core's measured limits, engine overhead, real-time tails, arena vs its bound;
# int8 against float; conv models tiled into half their arena on the emulated Cortex-M7 and tuned
# (a benchmark, not a test; writes $(BUILD)/bench/bench.md and bench.json).
bench: build
	@scripts/bench.py --rtml $(BUILD)/rtml --zoo $(BUILD)/zoo --out $(BUILD)/bench

# int8 against float32, one-layer models in one process (a benchmark, not a test; about a minute).
bench-int8: build
	@/usr/bin/python3 scripts/bench_int8.py --rtml $(BUILD)/rtml --out $(BUILD)/bench-int8

# A real rtml agent on 127.0.0.1 under SOAK_REQUESTS requests from 8 clients (valid jobs, bad tokens,
# truncated uploads, malformed JSON...), then `rtml bench --db` from 4 processes into one database:
# zero lost runs, no leaked files, flat memory (tests/soak/soak.py; stops by itself).
SOAK_REQUESTS ?= 100000
soak: build
	@/usr/bin/python3 tests/soak/soak.py --rtml $(BUILD)/rtml --zoo $(BUILD)/zoo-all --requests $(SOAK_REQUESTS) \
		--json $(BUILD)/soak.json

test: test-native test-armhf test-remote-armhf test-asan test-fuzz
	@echo "make test: all suites passed"

test-native: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

conformance: build
	@$(BUILD)/tests/rtml_conformance

test-armhf: deps
	@scripts/test-cross.sh armhf

# 64-bit ARM boards: the arm64 libraries, the cross build and its tests under qemu (not part of
# `make test`: one more cross build; run it when touching kernels or platform code).
test-aarch64: deps
	@RTML_DEPS=aarch64 scripts/install-deps.sh
	@scripts/test-cross.sh aarch64

# The armhf agent under qemu-arm-static on loopback, driven by the x86-64 client: upload a zoo
# model and its data, bench, accuracy passes. Skipped (with the reason) without the armhf agent.
test-remote-armhf: build
	@/usr/bin/python3 tests/remote/check_remote.py $(BUILD)/rtml $(BUILD)/zoo-all --armhf $(BUILD)-armhf/rtml || [ $$? -eq 77 ]

# On x86-64 the sanitizer and fuzz builds take SSSE3 as their baseline (-mssse3), so Highway
# compiles no scalar fallback target there: with ASan that target alone took half of the
# recurrent kernels' compile time (fully unrolled one-lane "vectors"). The native build keeps it.
X86_SSSE3 := $(if $(filter x86_64,$(shell uname -m)),-mssse3,)

# LibTorch is left out of the sanitizer build: it is not built with ASan, and
# its allocator and static state would be reported, not rtml's code. Tests labelled unsanitized
# (generated C built by gcc and run on the host or under QEMU, the Python zoo generator: nothing
# the sanitizers instrument) run in test-native only.
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTML_SANITIZE=ON -DRTML_WITH_TORCH=OFF \
	  -DCMAKE_CXX_FLAGS="$(X86_SSSE3)" $(LAUNCHER) > /dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) \
	  -LE unsanitized

# Fuzzing (fuzz/): libFuzzer targets for the file readers, i.e. the ONNX and TFLite importers + planner
# (+ one session run), the .npy reader and the TensorProto (.pb) reader, and for the agent's
# checks of job JSON and body headers (remote/agent_requests), built with clang and ASan+UBSan
# in $(BUILD)-fuzz (librtml and rtml_remote_requests only: no torch, UI, httplib). `make fuzz` runs each
# target for FUZZ_SECONDS (default 1200: over a million executions per target on one core);
# `make test-fuzz` (part of `make test`) replays fuzz/regressions/<target>/ (every crash found
# so far, kept once fixed) and the seed corpus fuzz/corpus/<target>/, then fuzzes 5 s each.
# The Highway kernels are built for one static target only (HWY_COMPILE_ONLY_STATIC): the fuzzers
# aim at the readers, and one SIMD target instead of five makes the build several times shorter.
# On x86-64 that target is SSSE3 (-mssse3), not the EMU128 emulation that the baseline flags would
# give: EMU128's float-to-int conversion is itself undefined for NaN, which UBSan reports as if
# it were ours.
FUZZ_HWY_FLAGS := -DHWY_COMPILE_ONLY_STATIC $(X86_SSSE3)
FUZZ_BUILD   ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 1200
FUZZ_TARGETS := fuzz_onnx fuzz_tflite fuzz_npy fuzz_tensor_pb fuzz_job fuzz_upload
fuzz-build: deps
	@command -v clang++ > /dev/null || { echo "fuzzing needs clang (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTML_FUZZ=ON \
	  -DCMAKE_CXX_FLAGS="$(FUZZ_HWY_FLAGS)" \
	  -DRTML_BUILD_CLI=OFF -DRTML_BUILD_TESTS=OFF -DRTML_WITH_TORCH=OFF -DRTML_WITH_SQLITE=OFF \
	  -DRTML_WITH_REMOTE=OFF $(LAUNCHER) > /dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	@fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz: fuzz-build
	@fuzz/run.sh check $(FUZZ_BUILD) 5 $(FUZZ_TARGETS)

# Retrains the example projects' models (examples/*/train.py, seeded) and rewrites their committed
# ONNX files, inputs and PyTorch's expected outputs; not part of make test (about a minute each).
examples-train:
	@for e in audio_effect gesture sensor_reduction; do /usr/bin/python3 examples/$$e/train.py || exit 1; done

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-armhf $(BUILD)-aarch64 $(BUILD)-fuzz
