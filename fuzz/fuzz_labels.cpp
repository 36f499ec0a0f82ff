// Label files (JSON lines, `facekit label` output) as the trainer reads them:
// train::loadDataset from tools/train/landmark_data.cpp, compiled here without libtorch. The
// images the lines name do not exist (except by chance), so this exercises the line parser and
// the filters; loadDataset then ends with "no usable face", a facekit::Error.
#include "facekit/error.hpp"
#include "fuzz_util.hpp"
#include "landmark_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static facekit::fuzz::MemFile file("labels.jsonl");
  file.set(data, size);
  facekit::train::DataOptions opt;
  opt.labels = {file.path()};
  try {
    facekit::train::loadDataset(opt, 1);
  } catch (const facekit::Error&) {
  }
  return 0;
}
