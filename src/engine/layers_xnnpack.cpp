// Fast layers on XNNPACK (Debian libxnnpack-dev). Operators are created once (weights are
// packed at creation) and set up per input size.
#include <xnnpack.h>

#include <map>
#include <mutex>
#include <utility>

#include "engine/layers_impl.hpp"
#include "engine/thread_pool.hpp"

namespace facekit::engine::detail {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

void check(xnn_status s, const char* what) {
  if (s == xnn_status_out_of_memory) throw Error(Error::Code::kInternal, std::string("out of memory (XNNPACK ") + what + ")");
  if (s != xnn_status_success)
    throw Error(Error::Code::kInternal, std::string("XNNPACK ") + what + " failed (status " + std::to_string(int(s)) + ")");
}

void ensureXnnInitialized() {
  static std::once_flag once;
  static xnn_status status = xnn_status_uninitialized;
  std::call_once(once, [] { status = xnn_initialize(nullptr); });
  check(status, "initialisation (is the CPU supported?)");
}

// Owns one xnn_operator_t.
struct XnnOp {
  xnn_operator_t op = nullptr;
  XnnOp() = default;
  XnnOp(const XnnOp&) = delete;
  XnnOp& operator=(const XnnOp&) = delete;
  XnnOp(XnnOp&& o) noexcept : op(std::exchange(o.op, nullptr)) {}
  XnnOp& operator=(XnnOp&& o) noexcept {
    std::swap(op, o.op);
    return *this;
  }
  ~XnnOp() {
    if (op) xnn_delete_operator(op);
  }
};

void run(const XnnOp& op, ThreadPool* pool) { check(xnn_run_operator(op.op, poolHandle(pool)), "run"); }

// Regular and depthwise convolutions are one XNNPACK operator type: set up for this input, run.
void runConvolution(const XnnOp& op, const Tensor& in, Tensor& out, const Shape& out_shape, ThreadPool* pool) {
  const Shape is = in.shape();
  out.resize(out_shape);
  check(xnn_setup_convolution2d_nhwc_f32(op.op, is.n, is.h, is.w, in.data(), out.data(), poolHandle(pool)), "convolution setup");
  run(op, pool);
}

class XnnConv2d final : public Conv2dBase {
 public:
  explicit XnnConv2d(const Conv2dParams& p) : Conv2dBase(p) {
    ensureXnnInitialized();
    check(xnn_create_convolution2d_nhwc_f32(p.pad_top, p.pad_right, p.pad_bottom, p.pad_left, p.kh, p.kw, p.stride_h,
                                            p.stride_w, 1, 1, 1, p.in_c, p.out_c, p.in_c, p.out_c, p.weights.data(),
                                            p.bias.data(), p.out_min, p.out_max, 0, &op_.op),
          "convolution create");
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override { runConvolution(op_, in, out, outputShape(in.shape()), pool); }

 private:
  XnnOp op_;
};

class XnnPReLU final : public PReLUBase {
 public:
  explicit XnnPReLU(const std::vector<float>& slope) : PReLUBase(slope) {
    ensureXnnInitialized();
    check(xnn_create_prelu_nc_f32(slope_.size(), slope_.size(), slope_.size(), slope_.data(), 0, &op_.op), "prelu create");
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override {
    const Shape s = outputShape(in.shape());
    out.resize(s);
    check(xnn_setup_prelu_nc_f32(op_.op, size_t(s.n) * s.h * s.w, in.data(), out.data(), poolHandle(pool)), "prelu setup");
    run(op_, pool);
  }

 private:
  XnnOp op_;
};

// Caffe's ceil rounding is bottom/right padding whose amount depends on the input size.
// XNNPACK max pooling takes padded positions as absent (the window is clipped), so one
// operator per padding pair reproduces the clipped-window semantics exactly.
class XnnMaxPool final : public MaxPoolBase {
 public:
  explicit XnnMaxPool(const MaxPoolParams& p) : MaxPoolBase(p) { ensureXnnInitialized(); }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override {
    const Shape is = in.shape(), os = outputShape(is);
    out.resize(os);
    const int pad_b = (os.h - 1) * p_.stride_h + p_.kh - is.h;
    const int pad_r = (os.w - 1) * p_.stride_w + p_.kw - is.w;
    XnnOp& op = opFor(std::max(pad_b, 0), std::max(pad_r, 0), is.c);
    check(xnn_setup_max_pooling2d_nhwc_f32(op.op, is.n, is.h, is.w, in.data(), out.data(), poolHandle(pool)), "max pooling setup");
    run(op, pool);
  }

