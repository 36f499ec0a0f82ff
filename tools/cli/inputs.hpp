// Command-line image inputs: files as given, folders searched recursively for images.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "facekit/image.hpp"

namespace facekit::cli {
bool isImageFile(const std::string& path);
// Files are kept as given (so a bad one reports its own error); folders are expanded to their
// image files in sorted order. Throws facekit::Error for an unreadable or image-less folder.
std::vector<std::string> expandImageInputs(const std::vector<std::string>& inputs);

// The --threshold option: exactly three comma-separated numbers ("0.6,0.7,0.7"); anything
// else throws facekit::Error(kInvalidArgument) naming the bad part.
std::array<float, 3> parseThresholds(const std::string& s);

// What one image gives: its JSON text and, when a drawing is wanted, the annotated picture.
struct ImageOutput {
  std::string json;
  Image drawing;
};

// Runs `process` on every input image (folders expanded) with a progress bar when there are
// several; writes the JSON (one image: its object; several: an object keyed by path, a failed
// image as {"error": ...}) to json_path or stdout, and drawings to `draw` (a file for one image,
// else a folder). Files are written under a temporary name and renamed when complete (never
// truncated). A failing image is reported on stderr and the others still run.
// Returns the exit code: 0, or 1 if any image failed.
int runOnImages(const std::vector<std::string>& inputs, const std::string& json_path, const std::string& draw, const std::string& label,
                const std::function<ImageOutput(const std::string& file, bool want_drawing)>& process);

// Thrown by subcommands that run as CLI11 callbacks to end with a given exit code after they
// have reported their failures themselves.
struct ExitCode {
  int code;
};
}  // namespace facekit::cli
