// Thread safety, as the headers of include/facekit/ state it: a FaceDetector, FaceLandmarker,
// FaceTracker or LandmarkSmoother is used by one thread at a time, separate instances run on
// different threads at once, and what they share (input images, model files on disk, XNNPACK's
// process-wide state) is safe to share; image loading, saving and the render functions may be
// called from any number of threads. Results must be bit-identical to one thread's.
// make test-tsan runs these under ThreadSanitizer (docs/reliability.md).
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "cli_run.hpp"
#include "models/cv_interop.hpp"
#include "test_util.hpp"

using namespace facekit;

namespace {
// Runs body(t) on n threads at once; an exception in a thread is a failure naming it.
void onThreads(int n, const std::function<void(int)>& body) {
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      try {
        body(t);
      } catch (const std::exception& e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < n; ++t) EXPECT_EQ(errors[size_t(t)], "") << "thread " << t;
}
}  // namespace

namespace {

// The photos every thread reads at once: the astronaut at 256 px (so that the TSan run stays
// short) mirrored, cropped, gray and BGR (every pixel format), two faces side by side, and a
// portrait pair from the shared folder when present.
struct Input {
  std::string name;
  Image image;
};
const std::vector<Input>& inputs() {
  static const std::vector<Input> v = [] {
    std::vector<Input> out;
    cv::Mat rgb;
    cv::resize(matView(test::astronaut().view()), rgb, cv::Size(256, 256), 0, 0, cv::INTER_AREA);
    auto add = [&](const std::string& name, const cv::Mat& m, PixelFormat f) { out.push_back({name, imageFromMat(m, f)}); };
    add("astronaut", rgb, PixelFormat::kRGB);
    cv::Mat flipped, gray, bgr, two;
    cv::flip(rgb, flipped, 1);
    add("mirrored", flipped, PixelFormat::kRGB);
    add("cropped", rgb(cv::Rect(60, 15, 110, 100)).clone(), PixelFormat::kRGB);
    cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
    add("gray", gray, PixelFormat::kGray);
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    add("bgr", bgr, PixelFormat::kBGR);
    cv::hconcat(rgb, flipped, two);
    add("two faces", two, PixelFormat::kRGB);
    const std::string couple = test::sharedDir() + "/data/faces/couple.jpg";
    if (test::haveShared() && std::filesystem::exists(couple)) {
      const Image img = loadImage(couple);
      cv::Mat small;
      const double s = 400.0 / std::max(img.width, img.height);
      cv::resize(matView(img.view()), small, cv::Size(), s, s, cv::INTER_AREA);
      add("couple.jpg", small, img.format);
    }
    return out;
  }();
  return v;
}

// One image's results, as raw bytes: equal bytes mean bit-identical floats.
std::string bytes(const std::vector<Face>& faces) {
  return std::string(reinterpret_cast<const char*>(faces.data()), faces.size() * sizeof(Face));
}
std::string bytes(const std::vector<FaceLandmarks>& faces) {
  std::string s;
  for (const auto& f : faces) {
    s.append(reinterpret_cast<const char*>(&f.face), sizeof f.face);
    s.append(reinterpret_cast<const char*>(f.points.data()), sizeof f.points);
    s.append(reinterpret_cast<const char*>(&f.pose), sizeof f.pose);
    s.append(reinterpret_cast<const char*>(&f.confidence), sizeof f.confidence);
    for (const auto& v : f.mesh) s.append(reinterpret_cast<const char*>(v.data()), sizeof v);
  }
  return s;
}

struct Results {
  std::vector<std::string> faces, landmarks;
};

LandmarkerOptions landmarkerOptions(int threads = 1) {
  LandmarkerOptions o;
  o.detector = test::testOptions();
  o.num_threads = threads;
  return o;
}

// Every image through the detector, then every face it found through the landmarker.
Results runAll(FaceDetector& det, FaceLandmarker& lm, size_t first = 0) {
  const auto& in = inputs();
  Results r;
  r.faces.resize(in.size()), r.landmarks.resize(in.size());
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = (first + k) % in.size();  // each thread starts elsewhere: every image is in flight at once
    const auto faces = det.detect(in[i].image.view());
    std::vector<FaceLandmarks> marks;
    for (const Face& f : faces) marks.push_back(lm.landmark(in[i].image.view(), f));
    r.faces[i] = bytes(faces), r.landmarks[i] = bytes(marks);
  }
  return r;
}

}  // namespace