 private:
  XnnOp& opFor(int pad_b, int pad_r, int channels) {
    const auto key = std::make_tuple(pad_b, pad_r, channels);
    auto it = ops_.find(key);
    if (it != ops_.end()) return it->second;
    XnnOp op;
    check(xnn_create_max_pooling2d_nhwc_f32(0, pad_r, pad_b, 0, p_.kh, p_.kw, p_.stride_h, p_.stride_w, 1, 1, channels,
                                            channels, channels, -kInf, kInf, 0, &op.op),
          "max pooling create");
    return ops_.emplace(key, std::move(op)).first->second;
  }
  std::map<std::tuple<int, int, int>, XnnOp> ops_;
};

class XnnFullyConnected final : public FullyConnectedBase {
 public:
  explicit XnnFullyConnected(const FullyConnectedParams& p) : FullyConnectedBase(p) {
    ensureXnnInitialized();
    check(xnn_create_fully_connected_nc_f32(p.in_features, p.out_features, p.in_features, p.out_features, p.weights.data(),
                                            p.bias.data(), -kInf, kInf, 0, &op_.op),
          "fully connected create");
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override {
    const Shape os = outputShape(in.shape());
    out.resize(os);
    check(xnn_setup_fully_connected_nc_f32(op_.op, os.n, in.data(), out.data(), poolHandle(pool)), "fully connected setup");
    run(op_, pool);
  }

 private:
  XnnOp op_;
};

// Softmax over a handful of channels is memory-bound; a single float pass beats XNNPACK's
// per-row dispatch here, so the fast path is plain float code (the reference uses double).
class FastSoftmax final : public SoftmaxBase {
 public:
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    const Shape s = outputShape(in.shape());
    out.resize(s);
    const size_t rows = size_t(s.n) * s.h * s.w;
    std::copy(in.data(), in.data() + s.numel(), out.data());
    for (size_t r = 0; r < rows; ++r) softmaxInPlace(out.data() + r * s.c, s.c);
  }
};

class XnnDepthwiseConv2d final : public DepthwiseConv2dBase {
 public:
  explicit XnnDepthwiseConv2d(const DepthwiseConv2dParams& p) : DepthwiseConv2dBase(p) {
    ensureXnnInitialized();
    // groups = channels with one input and one output channel each; with the depthwise flag
    // XNNPACK takes the kernel as [1][kh][kw][channels], i.e. TensorFlow's layout.
    check(xnn_create_convolution2d_nhwc_f32(p.pad_top, p.pad_right, p.pad_bottom, p.pad_left, p.kh, p.kw, p.stride_h,
                                            p.stride_w, 1, 1, p.channels, 1, 1, p.channels, p.channels, p.weights.data(),
                                            p.bias.data(), p.out_min, p.out_max, XNN_FLAG_DEPTHWISE_CONVOLUTION, &op_.op),
          "depthwise convolution create");
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override { runConvolution(op_, in, out, outputShape(in.shape()), pool); }

 private:
  XnnOp op_;
};

class XnnSigmoid final : public SigmoidBase {
 public:
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override {
    ensureXnnInitialized();
    const Shape s = in.shape();
    if (!op_.op || channels_ != s.c) {
      op_ = XnnOp();
      check(xnn_create_sigmoid_nc_f32(s.c, s.c, s.c, 0, &op_.op), "sigmoid create");
      channels_ = s.c;
    }
    out.resize(s);
    check(xnn_setup_sigmoid_nc_f32(op_.op, size_t(s.n) * s.h * s.w, in.data(), out.data(), poolHandle(pool)), "sigmoid setup");
    run(op_, pool);
  }

