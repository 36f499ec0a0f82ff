// Images users hand in are taken the way OpenCV's imread takes them: alpha dropped, 16-bit
// scaled to 8, gray + alpha, CMYK JPEG, WebP, BMP, TIFF, PNM; each gives the same faces as its
// 8-bit RGB conversion. LoadOptions::strict (CLI --strict) keeps the old refusals.
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_writers.hpp"  // writePng (gray + alpha), writeCmykJpeg, withExifOrientation: files OpenCV cannot write
#include "test_util.hpp"

using namespace facekit;

namespace {

std::string bytesOf(const std::vector<uchar>& v) { return std::string(v.begin(), v.end()); }

std::string encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf, params)) << ext;
  return bytesOf(buf);
}

Image fromMemory(const std::string& bytes, const std::string& name, bool strict = false) {
  LoadOptions o;
  o.strict = strict;
  return loadImageFromMemory(bytes.data(), bytes.size(), name, o);
}

// The astronaut as 8-bit BGR, and as RGB pixels (the reference every conversion must give).
const cv::Mat& photoBgr() {
  static const cv::Mat m = cv::imread(FACEKIT_TEST_SAMPLE, cv::IMREAD_COLOR);
  return m;
}
Image rgbOf(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Image img;
  img.width = rgb.cols, img.height = rgb.rows, img.format = PixelFormat::kRGB;
  img.pixels.assign(rgb.data, rgb.data + rgb.total() * 3);
  return img;
}
// An alpha channel that varies over 1 .. max: never 0, since encoders may change the colour of
// fully transparent pixels (libwebp's lossless encoder does).
cv::Mat alphaRamp(int rows, int cols, int depth) {
  cv::Mat a(rows, cols, depth);
  const double top = depth == CV_16U ? 65535 : 255;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double v = top * (1 + (r + c) % 255) / 255.0;
      if (depth == CV_16U) a.at<uint16_t>(r, c) = uint16_t(v);
      else a.at<uint8_t>(r, c) = uint8_t(v);
    }
  return a;
}
cv::Mat to16(const cv::Mat& m8) {  // v -> v * 257: the 16-bit image whose 8-bit conversion is m8
  cv::Mat m16;
  m8.convertTo(m16, CV_16U, 257.0);
  return m16;
}
cv::Mat withAlpha(const cv::Mat& m) {
  std::vector<cv::Mat> ch;
  cv::split(m, ch);
  ch.push_back(alphaRamp(m.rows, m.cols, m.depth()));
  cv::Mat out;
  cv::merge(ch, out);
  return out;
}

std::vector<Face> facesOf(const Image& img) {
  static auto det = FaceDetector::create(test::testOptions());
  return det->detect(img.view());
}

::testing::AssertionResult sameFaces(const std::vector<Face>& a, const std::vector<Face>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " faces vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(Face)) != 0) return ::testing::AssertionFailure() << "face " << i << " differs";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult samePixels(const Image& got, const Image& want) {
  if (got.format != want.format || got.width != want.width || got.height != want.height)
    return ::testing::AssertionFailure() << "got " << got.width << "x" << got.height << " format " << int(got.format) << ", want "
                                         << want.width << "x" << want.height << " format " << int(want.format);
  if (got.pixels != want.pixels) return ::testing::AssertionFailure() << "pixels differ";
  return ::testing::AssertionSuccess();
}

struct Variant {
  std::string name;   // file name (its extension names the format)
  std::string bytes;  // the encoded file
  bool strict_refuses;
  std::string strict_message;  // fragment of the strict refusal
};

// Lossless variants of the photo, each of which must decode to exactly its 8-bit RGB pixels.
std::vector<Variant> losslessColourVariants() {
  const cv::Mat& bgr = photoBgr();
  const cv::Mat bgra = withAlpha(bgr), bgr16 = to16(bgr), bgra16 = withAlpha(bgr16);
  return {
      {"rgba.png", encode(bgra, ".png"), true, "alpha"},
      {"rgb16.png", encode(bgr16, ".png"), true, "16-bit"},
      {"rgba16.png", encode(bgra16, ".png"), true, "16-bit"},
      {"rgb.bmp", encode(bgr, ".bmp"), false, ""},
      {"rgba.bmp", encode(bgra, ".bmp"), false, ""},  // OpenCV reads 32-bit BMPs as 3 channels: accepted before too
      {"rgb.tiff", encode(bgr, ".tiff"), false, ""},
      {"rgba.tiff", encode(bgra, ".tiff"), true, "alpha"},
      {"rgb16.tiff", encode(bgr16, ".tiff"), true, "8-bit"},
      {"rgb-lossless.webp", encode(bgr, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}), false, ""},
      {"rgba-lossless.webp", encode(bgra, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}), true, "alpha"},
      {"rgb.ppm", encode(bgr, ".ppm"), false, ""},
      {"rgb16.ppm", encode(bgr16, ".ppm"), true, "8-bit"},
  };
}

}  // namespace

