// TFLite FlatBuffers: engine::tflite::parse, then the accessors the MTCNN converter uses
// (tensor by name, constant float data of every tensor).
#include "engine/tflite_reader.hpp"
#include "facekit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto m = facekit::engine::tflite::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& t : m.tensors) {
      try {
        m.floats(t.name);
      } catch (const facekit::Error&) {
      }
    }
    for (const auto& op : m.operators)
      for (int32_t i : op.inputs)
        if (i >= 0 && size_t(i) < m.tensors.size()) (void)m.tensor(m.tensors[size_t(i)].name);
  } catch (const facekit::Error&) {
  }
  return 0;
}
