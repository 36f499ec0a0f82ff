// Images in and out of facekit.
//
// ImageView is a non-owning view of 8-bit pixels that every facekit call takes; Image owns its
// pixels. loadImage() is the checked way in from a file: it rejects, with a one-line message,
// everything facekit cannot process faithfully (see its contract) instead of guessing.
//
// Thread safety: all functions here are safe to call concurrently on different images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace facekit {

enum class PixelFormat {
  kGray,  // 1 byte per pixel
  kRGB,   // 3 bytes per pixel, red first
  kBGR,   // 3 bytes per pixel, blue first (OpenCV's cv::Mat order)
};
int channelsOf(PixelFormat f);

// A view of width x height 8-bit pixels; row r starts at data + r * stride.
// stride = 0 means tightly packed (width * channels bytes).
struct ImageView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kRGB;
  size_t stride = 0;
  size_t rowBytes() const { return stride ? stride : size_t(width) * channelsOf(format); }
};

struct Image {
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kRGB;
  std::vector<uint8_t> pixels;  // tightly packed rows
  ImageView view() const { return {pixels.data(), width, height, format, 0}; }
};

struct LoadOptions {
  // Files whose header declares more pixels than this are rejected before decoding, so a
  // malicious 30000 x 30000 header cannot make facekit allocate gigabytes.
  uint64_t max_pixels = 200'000'000;
  int min_side = 12;  // the smallest image MTCNN can look at (its 12 x 12 window)
};

// Reads an image file (JPEG, PNG, BMP, TIFF, WebP, ... as Debian's OpenCV decodes them).
// Colour images come back as kRGB (EXIF orientation applied), grayscale files as kGray.
// Throws facekit::Error with a one-line message that names the file when it is missing,
// empty, unreadable, corrupt or truncated (a JPEG without its end marker, a PNG without IEND),
// has 16-bit samples or an alpha channel (convert to 8-bit RGB first), is smaller than
// min_side, or is larger than max_pixels.
Image loadImage(const std::string& path, const LoadOptions& options = {});

// Writes an image; the format follows the extension (.jpg, .png, ...). Throws on failure.
void saveImage(const ImageView& image, const std::string& path);

// Copies a view into an RGB image (gray is replicated, BGR swapped).
Image toRGB(const ImageView& image);

}  // namespace facekit
