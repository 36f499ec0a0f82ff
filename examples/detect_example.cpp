// facekit from C++, the README's first example: the faces of one image with their 5 landmarks.
// Built against an installed facekit (examples/CMakeLists.txt, or pkg-config) by the package test:
//   detect_example IMAGE
#include <facekit/facekit.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
    return 2;
  }
  try {
    facekit::DetectorOptions opt;          // min_face_size 20, thresholds {0.6, 0.7, 0.7}, 1 thread
    opt.num_threads = 2;
    auto detector = facekit::FaceDetector::create(opt);    // throws facekit::Error on a bad model
    facekit::Image img = facekit::loadImage(argv[1]);      // RGB or gray, checked
    for (const facekit::Face& f : detector->detect(img.view()))
      std::printf("%.3f  [%.0f %.0f %.0f %.0f]  left eye (%.0f, %.0f)\n", f.score, f.box.x1, f.box.y1,
                  f.box.x2, f.box.y2, f.landmarks[0].x, f.landmarks[0].y);
  } catch (const facekit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
