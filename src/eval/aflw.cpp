#include "eval/aflw.hpp"

#include <matio.h>

#include <cmath>
#include <memory>

#include "eval/mat_check.hpp"
#include "facekit/error.hpp"

namespace facekit::eval {
namespace {
size_t numel(const matvar_t* v) {
  size_t n = 1;
  for (int i = 0; i < v->rank; ++i)
    if (__builtin_mul_overflow(n, v->dims[i], &n)) return SIZE_MAX;
  return n;
}
// Element i of a real double or single array (libmatio may leave data null, and complex data is
// a pair of pointers): anything else is a bad file.
double valueAt(const matvar_t* v, size_t i, const std::string& path) {
  const size_t size = v->class_type == MAT_C_DOUBLE ? 8 : v->class_type == MAT_C_SINGLE ? 4 : 0;
  if (!size || !v->data || v->isComplex || i >= numel(v) || i >= v->nbytes / size)
    throw Error(Error::Code::kBadModel, path + ": " + (v->name ? v->name : "a variable") + " is not a real double or single array");
  return size == 8 ? static_cast<const double*>(v->data)[i] : static_cast<const float*>(v->data)[i];
}
}  // namespace

AflwAnnotation loadAflwAnnotation(const std::string& path) {
  checkMat5(path);  // libmatio trusts declared sizes: the structure is checked first
  std::unique_ptr<mat_t, int (*)(mat_t*)> mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY), Mat_Close);
  if (!mat) throw Error(Error::Code::kIoError, path + ": cannot open as a .mat file");
  using Var = std::unique_ptr<matvar_t, void (*)(matvar_t*)>;
  Var pose(Mat_VarRead(mat.get(), "Pose_Para"), Mat_VarFree);
  if (!pose || numel(pose.get()) < 3) throw Error(Error::Code::kBadModel, path + ": no Pose_Para");
  constexpr double kDeg = 180.0 / M_PI;
  AflwAnnotation a;
  a.pose = {float(valueAt(pose.get(), 0, path) * kDeg), float(valueAt(pose.get(), 1, path) * kDeg), float(valueAt(pose.get(), 2, path) * kDeg)};
  Var pts(Mat_VarRead(mat.get(), "pt3d_68"), Mat_VarFree);
  if (pts && pts->rank == 2 && pts->dims[0] == 3 && pts->dims[1] == 68)
    for (size_t k = 0; k < 68; ++k) a.pts68.push_back({float(valueAt(pts.get(), 3 * k, path)), float(valueAt(pts.get(), 3 * k + 1, path))});
  return a;
}

}  // namespace facekit::eval
