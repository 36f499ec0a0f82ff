// The cost of DetectorOptions::all_orientations: upright detection vs all orientations on the
// same image in the same run. The image is bench_detect's scene (the sample photo scaled to the
// width and centre-cropped: one upright face), 640x480 (the target: all orientations <= 2x the
// upright time, 1 thread, min face 20) and 1280x720, with 1 and 2 threads.
//
// Besides the two timings per setting, a paired benchmark runs one upright and one
// all-orientation detect() alternately in every iteration, so both see the same machine load
// (these machines are shared), and reports the ratio of their summed times. The ratios are
// printed at the end.
//   make bench     (or build/bench/facekit_bench_orientations [google-benchmark flags])
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "facekit/facekit.hpp"

namespace {

const cv::Mat& scene(int w, int h) {  // RGB; the same scene as bench_detect.cpp
  static std::map<std::pair<int, int>, cv::Mat> cache;
  auto& m = cache[{w, h}];
  if (m.empty()) {
    facekit::Image a = facekit::loadImage(FACEKIT_BENCH_SAMPLE);
    cv::Mat src(a.height, a.width, CV_8UC3, a.pixels.data()), big;
    cv::resize(src, big, cv::Size(w, w), 0, 0, cv::INTER_AREA);
    m = big(cv::Rect(0, (w - h) / 12, w, h)).clone();  // keeps the face (upper part) in view
  }
  return m;
}

facekit::ImageView viewOf(const cv::Mat& m) { return {m.data, m.cols, m.rows, facekit::PixelFormat::kRGB, m.step}; }

std::unique_ptr<facekit::FaceDetector> detector(bool all_orientations, int threads) {
  facekit::DetectorOptions o;
  o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  o.min_face_size = 20;
  o.num_threads = threads;
  o.all_orientations = all_orientations;
  return facekit::FaceDetector::create(o);
}

// Args: width, height, threads, all_orientations (0/1).
void BM_Detect(benchmark::State& state) {
  const cv::Mat& img = scene(int(state.range(0)), int(state.range(1)));
  cv::setNumThreads(int(state.range(2)));  // facekit's resizes run on OpenCV
  auto det = detector(state.range(3) != 0, int(state.range(2)));
  size_t faces = 0;
  for (auto _ : state) faces = det->detect(viewOf(img)).size();
  state.counters["faces"] = double(faces);
}

// Args: width, height, threads. Upright and all orientations alternately; the iteration time is
// the pair's; counters give each one's mean and the ratio.
void BM_Paired(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const cv::Mat& img = scene(int(state.range(0)), int(state.range(1)));
  cv::setNumThreads(int(state.range(2)));
  auto up = detector(false, int(state.range(2))), all = detector(true, int(state.range(2)));
  up->detect(viewOf(img)), all->detect(viewOf(img));  // first calls build per-size networks
  double up_ms = 0, all_ms = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    benchmark::DoNotOptimize(up->detect(viewOf(img)).size());
    auto t1 = Clock::now();
    benchmark::DoNotOptimize(all->detect(viewOf(img)).size());
    auto t2 = Clock::now();
    up_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    all_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
  const double n = double(state.iterations());
  state.counters["upright_ms"] = up_ms / n;
  state.counters["all_ms"] = all_ms / n;
  state.counters["ratio"] = all_ms / up_ms;
}

// Keeps the median (or the only run) of every benchmark.
class Collector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> real_ms;
  std::map<std::string, std::map<std::string, double>> counters;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.run_name.str();
      if (!aggregate && real_ms.count(name)) continue;
      real_ms[name] = r.GetAdjustedRealTime();
      for (const auto& [k, c] : r.counters) counters[name][k] = c.value;
    }
  }
};

const int kSizes[][2] = {{640, 480}, {1280, 720}};

}  // namespace

int main(int argc, char** argv) {
  for (auto& s : kSizes)
    for (int threads : {1, 2}) {
      for (int all : {0, 1})
        benchmark::RegisterBenchmark(all ? "all_orientations" : "upright", BM_Detect)
            ->Args({s[0], s[1], threads, all})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      benchmark::RegisterBenchmark("paired", BM_Paired)->Args({s[0], s[1], threads})->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  std::printf("\nall_orientations / upright time, min face 20 (target at 640x480, 1 thread: <= 2.00x)\n");
  std::printf("| image | threads | upright | all orientations | ratio | paired: upright | paired: all | paired ratio |\n|---|---|---|---|---|---|---|---|\n");
  for (auto& s : kSizes)
    for (int threads : {1, 2}) {
      char key[3][96];
      std::snprintf(key[0], sizeof key[0], "upright/%d/%d/%d/0/real_time", s[0], s[1], threads);
      std::snprintf(key[1], sizeof key[1], "all_orientations/%d/%d/%d/1/real_time", s[0], s[1], threads);
      std::snprintf(key[2], sizeof key[2], "paired/%d/%d/%d/real_time", s[0], s[1], threads);
      if (!c.real_ms.count(key[0]) || !c.real_ms.count(key[1]) || !c.real_ms.count(key[2])) continue;  // filtered out
      const double up = c.real_ms[key[0]], all = c.real_ms[key[1]];
      auto& p = c.counters[key[2]];
      std::printf("| %dx%d | %d | %.1f ms | %.1f ms | %.2fx | %.1f ms | %.1f ms | %.2fx |\n", s[0], s[1], threads, up, all, all / up,
                  p["upright_ms"], p["all_ms"], p["ratio"]);
    }
  benchmark::Shutdown();
  return 0;
}
