// Int8 inference (engine/quantize.hpp, ComputePrecision::kInt8): every kernel this CPU can run
// (AVX-512 VNNI, AVX2, the plain loop) against the plain int8 reference loop, exactly; the int8
// layers against FP32 within a bound; the int8 P-Net against the FP32 one; the int8 detector
// against the FP32 detector on the photos of ../shared/data/faces. Fixed seeds throughout.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <random>

#include "engine/model_file.hpp"
#include "engine/quantize.hpp"
#include "facekit/facekit.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"
#include "test_util.hpp"

using namespace facekit;
using namespace facekit::engine;
using facekit::test::randomVector;

namespace {

// Restores the process-wide kernel choice when a test ends.
struct KernelGuard {
  int8::Kernel saved = int8::activeKernel();
  ~KernelGuard() { int8::setKernel(saved); }
};

std::vector<int8::Kernel> kernelsHere() {
  std::vector<int8::Kernel> k;
  for (auto c : {int8::Kernel::kVnni, int8::Kernel::kAvx2, int8::Kernel::kScalar})
    if (int8::kernelSupported(c)) k.push_back(c);
  return k;
}

Conv2dParams randomConv(int out, int kh, int kw, int in, uint32_t seed) {
  Conv2dParams p;
  p.out_c = out, p.kh = kh, p.kw = kw, p.in_c = in;
  p.weights = randomVector(size_t(out) * kh * kw * in, seed, -0.5f, 0.5f);
  p.bias = randomVector(size_t(out), seed + 1, -0.2f, 0.2f);
  return p;
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n + 64);  // kernels may read up to 64 bytes past the end
  for (auto& b : v) b = uint8_t(rng() & 255);
  return v;
}

struct ConvCase {
  int out, kh, kw, in;
  Shape shape;  // input
};
// MTCNN's layers (P-Net, R-Net, O-Net, their fully connected layers as convolutions) and odd
// sizes: channel counts that fill no vector, widths with every tail length.
const ConvCase kCases[] = {
    {10, 3, 3, 3, {1, 13, 29, 3}},   {16, 3, 3, 10, {1, 11, 23, 10}}, {32, 3, 3, 16, {2, 9, 21, 16}},
    {6, 1, 1, 32, {1, 5, 19, 32}},   {28, 3, 3, 3, {2, 24, 24, 3}},   {48, 3, 3, 28, {2, 11, 11, 28}},
    {64, 2, 2, 48, {3, 4, 4, 48}},   {128, 3, 3, 64, {2, 3, 3, 64}},  {6, 1, 1, 128, {5, 1, 1, 128}},
    {256, 3, 3, 128, {1, 3, 3, 128}}, {16, 1, 1, 256, {3, 1, 1, 256}}, {5, 2, 3, 7, {1, 6, 17, 7}},
    {33, 3, 3, 1, {1, 5, 40, 1}},
};

}  // namespace

TEST(Int8, KernelDispatch) {
  KernelGuard g;
  EXPECT_TRUE(int8::kernelSupported(int8::Kernel::kScalar));
  int8::setKernel(int8::Kernel::kAuto);
  EXPECT_NE(int8::activeKernel(), int8::Kernel::kAuto);
  if (!std::getenv("FACEKIT_INT8_KERNEL")) {
    // The best kernel of this CPU is chosen.
    const auto best = int8::kernelSupported(int8::Kernel::kVnni) ? int8::Kernel::kVnni
                      : int8::kernelSupported(int8::Kernel::kAvx2) ? int8::Kernel::kAvx2 : int8::Kernel::kScalar;
    EXPECT_EQ(int8::activeKernel(), best);
  }
  for (auto k : kernelsHere()) {
    int8::setKernel(k);
    EXPECT_EQ(int8::activeKernel(), k);
  }
  std::printf("int8 kernels on this CPU:");
  for (auto k : kernelsHere()) std::printf(" %s", int8::kernelName(k));
  std::printf("\n");
}

