// Int8 convolution chains (see quantize.hpp): quantization, the plain reference loop and the
// AVX-512 VNNI / AVX2 kernels, chosen at run time.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* helpers as maybe-uninitialized inside the intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/layers_impl.hpp"
#include "engine/quantize.hpp"
#include "facekit/error.hpp"

namespace facekit::engine::int8 {
namespace {

constexpr size_t kTail = 64;  // readable bytes past every uint8 activation (kernels over-read a row)

bool cpuHas(Kernel k) {
  switch (k) {
    case Kernel::kVnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    case Kernel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
      return true;
  }
}

Kernel bestKernel() {
  if (const char* e = std::getenv("FACEKIT_INT8_KERNEL"); e && *e) {
    const std::string s(e);
    const Kernel k = s == "vnni" ? Kernel::kVnni : s == "avx2" ? Kernel::kAvx2 : s == "scalar" ? Kernel::kScalar : Kernel::kAuto;
    if (k == Kernel::kAuto) throw Error(Error::Code::kInvalidArgument, "FACEKIT_INT8_KERNEL='" + s + "': expected vnni, avx2 or scalar");
    if (!cpuHas(k)) throw Error(Error::Code::kInvalidArgument, "FACEKIT_INT8_KERNEL=" + s + ": this CPU cannot run it");
    return k;
  }
  return cpuHas(Kernel::kVnni) ? Kernel::kVnni : cpuHas(Kernel::kAvx2) ? Kernel::kAvx2 : Kernel::kScalar;
}

std::atomic<int>& activeSlot() {
  static std::atomic<int> k{int(bestKernel())};
  return k;
}

// ---- the plain loop's requantization (every kernel computes the same) ------------------------

inline uint8_t requant(int32_t acc, float mpos, float mneg, int zp) {
  const int v = int(std::nearbyint(float(acc) * (acc > 0 ? mpos : mneg))) + zp;
  return uint8_t(std::min(255, std::max(0, v)));
}

// ---- AVX-512 VNNI -------------------------------------------------------------------------------
// One output row segment of PT pixels x NBT blocks of 16 output channels: per group of 4 input
// bytes, one weight vector per block and one broadcast per pixel feed PT * NBT vpdpbusd.

template <int NBT, int PT>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void vnniTile(const QConv& q, const uint8_t* src, size_t row_stride,
                                                                             int b0, int groups, uint8_t* o8, float* of) {
  __m512i acc[NBT][PT];
  for (int i = 0; i < NBT; ++i)
    for (int p = 0; p < PT; ++p) acc[i][p] = _mm512_setzero_si512();
  for (int r = 0; r < q.kh; ++r) {
    const uint8_t* s = src + size_t(r) * row_stride;
    const int8_t* wp[NBT];
    for (int i = 0; i < NBT; ++i) wp[i] = q.packed_vnni.data() + (size_t(b0 + i) * q.kh + r) * size_t(groups) * 64;
    for (int g = 0; g < groups; ++g) {
      __m512i wv[NBT];
      for (int i = 0; i < NBT; ++i) wv[i] = _mm512_loadu_si512(wp[i] + size_t(g) * 64);
      for (int p = 0; p < PT; ++p) {
        int32_t a4;
        std::memcpy(&a4, s + size_t(p) * q.in_c + size_t(g) * 4, 4);
        const __m512i a = _mm512_set1_epi32(a4);
        for (int i = 0; i < NBT; ++i) acc[i][p] = _mm512_dpbusd_epi32(acc[i][p], a, wv[i]);
      }
    }
  }
  for (int i = 0; i < NBT; ++i) {
    const int base = (b0 + i) * 16, lanes = std::min(16, q.out_c - base);
    const __mmask16 m = __mmask16((1u << lanes) - 1);
    const __m512i bias = _mm512_maskz_loadu_epi32(m, q.bias.data() + base);
    if (q.float_out) {
      const __m512 deq = _mm512_maskz_loadu_ps(m, q.deq.data() + base);
      for (int p = 0; p < PT; ++p)
        _mm512_mask_storeu_ps(of + size_t(p) * q.out_c + base, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc[i][p], bias)), deq));
    } else {
      const __m512 mpos = _mm512_maskz_loadu_ps(m, q.mul_pos.data() + base), mneg = _mm512_maskz_loadu_ps(m, q.mul_neg.data() + base);
      const __m512i zp = _mm512_set1_epi32(q.out_zero_point), lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(255);
      for (int p = 0; p < PT; ++p) {
        const __m512i a = _mm512_add_epi32(acc[i][p], bias);
        const __m512 mul = _mm512_mask_blend_ps(_mm512_cmpgt_epi32_mask(a, lo), mneg, mpos);
        __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(a), mul)), zp);
        v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
        _mm512_mask_cvtepi32_storeu_epi8(o8 + size_t(p) * q.out_c + base, m, v);
      }
    }
  }
}

