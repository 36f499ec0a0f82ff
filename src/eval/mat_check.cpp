#include "eval/mat_check.hpp"

#include <zlib.h>

#include <cstdint>
#include <cstring>

#include "engine/model_file.hpp"
#include "facekit/error.hpp"

namespace facekit::eval {
namespace {

// MAT-file 5 data types and array classes (MathWorks, "MAT-File Format", 2021).
enum : uint32_t {
  miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miSINGLE = 7, miDOUBLE = 9,
  miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16, miUTF16 = 17, miUTF32 = 18,
};
enum : uint32_t { mxCELL = 1, mxSTRUCT = 2, mxCHAR = 4, mxDOUBLE = 6, mxUINT64 = 15 };

size_t typeSize(uint32_t t) {
  switch (t) {
    case miINT8: case miUINT8: case miUTF8: return 1;
    case miINT16: case miUINT16: case miUTF16: return 2;
    case miINT32: case miUINT32: case miSINGLE: case miUTF32: return 4;
    case miDOUBLE: case miINT64: case miUINT64: return 8;
    default: return 0;
  }
}

constexpr size_t kMaxInflated = size_t(256) << 20;
constexpr int kMaxDepth = 16;

struct Checker {
  const std::string& path;
  bool swap = false;
  size_t inflated = 0;

  [[noreturn]] void bad(const std::string& what) const {
    throw Error(Error::Code::kBadModel, path + ": not a MATLAB 5 file facekit can read (" + what + ")");
  }
  uint32_t u32(const std::string& b, size_t o) const {
    uint32_t v;
    std::memcpy(&v, b.data() + o, 4);
    return swap ? __builtin_bswap32(v) : v;
  }

  struct Element {
    uint32_t type;
    size_t data, size, next;  // payload [data, data + size); the next element starts at `next`
  };
  // The data element at p, which must lie within [p, end).
  Element element(const std::string& b, size_t p, size_t end) const {
    if (end < p || end - p < 8) bad("an element header runs past its container");
    const uint32_t w = u32(b, p);
    if (w >> 16) {  // small data element: type and size in one word, up to 4 bytes of data
      if ((w >> 16) > 4) bad("a small element claims " + std::to_string(w >> 16) + " bytes");
      return {w & 0xffff, p + 4, w >> 16, p + 8};
    }
    const size_t n = u32(b, p + 4);
    if (n > end - p - 8) bad("an element of " + std::to_string(n) + " bytes runs past its container");
    const size_t padded = w == miCOMPRESSED ? n : (n + 7) / 8 * 8;
    return {w, p + 8, n, std::min(end, p + 8 + padded)};
  }

