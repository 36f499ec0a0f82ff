// facekit error type. Every failure the library reports is a facekit::Error with a one-line,
// human-readable message that names the offending file or value; nothing is reported by
// abort() or by returning garbage.
#pragma once

#include <stdexcept>
#include <string>

namespace facekit {

class Error : public std::runtime_error {
 public:
  enum class Code {
    kInvalidArgument,  // a value the caller passed is out of its documented range
    kIoError,          // a file is missing, unreadable or truncated
    kBadImage,         // an image file is corrupt, too small, too large or of an unsupported type
    kBadModel,         // a model file is corrupt, truncated or not the expected network
    kInternal,         // a backend (e.g. XNNPACK) failed; a bug or an out-of-memory condition
  };
  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

}  // namespace facekit
