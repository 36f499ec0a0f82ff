// Image file I/O with the checks facekit promises in image.hpp. The header is parsed by hand
// for PNG and JPEG before anything is decoded, so oversized, 16-bit, alpha and truncated files
// are refused up front with a precise message (OpenCV would silently convert or half-decode).
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/model_file.hpp"
#include "facekit/error.hpp"
#include "facekit/image.hpp"
#include "pipeline/cv_interop.hpp"

namespace facekit {
namespace {

[[noreturn]] void badImage(const std::string& path, const std::string& what) {
  throw Error(Error::Code::kBadImage, path + ": " + what);
}

struct Header {
  enum Kind { kUnknown, kPng, kJpeg } kind = kUnknown;
  uint64_t width = 0, height = 0;
  int bits = 8;
  int channels = 0;  // colour channels incl. alpha as the file declares them
  bool complete = true;
};

uint32_t be32(const std::string& b, size_t o) {
  return uint32_t(uint8_t(b[o])) << 24 | uint32_t(uint8_t(b[o + 1])) << 16 | uint32_t(uint8_t(b[o + 2])) << 8 | uint8_t(b[o + 3]);
}
uint32_t be16(const std::string& b, size_t o) { return uint32_t(uint8_t(b[o])) << 8 | uint8_t(b[o + 1]); }

Header probePng(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kPng;
  if (b.size() < 33 || b.compare(12, 4, "IHDR") != 0) badImage(path, "corrupt PNG (no IHDR header)");
  h.width = be32(b, 16);
  h.height = be32(b, 20);
  h.bits = uint8_t(b[24]);
  const int color_type = uint8_t(b[25]);
  h.channels = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 3 ? 3 : color_type == 4 ? 2 : color_type == 6 ? 4 : 0;
  if (!h.channels) badImage(path, "corrupt PNG (colour type " + std::to_string(color_type) + ")");
  // Every PNG ends with an IEND chunk: 4-byte length 0, "IEND", 4-byte CRC.
  h.complete = b.size() >= 45 && b.find("IEND", b.size() - 12) != std::string::npos;
  return h;
}

Header probeJpeg(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kJpeg;
  size_t p = 2;
  bool have_sof = false;
  while (p + 4 <= b.size()) {
    if (uint8_t(b[p]) != 0xFF) badImage(path, "corrupt JPEG (bad marker)");
    const int marker = uint8_t(b[p + 1]);
    if (marker == 0xFF) { ++p; continue; }  // fill byte
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { p += 2; continue; }
    const size_t len = be16(b, p + 2);
    if (len < 2 || p + 2 + len > b.size()) break;  // truncated inside the headers
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof && len >= 8) {
      h.bits = uint8_t(b[p + 4]);
      h.height = be16(b, p + 5);
      h.width = be16(b, p + 7);
      h.channels = uint8_t(b[p + 9]);
      have_sof = true;
    }
    if (marker == 0xDA) {  // start of scan: entropy-coded data follows up to the EOI marker
      if (!have_sof) badImage(path, "corrupt JPEG (no frame header)");
      // 0xFF inside entropy data is always followed by 0x00 or a restart marker, so an
      // FF D9 after the scan header can only be the end-of-image marker.
      h.complete = b.find("\xFF\xD9", p + 2 + len) != std::string::npos;
      return h;
    }
    p += 2 + len;
  }
  badImage(path, "truncated JPEG (file ends inside its headers)");
}

// OpenCV ignores PNG colour profiles, but libpng still checks them and prints warnings (such as
// "iCCP: known incorrect sRGB profile") on stderr; dropping the iCCP chunk keeps output clean
// and changes no pixel.
std::string withoutIccp(const std::string& b) {
  std::string out = b.substr(0, 8);
  size_t p = 8;
  while (p + 12 <= b.size()) {
    const size_t len = be32(b, p), total = 12 + len;
    if (p + total > b.size()) break;
    if (b.compare(p + 4, 4, "iCCP") != 0) out.append(b, p, total);
    p += total;
  }
  out.append(b, p, std::string::npos);  // anything after (should be nothing)
  return out;
}

Header probe(const std::string& b, const std::string& path) {
  static const std::string kPngSig("\x89PNG\r\n\x1a\n", 8);
  if (b.size() >= 8 && b.compare(0, 8, kPngSig) == 0) return probePng(b, path);
  if (b.size() >= 3 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8 && uint8_t(b[2]) == 0xFF) return probeJpeg(b, path);
  return {};
}

void checkSize(uint64_t w, uint64_t h, const LoadOptions& o, const std::string& path) {
  const std::string dims = std::to_string(w) + "x" + std::to_string(h);
  if (w * h > o.max_pixels)
    badImage(path, "image is " + dims + " pixels, larger than the limit of " + std::to_string(o.max_pixels) + " pixels");
  if (w < uint64_t(o.min_side) || h < uint64_t(o.min_side))
    badImage(path, "image is " + dims + " pixels; facekit needs at least " + std::to_string(o.min_side) + "x" +
                       std::to_string(o.min_side));
}

}  // namespace

