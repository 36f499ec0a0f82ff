// Shared by the fuzz targets: an in-memory file with a path (for readers that open paths), and
// the rule every target follows: facekit::Error is the expected way to refuse an input; any other
// exception, a crash, a leak or a sanitizer report is a finding.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace facekit::fuzz {

// A memfd: /proc/self/fd/N opens it like a file (ifstream, fopen, libmatio). Each set() replaces
// its whole content.
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(memfd_create(name, 0)), path_("/proc/self/fd/" + std::to_string(fd_)) {}
  const std::string& path() const { return path_; }
  void set(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) __builtin_trap();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, off_t(done));
      if (n <= 0) __builtin_trap();
      done += size_t(n);
    }
  }

 private:
  int fd_;
  std::string path_;
};

// Splits the input at its first NUL byte: (before, after). JSON text cannot hold a raw NUL, so
// targets that take a JSON document and something else use it as the separator.
inline std::pair<std::string, std::string> splitAtNul(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  const size_t z = s.find('\0');
  if (z == std::string::npos) return {s, std::string()};
  return {s.substr(0, z), s.substr(z + 1)};
}

}  // namespace facekit::fuzz
