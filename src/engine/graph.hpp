// Networks with branches and residual connections: a DAG of engine layers, described as JSON
// in a facekit model file's "facekit.graph" metadata (docs/model-format.md), weights in its
// tensors.
//
// Node ops and fields ("name", "op", "inputs" on every node):
//   Input                                         the network input (exactly one)
//   Conv2d           weight (OHWI), bias, stride [h,w], pad [top,left,bottom,right],
//                    optional activation: "none" (default), "relu" or "relu6", fused as the
//                    layer's output clamp
//   DepthwiseConv2d  weight ([kh,kw,C]), bias, stride, pad, optional activation as Conv2d
//   PReLU            slope ([C])
//   Clamp            optional min, max (numbers; absent = unbounded; min < max): an unfused
//                    activation
//   MaxPool          kernel [h,w], stride [h,w], ceil (bool)
//   ChannelPad       before, after
//   Add              two inputs of one shape
//   Sigmoid
//   Flatten          {n,h,w,c} -> {n,1,1,h*w*c} (NHWC order)
// "outputs" lists the node names the network returns, in order.
//
// Not thread-safe: one Graph per thread (it owns every intermediate value).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/layers.hpp"
#include "engine/model_file.hpp"

namespace facekit::engine {

class Graph {
 public:
  // Throws facekit::Error(kBadModel) for a malformed description or missing/mis-shaped weights.
  static Graph build(const ModelFile& model, Backend backend);

  // Runs the graph; returns the outputs in declared order (valid until the next call).
  std::vector<const Tensor*> forward(const Tensor& input, ThreadPool* pool);

  const std::vector<std::string>& outputNames() const { return output_names_; }
  // Names and values of every node after forward(), for per-layer comparisons.
  size_t nodeCount() const { return nodes_.size(); }
  const std::string& nodeName(size_t i) const { return nodes_[i].name; }
  const std::string& nodeOp(size_t i) const { return nodes_[i].op; }
  const Tensor& nodeValue(size_t i) const { return values_[i]; }
  const std::vector<size_t>& nodeInputs(size_t i) const { return nodes_[i].inputs; }
  // The node's layer: null for Input, Flatten and Add (no weights, no multiply-accumulates).
  const Layer* nodeLayer(size_t i) const { return nodes_[i].unary.get(); }

  // Every node's output shape for an input shape, by shape inference alone (no data is run);
  // throws facekit::Error(kInvalidArgument) where the input does not fit a layer.
  std::vector<Shape> shapes(const Shape& input) const;

 private:
  struct Node {
    std::string name, op;
    std::vector<size_t> inputs;
    std::unique_ptr<Layer> unary;
    std::unique_ptr<BinaryLayer> binary;
  };
  std::vector<Node> nodes_;
  std::vector<Tensor> values_;
  std::vector<size_t> outputs_;
  std::vector<std::string> output_names_;
};

}  // namespace facekit::engine