int channelsOf(PixelFormat f) { return f == PixelFormat::kGray ? 1 : 3; }

Image loadImage(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(Error::Code::kIoError, path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw Error(Error::Code::kIoError, path + ": is a directory, not an image");
  std::string bytes = engine::readFileBytes(path);
  if (bytes.empty()) badImage(path, "empty file (0 bytes)");

  const Header h = probe(bytes, path);
  if (h.kind == Header::kPng && bytes.find("iCCP") != std::string::npos) bytes = withoutIccp(bytes);
  int flags = cv::IMREAD_UNCHANGED;
  if (h.kind != Header::kUnknown) {
    checkSize(h.width, h.height, options, path);
    if (h.bits > 8) badImage(path, std::to_string(h.bits) + "-bit samples are not supported; convert to 8-bit first");
    if (h.channels == 2 || h.channels == 4)
      badImage(path, "images with an alpha channel are not supported; flatten to 8-bit RGB or gray first");
    if (h.kind == Header::kJpeg && h.channels != 1 && h.channels != 3)
      badImage(path, "JPEG with " + std::to_string(h.channels) + " components (CMYK?) is not supported");
    if (!h.complete) badImage(path, std::string("truncated ") + (h.kind == Header::kPng ? "PNG (no IEND chunk)" : "JPEG (no end-of-image marker)"));
    flags = h.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;  // IMREAD_COLOR applies EXIF orientation
  }
  cv::Mat m;
  try {
    m = cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data())), flags);
  } catch (const cv::Exception& e) {
    badImage(path, "cannot decode: " + std::string(e.err));
  }
  if (m.empty()) badImage(path, "cannot decode (corrupt file or unsupported format)");
  if (m.depth() != CV_8U) badImage(path, "samples are not 8-bit; convert to 8-bit first");
  if (m.channels() == 2 || m.channels() == 4)
    badImage(path, "images with an alpha channel are not supported; flatten to 8-bit RGB or gray first");
  checkSize(uint64_t(m.cols), uint64_t(m.rows), options, path);

  if (m.channels() == 1) return imageFromMat(m, PixelFormat::kGray);
  cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return imageFromMat(m, PixelFormat::kRGB);
}

Image toRGB(const ImageView& v) {
  if (!v.data || v.width <= 0 || v.height <= 0) throw Error(Error::Code::kInvalidArgument, "toRGB: empty image view");
  const cv::Mat src = matView(v);
  cv::Mat rgb;
  if (v.format == PixelFormat::kGray) cv::cvtColor(src, rgb, cv::COLOR_GRAY2RGB);
  else if (v.format == PixelFormat::kBGR) cv::cvtColor(src, rgb, cv::COLOR_BGR2RGB);
  else rgb = src.clone();
  return imageFromMat(rgb, PixelFormat::kRGB);
}

void saveImage(const ImageView& v, const std::string& path) {
  if (!v.data || v.width <= 0 || v.height <= 0) throw Error(Error::Code::kInvalidArgument, "saveImage: empty image view");
  const cv::Mat src = matView(v);
  cv::Mat out;
  if (v.format == PixelFormat::kRGB) cv::cvtColor(src, out, cv::COLOR_RGB2BGR);
  else out = src;
  bool ok = false;
  try {
    ok = cv::imwrite(path, out);
  } catch (const cv::Exception& e) {
    throw Error(Error::Code::kIoError, path + ": cannot write image: " + e.err);
  }
  if (!ok) throw Error(Error::Code::kIoError, path + ": cannot write image (unknown extension or unwritable folder?)");
}

}  // namespace facekit
