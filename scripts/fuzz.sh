#!/usr/bin/env bash
# make fuzz (docs/reliability.md): builds the libFuzzer targets of fuzz/ with clang (coverage
# instrumentation + ASan + UBSan over the whole library) in BUILD_DIR, generates their seed
# corpora, and runs each target for FUZZ_SECONDS (default 60) or, with FUZZ_RUNS=N, for N inputs.
#   scripts/fuzz.sh BUILD_DIR
# FUZZ_TARGETS="fuzz_image fuzz_tflite" picks targets. Corpora grow in out/fuzz/corpus/<target>
# (kept between runs), crash / leak / timeout (> 1 s) inputs land in out/fuzz/artifacts/<target>,
# logs in out/fuzz/logs; any finding fails the run. A summary table ends the output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-fuzz}
cd "$root"
mkdir -p "$root/out"
bash scripts/setup.sh fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEKIT_FUZZ=ON \
  -DFACEKIT_BUILD_TESTS=OFF -DFACEKIT_BUILD_BENCH=OFF -DFACEKIT_BUILD_TRAINER=OFF >"$root/out/$build-configure.log" 2>&1 ||
  { cat "$root/out/$build-configure.log"; exit 1; }
cmake --build "$build" --target fuzz_all -j "${FUZZ_JOBS:-2}"

targets=${FUZZ_TARGETS:-$(cd "$build/fuzz" && ls fuzz_* | grep -v '^fuzz_make_seeds$' | sort)}
out="$root/out/fuzz"
mkdir -p "$out/logs"
if [ -n "${FUZZ_RUNS:-}" ]; then budget="-runs=$FUZZ_RUNS"; else budget="-max_total_time=${FUZZ_SECONDS:-60}"; fi
status=0
summary=$(printf '%-18s %10s %8s %8s %8s %7s  %s\n' target executions exec/s cov ft corpus result)
for t in $targets; do
  corpus="$out/corpus/$t" artifacts="$out/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  echo "[fuzz] $t ($budget)"
  result=ok
  # -close_fd_mask=3: the targets' own chatter (libpng warnings) is dropped; libFuzzer's and the
  # sanitizers' reports still print. -timeout=1: an input taking over 1 s is a finding.
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$build/fuzz/$t" $budget -timeout=1 -rss_limit_mb=2560 -malloc_limit_mb=2560 -close_fd_mask=3 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$build/fuzz/seeds/${t#fuzz_}" >"$out/logs/$t.log" 2>&1 || result=FINDING
  if [ "$result" != ok ]; then
    status=1
    echo "[fuzz] $t: FINDING (log: out/fuzz/logs/$t.log, inputs: out/fuzz/artifacts/$t)" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "$out/logs/$t.log" | head -5 >&2 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$t.log" | tail -1 || true)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/logs/$t.log" | tail -1 || true)
  last=$(grep -E '^#[0-9]+' "$out/logs/$t.log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last" || true) ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last" || true)
  summary+=$(printf '\n%-18s %10s %8s %8s %8s %7s  %s' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$result")
done
echo "$summary"
exit $status
