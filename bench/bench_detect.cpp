// facekit latency next to peers measured in the same run: OpenCV's Haar cascade, dlib's HOG
// detector and YuNet (cv::FaceDetectorYN, 2022mar model from ../shared), on 320x240, 640x480,
// 1280x720 and 1920x1080 images (the astronaut photo scaled to the width and centre-cropped: one
// face), 1 and 2 threads (OpenCV's pool gets the same count), min face 20 and 40 for facekit.
// Per-face landmark latency (crop + model, 1 thread) of both facekit backends next to dlib's
// 68-point shape predictor on the same face box of the astronaut photo.
// Writes out/bench/bench.md (medians, ratios) and out/bench/latency.png, plus peak memory (max
// RSS) of `facekit detect` and `facekit landmarks` (each backend) on a 1920x1080 image.
// The same MTCNN work on a mainstream runtime: OpenCV DNN running the original Caffe P-Net
// (../shared/models/mtcnn-caffe/det1) on exactly the pyramid levels facekit's P-Net sees (640x480,
// min face 20, one net per level size as facekit keeps one per size), next to facekit's P-Net in
// FP32 and int8 on the same levels; and an alternating paired run (every contender once per round,
// order rotated, so all see the same machine load) of whole detections: facekit FP32, facekit int8
// and YuNet, with the median of the per-round ratios. The stage breakdown (pyramid, P-Net
// convolutions, P-Net decoding + NMS, R-Net and O-Net with their crops) is printed with them.
//   make bench        (or build/bench/facekit_bench [google-benchmark flags])
// The facekit-106 model is defaultModelPath("landmark106.safetensors"): weights/ (or
// $FACEKIT_MODEL_DIR); its latency does not depend on how well it is trained.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/objdetect.hpp>
#include <nlohmann/json.hpp>

#include "eval/plot.hpp"
#include "bench_scene.hpp"
#include "facekit/facekit.hpp"
#include "facekit/landmarks.hpp"
#include "engine/model_file.hpp"
#include "engine/quantize.hpp"
#include "models/facemesh/facemesh.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"
#include "models/landmarks/landmark106_net.hpp"

