// Bounded memory: large pyramid levels run through P-Net in row bands (mtcnn_detector.cpp,
// runTiled). The bands must give exactly the faces of whole levels, and `facekit detect` must
// process a 60-megapixel image under an address-space ceiling that the untiled detector exceeds.
// FACEKIT_PNET_BAND_PIXELS=0 turns tiling off (the reference); small values force many bands.
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli_run.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;
using facekit::test::testOptions;

namespace {

namespace fs = std::filesystem;

cv::Mat asMat(const Image& img) { return cv::Mat(img.height, img.width, CV_8UC3, const_cast<uint8_t*>(img.pixels.data())); }

// A smooth random background (RGB) with copies of the sample photo's face pasted at the given
// sizes, spread over the canvas.
cv::Mat sceneWithFaces(cv::Size size, const std::vector<int>& sides, uint32_t seed) {
  cv::Mat small(std::max(2, size.height / 100), std::max(2, size.width / 100), CV_8UC3), canvas;
  cv::theRNG().state = seed;
  cv::randu(small, 40, 220);
  cv::resize(small, canvas, size, 0, 0, cv::INTER_CUBIC);
  const cv::Mat patch = asMat(astronaut())(cv::Rect(150, 30, 150, 170));  // the face with some margin
  int x = size.width / 20, y = size.height / 20;
  for (int side : sides) {
    cv::Mat scaled;
    cv::resize(patch, scaled, cv::Size(side, side * 170 / 150), 0, 0, cv::INTER_AREA);
    if (x + scaled.cols >= size.width) x = size.width / 20, y += size.height / 3;
    scaled.copyTo(canvas(cv::Rect(x, y, scaled.cols, scaled.rows)));
    x += scaled.cols + size.width / 10;
  }
  return canvas;
}

std::vector<Face> detectWithBands(const cv::Mat& rgb, const char* band_pixels, DetectorOptions o) {
  setenv("FACEKIT_PNET_BAND_PIXELS", band_pixels, 1);  // read when the detector is created
  auto det = FaceDetector::create(o);
  unsetenv("FACEKIT_PNET_BAND_PIXELS");
  return det->detect({rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step});
}

// Runs `facekit <args>` through /bin/sh with `prefix` before it (ulimit, environment).
facekit::test::CliResult runWith(const std::string& prefix, const std::string& args) {
  const fs::path err = fs::temp_directory_path() / ("facekit-tiles-" + std::to_string(::getpid()) + ".err");
  facekit::test::CliResult r;
  FILE* p = popen((prefix + " " + FACEKIT_TEST_CLI + " " + args + " 2>" + err.string()).c_str(), "r");
  char buf[4096];
  for (size_t got; (got = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, got);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  fs::remove(err);
  return r;
}

void expectSameFaces(const std::vector<Face>& a, const std::vector<Face>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].score, b[i].score) << what << " face " << i;
    EXPECT_EQ(a[i].box.x1, b[i].box.x1) << what;
    EXPECT_EQ(a[i].box.y1, b[i].box.y1) << what;
    EXPECT_EQ(a[i].box.x2, b[i].box.x2) << what;
    EXPECT_EQ(a[i].box.y2, b[i].box.y2) << what;
    for (size_t k = 0; k < 5; ++k) EXPECT_EQ(a[i].landmarks[k].y, b[i].landmarks[k].y) << what;
  }
}

}  // namespace

// Bands of any height give the faces of whole levels, bit for bit: 1 and 2 threads, with and
// without border_faces, bands of a few rows (many bands, odd last bands) and the default.
TEST(Tiles, BandsGiveTheFacesOfWholeLevels) {
  const cv::Mat scene = sceneWithFaces({1600, 1000}, {40, 70, 120, 200, 330}, 10);
  for (bool border : {true, false})
    for (int threads : {1, 2}) {
      DetectorOptions o = testOptions();
      o.border_faces = border, o.num_threads = threads;
      const auto whole = detectWithBands(scene, "0", o);
      EXPECT_GE(whole.size(), 5u);
      for (const char* band : {"3000", "20480", "100000"})
        expectSameFaces(detectWithBands(scene, band, o), whole, std::string("band pixels ") + band + (border ? " border" : "") +
                                                                     " threads " + std::to_string(threads));
    }
}

