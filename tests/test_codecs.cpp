// facekit's own PNG and JPEG codecs (src/pipeline/codecs.cpp, libpng and libjpeg-turbo) against
// OpenCV 4.6's cv::imdecode, byte for byte: the shared photos, a sample of the WIDER FACE
// validation subset, and generated files of every kind the decoders branch on (progressive,
// 4:4:4 / 4:2:2 / 4:2:0, restart markers, RGB-coded, gray, CMYK, YCCK, Huffman tables left out as
// in Motion-JPEG, EXIF orientations 1-8 in both byte orders and the ways OpenCV reads or skips
// them; PNG at 1, 2, 4, 8 and 16 bits, palette with and without transparency, gray + alpha,
// RGBA, interlaced, gAMA / sRGB / iCCP chunks that must change nothing, eXIf before and after
// the image data). Then: files facekit writes decode back (PNG exactly), and the formats that go
// through the plugin (BMP, TIFF, WebP, PNM) read and write as before.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "image_writers.hpp"  // writeJpeg, writePng, EXIF blocks: the files OpenCV cannot write
#include "pipeline/codecs.hpp"
#include "test_util.hpp"

using namespace facekit;
using namespace facekit::test;
namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

cv::Mat cvDecode(const std::string& bytes, int flags) {
  return cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data())), flags);
}

// facekit's pixels as OpenCV's matrix (RGB -> BGR), for comparing with imdecode.
cv::Mat asBgr(const Image& img) {
  const cv::Mat m(img.height, img.width, img.format == PixelFormat::kGray ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(img.pixels.data()));
  cv::Mat out;
  if (img.format == PixelFormat::kRGB) cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
  else out = m.clone();
  return out;
}

::testing::AssertionResult identical(const cv::Mat& got, const cv::Mat& want) {
  if (want.empty()) return ::testing::AssertionFailure() << "OpenCV could not decode it";
  if (got.size() != want.size() || got.type() != want.type())
    return ::testing::AssertionFailure() << "got " << got.cols << "x" << got.rows << " type " << got.type() << ", want " << want.cols << "x"
                                         << want.rows << " type " << want.type();
  cv::Mat diff;
  cv::absdiff(got, want, diff);
  const int bad = cv::countNonZero(diff.reshape(1));
  if (bad) return ::testing::AssertionFailure() << bad << " samples differ";
  return ::testing::AssertionSuccess();
}

// facekit's decoder against imdecode(IMREAD_ANYCOLOR) (facekit's contract: gray stays gray;
// `gray_alpha` files against IMREAD_GRAYSCALE, as facekit reads them), and for colour files
// against imdecode(IMREAD_COLOR) as well.
::testing::AssertionResult decodesLikeOpenCv(const std::string& bytes, const std::string& name, bool gray_alpha = false) {
  Image img;
  try {
    img = loadImageFromMemory(bytes.data(), bytes.size(), name);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "facekit: " << e.what();
  }
  const cv::Mat got = asBgr(img);
  auto r = identical(got, cvDecode(bytes, gray_alpha ? cv::IMREAD_GRAYSCALE : cv::IMREAD_ANYCOLOR));
  if (!r || img.format == PixelFormat::kGray) return r;
  return identical(got, cvDecode(bytes, cv::IMREAD_COLOR));
}

