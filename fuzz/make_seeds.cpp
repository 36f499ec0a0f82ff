// Writes the seed corpora of the fuzz targets: small valid inputs of every kind each parser
// reads, so the fuzzers start from the structures that matter. Run by the build (fuzz/CMakeLists.txt):
//   fuzz_make_seeds OUT_DIR SOURCE_DIR
// makes OUT_DIR/<target>/<name> for every target.
#include <cmath>
#include <cstddef>
#include <cstdio>

#include <matio.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/model_file.hpp"
#include "image_writers.hpp"  // tests/image_writers.hpp: the CMYK JPEG and the EXIF block, as the tests write them

namespace fs = std::filesystem;

namespace {

std::string out_dir, source_dir;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_dir + "/" + target);
  std::ofstream(out_dir + "/" + target + "/" + name, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
std::string encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<uchar> buf;
  if (!cv::imencode(ext, m, buf, params)) return {};
  return std::string(buf.begin(), buf.end());
}

// --- model files --------------------------------------------------------------------------------
void modelSeeds() {
  facekit::engine::ModelFile a;
  a.metadata["facekit.model"] = "mtcnn";
  a.add("pnet.conv1.weight", {2, 3, 3, 3}, std::vector<float>(54, 0.5f));
  a.add("pnet.conv1.bias", {2}, {0.f, 1.f});
  put("model_file", "small.safetensors", a.serialize());
  facekit::engine::ModelFile b;
  b.metadata["facekit.model"] = "landmark106";
  b.metadata["facekit.graph"] = R"({"nodes":[{"name":"x","op":"Input"}],"outputs":["x"]})";
  b.add("empty", {0, 4}, {});
  b.add("scalar", {}, {3.f});
  put("model_file", "graph.safetensors", b.serialize());
}

// --- TFLite: the pinned P-Net (32 KB) ----------------------------------------------------------
void tfliteSeeds() {
  const std::string pnet = slurp(source_dir + "/.cache/mtcnn-tflite/pnet.tflite");
  if (!pnet.empty()) put("tflite", "pnet.tflite", pnet);
  else std::cerr << "fuzz_make_seeds: no .cache/mtcnn-tflite/pnet.tflite (run make setup): the tflite corpus starts empty\n";
}