// 8 threads, each with its own detector and landmarker (the promise), over the same images at
// once, twice each (the second pass reuses the per-size network caches): every result equals the
// single-threaded run bit for bit.
TEST(ThreadSafety, EightThreadsWithTheirOwnInstancesMatchOneThreadBitForBit) {
  auto det = FaceDetector::create(test::testOptions());
  auto lm = FaceLandmarker::create(landmarkerOptions());
  const Results want = runAll(*det, *lm);
  size_t with_faces = 0;
  for (const auto& f : want.faces) with_faces += !f.empty();
  ASSERT_GE(with_faces, inputs().size() - 1) << "the inputs should hold faces";

  constexpr int kThreads = 8;
  std::vector<Results> got(kThreads * 2);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        auto my_det = FaceDetector::create(test::testOptions());
        auto my_lm = FaceLandmarker::create(landmarkerOptions());
        for (int round = 0; round < 2; ++round) got[size_t(t * 2 + round)] = runAll(*my_det, *my_lm, size_t(t + round));
      } catch (const std::exception& e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[size_t(t)], "") << "thread " << t;
    for (int round = 0; round < 2; ++round)
      for (size_t i = 0; i < inputs().size(); ++i) {
        EXPECT_EQ(got[size_t(t * 2 + round)].faces[i], want.faces[i]) << "thread " << t << " round " << round << ": " << inputs()[i].name;
        EXPECT_EQ(got[size_t(t * 2 + round)].landmarks[i], want.landmarks[i]) << "thread " << t << " round " << round << ": " << inputs()[i].name;
      }
  }
}

// One instance used by several threads in turn (a pool handing it out under a lock: one call at
// a time, as promised) gives the same results as one thread.
TEST(ThreadSafety, OneInstanceHandedBetweenThreadsUnderALock) {
  auto det = FaceDetector::create(test::testOptions());
  auto lm = FaceLandmarker::create(landmarkerOptions());
  const Results want = runAll(*det, *lm);
  std::mutex mu;
  std::vector<Results> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      const auto& in = inputs();
      Results& r = got[size_t(t)];
      r.faces.resize(in.size()), r.landmarks.resize(in.size());
      for (size_t k = 0; k < in.size(); ++k) {
        const size_t i = (size_t(t) + k) % in.size();
        std::lock_guard<std::mutex> lock(mu);
        const auto faces = det->detect(in[i].image.view());
        std::vector<FaceLandmarks> marks;
        for (const Face& f : faces) marks.push_back(lm->landmark(in[i].image.view(), f));
        r.faces[i] = bytes(faces), r.landmarks[i] = bytes(marks);
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(got[size_t(t)].faces, want.faces) << "thread " << t;
    EXPECT_EQ(got[size_t(t)].landmarks, want.landmarks) << "thread " << t;
  }
}

