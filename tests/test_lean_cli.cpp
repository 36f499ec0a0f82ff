// The facekit front-end and its sibling programs (tools/cli/programs.hpp, issue 10): detect and
// landmarks load none of the heavy libraries at run time (OpenCV's imgcodecs included: PNG and
// JPEG are libfacekit's own, the other formats load the plugin libfacekit_imgcodecs.so when met),
// their peak resident memory stays down (SmallImagePeakMemory), eval/video/serve still answer
// through `facekit` exactly as before (usage, messages, exit codes), and help lists every
// subcommand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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
                              "libtorch", "libavcodec", "libgstreamer", "httplib", "libprotobuf",
                              // OpenCV's image codecs and what they bring (GDAL, GDCM, OpenEXR, poppler, ...)
                              "libopencv_imgcodecs", "libfacekit_imgcodecs", "libgdal", "libgdcm", "libOpenEXR", "libpoppler", "libtiff",
                              "libwebp"};

// The sample photo scaled to w x h and written in `ext` (once per process, removed at exit), in
// the temp folder.
std::vector<std::string>& samplePhotos() {
  static std::vector<std::string> files;
  return files;
}
std::string samplePhoto(int w, int h, const std::string& ext) {
  const fs::path p = fs::temp_directory_path() / ("facekit-lean-" + std::to_string(::getpid()) + "-" + std::to_string(w) + "x" +
                                                  std::to_string(h) + ext);
  if (!fs::exists(p)) {
    cv::Mat photo = cv::imread(FACEKIT_TEST_SAMPLE, cv::IMREAD_COLOR), scaled;
    cv::resize(photo, scaled, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    EXPECT_TRUE(cv::imwrite(p.string(), scaled)) << p;
    if (samplePhotos().empty())
      std::atexit([] {
        std::error_code ec;
        for (const auto& f : samplePhotos()) fs::remove(f, ec);
      });
    samplePhotos().push_back(p.string());
  }
  return p.string();
}

// Peak resident memory (KiB) of `facekit args`: the process's own VmHWM, which it writes at exit
// to $FACEKIT_PEAK_MEMORY_FILE (tools/cli/programs.cpp). Not wait4()'s ru_maxrss: Linux carries
// the forking process's peak into its child across exec, and this test process is ~90 MiB.
long peakRssKiB(const std::string& args, int* exit_code) {
  const std::string file = (fs::temp_directory_path() / ("facekit-lean-peak-" + std::to_string(::getpid()))).string();
  fs::remove(file);
  const CliResult r = runWith("FACEKIT_PEAK_MEMORY_FILE=" + file, FACEKIT_TEST_CLI, args + " > /dev/null");
  *exit_code = r.exit_code;
  long kib = 0;
  std::ifstream(file) >> kib;
  fs::remove(file);
  return kib;
}

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
  const std::string jpg = samplePhoto(640, 480, ".jpg"), out = (fs::temp_directory_path() / ("facekit-lean-draw-" + std::to_string(::getpid()))).string();
  // PNG in (the sample), JPEG in, PNG and JPEG drawn out: libfacekit's own codecs only.
  const std::string sample = FACEKIT_TEST_SAMPLE;
  for (const std::string& args : std::vector<std::string>{"detect " + sample, "detect " + jpg + " --draw " + out + ".jpg",
                                                          "detect " + jpg + " --draw " + out + ".png", "landmarks " + sample,
                                                          "landmarks " + jpg, "--help"}) {
    int rc = -1;
    const auto libs = loadedLibraries(args + " > /dev/null", &rc);
    EXPECT_EQ(rc, 0) << args;
    ASSERT_TRUE(loads(libs, "libopencv_core")) << "LD_DEBUG=files reported nothing for " << args;  // the check itself works
    for (const char* heavy : kHeavy) EXPECT_FALSE(loads(libs, heavy)) << args << " loads " << heavy;
  }
  EXPECT_GT(fs::file_size(out + ".jpg"), 1000u);
  EXPECT_GT(fs::file_size(out + ".png"), 1000u);
  fs::remove(out + ".jpg"), fs::remove(out + ".png");
}