template <int NBT>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnniRow(const QConv& q, const uint8_t* src, size_t row_stride, int wo,
                                                                    int b0, int groups, uint8_t* o8, float* of) {
  constexpr int P = NBT == 1 ? 12 : 8;  // accumulators: NBT * P of the 32 zmm registers
  int x = 0;
  auto at = [&](int xx, uint8_t*& a, float*& b) { a = o8 ? o8 + size_t(xx) * q.out_c : nullptr, b = of ? of + size_t(xx) * q.out_c : nullptr; };
  for (; x + P <= wo; x += P) {
    uint8_t* a; float* b; at(x, a, b);
    vnniTile<NBT, P>(q, src + size_t(x) * q.in_c, row_stride, b0, groups, a, b);
  }
  for (; x + 4 <= wo; x += 4) {
    uint8_t* a; float* b; at(x, a, b);
    vnniTile<NBT, 4>(q, src + size_t(x) * q.in_c, row_stride, b0, groups, a, b);
  }
  for (; x < wo; ++x) {
    uint8_t* a; float* b; at(x, a, b);
    vnniTile<NBT, 1>(q, src + size_t(x) * q.in_c, row_stride, b0, groups, a, b);
  }
}

void convVnni(const QConv& q, const uint8_t* in, int n, int h, int w, uint8_t* o8, float* of) {
  const int ho = h - q.kh + 1, wo = w - q.kw + 1, groups = (q.kw * q.in_c + 3) / 4, nb = (q.out_c + 15) / 16;
  const size_t row_stride = size_t(w) * q.in_c;
  for (int img = 0; img < n; ++img)
    for (int y = 0; y < ho; ++y) {
      const uint8_t* src = in + (size_t(img) * h + y) * row_stride;
      const size_t out_off = (size_t(img) * ho + y) * wo * q.out_c;
      uint8_t* a = o8 ? o8 + out_off : nullptr;
      float* b = of ? of + out_off : nullptr;
      int b0 = 0;
      for (; b0 + 2 <= nb; b0 += 2) vnniRow<2>(q, src, row_stride, wo, b0, groups, a, b);
      if (b0 < nb) vnniRow<1>(q, src, row_stride, wo, b0, groups, a, b);
    }
}

// ---- AVX2 ---------------------------------------------------------------------------------------
// Bytes widened to int16 and multiplied with vpmaddwd (exact; vpmaddubsw could saturate), 8
// output channels per register, one broadcast pair of input bytes per pixel.