 private:
  XnnOp op_;
  int channels_ = 0;
};

// Clamping is elementwise, so the tensor is one row of numel() values for XNNPACK: one operator
// serves every input shape (a channels-wide operator would need re-creating per channel count).
class XnnClamp final : public ClampBase {
 public:
  XnnClamp(float min, float max) : ClampBase(min, max) {
    ensureXnnInitialized();
    check(xnn_create_clamp_nc_f32(1, 1, 1, min, max, 0, &op_.op), "clamp create");
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override {
    out.resize(in.shape());
    check(xnn_setup_clamp_nc_f32(op_.op, in.numel(), in.data(), out.data(), poolHandle(pool)), "clamp setup");
    run(op_, pool);
  }

 private:
  XnnOp op_;
};

class XnnChannelPad final : public ChannelPadBase {
 public:
  XnnChannelPad(int before, int after) : ChannelPadBase(before, after) {
    ensureXnnInitialized();
    const float zero = 0.f;
    check(xnn_create_constant_pad_nd_x32(&zero, 0, &op_.op), "pad create");
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool* pool) override {
    const Shape is = in.shape();
    out.resize(outputShape(is));
    const size_t shape[4] = {size_t(is.n), size_t(is.h), size_t(is.w), size_t(is.c)};
    const size_t pre[4] = {0, 0, 0, size_t(before_)}, post[4] = {0, 0, 0, size_t(after_)};
    check(xnn_setup_constant_pad_nd_x32(op_.op, 4, shape, pre, post, in.data(), out.data(), poolHandle(pool)), "pad setup");
    run(op_, pool);
  }

 private:
  XnnOp op_;
};

class XnnAdd final : public AddBase {
 public:
  XnnAdd() {
    ensureXnnInitialized();
    check(xnn_create_add_nd_f32(-kInf, kInf, 0, &op_.op), "add create");
  }
  void forward(const Tensor& a, const Tensor& b, Tensor& out, ThreadPool* pool) override {
    const Shape s = outputShape(a.shape(), b.shape());
    out.resize(s);
    const size_t shape[1] = {s.numel()};
    check(xnn_setup_add_nd_f32(op_.op, 1, shape, 1, shape, a.data(), b.data(), out.data(), poolHandle(pool)), "add setup");
    run(op_, pool);
  }

 private:
  XnnOp op_;
};

}  // namespace

std::unique_ptr<Layer> makeXnnDepthwiseConv2d(const DepthwiseConv2dParams& p) { return std::make_unique<XnnDepthwiseConv2d>(p); }
std::unique_ptr<Layer> makeXnnSigmoid() { return std::make_unique<XnnSigmoid>(); }
std::unique_ptr<Layer> makeXnnClamp(float min, float max) { return std::make_unique<XnnClamp>(min, max); }
std::unique_ptr<Layer> makeXnnChannelPad(int before, int after) { return std::make_unique<XnnChannelPad>(before, after); }
std::unique_ptr<BinaryLayer> makeXnnAdd() { return std::make_unique<XnnAdd>(); }

std::unique_ptr<Layer> makeXnnConv2d(const Conv2dParams& p) { return std::make_unique<XnnConv2d>(p); }
std::unique_ptr<Layer> makeXnnPReLU(const std::vector<float>& s) { return std::make_unique<XnnPReLU>(s); }
std::unique_ptr<Layer> makeXnnMaxPool(const MaxPoolParams& p) { return std::make_unique<XnnMaxPool>(p); }
std::unique_ptr<Layer> makeXnnFullyConnected(const FullyConnectedParams& p) { return std::make_unique<XnnFullyConnected>(p); }
std::unique_ptr<Layer> makeFastSoftmax() { return std::make_unique<FastSoftmax>(); }

}  // namespace facekit::engine::detail
