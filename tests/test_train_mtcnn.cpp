// MTCNN training (tools/train/mtcnn_*): the libtorch nets read and write facekit's model file
// exactly (engine == libtorch), the sample generator's IoU classes on hand-made boxes, hard
// samples come from the previous stage's output, and a CI-sized fine-tuning run writes a valid
// log and a model that `facekit detect --model` loads. Built only with the trainer.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <random>
#include <set>

#include "facekit/error.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"
#include "mtcnn_data.hpp"
#include "mtcnn_net.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace facekit;
using namespace facekit::train;

namespace {

std::string tempDir(const std::string& name) { return test::freshTempDir("facekit_mtcnn_test_", name); }
int sh(const std::string& cmd) { return test::shellExitCode(cmd); }

// The engine's output for NCHW x (run as NHWC), flattened.
std::vector<float> engineForward(engine::Sequential& net, const torch::Tensor& x) {
  const auto nhwc = x.permute({0, 2, 3, 1}).contiguous();
  engine::Tensor in(engine::Shape{int(x.size(0)), int(x.size(2)), int(x.size(3)), int(x.size(1))});
  std::copy(nhwc.data_ptr<float>(), nhwc.data_ptr<float>() + nhwc.numel(), in.data());
  const engine::Tensor& out = net.forward(in, nullptr);
  return std::vector<float>(out.data(), out.data() + out.shape().numel());
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::string kShipped = FACEKIT_TEST_MODEL;

}  // namespace

TEST(MtcnnTrainNet, ShippedWeightsRunOnLibtorchAsOnTheEngine) {
  if (!fs::exists(kShipped)) GTEST_SKIP() << kShipped << " missing (make models)";
  const auto m = engine::ModelFile::load(kShipped);
  mtcnn::Nets nets = mtcnn::buildNets(m, engine::Backend::kReference);
  for (const char* w : {"pnet", "rnet", "onet"}) {
    MtcnnNet net(w);
    net->importFrom(m);
    net->eval();
    torch::manual_seed(3);
    // P-Net at a non-square pyramid level size, the others at their input size
    const int h = std::string(w) == "pnet" ? 31 : net->inputSize(), wd = std::string(w) == "pnet" ? 40 : net->inputSize();
    const auto x = torch::rand({2, 3, h, wd}) * 2 - 1;
    torch::NoGradGuard ng;
    auto want = net->forward(x);
    if (want.dim() == 4) want = want.permute({0, 2, 3, 1});
    want = want.contiguous();
    engine::Sequential& e = std::string(w) == "pnet" ? nets.pnet : std::string(w) == "rnet" ? nets.rnet : nets.onet;
    const auto got = engineForward(e, x);
    ASSERT_EQ(got.size(), size_t(want.numel())) << w;
    EXPECT_LT(test::relativeError(got.data(), want.data_ptr<float>(), got.size()), 1e-4) << w;
  }
}

TEST(MtcnnTrainNet, ExportThenImportKeepsEveryTensor) {
  const engine::ModelFile fresh = freshMtcnnModel(5);
  mtcnn::buildNets(fresh, engine::Backend::kReference);  // loadable by the detector
  engine::ModelFile again;
  for (const char* w : {"pnet", "rnet", "onet"}) {
    MtcnnNet net(w);
    net->importFrom(fresh);
    net->exportInto(again);
  }
  ASSERT_EQ(again.tensors().size(), fresh.tensors().size());
  for (const auto& [name, t] : fresh.tensors()) EXPECT_EQ(again.tensors().at(name).data, t.data) << name;
}

TEST(MtcnnSamples, IouClassesOnHandMadeBoxes) {
  const std::vector<Box> faces = {{100, 100, 200, 200}, {400, 100, 440, 140}};
  int best = -2;
  EXPECT_EQ(classifyWindow({100, 100, 200, 200}, faces, &best), kPositive);
  EXPECT_EQ(best, 0);
  // Shifted by 10 px: IoU 90*100 / (2*10000 - 9000) = 0.818
  EXPECT_EQ(classifyWindow({110, 100, 210, 200}, faces), kPositive);
  // Shifted by 20: 8000 / 12000 = 0.667 >= 0.65
  EXPECT_EQ(classifyWindow({120, 100, 220, 200}, faces), kPositive);
  // Shifted by 22: 7800 / 12200 = 0.639: part
  EXPECT_EQ(classifyWindow({122, 100, 222, 200}, faces), kPart);
  // Shifted by 40: 6000 / 14000 = 0.429: part; by 45: 5500 / 14500 = 0.379: neither (unused)
  EXPECT_EQ(classifyWindow({140, 100, 240, 200}, faces), kPart);
  EXPECT_EQ(classifyWindow({145, 100, 245, 200}, faces), kIgnored);
  // By 50: 5000 / 15000 = 0.333: unused; by 55: 4500 / 15500 = 0.290: negative
  EXPECT_EQ(classifyWindow({150, 100, 250, 200}, faces), kIgnored);
  EXPECT_EQ(classifyWindow({155, 100, 255, 200}, faces), kNegative);
  // The best face decides: a window on the small face
  EXPECT_EQ(classifyWindow({402, 100, 442, 140}, faces, &best), kPositive);
  EXPECT_EQ(best, 1);
  EXPECT_EQ(classifyWindow({0, 0, 50, 50}, faces, &best), kNegative);
  EXPECT_EQ(best, -1);
  EXPECT_EQ(classifyWindow({0, 0, 50, 50}, {}), kNegative);
  // Regression targets: what the detector adds (x1 + dx1 * w, ...) gives the face back
  const Box w{110, 90, 210, 190};
  const auto r = regressionTarget(w, faces[0]);
  EXPECT_FLOAT_EQ(w.x1 + r[0] * w.width(), 100);
  EXPECT_FLOAT_EQ(w.y1 + r[1] * w.height(), 100);
  EXPECT_FLOAT_EQ(w.x2 + r[2] * w.width(), 200);
  EXPECT_FLOAT_EQ(w.y2 + r[3] * w.height(), 200);
}

TEST(MtcnnSamples, RandomAndMinedWindowsAreClassifiedByIou) {
  cv::Mat rgb(300, 500, CV_8UC3, cv::Scalar(40, 80, 120));
  TrainImage im;
  im.all = im.faces = {{100, 100, 200, 200}};
  im.points = {std::array<Point2f, 5>{{{130, 130}, {170, 130}, {150, 150}, {135, 175}, {165, 175}}}};
  SamplingOptions o;
  std::mt19937_64 rng(1);
  SampleSet s;
  s.size = 24;
  randomSamples(rgb, im, o, /*landmarks=*/true, rng, s);
  ASSERT_GT(s.count(kPositive), 0u);
  ASSERT_GT(s.count(kPart), 0u);
  ASSERT_GT(s.count(kNegative), 0u);
  ASSERT_GT(s.count(kLandmark), 0u);
  EXPECT_EQ(s.pixels.size(), s.count() * 24 * 24 * 3);
  // Each positive's targets put the face back within IoU >= 0.65 of its window; landmarks in [0, 1].
  for (size_t i = 0; i < s.count(); ++i) {
    if (s.kind[i] == kLandmark)
      for (int p = 0; p < 10; ++p) EXPECT_TRUE(s.points[10 * i + size_t(p)] > 0 && s.points[10 * i + size_t(p)] < 1);
  }
  // Mined: hand-made "previous stage" boxes, one of each class; negatives capped
  const std::vector<Box> cands = {{100, 100, 200, 200}, {140, 100, 240, 200}, {145, 100, 245, 200}, {300, 50, 360, 110}, {320, 150, 380, 210}};
  SampleSet m;
  m.size = 24;
  o.mined_per_image = 1;
  EXPECT_EQ(minedSamples(rgb, im, cands, o, rng, m), 3u);
  EXPECT_EQ(m.count(kPositive), 1u);
  EXPECT_EQ(m.count(kPart), 1u);
  EXPECT_EQ(m.count(kNegative), 1u);
}

// Hard samples come from the previous stage: with a P-Net that never fires there is nothing to
// mine; with the shipped P-Net the miner returns the squared P-Net boxes that facekit's pipeline
// passes to R-Net, and what R-Net rejects never reaches O-Net's samples.
TEST(MtcnnSamples, MiningRunsThePreviousStage) {
  if (!fs::exists(kShipped)) GTEST_SKIP() << kShipped << " missing (make models)";
  const std::string dir = tempDir("mine");
  const auto shipped = engine::ModelFile::load(kShipped);
  const cv::Mat rgb = readRgb(FACEKIT_TEST_SAMPLE);
  auto pnet_boxes = previousStageBoxes(*makeMiner(shipped, "pnet", dir + "/m.safetensors", 0.6f, 0.7f, 20), rgb);
  ASSERT_GT(pnet_boxes.size(), 3u);
  for (const Box& b : pnet_boxes) EXPECT_NEAR(b.width(), b.height(), 1.01f);
  auto rnet_boxes = previousStageBoxes(*makeMiner(shipped, "rnet", dir + "/m.safetensors", 0.6f, 0.7f, 20), rgb);
  ASSERT_FALSE(rnet_boxes.empty());
  EXPECT_LT(rnet_boxes.size(), pnet_boxes.size());  // R-Net rejected some
  // The shipped detector's face is among the R-Net boxes (O-Net refines one of them).
  DetectorOptions o;
  o.model_path = kShipped;
  const auto faces = FaceDetector::create(o)->detect({rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step});
  ASSERT_FALSE(faces.empty());
  float best = 0;
  for (const Box& b : rnet_boxes) best = std::max(best, iou(b, faces[0].box));
  EXPECT_GT(best, 0.5f);

  // A P-Net that never fires (face logit bias -100): no proposals, nothing mined.
  engine::ModelFile dead = shipped;
  MtcnnNet p("pnet");
  p->importFrom(shipped);
  {
    torch::NoGradGuard ng;
    p->named_parameters()["conv4_1.bias"][1] = -100.f;
  }
  p->exportInto(dead);
  EXPECT_TRUE(previousStageBoxes(*makeMiner(dead, "pnet", dir + "/m.safetensors", 0.6f, 0.7f, 20), rgb).empty());
  EXPECT_TRUE(previousStageBoxes(*makeMiner(dead, "rnet", dir + "/m.safetensors", 0.6f, 0.7f, 20), rgb).empty());
  fs::remove_all(dir);
}

// CI-sized: fine-tune O-Net from the shipped weights on 3 training images for 1 epoch, AP on 3
// validation images; the log has meta, samples, train, stage and val lines, and the exported
// model runs in `facekit detect --model`.
TEST(MtcnnTrainRun, FinetuneWritesLogAndALoadableModel) {
  FACEKIT_REQUIRE_SHARED();
  if (!fs::exists(kShipped)) GTEST_SKIP() << kShipped << " missing (make models)";
  const std::string dir = tempDir("finetune"), src = FACEKIT_TEST_SOURCE_DIR, data = test::sharedDir() + "/data";
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " train --config " + src + "/configs/mtcnn-finetune.json --finetune " + kShipped +
                          " --work-dir " + dir + " --cfg-options train.max_epochs=1 train.stages=[\\\"onet\\\"] data.train.max_images=3 eval.max_images=3" +
                          " data.train.images=" + data + "/widerface-train-subset/images data.train.annotations=" + data +
                          "/widerface-train-subset/wider_face_train_bbx_gt.subset.txt data.val.images=" + data +
                          "/widerface-val-subset/images data.val.annotations=" + data + "/wider-face-gt data.landmark_model=" + kShipped +
                          " > " + dir + "/out.txt 2>&1";
  ASSERT_EQ(sh(cmd), 0) << readText(dir + "/out.txt");
  std::string log;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().string().size() > 9 && e.path().string().substr(e.path().string().size() - 9) == ".log.json") log = e.path().string();
  ASSERT_FALSE(log.empty());
  std::ifstream in(log);
  std::map<std::string, int> modes;
  std::vector<nlohmann::json> vals;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    modes[j.at("mode").get<std::string>()]++;
    if (j["mode"] == "val") vals.push_back(j);
    if (j["mode"] == "train") EXPECT_TRUE(std::isfinite(j.at("loss").get<double>()));
  }
  EXPECT_EQ(modes["meta"], 1);
  EXPECT_EQ(modes["samples"], 1);
  EXPECT_GE(modes["train"], 1);
  EXPECT_EQ(modes["stage"], 1);
  ASSERT_EQ(vals.size(), 2u);  // the shipped model, then after O-Net
  EXPECT_EQ(vals[0]["stage"], "start");
  EXPECT_EQ(vals[1]["stage"], "onet");
  for (const auto& v : vals)
    for (const char* k : {"ap_easy", "ap_medium", "ap_hard"}) {
      EXPECT_GE(v.at(k).get<double>(), 0.0) << k;
      EXPECT_LE(v.at(k).get<double>(), 1.0) << k;
    }
  // The first validation images (0--Parade) have hard-setting faces that the shipped model finds.
  EXPECT_GT(vals[0].at("ap_hard").get<double>(), 0.1) << vals[0].dump();
  EXPECT_GT(vals[1].at("ap_hard").get<double>(), 0.1) << vals[1].dump();
  const std::string model = dir + "/mtcnn.safetensors";
  ASSERT_TRUE(fs::exists(model));
  ASSERT_EQ(sh(std::string(FACEKIT_TEST_CLI) + " detect " + FACEKIT_TEST_SAMPLE + " --model " + model + " --json " + dir + "/faces.json > " + dir +
               "/detect.txt 2>&1"),
            0)
      << readText(dir + "/detect.txt");
  const auto faces = nlohmann::json::parse(readText(dir + "/faces.json"));
  EXPECT_FALSE(faces.dump().find("score") == std::string::npos) << faces.dump();
  fs::remove_all(dir);
}

