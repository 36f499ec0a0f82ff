// facekit eval widerface | detections: detection accuracy by the official WIDER FACE protocol.
#include "cmd_eval.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "dlib_peer.hpp"
#include "eval/aflw.hpp"
#include "eval/landmark_eval.hpp"
#include "eval/plot.hpp"
#include "facekit/landmarks.hpp"
#include "eval/widerface.hpp"
#include "inputs.hpp"
#include "facekit/facekit.hpp"
#include "pipeline/cv_interop.hpp"
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
    cv::cvtColor(matView(img.view()), bgr, img.format == PixelFormat::kGray ? cv::COLOR_GRAY2BGR : cv::COLOR_RGB2BGR);
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

// ---- landmarks -------------------------------------------------------------------------------

struct LandmarkSample {
  std::string image;
  std::vector<Point2f> truth;  // 68 or 106 points
  bool has_pose = false;
  HeadPose pose;
};

struct LandmarkArgs {
  std::string aflw, xml, labels, out = "out/eval-landmarks", dlib_model = DlibPeer::defaultPredictorPath();
  LandmarkerOptions opt;
  bool no_dlib = false;
};

Box boundsOf(const std::vector<Point2f>& pts) {
  Box b{1e9f, 1e9f, -1e9f, -1e9f};
  for (const auto& p : pts) b = {std::min(b.x1, p.x), std::min(b.y1, p.y), std::max(b.x2, p.x), std::max(b.y2, p.y)};
  return b;
}

// The detection that overlaps the ground-truth face best (IoU with the box around its points,
// at least 0.2); -1 when none does (a miss).
template <typename GetBox>
int bestMatch(size_t n, GetBox box, const Box& truth) {
  int best = -1;
  float best_iou = 0.2f;
  for (size_t i = 0; i < n; ++i)
    if (const float o = iou(box(i), truth); o > best_iou) best_iou = o, best = int(i);
  return best;
}

