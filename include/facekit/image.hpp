// Images in and out of facekit.
//
// ImageView is a non-owning view of 8-bit pixels that every facekit call takes; Image owns its
// pixels. loadImage() is the checked way in from a file (loadImageFromMemory() from bytes): it
// checks the header before anything is decoded, decodes what OpenCV's imread would, and
// rejects with a one-line message what cannot be decoded or exceeds the limits (see its contract).
//
// Thread safety: every function here may be called from any number of threads at once, also on
// the same file, bytes or view (inputs are only read). Concurrent saveImage() calls to one path
// leave one of the images whole there (each writes its own temporary file and renames it). An
// Image is a plain value: no thread may read it while another changes it.
// tests/test_threads.cpp (ThreadSafety.ImageLoadingAndRenderingFromEightThreads) checks this.
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
  // malicious 30000 x 30000 header cannot make facekit allocate gigabytes. Files larger than
  // 8 bytes a pixel of this (16-bit RGBA, uncompressed) plus 1 MiB are not read at all.
  uint64_t max_pixels = 200'000'000;
  int min_side = 12;  // the smallest image MTCNN can look at (its 12 x 12 window); >= 1
  // false (default): images are taken the way OpenCV's cv::imread(IMREAD_COLOR) takes them:
  //   an alpha channel is dropped (not blended), 16-bit samples are scaled to 8 bits (the high
  //   byte), CMYK JPEGs are converted to RGB, palettes are expanded.
  // true: such images are refused instead (16-bit samples, an alpha channel, a JPEG that is not
  //   gray or 3-component), for callers that want only files that need no conversion.
  bool strict = false;
};

// Reads an image file: JPEG, PNG, BMP, TIFF (first page), WebP, PNM (PBM/PGM/PPM/PAM). Other
// formats OpenCV knows (JPEG 2000, OpenEXR, HDR, DICOM, ...) are refused: facekit checks every
// header it accepts before a decoder allocates anything. JPEG and PNG are decoded by libfacekit
// (libjpeg-turbo, libpng) to exactly the pixels OpenCV 4.6's imread gives; BMP, TIFF, WebP and
// PNM by OpenCV in the plugin libfacekit_imgcodecs.so, loaded the first time such a file is met
// (beside libfacekit or the program, or in <libdir>/facekit; $FACEKIT_IMGCODECS_PLUGIN names the
// file instead). Without it those formats fail with kBadImage naming the format and the plugin.
// Colour images come back as kRGB, gray ones (with or without alpha) as kGray, 8 bits a sample;
// EXIF orientation is applied. See LoadOptions::strict for 16-bit, alpha and CMYK files.
// Throws facekit::Error with a one-line message that names the file: kIoError when it is
// missing, a directory or unreadable; kBadImage when it is empty, of another format, corrupt,
// truncated (a JPEG without its end marker, a PNG without IEND), smaller than min_side or larger
// than max_pixels (or refused by `strict`); kInvalidArgument for out-of-range options.
Image loadImage(const std::string& path, const LoadOptions& options = {});

// The same from an encoded file in memory (an upload, a database blob): the same checks,
// results and messages, with `name` standing for the path in them.
Image loadImageFromMemory(const void* data, size_t size, const std::string& name = "<memory>", const LoadOptions& options = {});

// Writes an image; the format follows the extension (.jpg, .png, ...): PNG and JPEG (quality 95)
// by libfacekit, other formats OpenCV writes (.bmp, .tiff, .webp, .ppm, ...) through the plugin
// (kIoError naming it when it cannot be loaded). The file is written under
// a temporary name beside it and renamed when complete, so `path` is never left truncated (an
// earlier file there stays until the new one is whole). Throws facekit::Error on failure.
void saveImage(const ImageView& image, const std::string& path);

// Copies a view into an RGB image (gray is replicated, BGR swapped).
Image toRGB(const ImageView& image);

}  // namespace facekit
