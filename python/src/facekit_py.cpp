// facekit._facekit: the compiled half of the Python module (python/facekit/__init__.py is the
// public half). Arrays in: HxWx3 (or HxW gray) uint8, any row stride; arrays out: float32.
// Every call that runs a model releases the GIL; each wrapped object has a mutex, so two Python
// threads sharing one detector take turns instead of racing (use one per thread to run in parallel).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>

#include "facekit/facekit.hpp"

namespace py = pybind11;
using namespace facekit;

namespace {

PixelFormat formatOf(const std::string& order, int ndim) {
  if (ndim == 2) return PixelFormat::kGray;
  if (order == "bgr") return PixelFormat::kBGR;
  if (order == "rgb") return PixelFormat::kRGB;
  throw py::value_error("channel order must be 'bgr' or 'rgb', not '" + order + "'");
}

// A view of a numpy image; `keep` holds the array (a packed copy when its pixels are not).
ImageView viewOf(const py::array& image, const std::string& order, py::array& keep) {
  if (!py::isinstance<py::array_t<uint8_t>>(image) || image.dtype().kind() != 'u' || image.itemsize() != 1)
    throw py::type_error("image must be a uint8 array (HxWx3 or HxW), not dtype " + std::string(py::str(image.dtype())));
  const int ndim = int(image.ndim());
  if (!(ndim == 2 || (ndim == 3 && image.shape(2) == 3)))
    throw py::value_error("image must have shape (H, W, 3) or (H, W); got " + std::string(py::str(py::tuple(py::cast(std::vector<py::ssize_t>(image.shape(), image.shape() + ndim))))));
  keep = image;
  const py::ssize_t channels = ndim == 3 ? 3 : 1;
  const bool packed = image.strides(ndim - 1) == 1 && (ndim == 2 || image.strides(1) == 3) && image.strides(0) >= image.shape(1) * channels;
  if (!packed) keep = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(image);
  ImageView v;
  v.data = static_cast<const uint8_t*>(keep.data());
  v.width = int(keep.shape(1));
  v.height = int(keep.shape(0));
  v.format = formatOf(order, ndim);
  v.stride = size_t(keep.strides(0));
  return v;
}

py::array_t<float> floats(std::vector<py::ssize_t> shape) { return py::array_t<float>(shape); }

py::dict detectionsToPy(const std::vector<Face>& faces) {
  const py::ssize_t n = py::ssize_t(faces.size());
  auto scores = floats({n}), boxes = floats({n, 4}), lm = floats({n, 5, 2});
  auto s = scores.mutable_unchecked<1>();
  auto b = boxes.mutable_unchecked<2>();
  auto l = lm.mutable_unchecked<3>();
  for (py::ssize_t i = 0; i < n; ++i) {
    const Face& f = faces[size_t(i)];
    s(i) = f.score;
    b(i, 0) = f.box.x1, b(i, 1) = f.box.y1, b(i, 2) = f.box.x2, b(i, 3) = f.box.y2;
    for (int k = 0; k < 5; ++k) l(i, k, 0) = f.landmarks[size_t(k)].x, l(i, k, 1) = f.landmarks[size_t(k)].y;
  }
  py::dict d;
  d["scores"] = scores, d["boxes"] = boxes, d["landmarks"] = lm;
  return d;
}

py::dict landmarksToPy(const std::vector<FaceLandmarks>& faces) {
  std::vector<Face> det;
  for (const auto& f : faces) det.push_back(f.face);
  py::dict d = detectionsToPy(det);
  const py::ssize_t n = py::ssize_t(faces.size());
  auto points = floats({n, kNumLandmarks106, 2}), poses = floats({n, 3}), conf = floats({n});
  auto p = points.mutable_unchecked<3>();
  auto q = poses.mutable_unchecked<2>();
  auto c = conf.mutable_unchecked<1>();
  for (py::ssize_t i = 0; i < n; ++i) {
    const FaceLandmarks& f = faces[size_t(i)];
    for (int k = 0; k < kNumLandmarks106; ++k) p(i, k, 0) = f.points[size_t(k)].x, p(i, k, 1) = f.points[size_t(k)].y;
    q(i, 0) = f.pose.pitch, q(i, 1) = f.pose.yaw, q(i, 2) = f.pose.roll;
    c(i) = f.confidence;
  }
  d["points"] = points, d["poses"] = poses, d["confidence"] = conf;
  return d;
}

// Python's parallel arrays back to C++ faces (for drawing).
std::vector<Face> facesFromPy(const py::array_t<float, py::array::c_style | py::array::forcecast>& scores,
                              const py::array_t<float, py::array::c_style | py::array::forcecast>& boxes,
                              const py::array_t<float, py::array::c_style | py::array::forcecast>& landmarks) {
  const py::ssize_t n = scores.size();
  if (boxes.size() != n * 4 || landmarks.size() != n * 10) throw py::value_error("faces: scores, boxes and landmarks disagree in count");
  std::vector<Face> faces(static_cast<size_t>(n));
  for (py::ssize_t i = 0; i < n; ++i) {
    Face& f = faces[size_t(i)];
    f.score = scores.data()[i];
    const float* b = boxes.data() + 4 * i;
    f.box = {b[0], b[1], b[2], b[3]};
    for (int k = 0; k < 5; ++k) f.landmarks[size_t(k)] = {landmarks.data()[10 * i + 2 * k], landmarks.data()[10 * i + 2 * k + 1]};
  }
  return faces;
}

py::array imageToPy(const Image& img, bool bgr) {
  const int c = channelsOf(img.format);
  std::vector<py::ssize_t> shape = c == 1 ? std::vector<py::ssize_t>{img.height, img.width} : std::vector<py::ssize_t>{img.height, img.width, 3};
  py::array_t<uint8_t> out(shape);
  uint8_t* dst = out.mutable_data();
  std::memcpy(dst, img.pixels.data(), img.pixels.size());
  if (bgr && c == 3)
    for (size_t i = 0; i + 2 < img.pixels.size(); i += 3) std::swap(dst[i], dst[i + 2]);
  return std::move(out);
}

class PyDetector {
 public:
  explicit PyDetector(const DetectorOptions& o) {
    py::gil_scoped_release nogil;
    det_ = FaceDetector::create(o);
  }
  py::dict detectArray(const py::array& image, const std::string& order) {
    py::array keep;
    const ImageView v = viewOf(image, order, keep);
    std::vector<Face> faces;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(m_);
      faces = det_->detect(v);
    }
    return detectionsToPy(faces);
  }
  py::dict detectPath(const std::string& path) {
    std::vector<Face> faces;
    {
      py::gil_scoped_release nogil;
      const Image img = loadImage(path);
      std::lock_guard<std::mutex> lock(m_);
      faces = det_->detect(img.view());
    }
    return detectionsToPy(faces);
  }

