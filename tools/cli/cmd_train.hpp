// facekit train: runs facekit-train (tools/train, built when libtorch is installed) from beside
// this program, so the facekit CLI itself never loads libtorch.
#pragma once

#include <CLI/CLI.hpp>

namespace facekit::cli {
void registerTrain(CLI::App& app);
}
