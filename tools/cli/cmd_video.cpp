// facekit video (the facekit-video program): the only subcommand that needs OpenCV's video stack
// (videoio: FFmpeg, GStreamer, camera libraries), so it is kept out of the facekit front-end.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "cmd_landmarks.hpp"
#include "facekit/facekit.hpp"
#include "facekit/landmarks.hpp"
#include "facekit/video.hpp"
#include "inputs.hpp"
#include "programs.hpp"
#include "progress.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {

// Video in (a file, or a camera index), annotated video and one JSON line per frame out. Faces
// are detected every --detect-every frames and tracked from their own points in between
// (FaceTracker), each with a stable track_id; landmarks smoothed per track.
void runVideo(const VideoArgs& a) {
  const std::string& src = a.source;
  const bool camera = !src.empty() && src.size() <= 3 && std::all_of(src.begin(), src.end(), ::isdigit);
  cv::VideoCapture in;
  // Files through FFmpeg only: OpenCV's default list would also probe USB cameras (gphoto2) and
  // GStreamer, which print their own warnings on stderr for a file they cannot open (one error
  // line is the rule). Cameras keep OpenCV's choice of backend. FFmpeg's own log ("moov atom not
  // found" for a corrupt file) is silenced through OpenCV's switch for it, read when OpenCV first
  // uses FFmpeg, unless the user set it.
  if (camera) {
    in.open(std::stoi(src));
  } else {
    ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", /*overwrite=*/0);  // AV_LOG_QUIET
    in.open(src, cv::CAP_FFMPEG);
  }
  if (!in.isOpened()) throw Error(Error::Code::kIoError, src + (camera ? ": cannot open this camera" : ": cannot open as a video"));
  double fps = in.get(cv::CAP_PROP_FPS);
  if (!(fps > 0 && fps < 1000)) fps = 25;
  const long frames = camera ? 0 : long(in.get(cv::CAP_PROP_FRAME_COUNT));
  TrackerOptions topt;
  topt.landmarker = a.opt;
  topt.detect_interval = a.detect_every;
  topt.smooth = !a.no_smooth;
  auto tracker = FaceTracker::create(topt);
  cv::VideoWriter writer;
  std::ofstream json;
  if (!a.json.empty()) {
    json.open(partialPath(a.json));
    if (!json) throw Error(Error::Code::kIoError, "cannot write " + a.json);
  }
  Progress progress("video", frames > 0 ? size_t(frames) : 0);
  cv::Mat bgr, rgb;
  long index = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (; in.read(bgr); ++index) {
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const ImageView view{rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step};
    const double t = double(index) / fps;
    const auto tracked = tracker->process(view, t);
    std::vector<FaceLandmarks> faces;
    for (const auto& f : tracked) faces.push_back(f.landmarks);
    if (json.is_open()) {
      auto j = nlohmann::ordered_json::parse(toLandmarksJson(faces));
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (size_t i = 0; i < tracked.size(); ++i) {
        nlohmann::ordered_json f{{"track_id", tracked[i].track_id}, {"detected", tracked[i].detected}};
        for (auto& [k, v] : j["faces"][i].items()) f[k] = v;
        arr.push_back(f);
      }
      json << nlohmann::ordered_json{{"frame", index}, {"time", t}, {"faces", arr}}.dump() << "\n";
    }
    if (!a.out.empty()) {
      if (!writer.isOpened()) {
        writer.open(partialPath(a.out), cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, rgb.size());
        if (!writer.isOpened()) throw Error(Error::Code::kIoError, a.out + ": cannot write a video there (use .mp4 or .avi)");
      }
      const Image drawn = drawLandmarks(view, faces);
      cv::Mat out(drawn.height, drawn.width, CV_8UC3, const_cast<uint8_t*>(drawn.pixels.data()));
      cv::cvtColor(out, bgr, cv::COLOR_RGB2BGR);
      for (const auto& f : tracked) {
        const Box& b = f.landmarks.face.box;
        const cv::Point at(int(std::max(0.f, b.x1)), int(std::max(14.f, b.y1 - 4)));
        cv::putText(bgr, "#" + std::to_string(f.track_id), at, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 0, 0), 3);
        cv::putText(bgr, "#" + std::to_string(f.track_id), at, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 255, 255), 1);
      }
      writer.write(bgr);
    }
    if (frames > 0 && index < frames) progress.step();
  }
  if (index == 0) throw Error(Error::Code::kBadImage, src + ": no frames could be decoded");
  if (json.is_open()) {
    json.close();
    if (!json) throw Error(Error::Code::kIoError, "cannot write " + a.json);
    fs::rename(partialPath(a.json), a.json);
  }
  if (writer.isOpened()) {
    writer.release();
    fs::rename(partialPath(a.out), a.out);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "facekit video: " << index << " frames, " << double(index) / std::max(secs, 1e-9) << " frames/s" << (a.out.empty() ? "" : ", wrote " + a.out) << "\n";
}

}  // namespace facekit::cli

// `facekit video ...` execs `facekit-video video ...` (same argv[0]); the other subcommands of
// registerLandmarks are registered too but only reached by running this program directly.
int main(int argc, char** argv) {
  CLI::App app{"facekit " FACEKIT_VERSION ": face detection (MTCNN) with 5 landmarks"};
  app.require_subcommand(1);
  facekit::cli::registerLandmarks(app, facekit::cli::runVideo);
  return facekit::cli::runProgram(app, argc, argv);
}
