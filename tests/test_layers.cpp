// Every fast (XNNPACK) layer against its reference implementation on random inputs with fixed
// seeds, plus hand-computed cases that pin the reference itself.
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>

#include "engine/graph.hpp"
#include "engine/layers.hpp"
#include "engine/thread_pool.hpp"
#include "test_util.hpp"

using namespace facekit::engine;
using facekit::test::randomTensor;
using facekit::test::randomVector;
using facekit::test::sameTensor;

namespace {

constexpr double kParityTol = 1e-4;

void expectParity(const std::function<std::unique_ptr<Layer>(Backend)>& make, Shape in, uint32_t seed, int threads = 1) {
  auto ref = make(Backend::kReference), fast = make(Backend::kFast);
  ThreadPool pool(threads);
  const Tensor x = randomTensor(in, seed);
  Tensor want, got;
  ref->forward(x, want, nullptr);
  fast->forward(x, got, &pool);
  EXPECT_TRUE(sameTensor(got, want, kParityTol)) << ref->type() << " input " << in.str() << " seed " << seed;
}

Conv2dParams randomConv(int out, int kh, int kw, int in, int stride, int pad, uint32_t seed) {
  Conv2dParams p;
  p.out_c = out, p.kh = kh, p.kw = kw, p.in_c = in, p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.weights = randomVector(size_t(out) * kh * kw * in, seed);
  p.bias = randomVector(size_t(out), seed + 1);
  return p;
}

}  // namespace

TEST(LayerParity, Conv2dShapesOfMtcnnAndOthers) {
  struct Case { int out, k, in, stride, pad; Shape shape; };
  const Case cases[] = {
      {10, 3, 3, 1, 0, {1, 13, 17, 3}},   {16, 3, 10, 1, 0, {1, 31, 24, 10}}, {32, 3, 16, 1, 0, {2, 9, 9, 16}},
      {6, 1, 32, 1, 0, {1, 20, 15, 32}},  {64, 2, 48, 1, 0, {3, 4, 4, 48}},   {8, 3, 5, 2, 1, {2, 11, 12, 5}},
      {7, 5, 3, 2, 2, {1, 19, 23, 3}},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const Conv2dParams p = randomConv(c.out, c.k, c.k, c.in, c.stride, c.pad, seed);
    expectParity([&](Backend b) { return makeConv2d(p, b); }, c.shape, seed + 7);
    expectParity([&](Backend b) { return makeConv2d(p, b); }, c.shape, seed + 8, /*threads=*/2);
    seed += 10;
  }
}

TEST(LayerParity, PReLU) {
  for (int c : {1, 10, 28, 256}) {
    const auto slope = randomVector(size_t(c), 7u + c, 0.f, 0.5f);
    expectParity([&](Backend b) { return makePReLU(slope, b); }, {2, 5, 7, c}, 11u + c);
  }
}

TEST(LayerParity, MaxPoolCeilAndFloorOnOddAndEvenSizes) {
  for (bool ceil_mode : {true, false})
    for (int k : {2, 3})
      for (int size : {9, 10, 22, 23, 639})
        expectParity([&](Backend b) { return makeMaxPool({k, k, 2, 2, ceil_mode}, b); }, {1, size, size == 639 ? 5 : size + 1, 4},
                     uint32_t(size * 10 + k));
}

TEST(LayerParity, FullyConnectedBatched) {
  for (auto [in, out, n] : {std::tuple{576, 128, 3}, {1152, 256, 5}, {128, 6, 1}, {256, 16, 7}}) {
    FullyConnectedParams p{in, out, randomVector(size_t(in) * out, 3u + in), randomVector(size_t(out), 5u + out)};
    expectParity([&](Backend b) { return makeFullyConnected(p, b); }, {n, 1, 1, in}, 9u + in);
    expectParity([&](Backend b) { return makeFullyConnected(p, b); }, {n, 1, 1, in}, 10u + in, 2);
  }
}

TEST(LayerParity, Softmax) {
  expectParity([](Backend b) { return makeSoftmax(b); }, {2, 3, 4, 2}, 1);
  expectParity([](Backend b) { return makeSoftmax(b); }, {1, 1, 1, 10}, 2);
}

