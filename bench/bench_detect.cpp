// facekit latency next to peers measured in the same run: OpenCV's Haar cascade, dlib's HOG
// detector and YuNet (cv::FaceDetectorYN, 2022mar model from ../shared), on 320x240, 640x480,
// 1280x720 and 1920x1080 images (the astronaut photo scaled to the width and centre-cropped: one
// face), 1 and 2 threads (OpenCV's pool gets the same count), min face 20 and 40 for facekit.
// Writes out/bench/bench.md (medians, ratios) and out/bench/latency.png, plus peak memory (max
// RSS) of `facekit detect` and `facekit landmarks` on a 1920x1080 image.
//   make bench        (or build/bench/facekit_bench [google-benchmark flags])
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "eval/plot.hpp"
#include "facekit/facekit.hpp"
#include "facekit/landmarks.hpp"
#include "models/facemesh/facemesh.hpp"

namespace {

const int kSizes[][2] = {{320, 240}, {640, 480}, {1280, 720}, {1920, 1080}};

const cv::Mat& scene(int w, int h) {  // RGB
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

void BM_Facekit(benchmark::State& state) {
  const cv::Mat& img = scene(int(state.range(0)), int(state.range(1)));
  facekit::DetectorOptions o;
  o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  o.num_threads = int(state.range(2));
  o.min_face_size = int(state.range(3));
  cv::setNumThreads(o.num_threads);  // facekit's resizes run on OpenCV: same thread budget for all
  auto det = facekit::FaceDetector::create(o);
  size_t faces = 0;
  facekit::DetectorProfile sum;
  for (auto _ : state) {
    faces = det->detect(viewOf(img)).size();
    const auto& p = det->lastProfile();
    sum.pyramid_ms += p.pyramid_ms, sum.pnet_ms += p.pnet_ms, sum.rnet_ms += p.rnet_ms, sum.onet_ms += p.onet_ms;
  }
  const double n = double(state.iterations());
  state.counters["faces"] = double(faces);
  state.counters["pyramid_ms"] = sum.pyramid_ms / n;
  state.counters["pnet_ms"] = sum.pnet_ms / n;
  state.counters["rnet_ms"] = sum.rnet_ms / n;
  state.counters["onet_ms"] = sum.onet_ms / n;
}

void BM_Haar(benchmark::State& state) {
  cv::setNumThreads(int(state.range(2)));
  static cv::CascadeClassifier haar(FACEKIT_BENCH_HAAR);
  if (haar.empty()) return state.SkipWithError("Haar cascade not found (Debian opencv-data)");
  cv::Mat gray;
  cv::cvtColor(scene(int(state.range(0)), int(state.range(1))), gray, cv::COLOR_RGB2GRAY);
  std::vector<cv::Rect> faces;
  for (auto _ : state) haar.detectMultiScale(gray, faces, 1.1, 3, 0, cv::Size(20, 20));
  state.counters["faces"] = double(faces.size());
}

// dlib's HOG detector finds faces from 80 px; one 2x upsampling (dlib's usual setting) brings
// that to 40 px, the closest it comes to min face 20.
void BM_DlibHog(benchmark::State& state) {
  if (state.range(2) != 1) return state.SkipWithError("dlib's detector is single-threaded");
  static dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
  const cv::Mat& rgb = scene(int(state.range(0)), int(state.range(1)));
  size_t faces = 0;
  for (auto _ : state) {
    dlib::array2d<dlib::rgb_pixel> img;
    dlib::assign_image(img, dlib::cv_image<dlib::rgb_pixel>(rgb));
    dlib::pyramid_up(img);
    faces = det(img).size();
  }
  state.counters["faces"] = double(faces);
}

void BM_YuNet(benchmark::State& state) {
  if (!std::filesystem::exists(FACEKIT_BENCH_YUNET)) return state.SkipWithError("YuNet model not found in ../shared/models/yunet");
  cv::setNumThreads(int(state.range(2)));
  cv::Mat bgr;
  cv::cvtColor(scene(int(state.range(0)), int(state.range(1))), bgr, cv::COLOR_RGB2BGR);
  auto yunet = cv::FaceDetectorYN::create(FACEKIT_BENCH_YUNET, "", bgr.size(), 0.9f, 0.3f, 5000);
  cv::Mat faces;
  for (auto _ : state) yunet->detect(bgr, faces);
  state.counters["faces"] = double(faces.rows);
}

// The landmark stage alone: one 192x192 face crop through the face mesh model.
void BM_FacekitLandmarkModel(benchmark::State& state) {
  cv::setNumThreads(1);
  facekit::facemesh::FaceMesh mesh(FACEKIT_BENCH_MODEL_DIR "/facemesh.safetensors");
  cv::Mat crop;
  cv::resize(scene(640, 480)(cv::Rect(130, 0, 260, 260)), crop, cv::Size(192, 192));
  for (auto _ : state) benchmark::DoNotOptimize(mesh.run(crop.data).face_flag);
}
BENCHMARK(BM_FacekitLandmarkModel)->Unit(benchmark::kMillisecond)->UseRealTime();

void ms(benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMillisecond)->UseRealTime(); }

void registerAll() {
  for (auto& s : kSizes)
    for (int threads : {1, 2}) {
      for (int min_face : {20, 40})
        ms(benchmark::RegisterBenchmark("facekit", BM_Facekit)->Args({s[0], s[1], threads, min_face}));
      ms(benchmark::RegisterBenchmark("haar", BM_Haar)->Args({s[0], s[1], threads, 20}));
      if (threads == 1) ms(benchmark::RegisterBenchmark("dlib_hog", BM_DlibHog)->Args({s[0], s[1], threads, 40}));
      ms(benchmark::RegisterBenchmark("yunet", BM_YuNet)->Args({s[0], s[1], threads, 0}));
    }
}

// Collects the median of each benchmark for the report.
class Collector : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> median_ms;
  std::map<std::string, std::map<std::string, double>> counters;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.run_name.str();
      if (!aggregate && median_ms.count(name)) continue;  // repetitions: keep the median only
      median_ms[name] = r.GetAdjustedRealTime();
      for (const auto& [k, c] : r.counters) counters[name][k] = c.value;
    }
  }
};

