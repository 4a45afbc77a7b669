#!/bin/sh
# Runs the libFuzzer targets built in BUILD (make fuzz-build).
#   fuzz/run.sh fuzz  BUILD SECONDS [TARGET...]  fuzz each target for SECONDS over its corpus
#                                               (new inputs go to BUILD/fuzz-corpus/<target>;
#                                               a crash stops that target and is left in
#                                               BUILD/fuzz-crashes/<target>/: add it to
#                                               fuzz/regressions/<target>/ once fixed)
#   fuzz/run.sh check BUILD SECONDS [TARGET...]  every regression input once, the seed corpus
#                                               once, then SECONDS of fuzzing (make test-fuzz)
# FUZZ_RUNS=N in the environment also stops each target after N executions.
# fuzz/<target>.dict, when there is one, is the target's libFuzzer dictionary.
# Prints executions and the result per target; exits 1 if any target found something.
set -u
mode=$1 build=$2 seconds=$3
shift 3
src=$(cd "$(dirname "$0")" && pwd)
targets=${*:-fuzz_onnx fuzz_npy fuzz_tensor_pb fuzz_job fuzz_upload}
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in $targets; do
  bin=$build/fuzz/$t
  work=$build/fuzz-corpus/$t
  crashes=$build/fuzz-crashes/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$work" "$crashes" "$(dirname "$log")"
  : > "$log"
  opts="-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix=$crashes/"
  [ -n "${FUZZ_RUNS:-}" ] && opts="$opts -runs=$FUZZ_RUNS"
  [ -f "$src/$t.dict" ] && opts="$opts -dict=$src/$t.dict"
  ok=1
  if [ "$mode" = check ]; then
    regressions=$(find "$src/regressions/$t" -type f 2>/dev/null | sort)
    if [ -n "$regressions" ]; then
      # shellcheck disable=SC2086
      "$bin" $opts $regressions >> "$log" 2>&1 || ok=0
    fi
    rm -rf "$work" && mkdir -p "$work"
  fi
  if [ $ok = 1 ]; then
    # shellcheck disable=SC2086
    "$bin" $opts -max_total_time="$seconds" "$work" "$src/corpus/$t" >> "$log" 2>&1 || ok=0
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s += $1} END {print s + 0}')
  if [ $ok = 1 ]; then
    echo "$t: $execs executions, no crash, hang or sanitizer report"
  else
    failed=1
    echo "$t: FAILED after $execs executions (log: $log; inputs: $crashes)"
    grep -m 5 -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
  fi
done
exit $failed
