// TF.js graph models: engine::tfjs::parse (model.json, then the weight shard after the first NUL
// byte of the input), the node attribute accessors, and the graph converter that turns a parsed
// model into facekit's (shapes, ops, weights) with the signature's outputs.
#include "engine/tfjs_convert.hpp"
#include "engine/tfjs_reader.hpp"
#include "facekit/error.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = facekit::fuzz::splitAtNul(data, size);
  const std::string& shard = parts.second;
  try {
    const auto m = facekit::engine::tfjs::parse(parts.first, [&](const std::string&) { return shard; }, "fuzz");
    for (const auto& n : m.nodes)
      for (const char* key : {"strides", "dilations", "ksize", "padding", "data_format", "fused_ops", "T", "explicit_paddings"}) {
        try {
          n.ints(key), n.str(key), n.strs(key);
        } catch (const facekit::Error&) {
        }
      }
    std::vector<std::string> outputs;  // the signature's output keys, as the face mesh converter names them
    if (m.signature.is_object() && m.signature.contains("outputs") && m.signature["outputs"].is_object())
      for (const auto& [key, value] : m.signature["outputs"].items()) outputs.push_back(key);
    facekit::engine::convertTfjsGraph(m, 16, 16, 3, outputs);
  } catch (const facekit::Error&) {
  }
  return 0;
}
