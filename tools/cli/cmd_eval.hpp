#pragma once

#include <CLI/CLI.hpp>

namespace facekit::cli {
// Adds `facekit eval widerface` and `facekit eval detections`; sets exit_code when they fail softly.
void registerEval(CLI::App& app, int& exit_code);
}  // namespace facekit::cli
