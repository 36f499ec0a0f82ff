// The facekit front-end and its sibling programs (tools/cli/programs.hpp, issue 10): detect and
// landmarks load none of the heavy libraries at run time, eval/video/serve still answer through
// `facekit` exactly as before (usage, messages, exit codes), and help lists every subcommand.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "cli_run.hpp"

namespace fs = std::filesystem;
using facekit::test::CliResult;

namespace {

// Runs `env program args` (stderr captured like runFacekit does).
CliResult runWith(const std::string& env, const std::string& program, const std::string& args) {
  static int n = 0;
  const std::string err_file = (fs::temp_directory_path() / ("facekit-lean-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".err")).string();
  const std::string cmd = env + " " + program + " " + args + " 2>" + err_file;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  for (size_t got; (got = fread(buf.data(), 1, buf.size(), p)) > 0;) r.out.append(buf.data(), got);
  const int status = pclose(p);
  r.signalled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_file);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  fs::remove(err_file);
  return r;
}

// Every shared object the dynamic loader opened for the process (and for what it exec'd),
// dlopen()ed ones included: LD_DEBUG=files prints "file=<name> [0];  needed by ..." per object.
std::set<std::string> loadedLibraries(const std::string& args, int* exit_code = nullptr) {
  const CliResult r = runWith("LD_DEBUG=files", FACEKIT_TEST_CLI, args);
  if (exit_code) *exit_code = r.exit_code;
  std::set<std::string> libs;
  static const std::regex file(R"(file=(\S+) \[)");
  std::istringstream in(r.err);
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, file)) libs.insert(fs::path(m[1].str()).filename().string());
  return libs;
}

bool loads(const std::set<std::string>& libs, const std::string& part) {
  for (const auto& l : libs)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

const char* const kHeavy[] = {"libdlib", "libopencv_dnn", "libopencv_objdetect", "libopencv_videoio", "libopencv_highgui", "libmatio",
                              "libtorch", "libavcodec", "libgstreamer", "httplib", "libprotobuf"};

std::string sibling(const std::string& name) { return (fs::path(FACEKIT_TEST_CLI).parent_path() / name).string(); }

// The "  name   description" line of a subcommand in a help listing.
std::string helpLine(const std::string& help, const std::string& name) {
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  " + name + " ", 0) == 0) return line;
  return "";
}

}  // namespace

TEST(LeanCli, DetectAndLandmarksLoadNoHeavyLibrary) {
  for (const std::string args : {"detect " FACEKIT_TEST_SAMPLE, "landmarks " FACEKIT_TEST_SAMPLE, "--help"}) {
    int rc = -1;
    const auto libs = loadedLibraries(args + " > /dev/null", &rc);
    EXPECT_EQ(rc, 0) << args;
    ASSERT_TRUE(loads(libs, "libopencv_imgcodecs")) << "LD_DEBUG=files reported nothing for " << args;  // the check itself works
    for (const char* heavy : kHeavy) EXPECT_FALSE(loads(libs, heavy)) << args << " loads " << heavy;
  }
}

TEST(LeanCli, SiblingsLoadTheirLibrariesOnlyWhenRun) {
  // `facekit eval --help` is answered by facekit-eval: dlib is loaded there, and only there.
  int rc = -1;
  EXPECT_TRUE(loads(loadedLibraries("eval --help > /dev/null", &rc), "libdlib"));
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(loads(loadedLibraries("video --help > /dev/null", &rc), "libopencv_videoio"));
  EXPECT_EQ(rc, 0);
}

TEST(LeanCli, HelpListsEverySubcommandWithTheSiblingsOwnDescription) {
  const CliResult top = facekit::test::runFacekit("--help");
  ASSERT_EQ(top.exit_code, 0);
  for (const char* name : {"detect", "convert-mtcnn", "convert-facemesh", "eval", "info", "landmarks", "video", "label", "make-pose-template", "train", "serve"})
    EXPECT_NE(helpLine(top.out, name), "") << name << " missing from facekit --help:\n" << top.out;
  for (const auto& [name, program] : {std::pair{"eval", "facekit-eval"}, {"video", "facekit-video"}, {"serve", "facekit-serve"}}) {
    const CliResult own = runWith("", sibling(program), "--help");
    ASSERT_EQ(own.exit_code, 0) << program;
    EXPECT_EQ(helpLine(top.out, name), helpLine(own.out, name)) << "facekit --help and " << program << " --help describe " << name << " differently";
  }
}

