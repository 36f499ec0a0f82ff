// Video mode: the One Euro smoothing steadies a still face without bias and follows a moving one.
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <random>

#include "cli_run.hpp"
#include "facekit/video.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;

namespace {

FaceLandmarker& landmarker() {
  static auto lm = [] {
    LandmarkerOptions o;
    o.detector.model_path = FACEKIT_TEST_MODEL;
    o.backend = LandmarkBackend::kMesh;
    o.mesh_model_path = std::string(FACEKIT_TEST_MODEL_DIR) + "/facemesh.safetensors";
    return FaceLandmarker::create(o);
  }();
  return *lm;
}

// Frame k: the astronaut shifted right by `speed * k` pixels, with camera-like noise (sigma 6).
cv::Mat frame(int k, double speed, std::mt19937& rng) {
  const cv::Mat src(astronaut().height, astronaut().width, CV_8UC3, const_cast<uint8_t*>(astronaut().pixels.data()));
  cv::Mat f, noise(src.size(), CV_16SC3);
  cv::warpAffine(src, f, cv::Matx23d(1, 0, speed * k, 0, 1, 0), src.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::theRNG().state = rng();  // reproducible noise
  cv::randn(noise, 0, 6);
  cv::Mat out;
  f.convertTo(out, CV_16SC3);
  out += noise;
  out.convertTo(out, CV_8UC3);
  return out;
}

struct Tracked {
  std::vector<std::vector<Point2f>> raw, smooth;  // per frame, the 106 points of the one face
};

Tracked track(int frames, double speed) {
  std::mt19937 rng(17);
  LandmarkSmoother smoother;
  Tracked r;
  for (int k = 0; k < frames; ++k) {
    const cv::Mat f = frame(k, speed, rng);
    const auto faces = landmarker().detect({f.data, f.cols, f.rows, PixelFormat::kRGB, f.step});
    const auto s = smoother.update(faces, k / 25.0);  // noise may add a spurious face: it gets its own track
    // The astronaut: the face overlapping her known box (shifted with the frame) best.
    const Box want{float(179 + speed * k), 61.f, float(267 + speed * k), 173.f};
    int best = -1;
    for (size_t i = 0; i < faces.size(); ++i)
      if (iou(faces[i].face.box, want) > 0.5f && (best < 0 || iou(faces[i].face.box, want) > iou(faces[size_t(best)].face.box, want)))
        best = int(i);
    EXPECT_GE(best, 0) << "frame " << k;
    if (best < 0) continue;
    r.raw.emplace_back(faces[size_t(best)].points.begin(), faces[size_t(best)].points.end());
    r.smooth.emplace_back(s[size_t(best)].points.begin(), s[size_t(best)].points.end());
  }
  return r;
}

// Mean frame-to-frame movement of the points minus the true motion, from frame `from` on.
double jitter(const std::vector<std::vector<Point2f>>& seq, double speed, size_t from) {
  double sum = 0;
  size_t n = 0;
  for (size_t k = from + 1; k < seq.size(); ++k)
    for (size_t i = 0; i < seq[k].size(); ++i, ++n) sum += std::hypot(seq[k][i].x - seq[k - 1][i].x - speed, seq[k][i].y - seq[k - 1][i].y);
  return sum / double(n);
}


// An MJPG clip of `frames` frames: frame(0 .. frames - 1, speed, rng), 25 fps, 512x512.
void writeClip(const std::string& path, int frames, double speed, std::mt19937& rng) {
  cv::VideoWriter w(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25, cv::Size(512, 512));
  ASSERT_TRUE(w.isOpened()) << path;
  for (int k = 0; k < frames; ++k) {
    cv::Mat bgr;
    cv::cvtColor(frame(k, speed, rng), bgr, cv::COLOR_RGB2BGR);
    w.write(bgr);
  }
}
}  // namespace

TEST(Video, SmoothingSteadiesAStillFaceWithoutMovingIt) {
  const Tracked r = track(30, 0.0);
  ASSERT_EQ(r.raw.size(), 30u);
  const double raw = jitter(r.raw, 0, 5), smooth = jitter(r.smooth, 0, 5);
  RecordProperty("raw_jitter_px", std::to_string(raw));
  RecordProperty("smoothed_jitter_px", std::to_string(smooth));
  EXPECT_LT(smooth, 0.5 * raw) << "raw " << raw << " px/frame, smoothed " << smooth;
  // No bias: the smoothed points stay where the raw ones are on average.
  double bias = 0;
  for (size_t i = 0; i < 106; ++i) {
    double dx = 0, dy = 0;
    for (size_t k = 5; k < r.raw.size(); ++k) dx += r.smooth[k][i].x - r.raw[k][i].x, dy += r.smooth[k][i].y - r.raw[k][i].y;
    bias += std::hypot(dx, dy) / double(r.raw.size() - 5);
  }
  EXPECT_LT(bias / 106, 1.0);
}

TEST(Video, SmoothingFollowsAMovingFace) {
  const double speed = 3.0;  // px per frame, 75 px/s at 25 fps
  const Tracked r = track(30, speed);
  ASSERT_EQ(r.raw.size(), 30u);
  double lag = 0;
  for (size_t i = 0; i < 106; ++i) lag += r.raw.back()[i].x - r.smooth.back()[i].x;
  EXPECT_LT(lag / 106, 3.0) << "smoothed points trail the face by at most about one frame of motion";
  EXPECT_LT(jitter(r.smooth, speed, 5), jitter(r.raw, speed, 5));
}

TEST(Video, TimesMustIncrease) {
  LandmarkSmoother s;
  s.update({}, 0.0);
  EXPECT_THROW(s.update({}, 0.0), Error);
  EXPECT_THROW(LandmarkSmoother(SmoothingOptions{0.f, 1.f, 1.f}), Error);
}

TEST(Video, CommandWritesAnnotatedVideoAndOneJsonLinePerFrame) {
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-video-test";
  std::filesystem::create_directories(dir);
  std::mt19937 rng(3);
  ASSERT_NO_FATAL_FAILURE(writeClip(dir + "/in.avi", 8, 1.0, rng));
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " video " + dir + "/in.avi --out " + dir + "/out.mp4 --json " + dir +
                          "/frames.jsonl --detector-model " + FACEKIT_TEST_MODEL + " --backend mesh --mesh-model " + FACEKIT_TEST_MODEL_DIR +
                          "/facemesh.safetensors 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(dir + "/frames.jsonl");
  int lines = 0;
  for (std::string line; std::getline(f, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["frame"], lines);
    EXPECT_GE(j["faces"].size(), 1u);
  }
  EXPECT_EQ(lines, 8);
  cv::VideoCapture out(dir + "/out.mp4");
  ASSERT_TRUE(out.isOpened());
  EXPECT_EQ(int(out.get(cv::CAP_PROP_FRAME_COUNT)), 8);
  const std::string bad = std::string(FACEKIT_TEST_CLI) + " video /nonexistent.mp4 2>/dev/null";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

// A video file that is missing or cannot be decoded: exit code 1 and exactly one line on stderr,
// "facekit: error: <file>: ...", nothing from OpenCV, GStreamer or FFmpeg (docs/reliability.md,
// finding 16: OpenCV's default backends printed three warning lines for a missing file).
TEST(Video, MissingOrCorruptFileGivesOneErrorLine) {
  const std::string dir = test::freshTempDir("facekit_video_bad_", "files");
  std::mt19937 rng(11);
  ASSERT_NO_FATAL_FAILURE(writeClip(dir + "/good.avi", 3, 0.0, rng));
  auto writeBytes = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  std::string noise(20000, '\0');
  for (auto& c : noise) c = char(rng());
  std::ifstream good(dir + "/good.avi", std::ios::binary);
  std::string head(600, '\0');
  good.read(head.data(), std::streamsize(head.size()));
  std::filesystem::create_directories(dir + "/folder.mp4");
  const std::vector<std::string> inputs{dir + "/missing.mp4",
                                        writeBytes("empty.mp4", ""),
                                        writeBytes("noise.mp4", noise),
                                        writeBytes("text.avi", "this is not a video\n"),
                                        writeBytes("truncated.avi", head),  // the header of good.avi, no frame
                                        dir + "/folder.mp4"};
  const std::string models = std::string(" --detector-model ") + FACEKIT_TEST_MODEL + " --backend mesh --mesh-model " + FACEKIT_TEST_MODEL_DIR +
                             "/facemesh.safetensors";
  for (const auto& in : inputs) {
    const test::CliResult r = test::runFacekit("video " + in + " --json " + dir + "/out.jsonl" + models);
    EXPECT_FALSE(r.signalled) << in;
    EXPECT_EQ(r.exit_code, 1) << in << ": " << r.err;
    EXPECT_TRUE(r.oneErrorLine()) << in << ": " << r.err;
    EXPECT_EQ(r.err.rfind("facekit: error: " + in + ": ", 0), 0u) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir + "/out.jsonl")) << in;
  }
  // The same command on the good file works: the refusals above are about the files.
  const test::CliResult ok = test::runFacekit("video " + dir + "/good.avi --json " + dir + "/out.jsonl" + models);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out.jsonl"));
  std::filesystem::remove_all(dir);
}
