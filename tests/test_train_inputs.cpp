// The trainer's readers of untrusted text (tools/train/train_config.cpp, landmark_data.cpp),
// compiled here without libtorch so that they also run under ASan + UBSan (make test-asan builds
// no trainer). Every malformed label line or config value must end in one facekit::Error line
// naming the file and line (or the key): docs/reliability.md, findings 8, 9, 10, 11 and 17.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "facekit/error.hpp"
#include "landmark_data.hpp"
#include "test_util.hpp"
#include "train_config.hpp"

using namespace facekit;
using namespace facekit::train;
namespace fs = std::filesystem;

namespace {

// The message of the facekit::Error that f throws; fails the test (and returns "") if f throws
// nothing or anything else.
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a facekit::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error";
  return "";
}

bool oneLine(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

// A label line as `facekit label` writes it, for a face of about 100 px at (x, y) on the image.
Json goodLine(const std::string& image, float x = 200, float y = 100) {
  Json pts = Json::array();
  for (int i = 0; i < 106; ++i) pts.push_back({x + float(i % 11) * 10, y + float(i / 11) * 11});
  return Json{{"image", image},
              {"status", "ok"},
              {"points", pts},
              {"box", {x, y, x + 100, y + 110}},
              {"keypoints", {x + 30, y + 40, x + 70, y + 40, x + 50, y + 60, x + 35, y + 80, x + 65, y + 80}},
              {"score", 0.99},
              {"pose", {{"pitch", 1.0}, {"yaw", -2.0}, {"roll", 3.0}}},
              {"spread", 0.01}};
}

class LabelFile {
 public:
  LabelFile() : dir_(test::freshTempDir("facekit_train_inputs_", ::testing::UnitTest::GetInstance()->current_test_info()->name())) {}
  ~LabelFile() { fs::remove_all(dir_); }
  // Writes the lines to labels.jsonl and loads it: the error message, checked to be one line
  // naming the file and the line `bad_line`.
  std::string errorFor(const std::vector<std::string>& lines, int bad_line) {
    const std::string path = write(lines);
    const std::string e = errorOf([&] { (void)loadDataset(options(path), 1); });
    EXPECT_TRUE(oneLine(e)) << e;
    EXPECT_EQ(e.rfind(path + ":" + std::to_string(bad_line) + ": ", 0), 0u) << e;
    return e;
  }
  std::string write(const std::vector<std::string>& lines) {
    const std::string path = dir_ + "/labels.jsonl";
    std::ofstream f(path, std::ios::binary);
    for (const auto& l : lines) f << l << "\n";
    return path;
  }
  static DataOptions options(const std::string& path) {
    DataOptions o;
    o.labels = {path};
    o.val_fraction = 0;
    o.min_face_px = 10;
    o.max_spread = 0.05;
    return o;
  }

 private:
  std::string dir_;
};

const std::string kImage = FACEKIT_TEST_SAMPLE;  // 512x512, one face

}  // namespace

// A well-formed file loads: the checks below refuse the bad lines, not everything.
TEST(TrainInputs, AWellFormedLabelFileLoads) {
  LabelFile f;
  const std::string path = f.write({goodLine(kImage).dump(), R"({"image": "x.png", "status": "no_face"})", ""});
  const Dataset ds = loadDataset(LabelFile::options(path), 1);
  ASSERT_EQ(ds.train.size(), 1u);
  EXPECT_EQ(ds.skipped_status, 1u);
  EXPECT_EQ(ds.train[0].region.rows, 192);
  EXPECT_FLOAT_EQ(ds.train[0].pose.roll, 3.0f);
}

// Finding 8: "status" was read with value() before any check, so a line that is JSON but not an
// object, or whose status is not a string, escaped as nlohmann::json::type_error.
TEST(TrainInputs, LabelLinesThatAreNotObjectsOrWhoseStatusIsNotAString) {
  LabelFile f;
  const std::string ok = goodLine(kImage).dump();
  for (const char* line : {"[1, 2, 3]", "\"ok\"", "42", "null"})
    EXPECT_NE(f.errorFor({ok, line}, 2).find("not a facekit label line (a JSON object)"), std::string::npos) << line;
  for (const char* line : {R"({"status": 5})", R"({"status": null})", R"({"status": ["ok"]})"})
    EXPECT_NE(f.errorFor({line}, 1).find("\"status\" is not a string"), std::string::npos) << line;
}