template <int PT>
__attribute__((target("avx2,fma"))) inline void avx2Tile(const QConv& q, const uint8_t* src, size_t row_stride, int b, int pairs,
                                                         uint8_t* o8, float* of) {
  __m256i acc[PT];
  for (int p = 0; p < PT; ++p) acc[p] = _mm256_setzero_si256();
  for (int r = 0; r < q.kh; ++r) {
    const uint8_t* s = src + size_t(r) * row_stride;
    const int16_t* wp = q.packed_avx2.data() + (size_t(b) * q.kh + r) * size_t(pairs) * 16;
    for (int g = 0; g < pairs; ++g) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + size_t(g) * 16));
      for (int p = 0; p < PT; ++p) {
        const uint8_t* e = s + size_t(p) * q.in_c + size_t(g) * 2;
        const __m256i a = _mm256_set1_epi32(int32_t(uint32_t(e[0]) | (uint32_t(e[1]) << 16)));
        acc[p] = _mm256_add_epi32(acc[p], _mm256_madd_epi16(a, wv));
      }
    }
  }
  const int base = b * 8, lanes = std::min(8, q.out_c - base);
  alignas(32) int32_t bias[8] = {}, tmp[8];
  alignas(32) float f[8];
  std::copy(q.bias.begin() + base, q.bias.begin() + base + lanes, bias);
  const __m256i bv = _mm256_load_si256(reinterpret_cast<const __m256i*>(bias));
  for (int p = 0; p < PT; ++p) {
    const __m256i a = _mm256_add_epi32(acc[p], bv);
    if (q.float_out) {
      _mm256_store_ps(f, _mm256_cvtepi32_ps(a));
      float* o = of + size_t(p) * q.out_c + base;
      for (int l = 0; l < lanes; ++l) o[l] = f[l] * q.deq[size_t(base + l)];
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), a);
      uint8_t* o = o8 + size_t(p) * q.out_c + base;
      for (int l = 0; l < lanes; ++l) o[l] = requant(tmp[l], q.mul_pos[size_t(base + l)], q.mul_neg[size_t(base + l)], q.out_zero_point);
    }
  }
}

void convAvx2(const QConv& q, const uint8_t* in, int n, int h, int w, uint8_t* o8, float* of) {
  constexpr int P = 8;
  const int ho = h - q.kh + 1, wo = w - q.kw + 1, pairs = (q.kw * q.in_c + 1) / 2, nb = (q.out_c + 7) / 8;
  const size_t row_stride = size_t(w) * q.in_c;
  for (int img = 0; img < n; ++img)
    for (int y = 0; y < ho; ++y) {
      const uint8_t* src = in + (size_t(img) * h + y) * row_stride;
      const size_t out_off = (size_t(img) * ho + y) * wo * q.out_c;
      for (int b = 0; b < nb; ++b) {
        int x = 0;
        for (; x + P <= wo; x += P)
          avx2Tile<P>(q, src + size_t(x) * q.in_c, row_stride, b, pairs, o8 ? o8 + out_off + size_t(x) * q.out_c : nullptr,
                      of ? of + out_off + size_t(x) * q.out_c : nullptr);
        for (; x < wo; ++x)
          avx2Tile<1>(q, src + size_t(x) * q.in_c, row_stride, b, pairs, o8 ? o8 + out_off + size_t(x) * q.out_c : nullptr,
                      of ? of + out_off + size_t(x) * q.out_c : nullptr);
      }
    }
}

// ---- the chain layer ----------------------------------------------------------------------------

// q = floor(clamp(x / scale + zero_point + 0.5, 0, 255.5)): round half up, exact for MTCNN's
// normalised pixels. The AVX2 loop does the same float operations (no FMA), so it agrees.
__attribute__((target("avx2"))) void quantizeInputAvx2(float inv, float zp, const float* x, size_t n, uint8_t* q, size_t& done) {
  const __m256 vi = _mm256_set1_ps(inv), vz = _mm256_set1_ps(zp), lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.5f);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i v[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 f = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vi), vz);
      v[k] = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(f, lo), hi));
    }
    // packs work within 128-bit lanes: fix the order with one permute.
    const __m256i a = _mm256_packus_epi32(v[0], v[1]), b = _mm256_packus_epi32(v[2], v[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), bytes);
  }
  done = i;
}

void quantizeInput(const ActQuant& a, const float* x, size_t n, uint8_t* q) {
  const float inv = 1.f / a.scale, zp = a.zero_point + 0.5f;
  size_t i = 0;
  if (activeKernel() != Kernel::kScalar) quantizeInputAvx2(inv, zp, x, n, q, i);
  for (; i < n; ++i) q[i] = uint8_t(int(std::min(std::max(x[i] * inv + zp, 0.f), 255.5f)));
}