 private:
  std::unique_ptr<FaceDetector> det_;
  std::mutex m_;
};

class PyLandmarker {
 public:
  explicit PyLandmarker(const LandmarkerOptions& o) {
    py::gil_scoped_release nogil;
    lm_ = FaceLandmarker::create(o);
  }
  py::dict detectArray(const py::array& image, const std::string& order) {
    py::array keep;
    const ImageView v = viewOf(image, order, keep);
    std::vector<FaceLandmarks> faces;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(m_);
      faces = lm_->detect(v);
    }
    return landmarksToPy(faces);
  }
  py::dict detectPath(const std::string& path) {
    std::vector<FaceLandmarks> faces;
    {
      py::gil_scoped_release nogil;
      const Image img = loadImage(path);
      std::lock_guard<std::mutex> lock(m_);
      faces = lm_->detect(img.view());
    }
    return landmarksToPy(faces);
  }

 private:
  std::unique_ptr<FaceLandmarker> lm_;
  std::mutex m_;
};

DetectorOptions detectorOptions(int min_face_size, std::array<float, 3> thresholds, int num_threads, bool all_orientations, const std::string& model_path) {
  DetectorOptions o;
  o.min_face_size = min_face_size;
  o.thresholds = thresholds;
  o.num_threads = num_threads;
  o.all_orientations = all_orientations;
  o.model_path = model_path;
  return o;
}

}  // namespace

