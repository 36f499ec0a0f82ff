// facekit face detection: MTCNN (Zhang et al., "Joint Face Detection and Alignment using
// Multi-task Cascaded Convolutional Networks", 2016).
//
//   auto det = facekit::FaceDetector::create(options);     // loads and checks the model
//   std::vector<facekit::Face> faces = det->detect(image.view());
//
// Output layout. One Face per detected face, sorted by descending score:
//   score      O-Net face probability in [0, 1]; every face has score >= thresholds[2].
//   box        {x1, y1, x2, y2} in pixels of the input image, x1 < x2, y1 < y2. Coordinates
//              are continuous: (0, 0) is the top-left corner of the top-left pixel, so the
//              centre of pixel (col, row) is (col + 0.5, row + 0.5). A box may extend past the
//              image border when a face is cut by it.
//   landmarks  5 points in the same coordinates, always in this order: left eye, right eye,
//              nose tip, left mouth corner, right mouth corner, where "left" is the image's
//              left for the face seen upright (the subject's right eye).
//
// Contracts. create() throws facekit::Error (kIoError / kBadModel) if the model file is
// missing, truncated or not an MTCNN model, and kInvalidArgument for out-of-range options.
// detect() throws kInvalidArgument for a null view or an image smaller than 12 x 12 pixels;
// any larger 8-bit gray/RGB/BGR image is accepted. An image with no face gives an empty vector.
//
// Thread safety. A FaceDetector holds scratch buffers and XNNPACK operators: detect() must not
// be called concurrently on one instance. Separate instances are independent and may run on
// different threads at once. num_threads > 1 parallelises one detect() call internally.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "facekit/image.hpp"

namespace facekit {

struct Point2f {
  float x = 0, y = 0;
};

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
};

struct Face {
  float score = 0;
  Box box;
  std::array<Point2f, 5> landmarks;
};

enum class ComputeBackend {
  kFast,       // XNNPACK kernels (default)
  kReference,  // plain loops accumulating in double: the ground truth for tests, far slower
};

struct DetectorOptions {
  // facekit MTCNN model (safetensors layout) written by `facekit convert-mtcnn`. Empty means
  // $FACEKIT_MODEL_DIR/mtcnn.safetensors, else the models/ folder of the build's source tree.
  std::string model_path;
  int min_face_size = 20;            // smallest face searched for, pixels; >= 8 (below 12 the image is upsampled)
  float scale_factor = 0.709f;       // image pyramid step, in (0.1, 0.95]
  std::array<float, 3> thresholds = {0.6f, 0.7f, 0.7f};  // P-, R-, O-Net score thresholds, each in [0, 1]
  std::array<float, 3> nms = {0.7f, 0.7f, 0.7f};         // IoU of the cross-scale (Union), R-Net (Union), O-Net (Min) NMS
  float pnet_scale_nms = 0.5f;       // IoU of the per-scale P-Net NMS (Union)
  int num_threads = 1;               // threads for one detect() call, 1..64
  // Also search the image turned by 90, 180 and 270 degrees (faces lying sideways or upside down;
  // MTCNN alone covers about +-45 degrees of roll). About 4x the time. Landmark order stays
  // face-relative: landmarks[0] is the eye on the image-left side of the face as if upright.
  bool all_orientations = false;
  ComputeBackend backend = ComputeBackend::kFast;
};

// Timings of the last detect() call, milliseconds.
struct DetectorProfile {
  double pyramid_ms = 0, pnet_ms = 0, rnet_ms = 0, onet_ms = 0, total_ms = 0;
  int pnet_candidates = 0, rnet_candidates = 0;
};

class FaceDetector {
 public:
  static std::unique_ptr<FaceDetector> create(const DetectorOptions& options = {});
  virtual ~FaceDetector() = default;
  virtual std::vector<Face> detect(const ImageView& image) = 0;
  virtual const DetectorOptions& options() const = 0;
  virtual const DetectorProfile& lastProfile() const = 0;
};

// The path of a model file when options leave it empty: $FACEKIT_MODEL_DIR/file_name if that
// variable is set; else the build's models/ folder (converted at setup), or the repository's
// weights/ folder for the weights facekit ships (landmark106.safetensors).
std::string defaultModelPath(const std::string& file_name = "mtcnn.safetensors");

// Intersection over union of two boxes (0 when either is empty).
float iou(const Box& a, const Box& b);

}  // namespace facekit
