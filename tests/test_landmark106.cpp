// facekit's own 106-point model (weights/landmark106.safetensors), the default landmark backend:
// agreement with its teacher, any orientation, mirror symmetry, pose, budget, both engine paths,
// and the ModelScope-compatible output.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "eval/aflw.hpp"
#include "eval/landmark_eval.hpp"
#include "facekit/landmarks.hpp"
#include "facekit/render.hpp"
#include "models/landmarks/landmark106_net.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;

namespace {

const std::string kModel = std::string(FACEKIT_TEST_WEIGHTS_DIR) + "/landmark106.safetensors";
const std::string kMeshModel = std::string(FACEKIT_TEST_MODEL_DIR) + "/facemesh.safetensors";

LandmarkerOptions options(LandmarkBackend b = LandmarkBackend::kLandmark106) {
  LandmarkerOptions o;
  o.detector.model_path = FACEKIT_TEST_MODEL;
  o.backend = b;
  o.model_path = kModel;
  o.mesh_model_path = kMeshModel;
  return o;
}

cv::Mat asMat(const Image& img) { return cv::Mat(img.height, img.width, CV_8UC3, const_cast<uint8_t*>(img.pixels.data())).clone(); }
ImageView viewOf(const cv::Mat& m) { return {m.data, m.cols, m.rows, PixelFormat::kRGB, m.step}; }

double nme106(const std::array<Point2f, kNumLandmarks106>& a, const std::array<Point2f, kNumLandmarks106>& b) {
  const double ion = std::hypot(b[66].x - b[75].x, b[66].y - b[75].y);
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::hypot(a[i].x - b[i].x, a[i].y - b[i].y);
  return s / double(a.size()) / ion;
}

double angleDiff(double a) {
  while (a > 180) a -= 360;
  while (a <= -180) a += 360;
  return a;
}

std::string runCli(const std::string& args) {
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " " + args + " 2>/dev/null";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  pclose(p);
  return out;
}

}  // namespace

TEST(Landmark106, IsTheDefaultBackendAndAgreesWithItsTeacher) {
  EXPECT_EQ(LandmarkerOptions{}.backend, LandmarkBackend::kLandmark106);
  auto small = FaceLandmarker::create(options());
  auto mesh = FaceLandmarker::create(options(LandmarkBackend::kMesh));
  const auto a = small->detect(astronaut().view());
  const auto b = mesh->detect(astronaut().view());
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_LT(nme106(a[0].points, b[0].points), 0.05);
  EXPECT_NEAR(a[0].pose.yaw, b[0].pose.yaw, 6.0);
  EXPECT_NEAR(a[0].pose.pitch, b[0].pose.pitch, 6.0);
  EXPECT_NEAR(a[0].pose.roll, b[0].pose.roll, 4.0);
  EXPECT_TRUE(a[0].mesh.empty());
}

TEST(Landmark106, FastPathMatchesReferenceOnTheShippedWeights) {
  landmarks::Landmark106Net fast(kModel, engine::Backend::kFast), ref(kModel, engine::Backend::kReference);
  const auto x = test::randomTensor({1, fast.inputSize(), fast.inputSize(), 3}, 21);
  const engine::Tensor a = fast.runRaw(x), b = ref.runRaw(x);
  EXPECT_TRUE(test::sameTensor(a, b, 1e-4));
}

TEST(Landmark106, ShippedModelIsWithinTheBudget) {
  const auto j = nlohmann::json::parse(runCli("info " + kModel + " --json"));
  EXPECT_LE(j["parameters"].get<double>(), 300000);
  EXPECT_LE(j["macs"].get<double>(), 8000000);
  EXPECT_EQ(j["metadata"]["facekit.model"], "landmark106");
}

TEST(Landmark106, MirroredImageGivesMirroredPointsAndPose) {
  auto lm = FaceLandmarker::create(options());
  cv::Mat img = asMat(astronaut()), flipped;
  cv::flip(img, flipped, 1);
  const auto a = lm->detect(viewOf(img));
  const auto b = lm->detect(viewOf(flipped));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  const auto& mirror = landmark106Mirror();
  std::array<Point2f, kNumLandmarks106> back;
  for (size_t i = 0; i < back.size(); ++i) back[i] = {float(img.cols) - b[0].points[size_t(mirror[i])].x, b[0].points[size_t(mirror[i])].y};
  EXPECT_LT(nme106(back, a[0].points), 0.03);
  EXPECT_NEAR(b[0].pose.yaw, -a[0].pose.yaw, 4.0);
  EXPECT_NEAR(b[0].pose.roll, -a[0].pose.roll, 3.0);
}

