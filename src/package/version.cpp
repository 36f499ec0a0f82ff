// The shared libfacekit: facekit_core's objects linked whole (cmake/package.cmake); this file
// only gives the target a source of its own.
#include "facekit/facekit.hpp"

namespace facekit {
const char* libraryVersion() { return FACEKIT_VERSION; }
}  // namespace facekit
