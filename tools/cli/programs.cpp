#include "programs.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "facekit/error.hpp"
#include "inputs.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {

fs::path siblingProgram(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return (ec ? fs::path(".") : self.parent_path()) / name;
}

void addSiblingCommand(CLI::App& app, const std::string& name, const std::string& description, const std::string& program) {
  auto* sub = app.add_subcommand(name, description);
  sub->prefix_command();  // every argument, --help included, goes to the sibling as it is
  sub->set_help_flag();
  sub->allow_extras();
  sub->callback([sub, name, program] {
    const fs::path path = siblingProgram(program);
    if (!fs::exists(path)) throw Error(Error::Code::kIoError, path.string() + " is missing (facekit " + name + " runs it; reinstall facekit)");
    // argv[0] as this program was called: CLI11 names the program after it in usage lines.
    std::vector<std::string> args{sub->get_parent()->get_name(), name};
    for (const auto& a : sub->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    execv(path.c_str(), argv.data());
    throw Error(Error::Code::kIoError, "cannot run " + path.string() + ": " + std::strerror(errno));
  });
}

namespace {
void writePeakMemory() {
  const char* path = std::getenv("FACEKIT_PEAK_MEMORY_FILE");
  if (!path) return;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) std::ofstream(path) << std::stol(line.substr(6)) << "\n";
}
}  // namespace

// getrusage() would include the spawning process's peak, which Linux carries across fork and
// exec; VmHWM is this program's own.
void reportPeakMemoryAtExit() { std::atexit(writePeakMemory); }

int runProgram(CLI::App& app, int argc, char** argv) {
  reportPeakMemoryAtExit();
  const int code = parseCommandLine(app, argc, argv);
  return code < 0 ? 0 : code;
}

int parseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "facekit: error: " << e.what() << " (see facekit " << (argc > 1 ? std::string(argv[1]) + " " : "") << "--help)\n";
    return 2;
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "facekit: error: " << e.what() << "\n";
    return 1;
  }
  return -1;
}

}  // namespace facekit::cli
