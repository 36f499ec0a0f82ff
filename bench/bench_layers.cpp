// Engine layers, fast (XNNPACK) against reference, at shapes facekit's networks use, 1 thread.
//   build/bench/facekit_bench_layers
#include <benchmark/benchmark.h>

#include <random>

#include "engine/layers.hpp"

namespace {

using namespace facekit::engine;

std::vector<float> randomVector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

Tensor randomTensor(Shape s) {
  Tensor t(s);
  const auto v = randomVector(s.numel(), 7);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

void run(benchmark::State& state, Layer& layer, const Tensor& x) {
  Tensor y;
  for (auto _ : state) {
    layer.forward(x, y, nullptr);
    benchmark::DoNotOptimize(y.data());
  }
}

Backend backendOf(const benchmark::State& state) { return state.range(0) ? Backend::kFast : Backend::kReference; }

// P-Net conv3 at the largest 640x480 pyramid level (16 -> 32 channels, 3x3).
void BM_Conv2d_PNetConv3(benchmark::State& state) {
  Conv2dParams p;
  p.out_c = 32, p.kh = p.kw = 3, p.in_c = 16;
  p.weights = randomVector(32 * 9 * 16, 1), p.bias = randomVector(32, 2);
  auto l = makeConv2d(p, backendOf(state));
  run(state, *l, randomTensor({1, 141, 189, 16}));
}

// Face mesh: a 3x3 depthwise convolution on 48x48x128 (SAME padding).
void BM_DepthwiseConv2d_Mesh(benchmark::State& state) {
  DepthwiseConv2dParams p;
  p.channels = 128, p.kh = p.kw = 3, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.weights = randomVector(9 * 128, 3), p.bias = randomVector(128, 4);
  auto l = makeDepthwiseConv2d(p, backendOf(state));
  run(state, *l, randomTensor({1, 48, 48, 128}));
}

// MobileNetV2-style landmark model: a 3x3/2 depthwise convolution on 24x24x48 with fused ReLU6
// (the clamp rides in XNNPACK's output stage, no extra pass).
void BM_DepthwiseConv2d_Relu6_Landmark(benchmark::State& state) {
  DepthwiseConv2dParams p;
  p.channels = 48, p.kh = p.kw = 3, p.stride_h = p.stride_w = 2, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.weights = randomVector(9 * 48, 9), p.bias = randomVector(48, 10);
  p.out_min = 0.f, p.out_max = 6.f;
  auto l = makeDepthwiseConv2d(p, backendOf(state));
  run(state, *l, randomTensor({1, 24, 24, 48}));
}

// The same model's stem: 96x96x3 -> 48x48x16, 3x3/2 conv with fused ReLU6.
void BM_Conv2d_Relu6_LandmarkStem(benchmark::State& state) {
  Conv2dParams p;
  p.out_c = 16, p.kh = p.kw = 3, p.in_c = 3, p.stride_h = p.stride_w = 2, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.weights = randomVector(16 * 9 * 3, 11), p.bias = randomVector(16, 12);
  p.out_min = 0.f, p.out_max = 6.f;
  auto l = makeConv2d(p, backendOf(state));
  run(state, *l, randomTensor({1, 96, 96, 3}));
}

// O-Net fc5 on a chunk of 32 crops (1152 -> 256).
void BM_FullyConnected_ONetFc5(benchmark::State& state) {
  FullyConnectedParams p{1152, 256, randomVector(1152 * 256, 5), randomVector(256, 6)};
  auto l = makeFullyConnected(p, backendOf(state));
  run(state, *l, randomTensor({32, 1, 1, 1152}));
}

void BM_PReLU_PNet1(benchmark::State& state) {
  auto l = makePReLU(randomVector(10, 8), backendOf(state));
  run(state, *l, randomTensor({1, 286, 382, 10}));
}

void BM_MaxPool_PNet1(benchmark::State& state) {
  auto l = makeMaxPool({2, 2, 2, 2, true}, backendOf(state));
  run(state, *l, randomTensor({1, 286, 382, 10}));
}

}  // namespace

#define FACEKIT_LAYER_BENCH(fn) BENCHMARK(fn)->ArgName("fast")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)
FACEKIT_LAYER_BENCH(BM_Conv2d_PNetConv3);
FACEKIT_LAYER_BENCH(BM_DepthwiseConv2d_Mesh);
FACEKIT_LAYER_BENCH(BM_DepthwiseConv2d_Relu6_Landmark);
FACEKIT_LAYER_BENCH(BM_Conv2d_Relu6_LandmarkStem);
FACEKIT_LAYER_BENCH(BM_FullyConnected_ONetFc5);
FACEKIT_LAYER_BENCH(BM_PReLU_PNet1);
FACEKIT_LAYER_BENCH(BM_MaxPool_PNet1);

BENCHMARK_MAIN();
