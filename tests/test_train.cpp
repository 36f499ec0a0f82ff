// The libtorch trainer: exported models run on facekit's engine exactly as libtorch runs them,
// configs and overrides behave, and short real training and fine-tuning runs produce logs and
// models that the library loads. Built only when libtorch is installed (facekit_train_tests).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/graph.hpp"
#include "facekit/error.hpp"
#include "facekit/landmarks.hpp"
#include "landmark_data.hpp"
#include "landmark_net.hpp"
#include "models/landmarks/landmark106_net.hpp"
#include "test_util.hpp"
#include "train_config.hpp"

namespace fs = std::filesystem;
using namespace facekit;
using namespace facekit::train;

namespace {

const std::string kShippedModel = std::string(FACEKIT_TEST_WEIGHTS_DIR) + "/landmark106.safetensors";

std::string tempDir(const std::string& name) { return test::freshTempDir("facekit_train_test_", name); }
int sh(const std::string& cmd) { return test::shellExitCode(cmd); }

// Random but plausible batch-norm statistics, so folding is actually exercised.
void randomiseBatchNorms(LandmarkNet& net, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard ng;
  for (auto& m : net->modules(false))
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.3, 0.3);
    }
}

// The engine's result for NCHW input x (converted to NHWC).
std::vector<float> engineForward(const engine::ModelFile& m, engine::Backend b, const torch::Tensor& x) {
  auto g = engine::Graph::build(m, b);
  const auto nhwc = x.permute({0, 2, 3, 1}).contiguous();
  engine::Tensor in({int(x.size(0)), int(x.size(2)), int(x.size(3)), int(x.size(1))});
  std::copy(nhwc.data_ptr<float>(), nhwc.data_ptr<float>() + nhwc.numel(), in.data());
  const auto outs = g.forward(in, nullptr);
  return std::vector<float>(outs[0]->data(), outs[0]->data() + outs[0]->numel());
}

}  // namespace

TEST(TrainNet, ExportedModelRunsOnTheEngineAsOnLibtorch) {
  LandmarkNet net(NetSpec{});
  randomiseBatchNorms(net, 7);
  net->eval();
  torch::manual_seed(11);
  const auto x = torch::randn({2, 3, 96, 96});
  const auto want = net->forward(x).contiguous();
  const auto m = net->exportModel();
  for (auto backend : {engine::Backend::kReference, engine::Backend::kFast}) {
    const auto got = engineForward(m, backend, x);
    ASSERT_EQ(got.size(), size_t(want.numel()));
    EXPECT_LT(test::relativeError(got.data(), want.data_ptr<float>(), got.size()), 1e-4) << engine::backendName(backend);
  }
}

TEST(TrainNet, ImportThenExportIsTheSameModelAndFrozenBatchNormsKeepIt) {
  LandmarkNet a(NetSpec{});
  randomiseBatchNorms(a, 3);
  const auto m = a->exportModel();
  LandmarkNet b(NetSpec{});
  b->importModel(m);
  b->freezeBatchNorm(true);
  b->train();  // batch norms must stay in inference mode: fine-tuning starts from the same function
  torch::manual_seed(5);
  const auto x = torch::randn({3, 3, 96, 96});
  a->eval();
  const auto want = a->forward(x).contiguous();
  const auto got = b->forward(x).contiguous();
  EXPECT_LT(test::relativeError(got.data_ptr<float>(), want.data_ptr<float>(), size_t(want.numel())), 1e-5);
}

TEST(TrainNet, CostIsWithinTheBudgetAndCountedByHand) {
  const NetCost c = netCost(NetSpec{});
  EXPECT_LE(c.parameters, 300000);
  EXPECT_LE(c.macs, 8000000);
  // The stem alone by hand: 3x3 conv 3->16 at stride 2 on 96x96 gives 48x48x16 outputs of 27 MACs.
  NetSpec tiny;
  tiny.stages = {};
  tiny.head = 8;
  // stem 48*48*16*27 + stem_dw 24*24*16*9 + head (3x3 s2 on 24 -> 12) 12*12*8*16*9 + fc (12x12 kernel) 215*12*12*8
  const int64_t want = 48 * 48 * 16 * 27 + 24 * 24 * 16 * 9 + 12 * 12 * 8 * 16 * 9 + int64_t(215) * 12 * 12 * 8;
  EXPECT_EQ(netCost(tiny).macs, want);
}

