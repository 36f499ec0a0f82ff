// facekit model files (safetensors layout): engine::ModelFile::parse, then what the loaders do
// with a parsed file (every tensor's element count, get() with the shape a loader asks for, and
// the MTCNN network builder, which checks names and shapes).
#include "engine/model_file.hpp"
#include "facekit/error.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto m = facekit::engine::ModelFile::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    size_t total = 0;
    for (const auto& [name, t] : m.tensors()) {
      total += t.numel();
      try {
        m.get(name, {int64_t(t.data.size())});
      } catch (const facekit::Error&) {
      }
    }
    (void)total;
    facekit::mtcnn::buildNets(m, facekit::engine::Backend::kReference);
  } catch (const facekit::Error&) {
  }
  return 0;
}
