// JPEG and PNG files written by hand, for the variants OpenCV's encoders cannot make: JPEGs
// through libjpeg (CMYK, YCCK, RGB-coded, 4:4:4 / 4:2:2 / 4:4:0, progressive, restart markers,
// quality, Huffman tables left out, EXIF APP1 segments), PNGs through libpng and zlib (any colour
// type and bit depth, gray + alpha, palettes with or without alpha, tRNS colour keys, Adam7
// interlace, gAMA / sRGB / iCCP / eXIf chunks). Shared by the codec tests (test_codecs.cpp), the
// image format tests (test_image_formats.cpp) and the fuzz seed generator (fuzz/make_seeds.cpp);
// header-only and without gtest, so that the seed generator can use it. Whoever includes it links
// libjpeg, libpng and zlib (JPEG::JPEG, PNG::PNG, ZLIB::ZLIB).
#pragma once

#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include <jpeglib.h>  // after <cstdio>: it uses FILE and size_t without including them

namespace facekit::test {

// --- JPEG ---------------------------------------------------------------------------------------

// How writeJpeg encodes: the defaults give a baseline 4:2:0 YCbCr JPEG at quality 90 of RGB pixels.
struct JpegSpec {
  J_COLOR_SPACE in = JCS_RGB;        // input pixels: RGB (3), GRAYSCALE (1) or CMYK (4)
  J_COLOR_SPACE file = JCS_UNKNOWN;  // jpeg_set_colorspace (JCS_UNKNOWN: libjpeg's default for `in`)
  int h_samp = 2, v_samp = 2;        // luma sampling factors (2x2 = 4:2:0)
  bool progressive = false, optimize = false;
  int restart_rows = 0;
  int quality = 90;
};

// Any JPEG libjpeg can write, for the decoder's branches OpenCV's encoder never takes (CMYK,
// YCCK, RGB-coded, 4:4:4, restart markers, ...). `pixels`: RGB, gray or CMYK rows as s.in says.
inline std::string writeJpeg(const cv::Mat& pixels, const JpegSpec& s = {}) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = JDIMENSION(pixels.cols), c.image_height = JDIMENSION(pixels.rows);
  c.input_components = pixels.channels(), c.in_color_space = s.in;
  jpeg_set_defaults(&c);
  if (s.file != JCS_UNKNOWN) jpeg_set_colorspace(&c, s.file);
  jpeg_set_quality(&c, s.quality, TRUE);
  c.comp_info[0].h_samp_factor = s.h_samp, c.comp_info[0].v_samp_factor = s.v_samp;
  if (s.progressive) jpeg_simple_progression(&c);
  c.optimize_coding = s.optimize ? TRUE : FALSE;
  c.restart_in_rows = s.restart_rows;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.ptr(int(c.next_scanline)));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::string bytes(reinterpret_cast<char*>(out), size);
  jpeg_destroy_compress(&c);
  free(out);
  return bytes;
}

// BGR pixels as Adobe-style (inverted) CMYK with K = 255: C = R, M = G, Y = B, which decodes
// back to the same colours.
inline cv::Mat adobeCmykOf(const cv::Mat& bgr) {
  cv::Mat cmyk(bgr.rows, bgr.cols, CV_8UC4);
  for (int r = 0; r < bgr.rows; ++r)
    for (int c = 0; c < bgr.cols; ++c) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(r, c);
      cmyk.at<cv::Vec4b>(r, c) = {p[2], p[1], p[0], 255};
    }
  return cmyk;
}

// A CMYK JPEG of BGR pixels as Photoshop writes them (Adobe CMYK, no chroma subsampling, libjpeg's
// defaults otherwise): the CMYK files users hand in, which OpenCV reads but cannot write.
inline std::string writeCmykJpeg(const cv::Mat& bgr, int quality) {
  JpegSpec s;
  s.in = JCS_CMYK, s.h_samp = s.v_samp = 1, s.quality = quality;
  return writeJpeg(adobeCmykOf(bgr), s);
}