// Random samples for w x h pixels of `channels` samples at `bits` (packed below 8 bits).
std::vector<uint8_t> randomSamples(int w, int h, int channels, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t row_bytes = (size_t(w) * channels * bits + 7) / 8;
  std::vector<uint8_t> v(row_bytes * size_t(h));
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

// The test photo, scaled (odd sizes exercise the decoders' edge handling).
const cv::Mat& photo() {
  static const cv::Mat m = [] {
    cv::Mat bgr = cv::imread(FACEKIT_TEST_SAMPLE, cv::IMREAD_COLOR), small;
    cv::resize(bgr, small, cv::Size(203, 157), 0, 0, cv::INTER_AREA);
    return small;
  }();
  return m;
}
cv::Mat photoRgb() {
  cv::Mat rgb;
  cv::cvtColor(photo(), rgb, cv::COLOR_BGR2RGB);
  return rgb;
}
cv::Mat photoGray() {
  cv::Mat g;
  cv::cvtColor(photo(), g, cv::COLOR_BGR2GRAY);
  return g;
}
cv::Mat photoCmyk() {  // Adobe-style (inverted) CMYK with a varying K
  const cv::Mat rgb = photoRgb();
  cv::Mat cmyk(rgb.rows, rgb.cols, CV_8UC4);
  for (int r = 0; r < rgb.rows; ++r)
    for (int c = 0; c < rgb.cols; ++c) {
      const cv::Vec3b p = rgb.at<cv::Vec3b>(r, c);
      cmyk.at<cv::Vec4b>(r, c) = {p[0], p[1], p[2], uint8_t(255 - (r + c) % 128)};
    }
  return cmyk;
}

std::vector<fs::path> sharedPhotos() {
  std::vector<fs::path> files;
  const fs::path faces = fs::path(FACEKIT_TEST_SHARED) / "data" / "faces";
  const fs::path wider = fs::path(FACEKIT_TEST_SHARED) / "data" / "widerface-val-subset" / "images";
  if (fs::is_directory(faces))
    for (const auto& e : fs::directory_iterator(faces))
      if (e.path().extension() == ".jpg" || e.path().extension() == ".png") files.push_back(e.path());
  std::vector<fs::path> w;
  if (fs::is_directory(wider))
    for (const auto& e : fs::recursive_directory_iterator(wider))
      if (e.is_regular_file()) w.push_back(e.path());
  std::sort(w.begin(), w.end());
  const size_t step = std::max<size_t>(1, w.size() / 50);  // every 6th of the 315: 53 files over the three events
  for (size_t i = 0; i < w.size(); i += step) files.push_back(w[i]);
  return files;
}

}  // namespace

TEST(Codecs, SharedPhotosDecodeExactlyAsOpenCv) {
  const auto files = sharedPhotos();
  if (files.size() < 40) GTEST_SKIP() << "the shared photos are not in " << FACEKIT_TEST_SHARED;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string bytes = readFile(f);
    EXPECT_TRUE(decodesLikeOpenCv(bytes, f.string()));
    // And from the file, the way the CLI reads it.
    EXPECT_TRUE(identical(asBgr(loadImage(f.string())), cv::imread(f.string(), cv::IMREAD_COLOR)));
  }
  std::printf("[codecs] %zu shared photos identical to OpenCV's\n", files.size());
}

