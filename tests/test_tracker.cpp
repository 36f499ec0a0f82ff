// Video mode with tracking (FaceTracker): stable ids through motion and crossing paths, a new id
// for a face that leaves and comes back, one JSON line per frame from `facekit video`.
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <random>

#include "facekit/video.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;

namespace {

TrackerOptions trackerOptions() {
  TrackerOptions o;
  o.landmarker.detector.model_path = FACEKIT_TEST_MODEL;
  o.landmarker.model_path = std::string(FACEKIT_TEST_WEIGHTS_DIR) + "/landmark106.safetensors";
  o.detect_interval = 8;
  return o;
}

// The astronaut's head (and its mirror image, a second "person"), 150 px squares.
cv::Mat head(bool mirrored) {
  const cv::Mat src(astronaut().height, astronaut().width, CV_8UC3, const_cast<uint8_t*>(astronaut().pixels.data()));
  cv::Mat h = src(cv::Rect(148, 40, 150, 150)).clone();
  if (mirrored) cv::flip(h, h, 1);
  return h;
}

// A 640x480 frame with grey noise and heads pasted at the given top-left corners (x < -150 or
// x > 640: not in the frame).
cv::Mat scene(const std::vector<std::pair<cv::Point, bool>>& heads, std::mt19937& rng) {
  cv::Mat f(480, 640, CV_8UC3, cv::Scalar(110, 115, 120)), noise(f.size(), CV_16SC3);
  for (const auto& [at, mirrored] : heads) {
    const cv::Mat h = head(mirrored);
    const cv::Rect r = cv::Rect(at.x, at.y, h.cols, h.rows) & cv::Rect(0, 0, f.cols, f.rows);
    if (r.area() > 0) h(cv::Rect(r.x - at.x, r.y - at.y, r.width, r.height)).copyTo(f(r));
  }
  cv::theRNG().state = rng();
  cv::randn(noise, 0, 4);
  cv::Mat out;
  f.convertTo(out, CV_16SC3);
  out += noise;
  out.convertTo(out, CV_8UC3);
  return out;
}

ImageView viewOf(const cv::Mat& m) { return {m.data, m.cols, m.rows, PixelFormat::kRGB, m.step}; }

// The id of the tracked face whose box centre is nearest `centre` (0 if none within 60 px).
int idNear(const std::vector<TrackedFace>& faces, cv::Point2f centre) {
  int id = 0;
  double best = 60;
  for (const auto& f : faces) {
    const Box& b = f.landmarks.face.box;
    const double d = std::hypot(0.5 * (b.x1 + b.x2) - centre.x, 0.5 * (b.y1 + b.y2) - centre.y);
    if (d < best) best = d, id = f.track_id;
  }
  return id;
}

}  // namespace

// Two faces move towards each other and cross (one high, one low): each keeps its id.
TEST(Tracker, TwoFacesCrossingKeepTheirIds) {
  auto tracker = FaceTracker::create(trackerOptions());
  std::mt19937 rng(5);
  std::map<int, int> ids_a, ids_b;
  const int frames = 40;
  for (int k = 0; k < frames; ++k) {
    const cv::Point a(20 + 11 * k, 40), b(470 - 11 * k, 290);
    const auto faces = tracker->process(viewOf(scene({{a, false}, {b, true}}, rng)), k / 25.0);
    ++ids_a[idNear(faces, cv::Point2f(a.x + 75.f, a.y + 75.f))];
    ++ids_b[idNear(faces, cv::Point2f(b.x + 75.f, b.y + 75.f))];
    EXPECT_LE(faces.size(), 2u) << "frame " << k;
  }
  ASSERT_EQ(ids_a.size(), 1u) << "face A changed id or was lost";
  ASSERT_EQ(ids_b.size(), 1u) << "face B changed id or was lost";
  EXPECT_NE(ids_a.begin()->first, 0);
  EXPECT_NE(ids_b.begin()->first, 0);
  EXPECT_NE(ids_a.begin()->first, ids_b.begin()->first);
}