PYBIND11_MODULE(_facekit, m) {
  m.doc() = "facekit's compiled core; use the facekit package (facekit.FaceDetector, facekit.FaceLandmarker).";
  m.attr("__version__") = FACEKIT_VERSION;
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      static const char* const kCodes[] = {"invalid_argument", "io_error", "bad_image", "bad_model", "internal"};
      py::object exc = py::reinterpret_borrow<py::object>(error.ptr())(e.what());
      exc.attr("code") = kCodes[int(e.code())];
      PyErr_SetObject(error.ptr(), exc.ptr());
    }
  });

  py::class_<PyDetector>(m, "Detector")
      .def(py::init([](int min_face_size, std::array<float, 3> thresholds, int num_threads, bool all_orientations, const std::string& model_path) {
             return std::make_unique<PyDetector>(detectorOptions(min_face_size, thresholds, num_threads, all_orientations, model_path));
           }),
           py::arg("min_face_size"), py::arg("thresholds"), py::arg("num_threads"), py::arg("all_orientations"), py::arg("model_path"))
      .def("detect_array", &PyDetector::detectArray, py::arg("image"), py::arg("order"))
      .def("detect_path", &PyDetector::detectPath, py::arg("path"));

  py::class_<PyLandmarker>(m, "Landmarker")
      .def(py::init([](int min_face_size, std::array<float, 3> thresholds, int num_threads, bool all_orientations, const std::string& detector_model_path,
                       const std::string& backend, const std::string& model_path, const std::string& mesh_model_path, int refine_passes) {
             LandmarkerOptions o;
             o.detector = detectorOptions(min_face_size, thresholds, num_threads, all_orientations, detector_model_path);
             if (backend != "landmark106" && backend != "mesh") throw py::value_error("backend must be 'landmark106' or 'mesh', not '" + backend + "'");
             o.backend = backend == "mesh" ? LandmarkBackend::kMesh : LandmarkBackend::kLandmark106;
             o.model_path = model_path;
             o.mesh_model_path = mesh_model_path;
             o.refine_passes = refine_passes;
             o.num_threads = num_threads;
             return std::make_unique<PyLandmarker>(o);
           }),
           py::arg("min_face_size"), py::arg("thresholds"), py::arg("num_threads"), py::arg("all_orientations"), py::arg("detector_model_path"),
           py::arg("backend"), py::arg("model_path"), py::arg("mesh_model_path"), py::arg("refine_passes"))
      .def("detect_array", &PyLandmarker::detectArray, py::arg("image"), py::arg("order"))
      .def("detect_path", &PyLandmarker::detectPath, py::arg("path"));

  m.def("load_image", [](const std::string& path, bool bgr) {
        Image img;
        {
          py::gil_scoped_release nogil;
          img = loadImage(path);
        }
        return imageToPy(img, bgr);
      }, py::arg("path"), py::arg("bgr"));

  m.def("draw_detections", [](const py::array& image, const std::string& order, const py::array_t<float, py::array::c_style | py::array::forcecast>& scores,
                              const py::array_t<float, py::array::c_style | py::array::forcecast>& boxes,
                              const py::array_t<float, py::array::c_style | py::array::forcecast>& landmarks) {
        py::array keep;
        const ImageView v = viewOf(image, order, keep);
        const std::vector<Face> faces = facesFromPy(scores, boxes, landmarks);
        Image out;
        {
          py::gil_scoped_release nogil;
          out = drawDetections(v, faces);
        }
        return imageToPy(out, order == "bgr");
      });

  m.def("draw_landmarks", [](const py::array& image, const std::string& order, const py::array_t<float, py::array::c_style | py::array::forcecast>& scores,
                             const py::array_t<float, py::array::c_style | py::array::forcecast>& boxes,
                             const py::array_t<float, py::array::c_style | py::array::forcecast>& landmarks,
                             const py::array_t<float, py::array::c_style | py::array::forcecast>& points,
                             const py::array_t<float, py::array::c_style | py::array::forcecast>& poses) {
        py::array keep;
        const ImageView v = viewOf(image, order, keep);
        const std::vector<Face> det = facesFromPy(scores, boxes, landmarks);
        if (points.size() != py::ssize_t(det.size()) * kNumLandmarks106 * 2 || poses.size() != py::ssize_t(det.size()) * 3)
          throw py::value_error("faces: points or poses disagree with the faces in count");
        std::vector<FaceLandmarks> faces(det.size());
        for (size_t i = 0; i < det.size(); ++i) {
          faces[i].face = det[i];
          faces[i].confidence = det[i].score;
          for (int k = 0; k < kNumLandmarks106; ++k)
            faces[i].points[size_t(k)] = {points.data()[(i * kNumLandmarks106 + size_t(k)) * 2], points.data()[(i * kNumLandmarks106 + size_t(k)) * 2 + 1]};
          faces[i].pose = {poses.data()[3 * i], poses.data()[3 * i + 1], poses.data()[3 * i + 2]};
        }
        Image out;
        {
          py::gil_scoped_release nogil;
          out = drawLandmarks(v, faces);
        }
        return imageToPy(out, order == "bgr");
      });
}
