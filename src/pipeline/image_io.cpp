// Image file I/O with the checks facekit promises in image.hpp. Every accepted format's header
// is parsed by hand before anything is decoded, so oversized and truncated files are refused up
// front with a precise message (a decoder would allocate first, or half-decode), and only decoders
// whose input was checked ever run. PNG and JPEG are then decoded by libpng and libjpeg-turbo
// (codecs.cpp), BMP, TIFF, WebP and PNM by OpenCV in the plugin libfacekit_imgcodecs.so
// (codec_plugin.cpp), all as imread does (IMREAD_ANYCOLOR: 8 bits, alpha dropped, EXIF
// orientation applied; gray stays gray), unless LoadOptions::strict asks for today's refusals
// of 16-bit, alpha and CMYK files.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/model_file.hpp"
#include "facekit/error.hpp"
#include "facekit/image.hpp"
#include "models/cv_interop.hpp"
#include "pipeline/codecs.hpp"

namespace facekit {
namespace {

[[noreturn]] void badImage(const std::string& path, const std::string& what) {
  throw Error(Error::Code::kBadImage, path + ": " + what);
}

// What a header says, before decoding.
struct Header {
  enum Kind { kUnknown, kPng, kJpeg, kBmp, kTiff, kWebp, kPnm } kind = kUnknown;
  uint64_t width = 0, height = 0;
  int bits = 8;      // PNG / JPEG only: bits per sample
  int channels = 0;  // PNG / JPEG only: colour channels incl. alpha as the file declares them
  bool complete = true;
};

// Bounds-checked readers: a short buffer reads as zeros (callers check sizes first).
uint32_t at(const std::string& b, size_t o) { return o < b.size() ? uint8_t(b[o]) : 0u; }
uint32_t be32(const std::string& b, size_t o) { return at(b, o) << 24 | at(b, o + 1) << 16 | at(b, o + 2) << 8 | at(b, o + 3); }
uint32_t be16(const std::string& b, size_t o) { return at(b, o) << 8 | at(b, o + 1); }
uint32_t le16(const std::string& b, size_t o) { return at(b, o) | at(b, o + 1) << 8; }
uint32_t le32(const std::string& b, size_t o) { return at(b, o) | at(b, o + 1) << 8 | at(b, o + 2) << 16 | at(b, o + 3) << 24; }

Header probePng(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kPng;
  if (b.size() < 33 || b.compare(12, 4, "IHDR") != 0) badImage(path, "corrupt PNG (no IHDR header)");
  h.width = be32(b, 16);
  h.height = be32(b, 20);
  h.bits = int(at(b, 24));
  const int color_type = int(at(b, 25));
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
      h.bits = int(at(b, p + 4));
      h.height = be16(b, p + 5);
      h.width = be16(b, p + 7);
      h.channels = int(at(b, p + 9));
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

// BMP: BITMAPFILEHEADER (14 bytes), then the info header, whose first field is its own size;
// the OS/2 1.x header (12 bytes) has 16-bit sides, the others 32-bit signed ones (a negative
// height means top-down rows).
Header probeBmp(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kBmp;
  if (b.size() < 26) badImage(path, "truncated BMP (file ends inside its header)");
  const uint32_t info = le32(b, 14);
  if (info == 12) {
    h.width = le16(b, 18), h.height = le16(b, 20);
  } else {
    if (info < 16 || b.size() < 26) badImage(path, "corrupt BMP (info header of " + std::to_string(info) + " bytes)");
    const int64_t w = int32_t(le32(b, 18)), hh = int32_t(le32(b, 22));
    h.width = uint64_t(w < 0 ? -w : w), h.height = uint64_t(hh < 0 ? -hh : hh);
  }
  return h;
}

// TIFF (classic and BigTIFF, either byte order): the sides from the first image file directory
// (the page OpenCV decodes).
Header probeTiff(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kTiff;
  const bool le = b[0] == 'I';
  auto u16 = [&](size_t o) -> uint64_t { return le ? le16(b, o) : be16(b, o); };
  auto u32 = [&](size_t o) -> uint64_t { return le ? le32(b, o) : be32(b, o); };
  auto u64 = [&](size_t o) -> uint64_t { return le ? u32(o) | u32(o + 4) << 32 : u32(o) << 32 | u32(o + 4); };
  const bool big = u16(2) == 43;
  if (big && (u16(4) != 8 || u16(6) != 0)) badImage(path, "corrupt TIFF (BigTIFF header)");
  const uint64_t ifd = big ? u64(8) : u32(4);
  const size_t count_size = big ? 8 : 2, entry_size = big ? 20 : 12;
  if (ifd < 8 || ifd > b.size() || b.size() - ifd < count_size) badImage(path, "truncated TIFF (no image directory)");
  const uint64_t n = big ? u64(size_t(ifd)) : u16(size_t(ifd));
  if (n == 0 || n > (b.size() - ifd - count_size) / entry_size) badImage(path, "truncated TIFF (image directory runs past the end)");
  bool have_w = false, have_h = false;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t e = size_t(ifd + count_size + i * entry_size);
    const uint64_t tag = u16(e), type = u16(e + 2);
    if (tag != 256 && tag != 257) continue;
    // The value sits in the entry: SHORT (3), LONG (4) or, in BigTIFF, LONG8 (16).
    const size_t v = e + (big ? 12 : 8);
    const uint64_t value = type == 3 ? u16(v) : type == 4 ? u32(v) : type == 16 && big ? u64(v) : UINT64_MAX;
    if (value == UINT64_MAX) badImage(path, "corrupt TIFF (image size of type " + std::to_string(type) + ")");
    (tag == 256 ? h.width : h.height) = value;
    (tag == 256 ? have_w : have_h) = true;
  }
  if (!have_w || !have_h) badImage(path, "corrupt TIFF (no image width or length)");
  return h;
}

// WebP: RIFF container; the first chunk is VP8 (lossy), VP8L (lossless) or VP8X (extended, which
// holds the canvas size).
Header probeWebp(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kWebp;
  if (b.size() < 30) badImage(path, "truncated WebP (file ends inside its header)");
  const std::string chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    if (at(b, 23) != 0x9d || at(b, 24) != 0x01 || at(b, 25) != 0x2a) badImage(path, "corrupt WebP (no VP8 start code)");
    h.width = le16(b, 26) & 0x3fff, h.height = le16(b, 28) & 0x3fff;
  } else if (chunk == "VP8L") {
    if (at(b, 20) != 0x2f) badImage(path, "corrupt WebP (no VP8L signature)");
    const uint32_t v = le32(b, 21);
    h.width = (v & 0x3fff) + 1, h.height = ((v >> 14) & 0x3fff) + 1;
  } else if (chunk == "VP8X") {
    h.width = (at(b, 24) | at(b, 25) << 8 | at(b, 26) << 16) + 1ull;
    h.height = (at(b, 27) | at(b, 28) << 8 | at(b, 29) << 16) + 1ull;
  } else {
    badImage(path, "corrupt WebP (unknown first chunk)");
  }
  return h;
}

// PNM: "P1".."P6" then width, height (and maxval) as decimal text with '#' comments; PAM ("P7")
// has WIDTH / HEIGHT lines up to ENDHDR.
Header probePnm(const std::string& b, const std::string& path) {
  Header h;
  h.kind = Header::kPnm;
  size_t p = 2;
  auto skip = [&] {
    while (p < b.size()) {
      if (b[p] == '#') {
        while (p < b.size() && b[p] != '\n' && b[p] != '\r') ++p;
      } else if (std::isspace(uint8_t(b[p]))) {
        ++p;
      } else {
        break;
      }
    }
  };
  auto number = [&]() -> uint64_t {
    skip();
    uint64_t v = 0;
    size_t digits = 0;
    while (p < b.size() && b[p] >= '0' && b[p] <= '9') {
      if (++digits > 12) badImage(path, "corrupt PNM (number too long)");
      v = v * 10 + uint64_t(b[p++] - '0');
    }
    if (!digits) badImage(path, "corrupt PNM (header number expected)");
    return v;
  };
  if (b[1] != '7') {
    h.width = number(), h.height = number();
    return h;
  }
  bool have_w = false, have_h = false;
  for (int lines = 0; lines < 64 && p < b.size(); ++lines) {
    skip();
    size_t q = p;
    while (q < b.size() && !std::isspace(uint8_t(b[q]))) ++q;
    const std::string key = b.substr(p, q - p);
    p = q;
    if (key == "ENDHDR") break;
    if (key == "WIDTH") h.width = number(), have_w = true;
    else if (key == "HEIGHT") h.height = number(), have_h = true;
    else while (p < b.size() && b[p] != '\n') ++p;  // DEPTH, MAXVAL, TUPLTYPE: the decoder checks them
  }
  if (!have_w || !have_h) badImage(path, "corrupt PAM (no WIDTH or HEIGHT)");
  return h;
}

// The format from its signature, as OpenCV picks its decoder. OpenCV's DICOM decoder looks at
// offset 128 instead, and would take any file that carries "DICM" there: such files are refused.
Header probe(const std::string& b, const std::string& path) {
  static const std::string kPngSig("\x89PNG\r\n\x1a\n", 8);
  if (b.size() >= 132 && b.compare(128, 4, "DICM") == 0) badImage(path, "DICOM files are not supported");
  if (b.size() >= 8 && b.compare(0, 8, kPngSig) == 0) return probePng(b, path);
  if (b.size() >= 3 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8 && uint8_t(b[2]) == 0xFF) return probeJpeg(b, path);
  if (b.size() >= 2 && b.compare(0, 2, "BM") == 0) return probeBmp(b, path);
  if (b.size() >= 8 && (b.compare(0, 4, "II*\0", 4) == 0 || b.compare(0, 4, "MM\0*", 4) == 0 || b.compare(0, 4, "II+\0", 4) == 0 ||
                        b.compare(0, 4, "MM\0+", 4) == 0))
    return probeTiff(b, path);
  if (b.size() >= 12 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) return probeWebp(b, path);
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && std::isspace(uint8_t(b[2]))) return probePnm(b, path);
  return {};
}

