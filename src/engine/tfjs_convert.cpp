#include "engine/tfjs_convert.hpp"

#include <map>

#include "facekit/error.hpp"

namespace facekit::engine {
namespace {

struct Dims {
  int h = 0, w = 0, c = 0;
};

// TensorFlow's padding rule for one axis: SAME keeps ceil(in / stride) outputs and puts the
// odd pixel of padding after; VALID pads nothing.
// Callers have checked in, k, s in 1..kMaxSide.
std::pair<int, int> padFor(const std::string& mode, int in, int k, int s, int& out) {
  if (mode == "VALID") {
    out = in >= k ? (in - k) / s + 1 : 0;
    return {0, 0};
  }
  out = (in + s - 1) / s;
  const int total = std::max((out - 1) * s + k - in, 0);
  return {total / 2, total - total / 2};
}

// Sides, kernels, strides and channels are checked against this before any arithmetic, so that
// products and sums of them fit in an int (a malformed file must give an error, not overflow).
constexpr int64_t kMaxSide = 1 << 14;

std::string shortName(const std::string& n) {
  const std::string prefix = "StatefulPartitionedCall/model_1/";
  return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : n;
}

ModelFile convertChecked(const tfjs::Model& tm, int in_h, int in_w, int in_c, const std::vector<std::string>& outputs);

}  // namespace

ModelFile convertTfjsGraph(const tfjs::Model& tm, int in_h, int in_w, int in_c, const std::vector<std::string>& outputs) {
  try {
    return convertChecked(tm, in_h, in_w, in_c, outputs);
  } catch (const nlohmann::json::exception& e) {  // a signature or attribute of the wrong JSON type
    throw Error(Error::Code::kBadModel, "TF.js model " + tm.origin + ": malformed graph (" + e.what() + ")");
  }
}

namespace {
ModelFile convertChecked(const tfjs::Model& tm, int in_h, int in_w, int in_c, const std::vector<std::string>& outputs) {
  ModelFile out;
  out.origin = tm.origin;
  auto bad = [&](const tfjs::Node& n, const std::string& what) -> void {
    throw Error(Error::Code::kBadModel, "TF.js model " + tm.origin + ": node '" + n.name + "' (" + n.op + "): " + what);
  };
  nlohmann::json nodes = nlohmann::json::array();
  std::map<std::string, std::string> alias;  // tfjs node name -> facekit node name
  std::map<std::string, Dims> dims;          // by facekit node name
  auto src = [&](const tfjs::Node& n, size_t i) {
    if (i >= n.inputs.size()) bad(n, "missing input");
    auto it = alias.find(n.inputs[i]);
    if (it == alias.end()) bad(n, "input '" + n.inputs[i] + "' is not computed before it (graph not in order?)");
    return it->second;
  };
  // Input i of a node as a weight (a constant).
  auto weightIn = [&](const tfjs::Node& n, size_t i) -> const tfjs::Weight& {
    if (i >= n.inputs.size()) bad(n, "missing input " + std::to_string(i));
    return tm.weight(n.inputs[i]);
  };
  auto side = [&](const tfjs::Node& n, int64_t v, const char* what) {
    if (v < 1 || v > kMaxSide) bad(n, std::string(what) + " " + std::to_string(v) + " is out of range");
    return int(v);
  };
  auto dimsOf = [&](const tfjs::Node& n, const std::string& x) {
    const Dims d = dims[x];
    if (d.h < 1 || d.w < 1 || d.c < 1) bad(n, "input '" + x + "' has no size (empty output upstream?)");
    return d;
  };
  if (in_h < 1 || in_w < 1 || in_c < 1 || in_h > kMaxSide || in_w > kMaxSide || in_c > kMaxSide)
    throw Error(Error::Code::kInvalidArgument, "convertTfjsGraph: input size out of range");

  for (const tfjs::Node& n : tm.nodes) {
    const std::string name = shortName(n.name);
    if (n.op == "Const") continue;
    if (n.op == "Placeholder") {
      nodes.push_back({{"name", name}, {"op", "Input"}});
      dims[name] = {in_h, in_w, in_c};
    } else if (n.op == "Identity") {
      alias[n.name] = src(n, 0);
      continue;
    } else if (n.op == "_FusedConv2D" || n.op == "DepthwiseConv2dNative") {
      const std::string x = src(n, 0);
      const Dims d = dimsOf(n, x);
      const auto& w = weightIn(n, 1);
      const auto strides = n.ints("strides");
      if (strides.size() != 4 || n.str("data_format") != "NHWC") bad(n, "needs NHWC and 4 strides");
      side(n, strides[1], "stride"), side(n, strides[2], "stride");
      const auto dil = n.ints("dilations");
      for (int v : dil)
        if (v != 1) bad(n, "dilation is not supported");
      const bool depthwise = n.op == "DepthwiseConv2dNative";
      if (w.shape.size() != 4) bad(n, "weight is not 4-D");
      const int kh = side(n, w.shape[0], "kernel"), kw = side(n, w.shape[1], "kernel"), wi = side(n, w.shape[2], "channels"),
                wo = side(n, w.shape[3], "channels");
      if (wi != d.c || (depthwise && wo != 1)) bad(n, "weight shape does not fit the input channels");
      if (w.f.size() != size_t(kh) * size_t(kw) * size_t(wi) * size_t(wo)) bad(n, "weight is not float data of its shape");
      Dims o;
      const auto [pt, pb] = padFor(n.str("padding"), d.h, kh, strides[1], o.h);
      const auto [pl, pr] = padFor(n.str("padding"), d.w, kw, strides[2], o.w);
      if (o.h < 1 || o.w < 1) bad(n, "the kernel is larger than its input");
      o.c = depthwise ? d.c : wo;
      std::vector<float> weight(w.f.size()), bias(size_t(o.c), 0.f);
      if (depthwise) {
        weight = w.f;  // [kh][kw][C][1] is [kh][kw][C]
      } else {         // HWIO -> OHWI
        for (int y = 0; y < kh; ++y)
          for (int xk = 0; xk < kw; ++xk)
            for (int i = 0; i < wi; ++i)
              for (int oc = 0; oc < wo; ++oc)
                weight[((size_t(oc) * kh + y) * kw + xk) * wi + i] = w.f[((size_t(y) * kw + xk) * wi + i) * wo + oc];
      }
      std::vector<std::string> fused = n.strs("fused_ops");
      if (!depthwise) {
        if (fused.empty() || fused[0] != "BiasAdd") bad(n, "only BiasAdd-fused convolutions are supported");
        bias = weightIn(n, 2).f;
        if (int(bias.size()) != o.c) bad(n, "bias size");
      }
      const bool prelu = fused.size() == 2 && fused[1] == "Prelu";
      if (fused.size() > 2 || (fused.size() == 2 && !prelu)) bad(n, "unsupported fused activation");
      const std::string conv_name = prelu ? name + "/conv" : name;
      const int64_t chans = o.c;
      if (depthwise) out.add(conv_name + "/weight", {kh, kw, chans}, weight);
      else out.add(conv_name + "/weight", {wo, kh, kw, wi}, weight);
      out.add(conv_name + "/bias", {chans}, bias);
      nodes.push_back({{"name", conv_name}, {"op", depthwise ? "DepthwiseConv2d" : "Conv2d"}, {"inputs", {x}},
                       {"weight", conv_name + "/weight"}, {"bias", conv_name + "/bias"},
                       {"stride", {strides[1], strides[2]}}, {"pad", {pt, pl, pb, pr}}});
      dims[conv_name] = o;
      if (prelu) {
        const auto& a = weightIn(n, 3);
        if (int(a.f.size()) != o.c) bad(n, "PReLU slope size");
        out.add(name + "/slope", {chans}, a.f);
        nodes.push_back({{"name", name}, {"op", "PReLU"}, {"inputs", {conv_name}}, {"slope", name + "/slope"}});
        dims[name] = o;
      }
    } else if (n.op == "Prelu") {
      const std::string x = src(n, 0);
      const auto& a = weightIn(n, 1);
      if (a.f.size() != size_t(dimsOf(n, x).c)) bad(n, "slope size does not match the channels");
      out.add(name + "/slope", {int64_t(a.f.size())}, a.f);
      nodes.push_back({{"name", name}, {"op", "PReLU"}, {"inputs", {x}}, {"slope", name + "/slope"}});
      dims[name] = dims[x];
    } else if (n.op == "AddV2") {
      const std::string a = src(n, 0), b = src(n, 1);
      if (dims[a].h != dims[b].h || dims[a].w != dims[b].w || dims[a].c != dims[b].c) bad(n, "operand shapes differ");
      nodes.push_back({{"name", name}, {"op", "Add"}, {"inputs", {a, b}}});
      dims[name] = dims[a];
    } else if (n.op == "MaxPool") {
      const std::string x = src(n, 0);
      const auto k = n.ints("ksize"), s = n.ints("strides");
      if (n.str("padding") != "VALID" || k.size() != 4 || s.size() != 4) bad(n, "only VALID NHWC max pooling is supported");
      for (int i : {1, 2}) side(n, k[size_t(i)], "kernel"), side(n, s[size_t(i)], "stride");
      Dims o = dimsOf(n, x);
      if (o.h < k[1] || o.w < k[2]) bad(n, "the kernel is larger than its input");
      o.h = (o.h - k[1]) / s[1] + 1;
      o.w = (o.w - k[2]) / s[2] + 1;
      nodes.push_back({{"name", name}, {"op", "MaxPool"}, {"inputs", {x}}, {"kernel", {k[1], k[2]}}, {"stride", {s[1], s[2]}}, {"ceil", false}});
      dims[name] = o;
    } else if (n.op == "Pad") {
      const std::string x = src(n, 0);
      const auto& p = weightIn(n, 1).i;
      if (p.size() != 8 || p[0] || p[1] || p[2] || p[3] || p[4] || p[5]) bad(n, "only channel padding is supported");
      const Dims d = dimsOf(n, x);
      if (p[6] < 0 || p[7] < 0 || p[6] > kMaxSide || p[7] > kMaxSide || d.c + p[6] + p[7] > kMaxSide) bad(n, "padding out of range");
      nodes.push_back({{"name", name}, {"op", "ChannelPad"}, {"inputs", {x}}, {"before", p[6]}, {"after", p[7]}});
      dims[name] = {d.h, d.w, d.c + p[6] + p[7]};
    } else if (n.op == "Reshape") {
      const std::string x = src(n, 0);
      const auto& shape = weightIn(n, 1).i;
      const Dims d = dimsOf(n, x);
      const int64_t features = int64_t(d.h) * d.w * d.c;
      if (shape.size() != 2 || shape[1] != features || features > (int64_t(1) << 30)) bad(n, "only reshapes to [batch, features] are supported");
      nodes.push_back({{"name", name}, {"op", "Flatten"}, {"inputs", {x}}});
      dims[name] = {1, 1, int(features)};
    } else if (n.op == "Sigmoid") {
      const std::string x = src(n, 0);
      nodes.push_back({{"name", name}, {"op", "Sigmoid"}, {"inputs", {x}}});
      dims[name] = dims[x];
    } else {
      bad(n, "unsupported op");
    }
    alias[n.name] = name;
  }
  nlohmann::json outs = nlohmann::json::array();
  for (const auto& key : outputs) {
    if (!tm.signature.contains("outputs") || !tm.signature["outputs"].contains(key))
      throw Error(Error::Code::kBadModel, "TF.js model " + tm.origin + ": signature has no output '" + key + "'");
    const auto& entry = tm.signature["outputs"][key];
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
      throw Error(Error::Code::kBadModel, "TF.js model " + tm.origin + ": signature output '" + key + "' has no name");
    std::string node = entry["name"];
    node = node.substr(0, node.find(':'));
    auto it = alias.find(node);
    if (it == alias.end()) throw Error(Error::Code::kBadModel, "TF.js model " + tm.origin + ": output node '" + node + "' not found");
    outs.push_back(it->second);
  }
  out.metadata["facekit.graph"] = nlohmann::json{{"nodes", nodes}, {"outputs", outs}}.dump();
  out.metadata["facekit.format_version"] = "1";
  out.metadata["input_shape"] = "[1," + std::to_string(in_h) + "," + std::to_string(in_w) + "," + std::to_string(in_c) + "]";
  return out;
}

}  // namespace

}  // namespace facekit::engine