// Hand-computed: a 3x3 image 1..9, kernel all ones except centre 2, bias 0.5, one zero pad.
TEST(LayerReference, Conv2dHandComputed) {
  Conv2dParams p;
  p.out_c = 1, p.kh = 3, p.kw = 3, p.in_c = 1, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.weights = {1, 1, 1, 1, 2, 1, 1, 1, 1};
  p.bias = {0.5f};
  Tensor x({1, 3, 3, 1});
  for (int i = 0; i < 9; ++i) x.data()[i] = float(i + 1);
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    Tensor y;
    makeConv2d(p, b)->forward(x, y, nullptr);
    ASSERT_EQ(y.shape(), (Shape{1, 3, 3, 1}));
    // top-left: 1+2+4+5 + 1 (centre weight 2 counts 1 twice) + 0.5
    EXPECT_NEAR(y.at(0, 0, 0, 0), 13.5f, 1e-5) << backendName(b);
    // centre: sum(1..9) + 5 + 0.5
    EXPECT_NEAR(y.at(0, 1, 1, 0), 50.5f, 1e-5) << backendName(b);
    // bottom-right: 5+6+8+9 + 9 + 0.5
    EXPECT_NEAR(y.at(0, 2, 2, 0), 37.5f, 1e-5) << backendName(b);
  }
}

// Caffe's ceil rounding: a 3x3 input pooled 2x2/2 gives 2x2, the last row/column clipped.
TEST(LayerReference, MaxPoolCeilModeClipsTheLastWindow) {
  Tensor x({1, 3, 3, 1});
  const float v[9] = {0, 1, 2, 3, -4, -5, 6, 7, -8};
  std::copy(v, v + 9, x.data());
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    Tensor y;
    makeMaxPool({2, 2, 2, 2, true}, b)->forward(x, y, nullptr);
    ASSERT_EQ(y.shape(), (Shape{1, 2, 2, 1})) << backendName(b);
    EXPECT_EQ(y.at(0, 0, 0, 0), 3.f);
    EXPECT_EQ(y.at(0, 0, 1, 0), 2.f);   // max(2, -5): padding must not contribute a 0
    EXPECT_EQ(y.at(0, 1, 0, 0), 7.f);
    EXPECT_EQ(y.at(0, 1, 1, 0), -8.f);  // a lone negative value survives
    Tensor f;
    makeMaxPool({2, 2, 2, 2, false}, b)->forward(x, f, nullptr);
    EXPECT_EQ(f.shape(), (Shape{1, 1, 1, 1}));
  }
}

TEST(LayerReference, PReLUAndSoftmaxHandComputed) {
  Tensor x({1, 1, 2, 2});
  const float v[4] = {-2, 3, 0.5f, -1};
  std::copy(v, v + 4, x.data());
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    Tensor y;
    makePReLU({0.25f, 0.5f}, b)->forward(x, y, nullptr);
    EXPECT_FLOAT_EQ(y.data()[0], -0.5f);
    EXPECT_FLOAT_EQ(y.data()[1], 3.f);
    EXPECT_FLOAT_EQ(y.data()[2], 0.5f);
    EXPECT_FLOAT_EQ(y.data()[3], -0.5f);
    makeSoftmax(b)->forward(x, y, nullptr);
    EXPECT_NEAR(y.data()[0], 1.0 / (1.0 + std::exp(5.0)), 1e-7);
    EXPECT_NEAR(y.data()[2] + y.data()[3], 1.0, 1e-6);
  }
}

TEST(LayerShapes, RejectWrongInputs) {
  const Conv2dParams p = randomConv(4, 3, 3, 3, 1, 0, 1);
  auto conv = makeConv2d(p, Backend::kFast);
  EXPECT_THROW(conv->outputShape({1, 10, 10, 4}), facekit::Error);  // wrong channels
  EXPECT_THROW(conv->outputShape({1, 2, 10, 3}), facekit::Error);   // smaller than kernel
  Conv2dParams bad = p;
  bad.weights.pop_back();
  EXPECT_THROW(makeConv2d(bad, Backend::kFast), facekit::Error);
  auto fc = makeFullyConnected({8, 2, randomVector(16, 1), randomVector(2, 2)}, Backend::kFast);
  EXPECT_THROW(fc->outputShape({1, 1, 1, 7}), facekit::Error);
  EXPECT_THROW(makeMaxPool({3, 3, 2, 2, true}, Backend::kFast)->outputShape({1, 2, 5, 1}), facekit::Error);
}

