// No partial results: detect's --json and --draw, and converted models, are written under a
// temporary name and renamed when complete. A run killed while it writes leaves the earlier file
// untouched (never a truncated one); a run that completes leaves no temporary file behind.
// The kill lands mid-write deterministically: FACEKIT_TEST_WRITE_PAUSE_MS makes the writer pause
// after half of the bytes (engine::writeFileAtomically).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bad_files.hpp"
#include "engine/model_file.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace facekit;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> tempFilesIn(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) v.push_back(e.path().string());
  return v;
}

// Starts `facekit args...` with the writer pausing mid-file; returns its pid.
pid_t startPaused(const std::vector<std::string>& args, int pause_ms) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("FACEKIT_TEST_WRITE_PAUSE_MS", std::to_string(pause_ms).c_str(), 1);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
    std::vector<char*> argv{const_cast<char*>(FACEKIT_TEST_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(FACEKIT_TEST_CLI, argv.data());
    _exit(127);
  }
  return pid;
}

// Waits until a half-written temporary file shows up in `dir`, kills the run with SIGKILL and
// returns the temporary file's size (0 if none appeared within the time limit).
uint64_t killMidWrite(pid_t pid, const std::string& dir) {
  uint64_t size = 0;
  for (int i = 0; i < 3000 && !size; ++i) {  // up to 60 s (sanitizer builds are slow)
    for (const auto& t : tempFilesIn(dir)) size = std::max<uint64_t>(size, fs::file_size(t));
    if (!size) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the run ended before it was killed";
  return size;
}

struct Dir {
  std::string path;
  explicit Dir(const std::string& name)
      : path((fs::temp_directory_path() / ("facekit-atomic-" + name + "-" + std::to_string(getpid()))).string()) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
};

}  // namespace

TEST(AtomicOutputs, DetectJsonKilledMidWriteLeavesTheEarlierFile) {
  Dir d("json");
  const std::string out = d.path + "/faces.json", old = "{\"an earlier\": \"complete result\"}\n";
  std::ofstream(out) << old;
  const pid_t pid = startPaused({"detect", FACEKIT_TEST_SAMPLE, "--model", FACEKIT_TEST_MODEL, "--json", out}, 60000);
  const uint64_t partial = killMidWrite(pid, d.path);
  EXPECT_GT(partial, 0u) << "the writer never started";
  EXPECT_EQ(slurp(out), old) << "the earlier file was touched";

  // Completed, the same command writes the whole JSON and leaves no temporary file.
  ASSERT_EQ(std::system((std::string(FACEKIT_TEST_CLI) + " detect " + FACEKIT_TEST_SAMPLE + " --model " + FACEKIT_TEST_MODEL + " --json " + out +
                         " 2>/dev/null")
                            .c_str()),
            0);
  const auto j = nlohmann::json::parse(slurp(out));
  EXPECT_EQ(j["scores"].size(), 1u);
  EXPECT_GT(slurp(out).size(), partial) << "the killed write was partial";
  for (const auto& t : tempFilesIn(d.path)) fs::remove(t);  // the killed run's leftover (documented)
  EXPECT_TRUE(tempFilesIn(d.path).empty());
}

TEST(AtomicOutputs, DetectDrawingKilledMidWriteLeavesTheEarlierFile) {
  Dir d("draw");
  const std::string out = d.path + "/drawn.png";
  fs::copy_file(test::BadFiles::get().good_gray, out);
  const std::string old = slurp(out);
  const pid_t pid = startPaused({"detect", FACEKIT_TEST_SAMPLE, "--model", FACEKIT_TEST_MODEL, "--json", d.path + "/faces.json", "--draw", out}, 60000);
  EXPECT_GT(killMidWrite(pid, d.path), 0u);
  EXPECT_EQ(slurp(out), old);
  EXPECT_FALSE(fs::exists(d.path + "/faces.json")) << "the JSON is written after the drawings";
  EXPECT_NO_THROW(loadImage(out));
}

TEST(AtomicOutputs, ConvertedModelKilledMidWriteLeavesTheEarlierFile) {
  Dir d("model");
  const std::string out = d.path + "/mtcnn.safetensors";
  fs::copy_file(FACEKIT_TEST_MODEL, out);
  const std::string old = slurp(out);
  const pid_t pid = startPaused({"convert-mtcnn", "--tflite-dir", FACEKIT_TEST_TFLITE_DIR, "--out", out}, 60000);
  EXPECT_GT(killMidWrite(pid, d.path), 0u);
  EXPECT_EQ(slurp(out), old);
  EXPECT_NO_THROW(engine::ModelFile::load(out));
}

// The writer itself: the file appears whole or not at all, with the permissions a plain
// ofstream would give it, and a failure leaves nothing behind.
TEST(AtomicOutputs, WriterReplacesWholeFilesAndCleansUpOnFailure) {
  Dir d("writer");
  const std::string path = d.path + "/a.bin";
  engine::writeFileAtomically(path, "first");
  EXPECT_EQ(slurp(path), "first");
  engine::writeFileAtomically(path, std::string(1 << 20, 'x'));
  EXPECT_EQ(slurp(path), std::string(1 << 20, 'x'));
  EXPECT_TRUE(tempFilesIn(d.path).empty());
  const auto perms = fs::status(path).permissions();
  EXPECT_NE(perms & fs::perms::owner_read, fs::perms::none);
  EXPECT_NE(perms & fs::perms::owner_write, fs::perms::none);
  // A folder in the way of the rename: an error naming the path, the folder stays, no temporary file.
  fs::create_directories(d.path + "/taken");
  fs::create_directories(d.path + "/taken/inside");
  try {
    engine::writeFileAtomically(d.path + "/taken", "data");
    ADD_FAILURE() << "wrote over a folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kIoError);
    EXPECT_NE(std::string(e.what()).find(d.path + "/taken"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(d.path + "/taken/inside"));
  EXPECT_TRUE(tempFilesIn(d.path).empty());
  // A folder that does not exist: an error, nothing created.
  EXPECT_THROW(engine::writeFileAtomically(d.path + "/no/such/folder/x.json", "{}"), Error);
}
