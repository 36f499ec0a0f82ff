// Converts a TF.js graph model into a facekit graph model (engine/graph.hpp). Supported ops:
// Placeholder, Const, _FusedConv2D (BiasAdd [+ Prelu | Relu]), DepthwiseConv2dNative, Prelu,
// AddV2, MaxPool (VALID), Pad (channel axis only), Reshape (to a flat vector), Sigmoid, Identity.
// SAME padding is resolved to explicit pads for the given input size. Anything else is refused
// with facekit::Error(kBadModel) naming the node.
#pragma once

#include <string>

#include "engine/model_file.hpp"
#include "engine/tfjs_reader.hpp"

namespace facekit::engine {

// `outputs`: the signature's output keys to expose, in order (e.g. {"output_mesh", ...}).
ModelFile convertTfjsGraph(const tfjs::Model& model, int input_h, int input_w, int input_c,
                           const std::vector<std::string>& outputs);

}  // namespace facekit::engine