// --- TF.js: a small graph in the face mesh's style, model.json NUL shard ------------------------
void tfjsSeeds() {
  auto b64 = [](const std::string& s) {  // base64 of short ASCII strings
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t val = 0;
    int bits = -6;
    for (unsigned char c : s) {
      val = ((val << 8) | c) & 0xffffff, bits += 8;
      while (bits >= 0) out += t[(val >> bits) & 0x3f], bits -= 6;
    }
    if (bits > -6) out += t[((val << 8) >> (bits + 8)) & 0x3f];
    while (out.size() % 4) out += '=';
    return out;
  };
  using J = nlohmann::json;
  J nodes = J::array();
  nodes.push_back({{"name", "input"}, {"op", "Placeholder"}});
  nodes.push_back({{"name", "w"}, {"op", "Const"}});
  nodes.push_back({{"name", "b"}, {"op", "Const"}});
  nodes.push_back({{"name", "a"}, {"op", "Const"}});
  nodes.push_back({{"name", "conv"},
                   {"op", "_FusedConv2D"},
                   {"input", {"input", "w", "b", "a"}},
                   {"attr",
                    {{"strides", {{"list", {{"i", {"1", "2", "2", "1"}}}}}},
                     {"dilations", {{"list", {{"i", {"1", "1", "1", "1"}}}}}},
                     {"padding", {{"s", b64("SAME")}}},
                     {"data_format", {{"s", b64("NHWC")}}},
                     {"fused_ops", {{"list", {{"s", {b64("BiasAdd"), b64("Prelu")}}}}}}}}});
  nodes.push_back({{"name", "dw"}, {"op", "Const"}});
  nodes.push_back({{"name", "dconv"},
                   {"op", "DepthwiseConv2dNative"},
                   {"input", {"conv", "dw"}},
                   {"attr",
                    {{"strides", {{"list", {{"i", {"1", "1", "1", "1"}}}}}},
                     {"padding", {{"s", b64("VALID")}}},
                     {"data_format", {{"s", b64("NHWC")}}}}}});
  nodes.push_back({{"name", "pool"},
                   {"op", "MaxPool"},
                   {"input", {"dconv"}},
                   {"attr", {{"ksize", {{"list", {{"i", {"1", "2", "2", "1"}}}}}}, {"strides", {{"list", {{"i", {"1", "2", "2", "1"}}}}}}, {"padding", {{"s", b64("VALID")}}}}}});
  nodes.push_back({{"name", "shape"}, {"op", "Const"}});
  nodes.push_back({{"name", "flat"}, {"op", "Reshape"}, {"input", {"pool", "shape"}}});
  nodes.push_back({{"name", "out"}, {"op", "Sigmoid"}, {"input", {"flat"}}});
  J weights = J::array();
  weights.push_back({{"name", "w"}, {"shape", {3, 3, 3, 2}}, {"dtype", "float32"}, {"quantization", {{"dtype", "float16"}}}});
  weights.push_back({{"name", "b"}, {"shape", {2}}, {"dtype", "float32"}});
  weights.push_back({{"name", "a"}, {"shape", {2}}, {"dtype", "float32"}});
  weights.push_back({{"name", "dw"}, {"shape", {3, 3, 2, 1}}, {"dtype", "float32"}});
  weights.push_back({{"name", "shape"}, {"shape", {2}}, {"dtype", "int32"}});
  const J model = {{"format", "graph-model"},
                   {"modelTopology", {{"node", nodes}}},
                   {"signature", {{"outputs", {{"out", {{"name", "out:0"}}}}}}},
                   {"weightsManifest", J::array({{{"paths", {"group1-shard1of1.bin"}}, {"weights", weights}}})}};
  std::string shard;
  auto f16 = [&](int n) { for (int i = 0; i < n; ++i) shard += std::string("\x00\x3c", 2); };  // 1.0 in float16
  auto f32 = [&](int n, float v) { for (int i = 0; i < n; ++i) shard.append(reinterpret_cast<const char*>(&v), 4); };
  f16(54);
  f32(2, 0.1f), f32(2, 0.25f), f32(18, 0.5f);
  // input 16x16 -> conv stride 2 SAME: 8x8x2 -> depthwise 3x3 VALID: 6x6x2 -> pool 2/2: 3x3x2 = 18
  for (int32_t v : {1, 18}) shard.append(reinterpret_cast<const char*>(&v), 4);
  put("tfjs", "graph.json-nul-shard", model.dump() + std::string(1, '\0') + shard);
}