// The same with all_orientations: the upright and the turned passes run their large levels in
// bands too (bounded memory for landmarks, label and video, where it is the default).
TEST(Tiles, AllOrientationsBandsGiveTheFacesOfWholeLevels) {
  cv::Mat scene = sceneWithFaces({1200, 800}, {60, 110, 180}, 11), turned;
  cv::rotate(scene(cv::Rect(0, 0, 600, 800)), turned, cv::ROTATE_90_CLOCKWISE);  // some faces lying sideways
  turned.copyTo(scene(cv::Rect(0, 200, 800, 600)));
  for (int threads : {1, 2}) {
    DetectorOptions o = testOptions();
    o.all_orientations = true, o.num_threads = threads;
    const auto whole = detectWithBands(scene, "0", o);
    EXPECT_GE(whole.size(), 2u);
    for (const char* band : {"5000", "20480"})
      expectSameFaces(detectWithBands(scene, band, o), whole, std::string("all orientations, band pixels ") + band + " threads " + std::to_string(threads));
  }
}

// A 60-megapixel image with a few pasted faces, through `facekit detect`: under an address-space
// ceiling of the program's own start-up size (measured) plus twice the decoded image plus 256 MiB, the tiled
// detector gives exactly the JSON of the untiled one (run without a ceiling), and the untiled one
// fails under that ceiling.
TEST(Tiles, SixtyMegapixelsUnderAMemoryCeiling) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reserves terabytes of shadow address space at start-up: no process of an
  // ASan build can run under an address-space ceiling.
  GTEST_SKIP() << "an address-space ceiling cannot hold an AddressSanitizer build";
#endif
  const cv::Size size(8000, 7500);
  const cv::Mat scene = sceneWithFaces(size, {150, 260, 420, 700, 1100}, 60);
  const fs::path dir = fs::temp_directory_path() / ("facekit-tiles-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string file = (dir / "sixty.png").string();
  cv::Mat bgr;
  cv::cvtColor(scene, bgr, cv::COLOR_RGB2BGR);
  ASSERT_TRUE(cv::imwrite(file, bgr, {cv::IMWRITE_PNG_COMPRESSION, 1}));
  // Start-up: the least address space in which `facekit detect` runs on a small image (found by
  // bisection; it depends on what the program links), so the ceiling follows the program.
  const std::string small = (dir / "small.png").string();
  ASSERT_TRUE(cv::imwrite(small, bgr(cv::Rect(0, 0, 640, 480))));
  long lo = 8 * 1024, hi = 4L * 1024 * 1024;  // KiB: fails at lo, runs at hi
  ASSERT_EQ(runWith("ulimit -v " + std::to_string(hi) + ";", "detect " + small).exit_code, 0);
  while (hi - lo > 4 * 1024) {
    const long mid = (lo + hi) / 2;
    (runWith("ulimit -v " + std::to_string(mid) + ";", "detect " + small).exit_code == 0 ? hi : lo) = mid;
  }
  const long startup_kib = hi;
  const long image_kib = long(size.area()) * 3 / 1024;
  const long ceiling_kib = startup_kib + 2 * image_kib + 256 * 1024;  // start-up + image twice + working memory
  const std::string args = "detect " + file + " --min-face 80";
  const auto reference = runWith("FACEKIT_PNET_BAND_PIXELS=0", args);
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const std::string limit = "ulimit -v " + std::to_string(ceiling_kib) + ";";
  const auto tiled = runWith(limit, args);
  const auto untiled = runWith(limit + " FACEKIT_PNET_BAND_PIXELS=0", args);
  fs::remove_all(dir);
  ASSERT_EQ(tiled.exit_code, 0) << "tiled, under " << ceiling_kib / 1024 << " MiB: " << tiled.err;
  EXPECT_EQ(tiled.out, reference.out);
  EXPECT_GE(std::count(reference.out.begin(), reference.out.end(), '['), 1 + 5 * 2) << reference.out;  // 5 faces at least
  EXPECT_NE(untiled.exit_code, 0) << "the untiled detector fits under the ceiling too: the ceiling proves nothing";
  std::printf("60 MP (%dx%d), min face 80, start-up %ld MiB, ceiling %ld MiB: tiled ok, untiled %s\n", size.width, size.height, startup_kib / 1024, ceiling_kib / 1024,
              untiled.exit_code == 0 ? "ok too" : untiled.err.c_str());
}
