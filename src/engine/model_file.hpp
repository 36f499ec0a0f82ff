// facekit model files: the safetensors layout (documented in docs/model-format.md).
//
//   bytes 0..7   : N, little-endian uint64, the size of the JSON header
//   bytes 8..8+N : UTF-8 JSON: {"__metadata__": {string: string},
//                               "<tensor name>": {"dtype": "F32", "shape": [..],
//                                                 "data_offsets": [begin, end]}, ...}
//   rest         : raw little-endian float32 data; offsets are relative to its start.
//
// A file is validated completely on load (sizes, offsets, dtypes), so a truncated or foreign
// file is rejected with a message instead of being read out of bounds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace facekit::engine {

struct NamedTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  size_t numel() const;
};

class ModelFile {
 public:
  // Throws facekit::Error (kIoError for a missing/unreadable file, kBadModel otherwise).
  static ModelFile load(const std::string& path);
  // Parses an in-memory image of a file; `origin` names it in error messages.
  static ModelFile parse(const std::string& bytes, const std::string& origin);
  // Writes serialize() with writeFileAtomically: a kill or a failure never leaves a truncated model.
  void save(const std::string& path) const;
  std::string serialize() const;

  void add(const std::string& name, std::vector<int64_t> shape, std::vector<float> data);
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor `name`, which must have exactly `shape`; otherwise throws kBadModel naming both.
  const NamedTensor& get(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::map<std::string, NamedTensor>& tensors() const { return tensors_; }

  std::map<std::string, std::string> metadata;
  std::string origin;  // the path it was loaded from, for messages

 private:
  std::map<std::string, NamedTensor> tensors_;
};

std::string shapeString(const std::vector<int64_t>& s);
// Reads a whole file; throws facekit::Error(kIoError) naming the path if it cannot.
std::string readFileBytes(const std::string& path);
// The same, refusing (kIoError) a file of more than max_bytes (also for pipes and devices, whose
// size is only known by reading).
std::string readFileBytes(const std::string& path, uint64_t max_bytes);

// Writes `bytes` to a new file beside `path` (same folder, so the same file system), flushes it
// to disk and renames it over `path`: readers see the old file or the complete new one, never a
// part, even if the process is killed. On failure the temporary file is removed and
// facekit::Error(kIoError) names `path`; an earlier file at `path` is left as it was.
// Test hook: with FACEKIT_TEST_WRITE_PAUSE_MS=N in the environment, the writer sleeps N ms
// after writing half of the bytes (so a test can kill it mid-write).
void writeFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace facekit::engine
