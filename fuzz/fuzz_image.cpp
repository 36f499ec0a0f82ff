// Image loading exactly as facekit does it, from bytes: loadImageFromMemory (the same code as
// loadImage after reading the file): header probes and size checks before any decoder runs,
// facekit's PNG and JPEG decoders (src/pipeline/codecs.cpp over libpng and libjpeg-turbo, their
// EXIF reader), OpenCV's decoders for BMP, TIFF, WebP and PNM through the plugin
// libfacekit_imgcodecs.so (dlopen()ed from build-fuzz/, where it is built instrumented as well),
// EXIF orientation, the conversions to 8-bit RGB / gray; in the default mode and with
// LoadOptions::strict.
// max_pixels is 4 megapixels here instead of 200: a valid 200-megapixel image takes seconds to
// decode, which is a legitimate cost, not a finding (libFuzzer's -timeout=1 would report it).
#include "facekit/error.hpp"
#include "facekit/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (bool strict : {false, true}) {
    facekit::LoadOptions o;
    o.max_pixels = 4'000'000;
    o.strict = strict;
    try {
      const facekit::Image img = facekit::loadImageFromMemory(data, size, "fuzz", o);
      if (img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(facekit::channelsOf(img.format))) __builtin_trap();
    } catch (const facekit::Error&) {
    }
  }
  return 0;
}
