// facekit from C++: faces, 106 points and head pose of one image, and the same tracked over a
// video (stable ids, smoothed). Built with the project (build/examples/landmarks_example); the README quotes it.
//   landmarks_example IMAGE [VIDEO]
#include <facekit/facekit.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMAGE [VIDEO]\n", argv[0]);
    return 2;
  }
  try {
    facekit::LandmarkerOptions opt;  // facekit-106 model; models from $FACEKIT_MODEL_DIR or the source tree
    auto landmarker = facekit::FaceLandmarker::create(opt);

    const facekit::Image img = facekit::loadImage(argv[1]);  // checked: corrupt, 16-bit, ... throw
    for (const facekit::FaceLandmarks& f : landmarker->detect(img.view()))
      std::printf("face %.3f  nose tip (%.1f, %.1f)  pitch %.1f yaw %.1f roll %.1f\n", f.face.score, f.points[64].x,
                  f.points[64].y, f.pose.pitch, f.pose.yaw, f.pose.roll);

    if (argc > 2) {  // video: one tracker per stream follows each face (id) and keeps its points steady
      cv::VideoCapture video(argv[2]);
      if (!video.isOpened()) throw facekit::Error(facekit::Error::Code::kIoError, std::string(argv[2]) + ": cannot open");
      const double fps = video.get(cv::CAP_PROP_FPS) > 0 ? video.get(cv::CAP_PROP_FPS) : 25;
      auto tracker = facekit::FaceTracker::create(facekit::TrackerOptions{});
      cv::Mat frame;
      for (int i = 0; video.read(frame); ++i) {  // OpenCV gives BGR: say so, no conversion needed
        const facekit::ImageView view{frame.data, frame.cols, frame.rows, facekit::PixelFormat::kBGR, frame.step};
        for (const facekit::TrackedFace& f : tracker->process(view, i / fps))
          std::printf("frame %d: face #%d  yaw %.1f\n", i, f.track_id, f.landmarks.pose.yaw);
      }
    }
  } catch (const facekit::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