namespace {

const int kSizes[][2] = {{320, 240}, {640, 480}, {1280, 720}, {1920, 1080}};

using bench::scene;
using bench::viewOf;

void BM_Facekit(benchmark::State& state) {
  const cv::Mat& img = scene(int(state.range(0)), int(state.range(1)));
  facekit::DetectorOptions o;
  o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  o.num_threads = int(state.range(2));
  o.min_face_size = int(state.range(3));
  if (state.range(4) == 1) o.precision = facekit::ComputePrecision::kInt8;
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

// ---- P-Net over the pyramid: facekit FP32, facekit int8, OpenCV DNN with the Caffe P-Net ------

// The pyramid levels (RGB) the detector builds for a w x h image at min face 20, factor 0.709:
// the same sizes (the detector's rule) and the same resizing (halvings, then bilinear).
std::vector<cv::Mat> pyramid(int w, int h, int min_face = 20) {
  std::vector<cv::Mat> levels;
  const cv::Mat& img = scene(w, h);
  const float m = 12.f / float(min_face);
  float min_side = float(std::min(w, h)) * m;
  for (float scale = m; min_side >= 12; scale *= 0.709f, min_side *= 0.709f) {
    const int ws = int(std::ceil(w * scale)), hs = int(std::ceil(h * scale));
    if (ws < 12 || hs < 12) break;
    cv::Mat from = levels.empty() ? img : levels.back(), half, out;
    while (from.cols >= 2 * ws && from.rows >= 2 * hs) cv::resize(from, half, cv::Size(from.cols / 2, from.rows / 2), 0, 0, cv::INTER_AREA), from = half.clone();
    cv::resize(from, out, cv::Size(ws, hs), 0, 0, cv::INTER_LINEAR);
    levels.push_back(out);
  }
  return levels;
}

facekit::engine::Tensor normalized(const cv::Mat& rgb) {
  facekit::engine::Tensor t(facekit::engine::Shape{1, rgb.rows, rgb.cols, 3});
  float* d = t.data();
  for (int y = 0; y < rgb.rows; ++y)
    for (int i = 0; i < rgb.cols * 3; ++i) *d++ = (float(rgb.ptr<uint8_t>(y)[i]) - 127.5f) * 0.0078125f;
  return t;
}

// Runs P-Net over every level of one pyramid; returns the best face probability (a sanity check
// that each contender computes the same network).
class PNetContender {
 public:
  virtual ~PNetContender() = default;
  virtual float run() = 0;
};

class FacekitPNet final : public PNetContender {
 public:
  FacekitPNet(const std::vector<cv::Mat>& levels, bool int8) {
    const auto model = facekit::engine::ModelFile::load(FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors");
    for (const cv::Mat& l : levels) {
      inputs_.push_back(normalized(l));
      nets_.push_back(int8 ? facekit::mtcnn::buildInt8Net(model, "pnet") : facekit::mtcnn::buildNets(model, facekit::engine::Backend::kFast).pnet);
    }
  }
  float run() override {
    float best = 0;
    for (size_t i = 0; i < nets_.size(); ++i) {
      const auto& out = nets_[i].forward(inputs_[i], nullptr, scratch_);
      for (size_t k = 0; k < out.numel(); k += 6) best = std::max(best, 1.f / (1.f + std::exp(out.data()[k] - out.data()[k + 1])));
    }
    return best;
  }

 private:
  std::vector<facekit::engine::Tensor> inputs_;
  std::vector<facekit::engine::Sequential> nets_;
  facekit::engine::Tensor scratch_[2];
};

// The original Caffe P-Net (MATLAB Caffe: trained on transposed RGB images) through OpenCV DNN.
class CaffePNet final : public PNetContender {
 public:
  explicit CaffePNet(const std::vector<cv::Mat>& levels) {
    for (const cv::Mat& l : levels) {
      cv::Mat t;
      cv::transpose(l, t);
      blobs_.push_back(cv::dnn::blobFromImage(t, 0.0078125, cv::Size(), cv::Scalar(127.5, 127.5, 127.5), false, false));
      nets_.push_back(cv::dnn::readNetFromCaffe(FACEKIT_BENCH_SHARED "/models/mtcnn-caffe/det1.prototxt", FACEKIT_BENCH_SHARED "/models/mtcnn-caffe/det1.caffemodel"));
      nets_.back().setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      nets_.back().setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    }
  }
  float run() override {
    float best = 0;
    for (size_t i = 0; i < nets_.size(); ++i) {
      nets_[i].setInput(blobs_[i]);
      std::vector<cv::Mat> outs;
      nets_[i].forward(outs, std::vector<cv::String>{"conv4-2", "prob1"});
      const cv::Mat& prob = outs[1];  // 1 x 2 x W' x H'
      const size_t plane = size_t(prob.size[2]) * prob.size[3];
      const float* face = prob.ptr<float>() + plane;
      for (size_t k = 0; k < plane; ++k) best = std::max(best, face[k]);
    }
    return best;
  }
 private:
  std::vector<cv::Mat> blobs_;
  std::vector<cv::dnn::Net> nets_;
};

std::unique_ptr<PNetContender> pnetContender(int which, const std::vector<cv::Mat>& levels) {
  if (which == 2) return std::make_unique<CaffePNet>(levels);
  return std::make_unique<FacekitPNet>(levels, which == 1);
}

bool haveCaffe() { return std::filesystem::exists(FACEKIT_BENCH_SHARED "/models/mtcnn-caffe/det1.caffemodel"); }

// range(0): 0 facekit FP32, 1 facekit int8, 2 OpenCV DNN Caffe; 640x480, min face 20, 1 thread.
void BM_PNetPyramid(benchmark::State& state) {
  if (state.range(0) == 2 && !haveCaffe()) return state.SkipWithError("Caffe MTCNN not found in ../shared/models/mtcnn-caffe");
  cv::setNumThreads(1);
  auto c = pnetContender(int(state.range(0)), pyramid(640, 480));
  float best = 0;
  for (auto _ : state) best = c->run();
  state.counters["best_face_prob"] = best;
}

// ---- alternating paired runs ----------------------------------------------------------------

// Wall-clock and the calling thread's CPU time of every call: with 1 thread (facekit and OpenCV
// both compute on the calling thread) CPU time leaves out the time other processes of a busy
// machine hold the core.
struct Paired {
  std::vector<std::string> names;
  std::vector<std::vector<double>> ms, cpu_ms;  // [contender][round]
  static double med(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? -1 : v[v.size() / 2];
  }
  double median(size_t i, bool cpu = false) const { return med((cpu ? cpu_ms : ms)[i]); }
  // Median over rounds of t[b] / t[a]: how many times faster a is than b.
  double ratio(size_t a, size_t b, bool cpu = false) const {
    const auto& t = cpu ? cpu_ms : ms;
    std::vector<double> r;
    for (size_t k = 0; k < t[a].size(); ++k) r.push_back(t[b][k] / t[a][k]);
    return med(r);
  }
};

// The 1-minute load average (/proc/loadavg), printed next to figures that need idle cores.
std::string loadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  return f >> one ? one : std::string("unknown");
}

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Runs every contender once per round (after one warm-up round), rotating the order.
Paired pairedRun(const std::vector<std::pair<std::string, std::function<void()>>>& c, int rounds) {
  Paired p;
  p.ms.resize(c.size()), p.cpu_ms.resize(c.size());
  for (const auto& [n, f] : c) p.names.push_back(n), f();
  for (int r = 0; r < rounds; ++r)
    for (size_t j = 0; j < c.size(); ++j) {
      const size_t i = (j + size_t(r)) % c.size();
      const auto t = std::chrono::steady_clock::now();
      const double cpu = threadCpuMs();
      c[i].second();
      p.cpu_ms[i].push_back(threadCpuMs() - cpu);
      p.ms[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
  return p;
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

// ---- per-face landmarks: crop + model for one face, 1 thread ----------------------------------

const char* kDlibPredictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";  // Debian libdlib-data

std::string smallModelPath() { return facekit::defaultModelPath("landmark106.safetensors"); }

// The astronaut photo as loaded (RGB) and its face, detected once: every landmark method below
// works on this same face.
const cv::Mat& astronaut() {
  static cv::Mat m;
  if (m.empty()) {
    facekit::Image a = facekit::loadImage(FACEKIT_BENCH_SAMPLE);
    if (a.format != facekit::PixelFormat::kRGB) throw facekit::Error(facekit::Error::Code::kInvalidArgument, "sample photo: expected RGB");
    m = cv::Mat(a.height, a.width, CV_8UC3, a.pixels.data()).clone();
  }
  return m;
}
const facekit::Face* astronautFace() {
  static std::vector<facekit::Face> faces = [] {
    facekit::DetectorOptions o;
    o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
    return facekit::FaceDetector::create(o)->detect(viewOf(astronaut()));
  }();
  return faces.empty() ? nullptr : &faces.front();
}

// FaceLandmarker::landmark() on the fixed face: range(0) backend (0 facekit-106, 1 mesh),
// range(1) refine passes (each pass is one crop + one model run).
void BM_LandmarkFace(benchmark::State& state) {
  cv::setNumThreads(1);
  const facekit::Face* face = astronautFace();
  if (!face) return state.SkipWithError("no face found on the sample photo");
  facekit::LandmarkerOptions o;
  o.detector.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  o.mesh_model_path = FACEKIT_BENCH_MODEL_DIR "/facemesh.safetensors";
  o.backend = state.range(0) == 0 ? facekit::LandmarkBackend::kLandmark106 : facekit::LandmarkBackend::kMesh;
  o.model_path = smallModelPath();
  o.refine_passes = int(state.range(1));
  o.num_threads = 1;
  if (o.backend == facekit::LandmarkBackend::kLandmark106 && !std::filesystem::exists(o.model_path))
    return state.SkipWithError(("facekit-106 model not found: " + o.model_path).c_str());
  auto lm = facekit::FaceLandmarker::create(o);
  const facekit::ImageView view = viewOf(astronaut());
  for (auto _ : state) benchmark::DoNotOptimize(lm->landmark(view, *face).points[0].x);
}

// The facekit-106 network alone on a ready 96x96 crop (the rest of a pass is the crop).
void BM_Landmark106Model(benchmark::State& state) {
  cv::setNumThreads(1);
  if (!std::filesystem::exists(smallModelPath())) return state.SkipWithError(("facekit-106 model not found: " + smallModelPath()).c_str());
  facekit::landmarks::Landmark106Net net(smallModelPath());
  cv::Mat crop;
  cv::resize(astronaut()(cv::Rect(150, 40, 150, 150)), crop, cv::Size(net.inputSize(), net.inputSize()), 0, 0, cv::INTER_AREA);
  for (auto _ : state) benchmark::DoNotOptimize(net.run(crop.data).points[0].x);
}

// dlib's 68-point shape predictor (regression-tree cascade) on the same face box.
void BM_DlibShape68(benchmark::State& state) {
  if (!std::filesystem::exists(kDlibPredictor)) return state.SkipWithError("dlib shape predictor not found (Debian libdlib-data)");
  const facekit::Face* face = astronautFace();
  if (!face) return state.SkipWithError("no face found on the sample photo");
  static dlib::shape_predictor sp = [] {
    dlib::shape_predictor p;
    dlib::deserialize(kDlibPredictor) >> p;
    return p;
  }();
  const dlib::cv_image<dlib::rgb_pixel> img(astronaut());
  // The box as tools/cli/dlib_peer.cpp passes it (inclusive pixel corners).
  const dlib::rectangle box(long(face->box.x1), long(face->box.y1), long(face->box.x2) - 1, long(face->box.y2) - 1);
  for (auto _ : state) benchmark::DoNotOptimize(sp(img, box).part(0).x());
}

void ms(benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMillisecond)->UseRealTime(); }

void registerAll() {
  for (int backend : {0, 1})
    for (int refine : {0, 1})
      ms(benchmark::RegisterBenchmark("landmark_face", BM_LandmarkFace)->Args({backend, refine}));
  ms(benchmark::RegisterBenchmark("landmark106_model", BM_Landmark106Model));
  ms(benchmark::RegisterBenchmark("dlib_shape68", BM_DlibShape68));
  for (int which : {0, 1, 2}) ms(benchmark::RegisterBenchmark("pnet_pyramid", BM_PNetPyramid)->Arg(which));
  for (auto& s : kSizes)
    for (int threads : {1, 2}) {
      for (int min_face : {20, 40})
        ms(benchmark::RegisterBenchmark("facekit", BM_Facekit)->Args({s[0], s[1], threads, min_face, 0}));
      ms(benchmark::RegisterBenchmark("facekit_int8", BM_Facekit)->Args({s[0], s[1], threads, 20, 1}));
      ms(benchmark::RegisterBenchmark("haar", BM_Haar)->Args({s[0], s[1], threads, 20}));
      if (threads == 1) ms(benchmark::RegisterBenchmark("dlib_hog", BM_DlibHog)->Args({s[0], s[1], threads, 40}));
      ms(benchmark::RegisterBenchmark("yunet", BM_YuNet)->Args({s[0], s[1], threads, 0}));
    }
}

using Collector = bench::MedianCollector;

std::string key(const char* name, int w, int h, int threads, int min_face) {
  char buf[96];
  const bool ours = std::string(name).rfind("facekit", 0) == 0;  // facekit's runs carry a 5th argument: precision
  std::snprintf(buf, sizeof buf, "%s/%d/%d/%d/%d%s/real_time", name, w, h, threads, min_face,
                !ours ? "" : std::string(name) == "facekit_int8" ? "/1" : "/0");
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

// ---- ONNX Runtime (npm onnxruntime-node 1.20.1, bench/onnx/) running the same P-Net ------------
// bench/onnx/pnet_ort.mjs converts facekit's P-Net (models/mtcnn.safetensors) to ONNX
// (out/bench/onnx/pnet.onnx), creates one session per level size (1 intra-op thread) and serves one
// pass over the levels per "run" line. The levels are written here as float32 NCHW, normalised as
// facekit normalises them, to a temporary folder. First a parity check: every output of every level
// equals facekit FP32's within 1e-4, or the line says FAILED (and stderr too) with no timing. Then a
// paired run (every contender once per round, order rotated): facekit FP32, int8, OpenCV DNN Caffe
// and ORT; ORT's times are what node measures around inference only (process.hrtime, process
// CPU time), not the pipe, node's start-up, the conversion or session creation. Skipped, saying
// why, when node or bench/onnx/node_modules (make bench runs npm ci there) is missing.
void writeOrtLine(std::ostream& md) {
  namespace fs = std::filesystem;
  const std::string dir = FACEKIT_BENCH_MODEL_DIR "/../bench/onnx";
  auto skip = [&](const std::string& why) {
    md << "\nONNX Runtime: skipped (" << why << ").\n";
    std::printf("ONNX Runtime P-Net comparison skipped: %s\n", why.c_str());
    std::fflush(stdout);  // before any fork(), or the children write it again
  };
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  bool node = false;
  for (size_t b = 0; b <= path.size() && !node;) {
    const size_t e = std::min(path.find(':', b), path.size());
    node = e > b && access((path.substr(b, e - b) + "/node").c_str(), X_OK) == 0;
    b = e + 1;
  }
  if (!node) return skip("node is not on PATH (Debian nodejs)");
  if (!fs::exists(dir + "/node_modules/onnxruntime-node/package.json"))
    return skip("npm onnxruntime-node is not installed in bench/onnx (make bench runs npm ci there)");

  const auto levels = pyramid(640, 480);
  char tmpl[] = "/tmp/facekit-ort-XXXXXX";
  if (!mkdtemp(tmpl)) return skip("cannot create a temporary folder");
  const std::string tmp = tmpl;
  struct Cleanup { std::string d; ~Cleanup() { std::error_code ec; fs::remove_all(d, ec); } } cleanup{tmp};
  {
    std::ofstream list(tmp + "/levels.txt");
    for (size_t k = 0; k < levels.size(); ++k) {
      const cv::Mat& l = levels[k];
      std::vector<float> nchw(size_t(3) * l.rows * l.cols);
      for (int y = 0; y < l.rows; ++y)
        for (int x = 0; x < l.cols; ++x)
          for (int c = 0; c < 3; ++c)
            nchw[(size_t(c) * l.rows + y) * l.cols + x] = (float(l.ptr<uint8_t>(y)[3 * x + c]) - 127.5f) * 0.0078125f;
      const std::string f = "level-" + std::to_string(k) + ".f32";
      std::ofstream(tmp + "/" + f, std::ios::binary).write(reinterpret_cast<const char*>(nchw.data()), std::streamsize(nchw.size() * sizeof(float)));
      list << f << " " << l.rows << " " << l.cols << "\n";
    }
  }

  // node with its stdin and stdout on pipes (stderr passes through).
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) return skip("pipe() failed");
  const std::string script = dir + "/pnet_ort.mjs", model = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
  fs::create_directories("out/bench/onnx");
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to[0], 0), dup2(from[1], 1);
    close(to[0]), close(to[1]), close(from[0]), close(from[1]);
    execlp("node", "node", script.c_str(), "--model", model.c_str(), "--onnx", "out/bench/onnx/pnet.onnx", "--levels", tmp.c_str(), "--serve",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to[0]), close(from[1]);
  std::signal(SIGPIPE, SIG_IGN);  // node gone: write() fails instead of killing the bench
  FILE* in = fdopen(from[0], "r");
  auto ask = [&](const std::string& cmd) {
    const std::string l = cmd + "\n";
    if (write(to[1], l.data(), l.size()) != ssize_t(l.size())) return std::string();
    char* buf = nullptr;
    size_t cap = 0;
    const ssize_t n = getline(&buf, &cap, in);
    std::string reply = n > 0 ? std::string(buf, size_t(n)) : std::string();
    free(buf);
    while (!reply.empty() && reply.back() == '\n') reply.pop_back();
    return reply;
  };
  auto finish = [&] {
    const std::string summary = ask("quit");
    close(to[1]), fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    return summary;
  };

  // Parity: every output of every level, ORT (NCHW) against facekit FP32 (NHWC).
  double worst = -1;
  if (ask("dump " + tmp) == "ok") {
    const auto file = facekit::engine::ModelFile::load(model);
    worst = 0;
    for (size_t k = 0; k < levels.size() && worst >= 0; ++k) {
      auto net = facekit::mtcnn::buildNets(file, facekit::engine::Backend::kFast).pnet;
      facekit::engine::Tensor scratch[2];
      const auto& out = net.forward(normalized(levels[k]), nullptr, scratch);
      const auto s = out.shape();
      std::vector<float> ort(out.numel());
      std::ifstream f(tmp + "/out-" + std::to_string(k) + ".f32", std::ios::binary);
      if (!f.read(reinterpret_cast<char*>(ort.data()), std::streamsize(ort.size() * sizeof(float))) || f.peek() != EOF) {
        worst = -1;
        break;
      }
      for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x)
          for (int c = 0; c < s.c; ++c)
            worst = std::max(worst, double(std::abs(out.at(0, y, x, c) - ort[(size_t(c) * s.h + y) * s.w + x])));
    }
  }
  if (worst < 0 || worst > 1e-4) {
    finish();
    const std::string what = worst < 0 ? "node's outputs missing or of the wrong size (see stderr)" : "max |ORT - facekit FP32| = " + std::to_string(worst);
    md << "\nONNX Runtime P-Net: parity check FAILED (" << what << "), no timing.\n";
    std::fprintf(stderr, "\n*** ONNX Runtime P-Net parity check FAILED: %s ***\n\n", what.c_str());
    return;
  }

  constexpr int kRounds = 41;
  auto p32 = pnetContender(0, levels), p8 = pnetContender(1, levels);
  std::unique_ptr<PNetContender> pc;
  float best32 = 0, best8 = 0, bestc = -1;
  double best_ort = -1;
  std::vector<double> ort_ms, ort_cpu;
  std::vector<std::pair<std::string, std::function<void()>>> c = {{"FP32", [&] { best32 = p32->run(); }}, {"int8", [&] { best8 = p8->run(); }}};
  if (haveCaffe()) pc = pnetContender(2, levels), c.push_back({"Caffe", [&] { bestc = pc->run(); }});
  c.push_back({"ORT", [&] {
                 double w = -1, cpu = -1;
                 std::sscanf(ask("run").c_str(), "%lf %lf %lf", &w, &cpu, &best_ort);
                 ort_ms.push_back(w), ort_cpu.push_back(cpu);
               }});
  std::string load = "unknown";
  std::ifstream("/proc/loadavg") >> load;
  Paired p = pairedRun(c, kRounds);
  const size_t o = c.size() - 1;
  p.ms[o].assign(ort_ms.begin() + 1, ort_ms.end()), p.cpu_ms[o].assign(ort_cpu.begin() + 1, ort_cpu.end());  // node's own times, warm-up dropped
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(finish());
  } catch (const std::exception&) {
  }
  const std::string version = j.value("ort_version", std::string("?"));
  const bool ok = ort_ms.size() == size_t(kRounds) + 1 && *std::min_element(ort_ms.begin(), ort_ms.end()) > 0;
  if (!ok) {
    md << "\nONNX Runtime P-Net: node stopped answering (see stderr), no timing.\n";
    std::fprintf(stderr, "\n*** ONNX Runtime P-Net: node stopped answering ***\n\n");
    return;
  }
  char b[64];
  auto f2 = [&](double v) { std::snprintf(b, sizeof b, "%.2f", v); return std::string(b); };
  for (bool cpu : {false, true}) {
    md << "\nONNX Runtime " << version << " (CPU, 1 thread) running the same P-Net: " << f2(p.median(o, cpu)) << " ms; / facekit int8 "
       << f2(p.ratio(1, o, cpu)) << "x, / facekit FP32 " << f2(p.ratio(0, o, cpu)) << "x";
    if (pc) md << ", OpenCV DNN / ORT " << f2(p.ratio(o, 2, cpu)) << "x";
    md << " (" << (cpu ? "CPU time: the C++ contenders' thread CPU time, node's process CPU time" : "wall-clock") << ", paired run of "
       << kRounds << " rounds over the same " << levels.size() << " levels: facekit FP32 " << f2(p.median(0, cpu)) << " ms, int8 " << f2(p.median(1, cpu))
       << " ms" << (pc ? ", OpenCV DNN Caffe " + f2(p.median(2, cpu)) + " ms" : std::string()) << ").";
  }
  md << " Best face probability: ORT " << best_ort << ", facekit FP32 " << best32 << ", int8 " << best8;
  if (pc) md << ", OpenCV DNN " << bestc;
  md << ". Parity: max |ORT - facekit FP32| over every output of the " << levels.size() << " levels " << worst
     << " (<= 1e-4). Peak RSS of the node process (ONNX Runtime, " << levels.size() << " sessions, the levels): "
     << f2(j.value("max_rss_mib", -1.0)) << " MiB (node alone before loading ONNX Runtime: " << f2(j.value("rss_node_mib", -1.0))
     << " MiB). Model: facekit's P-Net converted by bench/onnx/pnet_onnx.mjs (heads fused, raw logits, as facekit runs it); "
        "node's start-up, the conversion and session creation ("
     << f2(j.value("session_ms", -1.0)) << " ms) are not timed. Load average " << load << " at the start of the rounds.\n";
}

void writeReport(const Collector& c) {
  std::filesystem::create_directories("out/bench");
  std::ofstream md("out/bench/bench.md");
  md << "| image | threads | facekit min 20 | facekit min 40 | facekit int8 min 20 | Haar (min 20) | dlib HOG (min ~40) | YuNet | facekit(20) vs Haar | vs dlib | vs YuNet | int8(20) vs YuNet |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
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
      const double i20 = get(key("facekit_int8", s[0], s[1], threads, 20));
      md << "| " << s[0] << "x" << s[1] << " | " << threads << " | " << cell(f20) << " | " << cell(f40) << " | " << cell(i20) << " | " << cell(haar) << " | "
         << cell(dlib) << " | " << cell(yunet) << " | " << ratio(f20, haar) << " | " << ratio(f20, dlib) << " | " << ratio(f20, yunet) << " | "
         << ratio(i20, yunet) << " |\n";
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
  const auto& st8 = c.counters.count(key("facekit_int8", 640, 480, 1, 20)) ? c.counters.at(key("facekit_int8", 640, 480, 1, 20))
                                                                           : std::map<std::string, double>{};
  auto counter = [&](const std::string& run, const std::string& name) {
    auto it = c.counters.find(run);
    return it == c.counters.end() || !it->second.count(name) ? -1.0 : it->second.at(name);
  };
  auto cell2 = [](double v) { char b[32]; std::snprintf(b, sizeof b, v < 0 ? "n/a" : "%.2f ms", v); return std::string(b); };
  const double conv32 = get("pnet_pyramid/0/real_time"), conv8 = get("pnet_pyramid/1/real_time"), caffe = get("pnet_pyramid/2/real_time");
  // Stage breakdown: P-Net convolutions are the levels run alone (pnet_pyramid), decoding + NMS
  // is the rest of the P-Net stage.
  md << "\nfacekit stages at 640x480, 1 thread, min face 20 (means over the benchmark's iterations; R-Net and O-Net include "
        "their crops):\n\n| precision | pyramid | P-Net convolutions | P-Net decoding + NMS | R-Net | O-Net | total |\n|---|---|---|---|---|---|---|\n";
  for (auto [name, m, conv] : {std::tuple{"FP32", &st, conv32}, {"int8", &st8, conv8}}) {
    if (m->empty()) continue;
    const double pn = m->at("pnet_ms");
    md << "| " << name << " | " << cell2(m->at("pyramid_ms")) << " | " << cell2(conv) << " | " << cell2(conv > 0 ? pn - conv : -1) << " | "
       << cell2(m->at("rnet_ms")) << " | " << cell2(m->at("onet_ms")) << " | " << cell2(get(key(name[0] == 'F' ? "facekit" : "facekit_int8", 640, 480, 1, 20)))
       << " |\n";
  }
  md << "\nLandmark model (face mesh, per face) " << cell(get("BM_FacekitLandmarkModel/real_time")) << ".\n";
  md << "\nP-Net over the pyramid of a 640x480 image (min face 20: " << pyramid(640, 480).size()
     << " levels, the detector's sizes), 1 thread, same process: facekit FP32 " << cell2(conv32) << ", facekit int8 (" << facekit::engine::int8::kernelName(facekit::engine::int8::activeKernel())
     << ") " << cell2(conv8) << ", OpenCV DNN " << CV_VERSION << " running the original Caffe P-Net (det1) " << cell2(caffe) << ": int8 "
     << ratio(conv8, caffe) << " faster than OpenCV DNN (FP32: " << ratio(conv32, caffe) << "). Best face probability over the levels: "
     << counter("pnet_pyramid/0/real_time", "best_face_prob") << " / " << counter("pnet_pyramid/1/real_time", "best_face_prob") << " / "
     << counter("pnet_pyramid/2/real_time", "best_face_prob");
  md << " (the same network).\n";

  // Alternating paired runs: every contender once per round, order rotated.
  {
    constexpr int kRounds = 41;
    const cv::Mat& img = scene(640, 480);
    cv::Mat bgr;
    cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
    cv::setNumThreads(1);
    facekit::DetectorOptions o;
    o.model_path = FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors";
    auto fp32 = facekit::FaceDetector::create(o);
    o.precision = facekit::ComputePrecision::kInt8;
    auto int8 = facekit::FaceDetector::create(o);
    std::vector<std::pair<std::string, std::function<void()>>> c3 = {
        {"facekit FP32", [&] { fp32->detect(viewOf(img)); }}, {"facekit int8", [&] { int8->detect(viewOf(img)); }}};
    cv::Ptr<cv::FaceDetectorYN> yunet;
    cv::Mat yfaces;
    if (std::filesystem::exists(FACEKIT_BENCH_YUNET)) {
      yunet = cv::FaceDetectorYN::create(FACEKIT_BENCH_YUNET, "", bgr.size(), 0.9f, 0.3f, 5000);
      c3.push_back({"YuNet", [&] { yunet->detect(bgr, yfaces); }});
    }
    const Paired d = pairedRun(c3, kRounds);
    for (bool cpu : {false, true}) {
      md << "\nPaired run, 640x480, 1 thread, min face 20, " << kRounds << " rounds, " << (cpu ? "thread CPU time" : "wall-clock")
         << " (medians; ratio = median of per-round ratios): ";
      for (size_t i = 0; i < d.names.size(); ++i) md << (i ? ", " : "") << d.names[i] << " " << cell2(d.median(i, cpu));
      md << "; FP32 / int8 " << d.ratio(1, 0, cpu) << "x";
      if (d.names.size() > 2) md << ", YuNet / facekit FP32 " << d.ratio(0, 2, cpu) << "x, YuNet / facekit int8 " << d.ratio(1, 2, cpu) << "x (target >= 2.0)";
      md << ".\n";
    }
    // Thread scaling: the same detection with 1 and 2 threads, alternating (wall-clock: the
    // calling thread's CPU time leaves out the second thread's work).
    {
      std::vector<std::unique_ptr<facekit::FaceDetector>> dets;
      for (auto precision : {facekit::ComputePrecision::kFp32, facekit::ComputePrecision::kInt8})
        for (int threads : {1, 2}) {
          o.precision = precision, o.num_threads = threads;
          dets.push_back(facekit::FaceDetector::create(o));
        }
      std::vector<std::pair<std::string, std::function<void()>>> ct;
      for (size_t i = 0; i < dets.size(); ++i) ct.push_back({std::to_string(i), [&, i] { dets[i]->detect(viewOf(img)); }});
      const Paired t = pairedRun(ct, kRounds);
      md << "\nPaired run, 640x480, min face 20, " << kRounds << " rounds, wall-clock, load average " << loadAverage()
         << " at the start: FP32 1 thread " << cell2(t.median(0)) << ", 2 threads " << cell2(t.median(1)) << " (" << t.ratio(1, 0)
         << "x); int8 1 thread " << cell2(t.median(2)) << ", 2 threads " << cell2(t.median(3)) << " (" << t.ratio(3, 2)
         << "x); target >= 1.8x. Only meaningful when no other process holds a core (see the README).\n";
      o.num_threads = 1;
    }
    if (haveCaffe()) {
      const auto levels = pyramid(640, 480);
      auto p32 = pnetContender(0, levels), p8 = pnetContender(1, levels), pc = pnetContender(2, levels);
      const Paired p = pairedRun({{"FP32", [&] { p32->run(); }}, {"int8", [&] { p8->run(); }}, {"Caffe", [&] { pc->run(); }}}, kRounds);
      for (bool cpu : {false, true})
        md << "\nPaired run, P-Net over the same " << levels.size() << " levels, 1 thread, " << (cpu ? "thread CPU time" : "wall-clock")
           << ": facekit FP32 " << cell2(p.median(0, cpu)) << ", int8 " << cell2(p.median(1, cpu)) << ", OpenCV DNN Caffe " << cell2(p.median(2, cpu))
           << "; OpenCV DNN / facekit int8 " << p.ratio(1, 2, cpu) << "x (target >= 3), / facekit FP32 " << p.ratio(0, 2, cpu) << "x.\n";
    }
    writeOrtLine(md);  // ONNX Runtime running the same P-Net, paired with the three above
  }

  // Per-face landmarks: crop + model, 1 thread, the same face (astronaut photo).
  {
    auto face_ms = [&](int backend, int refine) {
      char k[64];
      std::snprintf(k, sizeof k, "landmark_face/%d/%d/real_time", backend, refine);
      return get(k);
    };
    auto cell3 = [](double v) { char b[32]; std::snprintf(b, sizeof b, v < 0 ? "n/a" : "%.3f ms", v); return std::string(b); };
    const double small0 = face_ms(0, 0), small1 = face_ms(0, 1), mesh0 = face_ms(1, 0), mesh1 = face_ms(1, 1);
    const double dlib68 = get("dlib_shape68/real_time");
    const facekit::Face* face = astronautFace();
    md << "\nPer-face landmarks, 1 thread, one face of the astronaut photo (" << astronaut().cols << "x" << astronaut().rows;
    if (face) md << ", facekit's detection " << int(face->box.width()) << "x" << int(face->box.height()) << " px";
    md << "): `FaceLandmarker::landmark()` = crop + model per pass (refine 0: 1 pass, refine 1: 2 passes), and dlib's "
          "shape_predictor_68_face_landmarks on the same box. Ratios are time / facekit-106's at the same refine setting "
          "(dlib: one pass, compared with both).\n\n"
       << "| method | input | refine 0 (1 pass) | refine 1 (2 passes) | vs facekit-106, refine 0 | vs facekit-106, refine 1 |\n"
       << "|---|---|---|---|---|---|\n"
       << "| facekit-106 small model | 96x96 crop | " << cell3(small0) << " | " << cell3(small1) << " | " << ratio(small0, small0) << " | " << ratio(small1, small1) << " |\n"
       << "| facekit mesh (MediaPipe face mesh) | 192x192 crop | " << cell3(mesh0) << " | " << cell3(mesh1) << " | " << ratio(small0, mesh0)
       << " | " << ratio(small1, mesh1) << " |\n"
       << "| dlib shape_predictor_68 | the image | " << cell3(dlib68) << " | " << cell3(dlib68) << " | " << ratio(small0, dlib68) << " | "
       << ratio(small1, dlib68) << " |\n";
    auto verdict = [](bool ok) { return ok ? "met" : "NOT met"; };
    if (small0 > 0)
      md << "\nTargets: facekit-106 <= 0.15 ms per face: " << cell3(small0) << " with refine 0 (" << verdict(small0 <= 0.15) << "), "
         << cell3(small1) << " with the default refine 1 (" << verdict(small1 > 0 && small1 <= 0.15) << "); >= 3x faster than dlib's predictor: "
         << ratio(small0, dlib68) << " (refine 0, " << verdict(dlib68 > 0 && dlib68 / small0 >= 3) << "), " << ratio(small1, dlib68)
         << " (refine 1, " << verdict(small1 > 0 && dlib68 > 0 && dlib68 / small1 >= 3) << ").\n";
    md << "The facekit-106 network alone (a ready 96x96 crop): " << cell3(get("landmark106_model/real_time"))
       << " per run; the face mesh alone (192x192): " << cell3(get("BM_FacekitLandmarkModel/real_time")) << ". Model file: " << smallModelPath()
       << " (latency does not depend on training).\n";
  }

  // Peak memory of whole CLI runs at 1920x1080.
  const std::string big = "out/bench/scene-1920x1080.png";
  cv::Mat bgr;
  cv::cvtColor(scene(1920, 1080), bgr, cv::COLOR_RGB2BGR);
  cv::imwrite(big, bgr);
  const long det = maxRssKb({FACEKIT_BENCH_CLI, "detect", big, "--model", FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors"});
  const long lmk_mesh = maxRssKb({FACEKIT_BENCH_CLI, "landmarks", big, "--backend", "mesh", "--detector-model",
                                  FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors", "--mesh-model", FACEKIT_BENCH_MODEL_DIR "/facemesh.safetensors"});
  const long lmk_small = maxRssKb({FACEKIT_BENCH_CLI, "landmarks", big, "--backend", "landmark106", "--detector-model",
                                   FACEKIT_BENCH_MODEL_DIR "/mtcnn.safetensors", "--model", smallModelPath()});
  auto mib = [](long kb) { return kb < 0 ? std::string("n/a") : std::to_string(kb / 1024) + " MiB"; };
  md << "\nPeak memory (VmHWM of the whole `facekit` CLI process, 1920x1080 PNG, 1 thread): detect " << mib(det) << ", landmarks "
     << mib(lmk_small) << " with the facekit-106 backend, " << mib(lmk_mesh) << " with the mesh backend.\n";
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