TEST(Codecs, JpegVariantsDecodeExactlyAsOpenCv) {
  const cv::Mat rgb = photoRgb(), gray = photoGray(), cmyk = photoCmyk();
  struct Case {
    std::string name;
    std::string bytes;
  };
  std::vector<Case> cases = {
      {"baseline 4:2:0", writeJpeg(rgb, {})},
      {"4:2:2", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 2, 1})},
      {"4:4:4", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 1, 1})},
      {"4:4:0", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 1, 2})},
      {"progressive", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 2, 2, true})},
      {"progressive 4:4:4 optimized", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 1, 1, true, true})},
      {"restart markers", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 2, 2, false, false, 1})},
      {"quality 20", writeJpeg(rgb, {JCS_RGB, JCS_UNKNOWN, 2, 2, false, false, 0, 20})},
      {"RGB-coded (Adobe transform 0)", writeJpeg(rgb, {JCS_RGB, JCS_RGB, 1, 1})},
      {"gray", writeJpeg(gray, {JCS_GRAYSCALE, JCS_UNKNOWN, 1, 1})},
      {"progressive gray", writeJpeg(gray, {JCS_GRAYSCALE, JCS_UNKNOWN, 1, 1, true})},
      {"CMYK", writeJpeg(cmyk, {JCS_CMYK, JCS_CMYK, 1, 1})},
      {"YCCK", writeJpeg(cmyk, {JCS_CMYK, JCS_YCCK, 2, 2})},
      {"progressive YCCK", writeJpeg(cmyk, {JCS_CMYK, JCS_YCCK, 2, 2, true})},
      {"no Huffman tables (Motion-JPEG)", withoutHuffmanTables(writeJpeg(rgb, {}))},
  };
  {
    std::vector<uchar> buf;
    cv::imencode(".jpg", photo(), buf, {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
    cases.push_back({"cv::imencode progressive", std::string(buf.begin(), buf.end())});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_GT(c.bytes.size(), 100u);
    EXPECT_TRUE(decodesLikeOpenCv(c.bytes, c.name + ".jpg"));
  }
  // The gray file is gray, the CMYK one colour.
  EXPECT_EQ(loadImageFromMemory(cases[9].bytes.data(), cases[9].bytes.size()).format, PixelFormat::kGray);
  EXPECT_EQ(loadImageFromMemory(cases[11].bytes.data(), cases[11].bytes.size()).format, PixelFormat::kRGB);
}

TEST(Codecs, ExifOrientationIsReadAsOpenCvReadsIt) {
  const std::string jpg = writeJpeg(photoRgb(), {});
  const cv::Mat upright = cvDecode(jpg, cv::IMREAD_COLOR);
  int turned = 0;
  for (bool little : {true, false})
    for (int o = 1; o <= 8; ++o) {
      SCOPED_TRACE((little ? "II orientation " : "MM orientation ") + std::to_string(o));
      const std::string file = withExifOrientation(jpg, o, little);
      EXPECT_TRUE(decodesLikeOpenCv(file, "exif.jpg"));
      const Image img = loadImageFromMemory(file.data(), file.size());
      turned += !identical(asBgr(img), upright);  // 2..8 each change the pixels
      if (o >= 5) {
        EXPECT_EQ(img.width, upright.rows);
      }
    }
  EXPECT_EQ(turned, 14);
  // Also in a PNG's eXIf chunk, before or after the image data.
  const cv::Mat rgb = photoRgb();
  const std::vector<uint8_t> px(rgb.data, rgb.data + rgb.total() * 3);
  for (int o : {3, 6, 8}) {
    PngSpec before, after;
    before.exif_before = tiffBlock(false, {{0x0112, 3, 1, uint32_t(o)}});
    after.exif_after = tiffBlock(true, {{0x0112, 3, 1, uint32_t(o)}});
    for (const PngSpec* s : {&before, &after}) {
      SCOPED_TRACE("PNG eXIf orientation " + std::to_string(o) + (s == &before ? " before" : " after") + " IDAT");
      const std::string png = writePng(rgb.cols, rgb.rows, px, *s);
      EXPECT_TRUE(decodesLikeOpenCv(png, "exif.png"));
      EXPECT_FALSE(identical(asBgr(loadImageFromMemory(png.data(), png.size())), photo()));
    }
  }
  // What OpenCV reads and skips: only the first APP1 (an XMP one first hides the EXIF), any
  // type for the orientation, the first orientation entry, values out of 1..8, entries out of
  // bounds before or after the orientation, a wrong tag mark or byte order, short blocks.
  const std::string xmp = "http://ns.adobe.com/xap/1.0/" + std::string(1, '\0') + "<x:xmpmeta/>";
  const std::vector<std::pair<std::string, std::string>> odd = {
      {"XMP first", withApp1(withApp1(jpg, exifPayload(true, {{0x0112, 3, 1, 6}})), xmp)},
      {"EXIF then XMP", withApp1(withApp1(jpg, xmp), exifPayload(true, {{0x0112, 3, 1, 6}}))},
      {"LONG orientation", withApp1(jpg, exifPayload(true, {{0x0112, 4, 1, 6}}))},
      {"two orientations", withApp1(jpg, exifPayload(false, {{0x0112, 3, 1, 8}, {0x0112, 3, 1, 3}}))},
      {"orientation 9", withApp1(jpg, exifPayload(true, {{0x0112, 3, 1, 9}}))},
      {"orientation 0", withApp1(jpg, exifPayload(true, {{0x0112, 3, 1, 0}}))},
      {"bad string before", withApp1(jpg, exifPayload(true, {{0x010F, 2, 100, 5000}, {0x0112, 3, 1, 6}}))},
      {"bad string after", withApp1(jpg, exifPayload(true, {{0x0112, 3, 1, 6}, {0x010F, 2, 100, 5000}}))},
      {"bad rational before", withApp1(jpg, exifPayload(false, {{0x011A, 5, 1, 0xFFFFFF00u}, {0x0112, 3, 1, 6}}))},
      {"short string inline", withApp1(jpg, exifPayload(true, {{0x0110, 2, 3, 0x00414141}, {0x0112, 3, 1, 3}}))},
      {"other tags", withApp1(jpg, exifPayload(true, {{0x0100, 4, 1, 203}, {0x8769, 4, 1, 26}, {0x0128, 3, 1, 2}, {0x0112, 3, 1, 7}}))},
      {"tag mark 43", [&] { std::string e = exifPayload(true, {{0x0112, 3, 1, 6}}); e[8] = 43; return withApp1(jpg, e); }()},
      {"byte order IM", [&] { std::string e = exifPayload(false, {{0x0112, 3, 1, 6}}); e[6] = 'I'; return withApp1(jpg, e); }()},
      {"byte order XX", [&] { std::string e = exifPayload(false, {{0x0112, 3, 1, 6}}); e[6] = e[7] = 'X'; return withApp1(jpg, e); }()},
      {"IFD offset out of bounds", [&] { std::string e = exifPayload(true, {{0x0112, 3, 1, 6}}); e[10] = char(0xF0); return withApp1(jpg, e); }()},
      {"cut in the entry", withApp1(jpg, exifPayload(true, {{0x0112, 3, 1, 6}}).substr(0, 6 + 8 + 2 + 9))},
      {"cut before the value", withApp1(jpg, exifPayload(true, {{0x0112, 3, 1, 6}}).substr(0, 6 + 8 + 2 + 8))},
      {"6 bytes only", withApp1(jpg, std::string("Exif\0\0", 6))},
      {"7 bytes", withApp1(jpg, std::string("Exif\0\0I", 7))},
  };
  for (const auto& [name, file] : odd) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(decodesLikeOpenCv(file, "odd-exif.jpg"));
  }
  // The reader on its own: the first orientation wins, a bad entry after it does not matter.
  const std::string two = tiffBlock(false, {{0x0112, 3, 1, 8}, {0x0112, 3, 1, 3}});
  EXPECT_EQ(codecs::exifOrientation(reinterpret_cast<const unsigned char*>(two.data()), two.size()), 8);
  const std::string bad_before = tiffBlock(true, {{0x013E, 5, 2, 0xFFFF0000u}, {0x0112, 3, 1, 6}});
  EXPECT_EQ(codecs::exifOrientation(reinterpret_cast<const unsigned char*>(bad_before.data()), bad_before.size()), 1);
}