Shape stepShape(const ChainStep& s, const Shape& in) {
  if (s.is_pool) {
    const MaxPoolParams& p = s.pool;
    if (in.h < p.kh || in.w < p.kw) detail::badShape("Int8Chain", "input " + in.str() + " smaller than a pooling window");
    auto pooled = [&](int v, int k, int st) { return (p.ceil_mode ? (v - k + st - 1) / st : (v - k) / st) + 1; };
    return {in.n, pooled(in.h, p.kh, p.stride_h), pooled(in.w, p.kw, p.stride_w), in.c};
  }
  const QConv& q = s.conv;
  if (in.c != q.in_c || in.h < q.kh || in.w < q.kw)
    detail::badShape("Int8Chain", "input " + in.str() + " does not fit a " + std::to_string(q.kh) + "x" + std::to_string(q.kw) + "x" +
                                      std::to_string(q.in_c) + " convolution");
  return {in.n, in.h - q.kh + 1, in.w - q.kw + 1, q.out_c};
}

class Chain final : public Layer {
 public:
  Chain(const ActQuant& input, std::vector<ChainStep> steps) : input_(input), steps_(std::move(steps)) {
    if (steps_.empty() || steps_.back().is_pool || !steps_.back().conv.float_out)
      throw Error(Error::Code::kInvalidArgument, "Int8Chain: the last step must be a float-output convolution");
    for (size_t i = 0; i + 1 < steps_.size(); ++i)
      if (!steps_[i].is_pool && steps_[i].conv.float_out) throw Error(Error::Code::kInvalidArgument, "Int8Chain: a float output before the last step");
  }
  const char* type() const override { return "Int8Chain"; }
  Shape outputShape(const Shape& in) const override {
    Shape s = in;
    for (const ChainStep& st : steps_) s = stepShape(st, s);
    return s;
  }
  void forward(const Tensor& in, Tensor& out, ThreadPool*) override {
    Shape s = in.shape();
    out.resize(outputShape(s));
    // q = round(x / scale + zero_point), clamped; exact for MTCNN's normalised pixels.
    buf_[0].resize(in.numel() + kTail);
    quantizeInput(input_, in.data(), in.numel(), buf_[0].data());
    int cur = 0;
    for (size_t i = 0; i < steps_.size(); ++i) {
      const ChainStep& st = steps_[i];
      const Shape o = stepShape(st, s);
      if (i + 1 == steps_.size()) {
        runConv(st.conv, buf_[cur].data(), s.n, s.h, s.w, nullptr, out.data());
        break;
      }
      buf_[cur ^ 1].resize(o.numel() + kTail);
      if (st.is_pool)
        maxPool(st.pool, buf_[cur].data(), s.n, s.h, s.w, s.c, buf_[cur ^ 1].data());
      else
        runConv(st.conv, buf_[cur].data(), s.n, s.h, s.w, buf_[cur ^ 1].data(), nullptr);
      cur ^= 1, s = o;
    }
  }
  LayerSummary summary(const Shape& in) const override {
    LayerSummary r;
    Shape s = in;
    for (const ChainStep& st : steps_) {
      const Shape o = stepShape(st, s);
      if (!st.is_pool) {
        const QConv& q = st.conv;
        r.parameters += q.weights.size() + q.bias.size();
        r.macs += uint64_t(o.numel()) * q.kh * q.kw * q.in_c;
      }
      s = o;
    }
    r.kernel = "int8";
    return r;
  }

 private:
  ActQuant input_;
  std::vector<ChainStep> steps_;
  std::vector<uint8_t> buf_[2];
};

}  // namespace

const char* kernelName(Kernel k) {
  switch (k) {
    case Kernel::kAuto: return "auto";
    case Kernel::kVnni: return "avx512-vnni";
    case Kernel::kAvx2: return "avx2";
    case Kernel::kScalar: return "scalar";
  }
  return "?";
}

bool kernelSupported(Kernel k) { return cpuHas(k); }

void setKernel(Kernel k) {
  if (k == Kernel::kAuto) k = bestKernel();
  if (!cpuHas(k)) throw Error(Error::Code::kInvalidArgument, std::string("int8 kernel ") + kernelName(k) + ": this CPU cannot run it");
  activeSlot().store(int(k));
}

