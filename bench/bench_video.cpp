// Video frame rate: FaceTracker with tracking (a detection every 10 frames, faces followed from
// their points in between) next to per-frame detection (a detection on every frame), measured in
// the same run on the same generated 640x480 clip with 1 and 2 faces (heads cut from the sample
// photo, moving 6 px a frame, grey noise), 1 and 2 threads, facekit-106 landmarks, smoothing on.
// Writes out/bench/video.md.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgproc.hpp>
#include <random>

#include "facekit/facekit.hpp"
#include "facekit/video.hpp"

namespace {

const facekit::Image& sample() {
  static const facekit::Image img = facekit::loadImage(FACEKIT_BENCH_SAMPLE);
  return img;
}

// 60 frames of a clip with `faces` heads moving across a 640x480 noisy background.
const std::vector<cv::Mat>& clip(int faces) {
  static std::map<int, std::vector<cv::Mat>> cache;
  auto& frames = cache[faces];
  if (!frames.empty()) return frames;
  const cv::Mat src(sample().height, sample().width, CV_8UC3, const_cast<uint8_t*>(sample().pixels.data()));
  cv::Mat head = src(cv::Rect(148, 40, 150, 150)).clone(), mirrored;
  cv::flip(head, mirrored, 1);
  std::mt19937 rng(1);
  for (int k = 0; k < 60; ++k) {
    cv::Mat f(480, 640, CV_8UC3, cv::Scalar(110, 115, 120)), noise(f.size(), CV_16SC3);
    head.copyTo(f(cv::Rect(40 + 6 * k, 40, 150, 150)));
    if (faces > 1) mirrored.copyTo(f(cv::Rect(450 - 6 * k, 290, 150, 150)));
    cv::theRNG().state = rng();
    cv::randn(noise, 0, 4);
    cv::Mat out;
    f.convertTo(out, CV_16SC3);
    out += noise;
    out.convertTo(out, CV_8UC3);
    frames.push_back(out);
  }
  return frames;
}

// Args: faces, threads, detect interval. One iteration = the whole clip; reports frames per
// second of wall-clock time (what a video user sees; CPU time of the calling thread would leave
// out the pool's other thread).
void BM_Video(benchmark::State& state) {
  facekit::TrackerOptions o;
  o.landmarker.num_threads = int(state.range(1));
  o.detect_interval = int(state.range(2));
  auto tracker = facekit::FaceTracker::create(o);
  const auto& frames = clip(int(state.range(0)));
  double t = 0;
  size_t faces = 0;
  for (auto _ : state) {
    tracker->reset();
    for (const cv::Mat& f : frames) faces += tracker->process({f.data, f.cols, f.rows, facekit::PixelFormat::kRGB, f.step}, t += 0.04).size();
  }
  state.counters["fps"] = benchmark::Counter(double(frames.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["faces_per_frame"] = double(faces) / double(state.iterations() * frames.size());
}

class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Aggregate ? r.aggregate_name == "median" : true) fps_[r.run_name.str()] = r.counters.at("fps");
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> fps_;
};

}  // namespace

int main(int argc, char** argv) {
  for (int faces : {1, 2})
    for (int threads : {1, 2})
      for (int interval : {10, 1})
        benchmark::RegisterBenchmark("video", BM_Video)->Args({faces, threads, interval})->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  TableReporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  std::filesystem::create_directories("out/bench");
  std::ofstream md("out/bench/video.md");
  md << "| faces | threads | tracking (detect every 10) | per-frame detection | ratio |\n|---|---|---|---|---|\n";
  for (int faces : {1, 2})
    for (int threads : {1, 2}) {
      auto get = [&](int interval) {
        const std::string key =
            "video/" + std::to_string(faces) + "/" + std::to_string(threads) + "/" + std::to_string(interval) + "/iterations:2/real_time";
        for (const auto& [k, v] : rep.fps_)
          if (k.rfind(key, 0) == 0) return v;
        return 0.0;
      };
      const double tr = get(10), det = get(1);
      char line[200];
      std::snprintf(line, sizeof line, "| %d | %d | %.0f fps | %.0f fps | %.2fx |\n", faces, threads, tr, det, det > 0 ? tr / det : 0);
      md << line;
    }
  std::printf("wrote out/bench/video.md\n");
  return 0;
}