TEST(LayerParity, DepthwiseConv2dStridesAndPadding) {
  uint32_t seed = 500;
  for (auto [c, k, stride, pad, h, w] : {std::tuple{16, 3, 1, 1, 24, 24}, {32, 3, 2, 0, 25, 26}, {128, 3, 2, 1, 12, 12}, {8, 5, 1, 2, 9, 11}}) {
    DepthwiseConv2dParams p;
    p.channels = c, p.kh = p.kw = k, p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_left = pad, p.pad_bottom = p.pad_right = pad + (stride == 2 ? 1 : 0);
    p.weights = randomVector(size_t(k) * k * c, seed), p.bias = randomVector(size_t(c), seed + 1);
    expectParity([&](Backend b) { return makeDepthwiseConv2d(p, b); }, {2, h, w, c}, seed + 2);
    expectParity([&](Backend b) { return makeDepthwiseConv2d(p, b); }, {1, h, w, c}, seed + 3, 2);
    seed += 10;
  }
}

TEST(LayerParity, SigmoidAndChannelPad) {
  expectParity([](Backend b) { return makeSigmoid(b); }, {2, 5, 7, 3}, 41);
  expectParity([](Backend b) { return makeChannelPad(0, 16, b); }, {1, 6, 5, 16}, 42);
  expectParity([](Backend b) { return makeChannelPad(3, 1, b); }, {2, 3, 4, 5}, 43);
}

TEST(LayerParity, Add) {
  auto ref = makeAdd(Backend::kReference), fast = makeAdd(Backend::kFast);
  const Tensor a = randomTensor({2, 7, 5, 16}, 51), b = randomTensor({2, 7, 5, 16}, 52);
  Tensor want, got;
  ref->forward(a, b, want, nullptr);
  fast->forward(a, b, got, nullptr);
  EXPECT_TRUE(sameTensor(got, want, kParityTol));
  EXPECT_FLOAT_EQ(want.data()[3], a.data()[3] + b.data()[3]);
  EXPECT_THROW(fast->outputShape({1, 2, 2, 2}, {1, 2, 2, 3}), facekit::Error);
}

TEST(LayerReference, DepthwiseAndSigmoidHandComputed) {
  DepthwiseConv2dParams p;  // 2 channels, 2x2 kernels, no padding, on a 2x2 image: one output pixel
  p.channels = 2, p.kh = p.kw = 2;
  p.weights = {1, 10, 2, 20, 3, 30, 4, 40};  // [ky][kx][c]
  p.bias = {0.5f, -1.f};
  Tensor x({1, 2, 2, 2});
  const float v[8] = {1, 1, 2, 0, 3, 0, 4, 2};  // [y][x][c]
  std::copy(v, v + 8, x.data());
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    Tensor y;
    makeDepthwiseConv2d(p, b)->forward(x, y, nullptr);
    ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
    EXPECT_NEAR(y.data()[0], 1 * 1 + 2 * 2 + 3 * 3 + 4 * 4 + 0.5, 1e-5);  // 30.5
    EXPECT_NEAR(y.data()[1], 10 * 1 + 20 * 0 + 30 * 0 + 40 * 2 - 1, 1e-5);  // 89
    makeSigmoid(b)->forward(x, y, nullptr);
    EXPECT_NEAR(y.data()[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  }
}

// --- fused activations (output clamp of Conv2d / DepthwiseConv2d) and the Clamp layer --------

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();

// How many values the clamp [lo, hi] pinned: a parity test of a fused activation proves little
// if the clamp never bit, so the tests below check it did at both ends.
std::pair<size_t, size_t> pinned(const Tensor& t, float lo, float hi) {
  size_t at_lo = 0, at_hi = 0;
  for (size_t i = 0; i < t.numel(); ++i) at_lo += t.data()[i] == lo, at_hi += t.data()[i] == hi;
  return {at_lo, at_hi};
}
}  // namespace

