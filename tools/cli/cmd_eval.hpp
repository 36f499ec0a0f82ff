#pragma once

#include <CLI/CLI.hpp>

namespace facekit::cli {
// Adds `facekit eval widerface`, `eval detections` and `eval landmarks`; they run as CLI11
// callbacks and report failures by throwing facekit::Error.
void registerEval(CLI::App& app);
}  // namespace facekit::cli
