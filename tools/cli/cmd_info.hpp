#pragma once

#include <CLI/CLI.hpp>

namespace facekit::cli {
// Adds `facekit info MODEL [--input HxWxC] [--json]`: a model file's metadata, its layers
// (kernel, output shape, parameters, MACs at one input size) and totals. Runs as a CLI11
// callback and reports failures by throwing facekit::Error.
void registerInfo(CLI::App& app);
}  // namespace facekit::cli
