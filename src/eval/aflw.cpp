#include "eval/aflw.hpp"

#include <matio.h>

#include <cmath>
#include <memory>

#include "facekit/error.hpp"

namespace facekit::eval {
namespace {
double valueAt(const matvar_t* v, size_t i) {
  switch (v->class_type) {
    case MAT_C_DOUBLE: return static_cast<const double*>(v->data)[i];
    case MAT_C_SINGLE: return static_cast<const float*>(v->data)[i];
    default: throw Error(Error::Code::kBadModel, std::string("unexpected numeric class in ") + v->name);
  }
}
size_t numel(const matvar_t* v) {
  size_t n = 1;
  for (int i = 0; i < v->rank; ++i) n *= v->dims[i];
  return n;
}
}  // namespace

AflwAnnotation loadAflwAnnotation(const std::string& path) {
  std::unique_ptr<mat_t, int (*)(mat_t*)> mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY), Mat_Close);
  if (!mat) throw Error(Error::Code::kIoError, path + ": cannot open as a .mat file");
  using Var = std::unique_ptr<matvar_t, void (*)(matvar_t*)>;
  Var pose(Mat_VarRead(mat.get(), "Pose_Para"), Mat_VarFree);
  if (!pose || numel(pose.get()) < 3) throw Error(Error::Code::kBadModel, path + ": no Pose_Para");
  constexpr double kDeg = 180.0 / M_PI;
  AflwAnnotation a;
  a.pose = {float(valueAt(pose.get(), 0) * kDeg), float(valueAt(pose.get(), 1) * kDeg), float(valueAt(pose.get(), 2) * kDeg)};
  Var pts(Mat_VarRead(mat.get(), "pt3d_68"), Mat_VarFree);
  if (pts && pts->rank == 2 && pts->dims[0] == 3 && pts->dims[1] == 68)
    for (size_t k = 0; k < 68; ++k) a.pts68.push_back({float(valueAt(pts.get(), 3 * k)), float(valueAt(pts.get(), 3 * k + 1))});
  return a;
}

}  // namespace facekit::eval
