# The two commands of the README:
#   make demo   installs what is missing, fetches + converts the models, builds, and detects
#               faces on the bundled sample photo (out/demo.json, out/demo.jpg)
#   make test   the same setup, then builds and runs the whole test suite: ctest, then the pytest suite
#               (Python module, facekit serve, the installed C++ package, the demo page in headless Chromium),
#               then the concurrency tests under ThreadSanitizer (make test-tsan), then the whole C++
#               suite under AddressSanitizer + UBSan (make test-asan). From a fresh clone on this 2-core VM
#               (mostly idle) 22 min 39 s in all, TSan 4 min and ASan 11 of them (docs/reliability.md).
# Also: make bench (latency vs OpenCV Haar, dlib HOG, YuNet), make eval (WIDER FACE subset AP,
# landmark NME and pose error, with peers), make clean.
BUILD ?= build
JOBS ?= $(shell nproc)
# Debian's python (numpy, pytest, selenium are Debian packages), whatever python3 comes first on PATH
PYTHON ?= /usr/bin/python3
MODEL := models/mtcnn.safetensors
MESH := models/facemesh.safetensors

.PHONY: setup build models demo test test-python bench eval clean model labels test-asan test-tsan fuzz fuzz-coverage

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Converted again whenever the sources or the converter (the facekit binary) change.
$(MODEL): .cache/mtcnn-tflite/pnet.tflite .cache/mtcnn-tflite/rnet.tflite .cache/mtcnn-tflite/onet.tflite $(BUILD)/facekit
	@$(BUILD)/facekit convert-mtcnn --tflite-dir .cache/mtcnn-tflite --out $@

$(MESH): .cache/facemesh-tfjs/facemesh.json .cache/facemesh-tfjs/facemesh.bin $(BUILD)/facekit
	@$(BUILD)/facekit convert-facemesh --tfjs .cache/facemesh-tfjs/facemesh.json --out $@

models: build
	@$(MAKE) --no-print-directory $(MODEL) $(MESH)

demo: models
	@mkdir -p out
	$(BUILD)/facekit detect .cache/samples/astronaut.png --json out/demo.json --draw out/demo.jpg
	@cat out/demo.json

# make test ends with the concurrency tests under ThreadSanitizer (make test-tsan), then the C++
# suite under AddressSanitizer + UBSan (make test-asan): 180 tests with no report from a fresh clone
# of d52c4b3 (build 463 s, tests 186 s; docs/reliability.md, "Sanitizers in CI").
test: models
	@cd $(BUILD) && ctest --output-on-failure -j 2
	@$(MAKE) --no-print-directory test-python
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-asan

# Sanitizers (docs/reliability.md): the C++ suite under AddressSanitizer + UndefinedBehaviorSanitizer,
# the concurrency tests under ThreadSanitizer, each in its own build folder (no trainer, no
# benchmarks); any report from any process fails the run.
TSAN_TESTS ?= ThreadSafety\.|ThreadPool\.|Detector\.TwoThreads|LayerParity\.
test-asan: models
	@bash scripts/sanitize.sh address build-asan
test-tsan: models
	@bash scripts/sanitize.sh thread build-tsan '$(TSAN_TESTS)'

# Fuzzing (docs/reliability.md): clang + libFuzzer, every parser facekit owns, FUZZ_SECONDS each
# (default 60) from seed corpora the build generates; FUZZ_RUNS=N runs N inputs each instead.
# Corpora grow in out/fuzz/corpus, crashes land in out/fuzz/artifacts and fail the run.
FUZZ_SECONDS ?= 60
fuzz: setup
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) bash scripts/fuzz.sh build-fuzz
# How much of each parser the corpora make fuzz left in out/fuzz/corpus reach (functions and
# edges of the parser's files, replayed through build-fuzz's targets): out/fuzz/coverage.md.
fuzz-coverage:
	@bash scripts/fuzz_coverage.sh build-fuzz

test-python:
	@FACEKIT_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -s -p no:cacheprovider python/tests

# ONNX Runtime, make bench's peer for facekit's P-Net (bench/onnx: npm onnxruntime-node and onnx-proto,
# exact versions and integrity hashes in the committed package-lock.json): npm ci, without install
# scripts (onnxruntime-node's only fetches CUDA libraries; the CPU library is in the package). If it
# cannot be installed, make bench goes on and its report says why the ONNX Runtime line is skipped.
ORT_NODE := bench/onnx/node_modules/.package-lock.json
$(ORT_NODE): bench/onnx/package.json bench/onnx/package-lock.json
	@cd bench/onnx && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	  || echo "[bench] npm ci in bench/onnx failed: the ONNX Runtime P-Net line will be skipped" >&2