// num_threads > 1 parallelises one call (pyramid levels, R-/O-Net batches, all four
// orientations) on the instance's own pool: still bit-identical to one thread.
TEST(ThreadSafety, InternalThreadsMatchOneThreadBitForBit) {
  for (bool all_orientations : {false, true}) {
    SCOPED_TRACE(all_orientations ? "all orientations" : "upright");
    DetectorOptions one = test::testOptions(), two = test::testOptions();
    one.all_orientations = two.all_orientations = all_orientations;
    two.num_threads = 2;
    auto a = FaceDetector::create(one), b = FaceDetector::create(two);
    LandmarkerOptions lo1 = landmarkerOptions(1), lo2 = landmarkerOptions(2);
    lo1.detector.all_orientations = lo2.detector.all_orientations = all_orientations;
    auto la = FaceLandmarker::create(lo1), lb = FaceLandmarker::create(lo2);
    for (int round = 0; round < (all_orientations ? 1 : 2); ++round)
      for (const Input& in : inputs()) {
        if (in.name != "two faces" && (all_orientations || (in.name != "astronaut" && in.name != "gray"))) continue;  // time
        EXPECT_EQ(bytes(a->detect(in.image.view())), bytes(b->detect(in.image.view()))) << in.name;
        EXPECT_EQ(bytes(la->detect(in.image.view())), bytes(lb->detect(in.image.view()))) << in.name;
      }
  }
}

// The CLI's own workers (label --threads 2: one landmarker per worker, images spread over
// them, lines written in input order) give the output of one thread.
TEST(ThreadSafety, CliWorkersGiveTheOutputOfOneThread) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("facekit-threads-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir + "/in");
  for (size_t i = 0; i < inputs().size(); ++i) saveImage(inputs()[i].image.view(), dir + "/in/" + std::to_string(i) + ".png");
  const std::string base = "label --images " + dir + "/in --detector-model " + std::string(FACEKIT_TEST_MODEL) + " --backend mesh --mesh-model " +
                           std::string(FACEKIT_TEST_MODEL_DIR) + "/facemesh.safetensors --jitters 0";
  const auto one = test::runFacekit(base + " --threads 1 --out " + dir + "/one.jsonl");
  const auto two = test::runFacekit(base + " --threads 2 --out " + dir + "/two.jsonl");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto lines = [](const std::string& path) {
    std::ifstream f(path);
    std::vector<std::string> v;
    for (std::string l; std::getline(f, l);) v.push_back(l);
    return v;
  };
  const auto a = lines(dir + "/one.jsonl"), b = lines(dir + "/two.jsonl");
  EXPECT_GE(a.size(), inputs().size());
  EXPECT_EQ(a, b);
  std::filesystem::remove_all(dir);
}

namespace {
std::string pixels(const Image& img) {
  return std::to_string(img.width) + "x" + std::to_string(img.height) + ":" + std::to_string(int(img.format)) + ":" +
         std::string(img.pixels.begin(), img.pixels.end());
}
}  // namespace