Kernel activeKernel() { return Kernel(activeSlot().load()); }

ActQuant actQuantForRange(float lo, float hi) {
  lo = std::min(lo, 0.f), hi = std::max(hi, 0.f);
  if (!(hi > lo)) hi = lo + 1;
  ActQuant a;
  a.scale = (hi - lo) / 255.f;
  a.zero_point = std::min(255.f, std::max(0.f, std::nearbyint(-lo / a.scale)));
  return a;
}

QConv quantizeConv(const Conv2dParams& p, const std::vector<float>& slope, const ActQuant& in, const ActQuant* out) {
  if (p.stride_h != 1 || p.stride_w != 1 || p.pad_top || p.pad_left || p.pad_bottom || p.pad_right)
    throw Error(Error::Code::kInvalidArgument, "int8 convolution: only stride 1 without padding");
  if (!slope.empty() && slope.size() != size_t(p.out_c)) throw Error(Error::Code::kInvalidArgument, "int8 convolution: slope count != out_c");
  if (p.weights.size() != size_t(p.out_c) * p.kh * p.kw * p.in_c || p.bias.size() != size_t(p.out_c))
    throw Error(Error::Code::kInvalidArgument, "int8 convolution: weight or bias size");
  QConv q;
  q.out_c = p.out_c, q.kh = p.kh, q.kw = p.kw, q.in_c = p.in_c;
  const size_t K = size_t(p.kh) * p.kw * p.in_c;
  q.weights.resize(p.weights.size());
  q.float_out = out == nullptr;
  for (int oc = 0; oc < p.out_c; ++oc) {
    const float* w = p.weights.data() + size_t(oc) * K;
    float m = 0;
    for (size_t k = 0; k < K; ++k) m = std::max(m, std::fabs(w[k]));
    const float s = m > 0 ? m / 127.f : 1.f;
    int64_t sum = 0;
    for (size_t k = 0; k < K; ++k) {
      const int v = int(std::min(127.f, std::max(-127.f, std::nearbyint(w[k] / s))));
      q.weights[size_t(oc) * K + k] = int8_t(v);
      sum += v;
    }
    const double unit = double(in.scale) * s;
    q.w_scale.push_back(s);
    q.bias.push_back(int32_t(std::llround(double(p.bias[size_t(oc)]) / unit - double(in.zero_point) * double(sum))));
    if (q.float_out) {
      q.deq.push_back(float(unit));
    } else {
      const double a = slope.empty() ? 1.0 : slope[size_t(oc)];
      q.mul_pos.push_back(float(unit / out->scale));
      q.mul_neg.push_back(float(unit * a / out->scale));
    }
  }
  if (!q.float_out) q.out_zero_point = int(out->zero_point);
  // VNNI layout: 16 output channels x 4 consecutive bytes of one kernel row's kw * in_c span.
  const int L = p.kw * p.in_c, groups = (L + 3) / 4, nb16 = (p.out_c + 15) / 16;
  q.packed_vnni.assign(size_t(nb16) * p.kh * groups * 64, 0);
  for (int oc = 0; oc < p.out_c; ++oc)
    for (int r = 0; r < p.kh; ++r)
      for (int k = 0; k < L; ++k)
        q.packed_vnni[((size_t(oc / 16) * p.kh + r) * groups + k / 4) * 64 + size_t(oc % 16) * 4 + k % 4] =
            q.weights[(size_t(oc) * p.kh + r) * L + k];
  // AVX2 layout: 8 output channels x 2 consecutive bytes, widened to int16.
  const int pairs = (L + 1) / 2, nb8 = (p.out_c + 7) / 8;
  q.packed_avx2.assign(size_t(nb8) * p.kh * pairs * 16, 0);
  for (int oc = 0; oc < p.out_c; ++oc)
    for (int r = 0; r < p.kh; ++r)
      for (int k = 0; k < L; ++k)
        q.packed_avx2[((size_t(oc / 8) * p.kh + r) * pairs + k / 2) * 16 + size_t(oc % 8) * 2 + k % 2] = q.weights[(size_t(oc) * p.kh + r) * L + k];
  return q;
}

