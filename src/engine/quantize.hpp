// Int8 inference for chains of valid (unpadded) stride-1 convolutions with a fused PReLU, max
// pooling between them, and a float last layer: the shape of MTCNN's P-Net, R-Net and O-Net
// (a fully connected layer on an h x w x c input is an h x w convolution; on a vector, 1 x 1).
//
// Numbers. Activations are uint8 with an affine map, real = scale * (q - zero_point), one scale
// per tensor (calibrated by tools on images, see mtcnn_nets.cpp); weights are int8, symmetric,
// one scale per output channel (max |w| / 127, computed from the FP32 weights at load, so the
// result is deterministic). A convolution accumulates sum(w * q) in int32 plus an int32 bias that
// holds the FP32 bias and the zero-point correction (-zero_point * sum(w)), both in units of
// in.scale * w_scale[oc]. The accumulator is requantized in float: q_out = clamp(round(acc *
// m[oc]) + zp_out, 0, 255) with m = mul_pos when acc > 0 and mul_neg (the PReLU slope folded in)
// otherwise; round is to nearest even (the SIMD conversion's rounding). A float output layer
// writes acc * deq[oc]. Every kernel computes exactly these integers, so all kernels agree bit
// for bit with the plain loop in referenceConv() (tests/test_int8.cpp).
//
// Kernels. AVX-512 VNNI (vpdpbusd: four u8 x s8 products per int32 lane) where the CPU has it,
// else AVX2 (bytes widened to int16, vpmaddwd: exact, no saturation), else the plain loop.
// FACEKIT_INT8_KERNEL=vnni|avx2|scalar in the environment, or setKernel(), forces one (tests
// run every kernel the machine has).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/layers.hpp"

namespace facekit::engine::int8 {

enum class Kernel { kAuto, kVnni, kAvx2, kScalar };
const char* kernelName(Kernel k);
bool kernelSupported(Kernel k);  // the CPU can run it (kAuto and kScalar: always)
// kAuto: FACEKIT_INT8_KERNEL if set, else the best the CPU supports. Throws
// facekit::Error(kInvalidArgument) for a kernel the CPU lacks. Process-wide; set it before
// running networks (not synchronised with running ones).
void setKernel(Kernel k);
Kernel activeKernel();  // never kAuto

// real = scale * (q - zero_point). zero_point need not be an integer for an input (the MTCNN
// image normalisation (p - 127.5) / 128 is scale 1/128, zero point 127.5, q = the pixel value);
// it is for layer outputs.
struct ActQuant {
  float scale = 1;
  float zero_point = 0;
};
// The uint8 map covering [lo, hi] (widened to include 0, so zero is exact).
ActQuant actQuantForRange(float lo, float hi);

// One quantized convolution (stride 1, no padding; NHWC; kernel OHWI).
struct QConv {
  int out_c = 0, kh = 0, kw = 0, in_c = 0;
  std::vector<int8_t> weights;   // OHWI, int8 in [-127, 127]
  std::vector<float> w_scale;    // per output channel
  std::vector<int32_t> bias;     // per output channel, as described above
  bool float_out = false;        // the last layer: float outputs acc * deq[oc]
  int out_zero_point = 0;        // uint8 outputs
  std::vector<float> mul_pos, mul_neg, deq;
  // Kernel layouts of the weights (built by quantizeConv).
  std::vector<int8_t> packed_vnni;   // [oc/16][kh][groups of 4 along kw*in_c][16 lanes][4]
  std::vector<int16_t> packed_avx2;  // [oc/8][kh][pairs along kw*in_c][8 lanes][2]
};

// Quantizes an FP32 convolution (stride 1, no padding) followed by PReLU(slope) (empty slope:
// no activation) whose input map is `in`. out == nullptr makes a float output layer.
QConv quantizeConv(const Conv2dParams& p, const std::vector<float>& slope, const ActQuant& in, const ActQuant* out);

// The plain loop every kernel must match: in is {n, h, w, in_c} uint8 NHWC; out has
// n * (h - kh + 1) * (w - kw + 1) * out_c elements of uint8 (out_u8) or float (out_f).
void referenceConv(const QConv& q, const uint8_t* in, int n, int h, int w, uint8_t* out_u8, float* out_f);
// The same through the active kernel. `in` must have 64 readable bytes past its end.
void runConv(const QConv& q, const uint8_t* in, int n, int h, int w, uint8_t* out_u8, float* out_f);

// Max pooling on uint8 (the map is monotonic, so this is exact), with MaxPoolParams' rounding.
// `out` must have 64 writable bytes past its end.
void maxPool(const MaxPoolParams& p, const uint8_t* in, int n, int h, int w, int c, uint8_t* out);

// A chain run as one engine Layer: float input (quantized with `input` on entry), float output
// of the last convolution. Steps are convolutions (each with its fused PReLU) and poolings.
struct ChainStep {
  bool is_pool = false;
  QConv conv;
  MaxPoolParams pool;
};
std::unique_ptr<Layer> makeChain(const ActQuant& input, std::vector<ChainStep> steps);

}  // namespace facekit::engine::int8