TEST(Codecs, PngVariantsDecodeExactlyAsOpenCv) {
  const int w = 61, h = 37;  // odd sides: partial bytes at 1-4 bits, every Adam7 pass uneven
  struct Case {
    std::string name;
    std::string bytes;
    bool gray_alpha = false;
  };
  std::vector<Case> cases;
  uint32_t seed = 1;
  auto add = [&](const std::string& name, int color_type, int bits, int channels, PngSpec s = {}, bool gray_alpha = false) {
    s.color_type = color_type, s.bit_depth = bits;
    for (bool interlaced : {false, true}) {
      s.interlaced = interlaced;
      cases.push_back({name + (interlaced ? " interlaced" : ""), writePng(w, h, randomSamples(w, h, channels, bits, seed++), s), gray_alpha});
    }
  };
  for (int bits : {1, 2, 4, 8, 16}) add("gray " + std::to_string(bits), PNG_COLOR_TYPE_GRAY, bits, 1);
  for (int bits : {8, 16}) {
    add("RGB " + std::to_string(bits), PNG_COLOR_TYPE_RGB, bits, 3);
    add("RGBA " + std::to_string(bits), PNG_COLOR_TYPE_RGB_ALPHA, bits, 4);
    add("gray+alpha " + std::to_string(bits), PNG_COLOR_TYPE_GRAY_ALPHA, bits, 2, {}, true);
  }
  PngSpec key;
  key.trns_color = true;
  add("gray 8 with tRNS", PNG_COLOR_TYPE_GRAY, 8, 1, key);
  add("RGB 8 with tRNS", PNG_COLOR_TYPE_RGB, 8, 3, key);
  for (int bits : {1, 2, 4, 8}) {
    PngSpec pal;
    std::mt19937 rng(bits);
    for (int i = 0; i < (1 << bits); ++i) pal.palette.push_back({uint8_t(rng()), uint8_t(rng()), uint8_t(rng())});
    add("palette " + std::to_string(bits), PNG_COLOR_TYPE_PALETTE, bits, 1, pal);
    for (int i = 0; i < (1 << bits) / 2 + 1; ++i) pal.trns.push_back(uint8_t(rng()));
    add("palette " + std::to_string(bits) + " with alpha", PNG_COLOR_TYPE_PALETTE, bits, 1, pal);
  }
  // Colour metadata that OpenCV does not apply (and neither may facekit).
  PngSpec gamma;
  gamma.gamma = 1.0;
  add("RGB 8 gAMA 1.0", PNG_COLOR_TYPE_RGB, 8, 3, gamma);
  add("RGBA 16 gAMA 1.0", PNG_COLOR_TYPE_RGB_ALPHA, 16, 4, gamma);
  gamma.gamma = 0.2;
  add("gray 8 gAMA 0.2", PNG_COLOR_TYPE_GRAY, 8, 1, gamma);
  PngSpec srgb;
  srgb.srgb = true;
  add("RGB 8 sRGB", PNG_COLOR_TYPE_RGB, 8, 3, srgb);
  PngSpec icc;  // not a valid profile: libpng warns and drops it
  {
    const std::string junk(132, '\x11');
    uLongf n = compressBound(uLong(junk.size()));
    std::string z(n, '\0');
    compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(junk.data()), uLong(junk.size()));
    z.resize(n);
    icc.iccp = std::string("junk\0\0", 6) + z;
  }
  add("RGB 8 broken iCCP", PNG_COLOR_TYPE_RGB, 8, 3, icc);
  add("palette 8 broken iCCP", PNG_COLOR_TYPE_PALETTE, 8, 1, [&] {
    PngSpec pal = icc;
    for (int i = 0; i < 256; ++i) pal.palette.push_back({uint8_t(i), uint8_t(255 - i), uint8_t(i * 7)});
    return pal;
  }());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_FALSE(c.bytes.empty());
    EXPECT_TRUE(decodesLikeOpenCv(c.bytes, c.name + ".png", c.gray_alpha));
  }
  // 16-bit samples are cut to their high byte (OpenCV's strip_16), not rounded.
  std::vector<uint8_t> s16(size_t(w) * h * 2);
  for (size_t i = 0; i < s16.size(); i += 2) s16[i] = 0xFF, s16[i + 1] = 0x12;  // 0x12FF, little-endian in memory
  PngSpec g16;
  g16.color_type = PNG_COLOR_TYPE_GRAY, g16.bit_depth = 16;
  const std::string png16 = writePng(w, h, s16, g16);
  EXPECT_EQ(loadImageFromMemory(png16.data(), png16.size()).pixels.at(0), 0x12);
}

