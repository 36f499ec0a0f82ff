// A reader for TensorFlow Lite model files (the "TFL3" FlatBuffer), written from the public
// schema (tensorflow/lite/schema/schema.fbs). It extracts what facekit's converters need:
// tensors (name, shape, type, constant data) and the operator graph. Every offset is bounds-
// checked, so a truncated or foreign file gives facekit::Error(kBadModel), never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace facekit::engine::tflite {

enum class TensorType : int { kFloat32 = 0, kFloat16 = 1, kInt32 = 2, kUInt8 = 3, kInt64 = 4 };

struct Tensor {
  std::string name;
  std::vector<int32_t> shape;
  int type = 0;                // TensorType value
  std::vector<uint8_t> data;   // constant data; empty for activations
};

struct Operator {
  int builtin_code = 0;  // tflite::BuiltinOperator value (3 = CONV_2D, 9 = FULLY_CONNECTED, ...)
  std::vector<int32_t> inputs, outputs;
};

struct Model {
  uint32_t version = 0;
  std::vector<Tensor> tensors;  // of subgraph 0
  std::vector<Operator> operators;
  std::vector<int32_t> inputs, outputs;

  // The tensor called `name`; throws kBadModel if absent.
  const Tensor& tensor(const std::string& name) const;
  // Constant float32 data of `name`; throws kBadModel if absent, not float32 or not constant.
  std::vector<float> floats(const std::string& name) const;
  std::string origin;
};

Model parse(const std::string& bytes, const std::string& origin);
Model load(const std::string& path);

}  // namespace facekit::engine::tflite
