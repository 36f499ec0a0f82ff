#!/usr/bin/env bash
# Sanitizer test runs (make test-asan, make test-tsan; docs/reliability.md).
#   scripts/sanitize.sh address BUILD_DIR [CTEST_REGEX]   ASan + UBSan: the whole C++ suite
#   scripts/sanitize.sh thread  BUILD_DIR CTEST_REGEX     TSan: the concurrency tests
# Configures BUILD_DIR with -DFACEKIT_SANITIZE=..., without the trainer (libtorch) and the
# benchmarks, builds it (SAN_JOBS, default 2), runs ctest. Every report of every process (test
# binaries and the facekit CLI they start) goes to BUILD_DIR/sanitizer-logs; the run fails if a
# test fails or if any report was written, even by a child whose exit code a test expected to be
# non-zero anyway. Third-party suppressions: scripts/sanitizers/*.supp (each entry explained).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=$1 build=$2 regex=${3:-}
case "$kind" in
  address | thread) ;;
  *) echo "usage: $0 address|thread BUILD_DIR [CTEST_REGEX]" >&2; exit 2 ;;
esac
cd "$root"
mkdir -p "$root/out"
start=$(date +%s)
echo "[sanitize] $kind: configure and build $build (-j ${SAN_JOBS:-2})"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEKIT_SANITIZE="$kind" -DFACEKIT_BUILD_TRAINER=OFF \
  -DFACEKIT_BUILD_BENCH=OFF >"$root/out/$build-configure.log" 2>&1 || { cat "$root/out/$build-configure.log"; exit 1; }
# Only what ctest runs is built: the test binary, the CLI its tests start and, for the whole
# suite, the example program (not the Python module or the shared library of the package, which
# the pytest suite uses).
targets=(--target facekit_tests facekit)
[ "$kind" = address ] && targets+=(landmarks_example)
cmake --build "$build" -j "${SAN_JOBS:-2}" "${targets[@]}"
built=$(date +%s)

logs="$root/$build/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
supp="$root/scripts/sanitizers"
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="log_path=$logs/tsan:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
# OpenCV's videoio tries every backend on a file it cannot open; its gphoto2 backend (USB
# cameras) leaks inside libusb and in a camera plugin it has already unloaded, which
# LeakSanitizer cannot name (so no suppression can match it). Camera probing plays no part in
# facekit's tests: the backend is switched off for the run.
export OPENCV_VIDEOIO_PRIORITY_GPHOTO2=0

echo "[sanitize] $kind: ctest ${regex:+-R '$regex'}"
status=0
(cd "$build" && ctest --output-on-failure -j 2 ${regex:+-R "$regex"}) || status=$?
end=$(date +%s)
reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  echo "[sanitize] $kind: sanitizer reports:" >&2
  for f in $reports; do echo "----- $f" >&2; cat "$f" >&2; done
  status=1
fi
echo "[sanitize] $kind: build $((built - start)) s, tests $((end - built)) s, $(echo -n "$reports" | grep -c . || true) report(s), ctest status $status"
exit $status