void checkSize(uint64_t w, uint64_t h, const LoadOptions& o, const std::string& path) {
  const std::string dims = std::to_string(w) + "x" + std::to_string(h);
  // Sides fit in 32 bits in every accepted header, so the product cannot overflow.
  if (w * h > o.max_pixels)
    badImage(path, "image is " + dims + " pixels, larger than the limit of " + std::to_string(o.max_pixels) + " pixels");
  if (w < uint64_t(o.min_side) || h < uint64_t(o.min_side))
    badImage(path, "image is " + dims + " pixels; facekit needs at least " + std::to_string(o.min_side) + "x" +
                       std::to_string(o.min_side));
}

void checkOptions(const LoadOptions& o) {
  if (o.max_pixels < 1) throw Error(Error::Code::kInvalidArgument, "LoadOptions: max_pixels must be >= 1");
  if (o.min_side < 1) throw Error(Error::Code::kInvalidArgument, "LoadOptions: min_side must be >= 1 (got " + std::to_string(o.min_side) + ")");
}

// The largest file worth reading for an image within the limits: 8 bytes a pixel (16-bit RGBA,
// uncompressed) and 1 MiB of metadata.
uint64_t maxFileBytes(const LoadOptions& o) {
  const uint64_t limit = uint64_t(1) << 40;
  return o.max_pixels > (limit >> 3) ? limit : o.max_pixels * 8 + (uint64_t(1) << 20);
}

