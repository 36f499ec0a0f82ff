#include "train_common.hpp"

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "facekit/error.hpp"

namespace facekit::train {

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
  return buf;
}

std::string hms(double secs) {
  const long s = long(std::max(0.0, secs));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

double round4(double v) { return std::round(v * 1e4) / 1e4; }

double warmupCosineLr(double lr, double min_lr, double warmup, int epochs, int epoch, size_t iter, size_t per_epoch) {
  constexpr double kPi = 3.14159265358979323846;
  const double e = double(epoch - 1) + double(iter) / double(per_epoch);
  if (e < warmup) return lr * (e + 1.0 / double(per_epoch)) / warmup;
  return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(kPi * (e - warmup) / std::max(1e-9, epochs - warmup)));
}

RunLog::RunLog(const std::string& work_dir) : path_(std::filesystem::path(work_dir) / (timestamp() + ".log.json")), out_(path_) {
  if (!out_) throw Error(Error::Code::kIoError, "cannot write " + path_.string());
}

// Bytes that are not UTF-8 (a file name, say) are replaced rather than thrown on: a log line
// never ends a run.
void RunLog::line(const nlohmann::ordered_json& j) {
  out_ << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n" << std::flush;
}

TrainProgress::TrainProgress(int epochs, int iters, std::string label)
    : epochs_(epochs), iters_(iters), tty_(isatty(2)), label_(label.empty() ? "" : label + " ") {}

void TrainProgress::update(int epoch, int iter, double loss, double lr, double secs_per_iter, int iters_left) {
  const int pct = 100 * iter / std::max(1, iters_);
  std::ostringstream line;
  line << label_ << "epoch " << epoch << "/" << epochs_ << " [" << std::string(size_t(pct / 5), '#') << std::string(size_t(20 - pct / 5), '.')
       << "] " << iter << "/" << iters_ << "  loss " << std::fixed << std::setprecision(4) << loss << "  lr " << std::scientific
       << std::setprecision(2) << lr << "  ETA " << hms(secs_per_iter * iters_left);
  if (tty_) {
    std::cerr << "\r" << line.str() << "   " << std::flush;
    if (iter == iters_) std::cerr << "\n";
  } else if (pct / 10 != last_ || iter == iters_) {
    last_ = pct / 10;
    std::cerr << line.str() << "\n";
  }
}

}  // namespace facekit::train