// A broken PNG or JPEG is one error naming the file and the library's reason.
TEST(Codecs, CorruptDataIsOneErrorLine) {
  const cv::Mat rgb = photoRgb();
  std::string png = writePng(rgb.cols, rgb.rows, std::vector<uint8_t>(rgb.data, rgb.data + rgb.total() * 3), {});
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  png[idat + 20] ^= 0x55;  // the CRC of IDAT no longer matches
  try {
    loadImageFromMemory(png.data(), png.size(), "broken.png");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kBadImage);
    EXPECT_EQ(std::string(e.what()).rfind("broken.png: corrupt PNG (", 0), 0u) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_TRUE(cvDecode(png, cv::IMREAD_COLOR).empty());  // OpenCV refuses it too
  // A JPEG whose frame header claims 4 bits a sample.
  std::string jpg = writeJpeg(rgb, {});
  const size_t sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpg[sof + 4] = 4;
  try {
    loadImageFromMemory(jpg.data(), jpg.size(), "broken.jpg");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("broken.jpg: corrupt JPEG (", 0), 0u) << e.what();
  }
  EXPECT_TRUE(cvDecode(jpg, cv::IMREAD_COLOR).empty());
}

// What facekit writes: PNG back to the same pixels (gray, RGB, BGR views, with a stride), JPEG
// back close to them (and decoded by facekit as OpenCV decodes it); the plugin's formats too.
TEST(Codecs, WrittenFilesDecodeBack) {
  const fs::path dir = test::freshTempDir("facekit-codecs-", "write");
  const cv::Mat bgr = photo(), rgb = photoRgb(), gray = photoGray();
  cv::Mat wide(bgr.rows, bgr.cols + 5, CV_8UC3, cv::Scalar(1, 2, 3));
  bgr.copyTo(wide(cv::Rect(0, 0, bgr.cols, bgr.rows)));
  const cv::Mat strided = wide(cv::Rect(0, 0, bgr.cols, bgr.rows));
  struct View {
    std::string name;
    ImageView view;
    cv::Mat want_bgr;  // what imread must give back
  };
  const std::vector<View> views = {
      {"rgb", {rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step}, bgr},
      {"bgr-strided", {strided.data, strided.cols, strided.rows, PixelFormat::kBGR, strided.step}, bgr},
      {"gray", {gray.data, gray.cols, gray.rows, PixelFormat::kGray, gray.step}, gray},
  };
  for (const View& v : views) {
    for (const char* ext : {".png", ".PNG", ".jpg", ".jpeg", ".bmp", ".tiff", ".ppm"}) {
      if (v.view.format == PixelFormat::kGray && std::string(ext) == ".ppm") continue;
      SCOPED_TRACE(v.name + ext);
      const std::string path = (dir / (v.name + ext)).string();
      ASSERT_NO_THROW(saveImage(v.view, path));
      const std::string bytes = readFile(path);
      const cv::Mat back = cv::imread(path, cv::IMREAD_UNCHANGED);
      ASSERT_FALSE(back.empty());
      EXPECT_TRUE(decodesLikeOpenCv(bytes, path));
      std::string lower = ext;
      for (char& c : lower) c = char(std::tolower(c));
      if (lower == ".jpg" || lower == ".jpeg" || lower == ".png") {
        // The same encoder settings as cv::imwrite (JPEG quality 95, 4:2:0; PNG zlib level 1,
        // SUB filter, RLE): the same bytes.
        std::vector<uchar> cv_bytes;
        ASSERT_TRUE(cv::imencode(ext, v.want_bgr, cv_bytes));
        EXPECT_TRUE(bytes == std::string(cv_bytes.begin(), cv_bytes.end())) << bytes.size() << " vs " << cv_bytes.size() << " bytes";
      }
      if (lower == ".jpg" || lower == ".jpeg") {
        EXPECT_EQ(bytes.compare(0, 3, "\xFF\xD8\xFF"), 0);
        cv::Mat diff;
        cv::absdiff(back, v.want_bgr, diff);
        EXPECT_LT(cv::mean(diff)[0], 4.0);  // quality 95 on a detailed 203x157 photo: 3.3
      } else {
        EXPECT_TRUE(identical(back, v.want_bgr));  // lossless
      }
      if (lower == ".png") {
        EXPECT_EQ(bytes.compare(0, 4, "\x89PNG"), 0);
      }
    }
  }
  fs::remove_all(dir);
}

// The plugin is where facekit says, and the formats it reads decode exactly as OpenCV decodes them.
TEST(Codecs, PluginFormatsDecodeAsBefore) {
  std::string why;
  const std::string where = codecs::pluginPath(&why);
  ASSERT_FALSE(where.empty()) << why;
  EXPECT_EQ(fs::path(where).filename(), "libfacekit_imgcodecs.so");
  for (const char* ext : {".bmp", ".tiff", ".webp", ".ppm", ".pgm"}) {
    SCOPED_TRACE(ext);
    cv::Mat m = photo();
    if (std::string(ext) == ".pgm") m = photoGray();
    std::vector<uchar> buf;
    ASSERT_TRUE(cv::imencode(ext, m, buf));
    EXPECT_TRUE(decodesLikeOpenCv(std::string(buf.begin(), buf.end()), std::string("plugin") + ext));
  }
}
