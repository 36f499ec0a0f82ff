// WIDER FACE ground truth (.mat, libmatio): eval::loadWiderMat reads wider_face_val.mat and the
// three wider_{easy,medium,hard}_val.mat of a folder. Here all four names point at the one
// in-memory file, so one input holding event_list, file_list, face_bbx_list and gt_list reaches
// every step.
#include <filesystem>

#include "eval/widerface.hpp"
#include "facekit/error.hpp"
#include "fuzz_util.hpp"

namespace {
struct Dir {
  facekit::fuzz::MemFile file{"wider.mat"};
  std::string path;
  Dir() {
    path = (std::filesystem::temp_directory_path() / ("facekit-fuzz-wider-" + std::to_string(getpid()))).string();
    std::filesystem::create_directories(path);
    for (const char* n : {"wider_face_val.mat", "wider_easy_val.mat", "wider_medium_val.mat", "wider_hard_val.mat"}) {
      std::filesystem::remove(path + "/" + n);
      std::filesystem::create_symlink(file.path(), path + "/" + n);  // resolved in this process: the memfd
    }
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Dir dir;
  dir.file.set(data, size);
  try {
    const auto gt = facekit::eval::loadWiderMat(dir.path);
    (void)gt.imageCount(), (void)gt.boxCount();
  } catch (const facekit::Error&) {
  }
  return 0;
}