TEST(LeanCli, SubcommandsAnswerThroughTheFrontEndAsBefore) {
  const std::string cli = FACEKIT_TEST_CLI;
  // Help of a sibling's subcommand: its options, with facekit's own usage line.
  const CliResult eval_help = facekit::test::runFacekit("eval --help");
  EXPECT_EQ(eval_help.exit_code, 0);
  EXPECT_NE(eval_help.out.find("Usage: " + cli + " eval"), std::string::npos) << eval_help.out;
  EXPECT_NE(eval_help.out.find("widerface"), std::string::npos);
  const CliResult serve_help = facekit::test::runFacekit("serve --help");
  EXPECT_EQ(serve_help.exit_code, 0);
  EXPECT_NE(serve_help.out.find("--max-body"), std::string::npos) << serve_help.out;
  const CliResult video_help = facekit::test::runFacekit("video --help");
  EXPECT_EQ(video_help.exit_code, 0);
  EXPECT_NE(video_help.out.find("--detect-every"), std::string::npos) << video_help.out;

  // Command-line errors: exit 2, one line naming the subcommand's help.
  for (const auto& [args, expected] : {std::pair<std::string, std::string>{"eval", "A subcommand is required (see facekit eval --help)"},
                                       {"serve --port abc", "(see facekit serve --help)"},
                                       {"video x.mp4 --detect-every 0", "(see facekit video --help)"},
                                       {"eval widerface --bogus", "(see facekit eval --help)"}}) {
    const CliResult r = facekit::test::runFacekit(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_TRUE(r.oneErrorLine()) << args << ": " << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << ": " << r.err;
  }
  // Failures inside a sibling: exit 1, one line.
  // (OpenCV's GStreamer backend warns on stderr before facekit's line: as it did before the split.)
  const CliResult video = facekit::test::runFacekit("video /nonexistent/clip.mp4");
  EXPECT_EQ(video.exit_code, 1);
  const std::string last = "facekit: error: /nonexistent/clip.mp4: cannot open as a video\n";
  EXPECT_TRUE(video.err.size() >= last.size() && video.err.compare(video.err.size() - last.size(), last.size(), last) == 0) << video.err;
  const CliResult eval = facekit::test::runFacekit("eval detections --images /nonexistent --annotations /nonexistent/gt.txt");
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_TRUE(eval.oneErrorLine()) << eval.err;
}

TEST(LeanCli, MissingSiblingIsOneErrorLine) {
  // facekit copied alone into a folder: its siblings are looked up beside it, and are not there.
  const fs::path dir = fs::temp_directory_path() / ("facekit-lean-alone-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(FACEKIT_TEST_CLI, dir / "facekit", fs::copy_options::overwrite_existing);
  for (const char* sub : {"eval --help", "video clip.mp4", "serve"}) {
    const CliResult r = runWith("", (dir / "facekit").string(), sub);
    EXPECT_EQ(r.exit_code, 1) << sub;
    EXPECT_TRUE(r.oneErrorLine()) << r.err;
    EXPECT_NE(r.err.find("is missing"), std::string::npos) << r.err;
  }
  // ... while detect needs nothing beside it.
  const CliResult detect = runWith("", (dir / "facekit").string(), FACEKIT_TEST_SAMPLE);
  EXPECT_EQ(detect.exit_code, 2);  // (no subcommand: the usual command-line error)
  const CliResult ok = runWith("", (dir / "facekit").string(), std::string("detect ") + FACEKIT_TEST_SAMPLE);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  fs::remove_all(dir);
}
