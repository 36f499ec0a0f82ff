// The face mesh teacher on facekit's engine, the facekit-106 layout and head pose.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/model_file.hpp"
#include "eval/aflw.hpp"
#include "facekit/landmarks.hpp"
#include "models/facemesh/facemesh.hpp"
#include "models/landmarks/head_pose.hpp"
#include "models/landmarks/layout106.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;
using facekit::test::sameTensor;

namespace {

const std::string kMeshModel = std::string(FACEKIT_TEST_MODEL_DIR) + "/facemesh.safetensors";

LandmarkerOptions landmarkerOptions() {
  LandmarkerOptions o;
  o.detector.model_path = FACEKIT_TEST_MODEL;
  o.backend = LandmarkBackend::kMesh;
  o.mesh_model_path = kMeshModel;
  return o;
}

FaceLandmarker& landmarker() {
  static auto lm = FaceLandmarker::create(landmarkerOptions());
  return *lm;
}

cv::Mat asMat(const Image& i) { return cv::Mat(i.height, i.width, CV_8UC3, const_cast<uint8_t*>(i.pixels.data())); }
ImageView viewOf(const cv::Mat& m) { return {m.data, m.cols, m.rows, PixelFormat::kRGB, m.step}; }

// The astronaut's face as a 192 x 192 crop, window shifted by (dx, dy) pixels.
cv::Mat faceCrop(double dx, double dy, bool mirrored = false) {
  cv::Mat src = asMat(astronaut());
  if (mirrored) cv::flip(asMat(astronaut()), src = cv::Mat(), 1);  // a new buffer: never flip the shared sample in place
  const double cx = mirrored ? 512 - 222.0 : 222.0, cy = 119.0, side = 160.0, s = 192.0 / side;
  const cv::Matx23d m(s, 0, -(cx - side / 2 + dx) * s, 0, s, -(cy - side / 2 + dy) * s);
  cv::Mat crop;
  cv::warpAffine(src, crop, m, cv::Size(192, 192), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  return crop;
}

double angleDiff(double a, double b) { return std::remainder(a - b, 360.0); }

}  // namespace

// Every node of the converted graph: fast (XNNPACK) against reference, same random input.
TEST(FaceMesh, EveryNodeFastMatchesReference) {
  const engine::ModelFile m = engine::ModelFile::load(kMeshModel);
  engine::Graph ref = engine::Graph::build(m, engine::Backend::kReference);
  engine::Graph fast = engine::Graph::build(m, engine::Backend::kFast);
  const engine::Tensor x = facekit::test::randomTensor({1, 192, 192, 3}, 2024, 0.f, 1.f);
  ref.forward(x, nullptr);
  fast.forward(x, nullptr);
  ASSERT_EQ(ref.nodeCount(), fast.nodeCount());
  EXPECT_GT(ref.nodeCount(), 100u);
  for (size_t i = 0; i < ref.nodeCount(); ++i)
    EXPECT_TRUE(sameTensor(fast.nodeValue(i), ref.nodeValue(i), 1e-4)) << ref.nodeName(i) << " (" << ref.nodeOp(i) << ")";
}

TEST(FaceMesh, LandsOnTheFaceAndFlagsFaces) {
  facemesh::FaceMesh mesh(kMeshModel);
  const cv::Mat crop = faceCrop(0, 0);
  const auto r = mesh.run(crop.data);
  EXPECT_GT(r.face_flag, 0.9f);
  // The astronaut's face box by MTCNN (178..265 x 65..172, image px) in crop coordinates,
  // grown by 15% on each side for the forehead and cheeks the box leaves out.
  const double s = 192.0 / 160.0, m = 0.15 * 90;
  const double x0 = (178 - m - 142) * s, x1 = (265 + m - 142) * s, y0 = (65 - m - 39) * s, y1 = (172 + m - 39) * s;
  int inside = 0;
  for (const auto& p : r.mesh) inside += p[0] > x0 && p[0] < x1 && p[1] > y0 && p[1] < y1;
  EXPECT_GE(inside, 445) << "at least 95% of the vertices inside the face box";
  cv::Mat noise(192, 192, CV_8UC3);
  cv::randu(noise, 0, 255);
  EXPECT_LT(mesh.run(noise.data).face_flag, 0.1f);
  const cv::Mat suit = asMat(astronaut())(cv::Rect(300, 300, 192, 192)).clone();
  EXPECT_LT(mesh.run(suit.data).face_flag, 0.1f);
}

TEST(FaceMesh, StableUnderAOnePixelShift) {
  facemesh::FaceMesh mesh(kMeshModel);
  const auto a = mesh.run(faceCrop(0, 0).data), b = mesh.run(faceCrop(1.0 / 1.2, 0).data);  // 1 px at crop scale
  double moved = 0, err = 0;
  for (size_t i = 0; i < a.mesh.size(); ++i) {
    const double dx = b.mesh[i][0] - a.mesh[i][0], dy = b.mesh[i][1] - a.mesh[i][1];
    moved += std::hypot(dx, dy);
    err += std::hypot(dx + 1.0, dy);  // the content moves 1 px left
  }
  moved /= double(a.mesh.size()), err /= double(a.mesh.size());
  EXPECT_LE(moved, 1.5);
  EXPECT_LE(err, 0.5) << "mean deviation from the true 1-px shift";
}

// A mirrored face gives the mirrored mesh: the point clouds coincide (vertex order swaps sides).
TEST(FaceMesh, MirroredFaceGivesMirroredMesh) {
  facemesh::FaceMesh mesh(kMeshModel);
  const auto a = mesh.run(faceCrop(0, 0).data), b = mesh.run(faceCrop(0, 0, true).data);
  double total = 0;
  for (const auto& p : b.mesh) {
    double best = 1e9;
    for (const auto& q : a.mesh) best = std::min(best, std::hypot(192.0 - p[0] - q[0], p[1] - q[1]));
    total += best;
  }
  EXPECT_LE(total / double(b.mesh.size()), 2.0) << "mean distance of mirrored vertices to the nearest original one";
}

TEST(Layout106, TableIsCompleteAndTheMirrorMapAnInvolution) {
  const auto& t = landmarks::layout106();
  ASSERT_EQ(t.size(), 106u);
  std::map<std::string, int> groups;
  for (size_t i = 0; i < t.size(); ++i) {
    ++groups[t[i].group];
    ASSERT_GE(t[i].mirror, 0);
    EXPECT_EQ(t[size_t(t[i].mirror)].mirror, int(i)) << t[i].name;
    EXPECT_EQ(t[size_t(t[i].mirror)].group.substr(0, 3), t[i].group.substr(0, 3)) << t[i].name;
    for (int v : t[i].vertices) EXPECT_LT(v, facemesh::kVertices);
  }
  EXPECT_EQ(groups["contour"], 33);
  EXPECT_EQ(groups["brow_left"] + groups["brow_right"], 18);
  EXPECT_EQ(groups["nose"], 15);
  EXPECT_EQ(groups["eye_left"] + groups["eye_right"], 18);
  EXPECT_EQ(groups["mouth"], 20);
  EXPECT_EQ(groups["pupil"], 2);
}

// Label an image and its mirror image: the mirror map must carry one set of labels onto the other.
TEST(Layout106, MirroringImageAndLabelsGivesTheSameLabels) {
  const auto a = landmarker().detect(astronaut().view());
  cv::Mat flipped;
  cv::flip(asMat(astronaut()), flipped, 1);
  const auto b = landmarker().detect(viewOf(flipped));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  const auto& mirror = landmark106Mirror();
  double total = 0, worst = 0;
  for (size_t i = 0; i < 106; ++i) {
    const Point2f p = b[0].points[size_t(mirror[i])];
    const double d = std::hypot(512.0 - p.x - a[0].points[i].x, p.y - a[0].points[i].y);
    total += d, worst = std::max(worst, d);
  }
  EXPECT_LE(total / 106.0, 2.0) << "worst point " << worst << " px";
  EXPECT_LE(std::fabs(a[0].pose.yaw + b[0].pose.yaw), 2.0) << "mirroring negates yaw";
  EXPECT_LE(std::fabs(a[0].pose.roll + b[0].pose.roll), 2.0) << "mirroring negates roll";
  EXPECT_LE(std::fabs(a[0].pose.pitch - b[0].pose.pitch), 2.0) << "and keeps pitch";
}

TEST(HeadPose, EulerAnglesRoundTripAndAlignmentRecoversRotation) {
  const HeadPose p{12.f, -35.f, 20.f};
  const HeadPose q = landmarks::eulerFromRotation(landmarks::rotationFromEuler(p));
  EXPECT_NEAR(q.pitch, p.pitch, 1e-4);
  EXPECT_NEAR(q.yaw, p.yaw, 1e-4);
  EXPECT_NEAR(q.roll, p.roll, 1e-4);
  // A random point set, rotated, scaled and moved: the alignment finds the rotation.
  landmarks::Mesh a, b;
  const auto r = landmarks::rotationFromEuler(p);
  const auto v = facekit::test::randomVector(3 * 50, 9);
  for (size_t i = 0; i < 50; ++i) {
    const float x = v[3 * i], y = v[3 * i + 1], z = v[3 * i + 2];
    a.push_back({x, y, z});
    b.push_back({float(2.5 * (r[0] * x + r[1] * y + r[2] * z) + 7), float(2.5 * (r[3] * x + r[4] * y + r[5] * z) - 3),
                 float(2.5 * (r[6] * x + r[7] * y + r[8] * z) + 1)});
  }
  const HeadPose got = landmarks::eulerFromRotation(landmarks::alignRotation(a, b));
  EXPECT_NEAR(got.yaw, p.yaw, 1e-3);
  EXPECT_NEAR(got.roll, p.roll, 1e-3);
}

// Rotating the image by a known angle changes roll by exactly that angle (clockwise positive).
TEST(HeadPose, RollFollowsImageRotation) {
  const auto base = landmarker().detect(astronaut().view());
  ASSERT_EQ(base.size(), 1u);
  for (double ccw : {-40.0, -20.0, 15.0, 35.0}) {
    const cv::Mat rot = cv::getRotationMatrix2D(cv::Point2f(222, 119), ccw, 1.0);  // OpenCV: positive = counter-clockwise
    cv::Mat img;
    cv::warpAffine(asMat(astronaut()), img, rot, cv::Size(512, 512), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    const auto r = landmarker().detect(viewOf(img));
    ASSERT_FALSE(r.empty()) << ccw;
    EXPECT_NEAR(angleDiff(r[0].pose.roll, base[0].pose.roll), -ccw, 2.0) << "image rotated " << ccw << " deg counter-clockwise";
  }
}

// Faces lying sideways or upside down: found with all_orientations, landmarks in face order,
// roll turned by the quarter turns.
TEST(HeadPose, QuarterTurnedFacesWithAllOrientations) {
  LandmarkerOptions o = landmarkerOptions();
  o.detector.all_orientations = true;
  auto lm = FaceLandmarker::create(o);
  const auto base = landmarker().detect(astronaut().view());
  ASSERT_EQ(base.size(), 1u);
  const struct { cv::RotateFlags flag; double roll; } turns[] = {
      {cv::ROTATE_90_CLOCKWISE, 90}, {cv::ROTATE_180, 180}, {cv::ROTATE_90_COUNTERCLOCKWISE, -90}};
  for (const auto& t : turns) {
    cv::Mat img;
    cv::rotate(asMat(astronaut()), img, t.flag);
    const auto r = lm->detect(viewOf(img));
    ASSERT_EQ(r.size(), 1u) << "turned " << t.roll;
    EXPECT_NEAR(angleDiff(r[0].pose.roll - base[0].pose.roll, t.roll), 0.0, 3.0);  // 180 and -180 are one turn
    EXPECT_NEAR(r[0].pose.yaw, base[0].pose.yaw, 3.0);
    // The nose tip lands where the turned original nose tip is.
    const Point2f n = base[0].points[64];
    const Point2f want = t.roll == 90 ? Point2f{512 - n.y, n.x} : t.roll == 180 ? Point2f{512 - n.x, 512 - n.y} : Point2f{n.y, 512 - n.x};
    EXPECT_NEAR(r[0].points[64].x, want.x, 3.0);
    EXPECT_NEAR(r[0].points[64].y, want.y, 3.0);
  }
}

// Published ground truth: AFLW2000-3D pose angles (research data in ../shared, evaluation only),
// with the usual filter (every |angle| <= 99 degrees).
TEST(HeadPose, MeanErrorOnAflw2000SubsetIsBelowTheReferenceModel) {
  FACEKIT_REQUIRE_SHARED();
  const std::string dir = facekit::test::sharedDir() + "/data/aflw2000-subset";
  double err[3] = {0, 0, 0};
  int n = 0, missed = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/images")) {
    const auto gt = eval::loadAflwAnnotation(dir + "/mat/" + e.path().stem().string() + ".mat");
    if (std::fabs(gt.pose.pitch) > 99 || std::fabs(gt.pose.yaw) > 99 || std::fabs(gt.pose.roll) > 99) continue;
    const auto r = landmarker().detect(loadImage(e.path().string()).view());
    if (r.empty()) {
      ++missed;
      continue;
    }
    err[0] += std::fabs(r[0].pose.pitch - gt.pose.pitch), err[1] += std::fabs(r[0].pose.yaw - gt.pose.yaw);
    err[2] += std::fabs(r[0].pose.roll - gt.pose.roll), ++n;
  }
  ASSERT_GE(n, 25);
  EXPECT_LE(missed, 2);
  const double mae = (err[0] + err[1] + err[2]) / (3.0 * n);
  RecordProperty("pose_mae_deg", std::to_string(mae));
  EXPECT_LT(mae, 10.52) << "pitch " << err[0] / n << " yaw " << err[1] / n << " roll " << err[2] / n;
  EXPECT_LT(err[1] / n, 10.0) << "yaw sign convention must match AFLW2000's";
}

TEST(LabelCli, OneLinePerFaceAndNoSilentDrops) {
  FACEKIT_REQUIRE_SHARED();
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-label-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/in");
  // A tight face crop (needs padding), a two-face photo and an image without a face.
  const auto utk = facekit::test::sharedDir() + "/data/utkface-crops/images";
  std::vector<std::string> crops;
  for (const auto& e : std::filesystem::directory_iterator(utk)) crops.push_back(e.path().string());
  ASSERT_FALSE(crops.empty());
  const std::string first = *std::min_element(crops.begin(), crops.end());  // deterministic choice
  std::filesystem::copy_file(first, dir + "/in/crop.jpg");
  std::filesystem::copy_file(facekit::test::sharedDir() + "/data/faces/couple.jpg", dir + "/in/couple.jpg");
  cv::Mat flat(100, 100, CV_8UC3, cv::Scalar(90, 90, 90));
  saveImage({flat.data, 100, 100, PixelFormat::kRGB, flat.step}, dir + "/in/empty.png");
  // One pass per face (no mirror, no jitter): exactly what `landmarks` computes, so eval scores ~0.
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " label --images " + dir + "/in --out " + dir + "/labels.jsonl --detector-model " +
                          FACEKIT_TEST_MODEL + " --backend mesh --mesh-model " + kMeshModel + " --jitters 0 --no-mirror 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(dir + "/labels.jsonl");
  std::map<std::string, int> per_image;
  std::map<std::string, std::string> status;
  for (std::string line; std::getline(f, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string name = std::filesystem::path(j["image"].get<std::string>()).filename();
    status[name] = j["status"];
    if (j["status"] == "ok") {
      ++per_image[name];
      EXPECT_EQ(j["points"].size(), 106u);
      for (const auto& p : j["points"]) {  // original-image coordinates, even when padded
        EXPECT_GT(p[0].get<double>(), -20.0);
        EXPECT_LT(p[0].get<double>(), j["width"].get<double>() + 20.0);
      }
    }
  }
  EXPECT_EQ(per_image["crop.jpg"], 1);
  EXPECT_EQ(per_image["couple.jpg"], 2);
  EXPECT_EQ(status["empty.png"], "no_face");

  // The labels read back by `facekit eval landmarks --labels`: the same pipeline must score ~0.
  const std::string eval_cmd = std::string(FACEKIT_TEST_CLI) + " eval landmarks --backends mesh --labels " + dir + "/labels.jsonl --out " + dir +
                               "/eval > /dev/null 2>&1";
  ASSERT_EQ(std::system(eval_cmd.c_str()), 0);
  std::ifstream res(dir + "/eval/results.json");
  const auto j = nlohmann::json::parse(res);
  const auto& m = j["methods"]["facekit (mesh, 106 points)"];
  EXPECT_EQ(m["found"].get<int>() + m["missed"].get<int>(), 3);
  EXPECT_GE(m["found"].get<int>(), 2);  // the crop may need the padding only `label` adds
  EXPECT_LT(m["nme_ion"].get<double>(), 1e-3);
  EXPECT_LT(j["pose_mae"]["yaw"].get<double>(), 0.05);
}

// The default labels: the consensus of 4 passes (image, mirror, two jittered boxes). Close to one
// pass, each face with its spread, and a face whose passes disagree is marked, never dropped.
TEST(LabelCli, ConsensusLabelsStayCloseToOnePassAndReportTheirSpread) {
  FACEKIT_REQUIRE_SHARED();
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-label-consensus-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/in");
  std::filesystem::copy_file(facekit::test::sharedDir() + "/data/faces/couple.jpg", dir + "/in/couple.jpg");
  const std::string base = std::string(FACEKIT_TEST_CLI) + " label --images " + dir + "/in --detector-model " + FACEKIT_TEST_MODEL +
                           " --backend mesh --mesh-model " + kMeshModel;
  ASSERT_EQ(std::system((base + " --out " + dir + "/one.jsonl --jitters 0 --no-mirror 2>/dev/null").c_str()), 0);
  ASSERT_EQ(std::system((base + " --out " + dir + "/four.jsonl 2>/dev/null").c_str()), 0);
  auto read = [](const std::string& path) {
    std::vector<nlohmann::json> v;
    std::ifstream f(path);
    for (std::string line; std::getline(f, line);) v.push_back(nlohmann::json::parse(line));
    return v;
  };
  const auto one = read(dir + "/one.jsonl"), four = read(dir + "/four.jsonl");
  ASSERT_EQ(one.size(), 2u);
  ASSERT_EQ(four.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(one[k]["passes"], 1);
    EXPECT_EQ(four[k]["passes"], 4);
    EXPECT_EQ(one[k]["spread"].get<double>(), 0.0);
    EXPECT_GT(four[k]["spread"].get<double>(), 0.0);
    EXPECT_LT(four[k]["spread"].get<double>(), 0.05);
    EXPECT_EQ(four[k]["status"], "ok");
    // Mean distance between the two labellings, in inter-ocular units: small but not zero.
    const auto& a = one[k]["points"];
    const auto& b = four[k]["points"];
    const double iod = std::hypot(a[74][0].get<double>() - a[83][0].get<double>(), a[74][1].get<double>() - a[83][1].get<double>());
    double d = 0;
    for (size_t i = 0; i < 106; ++i) d += std::hypot(a[i][0].get<double>() - b[i][0].get<double>(), a[i][1].get<double>() - b[i][1].get<double>());
    d /= 106 * iod;
    EXPECT_GT(d, 1e-4);
    EXPECT_LT(d, 0.03);
  }
  // Strict spread limit: every face is kept, marked unstable.
  ASSERT_EQ(std::system((base + " --out " + dir + "/strict.jsonl --max-spread 0.000001 2>/dev/null").c_str()), 0);
  const auto strict = read(dir + "/strict.jsonl");
  ASSERT_EQ(strict.size(), 2u);
  for (const auto& j : strict) EXPECT_EQ(j["status"], "unstable");
  std::filesystem::remove_all(dir);
}

// No partial results: a label run killed mid-way leaves no file under the output name (only the
// `.partial` one it was writing), and a finished run leaves no partial file behind.
TEST(LabelCli, AKilledRunLeavesNoTruncatedOutput) {
  FACEKIT_REQUIRE_SHARED();
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-label-kill-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string cmd = "timeout -s KILL 3 " + std::string(FACEKIT_TEST_CLI) + " label --backend mesh --images " + facekit::test::sharedDir() +
                          "/data/utkface-crops/images --out " + dir + "/labels.jsonl --detector-model " + FACEKIT_TEST_MODEL + " --mesh-model " +
                          kMeshModel + " 2>/dev/null";
  EXPECT_NE(std::system(cmd.c_str()), 0);  // killed: 9,484 images take far longer than 3 s
  EXPECT_FALSE(std::filesystem::exists(dir + "/labels.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/labels.partial.jsonl"));
  std::filesystem::create_directories(dir + "/one");
  std::filesystem::copy_file(facekit::test::sharedDir() + "/data/faces/img1.jpg", dir + "/one/img1.jpg");
  const std::string ok = std::string(FACEKIT_TEST_CLI) + " label --backend mesh --images " + dir + "/one --out " + dir + "/one.jsonl --detector-model " +
                         FACEKIT_TEST_MODEL + " --mesh-model " + kMeshModel + " 2>/dev/null";
  ASSERT_EQ(std::system(ok.c_str()), 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/one.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/one.partial.jsonl"));
  std::filesystem::remove_all(dir);
}
