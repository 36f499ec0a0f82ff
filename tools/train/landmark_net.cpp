#include "landmark_net.hpp"

#include <nlohmann/json.hpp>

#include "facekit/error.hpp"

namespace facekit::train {

int LandmarkNetImpl::addUnit(const std::string& name, int in, int out, int k, int stride, int groups, bool bn, bool relu6, int input_step) {
  ConvUnit u;
  u.name = name;
  u.pad = k == 3 && name != "fc" ? 1 : 0;
  u.stride = stride;
  u.depthwise = groups > 1;
  u.relu6 = relu6;
  u.conv = register_module(name + "_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(u.pad).groups(groups).bias(!bn)));
  if (bn) u.bn = register_module(name + "_bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).momentum(0.05)));
  units_.push_back(u);
  steps_.push_back({Step::kConv, int(units_.size()) - 1, input_step, -1});
  return int(steps_.size()) - 1;
}

LandmarkNetImpl::LandmarkNetImpl(const NetSpec& spec) : spec_(spec) {
  int s = addUnit("stem", 3, spec.stem, 3, 2, 1, true, true, -1);
  s = addUnit("stem_dw", spec.stem, spec.stem, 3, 2, spec.stem, true, true, s);
  int c = spec.stem, block = 0;
  for (const auto& st : spec.stages) {
    if (st.size() != 4) throw Error(Error::Code::kInvalidArgument, "config: model.stages entries are [expansion, channels, blocks, stride]");
    const int t = st[0], out = st[1], n = st[2], stride = st[3];
    for (int i = 0; i < n; ++i, ++block) {
      const std::string b = "block" + std::to_string(block);
      const int e = c * t, in_step = s;
      int x = s;
      if (t != 1) x = addUnit(b + "_expand", c, e, 1, 1, 1, true, true, x);
      x = addUnit(b + "_dw", e, e, 3, i == 0 ? stride : 1, e, true, true, x);
      x = addUnit(b + "_project", e, out, 1, 1, 1, true, false, x);
      if ((i > 0 || stride == 1) && c == out) {
        steps_.push_back({Step::kAdd, -1, in_step, x});
        x = int(steps_.size()) - 1;
      }
      s = x, c = out;
    }
  }
  s = addUnit("head", c, spec.head, 3, 2, 1, true, true, s);
  // The output: a 3x3 convolution without padding over the head's map (3x3 for a 96 input),
  // i.e. a fully connected layer in NHWC order.
  int hw = spec.input_size;
  for (const auto& u : units_) hw = (hw + 2 * u.pad - int(u.conv->weight.size(2))) / u.stride + 1;
  if (hw < 1) throw Error(Error::Code::kInvalidArgument, "config: model.input_size too small for the network");
  addUnit("fc", spec.head, spec.outputs, hw, 1, 1, false, false, s);
}

torch::Tensor LandmarkNetImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> values;
  values.reserve(steps_.size());
  for (const auto& st : steps_) {
    const torch::Tensor& in = st.input < 0 ? x : values[size_t(st.input)];
    if (st.kind == Step::kAdd) {
      values.push_back(in + values[size_t(st.input2)]);
      continue;
    }
    ConvUnit& u = units_[size_t(st.unit)];
    torch::Tensor y = u.conv->forward(in);
    if (u.bn) y = u.bn->forward(y);
    if (u.relu6) y = torch::clamp(y, 0, 6);
    values.push_back(y);
  }
  return values.back().flatten(1);
}

void LandmarkNetImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (bn_frozen_)
    for (auto& u : units_)
      if (u.bn) u.bn->eval();
}

void LandmarkNetImpl::setOutputBias(const std::vector<float>& bias) {
  torch::NoGradGuard ng;
  auto& fc = units_.back().conv;
  const int64_t n = std::min<int64_t>(fc->bias.size(0), int64_t(bias.size()));
  for (int64_t i = 0; i < n; ++i) fc->bias[i] = bias[size_t(i)];
}

namespace {
// Folded weights of a unit, in PyTorch layout [out, in/groups, kh, kw], and bias.
std::pair<torch::Tensor, torch::Tensor> folded(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn) {
  torch::Tensor w = conv->weight.detach().clone();
  torch::Tensor b = conv->options.bias() ? conv->bias.detach().clone() : torch::zeros({w.size(0)});
  if (bn) {
    const auto scale = bn->weight.detach() / torch::sqrt(bn->running_var + bn->options.eps());
    w = w * scale.view({-1, 1, 1, 1});
    b = (b - bn->running_mean) * scale + bn->bias.detach();
  }
  return {w.contiguous(), b.contiguous()};
}
std::vector<float> toVec(const torch::Tensor& t) {
  const auto c = t.contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
}  // namespace

engine::ModelFile LandmarkNetImpl::exportModel() const {
  engine::ModelFile m;
  nlohmann::json nodes = nlohmann::json::array();
  nodes.push_back({{"name", "input"}, {"op", "Input"}});
  std::vector<std::string> names;
  auto nameOf = [&](int step) { return step < 0 ? std::string("input") : names[size_t(step)]; };
  int adds = 0;
  for (const auto& st : steps_) {
    if (st.kind == Step::kAdd) {
      const std::string name = "add" + std::to_string(adds++);
      nodes.push_back({{"name", name}, {"op", "Add"}, {"inputs", {nameOf(st.input), nameOf(st.input2)}}});
      names.push_back(name);
      continue;
    }
    const ConvUnit& u = units_[size_t(st.unit)];
    auto [w, b] = folded(u.conv, u.bn);
    const int64_t out = w.size(0), kh = w.size(2), kw = w.size(3);
    nlohmann::json node{{"name", u.name}, {"inputs", {nameOf(st.input)}}, {"weight", u.name + ".weight"}, {"bias", u.name + ".bias"},
                        {"stride", {u.stride, u.stride}}, {"pad", {u.pad, u.pad, u.pad, u.pad}}, {"activation", u.relu6 ? "relu6" : "none"}};
    if (u.depthwise) {
      node["op"] = "DepthwiseConv2d";  // [C, 1, kh, kw] -> [kh, kw, C]
      m.add(u.name + ".weight", {kh, kw, out}, toVec(w.view({out, kh, kw}).permute({1, 2, 0})));
    } else {
      node["op"] = "Conv2d";  // OIHW -> OHWI
      m.add(u.name + ".weight", {out, kh, kw, w.size(1)}, toVec(w.permute({0, 2, 3, 1})));
    }
    m.add(u.name + ".bias", {out}, toVec(b));
    nodes.push_back(node);
    names.push_back(u.name);
  }
  nlohmann::json graph{{"nodes", nodes}, {"outputs", {names.back()}}};
  m.metadata["facekit.graph"] = graph.dump();
  m.metadata["facekit.format_version"] = "1";
  return m;
}

void LandmarkNetImpl::importModel(const engine::ModelFile& m) {
  torch::NoGradGuard ng;
  for (auto& u : units_) {
    const auto& w = u.conv->weight;
    const int64_t out = w.size(0), in = w.size(1), kh = w.size(2), kw = w.size(3);
    torch::Tensor weight;
    if (u.depthwise) {
      const auto& t = m.get(u.name + ".weight", {kh, kw, out});
      weight = torch::from_blob(const_cast<float*>(t.data.data()), {kh, kw, out}).permute({2, 0, 1}).reshape({out, 1, kh, kw});
    } else {
      const auto& t = m.get(u.name + ".weight", {out, kh, kw, in});
      weight = torch::from_blob(const_cast<float*>(t.data.data()), {out, kh, kw, in}).permute({0, 3, 1, 2});
    }
    const auto& bt = m.get(u.name + ".bias", {out});
    const torch::Tensor bias = torch::from_blob(const_cast<float*>(bt.data.data()), {out});
    u.conv->weight.copy_(weight);
    if (u.bn) {
      u.bn->weight.fill_(1);
      u.bn->bias.copy_(bias);
      u.bn->running_mean.zero_();
      u.bn->running_var.fill_(1 - u.bn->options.eps());
    } else {
      u.conv->bias.copy_(bias);
    }
  }
}

NetCost netCost(const NetSpec& spec) {
  LandmarkNet net(spec);
  NetCost c;
  for (const auto& p : net->parameters()) c.parameters += p.numel();
  // MACs from the exported layer shapes: one forward with hooks would need libtorch's profiler;
  // the arithmetic is simple enough to count directly.
  const auto m = net->exportModel();
  const auto g = nlohmann::json::parse(m.metadata.at("facekit.graph"));
  std::map<std::string, int> size{{"input", spec.input_size}};
  for (const auto& n : g["nodes"]) {
    const std::string op = n["op"], name = n["name"];
    if (op == "Input") continue;
    const int in = size.at(n["inputs"][0].get<std::string>());
    if (op == "Add") {
      size[name] = in;
      continue;
    }
    const auto& w = m.tensors().at(n["weight"].get<std::string>()).shape;
    const int stride = n["stride"][0], pad = n["pad"][0];
    const int64_t kh = op == "Conv2d" ? w[1] : w[0], kw = op == "Conv2d" ? w[2] : w[1];
    const int out = int((in + 2 * pad - kh) / stride + 1);
    size[name] = out;
    const int64_t per_pixel = op == "Conv2d" ? w[0] * kh * kw * w[3] : w[2] * kh * kw;
    c.macs += int64_t(out) * out * per_pixel;
  }
  // BN parameters disappear on export; count what ships (folded weights and biases).
  c.parameters = 0;
  for (const auto& [name, t] : m.tensors()) c.parameters += int64_t(t.numel());
  return c;
}

}  // namespace facekit::train