std::string key(const char* name, int w, int h, int threads, int min_face) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s/%d/%d/%d/%d/real_time", name, w, h, threads, min_face);
  return buf;
}

// Peak resident memory of a facekit CLI run, as the process itself reports it (VmHWM).
long maxRssKb(const std::vector<std::string>& args) {
  const std::string report = "out/bench/peak-memory.txt";
  std::filesystem::remove(report);
  setenv("FACEKIT_PEAK_MEMORY_FILE", report.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  unsetenv("FACEKIT_PEAK_MEMORY_FILE");
  long kb = -1;
  std::ifstream(report) >> kb;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? kb : -1;
}

void writeReport(const Collector& c) {
  std::filesystem::create_directories("out/bench");
  std::ofstream md("out/bench/bench.md");
  md << "| image | threads | facekit min 20 | facekit min 40 | Haar (min 20) | dlib HOG (min ~40) | YuNet | facekit(20) vs Haar | vs dlib | vs YuNet |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  auto get = [&](const std::string& k) { auto it = c.median_ms.find(k); return it == c.median_ms.end() ? -1.0 : it->second; };
  auto cell = [](double v) { char b[32]; std::snprintf(b, sizeof b, v < 0 ? "n/a" : "%.1f ms", v); return std::string(b); };
  auto ratio = [](double ours, double peer) { char b[32]; std::snprintf(b, sizeof b, ours > 0 && peer > 0 ? "%.2fx" : "n/a", peer / ours); return std::string(b); };
  facekit::eval::LinePlot plot{"Detection latency, 1 thread (lower is better)", "megapixels", "ms", 0, 2.5, 0, 1, {}};
  std::map<std::string, facekit::eval::Series> series;
  for (int threads : {1, 2})
    for (auto& s : kSizes) {
      const double f20 = get(key("facekit", s[0], s[1], threads, 20)), f40 = get(key("facekit", s[0], s[1], threads, 40));
      const double haar = get(key("haar", s[0], s[1], threads, 20)), yunet = get(key("yunet", s[0], s[1], threads, 0));
      const double dlib = threads == 1 ? get(key("dlib_hog", s[0], s[1], 1, 40)) : -1;
      md << "| " << s[0] << "x" << s[1] << " | " << threads << " | " << cell(f20) << " | " << cell(f40) << " | " << cell(haar) << " | "
         << cell(dlib) << " | " << cell(yunet) << " | " << ratio(f20, haar) << " | " << ratio(f20, dlib) << " | " << ratio(f20, yunet) << " |\n";
      if (threads == 1) {
        const double mp = s[0] * s[1] / 1e6;
        for (auto [name, v] : {std::pair{"facekit (min face 20)", f20}, {"facekit (min face 40)", f40}, {"OpenCV Haar", haar},
                               {"dlib HOG", dlib}, {"YuNet", yunet}})
          if (v > 0) series[name].name = name, series[name].points.push_back({mp, v}), plot.y_max = std::max(plot.y_max, v * 1.1);
      }
    }
  for (auto& [n, s] : series) plot.series.push_back(s);
  facekit::eval::savePlot(plot, "out/bench/latency.png");

  // Stage breakdown (640x480, 1 thread) and the landmark model.
  const auto& st = c.counters.count(key("facekit", 640, 480, 1, 20)) ? c.counters.at(key("facekit", 640, 480, 1, 20))
                                                                      : std::map<std::string, double>{};
  if (!st.empty())
    md << "\nfacekit stages at 640x480, 1 thread, min face 20: pyramid " << cell(st.at("pyramid_ms")) << ", P-Net " << cell(st.at("pnet_ms"))
       << " (includes candidate decoding and NMS), R-Net " << cell(st.at("rnet_ms")) << " (with crops), O-Net " << cell(st.at("onet_ms"))
       << "; landmark model (face mesh, per face) " << cell(get("BM_FacekitLandmarkModel/real_time")) << ".\n";

  // Peak memory of whole CLI runs at 1920x1080.
  const std::string big = "out/bench/scene-1920x1080.png";
  cv::Mat bgr;
  cv::cvtColor(scene(1920, 1080), bgr, cv::COLOR_RGB2BGR);
  cv::imwrite(big, bgr);
  const long det = maxRssKb({FACEKIT_BENCH_CLI, "detect", big, "--model", FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors"});
  const long lmk = maxRssKb({FACEKIT_BENCH_CLI, "landmarks", big, "--detector-model", FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors",
                             "--mesh-model", FACEKIT_BENCH_MODEL_DIR "/facemesh.safetensors"});
  md << "\nPeak memory (VmHWM of the whole `facekit` CLI process, 1920x1080 PNG, 1 thread): detect " << det / 1024 << " MiB, landmarks "
     << lmk / 1024 << " MiB.\n";
  md.close();
  std::ifstream in("out/bench/bench.md");
  std::printf("\n%s\nwrote out/bench/bench.md and out/bench/latency.png\n", std::string(std::istreambuf_iterator<char>(in), {}).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  registerAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  writeReport(c);
  benchmark::Shutdown();
  return 0;
}