// Alpha dropped, 16 bits scaled: the pixels are exactly those of the 8-bit RGB photo, so the
// faces are bit for bit the same; --strict refuses what it refused before.
TEST(ImageFormats, ColourVariantsDecodeToTheirEightBitRgbAndGiveTheSameFaces) {
  const Image want = rgbOf(photoBgr());
  const auto want_faces = facesOf(want);
  ASSERT_EQ(want_faces.size(), 1u);
  for (const Variant& v : losslessColourVariants()) {
    SCOPED_TRACE(v.name);
    const Image got = fromMemory(v.bytes, v.name);
    EXPECT_TRUE(samePixels(got, want));
    EXPECT_TRUE(sameFaces(facesOf(got), want_faces));
    if (v.strict_refuses) {
      try {
        fromMemory(v.bytes, v.name, /*strict=*/true);
        ADD_FAILURE() << "strict mode accepted it";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Error::Code::kBadImage);
        EXPECT_NE(std::string(e.what()).find(v.strict_message), std::string::npos) << e.what();
      }
    } else {
      EXPECT_TRUE(samePixels(fromMemory(v.bytes, v.name, true), want));
    }
  }
}

// Gray files (8 or 16 bits, with or without alpha) come back as gray, equal to the 8-bit gray
// image; the detector gives the faces of its RGB replication.
TEST(ImageFormats, GrayAndGrayAlphaDecodeToTheirEightBitGray) {
  cv::Mat gray;
  cv::cvtColor(photoBgr(), gray, cv::COLOR_BGR2GRAY);
  Image want;
  want.width = gray.cols, want.height = gray.rows, want.format = PixelFormat::kGray;
  want.pixels.assign(gray.data, gray.data + gray.total());
  cv::Mat gray_rgb;
  cv::cvtColor(gray, gray_rgb, cv::COLOR_GRAY2BGR);
  const auto want_faces = facesOf(rgbOf(gray_rgb));
  ASSERT_EQ(want_faces.size(), 1u);
  const cv::Mat ga = withAlpha(gray), ga16 = withAlpha(to16(gray));
  const std::vector<Variant> variants = {
      {"gray-alpha.png", test::writePng(ga, PNG_COLOR_TYPE_GRAY_ALPHA), true, "alpha"},
      {"gray-alpha16.png", test::writePng(ga16, PNG_COLOR_TYPE_GRAY_ALPHA), true, "16-bit"},
      {"gray16.png", test::writePng(to16(gray), PNG_COLOR_TYPE_GRAY), true, "16-bit"},
      {"gray.png", test::writePng(gray, PNG_COLOR_TYPE_GRAY), false, ""},
      {"gray.pgm", encode(gray, ".pgm"), false, ""},
  };
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    const Image got = fromMemory(v.bytes, v.name);
    EXPECT_TRUE(samePixels(got, want));
    EXPECT_TRUE(sameFaces(facesOf(got), want_faces));
    if (v.strict_refuses) EXPECT_THROW(fromMemory(v.bytes, v.name, true), Error);
    else EXPECT_TRUE(samePixels(fromMemory(v.bytes, v.name, true), want));
  }
}

// CMYK JPEG: converted as cv::imread(IMREAD_COLOR) converts it, and the face is found where it is
// on the RGB photo (the JPEG is lossy, so the box may move by a fraction of a pixel).
TEST(ImageFormats, CmykJpegDecodesLikeImreadAndFindsTheFace) {
  const cv::Mat& bgr = photoBgr();
  const std::string jpg = test::writeCmykJpeg(bgr, 95);  // Adobe CMYK (inverted), K = 255: decodes to the photo's R, G, B
  const Image got = fromMemory(jpg, "cmyk.jpg");
  cv::Mat ref = cv::imdecode(cv::Mat(1, int(jpg.size()), CV_8U, const_cast<char*>(jpg.data())), cv::IMREAD_COLOR);
  ASSERT_FALSE(ref.empty());
  EXPECT_TRUE(samePixels(got, rgbOf(ref)));
  // Close to the photo (JPEG at quality 95, and OpenCV's k * c / 256 rounding).
  cv::Mat diff;
  cv::absdiff(ref, bgr, diff);
  EXPECT_LT(cv::mean(diff)[0], 4.0);
  const auto faces = facesOf(got), photo_faces = facesOf(rgbOf(bgr));
  ASSERT_EQ(faces.size(), 1u);
  ASSERT_EQ(photo_faces.size(), 1u);
  EXPECT_GT(iou(faces[0].box, photo_faces[0].box), 0.9f);
  EXPECT_NEAR(faces[0].score, photo_faces[0].score, 0.02f);
  try {
    fromMemory(jpg, "cmyk.jpg", true);
    ADD_FAILURE() << "strict mode accepted a CMYK JPEG";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CMYK"), std::string::npos) << e.what();
  }
}