// The landmark model's shapes: a 96x96x3 stem 3x3/2 conv to 16 channels, a 24x24x48 3x3/2
// depthwise, both with ReLU6. Weights are scaled up so sums spread well past 0 and 6.
TEST(LayerParity, FusedRelu6ConvAndDepthwiseAtLandmarkShapes) {
  Conv2dParams c = randomConv(16, 3, 3, 3, 2, 1, 700);
  for (float& w : c.weights) w *= 3.f;
  c.out_min = 0.f, c.out_max = 6.f;
  DepthwiseConv2dParams d;
  d.channels = 48, d.kh = d.kw = 3, d.stride_h = d.stride_w = 2, d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
  d.weights = randomVector(9 * 48, 710, -4.f, 4.f), d.bias = randomVector(48, 711);
  d.out_min = 0.f, d.out_max = 6.f;
  for (int threads : {1, 2}) {
    expectParity([&](Backend b) { return makeConv2d(c, b); }, {1, 96, 96, 3}, 720, threads);
    expectParity([&](Backend b) { return makeDepthwiseConv2d(d, b); }, {1, 24, 24, 48}, 721, threads);
  }
  Tensor y;
  makeConv2d(c, Backend::kReference)->forward(randomTensor({1, 96, 96, 3}, 720), y, nullptr);
  EXPECT_EQ(y.shape(), (Shape{1, 48, 48, 16}));
  auto [lo, hi] = pinned(y, 0.f, 6.f);
  EXPECT_GT(lo, 1000u);
  EXPECT_GT(hi, 100u);
  makeDepthwiseConv2d(d, Backend::kReference)->forward(randomTensor({1, 24, 24, 48}, 721), y, nullptr);
  EXPECT_EQ(y.shape(), (Shape{1, 12, 12, 48}));
  std::tie(lo, hi) = pinned(y, 0.f, 6.f);
  EXPECT_GT(lo, 100u);
  EXPECT_GT(hi, 10u);
  // ReLU (no upper bound) on the same conv.
  c.out_max = kInf;
  expectParity([&](Backend b) { return makeConv2d(c, b); }, {2, 20, 17, 3}, 722);
}

// A 1x1 convolution and a 1x1 depthwise producing -2, 3, 8: ReLU6 gives 0, 3, 6, ReLU 0, 3, 8.
TEST(LayerReference, FusedClampHandComputed) {
  Conv2dParams c;
  c.out_c = 3, c.kh = c.kw = 1, c.in_c = 1;
  c.weights = {-1, 1, 3}, c.bias = {0, 1, 2};  // x = 2: -2, 3, 8
  Tensor x({1, 1, 1, 1});
  x.data()[0] = 2.f;
  DepthwiseConv2dParams d;
  d.channels = 3, d.kh = d.kw = 1, d.weights = {-1, 1, 4}, d.bias = {0, 0, 0};
  Tensor x3({1, 1, 1, 3});
  x3.data()[0] = 2.f, x3.data()[1] = 3.f, x3.data()[2] = 2.f;  // -2, 3, 8
  struct Case { float lo, hi, want[3]; };
  for (const Case& k : {Case{-kInf, kInf, {-2, 3, 8}}, Case{0, kInf, {0, 3, 8}}, Case{0, 6, {0, 3, 6}}})
    for (Backend b : {Backend::kReference, Backend::kFast}) {
      c.out_min = d.out_min = k.lo, c.out_max = d.out_max = k.hi;
      Tensor y, yd;
      makeConv2d(c, b)->forward(x, y, nullptr);
      makeDepthwiseConv2d(d, b)->forward(x3, yd, nullptr);
      for (int i = 0; i < 3; ++i) {
        EXPECT_FLOAT_EQ(y.data()[i], k.want[i]) << backendName(b) << " clamp [" << k.lo << "," << k.hi << "] #" << i;
        EXPECT_FLOAT_EQ(yd.data()[i], k.want[i]) << backendName(b) << " depthwise, clamp [" << k.lo << "," << k.hi << "] #" << i;
      }
    }
}

TEST(LayerParity, Clamp) {
  uint32_t seed = 800;
  for (auto [lo, hi] : {std::pair{0.f, 6.f}, {0.f, kInf}, {-kInf, 0.5f}, {-0.25f, 0.25f}}) {
    expectParity([&](Backend b) { return makeClamp(lo, hi, b); }, {2, 7, 5, 16}, seed++);
    expectParity([&](Backend b) { return makeClamp(lo, hi, b); }, {1, 33, 31, 3}, seed++, 2);
  }
  Tensor x({1, 1, 1, 4});
  const float v[4] = {-2, 3, 8, 0.5f};
  std::copy(v, v + 4, x.data());
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    Tensor y;
    makeClamp(0, 6, b)->forward(x, y, nullptr);
    EXPECT_EQ(y.shape(), x.shape());
    EXPECT_EQ(std::vector<float>(y.data(), y.data() + 4), (std::vector<float>{0, 3, 6, 0.5f})) << backendName(b);
  }
}

