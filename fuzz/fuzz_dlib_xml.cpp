// dlib imglab XML (faces with 68 parts): eval::loadDlibXml, as `facekit eval landmarks --xml`.
#include "eval/landmark_eval.hpp"
#include "facekit/error.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static facekit::fuzz::MemFile file("faces.xml");
  file.set(data, size);
  try {
    facekit::eval::loadDlibXml(file.path());
  } catch (const facekit::Error&) {
  }
  return 0;
}