// Lossy WebP and JPEG decode exactly as imread decodes them.
TEST(ImageFormats, LossyFilesDecodeLikeImread) {
  for (const auto& [name, bytes] : {std::pair<std::string, std::string>{"lossy.webp", encode(photoBgr(), ".webp", {cv::IMWRITE_WEBP_QUALITY, 80})},
                                    {"photo.jpg", encode(photoBgr(), ".jpg")}}) {
    SCOPED_TRACE(name);
    const cv::Mat ref = cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data())), cv::IMREAD_COLOR);
    EXPECT_TRUE(samePixels(fromMemory(bytes, name), rgbOf(ref)));
    EXPECT_TRUE(sameFaces(facesOf(fromMemory(bytes, name)), facesOf(rgbOf(ref))));
  }
}

// EXIF orientation is applied (6: the camera was turned, the picture is shown turned clockwise),
// in both modes, as imread applies it.
TEST(ImageFormats, ExifOrientationIsApplied) {
  const std::string jpg = test::withExifOrientation(encode(photoBgr(), ".jpg"), 6, /*little_endian=*/true);
  const cv::Mat ref = cv::imdecode(cv::Mat(1, int(jpg.size()), CV_8U, const_cast<char*>(jpg.data())), cv::IMREAD_COLOR);
  ASSERT_EQ(ref.cols, photoBgr().rows);
  for (bool strict : {false, true}) {
    const Image got = fromMemory(jpg, "turned.jpg", strict);
    EXPECT_TRUE(samePixels(got, rgbOf(ref))) << "strict " << strict;
  }
  // The file on disk gives the same as the bytes in memory.
  const std::string path = (std::filesystem::temp_directory_path() / ("facekit-exif-" + std::to_string(::getpid()) + ".jpg")).string();
  std::ofstream(path, std::ios::binary) << jpg;
  EXPECT_TRUE(samePixels(loadImage(path), rgbOf(ref)));
  std::filesystem::remove(path);
}

// Formats facekit does not check before decoding are refused, whatever OpenCV could do.
TEST(ImageFormats, UncheckedFormatsAreRefused) {
  cv::Mat small(64, 64, CV_8UC3, cv::Scalar(10, 20, 30));
  std::vector<std::pair<std::string, std::string>> files = {
      {"gif.gif", std::string("GIF89a\x40\0\x40\0\0\0\0;", 13)},
      {"pdf.pdf", "%PDF-1.4\n%...\n"},
  };
  std::vector<uchar> buf;
  if (cv::imencode(".jp2", small, buf)) files.push_back({"image.jp2", bytesOf(buf)});
  if (cv::imencode(".hdr", cv::Mat(64, 64, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5)), buf)) files.push_back({"image.hdr", bytesOf(buf)});
  if (cv::imencode(".ras", small, buf)) files.push_back({"image.ras", bytesOf(buf)});
  std::string tiff_dicom = encode(small, ".tiff");  // a TIFF that also carries DICOM's signature
  if (tiff_dicom.size() > 132) tiff_dicom.replace(128, 4, "DICM");
  files.push_back({"dicom-signature.tiff", tiff_dicom});
  for (const auto& [name, bytes] : files) {
    SCOPED_TRACE(name);
    try {
      fromMemory(bytes, name);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kBadImage);
      EXPECT_EQ(std::string(e.what()).rfind(name + ": ", 0), 0u) << e.what();
    }
  }
}

// Headers of every accepted format are checked before decoding: a small file claiming more
// than max_pixels is refused with the size from its header.
TEST(ImageFormats, EveryFormatsHeaderIsCheckedBeforeDecoding) {
  cv::Mat small(64, 80, CV_8UC3, cv::Scalar(10, 20, 30));
  LoadOptions tight;
  tight.max_pixels = 64 * 80 - 1;
  for (const char* ext : {".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm", ".pgm"}) {
    SCOPED_TRACE(ext);
    cv::Mat m = small;
    if (std::string(ext) == ".pgm") cv::cvtColor(small, m, cv::COLOR_BGR2GRAY);
    const std::string bytes = encode(m, ext);
    EXPECT_NO_THROW(loadImageFromMemory(bytes.data(), bytes.size(), ext));
    try {
      loadImageFromMemory(bytes.data(), bytes.size(), ext, tight);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("80x64 pixels, larger than the limit"), std::string::npos) << e.what();
    }
  }
}