// Both backends refuse an empty or NaN clamp range (XNNPACK would, so the reference does too).
TEST(LayerShapes, RejectEmptyClampRanges) {
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    EXPECT_THROW(makeClamp(1.f, 1.f, b), facekit::Error);
    EXPECT_THROW(makeClamp(6.f, 0.f, b), facekit::Error);
    EXPECT_THROW(makeClamp(std::nanf(""), 1.f, b), facekit::Error);
    Conv2dParams c = randomConv(2, 1, 1, 1, 1, 0, 1);
    c.out_min = c.out_max = 0.f;
    EXPECT_THROW(makeConv2d(c, b), facekit::Error);
  }
}

// MACs as PyTorch FLOP counters count them; parameters are weights + biases.
TEST(LayerSummary, KernelParametersAndMacs) {
  Conv2dParams c = randomConv(16, 3, 3, 3, 2, 1, 1);
  c.out_min = 0.f, c.out_max = 6.f;
  const LayerSummary sc = makeConv2d(c, Backend::kReference)->summary({1, 96, 96, 3});
  EXPECT_EQ(sc.kernel, "3x3/2");
  EXPECT_EQ(sc.activation, "relu6");
  EXPECT_EQ(sc.parameters, 16u * 27 + 16);
  EXPECT_EQ(sc.macs, 48u * 48 * 16 * 3 * 3 * 3);  // 995328
  DepthwiseConv2dParams d;
  d.channels = 48, d.kh = d.kw = 3, d.stride_h = d.stride_w = 2, d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
  d.weights = randomVector(9 * 48, 2), d.bias = randomVector(48, 3);
  const LayerSummary sd = makeDepthwiseConv2d(d, Backend::kFast)->summary({1, 24, 24, 48});
  EXPECT_EQ(sd.activation, "");
  EXPECT_EQ(sd.parameters, 9u * 48 + 48);
  EXPECT_EQ(sd.macs, 12u * 12 * 48 * 3 * 3);  // 62208
  const LayerSummary sf = makeFullyConnected({576, 128, randomVector(576 * 128, 4), randomVector(128, 5)}, Backend::kReference)->summary({1, 3, 3, 64});
  EXPECT_EQ(sf.parameters, 576u * 128 + 128);
  EXPECT_EQ(sf.macs, 576u * 128);
  EXPECT_EQ(makePReLU({1, 2}, Backend::kReference)->summary({1, 4, 4, 2}).parameters, 2u);
  EXPECT_EQ(makeMaxPool({3, 3, 2, 2, true}, Backend::kReference)->summary({1, 9, 9, 2}).kernel, "3x3/2");
  EXPECT_EQ(makeClamp(-1, 1, Backend::kReference)->summary({1, 4, 4, 2}).activation, "clamp[-1,1]");
  EXPECT_THROW(makeConv2d(c, Backend::kReference)->summary({1, 96, 96, 4}), facekit::Error);
}

// --- graph JSON: "activation" on convolutions and the Clamp op --------------------------------