// A face leaves the frame and comes back later: its track ends, and it returns with a new id.
TEST(Tracker, AFaceThatLeavesAndComesBackGetsANewId) {
  auto tracker = FaceTracker::create(trackerOptions());
  std::mt19937 rng(6);
  std::vector<int> seen;
  for (int k = 0; k < 45; ++k) {
    // In view for frames 0-11 (moving right, then out), away for 12-29, back from 30 on.
    const bool away = k >= 12 && k < 30;
    const cv::Point at = k < 12 ? cv::Point(300 + 30 * k, 150) : cv::Point(200, 150);
    const auto faces = tracker->process(viewOf(scene(away ? std::vector<std::pair<cv::Point, bool>>{} : std::vector<std::pair<cv::Point, bool>>{{at, false}}, rng)),
                                        k / 25.0);
    if (away) EXPECT_TRUE(faces.empty()) << "frame " << k;
    if (k == 0 || k == 6 || k == 35 || k == 44) {
      ASSERT_EQ(faces.size(), 1u) << "frame " << k;
      seen.push_back(faces[0].track_id);
    }
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[2], seen[3]);
  EXPECT_GT(seen[2], seen[1]);
}

// Between detections the tracker follows the face from its own points: with a detection only
// every 8 frames, a face moving 6 px a frame is still where it is on every frame.
TEST(Tracker, FollowsAMovingFaceBetweenDetections) {
  auto tracker = FaceTracker::create(trackerOptions());
  std::mt19937 rng(7);
  int tracked_only = 0;
  for (int k = 0; k < 24; ++k) {
    const cv::Point at(100 + 6 * k, 120 + 2 * k);
    const auto faces = tracker->process(viewOf(scene({{at, false}}, rng)), k / 25.0);
    ASSERT_EQ(faces.size(), 1u) << "frame " << k;
    tracked_only += !faces[0].detected;
    EXPECT_NE(idNear(faces, cv::Point2f(at.x + 75.f, at.y + 75.f)), 0) << "frame " << k;
  }
  EXPECT_GE(tracked_only, 20);
}

TEST(Tracker, OptionsAndTimesAreChecked) {
  TrackerOptions o = trackerOptions();
  o.detect_interval = 0;
  EXPECT_THROW(FaceTracker::create(o), Error);
  auto tracker = FaceTracker::create(trackerOptions());
  std::mt19937 rng(8);
  const cv::Mat f = scene({}, rng);
  tracker->process(viewOf(f), 1.0);
  EXPECT_THROW(tracker->process(viewOf(f), 1.0), Error);
}

// facekit video: one JSON line per frame, each face with its track_id.
TEST(Tracker, VideoCommandWritesTrackIds) {
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-tracker-test";
  std::filesystem::create_directories(dir);
  std::mt19937 rng(9);
  {
    cv::VideoWriter w(dir + "/in.avi", cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25, cv::Size(640, 480));
    ASSERT_TRUE(w.isOpened());
    for (int k = 0; k < 12; ++k) {
      cv::Mat bgr;
      cv::cvtColor(scene({{cv::Point(60 + 8 * k, 60), false}, {cv::Point(400, 280 - 5 * k), true}}, rng), bgr, cv::COLOR_RGB2BGR);
      w.write(bgr);
    }
  }
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " video " + dir + "/in.avi --json " + dir + "/frames.jsonl --out " + dir +
                          "/out.mp4 --detect-every 5 --detector-model " + FACEKIT_TEST_MODEL + " --model " + FACEKIT_TEST_WEIGHTS_DIR +
                          "/landmark106.safetensors 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(dir + "/frames.jsonl");
  int lines = 0;
  std::set<int> ids;
  for (std::string line; std::getline(f, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["frame"], lines);
    EXPECT_EQ(j["faces"].size(), 2u) << line.substr(0, 200);
    for (const auto& face : j["faces"]) ids.insert(face["track_id"].get<int>());
  }
  EXPECT_EQ(lines, 12);
  EXPECT_EQ(ids, (std::set<int>{1, 2}));
  std::filesystem::remove_all(dir);
}