Image decode(std::string bytes, const std::string& path, const LoadOptions& options) {
  if (bytes.empty()) badImage(path, "empty file (0 bytes)");
  const Header h = probe(bytes, path);
  if (h.kind == Header::kUnknown)
    badImage(path, "cannot decode: not a JPEG, PNG, BMP, TIFF, WebP or PNM image (corrupt file or unsupported format)");
  checkSize(h.width, h.height, options, path);
  if (options.strict) {
    // The refusals of facekit before 0.2, from the header where there is one (PNG, JPEG), else
    // from the decoded pixels.
    if (h.kind == Header::kJpeg && h.channels != 1 && h.channels != 3)
      badImage(path, "JPEG with " + std::to_string(h.channels) + " components (CMYK?) is not supported");
    if (h.bits > 8) badImage(path, std::to_string(h.bits) + "-bit samples are not supported; convert to 8-bit first");
    if (h.channels == 2 || h.channels == 4)
      badImage(path, "images with an alpha channel are not supported; flatten to 8-bit RGB or gray first");
  }
  if (!h.complete) badImage(path, std::string("truncated ") + (h.kind == Header::kPng ? "PNG (no IEND chunk)" : "JPEG (no end-of-image marker)"));
  // PNG and JPEG: what imdecode gives with IMREAD_ANYCOLOR (--strict: IMREAD_GRAYSCALE for gray
  // files, IMREAD_COLOR for colour ones, which is the same for every file strict accepts). A
  // gray + alpha PNG is read as gray (OpenCV would replicate it into BGR).
  if (h.kind == Header::kPng || h.kind == Header::kJpeg) {
    Image img = h.kind == Header::kPng ? codecs::decodePng(bytes, h.channels == 2, path) : codecs::decodeJpeg(bytes, path);
    checkSize(uint64_t(img.width), uint64_t(img.height), options, path);
    return img;
  }
  // The other formats through the plugin: 8 bits, gray stays gray, colour (alpha dropped) -> BGR,
  // EXIF applied; strict: as the file is, checked below.
  static const char* const kNames[] = {"", "PNG", "JPEG", "BMP", "TIFF", "WebP", "PNM"};
  const codecs::PluginImage d =
      codecs::pluginDecode(bytes, options.strict ? codecs::kImreadUnchanged : codecs::kImreadAnyColor, kNames[h.kind], path);
  if (d.depth != CV_8U) badImage(path, "samples are not 8-bit; convert to 8-bit first");
  if (d.channels == 2 || d.channels == 4)
    badImage(path, "images with an alpha channel are not supported; flatten to 8-bit RGB or gray first");
  if (d.channels != 1 && d.channels != 3) badImage(path, "cannot decode an image of " + std::to_string(d.channels) + " channels");
  checkSize(uint64_t(d.cols), uint64_t(d.rows), options, path);
  const cv::Mat m(d.rows, d.cols, CV_8UC(d.channels), const_cast<char*>(d.pixels.data()));
  if (d.channels == 1) return imageFromMat(m, PixelFormat::kGray);
  cv::Mat rgb;
  cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
  return imageFromMat(rgb, PixelFormat::kRGB);
}

}  // namespace

