#!/usr/bin/env bash
# make fuzz-coverage (docs/reliability.md): how much of each parser its fuzz corpus reaches.
# Replays out/fuzz/corpus/<target> (left by make fuzz) through the targets make fuzz built in
# BUILD_DIR, without mutating it, with libFuzzer's -print_coverage=1 (the instrumented edges of
# every function, symbolised by llvm-symbolizer), and sums, per target, the functions and edges of
# the source files that target is about. No second build: the edges are the ones the fuzzer
# itself steers by. "Whole file" counts every function of the file, writers and helpers the target
# never calls included; "reached functions" only the functions the corpus entered. Summary table: out/fuzz/coverage.md; raw listings: out/fuzz/coverage/<target>.txt.
#   scripts/fuzz_coverage.sh [BUILD_DIR]   (default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-fuzz}
cd "$root"
[ -x "$build/fuzz/fuzz_model_file" ] || { echo "[coverage] no fuzz targets in $build: run make fuzz first" >&2; exit 1; }
command -v llvm-symbolizer >/dev/null || { echo "[coverage] llvm-symbolizer missing: scripts/setup.sh fuzz installs it" >&2; exit 1; }

files_of() {  # the sources a target is about
  case $1 in
    fuzz_model_file) echo src/engine/model_file.cpp ;;
    fuzz_tflite) echo src/engine/tflite_reader.cpp ;;
    fuzz_tfjs) echo src/engine/tfjs_reader.cpp src/engine/tfjs_convert.cpp ;;
    fuzz_wider_mat) echo src/eval/widerface.cpp src/eval/mat_check.cpp ;;
    fuzz_wider_txt) echo src/eval/widerface.cpp ;;
    fuzz_aflw_mat) echo src/eval/aflw.cpp src/eval/mat_check.cpp ;;
    fuzz_dlib_xml) echo src/eval/landmark_eval.cpp ;;
    fuzz_train_config) echo tools/train/train_config.cpp ;;
    fuzz_labels) echo tools/train/landmark_data.cpp ;;
    fuzz_image) echo src/pipeline/image_io.cpp ;;
  esac
}
mkdir -p out/fuzz/coverage
report=out/fuzz/coverage.md
{
  echo "| target | corpus | file | functions reached | edges covered, whole file | edges covered, reached functions |"
  echo "|---|---|---|---|---|---|"
} >"$report"
for t in ${FUZZ_TARGETS:-$(cd "$build/fuzz" && ls fuzz_* | grep -v '^fuzz_make_seeds$' | sort)}; do
  corpus="out/fuzz/corpus/$t"
  [ -d "$corpus" ] || { echo "[coverage] $t: no corpus (run make fuzz first)"; continue; }
  raw="out/fuzz/coverage/$t.txt"
  ASAN_OPTIONS=detect_leaks=0 "$build/fuzz/$t" -runs=0 -print_coverage=1 -close_fd_mask=3 -timeout=10 "$corpus" >"$raw" 2>&1 || true
  grep -q '^COVERED_FUNC' "$raw" || { echo "[coverage] $t: no coverage listing (see $raw)" >&2; exit 1; }
  n=$(ls "$corpus" | wc -l)
  for f in $(files_of "$t"); do
    # lines: "COVERED_FUNC: hits: H edges: C/T name /abs/path/file.cpp:LINE" (UNCOVERED_FUNC: C = 0)
    awk -v file="$root/$f" '
      /^(UN)?COVERED_FUNC:/ {
        loc = $NF; sub(/:[0-9]+$/, "", loc)
        if (loc != file) next
        split($5, e, "/"); fn++; total += e[2]; covered += e[1]
        if ($1 == "COVERED_FUNC:") { reached++; rtotal += e[2] }
      }
      END {
        printf "%d / %d | %d / %d (%.0f %%) | %d / %d (%.0f %%)\n", reached, fn, covered, total, total ? 100 * covered / total : 0,
               covered, rtotal, rtotal ? 100 * covered / rtotal : 0
      }' "$raw" |
      sed "s#^#| \`$t\` | $n | \`$f\` | #; s#\$# |#" >>"$report"
  done
done
cat "$report"
echo "[coverage] table in $report, listings in out/fuzz/coverage/"
