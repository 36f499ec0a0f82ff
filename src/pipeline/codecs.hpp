// Internal: the image codecs behind loadImage() / saveImage() (image_io.cpp).
//
// PNG and JPEG are decoded and encoded here with libpng and libjpeg-turbo directly, so that the
// detection path never loads OpenCV's imgcodecs module (which brings GDAL, GDCM, OpenEXR, poppler
// and about 120 other libraries, ~50 MiB resident). The decoders give exactly the pixels
// cv::imdecode gives with OpenCV 4.6 (Debian 12, the same libpng and libjpeg-turbo): the same
// library calls in the same order (libjpeg's default DCT and fancy upsampling, CMYK/YCCK through
// libjpeg's CMYK output and OpenCV's inverted-CMYK formula, PNG transforms strip_16, strip_alpha,
// palette_to_rgb, expand_gray_1_2_4_to_8, rgb_to_gray, interlace handling, no gamma or colour
// management) and EXIF orientation read as OpenCV's ExifReader reads it. tests/test_codecs.cpp
// compares them with cv::imdecode byte for byte.
//
// Every other format (BMP, TIFF, WebP, PNM) goes through the plugin libfacekit_imgcodecs.so
// (src/plugins/imgcodecs_plugin.cpp, cv::imdecode / cv::imencode behind a C interface), which is
// loaded with dlopen() only when such a file is met.
#pragma once

#include <string>

#include "facekit/image.hpp"

namespace facekit::codecs {

// Decoded as cv::imdecode(IMREAD_ANYCOLOR) decodes it, EXIF orientation applied, as kRGB or (for
// a 1-component JPEG, a gray PNG and, with `gray`, any PNG) kGray. `gray` is IMREAD_GRAYSCALE:
// facekit asks for it for gray + alpha PNGs (which OpenCV would replicate into BGR).
// Throws facekit::Error (kBadImage) naming `name` with the library's one-line message.
Image decodePng(const std::string& bytes, bool gray, const std::string& name);
Image decodeJpeg(const std::string& bytes, const std::string& name);

// Encoded files, 8-bit gray, RGB or BGR views: PNG (lossless, zlib level 1 with the SUB filter as
// OpenCV writes them) and JPEG (quality 95, 4:2:0, as cv::imencode's defaults). Throw
// facekit::Error (kIoError) naming `name`.
std::string encodePng(const ImageView& image, const std::string& name);
std::string encodeJpeg(const ImageView& image, const std::string& name, int quality = 95);

// The EXIF orientation (1..8; 1 when absent or unreadable) of a TIFF-structured EXIF block as
// OpenCV 4.6's ExifReader reads it. Exposed for the tests.
int exifOrientation(const unsigned char* data, size_t size);

// --- the plugin (codec_plugin.cpp) ----------------------------------------------------------------

// cv::IMREAD_UNCHANGED and cv::IMREAD_ANYCOLOR (opencv2/imgcodecs.hpp, which libfacekit does not
// include; the plugin checks that they match).
constexpr int kImreadUnchanged = -1;
constexpr int kImreadAnyColor = 4;

// Pixels cv::imdecode(flags) gave inside the plugin: `depth` is OpenCV's depth code (CV_8U = 0),
// channels in OpenCV's order (BGR, BGRA), rows packed.
struct PluginImage {
  int rows = 0, cols = 0, channels = 0, depth = 0;
  std::string pixels;
};
// Decodes with the plugin; `format` ("BMP", "TIFF", ...) names the format in the error when the
// plugin cannot be loaded. Throws facekit::Error (kBadImage) naming `name`.
PluginImage pluginDecode(const std::string& bytes, int cv_flags, const std::string& format, const std::string& name);
// Encodes 8-bit gray or BGR pixels with cv::imencode(ext) in the plugin. Throws kIoError.
std::string pluginEncode(const ImageView& bgr_or_gray, const std::string& ext, const std::string& name);
// Where the plugin was loaded from; empty when it cannot be loaded (then `why` says why).
std::string pluginPath(std::string* why = nullptr);

}  // namespace facekit::codecs
