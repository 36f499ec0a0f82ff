// Helpers shared by facekit's tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "engine/tensor.hpp"
#include "facekit/facekit.hpp"

namespace facekit::test {

inline engine::Tensor randomTensor(engine::Shape s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  engine::Tensor t(s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (size_t i = 0; i < t.numel(); ++i) t.data()[i] = d(rng);
  return t;
}

inline std::vector<float> randomVector(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Largest |a - b| relative to the largest |b| (the tensor's scale): the "1e-4 relative" of the
// parity tests, robust to elements that happen to be near zero.
inline double relativeError(const float* a, const float* b, size_t n) {
  double max_diff = 0, scale = 1e-12;
  for (size_t i = 0; i < n; ++i) {
    max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return max_diff / scale;
}

inline ::testing::AssertionResult sameTensor(const engine::Tensor& got, const engine::Tensor& want, double tol) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape().str() << " != " << want.shape().str();
  const double e = relativeError(got.data(), want.data(), want.numel());
  if (e > tol) return ::testing::AssertionFailure() << "relative error " << e << " > " << tol;
  return ::testing::AssertionSuccess() << "relative error " << e;
}

// A fresh empty folder under the temp dir, unique to this process: prefix + name + pid.
inline std::string freshTempDir(const std::string& prefix, const std::string& name) {
  const std::filesystem::path d = std::filesystem::temp_directory_path() / (prefix + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// Runs a shell command; its exit code, or -1 when it did not exit normally (a signal).
inline int shellExitCode(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string sharedDir() { return FACEKIT_TEST_SHARED; }
inline bool haveShared() { return std::filesystem::is_directory(sharedDir() + "/data"); }

#define FACEKIT_REQUIRE_SHARED() \
  if (!::facekit::test::haveShared()) GTEST_SKIP() << "../shared (data sets beside the project) is not present"

// The sample photo (one face), loaded once per test binary.
inline const Image& astronaut() {
  static const Image img = loadImage(FACEKIT_TEST_SAMPLE);
  return img;
}

inline DetectorOptions testOptions() {
  DetectorOptions o;
  o.model_path = FACEKIT_TEST_MODEL;
  return o;
}

}  // namespace facekit::test