bench: models $(ORT_NODE)
	@$(BUILD)/bench/facekit_bench_layers --benchmark_min_time=0.2
	@$(BUILD)/bench/facekit_bench --benchmark_repetitions=3 --benchmark_min_time=0.3
	@$(BUILD)/bench/facekit_bench_video
	@$(BUILD)/bench/facekit_bench_option_cost --benchmark_repetitions=3 --benchmark_min_time=0.3
	@$(BUILD)/bench/facekit_bench_memory

SHARED ?= ../shared
# The shipped facekit-106 model, retrained from scratch: labels from the face mesh teacher over the
# training pool in $(SHARED)/data (never the evaluation sets), then facekit train with the
# committed config (about 35 minutes on 2 cores). Writes out/train/landmark106/; copy its
# landmark106.safetensors to weights/ to ship it. Any folder of images you may use works:
#   make model LABEL_SETS="my-photos" SHARED_DATA=/path/to/parent TRAIN_OPTIONS='data.labels=["out/labels/my-photos.jsonl"]'

LABEL_SETS ?= utkface-crops genki4k widerface-train-crops widerface-train-subset faces
SHARED_DATA ?= $(SHARED)/data
labels: models
	@mkdir -p out/labels
	@for d in $(LABEL_SETS); do \
	  echo "[labels] $$d"; \
	  $(BUILD)/facekit label --backend mesh --images $(SHARED_DATA)/$$d --out out/labels/$$d.jsonl --threads $(JOBS) || exit 1; \
	done
model: labels
	$(BUILD)/facekit train --config configs/landmark106.json --work-dir out/train/landmark106 $(if $(TRAIN_OPTIONS),--cfg-options $(TRAIN_OPTIONS))

# MTCNN (docs/mtcnn-training.md): train-mtcnn trains P-Net, R-Net and O-Net from scratch on the
# WIDER train subset, each stage's hard samples mined with the nets before it, AP on the WIDER
# val subset after each stage (out/train/mtcnn-scratch); finetune-mtcnn fine-tunes R-Net and
# O-Net of the shipped model (out/train/mtcnn-finetune). Any key: MTCNN_OPTIONS='train.max_epochs=4'
.PHONY: train-mtcnn finetune-mtcnn
train-mtcnn: models
	nice -n 10 $(BUILD)/facekit train --config configs/mtcnn-scratch.json --work-dir out/train/mtcnn-scratch $(if $(MTCNN_OPTIONS),--cfg-options $(MTCNN_OPTIONS))
finetune-mtcnn: models
	nice -n 10 $(BUILD)/facekit train --config configs/mtcnn-finetune.json --finetune $(MODEL) --work-dir out/train/mtcnn-finetune $(if $(MTCNN_OPTIONS),--cfg-options $(MTCNN_OPTIONS))

# eval landmarks: both facekit backends (the small facekit-106 model and the mesh) and dlib's
# 68-point predictor on the same faces, one table and CED plot per data set. The small model is
# weights/landmark106.safetensors unless LANDMARK_MODEL=FILE is given.
EVAL_LANDMARK_MODEL = $(if $(LANDMARK_MODEL),--model $(LANDMARK_MODEL))
# eval widerface runs twice: FP32 (with YuNet) and int8 ("facekit int8", out/eval-int8).
eval: models
	$(BUILD)/facekit eval widerface --images $(SHARED)/data/widerface-val-subset/images --gt $(SHARED)/data/wider-face-gt \
	  --yunet $(SHARED)/models/yunet/face_detection_yunet_2022mar.onnx --min-face 12 --threshold 0.4,0.5,0.5 --threads 2 --out out/eval
	$(BUILD)/facekit eval widerface --images $(SHARED)/data/widerface-val-subset/images --gt $(SHARED)/data/wider-face-gt \
	  --min-face 12 --threshold 0.4,0.5,0.5 --threads 2 --precision int8 --out out/eval-int8
	$(BUILD)/facekit eval landmarks --aflw $(SHARED)/data/aflw2000-subset --backends landmark106,mesh $(EVAL_LANDMARK_MODEL) --out out/eval-aflw2000
	$(BUILD)/facekit eval landmarks --xml $(SHARED)/data/dlib-faces-68/testing_with_face_landmarks.xml --backends landmark106,mesh $(EVAL_LANDMARK_MODEL) --out out/eval-dlib68

clean:
	rm -rf $(BUILD) out models