namespace {
// A two-layer graph (3x3/2 conv 3 -> 8, 3x3/1 depthwise) in an in-memory model file; `nodes`
// are the JSON nodes after the Input, the conv named "c", the depthwise "d".
ModelFile smallGraph(const std::vector<nlohmann::json>& nodes, const std::string& output) {
  ModelFile m;
  m.origin = "test-graph";
  m.add("c.weight", {8, 3, 3, 3}, randomVector(8 * 27, 900, -2.f, 2.f));
  m.add("c.bias", {8}, randomVector(8, 901));
  m.add("d.weight", {3, 3, 8}, randomVector(9 * 8, 902, -2.f, 2.f));
  m.add("d.bias", {8}, randomVector(8, 903));
  nlohmann::json g = {{"nodes", nlohmann::json::array({{{"name", "in"}, {"op", "Input"}}})}, {"outputs", {output}}};
  for (const auto& n : nodes) g["nodes"].push_back(n);
  m.metadata["facekit.graph"] = g.dump();
  return m;
}

nlohmann::json convNode(const char* input, const char* activation) {
  nlohmann::json n = {{"name", "c"}, {"op", "Conv2d"}, {"inputs", {input}}, {"weight", "c.weight"}, {"bias", "c.bias"},
                      {"stride", {2, 2}}, {"pad", {1, 1, 1, 1}}};
  if (activation) n["activation"] = activation;
  return n;
}

nlohmann::json dwNode(const char* input, const char* activation) {
  nlohmann::json n = {{"name", "d"}, {"op", "DepthwiseConv2d"}, {"inputs", {input}}, {"weight", "d.weight"}, {"bias", "d.bias"},
                      {"stride", {1, 1}}, {"pad", {1, 1, 1, 1}}};
  if (activation) n["activation"] = activation;
  return n;
}

facekit::Error::Code buildError(const ModelFile& m, std::string* message) {
  try {
    Graph::build(m, Backend::kFast);
  } catch (const facekit::Error& e) {
    *message = e.what();
    return e.code();
  }
  *message = "(built)";
  return facekit::Error::Code::kInternal;
}
}  // namespace

TEST(GraphActivation, FusedRelu6EqualsConvPlusClampNodes) {
  const ModelFile fused = smallGraph({convNode("in", "relu6"), dwNode("c", "relu")}, "d");
  const ModelFile apart = smallGraph({convNode("in", "none"), {{"name", "c6"}, {"op", "Clamp"}, {"inputs", {"c"}}, {"min", 0}, {"max", 6}},
                                      dwNode("c6", nullptr), {{"name", "r"}, {"op", "Clamp"}, {"inputs", {"d"}}, {"min", 0}}},
                                     "r");
  const Tensor x = randomTensor({1, 31, 29, 3}, 910, -2.f, 2.f);
  Graph ref_fused = Graph::build(fused, Backend::kReference), ref_apart = Graph::build(apart, Backend::kReference);
  Graph fast_fused = Graph::build(fused, Backend::kFast), fast_apart = Graph::build(apart, Backend::kFast);
  const Tensor want = *ref_apart.forward(x, nullptr)[0];
  ASSERT_EQ(want.shape(), (Shape{1, 16, 15, 8}));
  EXPECT_EQ(ref_apart.shapes(x.shape()).back(), want.shape());
  // The clamp bit: some conv outputs were pinned to 0 and to 6 before the depthwise.
  auto [lo, hi] = pinned(ref_apart.nodeValue(2), 0.f, 6.f);
  EXPECT_GT(lo, 0u);
  EXPECT_GT(hi, 0u);
  EXPECT_TRUE(sameTensor(*ref_fused.forward(x, nullptr)[0], want, 0.0));  // same float ops, same order
  EXPECT_TRUE(sameTensor(*fast_fused.forward(x, nullptr)[0], want, kParityTol));
  EXPECT_TRUE(sameTensor(*fast_apart.forward(x, nullptr)[0], want, kParityTol));
  EXPECT_EQ(ref_fused.nodeLayer(1)->summary({1, 31, 29, 3}).activation, "relu6");
}

TEST(GraphActivation, BadActivationOrClampIsRefusedNamingTheNode) {
  std::string msg;
  for (const char* bad : {"gelu", "ReLU6", ""}) {
    EXPECT_EQ(buildError(smallGraph({convNode("in", bad)}, "c"), &msg), facekit::Error::Code::kBadModel) << bad;
    EXPECT_NE(msg.find("node 'c'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("activation '" + std::string(bad) + "'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  nlohmann::json number_activation = convNode("in", nullptr);
  number_activation["activation"] = 6;
  EXPECT_EQ(buildError(smallGraph({number_activation}, "c"), &msg), facekit::Error::Code::kBadModel) << msg;
  EXPECT_EQ(buildError(smallGraph({{{"name", "k"}, {"op", "Clamp"}, {"inputs", {"in"}}, {"min", 6}, {"max", 0}}}, "k"), &msg),
            facekit::Error::Code::kBadModel);
  EXPECT_NE(msg.find("node 'k'"), std::string::npos) << msg;
  EXPECT_EQ(buildError(smallGraph({{{"name", "k"}, {"op", "Clamp"}, {"inputs", {"in"}}, {"min", "0"}}}, "k"), &msg),
            facekit::Error::Code::kBadModel);
}
