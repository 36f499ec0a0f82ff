// facekit command-line tool.
//   facekit detect IMAGE|DIR... [--json FILE] [--draw FILE|DIR] [--min-face N] [--threshold a,b,c] [--threads N] [--strict]
//   facekit convert-mtcnn --tflite-dir DIR --out FILE
//   facekit info MODEL [--input HxWxC] [--json]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "facekit/facekit.hpp"
#include "models/facemesh/facemesh.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"
#include "cmd_info.hpp"
#include "cmd_landmarks.hpp"
#include "cmd_train.hpp"
#include "inputs.hpp"
#include "programs.hpp"

namespace fs = std::filesystem;
using namespace facekit;

namespace {

int runDetect(const std::vector<std::string>& inputs, const std::string& json_path, const std::string& draw, DetectorOptions opt,
              const LoadOptions& load) {
  auto detector = FaceDetector::create(opt);
  return cli::runOnImages(inputs, json_path, draw, "detect", [&](const std::string& file, bool want_drawing) {
    const Image img = loadImage(file, load);
    const auto faces = detector->detect(img.view());
    cli::ImageOutput out{toModelScopeJson(faces), {}};
    if (want_drawing) out.drawing = drawDetections(img.view(), faces);
    return out;
  });
}

}  // namespace

int main(int argc, char** argv) {
  cli::reportPeakMemoryAtExit();
  CLI::App app{"facekit " FACEKIT_VERSION ": face detection (MTCNN) with 5 landmarks"};
  app.require_subcommand(1);

  auto* detect = app.add_subcommand("detect", "detect faces; prints ModelScope-style JSON");
  std::vector<std::string> inputs;
  std::string json_path, draw, thresholds, backend = "fast";
  DetectorOptions opt;
  LoadOptions load;
  detect->add_option("images", inputs, "image files or folders (searched recursively)")->required();
  detect->add_option("--json", json_path, "write the JSON here instead of stdout");
  detect->add_option("--draw", draw, "write an annotated copy: a file (one image) or a folder");
  detect->add_option("--min-face", opt.min_face_size, "smallest face size in pixels (>= 8)")->capture_default_str();
  detect->add_option("--threshold", thresholds, "P-, R-, O-Net thresholds, default 0.6,0.7,0.7");
  detect->add_option("--threads", opt.num_threads, "threads per image")->capture_default_str();
  detect->add_option("--model", opt.model_path, "MTCNN model file (default: " + defaultModelPath() + ")");
  detect->add_flag("--all-orientations", opt.all_orientations, "also find faces turned sideways or upside down (verified; 1.4x to 1.7x time at 640x480)");
  detect->add_flag_function("--no-border-faces", [&opt](std::int64_t) { opt.border_faces = false; }, "do not look for faces cut by the image border (found by default, reported whole)");
  detect->add_option("--backend", backend, "fast (XNNPACK) or reference (plain loops)")->check(CLI::IsMember({"fast", "reference"}));
  std::string precision = "fp32";
  detect->add_option("--precision", precision, "fp32 (the reference) or int8 (P-Net and R-Net in int8: faster, see README)")
      ->check(CLI::IsMember({"fp32", "int8"}))
      ->capture_default_str();
  detect->add_flag("--strict", load.strict, "refuse 16-bit, alpha and CMYK images instead of converting them to 8-bit RGB");

  auto* convert = app.add_subcommand("convert-mtcnn", "convert the pinned MTCNN TFLite files into a facekit model");
  std::string tflite_dir, out_path;
  convert->add_option("--tflite-dir", tflite_dir, "folder with pnet.tflite, rnet.tflite, onet.tflite")->required();
  convert->add_option("--out", out_path, "output model file (.safetensors)")->required();

  auto* convert_mesh = app.add_subcommand("convert-facemesh", "convert the pinned MediaPipe face mesh (TF.js) into a facekit model");
  std::string tfjs_json, mesh_out;
  convert_mesh->add_option("--tfjs", tfjs_json, "facemesh.json (its .bin beside it)")->required();
  convert_mesh->add_option("--out", mesh_out, "output model file (.safetensors)")->required();

  // eval, video and serve run in sibling programs (tools/cli/programs.hpp): their libraries stay out of this one.
  cli::addSiblingCommand(app, "eval", "evaluate accuracy on annotated data", "facekit-eval");
  cli::registerInfo(app);
  cli::registerLandmarks(app);
  cli::registerTrain(app);
  cli::addSiblingCommand(app, "serve", "HTTP service: POST /v1/detect, POST /v1/landmarks, GET /healthz, GET /metrics; demo page at /", "facekit-serve");

  if (const int code = cli::parseCommandLine(app, argc, argv); code >= 0) return code;
  try {
    if (*detect) {
      if (!thresholds.empty()) opt.thresholds = cli::parseThresholds(thresholds);
      opt.backend = backend == "reference" ? ComputeBackend::kReference : ComputeBackend::kFast;
      opt.precision = precision == "int8" ? ComputePrecision::kInt8 : ComputePrecision::kFp32;
      return runDetect(inputs, json_path, draw, opt, load);
    }
    if (*convert || *convert_mesh) {
      const auto model = *convert ? mtcnn::convertTflite(tflite_dir) : facemesh::convertTfjs(tfjs_json);
      const std::string& path = *convert ? out_path : mesh_out;
      if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
      model.save(path);
      std::cerr << "facekit: wrote " << path << " (" << model.tensors().size() << " tensors)\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "facekit: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
