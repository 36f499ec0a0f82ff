// facekit eval widerface | detections: detection accuracy by the official WIDER FACE protocol.
#include "cmd_eval.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "eval/plot.hpp"
#include "eval/widerface.hpp"
#include "facekit/facekit.hpp"
#include "progress.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {
namespace {

struct EvalArgs {
  std::string images, gt, annotations, out = "out/eval", yunet_model, thresholds;
  DetectorOptions det;
};

// A peer detector run in the same pass, for side-by-side figures (never part of facekit).
class YuNetPeer {
 public:
  explicit YuNetPeer(const std::string& model) {
    if (!fs::exists(model)) throw Error(Error::Code::kIoError, model + ": no such file (YuNet model)");
    net_ = cv::FaceDetectorYN::create(model, "", cv::Size(320, 320), 0.3f, 0.3f, 5000);
  }
  std::vector<eval::Detection> detect(const Image& img) {
    cv::Mat bgr;
    cv::cvtColor(cv::Mat(img.height, img.width, img.format == PixelFormat::kGray ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(img.pixels.data())),
                 bgr, img.format == PixelFormat::kGray ? cv::COLOR_GRAY2BGR : cv::COLOR_RGB2BGR);
    net_->setInputSize(bgr.size());
    cv::Mat faces;
    net_->detect(bgr, faces);
    std::vector<eval::Detection> out;
    for (int r = 0; r < faces.rows; ++r) {
      const float* f = faces.ptr<float>(r);
      out.push_back({{f[0], f[1], f[2], f[3]}, f[14]});
    }
    return out;
  }

 private:
  cv::Ptr<cv::FaceDetectorYN> net_;
};

std::vector<eval::Detection> toDetections(const std::vector<Face>& faces) {
  std::vector<eval::Detection> out;
  for (const Face& f : faces) out.push_back({{f.box.x1, f.box.y1, f.box.width(), f.box.height()}, f.score});
  return out;
}

void run(const eval::GroundTruth& gt, EvalArgs& a, const std::string& title) {
  struct Task {
    std::string key, path;
  };
  std::vector<Task> tasks;
  for (const auto& ev : gt.events)
    for (const auto& img : ev.images) {
      for (const char* ext : {".jpg", ".jpeg", ".png"}) {
        const fs::path p = fs::path(a.images) / ev.name / (img.name + ext);
        if (fs::exists(p)) {
          tasks.push_back({ev.name + "/" + img.name, p.string()});
          break;
        }
      }
    }
  if (tasks.empty()) throw Error(Error::Code::kIoError, a.images + ": none of the " + std::to_string(gt.imageCount()) + " annotated images found (expected <event>/<name>.jpg)");
  const bool subset = tasks.size() < gt.imageCount();
  std::cerr << "facekit eval: " << tasks.size() << " of " << gt.imageCount() << " annotated images found"
            << (subset ? " -- a SUBSET: figures below are not the full-set AP\n" : "\n");

  auto detector = FaceDetector::create(a.det);
  std::unique_ptr<YuNetPeer> yunet;
  if (!a.yunet_model.empty()) yunet = std::make_unique<YuNetPeer>(a.yunet_model);
  eval::Predictions ours, theirs;
  Progress progress("eval", tasks.size());
  for (const Task& t : tasks) {
    const Image img = loadImage(t.path, LoadOptions{200'000'000, 1});
    ours[t.key] = img.width >= 12 && img.height >= 12 ? toDetections(detector->detect(img.view())) : std::vector<eval::Detection>{};
    if (yunet) theirs[t.key] = yunet->detect(img);
    progress.step();
  }

  std::vector<std::pair<std::string, std::vector<eval::SettingResult>>> all = {{"facekit", eval::evaluate(gt, ours)}};
  if (yunet) all.push_back({"YuNet", eval::evaluate(gt, theirs)});

  fs::create_directories(a.out);
  eval::writePredictionFiles(ours, a.out + "/predictions/facekit");
  if (yunet) eval::writePredictionFiles(theirs, a.out + "/predictions/yunet");

  // Table on stdout, CSV + JSON + PNG in --out.
  std::cout << "\n" << title << (subset ? " (subset of " + std::to_string(tasks.size()) + " images)" : "") << "\n\n| detector |";
  for (const auto& r : all[0].second) std::cout << " " << r.setting << " AP |";
  std::cout << "\n|---|";
  for (size_t i = 0; i < all[0].second.size(); ++i) std::cout << "---|";
  std::cout << "\n";
  nlohmann::ordered_json j;
  j["images_evaluated"] = tasks.size();
  j["images_annotated"] = gt.imageCount();
  j["subset"] = subset;
  std::ofstream csv(a.out + "/pr_curves.csv");
  csv << "detector,setting,threshold,recall,precision\n";
  eval::LinePlot plot{title + (subset ? " (subset)" : ""), "recall", "precision", 0, 1, 0, 1, {}};
  for (const auto& [name, results] : all) {
    std::cout << "| " << name << " |";
    for (const auto& r : results) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " %.3f |", r.ap);
      std::cout << buf;
      j["ap"][name][r.setting] = r.ap;
      j["faces"][r.setting] = r.gt_faces;
      eval::Series s{name + " " + r.setting + " " + std::string(buf + 1, 5), {}};
      for (size_t t = 0; t < r.pr.size(); ++t) {
        csv << name << "," << r.setting << "," << 1.0 - double(t + 1) / double(r.pr.size()) << "," << r.pr[t].first << "," << r.pr[t].second << "\n";
        if (r.pr[t].second > 0) s.points.push_back(r.pr[t]);
      }
      plot.series.push_back(std::move(s));
    }
    std::cout << "\n";
  }
  std::cout << "\nfaces that count: ";
  for (const auto& r : all[0].second) std::cout << r.setting << " " << r.gt_faces << "  ";
  std::cout << "\nconditions: facekit min face " << a.det.min_face_size << ", thresholds " << a.det.thresholds[0] << ","
            << a.det.thresholds[1] << "," << a.det.thresholds[2] << (yunet ? "; YuNet score >= 0.3, NMS 0.3" : "") << "\n";
  std::ofstream(a.out + "/results.json") << j.dump(2) << "\n";
  eval::savePlot(plot, a.out + "/pr_curves.png");
  std::cout << "wrote " << a.out << "/{results.json,pr_curves.csv,pr_curves.png,predictions/}\n";
}

