// One detector on one image in a process of its own, then exit: bench_memory.cpp runs this once
// per (peer, image) and reads the process's peak resident memory from wait4(), so the figures
// of different detectors never mix. Built three times so that each program loads only what its
// peers need: facekit_peer_decode (OpenCV imgcodecs: reading the image only, the floor of any
// program that decodes with OpenCV), facekit_peer_opencv (YuNet, Haar: OpenCV DNN, objdetect) and
// facekit_peer_dlib (dlib HOG; imgcodecs to read the file, as a dlib user with JPEG input would).
//   facekit_peer_decode decode IMAGE
//   facekit_peer_opencv yunet|haar IMAGE YUNET_MODEL|HAAR_XML
//   facekit_peer_dlib dlib IMAGE
//   facekit_peer_decode make-image PHOTO WIDTH HEIGHT tile|fill OUT   (the benchmark's inputs)
// Peer settings are those of bench_detect.cpp: Haar scale 1.1, 3 neighbours, min 20 px; dlib HOG
// after one 2x upsampling; YuNet 2022mar, score 0.9. One thread each (OpenCV's pool set to 1).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#ifdef FACEKIT_PEER_DLIB
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#elif !defined(FACEKIT_PEER_DECODE)
#include <opencv2/objdetect.hpp>
#endif

namespace {

int usage() {
  std::fprintf(stderr, "usage: peer decode|yunet|haar|dlib IMAGE [MODEL] | make-image PHOTO WIDTH HEIGHT tile|fill OUT\n");
  return 2;
}

// fill: the photo scaled to cover WIDTH x HEIGHT and centre-cropped; tile: the photo at its own
// size repeated (a large image with many faces).
int makeImage(const std::string& photo, int w, int h, const std::string& how, const std::string& out) {
  const cv::Mat src = cv::imread(photo, cv::IMREAD_COLOR);
  if (src.empty() || w <= 0 || h <= 0) return 1;
  cv::Mat img(h, w, CV_8UC3);
  if (how == "tile") {
    for (int y = 0; y < h; y += src.rows)
      for (int x = 0; x < w; x += src.cols) {
        const cv::Rect r(x, y, std::min(src.cols, w - x), std::min(src.rows, h - y));
        src(cv::Rect(0, 0, r.width, r.height)).copyTo(img(r));
      }
  } else {
    const double s = std::max(double(w) / src.cols, double(h) / src.rows);
    cv::Mat scaled;
    cv::resize(src, scaled, cv::Size(), s, s, s < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
    scaled(cv::Rect((scaled.cols - w) / 2, (scaled.rows - h) / 2, w, h)).copyTo(img);
  }
  return cv::imwrite(out, img, {cv::IMWRITE_JPEG_QUALITY, 95}) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  if (mode == "make-image") return argc == 7 ? makeImage(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv[5], argv[6]) : usage();
  cv::setNumThreads(1);
  const cv::Mat bgr = cv::imread(argv[2], cv::IMREAD_COLOR);
  if (bgr.empty()) {
    std::fprintf(stderr, "%s: cannot read\n", argv[2]);
    return 1;
  }
  size_t faces = 0;
#ifdef FACEKIT_PEER_DLIB
  if (mode != "dlib") return usage();
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  dlib::array2d<dlib::rgb_pixel> img;
  dlib::assign_image(img, dlib::cv_image<dlib::rgb_pixel>(rgb));
  dlib::pyramid_up(img);
  dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
  faces = det(img).size();
#elif defined(FACEKIT_PEER_DECODE)
  if (mode != "decode") return usage();
#else
  if (false) {
  } else if (mode == "yunet" && argc == 4) {
    auto yunet = cv::FaceDetectorYN::create(argv[3], "", bgr.size(), 0.9f, 0.3f, 5000);
    cv::Mat found;
    yunet->detect(bgr, found);
    faces = size_t(found.rows);
  } else if (mode == "haar" && argc == 4) {
    cv::CascadeClassifier haar(argv[3]);
    if (haar.empty()) return 1;
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    std::vector<cv::Rect> found;
    haar.detectMultiScale(gray, found, 1.1, 3, 0, cv::Size(20, 20));
    faces = found.size();
  } else {
    return usage();
  }
#endif
  std::printf("%zu\n", faces);
  return 0;
}