void referenceConv(const QConv& q, const uint8_t* in, int n, int h, int w, uint8_t* out_u8, float* out_f) {
  const int ho = h - q.kh + 1, wo = w - q.kw + 1;
  for (int img = 0; img < n; ++img)
    for (int y = 0; y < ho; ++y)
      for (int x = 0; x < wo; ++x)
        for (int oc = 0; oc < q.out_c; ++oc) {
          int32_t acc = q.bias[size_t(oc)];
          for (int r = 0; r < q.kh; ++r)
            for (int xx = 0; xx < q.kw; ++xx)
              for (int c = 0; c < q.in_c; ++c)
                acc += int32_t(q.weights[((size_t(oc) * q.kh + r) * q.kw + xx) * q.in_c + c]) *
                       int32_t(in[((size_t(img) * h + y + r) * w + x + xx) * q.in_c + c]);
          const size_t o = ((size_t(img) * ho + y) * wo + x) * q.out_c + oc;
          if (q.float_out)
            out_f[o] = float(acc) * q.deq[size_t(oc)];
          else
            out_u8[o] = requant(acc, q.mul_pos[size_t(oc)], q.mul_neg[size_t(oc)], q.out_zero_point);
        }
}

void runConv(const QConv& q, const uint8_t* in, int n, int h, int w, uint8_t* out_u8, float* out_f) {
  switch (activeKernel()) {
    case Kernel::kVnni: return convVnni(q, in, n, h, w, out_u8, out_f);
    case Kernel::kAvx2: return convAvx2(q, in, n, h, w, out_u8, out_f);
    default: return referenceConv(q, in, n, h, w, out_u8, out_f);
  }
}

void maxPool(const MaxPoolParams& p, const uint8_t* in, int n, int h, int w, int c, uint8_t* out) {
  auto pooled = [&](int v, int k, int s) { return (p.ceil_mode ? (v - k + s - 1) / s : (v - k) / s) + 1; };
  const int ho = pooled(h, p.kh, p.stride_h), wo = pooled(w, p.kw, p.stride_w);
  const size_t row = size_t(w) * c;
  // Per output row: the max of the window's rows (whole rows, vectorised), then the max of kw
  // neighbouring pixels at every position, then every stride-th window copied out. Windows are
  // clipped at the right and bottom edges (ceil rounding).
  std::vector<uint8_t> t(row + 64), m(row + 64);
  for (int img = 0; img < n; ++img)
    for (int oy = 0; oy < ho; ++oy) {
      const int y0 = oy * p.stride_h, y1 = std::min(h, y0 + p.kh);
      const uint8_t* r0 = in + (size_t(img) * h + y0) * row;
      std::memcpy(t.data(), r0, row);
      for (int y = y0 + 1; y < y1; ++y) {
        const uint8_t* r = r0 + size_t(y - y0) * row;
        for (size_t i = 0; i < row; ++i) t[i] = std::max(t[i], r[i]);
      }
      std::memcpy(m.data(), t.data(), row);
      for (int j = 1; j < p.kw; ++j) {
        const size_t off = size_t(j) * c;
        if (off >= row) break;
        for (size_t i = 0; i + off < row; ++i) m[i] = std::max(m[i], t[i + off]);
      }
      uint8_t* o = out + (size_t(img) * ho + oy) * wo * c;
      const size_t step = size_t(p.stride_w) * c;
      if (c <= 16) {
        // A fixed 16-byte copy per pixel (one load and store); the bytes past c are overwritten by
        // the next pixel, or land in the buffer's tail.
        for (int ox = 0; ox < wo; ++ox) std::memcpy(o + size_t(ox) * c, m.data() + size_t(ox) * step, 16);
      } else {
        for (int ox = 0; ox < wo; ++ox) std::memcpy(o + size_t(ox) * c, m.data() + size_t(ox) * step, size_t(c));
      }
    }
}

std::unique_ptr<Layer> makeChain(const ActQuant& input, std::vector<ChainStep> steps) {
  return std::make_unique<Chain>(input, std::move(steps));
}

}  // namespace facekit::engine::int8
