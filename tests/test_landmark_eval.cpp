// Landmark metrics: hand-computed NME, the 106 -> 68 correspondence against iBUG's own symmetry,
// the dlib XML reader, and the eval command end to end.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "cli_run.hpp"
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
                          "/data/dlib-faces-68/testing_with_face_landmarks.xml --backends mesh --out " + out + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream f(out + "/results.json");
  const auto j = nlohmann::json::parse(f);
  const auto& ours = j["methods"]["facekit (mesh, via 106->68)"];
  EXPECT_EQ(ours["found"], 25);
  EXPECT_LT(ours["nme_ion"].get<double>(), 0.1);  // these labels came from dlib's own model: a loose bound
  EXPECT_TRUE(std::filesystem::exists(out + "/ced.png"));
}

// The facekit-106 model for the comparison: $FACEKIT_TEST_LANDMARK106 if set, else the shipped
// weights, else a model in models/; empty when there is none.
std::string landmark106Model() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FACEKIT_TEST_LANDMARK106"); env && *env) candidates.push_back(env);
  candidates.push_back(std::string(FACEKIT_TEST_WEIGHTS_DIR) + "/landmark106.safetensors");
  candidates.push_back(std::string(FACEKIT_TEST_MODEL_DIR) + "/landmark106.safetensors");
  for (const auto& c : candidates)
    if (std::filesystem::is_regular_file(c)) return c;
  return "";
}

// One run compares every method on the same faces: both facekit backends and dlib in the table,
// the small / mesh ratio, the subset and conditions notes, one CED curve per method.
TEST(LandmarkEval, EvalCommandComparesBothBackendsAndDlib) {
  FACEKIT_REQUIRE_SHARED();
  const std::string model = landmark106Model();
  if (model.empty()) GTEST_SKIP() << "no facekit-106 model (weights/landmark106.safetensors or $FACEKIT_TEST_LANDMARK106)";
  const std::string out = std::filesystem::temp_directory_path() / "facekit-eval-lmk-all";
  std::filesystem::remove_all(out);
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " eval landmarks --xml " + facekit::test::sharedDir() +
                          "/data/dlib-faces-68/testing_with_face_landmarks.xml --model " + model + " --mesh-model " + FACEKIT_TEST_MODEL_DIR +
                          "/facemesh.safetensors --detector-model " + FACEKIT_TEST_MODEL + " --out " + out + " > " + out + ".txt 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream txt(out + ".txt");
  std::stringstream ss;
  ss << txt.rdbuf();
  const std::string table = ss.str();
  const std::vector<std::string> rows = {"| facekit (landmark106, via 106->68) |", "| facekit (mesh, via 106->68) |", "| dlib HOG + shape_predictor_68 |"};
  size_t last = 0;
  for (const auto& r : rows) {  // every method, in this order
    const size_t at = table.find(r);
    ASSERT_NE(at, std::string::npos) << r << " missing from:\n" << table;
    EXPECT_GT(at, last) << r;
    last = at;
  }
  EXPECT_NE(table.find("small model / mesh NME"), std::string::npos);
  EXPECT_NE(table.find("a small sample"), std::string::npos);
  EXPECT_NE(table.find("conditions:"), std::string::npos);
  EXPECT_NE(table.find("dlib is measured against itself"), std::string::npos);

  std::ifstream f(out + "/results.json");
  const auto j = nlohmann::json::parse(f);
  ASSERT_EQ(j["methods"].size(), 3u);
  // Both backends landmark the same detections.
  EXPECT_EQ(j["methods"]["facekit (landmark106, via 106->68)"]["found"], j["methods"]["facekit (mesh, via 106->68)"]["found"]);
  EXPECT_EQ(j["methods"]["facekit (mesh, via 106->68)"]["found"], 25);
  EXPECT_GT(j["methods"]["dlib HOG + shape_predictor_68"]["found"].get<int>(), 0);
  const double ratio = j["ratio_small_over_mesh"]["nme_ion"];
  EXPECT_NEAR(ratio, j["methods"]["facekit (landmark106, via 106->68)"]["nme_ion_common"].get<double>() /
                         j["methods"]["facekit (mesh, via 106->68)"]["nme_ion_common"].get<double>(), 1e-9);
  EXPECT_TRUE(std::filesystem::exists(out + "/ced.png"));
  EXPECT_TRUE(std::filesystem::exists(out + "/results.md"));
}

TEST(LandmarkEval, EvalCommandRejectsUnknownBackend) {
  FACEKIT_REQUIRE_SHARED();
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " eval landmarks --xml " + facekit::test::sharedDir() +
                          "/data/dlib-faces-68/testing_with_face_landmarks.xml --backends mesh,nope --no-dlib --out " +
                          (std::filesystem::temp_directory_path() / "facekit-eval-lmk-bad").string() + " > /dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

// eval landmarks --labels: every malformed line of a label file is one error naming the file and
// line (before: nlohmann exceptions, and a point written [x] read past the end of its array).
TEST(LandmarkEval, MalformedLabelLinesGiveOneErrorLine) {
  const std::string dir = facekit::test::freshTempDir("facekit-eval-labels", "");
  std::string points;
  for (int i = 0; i < 106; ++i) points += std::string(i ? "," : "") + (i == 50 ? "[3]" : "[1,2]");
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"[1,2]", "not a JSON object"},
      {"{\"status\":\"ok\",\"image\":\"a.png\",\"points\":[" + points + "]}", "every point must be [x, y]"},
      {"{\"status\":\"ok\",\"image\":7,\"points\":[" + points + "]}", "\"image\" must be a string"},
      {"{\"status\":\"ok\",\"image\":\"a.png\",\"points\":[" + std::string(points).replace(points.find("[3]"), 3, "[1e300,2]") + "]}",
       "a point's x must be a finite number"},
      {"{\"status\":\"ok\",\"image\":\"a.png\",\"pose\":3,\"points\":[" + std::string(points).replace(points.find("[3]"), 3, "[1,2]") + "]}",
       "\"pose\" must be an object"},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string file = dir + "/" + std::to_string(i) + ".jsonl";
    std::ofstream(file) << "{\"status\":\"no face\"}\n" << rows[i].first << "\n";
    const auto r = facekit::test::runFacekit("eval landmarks --labels " + file + " --out " + dir + "/out");
    EXPECT_EQ(r.exit_code, 1) << rows[i].first;
    EXPECT_TRUE(r.oneErrorLine()) << r.err;
    EXPECT_NE(r.err.find(file + ": line 2: " + rows[i].second), std::string::npos) << r.err;
  }
}
