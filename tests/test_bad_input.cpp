// The library refuses bad images and models with a one-line facekit::Error, never a crash.
#include <cstring>

#include "bad_files.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::BadFiles;

namespace {
void expectOneLine(const std::string& msg, const std::string& must_contain) {
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(must_contain), std::string::npos) << "'" << msg << "' should mention '" << must_contain << "'";
}
}  // namespace

TEST(BadInput, EveryBadImageIsRefusedWithAClearMessage) {
  const std::map<std::string, std::string> expect = {
      {"missing.jpg", "no such file"},          {"empty.jpg", "empty file"},
      {"corrupt.jpg", "JPEG"},                  {"random.png", "cannot decode"},
      {"truncated.jpg", "truncated JPEG"},      {"truncated.png", "truncated PNG"},
      {"one-pixel.png", "1x1"},                 {"sixteen-bit.png", "16-bit"},
      {"rgba.png", "alpha"},                    {"huge-header.png", "30000x30000"},
      {"huge-header.jpg", "30000x30000"},       {"not-an-image.txt", "cannot decode"},
  };
  const auto& bad = BadFiles::get();
  ASSERT_EQ(bad.images.size(), expect.size());
  for (const auto& [name, path] : bad.images) {
    try {
      loadImage(path);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      expectOneLine(e.what(), expect.at(name));
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "message should name the file";
    }
  }
}

TEST(BadInput, GrayImagesLoadAsGray) {
  const Image g = loadImage(BadFiles::get().good_gray);
  EXPECT_EQ(g.format, PixelFormat::kGray);
  EXPECT_EQ(g.width, 512);
  EXPECT_EQ(g.pixels.size(), 512u * 512u);
}

TEST(BadInput, EveryBadModelIsRefusedWithAClearMessage) {
  for (const auto& [name, path] : BadFiles::get().models) {
    DetectorOptions o;
    o.model_path = path;
    try {
      FaceDetector::create(o);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      expectOneLine(e.what(), path);
      EXPECT_TRUE(e.code() == Error::Code::kBadModel || e.code() == Error::Code::kIoError) << name;
    }
  }
}

TEST(BadInput, DetectRefusesTinyAndNullViews) {
  auto det = FaceDetector::create(facekit::test::testOptions());
  const uint8_t px[3] = {1, 2, 3};
  EXPECT_THROW(det->detect({px, 1, 1, PixelFormat::kRGB, 0}), Error);
  EXPECT_THROW(det->detect({nullptr, 100, 100, PixelFormat::kRGB, 0}), Error);
  std::vector<uint8_t> small(12 * 12, 7);
  EXPECT_NO_THROW(det->detect({small.data(), 12, 12, PixelFormat::kGray, 0}));  // the minimum works
}

// facekit drops PNG colour-profile chunks (libpng warns about the sample's); pixels must be
// exactly what OpenCV decodes from the untouched file.
TEST(ImageLoading, DroppingThePngProfileKeepsEveryPixel) {
  const Image img = loadImage(FACEKIT_TEST_SAMPLE);
  cv::Mat direct = cv::imread(FACEKIT_TEST_SAMPLE, cv::IMREAD_COLOR);
  cv::cvtColor(direct, direct, cv::COLOR_BGR2RGB);
  ASSERT_EQ(img.width, direct.cols);
  ASSERT_EQ(img.height, direct.rows);
  EXPECT_EQ(0, std::memcmp(img.pixels.data(), direct.data, img.pixels.size()));
}
