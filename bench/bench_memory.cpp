// Peak resident memory (max RSS) of `facekit detect` next to its peers (YuNet, OpenCV Haar, dlib
// HOG) and of reading the image alone with OpenCV, on a 640x480 and a 1920x1080 photo and an
// 81-megapixel image (9000x9000, the photo tiled), each run in a process of its own so that peaks
// do not mix: fork, exec, wait4() -> ru_maxrss. This program links no image or detector library,
// so the few MiB a child inherits at fork are below every figure. Also `facekit detect` on the
// 640x480 image as PNG (libfacekit decodes PNG and JPEG itself, issue 10) and `facekit --help`,
// and the shared libraries each program loads at start (LD_TRACE_LOADED_OBJECTS, what ldd prints).
// Measured on this VM, 2026-11-25: `facekit --help` 52 -> 11 MiB, `detect` on the 640x480 JPEG
// 95 -> 49 MiB, on the same as PNG 95 -> 49 MiB, on 1920x1080 114 -> 67 MiB, and `facekit` loads
// 28 libraries at start instead of 144, since OpenCV's imgcodecs (GDAL, GDCM, OpenEXR, poppler,
// ...) moved into the plugin libfacekit_imgcodecs.so that only BMP, TIFF, WebP and PNM load.
// Writes out/bench/memory.md; make bench runs it.
//   FACEKIT_BENCH_MEMORY_LARGE=0          skip the 81-megapixel image
//   FACEKIT_BENCH_MEMORY_LIMIT_MB=N       address-space limit per child (default 12288): a run
//                                          over it fails and is reported as such
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Run {
  bool ok = false;
  long max_rss_kb = 0;
  double seconds = 0;
  std::string out;  // the child's stdout
};

long limitMb() {
  const char* v = std::getenv("FACEKIT_BENCH_MEMORY_LIMIT_MB");
  return v ? std::atol(v) : 12288;
}

// Runs args[0] with stdout captured, stderr dropped, under the address-space limit.
Run run(const std::vector<std::string>& args, bool trace_libraries = false) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return {};
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    close(pipefd[1]);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    const rlim_t limit = rlim_t(limitMb()) << 20;
    const rlimit rl{limit, limit};
    setrlimit(RLIMIT_AS, &rl);
    if (trace_libraries) setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  Run r;
  char buf[4096];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) r.out.append(buf, size_t(n));
  close(pipefd[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.max_rss_kb = ru.ru_maxrss;
  return r;
}

int libraries(const std::string& program) {
  const Run r = run({program}, true);
  std::istringstream in(r.out);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(".so") != std::string::npos && line.find("linux-vdso") == std::string::npos;
  return n;
}

std::string cell(const Run& r) {
  char b[96];
  if (!r.ok) std::snprintf(b, sizeof b, "failed (over %ld MiB of address space?)", limitMb());
  else std::snprintf(b, sizeof b, "%.0f MiB (%.1f s)", double(r.max_rss_kb) / 1024, r.seconds);
  return b;
}

}  // namespace

int main() {
  const std::string cli = FACEKIT_BENCH_CLI, decode = FACEKIT_BENCH_PEER_DECODE, ocv = FACEKIT_BENCH_PEER_OPENCV, dlib = FACEKIT_BENCH_PEER_DLIB;
  const std::string dir = "out/bench/memory";
  fs::create_directories(dir);
  const bool large = !std::getenv("FACEKIT_BENCH_MEMORY_LARGE") || std::string(std::getenv("FACEKIT_BENCH_MEMORY_LARGE")) != "0";
  struct Input {
    int w, h;
    const char* how;
  };
  std::vector<Input> inputs{{640, 480, "fill"}, {1920, 1080, "fill"}};
  if (large) inputs.push_back({9000, 9000, "tile"});

  std::ostringstream md;
  md << "Peak resident memory (max RSS from wait4, one process per run, 1 thread, JPEG inputs made from "
     << fs::path(FACEKIT_BENCH_PHOTO).filename().string() << "; limit " << limitMb() << " MiB of address space per run)\n\n"
     << "| image | facekit detect | read only (OpenCV imgcodecs) | YuNet 2022mar | OpenCV Haar | dlib HOG | faces (facekit / YuNet / Haar / dlib) |\n"
     << "|---|---|---|---|---|---|---|\n";
  for (const auto& in : inputs) {
    const std::string name = std::to_string(in.w) + "x" + std::to_string(in.h);
    const std::string image = dir + "/" + name + ".jpg";
    if (!fs::exists(image) && !run({decode, "make-image", FACEKIT_BENCH_PHOTO, std::to_string(in.w), std::to_string(in.h), in.how, image}).ok) {
      std::cerr << "bench_memory: cannot make " << image << " from " << FACEKIT_BENCH_PHOTO << "\n";
      return 1;
    }
    std::cerr << "[memory] " << name << "\n";
    const Run fk = run({cli, "detect", image, "--threads", "1"});
    const Run dec = run({decode, "decode", image});
    const Run yn = run({ocv, "yunet", image, FACEKIT_BENCH_YUNET});
    const Run haar = run({ocv, "haar", image, FACEKIT_BENCH_HAAR});
    const Run dl = run({dlib, "dlib", image});
    // facekit prints ModelScope JSON: count the boxes (one "[" per box after "boxes").
    std::string fk_faces = "-";
    if (fk.ok) {
      const auto b = fk.out.find("\"boxes\""), k = fk.out.find("\"keypoints\"");
      size_t n = 0;
      for (size_t i = b; b != std::string::npos && i < k; ++i) n += fk.out[i] == '[';
      fk_faces = std::to_string(n > 0 ? n - 1 : 0);
    }
    auto faces = [](const Run& r) { return r.ok ? r.out.substr(0, r.out.find('\n')) : std::string("-"); };
    md << "| " << name << " | " << cell(fk) << " | " << cell(dec) << " | " << cell(yn) << " | " << cell(haar) << " | " << cell(dl) << " | "
       << fk_faces << " / " << faces(yn) << " / " << faces(haar) << " / " << faces(dl) << " |\n";
  }
  // The 640x480 image as PNG: facekit's other decoder (libpng), same pixels.
  const std::string png = dir + "/640x480.png";
  if (!fs::exists(png) && !run({decode, "make-image", dir + "/640x480.jpg", "640", "480", "fill", png}).ok) {
    std::cerr << "bench_memory: cannot make " << png << "\n";
    return 1;
  }
  const Run fk_png = run({cli, "detect", png, "--threads", "1"});
  const Run help = run({cli, "--help"});
  md << "\n`facekit detect` on the 640x480 image as PNG: " << cell(fk_png) << "; `facekit --help`: " << cell(help)
     << ".\n\nShared libraries loaded at start (ldd):";
  const fs::path bin = fs::path(cli).parent_path();
  for (const char* p : {"facekit", "facekit-eval", "facekit-video", "facekit-serve"})
    if (fs::exists(bin / p)) md << " " << p << " " << libraries((bin / p).string()) << ",";
  md << " facekit_peer_decode " << libraries(decode) << ", facekit_peer_opencv " << libraries(ocv) << ", facekit_peer_dlib " << libraries(dlib) << ".\n";
  std::ofstream("out/bench/memory.md") << md.str();
  std::cout << md.str();
  return 0;
}