// `jpeg` with an APP1 segment holding `payload` inserted right after SOI (before any other).
inline std::string withApp1(const std::string& jpeg, const std::string& payload) {
  const size_t len = payload.size() + 2;
  return jpeg.substr(0, 2) + "\xFF\xE1" + char(len >> 8) + char(len & 0xff) + payload + jpeg.substr(2);
}

// One IFD entry of a TIFF structure: tag, type (3 SHORT, 4 LONG, ...), count, value or offset.
struct ExifEntry {
  uint16_t tag, type;
  uint32_t count, value;
};

// A TIFF structure (the body of EXIF blocks) in either byte order, its IFD0 holding `entries`
// and nothing else; offsets in the entries are written as given, so they may point anywhere.
inline std::string tiffBlock(bool little_endian, const std::vector<ExifEntry>& entries) {
  std::string t;
  auto put16 = [&](uint32_t v) {
    little_endian ? (t += char(v & 0xff), t += char(v >> 8)) : (t += char(v >> 8), t += char(v & 0xff));
  };
  auto put32 = [&](uint32_t v) {
    if (little_endian) for (int s : {0, 8, 16, 24}) t += char((v >> s) & 0xff);
    else for (int s : {24, 16, 8, 0}) t += char((v >> s) & 0xff);
  };
  t += little_endian ? "II" : "MM";
  put16(42);
  put32(8);
  put16(uint32_t(entries.size()));
  for (const ExifEntry& e : entries) {
    put16(e.tag), put16(e.type), put32(e.count);
    if (e.type == 3 && e.count == 1) put16(e.value), put16(0);  // a SHORT sits in the first two bytes
    else put32(e.value);
  }
  put32(0);  // no next IFD
  return t;
}

// The payload of an EXIF APP1 segment: "Exif\0\0", then the TIFF structure.
inline std::string exifPayload(bool little_endian, const std::vector<ExifEntry>& entries) {
  return std::string("Exif\0\0", 6) + tiffBlock(little_endian, entries);
}

// `jpeg` with an EXIF APP1 segment holding only Orientation (tag 0x0112, one SHORT): a camera
// photo taken turned, in the byte order of little-endian ("II") or big-endian ("MM") cameras.
inline std::string withExifOrientation(const std::string& jpeg, int orientation, bool little_endian) {
  return withApp1(jpeg, exifPayload(little_endian, {{0x0112, 3, 1, uint32_t(orientation)}}));
}

// `jpeg` with every DHT segment removed, as Motion-JPEG frames leave the standard tables out.
inline std::string withoutHuffmanTables(const std::string& jpeg) {
  std::string out = jpeg.substr(0, 2);
  size_t p = 2;
  while (p + 4 <= jpeg.size() && uint8_t(jpeg[p]) == 0xFF) {
    const int marker = uint8_t(jpeg[p + 1]);
    const size_t len = size_t(uint8_t(jpeg[p + 2])) << 8 | uint8_t(jpeg[p + 3]);
    if (marker == 0xDA) break;
    if (marker != 0xC4) out.append(jpeg, p, 2 + len);
    p += 2 + len;
  }
  return out + jpeg.substr(p);
}

// --- PNG ----------------------------------------------------------------------------------------

// One PNG chunk: length, type, data, CRC of type + data.
inline std::string pngChunk(const std::string& type, const std::string& data) {
  std::string c;
  const uint32_t n = uint32_t(data.size());
  for (int s : {24, 16, 8, 0}) c += char((n >> s) & 0xff);
  const std::string body = type + data;
  c += body;
  const uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size())));
  for (int s : {24, 16, 8, 0}) c += char((crc >> s) & 0xff);
  return c;
}

