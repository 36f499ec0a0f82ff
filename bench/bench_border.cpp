// The cost of DetectorOptions::border_faces (on by default if it costs <= 1.15x at 640x480):
// detection with and without it on the same image in the same run, 640x480 and 1920x1080,
// 1 and 2 threads, min face 20. The image is bench_detect's scene (the sample photo scaled to
// the width and centre-cropped: one face, not cut).
//
// Besides the two timings per setting, a paired benchmark runs one detect() without and one
// with the option alternately in every iteration, so both see the same machine load (these
// machines are shared), and reports the ratio of their summed times, wall clock and CPU time
// of the process (all its threads: on a loaded machine the CPU time is the steadier figure).
// The table is printed at the end.
//   make bench     (or build/bench/facekit_bench_border [google-benchmark flags])
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
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

std::unique_ptr<facekit::FaceDetector> detector(bool border_faces, int threads) {
  facekit::DetectorOptions o;
  o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  o.min_face_size = 20;
  o.num_threads = threads;
  o.border_faces = border_faces;
  return facekit::FaceDetector::create(o);
}

// Args: width, height, threads, border_faces (0/1).
void BM_Detect(benchmark::State& state) {
  const cv::Mat& img = scene(int(state.range(0)), int(state.range(1)));
  cv::setNumThreads(int(state.range(2)));  // facekit's resizes run on OpenCV
  auto det = detector(state.range(3) != 0, int(state.range(2)));
  size_t faces = 0;
  for (auto _ : state) faces = det->detect(viewOf(img)).size();
  state.counters["faces"] = double(faces);
}

double cpuMs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

// Args: width, height, threads. Without and with border_faces alternately; the iteration time
// is the pair's; counters give each one's mean and the ratio.
void BM_Paired(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const cv::Mat& img = scene(int(state.range(0)), int(state.range(1)));
  cv::setNumThreads(int(state.range(2)));
  auto off = detector(false, int(state.range(2))), on = detector(true, int(state.range(2)));
  off->detect(viewOf(img)), on->detect(viewOf(img));  // first calls build per-size networks
  double off_ms = 0, on_ms = 0, off_cpu = 0, on_cpu = 0;
  for (auto _ : state) {
    const double c0 = cpuMs();
    auto t0 = Clock::now();
    benchmark::DoNotOptimize(off->detect(viewOf(img)).size());
    auto t1 = Clock::now();
    const double c1 = cpuMs();
    benchmark::DoNotOptimize(on->detect(viewOf(img)).size());
    auto t2 = Clock::now();
    const double c2 = cpuMs();
    off_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    on_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
    off_cpu += c1 - c0, on_cpu += c2 - c1;
  }
  const double n = double(state.iterations());
  state.counters["off_ms"] = off_ms / n;
  state.counters["on_ms"] = on_ms / n;
  state.counters["ratio"] = on_ms / off_ms;
  state.counters["off_cpu_ms"] = off_cpu / n;
  state.counters["on_cpu_ms"] = on_cpu / n;
  state.counters["cpu_ratio"] = on_cpu / off_cpu;
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

const int kSizes[][2] = {{640, 480}, {1920, 1080}};

}  // namespace

int main(int argc, char** argv) {
  for (auto& s : kSizes)
    for (int threads : {1, 2}) {
      for (int on : {0, 1})
        benchmark::RegisterBenchmark(on ? "border_faces" : "no_border", BM_Detect)
            ->Args({s[0], s[1], threads, on})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      benchmark::RegisterBenchmark("paired", BM_Paired)->Args({s[0], s[1], threads})->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  std::printf("\nborder_faces on / off time, min face 20 (on by default if <= 1.15x at 640x480)\n");
  std::printf("| image | threads | off | on | ratio | paired: off | paired: on | paired ratio | paired CPU: off | on | CPU ratio |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (auto& s : kSizes)
    for (int threads : {1, 2}) {
      char key[3][96];
      std::snprintf(key[0], sizeof key[0], "no_border/%d/%d/%d/0/real_time", s[0], s[1], threads);
      std::snprintf(key[1], sizeof key[1], "border_faces/%d/%d/%d/1/real_time", s[0], s[1], threads);
      std::snprintf(key[2], sizeof key[2], "paired/%d/%d/%d/real_time", s[0], s[1], threads);
      if (!c.real_ms.count(key[0]) || !c.real_ms.count(key[1]) || !c.real_ms.count(key[2])) continue;  // filtered out
      const double off = c.real_ms[key[0]], on = c.real_ms[key[1]];
      auto& p = c.counters[key[2]];
      std::printf("| %dx%d | %d | %.1f ms | %.1f ms | %.2fx | %.1f ms | %.1f ms | %.2fx | %.1f ms | %.1f ms | %.3fx |\n", s[0], s[1], threads, off,
                  on, on / off, p["off_ms"], p["on_ms"], p["ratio"], p["off_cpu_ms"], p["on_cpu_ms"], p["cpu_ratio"]);
    }
  benchmark::Shutdown();
  return 0;
}
