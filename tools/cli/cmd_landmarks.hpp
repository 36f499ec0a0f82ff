#pragma once

#include <CLI/CLI.hpp>

namespace facekit::cli {
// Adds `facekit landmarks`, `facekit label` and `facekit make-pose-template`.
void registerLandmarks(CLI::App& app);
}  // namespace facekit::cli