// Every kernel computes exactly the integers (and floats) of the plain reference loop.
TEST(Int8, EveryKernelEqualsTheReferenceLoop) {
  KernelGuard g;
  uint32_t seed = 1000;
  for (const ConvCase& c : kCases) {
    for (bool float_out : {false, true}) {
      const Conv2dParams p = randomConv(c.out, c.kh, c.kw, c.in, seed);
      const auto slope = randomVector(size_t(c.out), seed + 2, 0.f, 0.5f);
      const int8::ActQuant in{0.02f, 131.f}, out{0.02f * std::sqrt(float(c.kh * c.kw * c.in)), 100.f};  // outputs mostly in range
      const int8::QConv q = int8::quantizeConv(p, slope, in, float_out ? nullptr : &out);
      const auto x = randomBytes(c.shape.numel(), seed + 3);
      const size_t n_out = size_t(c.shape.n) * (c.shape.h - c.kh + 1) * (c.shape.w - c.kw + 1) * c.out;
      std::vector<uint8_t> want8(n_out), got8(n_out);
      std::vector<float> wantf(n_out), gotf(n_out);
      int8::referenceConv(q, x.data(), c.shape.n, c.shape.h, c.shape.w, want8.data(), wantf.data());
      size_t saturated = 0;
      for (uint8_t v : want8) saturated += v == 0 || v == 255;
      if (!float_out) {
        EXPECT_LT(saturated, n_out / 2) << "the case should exercise requantization, not clamping";
      }
      for (auto k : kernelsHere()) {
        int8::setKernel(k);
        std::fill(got8.begin(), got8.end(), 0x5a), std::fill(gotf.begin(), gotf.end(), -1234.f);
        int8::runConv(q, x.data(), c.shape.n, c.shape.h, c.shape.w, got8.data(), gotf.data());
        if (float_out)
          EXPECT_EQ(std::memcmp(gotf.data(), wantf.data(), n_out * sizeof(float)), 0)
              << int8::kernelName(k) << " " << c.out << "x" << c.kh << "x" << c.kw << "x" << c.in << " on " << c.shape.str();
        else
          EXPECT_EQ(got8, want8) << int8::kernelName(k) << " " << c.out << "x" << c.kh << "x" << c.kw << "x" << c.in << " on " << c.shape.str();
      }
      seed += 10;
    }
  }
}

// The reference loop itself against a hand-computed case.
TEST(Int8, ReferenceLoopByHand) {
  Conv2dParams p;
  p.out_c = 1, p.kh = 1, p.kw = 2, p.in_c = 1;
  p.weights = {1.f, -0.5f};  // scale 1/127: int8 {127, -64}
  p.bias = {0.f};
  const int8::ActQuant in{1.f, 10.f};
  const int8::QConv q = int8::quantizeConv(p, {}, in, nullptr);
  EXPECT_EQ(q.weights, (std::vector<int8_t>{127, -64}));
  EXPECT_EQ(q.bias[0], -10 * (127 - 64));
  std::vector<uint8_t> x = {12, 14, 0, 0};  // real 2, 4
  x.resize(64 + 2);
  float y = 0;
  int8::referenceConv(q, x.data(), 1, 1, 2, nullptr, &y);
  EXPECT_NEAR(y, 2.f * 1.f + 4.f * (-64.f / 127.f), 1e-5f);
}

// Quantized convolution + PReLU against FP32 on the same (dequantized) input: within a bound set
// by the output step and the weights' rounding.
TEST(Int8, LayerWithinBoundOfFp32) {
  uint32_t seed = 77;
  for (const ConvCase& c : kCases) {
    const Conv2dParams p = randomConv(c.out, c.kh, c.kw, c.in, seed);
    const auto slope = randomVector(size_t(c.out), seed + 2, 0.f, 0.5f);
    const int8::ActQuant in{0.02f, 128.f};
    const auto x = randomBytes(c.shape.numel(), seed + 3);
    // FP32 on the dequantized input.
    Tensor xf(c.shape), yf;
    for (size_t i = 0; i < xf.numel(); ++i) xf.data()[i] = in.scale * (float(x[i]) - in.zero_point);
    auto conv = makeConv2d(p, Backend::kReference);
    auto prelu = makePReLU(slope, Backend::kReference);
    Tensor t;
    conv->forward(xf, t, nullptr);
    prelu->forward(t, yf, nullptr);
    float lo = 0, hi = 0;
    for (size_t i = 0; i < yf.numel(); ++i) lo = std::min(lo, yf.data()[i]), hi = std::max(hi, yf.data()[i]);
    const int8::ActQuant out = int8::actQuantForRange(lo, hi);
    const int8::QConv q = int8::quantizeConv(p, slope, in, &out);
    std::vector<uint8_t> y8(yf.numel());
    int8::referenceConv(q, x.data(), c.shape.n, c.shape.h, c.shape.w, y8.data(), nullptr);
    // Weight rounding: at most half a step of each channel's scale per weight, times the input.
    const size_t K = size_t(c.kh) * c.kw * c.in;
    double max_err = 0, bound = 0;
    for (size_t i = 0; i < yf.numel(); ++i) {
      const double got = out.scale * (double(y8[i]) - out.zero_point);
      max_err = std::max(max_err, std::fabs(got - yf.data()[i]));
    }
    for (float s : q.w_scale) bound = std::max(bound, 0.5 * s * K * in.scale * 128.0 + 0.5 * s * in.scale);
    bound = 0.51 * out.scale + bound;  // output rounding + weight rounding (worst case)
    EXPECT_LE(max_err, bound) << c.out << "x" << c.kh << "x" << c.kw << "x" << c.in;
    // And typically far below the worst case: a few output steps.
    EXPECT_LE(max_err, 4 * out.scale + 0.05 * (hi - lo)) << c.out << "x" << c.kh << "x" << c.kw << "x" << c.in;
    seed += 10;
  }
}

