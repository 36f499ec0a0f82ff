// AFLW2000-3D annotations (.mat, libmatio): eval::loadAflwAnnotation (Pose_Para, pt3d_68).
#include "eval/aflw.hpp"
#include "facekit/error.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static facekit::fuzz::MemFile file("aflw.mat");
  file.set(data, size);
  try {
    facekit::eval::loadAflwAnnotation(file.path());
  } catch (const facekit::Error&) {
  }
  return 0;
}
