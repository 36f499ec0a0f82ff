// What every facekit-train task shares: run log (<timestamp>.log.json, one JSON object a line),
// the progress bar, atomic writes, and small formatting helpers.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace facekit::train {

std::string timestamp();            // local time, 20261125_201500
std::string hms(double secs);       // 1:02:03
double round4(double v);            // 4 decimals, for log lines

// Linear warm-up over `warmup` epochs, then cosine decay to min_lr at the end of `epochs`;
// evaluated per iteration (epoch counts from 1, iter from 0 within it).
double warmupCosineLr(double lr, double min_lr, double warmup, int epochs, int epoch, size_t iter, size_t per_epoch);

// Written to a temporary name and renamed, so a kill never leaves a truncated file behind.
template <typename Write>
void writeAtomically(const std::filesystem::path& path, Write write) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  write(tmp.string());
  std::filesystem::rename(tmp, path);
}

// DIR/<timestamp>.log.json, flushed after every line so a killed run keeps what it logged.
class RunLog {
 public:
  explicit RunLog(const std::string& work_dir);
  void line(const nlohmann::ordered_json& j);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

// A one-line progress bar with loss and ETA: redrawn in place on a terminal, a line per 10%
// of an epoch otherwise (CI logs). `label` prefixes the line (e.g. the MTCNN stage).
class TrainProgress {
 public:
  TrainProgress(int epochs, int iters, std::string label = "");
  void update(int epoch, int iter, double loss, double lr, double secs_per_iter, int iters_left);

 private:
  int epochs_, iters_;
  bool tty_;
  int last_ = -1;
  std::string label_;
};

}  // namespace facekit::train