TEST(TrainConfig, OverridesNeedKnownKeysAndKeepTypes) {
  Json cfg = Json::parse(R"({"train": {"max_epochs": 60, "name": "x"}, "data": {"labels": ["a"]}})");
  applyOverrides(cfg, {"train.max_epochs=2", "data.labels=[\"b\", \"c\"]", "train.name=some/path.jsonl"});
  EXPECT_EQ(cfg["train"]["max_epochs"], 2);
  EXPECT_EQ(cfg["data"]["labels"].size(), 2u);
  EXPECT_EQ(cfg["train"]["name"], "some/path.jsonl");
  EXPECT_THROW(applyOverride(cfg, "train.max_epoch=2"), Error);     // typo
  EXPECT_THROW(applyOverride(cfg, "train.max_epochs=two"), Error);  // type
  EXPECT_THROW(applyOverride(cfg, "train.max_epochs"), Error);      // no value
}

TEST(TrainConfig, ShippedConfigLoadsWithComments) {
  const Json cfg = loadConfig(std::string(FACEKIT_TEST_SOURCE_DIR) + "/configs/landmark106.json");
  EXPECT_EQ(get<std::string>(cfg, "task"), "landmark106");
  EXPECT_GE(get<int>(cfg, "train.max_epochs"), 1);
  EXPECT_THROW(get<int>(cfg, "train.nope"), Error);
}

TEST(TrainData, ValidationSplitIsAFixedTenPercentByFileName) {
  size_t val = 0;
  for (int i = 0; i < 5000; ++i) val += isValidationImage("/x/img" + std::to_string(i) + ".jpg", 0.1);
  EXPECT_NEAR(double(val) / 5000, 0.1, 0.015);
  EXPECT_EQ(isValidationImage("/a/b/face.jpg", 0.1), isValidationImage("/other/dir/face.jpg", 0.1));  // name, not folder
}

// The CI-sized run: label 32 images with the mesh teacher, train 2 epochs, check the log, load
// the export into the library and run it on the sample photo.
TEST(TrainRun, TwoEpochsOnThirtyTwoImagesLogExportReload) {
  FACEKIT_REQUIRE_SHARED();
  const std::string dir = tempDir("run");
  fs::create_directories(dir + "/images");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(test::sharedDir() + "/data/utkface-crops/images")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 32u);
  for (size_t i = 0; i < 32; ++i) fs::create_symlink(files[i], dir + "/images/" + files[i].filename().string());
  ASSERT_EQ(sh(std::string(FACEKIT_TEST_CLI) + " label --backend mesh --images " + dir + "/images --out " + dir + "/labels.jsonl --detector-model " +
               FACEKIT_TEST_MODEL + " --mesh-model " + FACEKIT_TEST_MODEL_DIR + "/facemesh.safetensors 2>/dev/null"),
            0);
  const std::string work = dir + "/work";
  ASSERT_EQ(sh(std::string(FACEKIT_TEST_CLI) + " train --config " + FACEKIT_TEST_SOURCE_DIR + "/configs/landmark106.json --work-dir " + work +
               " --cfg-options train.max_epochs=2 train.batch_size=8 train.log_interval=1 data.val_fraction=0.25 'data.labels=[\"" + dir +
               "/labels.jsonl\"]' 2>" + dir + "/stderr.txt"),
            0);
  // The log: a meta line, train lines with the documented keys, one val line per epoch.
  std::vector<fs::path> logs;
  for (const auto& e : fs::directory_iterator(work))
    if (e.path().string().size() > 9 && e.path().string().substr(e.path().string().size() - 9) == ".log.json") logs.push_back(e.path());
  ASSERT_EQ(logs.size(), 1u);
  std::ifstream log(logs[0]);
  int train_lines = 0, val_lines = 0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string mode = j.at("mode");
    if (mode == "train") {
      ++train_lines;
      for (const char* k : {"epoch", "iter", "lr", "loss", "loss_points", "loss_pose", "time"}) EXPECT_TRUE(j.contains(k)) << k;
      EXPECT_TRUE(std::isfinite(j["loss"].get<double>()));
    } else if (mode == "val") {
      ++val_lines;
      for (const char* k : {"epoch", "nme_ion", "pose_mae", "faces"}) EXPECT_TRUE(j.contains(k)) << k;
      EXPECT_GT(j["faces"].get<int>(), 0);
    }
  }
  EXPECT_GE(train_lines, 2);
  EXPECT_EQ(val_lines, 2);
  EXPECT_TRUE(fs::exists(work + "/latest.pt"));
  EXPECT_TRUE(fs::exists(work + "/epoch_2.pt"));
  // The export loads in the library (no libtorch there) and runs end to end.
  LandmarkerOptions o;
  o.detector.model_path = FACEKIT_TEST_MODEL;
  o.model_path = work + "/landmark106.safetensors";
  auto lm = FaceLandmarker::create(o);
  const auto faces = lm->detect(test::astronaut().view());
  ASSERT_EQ(faces.size(), 1u);
  for (const auto& p : faces[0].points) EXPECT_TRUE(std::isfinite(p.x) && std::isfinite(p.y));
  // Resuming from the last checkpoint with more epochs continues at epoch 3.
  ASSERT_EQ(sh(std::string(FACEKIT_TEST_CLI) + " train --config " + FACEKIT_TEST_SOURCE_DIR + "/configs/landmark106.json --work-dir " + work +
               " --resume " + work + "/latest.pt --cfg-options train.max_epochs=3 train.batch_size=8 'data.labels=[\"" + dir +
               "/labels.jsonl\"]' 2>/dev/null"),
            0);
  EXPECT_TRUE(fs::exists(work + "/epoch_3.pt"));
  fs::remove_all(dir);
}

