// Landmark metrics: hand-computed NME, the 106 -> 68 correspondence against iBUG's own symmetry,
// the dlib XML reader, and the eval command end to end.
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/landmark_eval.hpp"
#include "test_util.hpp"

using namespace facekit;

TEST(LandmarkEval, NmeHandComputed) {
  // 68 points all at (0,0) except the outer eye corners 10 px apart; prediction off by (3,4).
  std::vector<Point2f> truth(68), pred(68);
  truth[36] = {0, 0}, truth[45] = {10, 0};
  for (size_t i = 0; i < 68; ++i) pred[i] = {truth[i].x + 3, truth[i].y + 4};
  EXPECT_NEAR(eval::nme(pred, truth, eval::Normaliser::kInterOcular), 0.5, 1e-9);  // 5 px / 10 px
  // Inter-pupil: eye centres = mean of 36-41 (one point at x=0, five at 0) and 42-47 (x=10 once).
  EXPECT_NEAR(eval::nme(pred, truth, eval::Normaliser::kInterPupil), 5.0 / (10.0 / 6.0), 1e-5);
  EXPECT_THROW(eval::nme(std::vector<Point2f>(5), std::vector<Point2f>(5), eval::Normaliser::kInterOcular), Error);
}

TEST(LandmarkEval, SummaryFailureRateAndCed) {
  const auto s = eval::summarise({0.05, 0.08, 0.12, 0.3});
  EXPECT_NEAR(s.mean, 0.1375, 1e-12);
  EXPECT_NEAR(s.failure_rate, 0.5, 1e-12);
  EXPECT_NEAR(s.ced.back().second, 0.75, 1e-12);  // 3 of 4 errors are <= 0.2
  EXPECT_NEAR(s.ced.front().second, 0.0, 1e-12);
}

// iBUG 68's mirror pairs, written from the 300-W definition; the correspondence must carry
// facekit's mirror map onto them exactly.
TEST(LandmarkEval, Correspondence106To68RespectsBothMirrorMaps) {
  std::array<int, 68> m68{};
  for (int i = 0; i <= 16; ++i) m68[size_t(i)] = 16 - i;
  for (int i = 17; i <= 26; ++i) m68[size_t(i)] = 43 - i;
  for (int i = 27; i <= 30; ++i) m68[size_t(i)] = i;
  for (int i = 31; i <= 35; ++i) m68[size_t(i)] = 66 - i;
  const int eyes[6][2] = {{36, 45}, {37, 44}, {38, 43}, {39, 42}, {40, 47}, {41, 46}};
  for (auto& e : eyes) m68[size_t(e[0])] = e[1], m68[size_t(e[1])] = e[0];
  for (int i = 48; i <= 54; ++i) m68[size_t(i)] = 102 - i;
  for (int i = 55; i <= 59; ++i) m68[size_t(i)] = 114 - i;
  for (int i = 60; i <= 64; ++i) m68[size_t(i)] = 124 - i;
  for (int i = 65; i <= 67; ++i) m68[size_t(i)] = 132 - i;
  const auto& m106 = landmark106Mirror();
  for (size_t i = 0; i < 68; ++i)
    EXPECT_EQ(eval::kFacekit106To68[size_t(m68[i])], m106[size_t(eval::kFacekit106To68[i])]) << "iBUG point " << i;
}

TEST(LandmarkEval, ReadsDlibXml) {
  FACEKIT_REQUIRE_SHARED();
  const auto faces = eval::loadDlibXml(facekit::test::sharedDir() + "/data/dlib-faces-68/testing_with_face_landmarks.xml");
  EXPECT_EQ(faces.size(), 25u);  // SOURCE.md: 5 images, 25 faces
  for (const auto& f : faces) EXPECT_EQ(f.parts.size(), 68u);
  EXPECT_EQ(faces[0].image, "2008_002470.jpg");
  EXPECT_FLOAT_EQ(faces[0].box.x1, 274.f);
  EXPECT_FLOAT_EQ(faces[0].parts[0].x, 277.f);
}

TEST(LandmarkEval, EvalCommandOnDlibFaces) {
  FACEKIT_REQUIRE_SHARED();
  const std::string out = std::filesystem::temp_directory_path() / "facekit-eval-lmk";
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " eval landmarks --xml " + facekit::test::sharedDir() +
                          "/data/dlib-faces-68/testing_with_face_landmarks.xml --out " + out + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(out + "/results.json");
  const auto j = nlohmann::json::parse(f);
  const auto& ours = j["methods"]["facekit (mesh, via 106->68)"];
  EXPECT_EQ(ours["found"], 25);
  EXPECT_LT(ours["nme_ion"].get<double>(), 0.1);  // these labels came from dlib's own model: a loose bound
  EXPECT_TRUE(std::filesystem::exists(out + "/ced.png"));
}