namespace {

void expectPoolParity(const MaxPoolParams& p, const Shape& s) {
  const auto x = randomBytes(s.numel(), 5);
  Tensor xf(s), yf;
  for (size_t i = 0; i < xf.numel(); ++i) xf.data()[i] = float(x[i]);
  makeMaxPool(p, Backend::kReference)->forward(xf, yf, nullptr);
  std::vector<uint8_t> y(yf.numel() + 64);  // maxPool may write 64 bytes past the end
  int8::maxPool(p, x.data(), s.n, s.h, s.w, s.c, y.data());
  y.resize(yf.numel());
  for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(float(y[i]), yf.data()[i]) << i << " of " << s.str();
}

}  // namespace

TEST(Int8, MaxPoolEqualsFloatPooling) {
  for (auto [p, s] : {std::pair{MaxPoolParams{3, 3, 2, 2, true}, Shape{2, 11, 14, 5}}, {MaxPoolParams{2, 2, 2, 2, true}, Shape{1, 13, 17, 10}},
                      {MaxPoolParams{3, 3, 2, 2, true}, Shape{3, 10, 9, 28}}, {MaxPoolParams{2, 2, 2, 2, false}, Shape{1, 9, 8, 64}}})
    expectPoolParity(p, s);
}


namespace {

const ModelFile& mtcnnModel() {
  static const ModelFile m = ModelFile::load(FACEKIT_TEST_MODEL);
  return m;
}

// The sample photo as P-Net's normalised input at scale `s`.
Tensor pnetInput(double s) {
  const Image& a = facekit::test::astronaut();
  cv::Mat src(a.height, a.width, CV_8UC3, const_cast<uint8_t*>(a.pixels.data())), r;
  cv::resize(src, r, cv::Size(int(a.width * s), int(a.height * s)), 0, 0, cv::INTER_AREA);
  Tensor t(Shape{1, r.rows, r.cols, 3});
  for (int y = 0; y < r.rows; ++y)
    for (int i = 0; i < r.cols * 3; ++i) t.data()[size_t(y) * r.cols * 3 + i] = (float(r.ptr<uint8_t>(y)[i]) - 127.5f) * 0.0078125f;
  return t;
}

}  // namespace