void runLandmarkEval(LandmarkArgs& a) {
  std::vector<LandmarkSample> samples;
  std::string title;
  if (!a.aflw.empty()) {
    title = "AFLW2000-3D (" + fs::path(a.aflw).lexically_normal().filename().string() + ")";
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(a.aflw + "/images"))
      if (e.path().extension() == ".jpg") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const auto ann = eval::loadAflwAnnotation(a.aflw + "/mat/" + fs::path(f).stem().string() + ".mat");
      // The usual protocol: drop samples with any angle beyond 99 degrees (annotation failures).
      if (std::fabs(ann.pose.pitch) > 99 || std::fabs(ann.pose.yaw) > 99 || std::fabs(ann.pose.roll) > 99) continue;
      samples.push_back({f, ann.pts68, true, ann.pose});
    }
  } else if (!a.labels.empty()) {
    // facekit's own label format (facekit label): 106 points and pose per line.
    title = "facekit labels (" + fs::path(a.labels).filename().string() + ")";
    std::ifstream in(a.labels);
    if (!in) throw Error(Error::Code::kIoError, a.labels + ": cannot open");
    size_t line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception&) {
        throw Error(Error::Code::kBadModel, a.labels + ": line " + std::to_string(line_no) + " is not JSON");
      }
      if (j.value("status", "") != "ok" || !j.contains("points") || j["points"].size() != 106) continue;
      LandmarkSample smp{j["image"], {}, j.contains("pose"), {}};
      for (const auto& p : j["points"]) smp.truth.push_back({p[0].get<float>(), p[1].get<float>()});
      if (smp.has_pose) smp.pose = {j["pose"]["pitch"].get<float>(), j["pose"]["yaw"].get<float>(), j["pose"]["roll"].get<float>()};
      samples.push_back(std::move(smp));
    }
  } else {
    title = "dlib 68-point faces (" + fs::path(a.xml).filename().string() + ")";
    for (const auto& face : eval::loadDlibXml(a.xml)) {
      std::vector<Point2f> pts = face.parts;
      for (auto& p : pts) p.x += 0.5f, p.y += 0.5f;  // dlib pixel indices -> continuous coordinates
      if (pts.size() == 68) samples.push_back({(fs::path(a.xml).parent_path() / face.image).string(), pts, false, {}});
    }
  }
  if (samples.empty()) throw Error(Error::Code::kIoError, "no annotated faces found");

  auto lm = FaceLandmarker::create(a.opt);
  std::unique_ptr<DlibPeer> dlib;
  if (!a.no_dlib) dlib = std::make_unique<DlibPeer>(a.dlib_model);
  std::vector<double> ours_ion, ours_ipn, theirs_ion, theirs_ipn;
  size_t ours_missed = 0, theirs_missed = 0;
  double pose_err[3] = {0, 0, 0};
  size_t pose_n = 0;
  Progress progress("eval", samples.size());
  std::string cached_path;
  Image img;
  std::vector<FaceLandmarks> faces;
  std::vector<Box> dlib_boxes;
  for (const auto& s : samples) {
    if (s.image != cached_path) {  // several faces per image in the XML sets
      img = loadImage(s.image);
      faces = lm->detect(img.view());
      if (dlib) dlib_boxes = dlib->detect(img.view(), 1);
      cached_path = s.image;
    }
    const Box truth_box = boundsOf(s.truth);
    const int k = bestMatch(faces.size(), [&](size_t i) { return faces[i].face.box; }, truth_box);
    if (k < 0) {
      ++ours_missed;
    } else {
      const auto pred = s.truth.size() == 68 ? eval::to68(faces[size_t(k)].points)
                                             : std::vector<Point2f>(faces[size_t(k)].points.begin(), faces[size_t(k)].points.end());
      ours_ion.push_back(eval::nme(pred, s.truth, eval::Normaliser::kInterOcular));
      ours_ipn.push_back(eval::nme(pred, s.truth, eval::Normaliser::kInterPupil));
      if (s.has_pose) {
        const HeadPose& p = faces[size_t(k)].pose;
        pose_err[0] += std::fabs(p.pitch - s.pose.pitch), pose_err[1] += std::fabs(p.yaw - s.pose.yaw);
        pose_err[2] += std::fabs(p.roll - s.pose.roll), ++pose_n;
      }
    }
    if (dlib && s.truth.size() == 68) {
      const int d = bestMatch(dlib_boxes.size(), [&](size_t i) { return dlib_boxes[i]; }, truth_box);
      if (d < 0) {
        ++theirs_missed;
      } else {
        auto pred = dlib->landmarks68(img.view(), dlib_boxes[size_t(d)]);
        for (auto& p : pred) p.x += 0.5f, p.y += 0.5f;
        theirs_ion.push_back(eval::nme(pred, s.truth, eval::Normaliser::kInterOcular));
        theirs_ipn.push_back(eval::nme(pred, s.truth, eval::Normaliser::kInterPupil));
      }
    }
    progress.step();
  }
  fs::create_directories(a.out);
  nlohmann::ordered_json j;
  j["dataset"] = title;
  j["faces"] = samples.size();
  eval::LinePlot ced{"Cumulative error: " + title, "NME (inter-ocular)", "fraction of faces", 0, 0.2, 0, 1, {}};
  std::cout << "\n" << title << ": " << samples.size() << " faces\n\n| method | found | NME (ION) | NME (IPN) | failure rate @0.1 (ION) |\n|---|---|---|---|---|\n";
  auto row = [&](const std::string& name, const std::vector<double>& ion, const std::vector<double>& ipn, size_t missed) {
    const auto si = eval::summarise(ion), sp = eval::summarise(ipn);
    char buf[160];
    std::snprintf(buf, sizeof buf, "| %s | %zu/%zu | %.4f | %.4f | %.3f |\n", name.c_str(), ion.size(), ion.size() + missed, si.mean, sp.mean,
                  si.failure_rate);
    std::cout << buf;
    j["methods"][name] = {{"found", ion.size()}, {"missed", missed}, {"nme_ion", si.mean}, {"nme_ipn", sp.mean}, {"failure_rate_ion_0.1", si.failure_rate}};
    ced.series.push_back({name, si.ced});
  };
  row(samples.front().truth.size() == 68 ? "facekit (mesh, via 106->68)" : "facekit (mesh, 106 points)", ours_ion, ours_ipn, ours_missed);
  if (dlib && samples.front().truth.size() == 68) row("dlib HOG + shape_predictor_68", theirs_ion, theirs_ipn, theirs_missed);
  if (pose_n) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "\npose mean absolute error, %zu faces: pitch %.2f, yaw %.2f, roll %.2f, mean %.2f degrees\n", pose_n,
                  pose_err[0] / pose_n, pose_err[1] / pose_n, pose_err[2] / pose_n, (pose_err[0] + pose_err[1] + pose_err[2]) / (3.0 * pose_n));
    std::cout << buf;
    j["pose_mae"] = {{"faces", pose_n}, {"pitch", pose_err[0] / pose_n}, {"yaw", pose_err[1] / pose_n}, {"roll", pose_err[2] / pose_n}};
  }
  std::ofstream(a.out + "/results.json") << j.dump(2) << "\n";
  eval::savePlot(ced, a.out + "/ced.png");
  std::cout << "wrote " << a.out << "/{results.json,ced.png}\n";
}

}  // namespace

void registerEval(CLI::App& app) {
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
    if (!args->thresholds.empty()) args->det.thresholds = parseThresholds(args->thresholds);
    run(eval::loadWiderMat(args->gt), *args, "WIDER FACE val");
  });
  auto* own = ev->add_subcommand("detections", "AP on your own folder annotated in WIDER's *_bbx_gt.txt format");
  common(own);
  own->add_option("--annotations", args->annotations, "annotation file (path / count / x y w h ... per image)")->required();
  own->callback([args] {
    if (!args->thresholds.empty()) args->det.thresholds = parseThresholds(args->thresholds);
    run(eval::loadBbxGtText(args->annotations), *args, "detection AP (" + fs::path(args->annotations).filename().string() + ")");
  });
  auto largs = std::make_shared<LandmarkArgs>();
  auto* lmk = ev->add_subcommand("landmarks", "landmark NME (ION / IPN), failure rate, CED plot and pose error");
  auto* src = lmk->add_option_group("ground truth");
  src->add_option("--aflw", largs->aflw, "AFLW2000-3D folder with images/ and mat/");
  src->add_option("--xml", largs->xml, "dlib imglab XML with 68 parts per box");
  src->add_option("--labels", largs->labels, "facekit label output (.jsonl, 106 points + pose)");
  src->require_option(1);
  lmk->add_option("--out", largs->out, "output folder")->capture_default_str();
  lmk->add_option("--threads", largs->opt.num_threads, "threads")->capture_default_str();
  lmk->add_option("--dlib-model", largs->dlib_model, "dlib 68-point shape predictor (peer)")->capture_default_str();
  lmk->add_flag("--no-dlib", largs->no_dlib, "skip the dlib peer");
  lmk->callback([largs] { runLandmarkEval(*largs); });
}

}  // namespace facekit::cli