// How writePng encodes: the defaults give an 8-bit RGB PNG, not interlaced, no extra chunks.
struct PngSpec {
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<png_color> palette;
  std::vector<png_byte> trns;           // palette alpha
  bool trns_color = false;              // a tRNS colour key for gray / RGB
  double gamma = 0;                     // gAMA when > 0
  bool srgb = false;
  std::string iccp;                     // iCCP chunk data (name, 0, method, compressed profile) inserted raw when not empty
  std::string exif_before, exif_after;  // eXIf before or after IDAT
};

namespace detail {
inline void pngAppend(png_structp p, png_bytep d, size_t n) { static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<char*>(d), n); }
inline void pngNoFlush(png_structp) {}
}  // namespace detail

// Any PNG libpng can write: every colour type, depth, interlace and the chunks of `s`, for the
// decoder's branches OpenCV's encoder never takes (gray + alpha, 1-4 bits, palettes, eXIf, ...).
// `samples`: h rows of packed samples as the colour type and depth need (16-bit: native uint16).
// Throws std::runtime_error when libpng refuses to write it.
inline std::string writePng(int w, int h, const std::vector<uint8_t>& samples, const PngSpec& s) {
  std::string out;
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) {
    png_destroy_write_struct(&p, &info);
    throw std::runtime_error("libpng could not write the test file");
  }
  png_set_write_fn(p, &out, detail::pngAppend, detail::pngNoFlush);
  png_set_IHDR(p, info, png_uint_32(w), png_uint_32(h), s.bit_depth, s.color_type, s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(p, info, s.palette.data(), int(s.palette.size()));
  if (!s.trns.empty()) png_set_tRNS(p, info, s.trns.data(), int(s.trns.size()), nullptr);
  png_color_16 key{};
  key.gray = 7, key.red = 10, key.green = 20, key.blue = 30;
  if (s.trns_color) png_set_tRNS(p, info, nullptr, 1, &key);
  if (s.gamma > 0) png_set_gAMA(p, info, s.gamma);
  if (s.srgb) png_set_sRGB(p, info, PNG_sRGB_INTENT_PERCEPTUAL);
  if (!s.exif_before.empty()) png_set_eXIf_1(p, info, png_uint_32(s.exif_before.size()), reinterpret_cast<png_bytep>(const_cast<char*>(s.exif_before.data())));
  png_write_info(p, info);
  if (s.bit_depth == 16) png_set_swap(p);  // samples are native (little-endian) uint16
  const int passes = png_set_interlace_handling(p);
  const size_t row_bytes = samples.size() / size_t(h);
  for (int pass = 0; pass < passes; ++pass)
    for (int r = 0; r < h; ++r) png_write_row(p, const_cast<png_bytep>(samples.data() + size_t(r) * row_bytes));
  png_infop end = png_create_info_struct(p);
  if (!s.exif_after.empty()) png_set_eXIf_1(p, end, png_uint_32(s.exif_after.size()), reinterpret_cast<png_bytep>(const_cast<char*>(s.exif_after.data())));
  png_write_end(p, s.exif_after.empty() ? nullptr : end);
  png_destroy_info_struct(p, &end);
  png_destroy_write_struct(&p, &info);
  if (!s.iccp.empty()) out.insert(8 + 25, pngChunk("iCCP", s.iccp));  // libpng refuses to write a broken profile: by hand, after IHDR
  return out;
}

// A PNG of an 8- or 16-bit matrix (CV_8U / CV_16U) of the colour type's channels, e.g. gray +
// alpha, which OpenCV's encoder cannot write.
inline std::string writePng(const cv::Mat& m, int color_type) {
  std::vector<uint8_t> samples;
  const size_t row_bytes = size_t(m.cols) * m.elemSize();
  for (int r = 0; r < m.rows; ++r) samples.insert(samples.end(), m.ptr(r), m.ptr(r) + row_bytes);
  PngSpec s;
  s.color_type = color_type, s.bit_depth = m.depth() == CV_16U ? 16 : 8;
  return writePng(m.cols, m.rows, samples, s);
}

}  // namespace facekit::test
