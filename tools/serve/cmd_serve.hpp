#pragma once

#include <CLI/CLI.hpp>

namespace facekit::cli {
// Adds `facekit serve`: the HTTP service (POST /v1/detect, POST /v1/landmarks, GET /healthz,
// GET /metrics) and the browser demo at / (tools/serve/README in the main README).
void registerServe(CLI::App& app);
}  // namespace facekit::cli