int channelsOf(PixelFormat f) { return f == PixelFormat::kGray ? 1 : 3; }

Image loadImage(const std::string& path, const LoadOptions& options) {
  checkOptions(options);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(Error::Code::kIoError, path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw Error(Error::Code::kIoError, path + ": is a directory, not an image");
  return decode(engine::readFileBytes(path, maxFileBytes(options)), path, options);
}

Image loadImageFromMemory(const void* data, size_t size, const std::string& name, const LoadOptions& options) {
  checkOptions(options);
  if (!data && size) throw Error(Error::Code::kInvalidArgument, name + ": null data of " + std::to_string(size) + " bytes");
  if (size > maxFileBytes(options)) badImage(name, std::to_string(size) + " bytes, more than any image within the limits");
  return decode(std::string(static_cast<const char*>(data), size), name, options);
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
  // Encoded in memory (the extension picks the format, in any case as OpenCV's imwrite does),
  // then written under a temporary name and renamed, so a kill never leaves a truncated picture
  // at `path`. PNG and JPEG by libpng and libjpeg-turbo, the rest by OpenCV in the plugin.
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  std::string bytes;
  if (ext == ".png") {
    bytes = codecs::encodePng(v, path);
  } else if (ext == ".jpg" || ext == ".jpeg" || ext == ".jpe") {
    bytes = codecs::encodeJpeg(v, path);
  } else if (v.format == PixelFormat::kRGB) {
    cv::Mat bgr;
    cv::cvtColor(matView(v), bgr, cv::COLOR_RGB2BGR);
    bytes = codecs::pluginEncode({bgr.data, bgr.cols, bgr.rows, PixelFormat::kBGR, bgr.step}, ext, path);
  } else {
    bytes = codecs::pluginEncode(v, ext, path);
  }
  engine::writeFileAtomically(path, bytes);
}

}  // namespace facekit
