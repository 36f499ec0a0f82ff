// The WIDER FACE evaluator: real ground truth read two independent ways, perfect predictions,
// and small cases whose AP is computed by hand.
#include "eval/widerface.hpp"
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

using namespace facekit::eval;

namespace {

const GroundTruth& realGt() {
  static const GroundTruth gt = loadWiderMat(facekit::test::sharedDir() + "/data/wider-face-gt");
  return gt;
}

// One event "e", one image "a" whose boxes all count.
GroundTruth tiny(std::vector<XywhBox> boxes, std::vector<int> keep) {
  GroundTruth gt;
  gt.settings = {"all"};
  gt.events = {{"e", {{"a", std::move(boxes), {std::move(keep)}}}}};
  return gt;
}

}  // namespace

TEST(WiderEval, IouUsesThePlusOnePixelConvention) {
  EXPECT_DOUBLE_EQ(iouPlusOne({0, 0, 9, 9}, {0, 0, 9, 9}), 1.0);
  EXPECT_DOUBLE_EQ(iouPlusOne({0, 0, 9, 9}, {5, 0, 9, 9}), 50.0 / 150.0);  // 5x10 px overlap of two 10x10 px boxes
  EXPECT_DOUBLE_EQ(iouPlusOne({0, 0, 9, 9}, {20, 20, 5, 5}), 0.0);
}

// 4 faces, 2 found exactly: recall 0.5 at precision 1 -> AP = 0.5.
TEST(WiderEval, DroppedBoxesHandComputed) {
  const auto gt = tiny({{0, 0, 20, 20}, {40, 0, 20, 20}, {80, 0, 20, 20}, {120, 0, 20, 20}}, {0, 1, 2, 3});
  const Predictions p = {{"e/a", {{{0, 0, 20, 20}, 0.9}, {{40, 0, 20, 20}, 0.8}}}};
  const auto r = evaluate(gt, p);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NEAR(r[0].ap, 0.5, 1e-9);
  EXPECT_EQ(r[0].gt_faces, 4u);
}

// 3 faces; predictions by score: hit, a jittered box (IoU < 0.5: a false positive), hit.
// PR points: (1/3, 1), (1/3, 1/2), (2/3, 2/3); envelope area = 1/3 * 1 + 1/3 * 2/3 = 5/9.
TEST(WiderEval, JitteredBoxesHandComputed) {
  const auto gt = tiny({{0, 0, 20, 20}, {40, 0, 20, 20}, {80, 0, 20, 20}}, {0, 1, 2});
  const Predictions p = {{"e/a", {{{0, 0, 20, 20}, 0.9}, {{52, 8, 20, 20}, 0.8}, {{80, 0, 20, 20}, 0.7}}}};
  ASSERT_LT(iouPlusOne({52, 8, 20, 20}, {40, 0, 20, 20}), 0.5);
  EXPECT_NEAR(evaluate(gt, p)[0].ap, 5.0 / 9.0, 1e-9);
}

// A detection of a face outside the setting (the "ignore" set) is neither right nor wrong.
TEST(WiderEval, DetectionsOfIgnoredFacesAreNotFalsePositives) {
  const auto gt = tiny({{0, 0, 20, 20}, {40, 0, 20, 20}}, {0});
  const Predictions p = {{"e/a", {{{40, 0, 20, 20}, 0.9}, {{0, 0, 20, 20}, 0.8}}}};
  EXPECT_NEAR(evaluate(gt, p)[0].ap, 1.0, 1e-9);
  const Predictions miss = {{"e/a", {{{200, 0, 20, 20}, 0.9}, {{0, 0, 20, 20}, 0.8}}}};
  EXPECT_NEAR(evaluate(gt, miss)[0].ap, 0.5, 1e-9);  // a real false positive first: precision 1/2 at recall 1
}

TEST(WiderEval, ReadsTheOfficialMatFiles) {
  FACEKIT_REQUIRE_SHARED();
  const auto& gt = realGt();
  EXPECT_EQ(gt.events.size(), 61u);
  EXPECT_EQ(gt.imageCount(), 3226u);
  EXPECT_EQ(gt.boxCount(), 39708u);  // the WIDER FACE val set's published face count
  EXPECT_EQ(gt.settings, (std::vector<std::string>{"easy", "medium", "hard"}));
  size_t keep[3] = {0, 0, 0};
  for (const auto& e : gt.events)
    for (const auto& i : e.images)
      for (size_t s = 0; s < 3; ++s) keep[s] += i.keep[s].size();
  EXPECT_LT(keep[0], keep[1]);  // each harder setting adds faces
  EXPECT_LT(keep[1], keep[2]);
  EXPECT_LE(keep[2], gt.boxCount());
}