std::array<float, 3> parseThresholdList(const std::string& s) {
  std::array<float, 3> t{};
  if (std::sscanf(s.c_str(), "%f,%f,%f", &t[0], &t[1], &t[2]) != 3)
    throw Error(Error::Code::kInvalidArgument, "--threshold takes three comma-separated numbers, e.g. 0.6,0.7,0.7");
  return t;
}

}  // namespace

void registerEval(CLI::App& app, int& exit_code) {
  auto* ev = app.add_subcommand("eval", "evaluate accuracy on annotated data");
  ev->require_subcommand(1);
  auto args = std::make_shared<EvalArgs>();
  auto common = [args](CLI::App* c) {
    c->add_option("--images", args->images, "image folder: <event>/<name>.jpg")->required();
    c->add_option("--out", args->out, "output folder")->capture_default_str();
    c->add_option("--min-face", args->det.min_face_size, "facekit's smallest face, pixels")->capture_default_str();
    c->add_option("--threshold", args->thresholds, "facekit's P-, R-, O-Net thresholds");
    c->add_option("--threads", args->det.num_threads, "threads")->capture_default_str();
    c->add_option("--model", args->det.model_path, "MTCNN model file");
    c->add_option("--yunet", args->yunet_model, "also evaluate this YuNet ONNX model (cv::FaceDetectorYN) in the same run");
  };
  auto* wider = ev->add_subcommand("widerface", "the official WIDER FACE protocol (easy/medium/hard AP)");
  common(wider);
  wider->add_option("--gt", args->gt, "folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat")->required();
  wider->callback([args] {
    if (!args->thresholds.empty()) args->det.thresholds = parseThresholdList(args->thresholds);
    run(eval::loadWiderMat(args->gt), *args, "WIDER FACE val");
  });
  auto* own = ev->add_subcommand("detections", "AP on your own folder annotated in WIDER's *_bbx_gt.txt format");
  common(own);
  own->add_option("--annotations", args->annotations, "annotation file (path / count / x y w h ... per image)")->required();
  own->callback([args] {
    if (!args->thresholds.empty()) args->det.thresholds = parseThresholdList(args->thresholds);
    run(eval::loadBbxGtText(args->annotations), *args, "detection AP (" + fs::path(args->annotations).filename().string() + ")");
  });
  (void)exit_code;
}

}  // namespace facekit::cli
