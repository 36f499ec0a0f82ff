// Generates the bad inputs the library and the CLI must refuse cleanly, in a temp folder.
#pragma once

#include <unistd.h>

#include <algorithm>
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
  std::map<std::string, std::string> strict_images;  // name -> path, refused only with LoadOptions::strict / --strict
  std::map<std::string, std::string> models;  // name -> path, each must be refused by every model reader
  // name -> path: readable model files that the detector must refuse (another network, a wrong
  // tensor shape), or that no reader may accept (weights cut short, a header claiming terabytes).
  std::map<std::string, std::string> detector_models;
  std::string good_gray;                      // a valid gray PNG, must load

  static const BadFiles& get() {
    static const BadFiles b = make();
    return b;
  }

 private:
  static void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  }
  static std::string encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params = {}) {
    std::vector<uchar> buf;
    cv::imencode(ext, m, buf, params);
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
    put(b.strict_images, "sixteen-bit.png", encode(cv::Mat(64, 64, CV_16UC3, cv::Scalar(1000, 2000, 3000)), ".png"));
    put(b.strict_images, "rgba.png", encode(cv::Mat(64, 64, CV_8UC4, cv::Scalar(1, 2, 3, 4)), ".png"));
    put(b.images, "one-by-100000.png", encode(cv::Mat(100000, 1, CV_8UC3, cv::Scalar(1, 2, 3)), ".png"));
    put(b.images, "100000-by-one.png", encode(cv::Mat(1, 100000, CV_8UC3, cv::Scalar(1, 2, 3)), ".png"));
    put(b.images, "gif.gif", std::string("GIF89a\x40\0\x40\0\0\0\0;", 13));  // a format facekit does not read
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
    // ... and for BMP (info header sides at 18 / 22), WebP (VP8L: 14-bit sides - 1 at byte 21, so
    // at most 16384: 16000 x 16000 = 256 megapixels),
    // PPM (text) and TIFF (the ImageWidth / ImageLength entries of the first directory).
    const cv::Mat tiny(64, 64, CV_8UC3, cv::Scalar(9, 9, 9));
    std::string hb = encode(tiny, ".bmp");
    for (int off : {18, 22}) hb[size_t(off)] = char(0x30), hb[size_t(off) + 1] = char(0x75), hb[size_t(off) + 2] = 0, hb[size_t(off) + 3] = 0;
    put(b.images, "huge-header.bmp", hb);
    std::string hw = encode(tiny, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101});
    const uint32_t sides = (16000 - 1) | uint32_t(16000 - 1) << 14 | (uint32_t(uint8_t(hw[24])) >> 4) << 28;
    for (int k = 0; k < 4; ++k) hw[size_t(21 + k)] = char((sides >> (8 * k)) & 0xff);
    put(b.images, "huge-header.webp", hw);
    std::string hp = encode(tiny, ".ppm");
    hp.replace(hp.find("64 64"), 5, "30000 30000");
    put(b.images, "huge-header.ppm", hp);
    std::string ht = encode(tiny, ".tiff");  // little-endian ("II") from OpenCV
    const size_t ifd = uint8_t(ht[4]) | uint8_t(ht[5]) << 8 | uint8_t(ht[6]) << 16 | size_t(uint8_t(ht[7])) << 24;
    const size_t entries = uint8_t(ht[ifd]) | uint8_t(ht[ifd + 1]) << 8;
    for (size_t e = 0; e < entries; ++e) {
      const size_t at = ifd + 2 + 12 * e, tag = uint8_t(ht[at]) | uint8_t(ht[at + 1]) << 8;
      if (tag == 256 || tag == 257) ht[at + 8] = char(0x30), ht[at + 9] = char(0x75);  // SHORT or LONG: the low bytes
    }
    put(b.images, "huge-header.tiff", ht);
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

    // Files the matrix (test_bad_input.cpp) gives the detector.
    engine::ModelFile mtcnn = engine::ModelFile::load(FACEKIT_TEST_MODEL);
    b.detector_models["landmark106-as-mtcnn.safetensors"] = std::string(FACEKIT_TEST_WEIGHTS_DIR) + "/landmark106.safetensors";
    {
      engine::ModelFile wrong = mtcnn;  // one tensor of P-Net with its dimensions turned around
      const std::string name = mtcnn.tensors().begin()->first;
      auto t = mtcnn.tensors().begin()->second;
      std::reverse(t.shape.begin(), t.shape.end());
      if (t.shape == mtcnn.tensors().begin()->second.shape) t.shape.push_back(1);
      wrong.add(name, t.shape, t.data);
      put(b.detector_models, "wrong-shape.safetensors", wrong.serialize());
    }
    const std::string whole = mtcnn.serialize();
    put(b.detector_models, "weights-cut-short.safetensors", whole.substr(0, whole.size() - 4096));
    std::string tb_header = whole;  // the 8-byte header size claims 1 TiB
    for (int i = 0; i < 8; ++i) tb_header[size_t(i)] = char(((uint64_t(1) << 40) >> (8 * i)) & 0xff);
    put(b.detector_models, "terabyte-header.safetensors", tb_header);
    // A well-formed header whose one tensor claims 2^31 x 2^31 x 4 floats (128 EiB), no data.
    std::string tb_json = R"({"__metadata__":{"facekit.model":"mtcnn"},"x":{"dtype":"F32","shape":[2147483648,2147483648,4],"data_offsets":[0,0]}})";
    std::string tb_tensor(8, '\0');
    for (int i = 0; i < 8; ++i) tb_tensor[size_t(i)] = char((tb_json.size() >> (8 * i)) & 0xff);
    put(b.detector_models, "terabyte-tensor.safetensors", tb_tensor + tb_json);

    b.good_gray = b.dir + "/gray.png";
    cv::Mat gray;
    cv::cvtColor(photo, gray, cv::COLOR_BGR2GRAY);
    write(b.good_gray, encode(gray, ".png"));
    return b;
  }
};

}  // namespace facekit::test
