#include "engine/graph.hpp"

#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "facekit/error.hpp"

namespace facekit::engine {
namespace {
[[noreturn]] void bad(const ModelFile& m, const std::string& what) {
  throw Error(Error::Code::kBadModel, "model file " + m.origin + ": graph: " + what);
}

std::vector<int> ints(const nlohmann::json& n, const char* key, size_t count, const ModelFile& m) {
  if (!n.contains(key) || !n[key].is_array() || n[key].size() != count)
    bad(m, "node '" + n.value("name", "?") + "' needs '" + key + "' with " + std::to_string(count) + " numbers");
  return n[key].get<std::vector<int>>();
}

// Stride, padding and bias shared by the convolution nodes.
template <typename Params>
void convCommon(const ModelFile& m, const nlohmann::json& n, Params& p);

const NamedTensor& tensorOf(const ModelFile& m, const nlohmann::json& n, const char* key) {
  if (!n.contains(key)) bad(m, "node '" + n.value("name", "?") + "' lacks '" + key + "'");
  const std::string name = n[key];
  if (!m.has(name)) bad(m, "missing tensor '" + name + "'");
  return m.tensors().at(name);
}
// The optional fused "activation" of a convolution node, as its output clamp.
void fusedActivation(const ModelFile& m, const nlohmann::json& n, float& lo, float& hi) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  lo = -kInf, hi = kInf;
  if (!n.contains("activation")) return;
  const auto& a = n["activation"];
  const std::string name = a.is_string() ? a.get<std::string>() : a.dump();
  if (name == "relu") {
    lo = 0.f;
  } else if (name == "relu6") {
    lo = 0.f, hi = 6.f;
  } else if (name != "none") {
    bad(m, "node '" + n.value("name", "?") + "' has unknown activation '" + name + "' (expected none, relu or relu6)");
  }
}

template <typename Params>
void convCommon(const ModelFile& m, const nlohmann::json& n, Params& p) {
  const auto s = ints(n, "stride", 2, m), pad = ints(n, "pad", 4, m);
  p.stride_h = s[0], p.stride_w = s[1], p.pad_top = pad[0], p.pad_left = pad[1], p.pad_bottom = pad[2], p.pad_right = pad[3];
  p.bias = tensorOf(m, n, "bias").data;
  fusedActivation(m, n, p.out_min, p.out_max);
}

// A Clamp node's bound `key`; absent means unbounded (JSON has no infinity).
float bound(const ModelFile& m, const nlohmann::json& n, const char* key, float absent) {
  if (!n.contains(key)) return absent;
  if (!n[key].is_number()) bad(m, "node '" + n.value("name", "?") + "': '" + key + "' must be a number");
  return n[key].get<float>();
}

}  // namespace