// image.hpp and render.hpp: loading (from files and from memory, every accepted format, the same
// file and the same bytes in all threads at once), toRGB, saveImage (each thread its own file, and
// all of them to one path), the drawings and the JSON writers, from 8 threads at once: the
// results of one thread, byte for byte.
TEST(ThreadSafety, ImageLoadingAndRenderingFromEightThreads) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("facekit-threads-io-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  cv::Mat bgr;
  cv::cvtColor(matView(inputs()[0].image.view()), bgr, cv::COLOR_RGB2BGR);
  std::vector<std::pair<std::string, std::string>> encoded;  // name, bytes
  for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm"}) {
    std::vector<uint8_t> buf;
    ASSERT_TRUE(cv::imencode(ext, bgr, buf)) << ext;
    encoded.push_back({std::string("image") + ext, std::string(buf.begin(), buf.end())});
    std::ofstream(dir + "/image" + ext, std::ios::binary) << encoded.back().second;
  }
  const Image& photo = inputs()[0].image;
  auto det = FaceDetector::create(test::testOptions());
  auto lm = FaceLandmarker::create(landmarkerOptions());
  const std::vector<Face> faces = det->detect(photo.view());
  const std::vector<FaceLandmarks> marks = lm->detect(photo.view());
  ASSERT_FALSE(faces.empty());
  ASSERT_FALSE(marks.empty());

  // Everything one thread computes, as strings.
  auto work = [&](int t) {
    std::vector<std::string> out;
    for (const auto& [name, bytes] : encoded) {
      out.push_back(pixels(loadImageFromMemory(bytes.data(), bytes.size(), name)));
      out.push_back(pixels(loadImage(dir + "/" + name)));
    }
    const ImageView bgr_view{bgr.data, bgr.cols, bgr.rows, PixelFormat::kBGR, bgr.step};
    out.push_back(pixels(toRGB(bgr_view)));
    out.push_back(pixels(drawDetections(photo.view(), faces)));
    out.push_back(pixels(drawLandmarks(photo.view(), marks, true)));
    out.push_back(toModelScopeJson(faces, 2));
    out.push_back(toLandmarksJson(marks));
    out.push_back(toModelScopeLandmarksJson(marks));
    const std::string own = dir + "/saved-" + std::to_string(t) + ".png";
    saveImage(photo.view(), own);
    out.push_back(pixels(loadImage(own)));
    saveImage(photo.view(), dir + "/shared.png");  // every thread writes this one path
    return out;
  };
  const std::vector<std::string> want = work(-1);
  std::vector<std::vector<std::string>> got(8);
  onThreads(8, [&](int t) {
    for (int round = 0; round < 3; ++round) got[size_t(t)] = work(t);
  });
  for (int t = 0; t < 8; ++t) {
    ASSERT_EQ(got[size_t(t)].size(), want.size()) << "thread " << t;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(got[size_t(t)][i] == want[i]) << "thread " << t << ", result " << i;
  }
  EXPECT_EQ(pixels(loadImage(dir + "/shared.png")), pixels(photo));  // one whole file, no mix
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, encoded.size() + 8 + 2) << "no temporary file left";  // the inputs, each thread's file, shared.png, saved--1.png
  std::filesystem::remove_all(dir);
}

// video.hpp: a FaceTracker (which owns a landmarker, calls track() and smooths through a
// LandmarkSmoother) and a LandmarkSmoother used directly, one per stream, 4 streams on 4 threads
// at once over the same frames: each stream's results equal one thread's, bit for bit.
TEST(ThreadSafety, TrackersAndSmoothersOnePerStreamOnTheirOwnThreads) {
  // 8 frames: the two-face picture moving right 3 px a frame (tracked between detections).
  const Image& two = inputs()[5].image;
  ASSERT_EQ(inputs()[5].name, "two faces");
  std::vector<cv::Mat> frames;
  for (int k = 0; k < 8; ++k) {
    cv::Mat f(300, 560, CV_8UC3, cv::Scalar(110, 115, 120));
    matView(two.view()).copyTo(f(cv::Rect(10 + 3 * k, 20, two.width, two.height)));
    frames.push_back(f);
  }
  TrackerOptions o;
  o.landmarker = landmarkerOptions();
  o.detect_interval = 4;
  auto stream = [&]() {
    auto tracker = FaceTracker::create(o);
    LandmarkSmoother smoother;
    std::string out;
    int tracked_frames = 0;
    for (size_t k = 0; k < frames.size(); ++k) {
      const ImageView v{frames[k].data, frames[k].cols, frames[k].rows, PixelFormat::kRGB, frames[k].step};
      const double t = double(k) / 25;
      std::vector<FaceLandmarks> tracked;
      for (const TrackedFace& f : tracker->process(v, t)) {
        out += std::to_string(f.track_id) + (f.detected ? "d" : "t");
        tracked.push_back(f.landmarks);
        tracked_frames += !f.detected;
      }
      out += bytes(tracked);
      out += bytes(smoother.update(tracked, t));
    }
    EXPECT_GT(tracked_frames, 0) << "some frames should be tracked, not detected";
    return out;
  };
  const std::string want = stream();
  std::vector<std::string> got(4);
  onThreads(4, [&](int t) { got[size_t(t)] = stream(); });
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(got[size_t(t)] == want) << "stream " << t;
}
