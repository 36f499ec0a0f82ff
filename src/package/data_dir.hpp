// facekit's model folders at run time: the install tree's share/facekit, else the source tree.
//
// defaultModelPath() (declared in include/facekit/detector.hpp, defined in data_dir.cpp) searches
// $FACEKIT_MODEL_DIR, then dataDir() of the folders CMake configures (FACEKIT_SOURCE_MODEL_DIR and
// FACEKIT_SOURCE_WEIGHTS_DIR: the source tree's models/ and weights/). When the code runs from an
// installed libfacekit or facekit program whose prefix holds share/facekit (found from the
// library's or program's own file, so a relocated prefix works too), that folder wins.
#pragma once

#include <filesystem>

namespace facekit::package {
// The file this code was loaded from: libfacekit.so, the Python module, or the program the
// library is linked into (empty if it cannot be found).
std::filesystem::path ownFile();

// `configured` if this code does not run from an install tree with a share/facekit folder.
const char* dataDir(const char* configured);
}  // namespace facekit::package
