#include "mtcnn_net.hpp"

#include "facekit/error.hpp"

namespace facekit::train {
namespace {

// (kind, name, out channels, kernel, in channels | pool kernel, stride): the published
// architecture, as facekit's model file names it.
struct Spec {
  char kind;
  const char* name;
  int out, k, in;
};
std::vector<Spec> trunkOf(const std::string& w) {
  if (w == "pnet") return {{'c', "conv1", 10, 3, 3}, {'p', "prelu1", 10, 0, 0}, {'m', "pool1", 0, 2, 2}, {'c', "conv2", 16, 3, 10},
                           {'p', "prelu2", 16, 0, 0}, {'c', "conv3", 32, 3, 16}, {'p', "prelu3", 32, 0, 0}};
  if (w == "rnet") return {{'c', "conv1", 28, 3, 3},  {'p', "prelu1", 28, 0, 0}, {'m', "pool1", 0, 3, 2}, {'c', "conv2", 48, 3, 28},
                           {'p', "prelu2", 48, 0, 0}, {'m', "pool2", 0, 3, 2},  {'c', "conv3", 64, 2, 48}, {'p', "prelu3", 64, 0, 0},
                           {'f', "fc4", 128, 0, 576}, {'p', "prelu4", 128, 0, 0}};
  if (w == "onet") return {{'c', "conv1", 32, 3, 3},   {'p', "prelu1", 32, 0, 0},  {'m', "pool1", 0, 3, 2},  {'c', "conv2", 64, 3, 32},
                           {'p', "prelu2", 64, 0, 0},  {'m', "pool2", 0, 3, 2},   {'c', "conv3", 64, 3, 64}, {'p', "prelu3", 64, 0, 0},
                           {'m', "pool3", 0, 2, 2},    {'c', "conv4", 128, 2, 64}, {'p', "prelu4", 128, 0, 0}, {'f', "fc5", 256, 0, 1152},
                           {'p', "prelu5", 256, 0, 0}};
  throw Error(Error::Code::kInvalidArgument, "MTCNN has no net '" + w + "' (pnet, rnet, onet)");
}
std::vector<std::pair<const char*, int>> headsOf(const std::string& w) {
  if (w == "pnet") return {{"conv4_1", 2}, {"conv4_2", 4}};
  if (w == "rnet") return {{"fc5_1", 2}, {"fc5_2", 4}};
  return {{"fc6_1", 2}, {"fc6_2", 4}, {"fc6_3", 10}};
}
int headIn(const std::string& w) { return w == "pnet" ? 32 : w == "rnet" ? 128 : 256; }

std::vector<float> toVector(const torch::Tensor& t) {
  const auto c = t.detach().contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
torch::Tensor fromVector(const std::vector<float>& v, const std::vector<int64_t>& shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
}

}  // namespace

MtcnnNetImpl::MtcnnNetImpl(const std::string& which) : which_(which) {
  for (const Spec& s : trunkOf(which)) {
    Layer l{s.kind, s.name, 0, 0, nullptr};
    if (s.kind == 'c') l.module = register_module(s.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(s.in, s.out, s.k)));
    if (s.kind == 'f') l.module = register_module(s.name, torch::nn::Linear(s.in, s.out));
    if (s.kind == 'p') l.module = register_module(s.name, torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(s.out).init(0.25)));
    if (s.kind == 'm') l.k = s.k, l.stride = s.in;
    trunk_.push_back(l);
  }
  for (const auto& [name, out] : headsOf(which)) {
    Layer l{which == "pnet" ? 'c' : 'f', name, 0, 0, nullptr};
    if (which == "pnet") l.module = register_module(name, torch::nn::Conv2d(torch::nn::Conv2dOptions(headIn(which), out, 1)));
    else l.module = register_module(name, torch::nn::Linear(headIn(which), out));
    heads_.push_back(l);
  }
}

int MtcnnNetImpl::inputSize() const { return which_ == "pnet" ? 12 : which_ == "rnet" ? 24 : 48; }
int MtcnnNetImpl::outputs() const { return which_ == "onet" ? 16 : 6; }

torch::Tensor MtcnnNetImpl::forward(torch::Tensor x) {
  for (const Layer& l : trunk_) {
    switch (l.kind) {
      case 'c': x = l.module->as<torch::nn::Conv2dImpl>()->forward(x); break;
      case 'p': x = l.module->as<torch::nn::PReLUImpl>()->forward(x); break;
      // ceil_mode: the detector's pools keep a partial last window (as the original Caffe nets)
      case 'm': x = torch::max_pool2d(x, l.k, l.stride, 0, 1, /*ceil_mode=*/true); break;
      case 'f':
        // The model file's fully connected weights read features in (y, x, c) order.
        if (x.dim() == 4) x = x.permute({0, 2, 3, 1}).flatten(1);
        x = l.module->as<torch::nn::LinearImpl>()->forward(x);
        break;
    }
  }
  std::vector<torch::Tensor> outs;
  for (const Layer& h : heads_)
    outs.push_back(h.kind == 'c' ? h.module->as<torch::nn::Conv2dImpl>()->forward(x) : h.module->as<torch::nn::LinearImpl>()->forward(x));
  return torch::cat(outs, 1);
}

