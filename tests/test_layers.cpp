// Every fast (XNNPACK) layer against its reference implementation on random inputs with fixed
// seeds, plus hand-computed cases that pin the reference itself.
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
