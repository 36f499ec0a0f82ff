// facekit's model folders at run time: the install tree's share/facekit, else the source tree.
//
// defaultModelPath() (src/models/mtcnn/mtcnn_detector.cpp) searches $FACEKIT_MODEL_DIR, then the
// folders FACEKIT_SOURCE_MODEL_DIR and FACEKIT_SOURCE_WEIGHTS_DIR that CMake configures (the
// source tree's models/ and weights/). This header is force-included into that one translation
// unit (cmake/package.cmake) and turns both macros into run-time look-ups: when the code runs from
// an installed libfacekit or facekit program whose prefix holds share/facekit (found from the
// library's or program's own file, so a relocated prefix works too), that folder; otherwise the
// configured source folder, exactly as before.
#pragma once

namespace facekit::package {
// `configured` if this code does not run from an install tree with a share/facekit folder.
const char* dataDir(const char* configured);
}  // namespace facekit::package

#ifdef FACEKIT_SOURCE_MODEL_DIR
static const char* const kFacekitConfiguredModelDir = FACEKIT_SOURCE_MODEL_DIR;
#undef FACEKIT_SOURCE_MODEL_DIR
#define FACEKIT_SOURCE_MODEL_DIR ::facekit::package::dataDir(kFacekitConfiguredModelDir)
#endif
#ifdef FACEKIT_SOURCE_WEIGHTS_DIR
static const char* const kFacekitConfiguredWeightsDir = FACEKIT_SOURCE_WEIGHTS_DIR;
#undef FACEKIT_SOURCE_WEIGHTS_DIR
#define FACEKIT_SOURCE_WEIGHTS_DIR ::facekit::package::dataDir(kFacekitConfiguredWeightsDir)
#endif
