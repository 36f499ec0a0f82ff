// Generates the bad inputs the library and the CLI must refuse cleanly, in a temp folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/model_file.hpp"

namespace facekit::test {

struct BadFiles {
  std::string dir;
  std::map<std::string, std::string> images;  // name -> path, each must be refused
  std::map<std::string, std::string> models;  // name -> path, each must be refused
  std::string good_gray;                      // a valid gray PNG, must load

  static const BadFiles& get() {
    static const BadFiles b = make();
    return b;
  }

 private:
  static void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  }
  static std::string encode(const cv::Mat& m, const std::string& ext) {
    std::vector<uchar> buf;
    cv::imencode(ext, m, buf);
    return std::string(buf.begin(), buf.end());
  }
  static BadFiles make() {
    BadFiles b;
    b.dir = (std::filesystem::temp_directory_path() / ("facekit-bad-" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(b.dir);
    auto put = [&](std::map<std::string, std::string>& into, const std::string& name, const std::string& bytes) {
      const std::string p = b.dir + "/" + name;
      write(p, bytes);
      into[name] = p;
    };
    cv::Mat photo = cv::imread(FACEKIT_TEST_SAMPLE, cv::IMREAD_COLOR);
    const std::string jpg = encode(photo, ".jpg"), png = encode(photo, ".png");
    b.images["missing.jpg"] = b.dir + "/does-not-exist.jpg";
    put(b.images, "empty.jpg", "");
    put(b.images, "corrupt.jpg", std::string("\xFF\xD8\xFF\xE0", 4) + std::string(5000, 'x'));
    put(b.images, "random.png", std::string(3000, '\x42'));
    put(b.images, "truncated.jpg", jpg.substr(0, jpg.size() / 2));
    put(b.images, "truncated.png", png.substr(0, png.size() / 2));
    put(b.images, "one-pixel.png", encode(cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3)), ".png"));
    put(b.images, "sixteen-bit.png", encode(cv::Mat(64, 64, CV_16UC3, cv::Scalar(1000, 2000, 3000)), ".png"));
    put(b.images, "rgba.png", encode(cv::Mat(64, 64, CV_8UC4, cv::Scalar(1, 2, 3, 4)), ".png"));
    // A valid small PNG whose IHDR claims 30000 x 30000 (the CRC is left stale on purpose:
    // facekit must refuse from the header alone, before any decoder allocates).
    std::string huge = encode(cv::Mat(64, 64, CV_8UC3, cv::Scalar(9, 9, 9)), ".png");
    for (int off : {16, 20}) huge[size_t(off)] = 0, huge[size_t(off) + 1] = 0, huge[size_t(off) + 2] = char(0x75), huge[size_t(off) + 3] = char(0x30);
    put(b.images, "huge-header.png", huge);
    // The same for a JPEG: patch the frame header's height and width.
    std::string hj = encode(cv::Mat(64, 64, CV_8UC3, cv::Scalar(9, 9, 9)), ".jpg");
    const size_t sof = hj.find("\xFF\xC0");
    hj[sof + 5] = char(0x75), hj[sof + 6] = char(0x30), hj[sof + 7] = char(0x75), hj[sof + 8] = char(0x30);
    put(b.images, "huge-header.jpg", hj);
    put(b.images, "not-an-image.txt", "hello, I am text\n");

    const std::string model = engine::readFileBytes(FACEKIT_TEST_MODEL);
    put(b.models, "truncated.safetensors", model.substr(0, model.size() / 2));
    put(b.models, "header-only.safetensors", model.substr(0, 64));
    put(b.models, "png-as-model.safetensors", png);
    put(b.models, "tflite-as-model.safetensors", engine::readFileBytes(std::string(FACEKIT_TEST_TFLITE_DIR) + "/pnet.tflite"));
    put(b.models, "empty.safetensors", "");
    engine::ModelFile other;  // a valid file, but not MTCNN
    other.metadata["facekit.model"] = "landmark106";
    other.add("x", {1}, {0.f});
    put(b.models, "other-model.safetensors", other.serialize());
    b.models["missing.safetensors"] = b.dir + "/nope.safetensors";

    b.good_gray = b.dir + "/gray.png";
    cv::Mat gray;
    cv::cvtColor(photo, gray, cv::COLOR_BGR2GRAY);
    write(b.good_gray, encode(gray, ".png"));
    return b;
  }
};

}  // namespace facekit::test