// Finding 9: points and box were indexed with the unchecked const operator[]: a point [x] or a
// box of three numbers read past the end of a heap array (ASan: heap-buffer-overflow).
TEST(TrainInputs, ShortPointsBoxesAndKeypointsNameTheField) {
  LabelFile f;
  struct Row {
    const char* what;
    std::function<void(Json&)> change;
    const char* message;
  };
  const std::vector<Row> rows{
      {"a point of one number", [](Json& j) { j["points"][3] = {250.0}; }, "point 3 is not an array of at least 2 numbers"},
      {"an empty point", [](Json& j) { j["points"][105] = Json::array(); }, "point 105 is not an array of at least 2 numbers"},
      {"a point that is a number", [](Json& j) { j["points"][0] = 7; }, "point 0 is not an array"},
      {"a point of strings", [](Json& j) { j["points"][1] = {"a", "b"}; }, "point 1 is not a number"},
      {"105 points", [](Json& j) { j["points"].erase(0); }, "\"points\" is not an array of 106 points"},
      {"points as an object", [](Json& j) { j["points"] = {{"a", 1}}; }, "\"points\" is not an array of 106 points"},
      {"a box of three numbers", [](Json& j) { j["box"] = {1, 2, 3}; }, "\"box\" is not an array of 4 numbers"},
      {"an empty box", [](Json& j) { j["box"] = Json::array(); }, "\"box\" is not an array of 4 numbers"},
      {"a box of strings", [](Json& j) { j["box"] = {"1", "2", "3", "4"}; }, "\"box\" is not a number"},
      {"nine keypoint numbers", [](Json& j) { j["keypoints"].erase(9); }, "\"keypoints\" is not an array of 10 numbers"},
      {"no pose", [](Json& j) { j.erase("pose"); }, "no \"pose\""},
      {"pose without roll", [](Json& j) { j["pose"].erase("roll"); }, "no \"roll\""},
      {"pose as an array", [](Json& j) { j["pose"] = {1, 2, 3}; }, "\"pose\" is not an object"},
      {"image a number", [](Json& j) { j["image"] = 3; }, "\"image\" is not a string"},
      {"spread a string", [](Json& j) { j["spread"] = "0.01"; }, "\"spread\" is not a number"},
      {"score an object", [](Json& j) { j["score"] = Json::object(); }, "\"score\" is not a number"},
      // Beyond float's range, or far beyond any photo: refused before int pixel positions are
      // computed from them.
      {"a point at 1e300", [](Json& j) { j["points"][7][0] = 1e300; }, "point 7 is out of range"},
      {"a box at 1e30", [](Json& j) { j["box"][2] = 1e30; }, "\"box\" is out of range"},
      // wrapDegrees() would loop forever on a roll of 1e30 (subtracting 360 changes nothing).
      {"a roll of 1e30", [](Json& j) { j["pose"]["roll"] = 1e30; }, "pose roll is out of range"},
  };
  for (const auto& r : rows) {
    Json j = goodLine(kImage);
    r.change(j);
    const std::string e = f.errorFor({goodLine(kImage).dump(), j.dump()}, 2);
    EXPECT_NE(e.find(r.message), std::string::npos) << r.what << ": " << e;
  }
}

// Finding 11: only parse_error was caught; a number beyond double's range threw out_of_range.
TEST(TrainInputs, NumbersBeyondDoubleAreNotJsonLines) {
  LabelFile f;
  std::string line = goodLine(kImage).dump();
  line.replace(line.find("0.99"), 4, "1e400");
  EXPECT_NE(f.errorFor({goodLine(kImage).dump(), "", line}, 3).find("not a JSON line"), std::string::npos);
  EXPECT_NE(f.errorFor({"{\"status\": \"ok\", \"x\": -1e999}"}, 1).find("not a JSON line"), std::string::npos);
}

// Points that cannot belong to the image they name: all outside it, or spread over far more
// than it (a region of gigabytes): one line naming the label line, after the image is read.
TEST(TrainInputs, PointsThatDoNotLieOnTheirImage) {
  LabelFile f;
  EXPECT_NE(f.errorFor({goodLine(kImage).dump(), goodLine(kImage, 90000, 90000).dump()}, 2).find("do not lie on the image"), std::string::npos);
  Json wide = goodLine(kImage);
  wide["points"][0] = {-900000.0, -900000.0};
  EXPECT_NE(f.errorFor({wide.dump()}, 1).find("do not lie on the image " + kImage + " (512x512)"), std::string::npos);
}

// Finding 11 in the config reader: loadConfig and applyOverride caught only parse_error.
TEST(TrainInputs, ConfigNumbersBeyondDouble) {
  const std::string dir = test::freshTempDir("facekit_train_inputs_", "config");
  const std::string path = dir + "/c.json";
  std::ofstream(path) << "{\"train\": {\"max_epochs\": 1e400}}";
  const std::string e = errorOf([&] { (void)loadConfig(path); });
  EXPECT_TRUE(oneLine(e)) << e;
  EXPECT_NE(e.find(path + ": not valid JSON (number overflow"), std::string::npos) << e;
  Json cfg{{"train", {{"max_epochs", 2}}}};
  const std::string o = errorOf([&] { applyOverride(cfg, "train.max_epochs=1e400"); });
  EXPECT_NE(o.find("override 'train.max_epochs=1e400': number overflow"), std::string::npos) << o;
  EXPECT_EQ(cfg["train"]["max_epochs"], 2);
  fs::remove_all(dir);
}

