// The facekit command line: real runs of the binary.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bad_files.hpp"
#include "test_util.hpp"

using facekit::test::BadFiles;

namespace {
struct CliRun {
  int exit_code = -1;
  bool signalled = false;
  std::string out, err;
};

CliRun run(const std::string& args) {
  const std::string err_file = BadFiles::get().dir + "/stderr.txt";
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " " + args + " 2>" + err_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.signalled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_file);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  return r;
}

std::string model() { return std::string(" --model ") + FACEKIT_TEST_MODEL; }
}  // namespace

TEST(Cli, DetectPrintsModelScopeJson) {
  const CliRun r = run(std::string("detect ") + FACEKIT_TEST_SAMPLE + model());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["scores"].size(), 1u);
  EXPECT_EQ(j["boxes"][0].size(), 4u);
  EXPECT_EQ(j["keypoints"][0].size(), 10u);
}

TEST(Cli, EveryBadImageGivesOneErrorLineAndNonZeroExit) {
  for (const auto& [name, path] : BadFiles::get().images) {
    const CliRun r = run("detect " + path + model());
    EXPECT_FALSE(r.signalled) << name << " crashed";
    EXPECT_NE(r.exit_code, 0) << name;
    EXPECT_EQ(r.err.rfind("facekit: error: ", 0), 0u) << name << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << name << ": " << r.err;
  }
}

TEST(Cli, EveryBadModelGivesOneErrorLineAndNonZeroExit) {
  for (const auto& [name, path] : BadFiles::get().models) {
    const CliRun r = run(std::string("detect ") + FACEKIT_TEST_SAMPLE + " --model " + path);
    EXPECT_FALSE(r.signalled) << name << " crashed";
    EXPECT_NE(r.exit_code, 0) << name;
    EXPECT_EQ(r.err.rfind("facekit: error: ", 0), 0u) << name << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << name << ": " << r.err;
  }
}

TEST(Cli, BadOptionsAreRefused) {
  for (const char* opt : {"--threshold 0.6,0.7", "--threshold a,b,c", "--min-face 3", "--threads 0", "--backend gpu"}) {
    const CliRun r = run(std::string("detect ") + FACEKIT_TEST_SAMPLE + model() + " " + opt);
    EXPECT_NE(r.exit_code, 0) << opt;
    EXPECT_FALSE(r.signalled) << opt;
  }
}

// detect and eval share one --threshold parser: trailing junk is refused by both.
TEST(Cli, ThresholdJunkIsRefusedByEvalToo) {
  const CliRun r = run("eval widerface --images /tmp --gt /tmp --threshold 0.6,0.7,0.7junk");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is not a number"), std::string::npos) << r.err;
}

