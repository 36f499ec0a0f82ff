// A one-line progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise
// (so CI logs stay short).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace facekit::cli {

class Progress {
 public:
  Progress(std::string label, size_t total) : label_(std::move(label)), total_(total), tty_(isatty(2)) {}
  void step(size_t n = 1) {
    done_ += n;
    const int pct = total_ ? int(100 * done_ / total_) : 100;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = secs > 0 ? done_ / secs : 0;
    if (tty_) {
      const int width = 30, fill = width * pct / 100;
      std::fprintf(stderr, "\r%s [%s%s] %3d%% %zu/%zu %.1f/s", label_.c_str(), std::string(size_t(fill), '#').c_str(),
                   std::string(size_t(width - fill), '.').c_str(), pct, done_, total_, rate);
      if (done_ >= total_) std::fputc('\n', stderr);
    } else if (pct / 10 != last_decile_ || done_ >= total_) {
      last_decile_ = pct / 10;
      std::fprintf(stderr, "%s %3d%% %zu/%zu %.1f/s\n", label_.c_str(), pct, done_, total_, rate);
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  size_t total_, done_ = 0;
  bool tty_;
  int last_decile_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace facekit::cli