// Fine-tuning the shipped model: with a zero learning rate the export is the shipped function
// (import, frozen batch norms and export are exact); with the default one it loads and runs.
TEST(TrainRun, FineTuneTheShippedModel) {
  FACEKIT_REQUIRE_SHARED();
  ASSERT_TRUE(fs::exists(kShippedModel));
  const std::string dir = tempDir("finetune");
  fs::create_directories(dir + "/images");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(test::sharedDir() + "/data/faces")) {
    const auto ext = e.path().extension().string();
    if (ext == ".jpg" || ext == ".png") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i < std::min<size_t>(16, files.size()); ++i) fs::create_symlink(files[i], dir + "/images/" + files[i].filename().string());
  ASSERT_EQ(sh(std::string(FACEKIT_TEST_CLI) + " label --backend mesh --images " + dir + "/images --out " + dir + "/labels.jsonl --detector-model " +
               FACEKIT_TEST_MODEL + " --mesh-model " + FACEKIT_TEST_MODEL_DIR + "/facemesh.safetensors 2>/dev/null"),
            0);
  const std::string base = std::string(FACEKIT_TEST_CLI) + " train --config " + FACEKIT_TEST_SOURCE_DIR + "/configs/landmark106.json --finetune " +
                           kShippedModel + " --cfg-options train.max_epochs=1 train.batch_size=4 'data.labels=[\"" + dir + "/labels.jsonl\"]'";
  ASSERT_EQ(sh(base + " optimizer.lr=0 optimizer.weight_decay=0 --work-dir " + dir + "/zero 2>/dev/null"), 0);
  ASSERT_EQ(sh(base + " --work-dir " + dir + "/tuned 2>/dev/null"), 0);

  landmarks::Landmark106Net shipped(kShippedModel), zero(dir + "/zero/landmark106.safetensors"), tuned(dir + "/tuned/landmark106.safetensors");
  const auto x = test::randomTensor({1, 96, 96, 3}, 9);
  const engine::Tensor a = shipped.runRaw(x), b = zero.runRaw(x), c = tuned.runRaw(x);
  EXPECT_TRUE(test::sameTensor(b, a, 1e-5));
  EXPECT_FALSE(test::sameTensor(c, a, 1e-6));  // training did change it
  fs::remove_all(dir);
}

TEST(TrainRun, BadInputsGiveOneLineErrors) {
  const std::string dir = tempDir("bad");
  const std::string cli = std::string(FACEKIT_TEST_CLI) + " train --config ";
  const std::string cfg = std::string(FACEKIT_TEST_SOURCE_DIR) + "/configs/landmark106.json";
  auto runErr = [&](const std::string& args) {
    const int rc = sh(cli + args + " 2>" + dir + "/err.txt");
    std::ifstream f(dir + "/err.txt");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    return std::make_pair(rc, text);
  };
  auto [rc1, e1] = runErr("/nonexistent.json --work-dir " + dir + "/w");
  EXPECT_EQ(rc1, 1);
  EXPECT_NE(e1.find("cannot read the config"), std::string::npos) << e1;
  auto [rc2, e2] = runErr(cfg + " --work-dir " + dir + "/w --cfg-options train.max_epoch=2");
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(e2.find("unknown key 'train.max_epoch'"), std::string::npos) << e2;
  auto [rc3, e3] = runErr(cfg + " --work-dir " + dir + "/w --cfg-options 'data.labels=[\"/nonexistent.jsonl\"]'");
  EXPECT_EQ(rc3, 1);
  EXPECT_NE(e3.find("cannot read the label file"), std::string::npos) << e3;
  auto [rc4, e4] = runErr(cfg + " --work-dir " + dir + "/w --cfg-options train.checkpoint_interval=0");  // was a division by zero
  EXPECT_EQ(rc4, 1);
  EXPECT_NE(e4.find("train.checkpoint_interval must be >= 1"), std::string::npos) << e4;
  fs::remove_all(dir);
}