TEST(Landmark106, RollFollowsAnImageRotation) {
  auto lm = FaceLandmarker::create(options());
  const auto base = lm->detect(astronaut().view());
  ASSERT_EQ(base.size(), 1u);
  for (double deg : {-40.0, 25.0}) {
    cv::Mat img = asMat(astronaut()), turned;
    // getRotationMatrix2D's positive angle turns the image anticlockwise on screen: roll += -angle.
    cv::warpAffine(img, turned, cv::getRotationMatrix2D({256, 256}, deg, 1.0), img.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    const auto r = lm->detect(viewOf(turned));
    ASSERT_EQ(r.size(), 1u) << deg;
    EXPECT_NEAR(angleDiff(r[0].pose.roll - base[0].pose.roll), -deg, 3.0) << deg;
  }
}

// Any orientation: AFLW2000-3D faces (evaluation data) turned by quarter turns and found with
// all_orientations keep their accuracy (mean NME within 1.2x of upright on the same faces).
TEST(Landmark106, QuarterTurnedFacesKeepTheirAccuracy) {
  FACEKIT_REQUIRE_SHARED();
  const std::string dir = test::sharedDir() + "/data/aflw2000-subset";
  LandmarkerOptions o = options();
  o.detector.all_orientations = true;
  auto lm = FaceLandmarker::create(o);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/images")) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  const cv::RotateFlags flags[] = {cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_COUNTERCLOCKWISE};
  double sum[4] = {0, 0, 0, 0};
  int n = 0;
  for (const auto& f : files) {
    const auto ann = eval::loadAflwAnnotation(dir + "/mat/" + std::filesystem::path(f).stem().string() + ".mat");
    if (std::fabs(ann.pose.pitch) > 99 || std::fabs(ann.pose.yaw) > 99 || std::fabs(ann.pose.roll) > 99) continue;
    const Image img = loadImage(f);
    const cv::Mat m = asMat(img);
    double err[4];
    bool all = true;
    for (int r = 0; r < 4 && all; ++r) {
      cv::Mat t;  // a new buffer: rotating into m's own would turn m itself (square images)
      if (r == 0) t = m;
      else cv::rotate(m, t, flags[r - 1]);
      const auto faces = lm->detect(viewOf(t));
      // The face whose nose tip lies nearest the (turned) truth's nose tip.
      const Point2f nose = ann.pts68[30];
      auto turn = [&](Point2f p) {  // original -> turned coordinates
        const float w = float(m.cols), h = float(m.rows);
        return r == 0 ? p : r == 1 ? Point2f{h - p.y, p.x} : r == 2 ? Point2f{w - p.x, h - p.y} : Point2f{p.y, w - p.x};
      };
      const Point2f want = turn(nose);
      int best = -1;
      double best_d = 1e30;
      for (size_t i = 0; i < faces.size(); ++i) {
        const double d = std::hypot(faces[i].points[64].x - want.x, faces[i].points[64].y - want.y);
        if (d < best_d) best_d = d, best = int(i);
      }
      if (best < 0) {
        all = false;
        break;
      }
      std::vector<Point2f> truth;
      for (const auto& p : ann.pts68) truth.push_back(turn(p));
      err[r] = eval::nme(eval::to68(faces[size_t(best)].points), truth, eval::Normaliser::kInterOcular);
    }
    if (!all) continue;
    for (int r = 0; r < 4; ++r) sum[r] += err[r];
    ++n;
  }
  ASSERT_GE(n, 20) << "faces found in all four orientations";
  for (int r = 1; r < 4; ++r) EXPECT_LE(sum[r] / n, 1.2 * sum[0] / n) << "quarter turns " << r << ": " << sum[r] / n << " vs upright " << sum[0] / n;
}

TEST(Landmark106, ModelScopeFormatHasItsKeysOrderAndPoseOrder) {
  const std::string args = std::string("landmarks ") + FACEKIT_TEST_SAMPLE + " --detector-model " + FACEKIT_TEST_MODEL + " --model " + kModel;
  const auto ms = nlohmann::ordered_json::parse(runCli(args + " --format modelscope"));
  const auto fk = nlohmann::json::parse(runCli(args));
  std::vector<std::string> keys;
  for (auto& [k, v] : ms.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"boxes", "keypoints", "poses"}));
  ASSERT_EQ(ms["keypoints"].size(), 1u);
  EXPECT_EQ(ms["keypoints"][0].size(), 106u);
  EXPECT_EQ(ms["keypoints"][0][64].dump(), fk["faces"][0]["points"][64].dump());
  EXPECT_EQ(ms["boxes"][0].dump(), fk["faces"][0]["box"].dump());
  // ModelScope's pose order: pitch, roll, yaw.
  EXPECT_EQ(ms["poses"][0][0].get<double>(), fk["faces"][0]["pose"]["pitch"].get<double>());
  EXPECT_EQ(ms["poses"][0][1].get<double>(), fk["faces"][0]["pose"]["roll"].get<double>());
  EXPECT_EQ(ms["poses"][0][2].get<double>(), fk["faces"][0]["pose"]["yaw"].get<double>());
}

TEST(Landmark106, ForeignOrMissingModelIsAOneLineError) {
  LandmarkerOptions o = options();
  o.model_path = kMeshModel;  // a valid facekit model file, but not this kind
  try {
    FaceLandmarker::create(o);
    FAIL() << "accepted the face mesh as a facekit-106 model";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kBadModel);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  o.model_path = "/nonexistent/landmark106.safetensors";
  EXPECT_THROW(FaceLandmarker::create(o), Error);
}

// Following a face from its previous points (video): the face moved by a few pixels is found
// where it went, the derived box agrees with the detector's, the 5 points come from the 106.
TEST(Landmark106, TrackFollowsAFaceFromItsPreviousPoints) {
  for (auto backend : {LandmarkBackend::kLandmark106, LandmarkBackend::kMesh}) {
    auto lm = FaceLandmarker::create(options(backend));
    auto det = FaceDetector::create(test::testOptions());
    const auto first = lm->detect(astronaut().view());
    ASSERT_EQ(first.size(), 1u);
    cv::Mat img = asMat(astronaut()), moved;
    cv::warpAffine(img, moved, cv::Matx23d(1, 0, 9, 0, 1, -6), img.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    const FaceLandmarks t = lm->track(viewOf(moved), first[0]);
    std::array<Point2f, kNumLandmarks106> want = first[0].points;
    for (auto& p : want) p.x += 9, p.y -= 6;
    EXPECT_LT(nme106(t.points, want), 0.04) << int(backend);
    const auto found = det->detect(viewOf(moved));
    ASSERT_EQ(found.size(), 1u);
    EXPECT_GT(iou(t.face.box, found[0].box), 0.6) << int(backend);
    EXPECT_EQ(t.face.landmarks[2].x, t.points[64].x);
  }
}
