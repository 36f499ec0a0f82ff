#include "inputs.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <nlohmann/json.hpp>

#include "engine/model_file.hpp"
#include "facekit/error.hpp"
#include "progress.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {

bool isImageFile(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* x : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
    if (e == x) return true;
  return false;
}

std::vector<std::string> expandImageInputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(in, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file() && isImageFile(it->path().string())) found.push_back(it->path().string());
      if (ec) throw Error(Error::Code::kIoError, in + ": cannot list folder: " + ec.message());
      std::sort(found.begin(), found.end());
      if (found.empty()) throw Error(Error::Code::kIoError, in + ": folder holds no image files");
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(in);
    }
  }
  return out;
}

std::array<float, 3> parseThresholds(const std::string& s) {
  std::array<float, 3> t{};
  std::stringstream ss(s);
  std::string item;
  size_t i = 0;
  while (std::getline(ss, item, ',')) {
    if (i >= 3) break;
    try {
      size_t used = 0;
      t[i] = std::stof(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error(Error::Code::kInvalidArgument, "--threshold: '" + item + "' is not a number");
    }
    ++i;
  }
  if (i != 3 || ss.rdbuf()->in_avail()) throw Error(Error::Code::kInvalidArgument, "--threshold takes three comma-separated numbers, e.g. 0.6,0.7,0.7");
  return t;
}

int runOnImages(const std::vector<std::string>& inputs, const std::string& json_path, const std::string& draw, const std::string& label,
                const std::function<ImageOutput(const std::string& file, bool want_drawing)>& process) {
  const auto files = expandImageInputs(inputs);
  const bool many = files.size() > 1;
  if (many && !draw.empty() && fs::exists(draw) && !fs::is_directory(draw))
    throw Error(Error::Code::kInvalidArgument, "--draw " + draw + ": with several images this must be a folder");
  std::unique_ptr<Progress> progress;
  if (many) progress = std::make_unique<Progress>(label, files.size());
  nlohmann::ordered_json all = nlohmann::ordered_json::object();
  int failures = 0;
  for (const auto& file : files) {
    try {
      ImageOutput out = process(file, !draw.empty());
      all[file] = nlohmann::ordered_json::parse(out.json);
      if (!draw.empty()) {
        std::string path = draw;
        if (many || fs::is_directory(draw)) {
          fs::create_directories(draw);
          path = (fs::path(draw) / fs::path(file).filename()).string();
        } else if (fs::path(draw).has_parent_path()) {
          fs::create_directories(fs::path(draw).parent_path());
        }
        saveImage(out.drawing.view(), path);
      }
    } catch (const Error& e) {
      ++failures;
      if (progress && isatty(2)) std::cerr << "\n";
      std::cerr << "facekit: error: " << e.what() << "\n";
      all[file] = {{"error", e.what()}};
    }
    if (progress) progress->step();
  }
  // File names need not be UTF-8: such bytes are written as U+FFFD instead of throwing.
  const std::string text = many ? all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) : all.begin().value().dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  if (json_path.empty()) {
    std::cout << text << "\n";
  } else {
    // Under a temporary name, renamed when complete: never a truncated JSON file (saveImage
    // writes the drawings the same way).
    if (fs::path(json_path).has_parent_path()) fs::create_directories(fs::path(json_path).parent_path());
    engine::writeFileAtomically(json_path, text + "\n");
  }
  if (failures && many) std::cerr << "facekit: " << failures << " of " << files.size() << " images failed\n";
  return failures ? 1 : 0;
}

}  // namespace facekit::cli
