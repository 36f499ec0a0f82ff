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