void MtcnnNetImpl::importFrom(const engine::ModelFile& m) {
  torch::NoGradGuard ng;
  const std::string p = which_ + ".";
  auto load = [&](const Layer& l) {
    if (l.kind == 'c') {
      auto* c = l.module->as<torch::nn::Conv2dImpl>();
      const auto s = c->weight.sizes();  // O I kh kw
      const auto& w = m.get(p + l.name + ".weight", {s[0], s[2], s[3], s[1]}).data;
      c->weight.copy_(fromVector(w, {s[0], s[2], s[3], s[1]}).permute({0, 3, 1, 2}));
      c->bias.copy_(fromVector(m.get(p + l.name + ".bias", {s[0]}).data, {s[0]}));
    } else if (l.kind == 'f') {
      auto* f = l.module->as<torch::nn::LinearImpl>();
      const auto s = f->weight.sizes();
      f->weight.copy_(fromVector(m.get(p + l.name + ".weight", {s[0], s[1]}).data, {s[0], s[1]}));
      f->bias.copy_(fromVector(m.get(p + l.name + ".bias", {s[0]}).data, {s[0]}));
    } else if (l.kind == 'p') {
      auto* a = l.module->as<torch::nn::PReLUImpl>();
      a->weight.copy_(fromVector(m.get(p + l.name + ".slope", {a->weight.size(0)}).data, {a->weight.size(0)}));
    }
  };
  for (const Layer& l : trunk_) load(l);
  for (const Layer& l : heads_) load(l);
}

void MtcnnNetImpl::exportInto(engine::ModelFile& m) const {
  const std::string p = which_ + ".";
  auto save = [&](const Layer& l) {
    if (l.kind == 'c') {
      auto* c = l.module->as<torch::nn::Conv2dImpl>();
      const auto s = c->weight.sizes();
      m.add(p + l.name + ".weight", {s[0], s[2], s[3], s[1]}, toVector(c->weight.permute({0, 2, 3, 1})));
      m.add(p + l.name + ".bias", {s[0]}, toVector(c->bias));
    } else if (l.kind == 'f') {
      auto* f = l.module->as<torch::nn::LinearImpl>();
      m.add(p + l.name + ".weight", {f->weight.size(0), f->weight.size(1)}, toVector(f->weight));
      m.add(p + l.name + ".bias", {f->weight.size(0)}, toVector(f->bias));
    } else if (l.kind == 'p') {
      auto* a = l.module->as<torch::nn::PReLUImpl>();
      m.add(p + l.name + ".slope", {a->weight.size(0)}, toVector(a->weight));
    }
  };
  for (const Layer& l : trunk_) save(l);
  for (const Layer& l : heads_) save(l);
}

engine::ModelFile freshMtcnnModel(uint64_t seed) {
  torch::manual_seed(seed);
  engine::ModelFile m;
  for (const char* w : {"pnet", "rnet", "onet"}) MtcnnNet(w)->exportInto(m);
  m.metadata["facekit.model"] = "mtcnn";
  m.metadata["facekit.format_version"] = "1";
  m.metadata["orientation"] = "natural";
  m.metadata["layout"] = "conv OHWI, fc [out,in], NHWC activations";
  return m;
}

engine::ModelFile neutralAfter(const engine::ModelFile& m, const std::string& keep_through) {
  engine::ModelFile out = m;
  std::vector<std::string> nets;
  if (keep_through == "pnet") nets = {"rnet", "onet"};
  else if (keep_through == "rnet") nets = {"onet"};
  else throw Error(Error::Code::kInvalidArgument, "neutralAfter: '" + keep_through + "' (pnet or rnet)");
  for (const std::string& w : nets) {
    MtcnnNet net(w);
    torch::NoGradGuard ng;
    for (auto& t : net->parameters()) t.zero_();
    // Zero weights: the heads' outputs are their biases. Logits (0, 5): p(face) = 0.993.
    auto* head = net->named_modules()[w == "rnet" ? "fc5_1" : "fc6_1"]->as<torch::nn::LinearImpl>();
    head->bias[1] = 5.0;
    net->exportInto(out);
  }
  out.metadata["training"] = "mining model: the nets after " + keep_through + " are neutral";
  return out;
}

}  // namespace facekit::train
