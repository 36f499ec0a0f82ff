// Command-line image inputs: files as given, folders searched recursively for images.
#pragma once

#include <string>
#include <vector>

namespace facekit::cli {
bool isImageFile(const std::string& path);
// Files are kept as given (so a bad one reports its own error); folders are expanded to their
// image files in sorted order. Throws facekit::Error for an unreadable or image-less folder.
std::vector<std::string> expandImageInputs(const std::vector<std::string>& inputs);
}  // namespace facekit::cli
