// Runs the facekit binary for tests: exit code, whether a signal ended it, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace facekit::test {

struct CliResult {
  int exit_code = -1;
  bool signalled = false;
  std::string out, err;
  // The one line a failure must print: starts with "facekit: error: ", and is the only line.
  bool oneErrorLine() const { return err.rfind("facekit: error: ", 0) == 0 && err.find('\n') == err.size() - 1; }
};

inline CliResult runFacekit(const std::string& args) {
  static std::atomic<int> n{0};
  const std::string err_file =
      (std::filesystem::temp_directory_path() / ("facekit-cli-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".err")).string();
  const std::string cmd = std::string(FACEKIT_TEST_CLI) + " " + args + " 2>" + err_file;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), got);
  const int status = pclose(p);
  r.signalled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_file);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  std::filesystem::remove(err_file);
  return r;
}

}  // namespace facekit::test