  std::string inflate(const std::string& b, size_t p, size_t n) {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) bad("zlib");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(b.data() + p));
    z.avail_in = uInt(n);
    std::string out;
    char chunk[65536];
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(chunk);
      z.avail_out = sizeof chunk;
      rc = ::inflate(&z, Z_NO_FLUSH);
      const size_t got = sizeof chunk - z.avail_out;
      inflated += got;
      if (inflated > kMaxInflated) {
        inflateEnd(&z);
        bad("compressed data inflates to more than 256 MiB");
      }
      out.append(chunk, got);
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended before the stream did
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) bad("a compressed element is corrupt or truncated");
    return out;
  }

  // The elements of a file body or of an inflated element: variables, each a matrix.
  void variables(const std::string& b, size_t p, size_t end, bool compressed_allowed) {
    while (p < end) {
      const Element e = element(b, p, end);
      if (e.type == miMATRIX) {
        matrix(b, e.data, e.data + e.size, 1);
      } else if (e.type == miCOMPRESSED && compressed_allowed) {
        const std::string inner = inflate(b, e.data, e.size);
        variables(inner, 0, inner.size(), false);
      } else {
        bad("a top-level element of type " + std::to_string(e.type));
      }
      p = e.next;
    }
  }

  // The payload [p, end) of a miMATRIX element.
  void matrix(const std::string& b, size_t p, size_t end, int depth) {
    if (depth > kMaxDepth) bad("arrays nested deeper than " + std::to_string(kMaxDepth));
    if (p == end) return;  // an empty matrix (an empty cell's content)
    const Element flags = element(b, p, end);
    if (flags.type != miUINT32 || flags.size != 8) bad("array flags");
    const uint32_t f = u32(b, flags.data), cls = f & 0xff;
    const bool complex = f & 0x800;
    const Element dims = element(b, flags.next, end);
    if (dims.type != miINT32 || dims.size < 8 || dims.size % 4) bad("array dimensions");
    uint64_t count = 1;
    for (size_t i = 0; i < dims.size / 4; ++i) {
      const int32_t d = int32_t(u32(b, dims.data + 4 * i));
      if (d < 0) bad("a negative dimension");
      if (__builtin_mul_overflow(count, uint64_t(d), &count) || count > (uint64_t(1) << 40)) bad("dimensions too large");
    }
    const Element name = element(b, dims.next, end);
    if (name.type != miINT8) bad("array name");
    size_t q = name.next;
    if (cls == mxCELL) {
      if (count > (end - q) / 8) bad(std::to_string(count) + " cells in " + std::to_string(end - q) + " bytes");
      for (uint64_t i = 0; i < count; ++i) {
        const Element c = element(b, q, end);
        if (c.type != miMATRIX) bad("a cell that is not an array");
        matrix(b, c.data, c.data + c.size, depth + 1);
        q = c.next;
      }
    } else if (cls == mxSTRUCT) {
      const Element len = element(b, q, end);
      if (len.type != miINT32 || len.size != 4) bad("struct field name length");
      const uint32_t l = u32(b, len.data);
      const Element names = element(b, len.next, end);
      if (l == 0 || l > 64 || names.type != miINT8 || names.size % l) bad("struct field names");
      const uint64_t fields = names.size / l;
      q = names.next;
      if (fields && count > (end - q) / 8 / fields) bad("more struct fields than the data holds");
      for (uint64_t i = 0; i < count * fields; ++i) {
        const Element c = element(b, q, end);
        if (c.type != miMATRIX) bad("a struct field that is not an array");
        matrix(b, c.data, c.data + c.size, depth + 1);
        q = c.next;
      }
    } else if (cls == mxCHAR || (cls >= mxDOUBLE && cls <= mxUINT64)) {
      if (q == end && count == 0) return;
      for (int part = 0; part < (complex ? 2 : 1); ++part) {
        const Element d = element(b, q, end);
        const size_t ts = typeSize(d.type);
        if (!ts) bad("numeric data of type " + std::to_string(d.type));
        const bool utf8 = d.type == miUTF8 && cls == mxCHAR;  // characters of 1 to 4 bytes
        if (utf8 ? (d.size < count || d.size > 4 * count) : d.size != count * ts) bad("data does not match the dimensions");
        q = d.next;
      }
    } else {
      bad("array class " + std::to_string(cls) + " (sparse, object, function or opaque)");
    }
  }
};

}  // namespace

void checkMat5(const std::string& path) {
  const std::string b = engine::readFileBytes(path, uint64_t(1) << 30);
  Checker c{path};
  if (b.size() < 128) c.bad("shorter than the 128-byte header");
  if (b.compare(126, 2, "IM") == 0) c.swap = false;
  else if (b.compare(126, 2, "MI") == 0) c.swap = true;
  else c.bad("no MATLAB 5 endian indicator");
  const uint16_t version = uint16_t(uint8_t(b[124]) | uint8_t(b[125]) << 8);
  if ((c.swap ? __builtin_bswap16(version) : version) != 0x0100) c.bad("version is not 5 (7.3 files are HDF5)");
  c.variables(b, 128, b.size(), true);
}

}  // namespace facekit::eval
