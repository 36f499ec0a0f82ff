#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "facekit/landmarks.hpp"

namespace facekit::cli {

// What `facekit video` was asked (cmd_video.cpp runs it).
struct VideoArgs {
  std::string source, out, json;  // source: a file, or a camera index
  LandmarkerOptions opt;
  int detect_every = 10;
  bool no_smooth = false;
};
using VideoRunner = void (*)(const VideoArgs&);

// Adds `facekit landmarks`, `video`, `label` and `make-pose-template`. Without run_video (the
// facekit front-end) `video` runs the facekit-video program, which passes runVideo: only that
// program links OpenCV's video stack.
void registerLandmarks(CLI::App& app, VideoRunner run_video = nullptr);

// cmd_video.cpp (facekit-video only).
void runVideo(const VideoArgs& a);

// out.mp4 -> out.partial.mp4: outputs are written under this name and renamed when complete.
std::string partialPath(const std::string& path);

}  // namespace facekit::cli