// The same boxes as published in the official text format (a partial copy in ../shared, read by
// facekit's text parser) must equal what libmatio reads from the .mat file.
TEST(WiderEval, MatFileAgreesWithTheTextGroundTruth) {
  FACEKIT_REQUIRE_SHARED();
  const auto text = loadBbxGtText(facekit::test::sharedDir() + "/data/widerface-val-subset/wider_face_val_bbx_gt.subset1062.txt");
  EXPECT_EQ(text.imageCount(), 1062u);
  std::map<std::string, const GtImage*> mat;
  for (const auto& e : realGt().events)
    for (const auto& i : e.images) mat[e.name + "/" + i.name] = &i;
  size_t compared = 0;
  for (const auto& e : text.events)
    for (const auto& i : e.images) {
      const GtImage* m = mat.at(e.name + "/" + i.name);
      ASSERT_EQ(m->boxes.size(), i.boxes.size()) << i.name;
      for (size_t b = 0; b < i.boxes.size(); ++b) {
        EXPECT_EQ(m->boxes[b].x, i.boxes[b].x);
        EXPECT_EQ(m->boxes[b].h, i.boxes[b].h);
      }
      compared += i.boxes.size();
    }
  EXPECT_EQ(compared, 21892u);  // the count SOURCE.md documents for that file
}

TEST(WiderEval, PerfectPredictionsScoreOnePerSetting) {
  FACEKIT_REQUIRE_SHARED();
  const auto& gt = realGt();
  for (size_t s = 0; s < 3; ++s) {
    Predictions p;
    for (const auto& e : gt.events)
      for (const auto& i : e.images) {
        auto& d = p[e.name + "/" + i.name];
        for (int k : i.keep[s]) d.push_back({i.boxes[size_t(k)], 1.0});
      }
    const auto r = evaluate(gt, p);
    EXPECT_NEAR(r[s].ap, 1.0, 5e-4) << gt.settings[s];
  }
}

TEST(WiderEval, SubsetsCountOnlyTheEvaluatedImages) {
  FACEKIT_REQUIRE_SHARED();
  const auto& gt = realGt();
  const auto& img = gt.events[0].images[0];
  Predictions p = {{gt.events[0].name + "/" + img.name, {}}};
  const auto r = evaluate(gt, p);
  EXPECT_EQ(r[2].gt_faces, img.keep[2].size());
  EXPECT_EQ(r[2].ap, 0.0);
}

TEST(WiderEval, PredictionFilesUseTheOfficialFormat) {
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-wider-pred";
  writePredictionFiles({{"0--Parade/img_1", {{{1, 2, 30, 40}, 0.5}}}}, dir);
  std::ifstream f(dir + "/0--Parade/img_1.txt");
  std::string all((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(all, "img_1\n1\n1.0 2.0 30.0 40.0 0.5000\n");
}

// `facekit eval detections` on a user's folder in WIDER's text format: two real val images whose
// ground truth is copied from the official text file.
TEST(WiderEval, EvalDetectionsCommandOnAUserFolder) {
  FACEKIT_REQUIRE_SHARED();
  const std::string shared = facekit::test::sharedDir() + "/data/widerface-val-subset";
  const std::string dir = std::filesystem::temp_directory_path() / "facekit-eval-det";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/images/13--Interview");
  std::ifstream gt(shared + "/wider_face_val_bbx_gt.subset1062.txt");
  std::ofstream mine(dir + "/gt.txt");
  int copied = 0;
  for (std::string line; copied < 2 && std::getline(gt, line);) {
    if (line.rfind("13--Interview/", 0) != 0) continue;
    std::filesystem::copy_file(shared + "/images/" + line, dir + "/images/" + line);
    mine << line << "\n";
    std::string count;
    std::getline(gt, count);
    mine << count << "\n";
    for (int k = 0; k < std::max(1, std::stoi(count)); ++k) {
      std::getline(gt, line);
      mine << line << "\n";
    }
    ++copied;
  }
  mine.close();
  ASSERT_EQ(copied, 2);
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " eval detections --images " + dir + "/images --annotations " + dir +
                          "/gt.txt --model " + FACEKIT_TEST_MODEL + " --out " + dir + "/out > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream res(dir + "/out/results.json");
  const auto j = nlohmann::json::parse(res);
  EXPECT_EQ(j["images_evaluated"], 2);
  EXPECT_GT(j["ap"]["facekit"]["all"].get<double>(), 0.5);  // interview photos: large, clear faces
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/pr_curves.png"));
}
