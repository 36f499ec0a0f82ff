// PNG and JPEG with libpng and libjpeg-turbo (see codecs.hpp for what "as OpenCV does" covers).
//
// Both libraries report errors by longjmp(). Each library call sequence runs in a function of
// its own (jpegDecodeHeader, jpegDecodeRows, pngDecodeHeader, pngDecodeRows, pngEncode,
// jpegEncode) whose frame holds only plain values and pointers, so
// that a longjmp never skips a C++ destructor; the C++ objects (pixels, row pointers, output
// bytes) live in the caller, which turns a failure into a facekit::Error after the library's
// state is destroyed. Warnings (libjpeg's "Corrupt JPEG data: ... extraneous bytes", libpng's
// "iCCP: known incorrect sRGB profile") are not printed: the data they concern is decoded the
// same way, and facekit's errors are one line.
#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <opencv2/core.hpp>
#include <vector>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "facekit/error.hpp"
#include "models/cv_interop.hpp"
#include "pipeline/codecs.hpp"

namespace facekit::codecs {
namespace {

[[noreturn]] void badImage(const std::string& name, const std::string& what) { throw Error(Error::Code::kBadImage, name + ": " + what); }

// --- EXIF orientation -----------------------------------------------------------------------------

// The transform cv::imread applies for an orientation (its ExifTransform): 2 mirror, 3 rotate 180,
// 4 flip, 5 transpose, 6 turn clockwise, 7 transverse, 8 turn anticlockwise; others: none.
void applyOrientation(Image& img, int orientation) {
  if (orientation < 2 || orientation > 8) return;
  cv::Mat m = matView(img.view()), out;
  switch (orientation) {
    case 2: cv::flip(m, out, 1); break;
    case 3: cv::flip(m, out, -1); break;
    case 4: cv::flip(m, out, 0); break;
    default: {
      cv::Mat t;
      cv::transpose(m, t);
      if (orientation == 5) out = t;
      else cv::flip(t, out, orientation == 6 ? 1 : orientation == 7 ? -1 : 0);
    }
  }
  img = imageFromMat(out, img.format);
}

}  // namespace

// OpenCV's ExifReader, as its behaviour is documented by its source (read, not copied): byte order
// little-endian only for "II" (both bytes equal), otherwise big-endian; the tag mark 0x002A at 2;
// IFD0 at the 32-bit offset at 4; then every IFD0 entry is parsed in order, and a read out of
// bounds in any of them (including the ones that point to strings or rationals elsewhere) ends
// the parse, keeping what was read before; the first Orientation entry wins, its value is the
// 16-bit number at the entry's value field whatever its type and count.
int exifOrientation(const unsigned char* d, size_t n) {
  if (!d || n == 0) return 1;
  const bool intel = (n == 1 || d[0] == d[1]) && d[0] == 'I';
  struct OutOfBounds {};
  auto u16 = [&](size_t o) -> uint32_t {
    if (o + 1 >= n) throw OutOfBounds{};
    return intel ? d[o] | uint32_t(d[o + 1]) << 8 : uint32_t(d[o]) << 8 | d[o + 1];
  };
  auto u32 = [&](size_t o) -> uint32_t {
    if (o + 3 >= n) throw OutOfBounds{};
    return intel ? d[o] | uint32_t(d[o + 1]) << 8 | uint32_t(d[o + 2]) << 16 | uint32_t(d[o + 3]) << 24
                 : uint32_t(d[o]) << 24 | uint32_t(d[o + 1]) << 16 | uint32_t(d[o + 2]) << 8 | d[o + 3];
  };
  auto rationals = [&](size_t entry, int count) {
    uint32_t at = u32(entry + 8);
    for (int i = 0; i < count; ++i, at += 8) u32(at), u32(size_t(at) + 4);
  };
  int orientation = 1;
  bool found = false;
  try {
    if (u16(2) != 0x2A) return 1;
    uint32_t offset = u32(4);
    const size_t entries = u16(offset);
    offset += 2;
    for (size_t i = 0; i < entries; ++i, offset += 12) {
      switch (u16(offset)) {
        case 0x010E: case 0x010F: case 0x0110: case 0x0131: case 0x0132: case 0x8298: {  // strings
          const size_t size = u32(offset + 4);
          const size_t at = size > 4 ? u32(offset + 8) : 8;
          if (at > n || at + size > n) throw OutOfBounds{};
          break;
        }
        case 0x0112: {  // Orientation
          const int v = int(u16(offset + 8));
          if (!found) orientation = v, found = true;
          break;
        }
        case 0x011A: case 0x011B: rationals(offset, 1); break;  // X/Y resolution
        case 0x013E: rationals(offset, 2); break;                // white point
        case 0x013F: case 0x0214: rationals(offset, 6); break;   // primary chromaticities, reference black/white
        case 0x0211: rationals(offset, 3); break;                // YCbCr coefficients
        case 0x0128: case 0x0213: u16(offset + 8); break;        // resolution unit, YCbCr positioning
        default: break;
      }
    }
  } catch (const OutOfBounds&) {
  }
  return orientation;
}

namespace {

// --- JPEG ------------------------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};
void jpegErrorExit(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  c->err->format_message(c, e->message);
  std::longjmp(e->jump, 1);
}
void jpegSilent(j_common_ptr) {}
JpegError* jpegErrors(JpegError* e) {
  jpeg_std_error(&e->pub);
  e->pub.error_exit = jpegErrorExit;
  e->pub.output_message = jpegSilent;
  e->message[0] = '\0';
  return e;
}

struct JpegOut {
  Image* image;
  std::vector<uint8_t>* cmyk_row;
  int orientation = 1;
  bool pixels_done = false;
};

// The header, the output colour space and the EXIF orientation; 1 on a libjpeg error.
int jpegDecodeHeader(jpeg_decompress_struct* c, JpegError* err, const std::string* bytes, JpegOut* out) {
  if (setjmp(err->jump)) return 1;
  jpeg_create_decompress(c);
  jpeg_mem_src(c, reinterpret_cast<const unsigned char*>(bytes->data()), static_cast<unsigned long>(bytes->size()));
  jpeg_save_markers(c, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(c, TRUE);
  // IMREAD_ANYCOLOR: colour when there is more than one component. OpenCV asks libjpeg for BGR,
  // facekit for RGB: the same YCbCr conversion, other byte order. Four components (CMYK, or
  // YCCK that libjpeg turns into CMYK) are converted below as OpenCV converts them.
  const bool color = c->num_components > 1;
  c->out_color_space = !color ? JCS_GRAYSCALE : c->num_components == 4 ? JCS_CMYK : JCS_RGB;
  // EXIF: the first APP1 segment, its TIFF structure after the 6 bytes of "Exif\0\0" (not checked).
  for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1) {
      if (m->data_length > 6) out->orientation = exifOrientation(m->data + 6, m->data_length - 6);
      break;
    }
  Image& img = *out->image;
  img.width = int(c->image_width), img.height = int(c->image_height);
  img.format = color ? PixelFormat::kRGB : PixelFormat::kGray;
  return 0;
}

// The pixels, into the image the caller allocated; 1 on a libjpeg error.
int jpegDecodeRows(jpeg_decompress_struct* c, JpegError* err, JpegOut* out) {
  if (setjmp(err->jump)) return out->pixels_done ? 0 : 1;  // OpenCV ignores errors from jpeg_finish_decompress
  jpeg_start_decompress(c);
  Image& img = *out->image;
  if (int(c->output_width) != img.width || int(c->output_height) != img.height)
    return std::snprintf(err->message, sizeof err->message, "output size differs from the frame size"), 1;
  const bool cmyk = c->out_color_space == JCS_CMYK;
  uint8_t* pixels = img.pixels.data();
  const size_t row_bytes = size_t(img.width) * size_t(channelsOf(img.format));
  while (c->output_scanline < c->output_height) {
    const JDIMENSION y = c->output_scanline;
    JSAMPROW dst = cmyk ? out->cmyk_row->data() : pixels + size_t(y) * row_bytes;
    if (jpeg_read_scanlines(c, &dst, 1) != 1) return std::snprintf(err->message, sizeof err->message, "file ends early"), 1;
    if (cmyk) {  // OpenCV's inverted-CMYK formula, per channel: k - (255 - c) * k / 256
      const uint8_t* s = out->cmyk_row->data();
      uint8_t* d = pixels + size_t(y) * row_bytes;
      for (int x = 0; x < img.width; ++x, s += 4, d += 3) {
        const int k = s[3];
        for (int ch = 0; ch < 3; ++ch) d[ch] = uint8_t(k - ((255 - s[ch]) * k >> 8));
      }
    }
  }
  out->pixels_done = true;
  jpeg_finish_decompress(c);
  return 0;
}

struct JpegReadGuard {
  jpeg_decompress_struct* c;
  ~JpegReadGuard() { jpeg_destroy_decompress(c); }
};

// --- PNG -------------------------------------------------------------------------------------------

struct PngState {
  const unsigned char* data;
  size_t size, pos;
  char message[256];
};
void pngError(png_structp p, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(p));
  std::snprintf(s->message, sizeof s->message, "%s", msg);
  png_longjmp(p, 1);
}
void pngSilent(png_structp, png_const_charp) {}
void pngRead(png_structp p, png_bytep out, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(p));
  if (n > s->size - s->pos) png_error(p, "file ends early");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

struct PngOut {
  Image* image;
  std::vector<png_bytep>* rows;
  bool gray = false;  // IMREAD_GRAYSCALE instead of IMREAD_ANYCOLOR
  int orientation = 1;
};

// Reads the header and sets the transforms; the caller then allocates and pngDecodeRows reads.
int pngDecodeHeader(png_structp p, png_infop info, PngOut* out) {
  if (setjmp(png_jmpbuf(p))) return 1;
  png_read_info(p, info);
  png_uint_32 w = 0, h = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(p, info, &w, &h, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  // OpenCV's channel count: gray 1, RGB and palette 3 (4 with tRNS), gray + alpha and RGBA 4;
  // IMREAD_ANYCOLOR makes anything above 1 colour (3 channels, so alpha is stripped).
  const bool color = !out->gray && color_type != PNG_COLOR_TYPE_GRAY;
  // The transforms cv::imdecode sets, in its order (8-bit output).
  if (bit_depth == 16) png_set_strip_16(p);
  else png_set_swap(p);
  png_set_strip_alpha(p);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(p);
  if ((color_type & PNG_COLOR_MASK_COLOR) && color) {
    // OpenCV: png_set_bgr. facekit keeps libpng's RGB order.
  } else if (color) {
    png_set_gray_to_rgb(p);
  } else {
    png_set_rgb_to_gray(p, 1, 0.299, 0.587);
  }
  png_set_interlace_handling(p);
  png_read_update_info(p, info);
  Image& img = *out->image;
  img.width = int(w), img.height = int(h), img.format = color ? PixelFormat::kRGB : PixelFormat::kGray;
  if (png_get_rowbytes(p, info) != size_t(w) * (color ? 3 : 1)) png_error(p, "unexpected row size after conversion");
  return 0;
}

int pngDecodeRows(png_structp p, png_infop info, png_infop end, PngOut* out) {
  if (setjmp(png_jmpbuf(p))) return 1;
  png_read_image(p, out->rows->data());
  png_read_end(p, end);
  png_uint_32 num_exif = 0;
  png_bytep exif = nullptr;
  // EXIF from the eXIf chunk before the image data, else after it (as OpenCV looks).
  if (png_get_valid(p, info, PNG_INFO_eXIf)) png_get_eXIf_1(p, info, &num_exif, &exif);
  else if (png_get_valid(p, end, PNG_INFO_eXIf)) png_get_eXIf_1(p, end, &num_exif, &exif);
  if (exif && num_exif > 0) out->orientation = exifOrientation(exif, num_exif);
  return 0;
}

struct PngReadGuard {
  png_structp p = nullptr;
  png_infop info = nullptr, end = nullptr;
  ~PngReadGuard() { png_destroy_read_struct(&p, info ? &info : nullptr, end ? &end : nullptr); }
};

// --- writing ----------------------------------------------------------------------------------------

struct PngSink {
  std::string* out;
  char message[256];
};
void pngWriteError(png_structp p, png_const_charp msg) {
  auto* s = static_cast<PngSink*>(png_get_error_ptr(p));
  std::snprintf(s->message, sizeof s->message, "%s", msg);
  png_longjmp(p, 1);
}
void pngWrite(png_structp p, png_bytep data, size_t n) {
  auto* s = static_cast<PngSink*>(png_get_io_ptr(p));
  bool failed = false;
  try {
    s->out->append(reinterpret_cast<const char*>(data), n);
  } catch (...) {
    failed = true;
  }
  if (failed) png_error(p, "out of memory");
}
void pngFlush(png_structp) {}

int pngEncode(png_structp p, png_infop info, const ImageView* v, PngSink* sink) {
  if (setjmp(png_jmpbuf(p))) return 1;
  png_set_write_fn(p, sink, pngWrite, pngFlush);
  // cv::imencode's defaults for PNG: tuned for speed.
  png_set_filter(p, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_compression_level(p, Z_BEST_SPEED);
  png_set_compression_strategy(p, Z_RLE);
  const bool gray = v->format == PixelFormat::kGray;
  png_set_IHDR(p, info, png_uint_32(v->width), png_uint_32(v->height), 8, gray ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(p, info);
  if (v->format == PixelFormat::kBGR) png_set_bgr(p);
  for (int r = 0; r < v->height; ++r) png_write_row(p, const_cast<png_bytep>(v->data + size_t(r) * v->rowBytes()));
  png_write_end(p, nullptr);
  return 0;
}

int jpegEncode(jpeg_compress_struct* c, JpegError* err, const ImageView* v, int quality, unsigned char** buf, unsigned long* size) {
  if (setjmp(err->jump)) return 1;
  jpeg_create_compress(c);
  jpeg_mem_dest(c, buf, size);
  c->image_width = JDIMENSION(v->width), c->image_height = JDIMENSION(v->height);
  c->input_components = v->format == PixelFormat::kGray ? 1 : 3;
  c->in_color_space = v->format == PixelFormat::kGray ? JCS_GRAYSCALE : v->format == PixelFormat::kBGR ? JCS_EXT_BGR : JCS_RGB;
  jpeg_set_defaults(c);
  jpeg_set_quality(c, quality, TRUE);
  jpeg_start_compress(c, TRUE);
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(v->data + size_t(c->next_scanline) * v->rowBytes());
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return 0;
}

void checkView(const ImageView& v, const std::string& name) {
  if (!v.data || v.width <= 0 || v.height <= 0) throw Error(Error::Code::kInvalidArgument, name + ": cannot write an empty image");
}

}  // namespace

Image decodeJpeg(const std::string& bytes, const std::string& name) {
  jpeg_decompress_struct c{};
  JpegError err;
  c.err = &jpegErrors(&err)->pub;
  JpegReadGuard guard{&c};
  Image img;
  std::vector<uint8_t> cmyk_row;
  JpegOut out{&img, &cmyk_row};
  if (jpegDecodeHeader(&c, &err, &bytes, &out)) badImage(name, std::string("corrupt JPEG (") + err.message + ")");
  img.pixels.resize(size_t(img.width) * size_t(img.height) * size_t(channelsOf(img.format)));
  if (c.out_color_space == JCS_CMYK) cmyk_row.resize(size_t(img.width) * 4);
  if (jpegDecodeRows(&c, &err, &out)) badImage(name, std::string("corrupt JPEG (") + err.message + ")");
  applyOrientation(img, out.orientation);
  return img;
}

Image decodePng(const std::string& bytes, bool gray, const std::string& name) {
  PngState state{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, ""};
  PngReadGuard g;
  g.p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, pngError, pngSilent);
  if (!g.p) throw std::bad_alloc();
  g.info = png_create_info_struct(g.p);
  g.end = png_create_info_struct(g.p);
  if (!g.info || !g.end) throw std::bad_alloc();
  png_set_read_fn(g.p, &state, pngRead);
  Image img;
  std::vector<png_bytep> rows;
  PngOut out{&img, &rows, gray};
  if (pngDecodeHeader(g.p, g.info, &out)) badImage(name, std::string("corrupt PNG (") + state.message + ")");
  const size_t row_bytes = size_t(img.width) * size_t(channelsOf(img.format));
  img.pixels.resize(row_bytes * size_t(img.height));
  rows.resize(size_t(img.height));
  for (size_t r = 0; r < rows.size(); ++r) rows[r] = img.pixels.data() + r * row_bytes;
  if (pngDecodeRows(g.p, g.info, g.end, &out)) badImage(name, std::string("corrupt PNG (") + state.message + ")");
  applyOrientation(img, out.orientation);
  return img;
}

std::string encodePng(const ImageView& v, const std::string& name) {
  checkView(v, name);
  std::string bytes;
  PngSink sink{&bytes, ""};
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, pngWriteError, pngSilent);
  png_infop info = p ? png_create_info_struct(p) : nullptr;
  const int rc = info ? pngEncode(p, info, &v, &sink) : 1;
  png_destroy_write_struct(&p, &info);
  if (rc) throw Error(Error::Code::kIoError, name + ": cannot write PNG (" + (info ? sink.message : "out of memory") + ")");
  return bytes;
}

std::string encodeJpeg(const ImageView& v, const std::string& name, int quality) {
  checkView(v, name);
  jpeg_compress_struct c{};
  JpegError err;
  c.err = &jpegErrors(&err)->pub;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = jpegEncode(&c, &err, &v, quality, &buf, &size);
  jpeg_destroy_compress(&c);
  std::string bytes;
  if (!rc) bytes.assign(reinterpret_cast<const char*>(buf), size);
  std::free(buf);
  if (rc) throw Error(Error::Code::kIoError, name + ": cannot write JPEG (" + err.message + ")");
  return bytes;
}

}  // namespace facekit::codecs
