// Detection latency: facekit MTCNN next to OpenCV's Haar cascade and YuNet (cv::FaceDetectorYN,
// 2022mar model from ../shared), all in one run on the same image. Conditions: 640x480 RGB
// image (the astronaut photo scaled to 640 wide and centre-cropped: one ~110 px face), min face
// 20 px for every detector, 1 and 2 threads (OpenCV's own pool set to the same count).
//   build/bench/facekit_bench                      (make bench)
#include <benchmark/benchmark.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "facekit/facekit.hpp"

namespace {

const cv::Mat& image640x480() {  // RGB
  static const cv::Mat img = [] {
    facekit::Image a = facekit::loadImage(FACEKIT_BENCH_SAMPLE);
    cv::Mat m(a.height, a.width, CV_8UC3, a.pixels.data()), big;
    cv::resize(m, big, cv::Size(640, 640), 0, 0, cv::INTER_LINEAR);
    return big(cv::Rect(0, 40, 640, 480)).clone();
  }();
  return img;
}

void BM_Facekit(benchmark::State& state) {
  facekit::DetectorOptions o;
  o.model_path = FACEKIT_BENCH_MODEL;
  o.num_threads = int(state.range(0));
  o.min_face_size = int(state.range(1));
  cv::setNumThreads(o.num_threads);  // facekit's resizes run on OpenCV: same thread budget for all
  auto det = facekit::FaceDetector::create(o);
  const cv::Mat& img = image640x480();
  const facekit::ImageView view{img.data, img.cols, img.rows, facekit::PixelFormat::kRGB, img.step};
  size_t faces = 0;
  facekit::DetectorProfile sum;
  for (auto _ : state) {
    faces = det->detect(view).size();
    const auto& p = det->lastProfile();
    sum.pyramid_ms += p.pyramid_ms, sum.pnet_ms += p.pnet_ms, sum.rnet_ms += p.rnet_ms, sum.onet_ms += p.onet_ms;
  }
  const double n = double(state.iterations());
  state.counters["faces"] = double(faces);
  state.counters["pyramid_ms"] = sum.pyramid_ms / n;
  state.counters["pnet_ms"] = sum.pnet_ms / n;  // includes the pyramid's resize
  state.counters["rnet_ms"] = sum.rnet_ms / n;
  state.counters["onet_ms"] = sum.onet_ms / n;
}
BENCHMARK(BM_Facekit)->ArgNames({"threads", "min_face"})->Args({1, 20})->Args({2, 20})->Args({1, 40})->Args({2, 40})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OpenCV_Haar(benchmark::State& state) {
  cv::setNumThreads(int(state.range(0)));
  cv::CascadeClassifier haar(FACEKIT_BENCH_HAAR);
  if (haar.empty()) return state.SkipWithError("Haar cascade not found (Debian opencv-data)");
  cv::Mat gray;
  cv::cvtColor(image640x480(), gray, cv::COLOR_RGB2GRAY);
  std::vector<cv::Rect> faces;
  for (auto _ : state) haar.detectMultiScale(gray, faces, 1.1, 3, 0, cv::Size(20, 20));
  state.counters["faces"] = double(faces.size());
}
BENCHMARK(BM_OpenCV_Haar)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OpenCV_YuNet(benchmark::State& state) {
  if (!std::filesystem::exists(FACEKIT_BENCH_YUNET)) return state.SkipWithError("YuNet model not found in ../shared/models/yunet");
  cv::setNumThreads(int(state.range(0)));
  cv::Mat bgr;
  cv::cvtColor(image640x480(), bgr, cv::COLOR_RGB2BGR);
  auto yunet = cv::FaceDetectorYN::create(FACEKIT_BENCH_YUNET, "", bgr.size(), 0.9f, 0.3f, 5000);
  cv::Mat faces;
  for (auto _ : state) yunet->detect(bgr, faces);
  state.counters["faces"] = double(faces.rows);
}
BENCHMARK(BM_OpenCV_YuNet)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