TEST(Cli, FolderInputWritesOneEntryPerImageAndDrawings) {
  const auto& bad = BadFiles::get();
  const std::string in = bad.dir + "/folder-in", out = bad.dir + "/folder-out";
  std::filesystem::create_directories(in);
  std::filesystem::copy_file(FACEKIT_TEST_SAMPLE, in + "/a.png", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(bad.good_gray, in + "/b.png", std::filesystem::copy_options::overwrite_existing);
  const CliRun r = run("detect " + in + model() + " --json " + out + "/all.json --draw " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream f(out + "/all.json");
  const auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j.size(), 2u);
  EXPECT_EQ(j[in + "/a.png"]["scores"].size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(out + "/a.png"));
  EXPECT_TRUE(std::filesystem::exists(out + "/b.png"));
  EXPECT_NE(r.err.find("100%"), std::string::npos) << "a progress report was expected: " << r.err;
}

// File names are bytes, not UTF-8: such a name must reach the JSON (as U+FFFD) instead of
// aborting the program (nlohmann's dump() throws type_error 316 on invalid UTF-8).
TEST(Cli, FileNamesThatAreNotUtf8ReachTheJson) {
  const auto& bad = BadFiles::get();
  const std::string in = bad.dir + "/not-utf8", out = bad.dir + "/not-utf8-out";
  std::filesystem::create_directories(in);
  std::filesystem::create_directories(out);
  const std::string name = in + "/face\xff\xfe.png";
  std::filesystem::copy_file(FACEKIT_TEST_SAMPLE, name, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(bad.good_gray, in + "/b.png", std::filesystem::copy_options::overwrite_existing);
  const CliRun d = run("detect " + in + model() + " --json " + out + "/all.json");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  ASSERT_FALSE(d.signalled);
  std::ifstream f(out + "/all.json");
  const auto j = nlohmann::json::parse(f);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[in + "/face\xef\xbf\xbd\xef\xbf\xbd.png"]["scores"].size(), 1u) << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const CliRun l = run("label --images " + in + " --detector-model " + FACEKIT_TEST_MODEL + " --out " + out + "/labels.jsonl");
  ASSERT_EQ(l.exit_code, 0) << l.err;
  ASSERT_FALSE(l.signalled);
  std::ifstream lf(out + "/labels.jsonl");
  std::string line;
  int faces = 0;
  while (std::getline(lf, line))
    if (nlohmann::json::parse(line)["image"] == in + "/face\xef\xbf\xbd\xef\xbf\xbd.png") ++faces;
  EXPECT_EQ(faces, 1);
}

// --- facekit info ------------------------------------------------------------------------------

namespace {
nlohmann::json infoJson(const std::string& args) {
  const CliRun r = run("info " + args + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

size_t tensorElements(const std::string& path) {
  const auto m = facekit::engine::ModelFile::load(path);  // named: tensors() must not outlive it
  size_t n = 0;
  for (const auto& [name, t] : m.tensors()) n += t.numel();
  return n;
}

bool hasLine(const std::string& text, const std::string& line) { return ("\n" + text).find("\n" + line + "\n") != std::string::npos; }
}  // namespace

// Counted by hand from docs/model-format.md's shapes.
TEST(CliInfo, MtcnnParametersAndMacsByHand) {
  const auto j = infoJson(FACEKIT_TEST_MODEL);
  ASSERT_TRUE(j.contains("networks")) << j;
  ASSERT_EQ(j["networks"].size(), 3u);
  const auto& pnet = j["networks"][0];
  EXPECT_EQ(pnet["name"], "pnet");
  EXPECT_EQ(pnet["input"], nlohmann::json({12, 12, 3}));
  EXPECT_TRUE(pnet["fully_convolutional"].get<bool>());
  // P-Net parameters: conv1 10*3*3*3 + 10 = 280, prelu1 10, conv2 16*3*3*10 + 16 = 1456, prelu2 16,
  // conv3 32*3*3*16 + 32 = 4640, prelu3 32, conv4_1 2*32 + 2 = 66, conv4_2 4*32 + 4 = 132: 6632.
  EXPECT_EQ(pnet["parameters"], 6632);
  // P-Net MACs at one 12x12 window: conv1 12 -> 10: 10*10*10 * 3*3*3 = 27000; pool 2x2/2 (ceil)
  // 10 -> 5; conv2 5 -> 3: 3*3*16 * 3*3*10 = 12960; conv3 3 -> 1: 1*1*32 * 3*3*16 = 4608;
  // heads 1x1, 32 -> 2+4: 6*32 = 192. PReLU and pooling count 0. Total 44760.
  EXPECT_EQ(pnet["macs"], 44760);
  EXPECT_EQ(pnet["layers"][2]["output"], nlohmann::json({5, 5, 10}));
  // R-Net at 24x24: conv1 22*22*28*27 = 365904; pool 3x3/2 -> 11; conv2 9*9*48*9*28 = 979776;
  // pool -> 4; conv3 2x2: 3*3*64*4*48 = 110592; fc4 576*128 = 73728; heads 128*6 = 768.
  const auto& rnet = j["networks"][1];
  EXPECT_EQ(rnet["input"], nlohmann::json({24, 24, 3}));
  EXPECT_EQ(rnet["macs"], 365904 + 979776 + 110592 + 73728 + 768);
  EXPECT_EQ(j["networks"][2]["input"], nlohmann::json({48, 48, 3}));
  const size_t all = tensorElements(FACEKIT_TEST_MODEL);
  EXPECT_EQ(j["parameters"], all);
  EXPECT_EQ(pnet["parameters"].get<size_t>() + rnet["parameters"].get<size_t>() + j["networks"][2]["parameters"].get<size_t>(), all);
  EXPECT_EQ(j["macs"], pnet["macs"].get<uint64_t>() + rnet["macs"].get<uint64_t>() + j["networks"][2]["macs"].get<uint64_t>());

  const CliRun r = run(std::string("info ") + FACEKIT_TEST_MODEL);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(hasLine(r.out, "facekit.model: mtcnn")) << r.out;
  EXPECT_NE(r.out.find("fully convolutional"), std::string::npos);
  EXPECT_NE(r.out.find("pnet total"), std::string::npos);
  char params[64];
  std::snprintf(params, sizeof params, "parameters: %.3f M", double(all) / 1e6);  // 495850 -> 0.496
  EXPECT_TRUE(hasLine(r.out, params)) << r.out;
  EXPECT_NE(r.out.find(" M (PyTorch-style FLOPs = MACs)\n"), std::string::npos) << r.out;
}

TEST(CliInfo, FaceMeshParametersAreItsTensorElements) {
  const std::string path = std::string(FACEKIT_TEST_MODEL_DIR) + "/facemesh.safetensors";
  const auto j = infoJson(path);
  ASSERT_TRUE(j.contains("networks")) << j;
  ASSERT_EQ(j["networks"].size(), 1u);
  EXPECT_EQ(j["kind"], "graph");
  EXPECT_EQ(j["networks"][0]["input"], nlohmann::json({192, 192, 3}));
  EXPECT_EQ(j["parameters"], tensorElements(path));
  size_t layer_params = 0;
  for (const auto& l : j["networks"][0]["layers"]) layer_params += l["parameters"].get<size_t>();
  EXPECT_EQ(layer_params, tensorElements(path));  // every tensor belongs to one layer
  EXPECT_EQ(j["networks"][0]["layers"].size(), 122u);
  EXPECT_EQ(j["networks"][0]["layers"].back()["output"], nlohmann::json({1, 1, 1404}));
}

// A small graph model (as a trainer would export it) with a fused ReLU6 and a Clamp node.
TEST(CliInfo, GraphModelWithActivationsByHand) {
  facekit::engine::ModelFile m;
  m.metadata["facekit.model"] = "tiny";
  m.metadata["input_size"] = "20x20x3";
  m.add("c.weight", {8, 3, 3, 3}, std::vector<float>(8 * 27, 0.1f));
  m.add("c.bias", {8}, std::vector<float>(8, 0.f));
  m.add("d.weight", {3, 3, 8}, std::vector<float>(72, 0.1f));
  m.add("d.bias", {8}, std::vector<float>(8, 0.f));
  m.metadata["facekit.graph"] = nlohmann::json{
      {"nodes",
       {{{"name", "in"}, {"op", "Input"}},
        {{"name", "c"}, {"op", "Conv2d"}, {"inputs", {"in"}}, {"weight", "c.weight"}, {"bias", "c.bias"}, {"stride", {2, 2}},
         {"pad", {1, 1, 1, 1}}, {"activation", "relu6"}},
        {{"name", "d"}, {"op", "DepthwiseConv2d"}, {"inputs", {"c"}}, {"weight", "d.weight"}, {"bias", "d.bias"}, {"stride", {1, 1}},
         {"pad", {1, 1, 1, 1}}},
        {{"name", "r"}, {"op", "Clamp"}, {"inputs", {"d"}}, {"min", 0}}}},
      {"outputs", {"r"}}}.dump();
  const std::string path = BadFiles::get().dir + "/tiny-graph.safetensors";
  m.save(path);
  auto j = infoJson(path);
  ASSERT_TRUE(j.contains("networks")) << j;
  const auto& net = j["networks"][0];
  EXPECT_EQ(net["input"], nlohmann::json({20, 20, 3}));
  // conv 3x3/2 pad 1: 20 -> 10, 10*10*8 * 3*3*3 = 21600; depthwise 3x3/1: 10*10*8 * 3*3 = 7200.
  EXPECT_EQ(net["macs"], 21600 + 7200);
  EXPECT_EQ(net["parameters"], 8 * 27 + 8 + 72 + 8);
  EXPECT_EQ(net["layers"][1]["op"], "Conv2d+relu6");
  EXPECT_EQ(net["layers"][1]["activation"], "relu6");
  EXPECT_EQ(net["layers"][3]["op"], "Clamp(relu)");
  // --input overrides the metadata: 40 -> 20, 20*20*8*27 = 86400 and 20*20*8*9 = 28800.
  j = infoJson(path + " --input 40x40x3");
  EXPECT_EQ(j["macs"], 86400 + 28800);
  const CliRun r = run("info " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(hasLine(r.out, "parameters: 0.000 M")) << r.out;
  EXPECT_TRUE(hasLine(r.out, "MACs: 0.029 M (PyTorch-style FLOPs = MACs)")) << r.out;

  m.metadata.erase("input_size");  // no input size anywhere: --input is asked for
  m.save(path);
  const CliRun none = run("info " + path);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("--input"), std::string::npos) << none.err;
  EXPECT_EQ(std::count(none.err.begin(), none.err.end(), '\n'), 1) << none.err;
}

TEST(CliInfo, BadFilesAndInputsGiveOneErrorLineAndExit1) {
  for (const auto& [name, path] : BadFiles::get().models) {
    const CliRun r = run("info " + path);
    EXPECT_FALSE(r.signalled) << name << " crashed";
    EXPECT_EQ(r.exit_code, 1) << name;
    EXPECT_TRUE(r.out.empty()) << name << ": " << r.out;
    EXPECT_EQ(r.err.rfind("facekit: error: ", 0), 0u) << name << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << name << ": " << r.err;
  }
  for (const char* input : {"10x10", "axbxc", "0x12x3", "8x8x3"}) {  // malformed, or too small for P-Net
    const CliRun r = run(std::string("info ") + FACEKIT_TEST_MODEL + " --input " + input);
    EXPECT_EQ(r.exit_code, 1) << input;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << input << ": " << r.err;
  }
}