// Finding 10: a wrong type was reported with dump(), which throws type_error 316 on a string
// that is not UTF-8; such strings came in as bare --cfg-options values.
TEST(TrainInputs, ConfigStringsThatAreNotUtf8) {
  const Json direct{{"name", std::string("caf\xe9")}};
  const std::string e = errorOf([&] { (void)get<int>(direct, "name"); });
  EXPECT_TRUE(oneLine(e)) << e;
  EXPECT_NE(e.find("key 'name' has the wrong type (\"caf"), std::string::npos) << e;
  Json cfg{{"train", {{"name", "x"}}}};
  const std::string o = errorOf([&] { applyOverride(cfg, "train.name=caf\xe9"); });
  EXPECT_NE(o.find("is not valid UTF-8"), std::string::npos) << o;
  EXPECT_EQ(cfg["train"]["name"], "x");
  applyOverride(cfg, "train.name=caf\xc3\xa9");  // valid UTF-8 stays a bare string
  EXPECT_EQ(get<std::string>(cfg, "train.name"), "caf\xc3\xa9");
  // A long value is shortened in the message.
  const Json longer{{"v", std::string(500, 'a')}};
  EXPECT_LT(errorOf([&] { (void)get<int>(longer, "v"); }).size(), 150u);
}

// Finding 17: get<int>() cast a JSON float to int unchecked (UB beyond int's range).
TEST(TrainInputs, ConfigIntsMustBeWholeNumbersWithinIntsRange) {
  const Json cfg{{"t",
                  {{"huge", 1e50},
                   {"half", 2.5},
                   {"whole", 3.0},
                   {"big", 2147483648LL},
                   {"max", 2147483647},
                   {"min", -2147483648LL},
                   {"below", -2147483649LL},
                   {"u", 18446744073709551615ULL},
                   {"stages", {{2, 24}, {2, 1e50}}},
                   {"stages_ok", {{2, 24}, {3, 64.0}}}}}};
  for (const char* key : {"t.huge", "t.half", "t.big", "t.below", "t.u"}) {
    const std::string e = errorOf([&] { (void)get<int>(cfg, key); });
    EXPECT_NE(e.find(std::string("key '") + key + "' must be a whole number within int's range"), std::string::npos) << e;
  }
  EXPECT_EQ(get<int>(cfg, "t.whole"), 3);
  EXPECT_EQ(get<int>(cfg, "t.max"), 2147483647);
  EXPECT_EQ(get<int>(cfg, "t.min"), -2147483647 - 1);
  EXPECT_DOUBLE_EQ(get<double>(cfg, "t.huge"), 1e50);  // a double key takes it
  const std::string s = errorOf([&] { (void)get<std::vector<std::vector<int>>>(cfg, "t.stages"); });
  EXPECT_NE(s.find("key 't.stages' must hold whole numbers within int's range"), std::string::npos) << s;
  EXPECT_EQ(get<std::vector<std::vector<int>>>(cfg, "t.stages_ok"), (std::vector<std::vector<int>>{{2, 24}, {3, 64}}));
  // Through an override, as `--cfg-options train.max_epochs=1e50` gives it.
  Json train{{"train", {{"max_epochs", 60}}}};
  applyOverride(train, "train.max_epochs=1e50");
  EXPECT_NE(errorOf([&] { (void)get<int>(train, "train.max_epochs"); }).find("'train.max_epochs' must be a whole number"), std::string::npos);
}

// The landmark trainer's data and augment sections: values it cannot use are refused by key.
TEST(TrainInputs, DataAndAugmentValuesOutOfRange) {
  const Json cfg = loadConfig(std::string(FACEKIT_TEST_SOURCE_DIR) + "/configs/landmark106.json");
  EXPECT_NO_THROW((void)DataOptions::fromConfig(at(cfg, "data")));
  EXPECT_NO_THROW((void)AugmentOptions::fromConfig(at(cfg, "augment")));
  struct Row {
    const char* override_kv;
    const char* message;
  };
  for (const Row& r : std::vector<Row>{{"data.region_px=0", "key 'data.region_px' must be in [16, 2048], not 0"},
                                       {"data.region_px=1e10", "key 'region_px' must be a whole number"},
                                       {"data.val_fraction=1.5", "key 'data.val_fraction' must be in [0, 1], not 1.5"},
                                       {"data.min_face_px=-1", "key 'data.min_face_px' must be in"},
                                       {"data.large_pose_repeat=2000000000", "key 'data.large_pose_repeat' must be in [1, 100]"},
                                       {"augment.flip_prob=2", "key 'augment.flip_prob' must be in [0, 1], not 2"},
                                       {"augment.scale=1", "key 'augment.scale' must be in [0, 0.9], not 1"},
                                       {"augment.rotate_deg=-5", "key 'augment.rotate_deg' must be in [0, 180]"}}) {
    Json c = cfg;
    applyOverride(c, r.override_kv);
    const std::string e = errorOf([&] {
      (void)DataOptions::fromConfig(at(c, "data"));
      (void)AugmentOptions::fromConfig(at(c, "augment"));
    });
    EXPECT_TRUE(oneLine(e)) << e;
    EXPECT_NE(e.find(r.message), std::string::npos) << r.override_kv << ": " << e;
  }
}