Graph Graph::build(const ModelFile& m, Backend backend) {
  if (!m.metadata.count("facekit.graph")) bad(m, "no 'facekit.graph' metadata (not a graph model)");
  nlohmann::json g;
  try {
    g = nlohmann::json::parse(m.metadata.at("facekit.graph"));
  } catch (const std::exception&) {
    bad(m, "description is not valid JSON");
  }
  Graph graph;
  std::map<std::string, size_t> index;
  bool have_input = false;
  for (const auto& n : g.at("nodes")) {
    Node node;
    node.name = n.at("name");
    node.op = n.at("op");
    for (const auto& in : n.value("inputs", nlohmann::json::array())) {
      auto it = index.find(in.get<std::string>());
      if (it == index.end()) bad(m, "node '" + node.name + "' reads '" + in.get<std::string>() + "' before it is defined");
      node.inputs.push_back(it->second);
    }
    const size_t want_inputs = node.op == "Input" ? 0 : node.op == "Add" ? 2 : 1;
    if (node.inputs.size() != want_inputs) bad(m, "node '" + node.name + "' has " + std::to_string(node.inputs.size()) + " inputs");
    if (node.op == "Input") {
      if (have_input) bad(m, "more than one Input");
      have_input = true;
    } else if (node.op == "Conv2d") {
      const auto& w = tensorOf(m, n, "weight");
      if (w.shape.size() != 4) bad(m, node.name + ": conv weight must be OHWI");
      Conv2dParams p;
      p.out_c = int(w.shape[0]), p.kh = int(w.shape[1]), p.kw = int(w.shape[2]), p.in_c = int(w.shape[3]);
      p.weights = w.data;
      convCommon(m, n, p);
      node.unary = makeConv2d(p, backend);
    } else if (node.op == "DepthwiseConv2d") {
      const auto& w = tensorOf(m, n, "weight");
      if (w.shape.size() != 3) bad(m, node.name + ": depthwise weight must be [kh,kw,C]");
      DepthwiseConv2dParams p;
      p.kh = int(w.shape[0]), p.kw = int(w.shape[1]), p.channels = int(w.shape[2]);
      p.weights = w.data;
      convCommon(m, n, p);
      node.unary = makeDepthwiseConv2d(p, backend);
    } else if (node.op == "PReLU") {
      node.unary = makePReLU(tensorOf(m, n, "slope").data, backend);
    } else if (node.op == "MaxPool") {
      const auto k = ints(n, "kernel", 2, m), s = ints(n, "stride", 2, m);
      node.unary = makeMaxPool({k[0], k[1], s[0], s[1], n.value("ceil", false)}, backend);
    } else if (node.op == "ChannelPad") {
      node.unary = makeChannelPad(n.value("before", 0), n.value("after", 0), backend);
    } else if (node.op == "Add") {
      node.binary = makeAdd(backend);
    } else if (node.op == "Sigmoid") {
      node.unary = makeSigmoid(backend);
    } else if (node.op == "Clamp") {
      constexpr float kInf = std::numeric_limits<float>::infinity();
      const float lo = bound(m, n, "min", -kInf), hi = bound(m, n, "max", kInf);
      if (!(lo < hi)) bad(m, "node '" + node.name + "' has min >= max");
      node.unary = makeClamp(lo, hi, backend);
    } else if (node.op != "Flatten") {
      bad(m, "node '" + node.name + "' has unknown op '" + node.op + "'");
    }
    index[node.name] = graph.nodes_.size();
    graph.nodes_.push_back(std::move(node));
  }
  if (!have_input || graph.nodes_.front().op != "Input") bad(m, "the first node must be the Input");
  for (const auto& o : g.at("outputs")) {
    auto it = index.find(o.get<std::string>());
    if (it == index.end()) bad(m, "unknown output '" + o.get<std::string>() + "'");
    graph.outputs_.push_back(it->second);
    graph.output_names_.push_back(o);
  }
  graph.values_.resize(graph.nodes_.size());
  return graph;
}

std::vector<Shape> Graph::shapes(const Shape& input) const {
  std::vector<Shape> s(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    try {
      if (n.op == "Input") {
        s[i] = input;
      } else if (n.binary) {
        s[i] = n.binary->outputShape(s[n.inputs[0]], s[n.inputs[1]]);
      } else if (n.unary) {
        s[i] = n.unary->outputShape(s[n.inputs[0]]);
      } else {  // Flatten
        const Shape& in = s[n.inputs[0]];
        s[i] = {in.n, 1, 1, in.h * in.w * in.c};
      }
    } catch (const Error& e) {  // a layer's message does not know which node it is
      throw Error(e.code(), "node '" + n.name + "': " + e.what());
    }
  }
  return s;
}

std::vector<const Tensor*> Graph::forward(const Tensor& input, ThreadPool* pool) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    Tensor& out = values_[i];
    if (n.op == "Input") {
      out = input;
    } else if (n.binary) {
      n.binary->forward(values_[n.inputs[0]], values_[n.inputs[1]], out, pool);
    } else if (n.unary) {
      n.unary->forward(values_[n.inputs[0]], out, pool);
    } else {  // Flatten: NHWC data is already in flattened order
      const Tensor& in = values_[n.inputs[0]];
      const Shape s = in.shape();
      out.resize({s.n, 1, 1, s.h * s.w * s.c});
      std::copy(in.data(), in.data() + in.numel(), out.data());
    }
  }
  std::vector<const Tensor*> r;
  for (size_t o : outputs_) r.push_back(&values_[o]);
  return r;
}

}  // namespace facekit::engine
