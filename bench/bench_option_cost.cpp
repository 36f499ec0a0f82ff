// The cost of a detector option, each measured against the same detector without it on the same
// image in the same run:
//   all_orientations  target at 640x480, 1 thread: <= 2.00x the upright time; 640x480, 1280x720
//   border_faces      on by default if <= 1.15x at 640x480;                     640x480, 1920x1080
// 1 and 2 threads, min face 20. The image is bench_detect's scene (the sample photo scaled to the
// width and centre-cropped: one upright face, not cut by the border).
//
// Besides the two timings per setting, a paired benchmark runs one detect() without and one with
// the option alternately in every iteration, so both see the same machine load (these machines
// are shared), and reports the ratio of their summed times, wall clock and CPU time of the
// process (all its threads: on a loaded machine the CPU time is the steadier figure). One table
// per option is printed at the end.
//   make bench     (or build/bench/facekit_bench_option_cost [google-benchmark flags], e.g.
//                   --benchmark_filter=border_faces)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "bench_scene.hpp"
#include "facekit/facekit.hpp"

namespace {

struct Option {
  const char* name;
  const char* target;
  void (*set)(facekit::DetectorOptions&, bool on);
  int sizes[2][2];
};

const Option kOptions[] = {
    {"all_orientations", "target at 640x480, 1 thread: <= 2.00x", [](facekit::DetectorOptions& o, bool on) { o.all_orientations = on; },
     {{640, 480}, {1280, 720}}},
    {"border_faces", "on by default if <= 1.15x at 640x480", [](facekit::DetectorOptions& o, bool on) { o.border_faces = on; },
     {{640, 480}, {1920, 1080}}},
};

using bench::scene;
using bench::viewOf;

// The library's defaults except min face 20, the threads and the option under test. (border_faces
// is on by default, so "off" is set explicitly too.)
std::unique_ptr<facekit::FaceDetector> detector(const Option& opt, bool on, int threads) {
  facekit::DetectorOptions o;
  o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  o.min_face_size = 20;
  o.num_threads = threads;
  opt.set(o, on);
  return facekit::FaceDetector::create(o);
}

// Args: option index, width, height, threads, on (0/1).
void BM_Detect(benchmark::State& state) {
  const Option& opt = kOptions[state.range(0)];
  const cv::Mat& img = scene(int(state.range(1)), int(state.range(2)));
  cv::setNumThreads(int(state.range(3)));  // facekit's resizes run on OpenCV
  auto det = detector(opt, state.range(4) != 0, int(state.range(3)));
  size_t faces = 0;
  for (auto _ : state) faces = det->detect(viewOf(img)).size();
  state.counters["faces"] = double(faces);
}

double cpuMs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

// Args: option index, width, height, threads. Without and with the option alternately; the
// iteration time is the pair's; counters give each one's mean and the ratios.
void BM_Paired(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const Option& opt = kOptions[state.range(0)];
  const cv::Mat& img = scene(int(state.range(1)), int(state.range(2)));
  cv::setNumThreads(int(state.range(3)));
  auto off = detector(opt, false, int(state.range(3))), on = detector(opt, true, int(state.range(3)));
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

using Collector = bench::MedianCollector;

std::string key(const char* kind, long option, const int (&size)[2], int threads, int on = -1) {
  std::string k = std::string(kOptions[option].name) + "_" + kind + "/" + std::to_string(option) + "/" + std::to_string(size[0]) + "/" +
                  std::to_string(size[1]) + "/" + std::to_string(threads);
  if (on >= 0) k += "/" + std::to_string(on);
  return k + "/real_time";
}

}  // namespace

int main(int argc, char** argv) {
  constexpr long kCount = long(sizeof kOptions / sizeof kOptions[0]);
  for (long i = 0; i < kCount; ++i)
    for (auto& s : kOptions[i].sizes)
      for (int threads : {1, 2}) {
        for (int on : {0, 1})
          benchmark::RegisterBenchmark((std::string(kOptions[i].name) + (on ? "_on" : "_off")).c_str(), BM_Detect)
              ->Args({i, s[0], s[1], threads, on})
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        benchmark::RegisterBenchmark((std::string(kOptions[i].name) + "_paired").c_str(), BM_Paired)
            ->Args({i, s[0], s[1], threads})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  for (long i = 0; i < kCount; ++i) {
    std::printf("\n%s on / off time, min face 20 (%s)\n", kOptions[i].name, kOptions[i].target);
    std::printf("| image | threads | off | on | ratio | paired: off | paired: on | paired ratio | paired CPU: off | on | CPU ratio |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (auto& s : kOptions[i].sizes)
      for (int threads : {1, 2}) {
        const std::string k_off = key("off", i, s, threads, 0), k_on = key("on", i, s, threads, 1), k_pair = key("paired", i, s, threads);
        if (!c.median_ms.count(k_off) || !c.median_ms.count(k_on) || !c.median_ms.count(k_pair)) continue;  // filtered out
        const double off = c.median_ms[k_off], on = c.median_ms[k_on];
        auto& p = c.counters[k_pair];
        std::printf("| %dx%d | %d | %.1f ms | %.1f ms | %.2fx | %.1f ms | %.1f ms | %.2fx | %.1f ms | %.1f ms | %.3fx |\n", s[0], s[1], threads,
                    off, on, on / off, p["off_ms"], p["on_ms"], p["ratio"], p["off_cpu_ms"], p["on_cpu_ms"], p["cpu_ratio"]);
      }
  }
  benchmark::Shutdown();
  return 0;
}