// The whole int8 P-Net: the same output on every kernel, and close to FP32 on a real image.
TEST(Int8, PNetMatchesFp32AndEveryKernelAgrees) {
  KernelGuard g;
  auto q = mtcnn::buildInt8Net(mtcnnModel(), "pnet");
  auto f = mtcnn::buildNets(mtcnnModel(), Backend::kFast).pnet;
  for (double s : {0.6, 0.25}) {
    const Tensor x = pnetInput(s);
    const Tensor want = f.forward(x, nullptr);
    Tensor first;
    for (auto k : kernelsHere()) {
      int8::setKernel(k);
      const Tensor& got = q.forward(x, nullptr);
      ASSERT_EQ(got.shape(), want.shape());
      if (first.numel() == 0) {
        first = got;
      } else {
        EXPECT_EQ(std::memcmp(first.data(), got.data(), got.numel() * sizeof(float)), 0) << int8::kernelName(k) << " differs";
      }
    }
    // Face probabilities and box regression against FP32.
    double max_p = 0, sum_p = 0, max_reg = 0;
    size_t cells = 0, agree = 0, positive = 0;
    for (size_t i = 0; i < want.numel(); i += 6, ++cells) {
      const float* a = want.data() + i;
      const float* b = first.data() + i;
      const double pa = 1 / (1 + std::exp(a[0] - a[1])), pb = 1 / (1 + std::exp(b[0] - b[1]));
      max_p = std::max(max_p, std::fabs(pa - pb)), sum_p += std::fabs(pa - pb);
      agree += (pa >= 0.6) == (pb >= 0.6), positive += pa >= 0.6;
      for (int r = 2; r < 6; ++r) max_reg = std::max(max_reg, double(std::fabs(a[r] - b[r])));
    }
    std::printf("P-Net int8 vs FP32 at scale %.2f: %zu cells (%zu over 0.6), probability max |diff| %.4f, mean %.5f; "
                "regression max |diff| %.4f; same side of 0.6: %zu\n",
                s, cells, positive, max_p, sum_p / cells, max_reg, agree);
    EXPECT_LT(sum_p / cells, 0.01);
    EXPECT_LT(max_p, 0.25);
    EXPECT_GE(double(agree), 0.995 * cells);
  }
}

// The int8 detector finds the faces the FP32 detector finds on the shared photos, on every kernel.
TEST(Int8, DetectorFindsTheSameFacesOnSharedPhotos) {
  if (!facekit::test::haveShared()) GTEST_SKIP() << "no ../shared data";
  KernelGuard g;
  DetectorOptions o = facekit::test::testOptions();
  o.min_face_size = 20;
  auto fp32 = FaceDetector::create(o);
  o.precision = ComputePrecision::kInt8;
  auto q = FaceDetector::create(o);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(facekit::test::sharedDir() + "/data/faces"))
    if (e.path().extension() == ".jpg" || e.path().extension() == ".png") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 40u);
  size_t faces = 0;
  double worst_iou = 1, worst_score = 0;
  for (const auto& path : files) {
    Image full = loadImage(path.string());
    // At most 1000 px on the long side, as a camera frame: keeps the test quick.
    const double f = std::min(1.0, 1000.0 / std::max(full.width, full.height));
    cv::Mat src(full.height, full.width, full.format == PixelFormat::kGray ? CV_8UC1 : CV_8UC3, full.pixels.data()), img;
    cv::resize(src, img, cv::Size(int(full.width * f), int(full.height * f)), 0, 0, cv::INTER_AREA);
    const ImageView v{img.data, img.cols, img.rows, full.format, img.step};
    const auto want = fp32->detect(v);
    std::vector<Face> first;
    for (auto k : kernelsHere()) {
      if (k == int8::Kernel::kScalar && k != kernelsHere().front()) continue;  // the plain loop is slow; its equality is tested above
      int8::setKernel(k);
      const auto got = q->detect(v);
      if (k == kernelsHere().front()) {
        first = got;
        continue;
      }
      ASSERT_EQ(got.size(), first.size()) << path << " " << int8::kernelName(k);
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].score, first[i].score) << path << " " << int8::kernelName(k);
    }
    // Every FP32 face of >= 40 px is found (IoU >= 0.7), and no face is added.
    for (const Face& w : want) {
      if (std::max(w.box.width(), w.box.height()) < 40) continue;
      float best = 0, score = 0;
      for (const Face& g : first)
        if (iou(g.box, w.box) > best) best = iou(g.box, w.box), score = g.score;
      EXPECT_GE(best, 0.7f) << path << ": an FP32 face is missing in int8";
      worst_iou = std::min(worst_iou, double(best)), worst_score = std::max(worst_score, double(std::fabs(score - w.score)));
      ++faces;
    }
    for (const Face& g : first) {
      if (std::max(g.box.width(), g.box.height()) < 40) continue;
      float best = 0;
      for (const Face& w : want) best = std::max(best, iou(g.box, w.box));
      EXPECT_GE(best, 0.7f) << path << ": int8 adds a face FP32 does not find";
    }
  }
  std::printf("%zu photos, %zu faces >= 40 px: worst IoU int8 vs FP32 %.3f, worst |score diff| %.4f\n", files.size(), faces, worst_iou,
              worst_score);
  EXPECT_GE(faces, 45u);
}

TEST(Int8, PrecisionIsAnOption) {
  DetectorOptions o;
  EXPECT_EQ(o.precision, ComputePrecision::kFp32);  // FP32 stays the default
}