// CI-sized, R-Net then O-Net from the shipped weights on 3 training images (no validation):
// stages.rnet.train_layers leaves every other R-Net tensor exactly as shipped; data.sample_cache
// keeps each stage's samples under a key that the next run with the same data and mining nets
// finds (and a stage mined by other weights does not); --resume from R-Net's checkpoint skips what
// was done and ends with the same model bit for bit, and --resume from O-Net's checkpoint with
// one epoch more trains only that epoch.
TEST(MtcnnTrainRun, TrainLayersSampleCacheAndResume) {
  FACEKIT_REQUIRE_SHARED();
  if (!fs::exists(kShipped)) GTEST_SKIP() << kShipped << " missing (make models)";
  const std::string dir = tempDir("resume"), src = FACEKIT_TEST_SOURCE_DIR, data = test::sharedDir() + "/data";
  auto run = [&](const std::string& work, const std::string& extra, const std::string& layers = "\\\"fc5_1\\\"") {
    const std::string cmd = std::string(FACEKIT_TEST_CLI) + " train --config " + src + "/configs/mtcnn-finetune.json --finetune " + kShipped +
                            " --work-dir " + work + extra + " --cfg-options train.stages=[\\\"rnet\\\",\\\"onet\\\"] data.train.max_images=3" +
                            " eval.enabled=false stages.rnet.train_layers=[" + layers + "] data.sample_cache=" + dir + "/cache" +
                            " data.train.images=" + data + "/widerface-train-subset/images data.train.annotations=" + data +
                            "/widerface-train-subset/wider_face_train_bbx_gt.subset.txt data.landmark_model=" + kShipped +
                            (extra.find("onet_latest") != std::string::npos ? " train.max_epochs=2" : " train.max_epochs=1") + " > " + dir +
                            "/out.txt 2>&1";
    return sh(cmd);
  };
  auto logOf = [&](const std::string& work) {
    std::vector<nlohmann::json> lines;
    std::vector<fs::path> logs;
    for (const auto& e : fs::directory_iterator(work))
      if (e.path().string().size() > 9 && e.path().string().substr(e.path().string().size() - 9) == ".log.json") logs.push_back(e.path());
    std::sort(logs.begin(), logs.end());
    if (logs.empty()) return lines;
    std::ifstream in(logs.back());
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  };
  ASSERT_EQ(run(dir + "/a", ""), 0) << readText(dir + "/out.txt");
  const auto shipped = engine::ModelFile::load(kShipped), a = engine::ModelFile::load(dir + "/a/mtcnn.safetensors");
  int changed = 0;
  for (const auto& [name, t] : shipped.tensors()) {
    const bool frozen = (name.rfind("rnet.", 0) == 0 && name.rfind("rnet.fc5_1.", 0) != 0) || name.rfind("pnet.", 0) == 0;
    if (frozen) {
      EXPECT_EQ(a.tensors().at(name).data, t.data) << name << " was not trained";
    }
    changed += a.tensors().at(name).data != t.data;
  }
  EXPECT_NE(a.tensors().at("rnet.fc5_1.weight").data, shipped.tensors().at("rnet.fc5_1.weight").data);
  EXPECT_GT(changed, 10);  // fc5_1 and O-Net's tensors
  for (const auto& j : logOf(dir + "/a"))
    if (j["mode"] == "samples") {
      EXPECT_FALSE(j.at("cached").get<bool>()) << j.dump();
    }

  // Resumed from R-Net's last checkpoint (epoch 1 of 1): no R-Net samples or training, O-Net's
  // samples from the cache, the same model.
  ASSERT_EQ(run(dir + "/b", " --resume " + dir + "/a/rnet_latest.pt"), 0) << readText(dir + "/out.txt");
  std::map<std::string, int> trained, cached;
  int resumes = 0;
  for (const auto& j : logOf(dir + "/b")) {
    if (j["mode"] == "train") trained[j.at("stage").get<std::string>()]++;
    if (j["mode"] == "samples") cached[j.at("stage").get<std::string>()] += j.at("cached").get<bool>();
    resumes += j["mode"] == "resume";
  }
  EXPECT_EQ(resumes, 1);
  EXPECT_EQ(trained["rnet"], 0);
  EXPECT_GE(trained["onet"], 1);
  EXPECT_EQ(cached.count("rnet"), 0u);  // R-Net had finished: no samples made again
  EXPECT_EQ(cached["onet"], 1);
  const auto b = engine::ModelFile::load(dir + "/b/mtcnn.safetensors");
  for (const auto& [name, t] : a.tensors()) EXPECT_EQ(b.tensors().at(name).data, t.data) << name;

  // Resumed from O-Net's checkpoint with max_epochs 2: only O-Net's epoch 2 is trained.
  ASSERT_EQ(run(dir + "/a", " --resume " + dir + "/a/onet_latest.pt"), 0) << readText(dir + "/out.txt");
  std::set<int> onet_epochs;
  int rnet_lines = 0;
  for (const auto& j : logOf(dir + "/a")) {
    if (j["mode"] == "train" && j["stage"] == "onet") onet_epochs.insert(j.at("epoch").get<int>());
    rnet_lines += j.value("stage", "") == "rnet";
  }
  EXPECT_EQ(onet_epochs, std::set<int>{2});
  EXPECT_EQ(rnet_lines, 0);
  // Another R-Net (its box head trained instead): R-Net's samples (mined by the same P-Net) come
  // from the cache, O-Net's (mined by this R-Net) do not.
  ASSERT_EQ(run(dir + "/d", "", "\\\"fc5_2\\\""), 0) << readText(dir + "/out.txt");
  std::map<std::string, bool> hit;
  for (const auto& j : logOf(dir + "/d"))
    if (j["mode"] == "samples") hit[j.at("stage").get<std::string>()] = j.at("cached").get<bool>();
  EXPECT_TRUE(hit.at("rnet"));
  EXPECT_FALSE(hit.at("onet"));
  // A checkpoint of a stage the run does not train is refused.
  EXPECT_NE(sh(std::string(FACEKIT_TEST_CLI) + " train --config " + src + "/configs/mtcnn-finetune.json --work-dir " + dir +
               "/c --resume " + dir + "/a/rnet_latest.pt --cfg-options train.stages=[\\\"onet\\\"] > " + dir + "/out.txt 2>&1"),
            0);
  EXPECT_NE(readText(dir + "/out.txt").find("does not train"), std::string::npos) << readText(dir + "/out.txt");
  fs::remove_all(dir);
}