// --- .mat files (libmatio): WIDER FACE ground truth, AFLW2000-3D annotation ---------------------
matvar_t* matString(const std::string& s) {
  size_t dims[2] = {1, s.size()};
  return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT8, 2, dims, const_cast<char*>(s.data()), 0);
}
matvar_t* matDoubles(size_t rows, size_t cols, const std::vector<double>& v, const char* name = nullptr) {
  size_t dims[2] = {rows, cols};
  return Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, const_cast<double*>(v.data()), 0);
}
matvar_t* matCell(const char* name, const std::vector<matvar_t*>& items) {
  size_t dims[2] = {items.size(), 1};
  matvar_t* c = Mat_VarCreate(name, MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
  for (size_t i = 0; i < items.size(); ++i) Mat_VarSetCell(c, int(i), items[i]);
  return c;
}
void writeMat(const std::string& target, const std::string& name, const std::vector<matvar_t*>& vars, matio_compression compression) {
  const std::string tmp = out_dir + "/" + target + ".tmp.mat";
  mat_t* mat = Mat_CreateVer(tmp.c_str(), nullptr, MAT_FT_MAT5);
  for (matvar_t* v : vars) Mat_VarWrite(mat, v, compression);
  Mat_Close(mat);
  put(target, name, slurp(tmp));
  fs::remove(tmp);
}
void matSeeds() {
  for (auto compression : {MAT_COMPRESSION_NONE, MAT_COMPRESSION_ZLIB}) {
    // Two events; the first with two images (2 and 1 boxes), the second with one image (0 boxes).
    std::vector<matvar_t*> vars = {
        matCell("event_list", {matString("0--Parade"), matString("1--Handshaking")}),
        matCell("file_list", {matCell(nullptr, {matString("0_Parade_1"), matString("0_Parade_2")}), matCell(nullptr, {matString("1_Hand_1")})}),
        matCell("face_bbx_list", {matCell(nullptr, {matDoubles(2, 4, {10, 50, 20, 60, 30, 40, 30, 40}), matDoubles(1, 4, {5, 5, 20, 20})}),
                                  matCell(nullptr, {matDoubles(0, 4, {})})}),
        matCell("gt_list", {matCell(nullptr, {matDoubles(2, 1, {1, 2}), matDoubles(1, 1, {1})}), matCell(nullptr, {matDoubles(0, 1, {})})}),
    };
    writeMat("wider_mat", compression == MAT_COMPRESSION_NONE ? "wider.mat" : "wider-zlib.mat", vars, compression);
    for (matvar_t* v : vars) Mat_VarFree(v);
    std::vector<double> pose = {0.1, -0.2, 0.3, 100, 120, 0, 1.5}, pts(3 * 68);
    for (size_t k = 0; k < 68; ++k) pts[3 * k] = 100 + k, pts[3 * k + 1] = 120 + k % 17, pts[3 * k + 2] = 0;
    std::vector<matvar_t*> aflw = {matDoubles(1, 7, pose, "Pose_Para"), matDoubles(3, 68, pts, "pt3d_68")};
    writeMat("aflw_mat", compression == MAT_COMPRESSION_NONE ? "aflw.mat" : "aflw-zlib.mat", aflw, compression);
    for (matvar_t* v : aflw) Mat_VarFree(v);
  }
}

// --- text formats --------------------------------------------------------------------------------
void textSeeds() {
  put("wider_txt", "bbx_gt.txt",
      "0--Parade/0_Parade_marchingband_1_465.jpg\n2\n345 211 4 4 2 0 0 0 0 0 \n331 126 3 3 0 0 0 1 0 0 \n"
      "1--Handshaking/1_Handshaking_1.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
      "2--Demo/2_Demo_3.jpg\r\n1\r\n10 20 30 40\r\n");
  std::string xml = "<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset><images>\n<image file='2008_002470.jpg'>\n"
                    "  <box top='78' left='74' width='138' height='140'>\n";
  for (int k = 0; k < 68; ++k) xml += "    <part name='" + std::string(k < 10 ? "0" : "") + std::to_string(k) + "' x='" + std::to_string(80 + k) + "' y='" + std::to_string(100 + k % 20) + "'/>\n";
  xml += "  </box>\n</image>\n</images></dataset>\n";
  put("dlib_xml", "faces.xml", xml);
  const std::string config = slurp(source_dir + "/configs/landmark106.json");
  put("train_config", "landmark106.json-nul-overrides",
      config + std::string(1, '\0') + "train.max_epochs=2\noptimizer.lr=0.001\ndata.labels=[\"a.jsonl\",\"b.jsonl\"]\nmodel.stages=[[1,8,1,1]]\naugment.flip_prob=0\n");
  put("train_config", "minimal.json-nul-overrides", std::string("{\"a\": {\"b\": 1, \"c\": [1, 2]}, \"s\": \"x\", \"t\": true, \"n\": null} // c\n") +
                                                        std::string(1, '\0') + "a.b=2.5\na.c=[3]\ns=path/to/file\nt=false\nn=7\nmissing.key=1\n");
  // facekit label lines: an ok face, an unstable one, a no-face line, an error line.
  nlohmann::json pts = nlohmann::json::array();
  for (int k = 0; k < 106; ++k) pts.push_back({100.5 + (k % 33) * 3.0, 120.25 + (k / 33) * 20.0});
  nlohmann::ordered_json ok = {{"image", "/nonexistent/face.jpg"}, {"status", "ok"}, {"face_index", 0}, {"width", 400}, {"height", 300},
                               {"padded", false}, {"score", 0.99}, {"box", {90.0, 100.0, 210.0, 230.0}},
                               {"keypoints", {130, 150, 170, 150, 150, 175, 135, 200, 165, 200}}, {"points", pts},
                               {"pose", {{"pitch", 3.5}, {"yaw", -10.25}, {"roll", 2.0}}}, {"confidence", 0.97}, {"spread", 0.01},
                               {"teacher", "mesh"}};
  nlohmann::ordered_json unstable = ok;
  unstable["status"] = "unstable", unstable["spread"] = 0.2, unstable["image"] = "/nonexistent/other.png";
  put("labels", "labels.jsonl",
      ok.dump() + "\n" + unstable.dump() + "\n" + R"({"image":"/nonexistent/none.jpg","status":"no_face","width":100,"height":100})" + "\n\n" +
          R"({"image":"/nonexistent/bad.jpg","status":"error","error":"bad.jpg: truncated JPEG"})" + "\n");
}

// --- images: every accepted format and variant, small ------------------------------------------
void imageSeeds() {
  cv::Mat bgr(24, 32, CV_8UC3);
  for (int r = 0; r < bgr.rows; ++r)
    for (int c = 0; c < bgr.cols; ++c) bgr.at<cv::Vec3b>(r, c) = {uint8_t(8 * c), uint8_t(10 * r), uint8_t(4 * (r + c))};
  cv::Mat gray, bgra, b16, g16;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  bgr.convertTo(b16, CV_16U, 257);
  gray.convertTo(g16, CV_16U, 257);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"rgb.png", encode(bgr, ".png")},
      {"gray.png", encode(gray, ".png")},
      {"rgba.png", encode(bgra, ".png")},
      {"rgb16.png", encode(b16, ".png")},
      {"gray16.png", encode(g16, ".png")},
      {"baseline.jpg", encode(bgr, ".jpg")},
      {"progressive.jpg", encode(bgr, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
      {"gray.jpg", encode(gray, ".jpg")},
      {"exif-rotated.jpg", facekit::test::withExifOrientation(encode(bgr, ".jpg"), 6, /*little_endian=*/false)},
      {"cmyk.jpg", facekit::test::writeCmykJpeg(bgr, 75)},  // 75: libjpeg's default quality
      {"rgb.bmp", encode(bgr, ".bmp")},
      {"gray.bmp", encode(gray, ".bmp")},
      {"rgba.bmp", encode(bgra, ".bmp")},
      {"rgb.tiff", encode(bgr, ".tiff")},
      {"rgb16.tiff", encode(b16, ".tiff")},
      {"rgba.tiff", encode(bgra, ".tiff")},
      {"lossy.webp", encode(bgr, ".webp", {cv::IMWRITE_WEBP_QUALITY, 60})},
      {"lossless.webp", encode(bgr, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})},
      {"alpha.webp", encode(bgra, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})},
      {"rgb.ppm", encode(bgr, ".ppm")},
      {"gray.pgm", encode(gray, ".pgm")},
      {"rgb16.ppm", encode(b16, ".ppm")},
      {"ascii.pgm", encode(gray, ".pgm", {cv::IMWRITE_PXM_BINARY, 0})},
      {"rgba.pam", encode(bgra, ".pam")},
  };
  for (const auto& [name, bytes] : files)
    if (!bytes.empty()) put("image", name, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_seeds OUT_DIR SOURCE_DIR\n";
    return 2;
  }
  out_dir = argv[1], source_dir = argv[2];
  fs::create_directories(out_dir);
  modelSeeds();
  tfliteSeeds();
  tfjsSeeds();
  matSeeds();
  textSeeds();
  imageSeeds();
  std::cerr << "fuzz_make_seeds: wrote the seed corpora to " << out_dir << "\n";
  return 0;
}