// A BMP (TIFF, WebP, PNM) brings the plugin, and OpenCV's imgcodecs with it, only then.
TEST(LeanCli, OtherFormatsLoadTheCodecsPluginWhenMet) {
  const std::string bmp = samplePhoto(320, 240, ".bmp");
  int rc = -1;
  const auto libs = loadedLibraries("detect " + bmp + " > /dev/null", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(loads(libs, "libfacekit_imgcodecs"));
  EXPECT_TRUE(loads(libs, "libopencv_imgcodecs"));
}

// Without the plugin, PNG and JPEG still work and the other formats fail with one line that
// names the format and the plugin.
TEST(LeanCli, MissingCodecsPluginIsOneErrorLine) {
  const std::string env = "FACEKIT_IMGCODECS_PLUGIN=/nonexistent/libfacekit_imgcodecs.so";
  const std::string bmp = samplePhoto(320, 240, ".bmp"), jpg = samplePhoto(640, 480, ".jpg");
  const CliResult r = runWith(env, FACEKIT_TEST_CLI, "detect " + bmp);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.oneErrorLine()) << r.err;
  EXPECT_NE(r.err.find(bmp + ": reading BMP images needs facekit's image codecs plugin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libfacekit_imgcodecs.so"), std::string::npos) << r.err;
  const std::string tiff = (fs::temp_directory_path() / ("facekit-lean-" + std::to_string(::getpid()) + "-out.tiff")).string();
  const CliResult w = runWith(env, FACEKIT_TEST_CLI, "detect " + jpg + " --draw " + tiff);
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_TRUE(w.oneErrorLine()) << w.err;
  EXPECT_NE(w.err.find("writing .tiff images needs facekit's image codecs plugin"), std::string::npos) << w.err;
  EXPECT_FALSE(fs::exists(tiff));
  for (const std::string& ok : {std::string(FACEKIT_TEST_SAMPLE), jpg}) {
    const CliResult d = runWith(env, FACEKIT_TEST_CLI, "detect " + ok);
    EXPECT_EQ(d.exit_code, 0) << d.err;
    EXPECT_NE(d.out.find("\"scores\""), std::string::npos);
  }
}

// Issue 10: `facekit detect` on a small image under 40 MiB resident. Measured (peak RSS, this VM):
// while OpenCV's imgcodecs was linked, `facekit --help` 52 MiB and `detect` on a 640x480 JPEG or
// PNG 95 MiB; with libfacekit's own PNG / JPEG codecs 11 and 49 MiB. The rest of detect's
// 49 MiB is the detector's own heap (heaptrack: 37 MiB at its peak, of which XNNPACK's indirection
// buffers 17 MiB and the activations 14 MiB), so the 40 MiB target is not met yet: the ceilings
// below hold what the codecs work gives (each fails if imgcodecs, or a library of its size, is
// loaded again: +40 MiB), and kDetectTargetMiB is the figure to reach when the detector's working
// set shrinks. A memory figure, not a timing.
TEST(LeanCli, SmallImagePeakMemory) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer builds carry their own shadow memory";
#endif
  constexpr double kHelpCeilingMiB = 20, kDetectCeilingMiB = 60, kDetectTargetMiB = 40;
  int rc = -1;
  const long help = peakRssKiB("--help", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_GT(help, 1024) << "no VmHWM reported";  // the measurement itself works
  EXPECT_LT(help / 1024.0, kHelpCeilingMiB);
  std::printf("[lean] facekit --help: peak RSS %.1f MiB\n", help / 1024.0);
  for (const std::string& image : {samplePhoto(640, 480, ".jpg"), samplePhoto(640, 480, ".png")}) {
    const long kib = peakRssKiB("detect " + image, &rc);
    EXPECT_EQ(rc, 0) << image;
    EXPECT_LT(kib / 1024.0, kDetectCeilingMiB) << image;
    std::printf("[lean] facekit detect 640x480%s: peak RSS %.1f MiB (issue 10 target: under %.0f MiB)\n",
                fs::path(image).extension().c_str(), kib / 1024.0, kDetectTargetMiB);
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
