// facekit eval widerface | detections: detection accuracy by the official WIDER FACE protocol.
// facekit eval landmarks: landmark NME and pose error of both facekit backends next to dlib.
#include "cmd_eval.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
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
#include "models/cv_interop.hpp"
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

  const std::string ours_name = a.det.precision == ComputePrecision::kInt8 ? "facekit int8" : "facekit";
  std::vector<std::pair<std::string, std::vector<eval::SettingResult>>> all = {{ours_name, eval::evaluate(gt, ours)}};
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
  std::ofstream(a.out + "/results.json") << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  eval::savePlot(plot, a.out + "/pr_curves.png");
  std::cout << "wrote " << a.out << "/{results.json,pr_curves.csv,pr_curves.png,predictions/}\n";
}

// ---- landmarks -------------------------------------------------------------------------------
// Every landmark method on the same annotated faces in one run: facekit's backends (the small
// facekit-106 model and the face mesh teacher, on the same MTCNN detections) and dlib's HOG
// detector + 68-point shape predictor as a peer. One markdown table, one CED plot, results.json.

struct LandmarkSample {
  std::string image;
  std::vector<Point2f> truth;  // 68 or 106 points
  bool has_pose = false;
  HeadPose pose;
};

struct LandmarkArgs {
  std::string aflw, xml, labels, out = "out/eval-landmarks", dlib_model = DlibPeer::defaultPredictorPath();
  std::string backends = "landmark106,mesh", thresholds;
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

// One row of the comparison: per-sample errors (NaN where the method missed the face).
struct LandmarkMethod {
  std::string name, points, backend;  // backend: "landmark106" / "mesh" / "" (dlib)
  std::unique_ptr<FaceLandmarker> lm;
  std::vector<double> ion, ipn;
  std::vector<std::array<double, 3>> pose_err;  // |pitch|, |yaw|, |roll| error; NaN without ground truth
};

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void runLandmarkEval(LandmarkArgs& a) {
  std::vector<LandmarkSample> samples;
  std::string title, subset_note, label_note;
  if (!a.aflw.empty()) {
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
    constexpr size_t kFullSet = 2000;
    title = "AFLW2000-3D" + std::string(files.size() < kFullSet ? " SUBSET" : "") + " (" +
            fs::path(a.aflw).lexically_normal().filename().string() + ")";
    subset_note = std::to_string(files.size()) + " of the " + std::to_string(kFullSet) + " AFLW2000-3D images, " +
                  std::to_string(files.size() - samples.size()) + " dropped (an angle beyond 99 deg, the usual protocol): " +
                  (files.size() < kFullSet ? "subset figures, not comparable to published full-set numbers" : "the full set");
  } else if (!a.labels.empty()) {
    // facekit's own label format (facekit label): 106 points and pose per line.
    title = "facekit labels (" + fs::path(a.labels).filename().string() + ")";
    std::ifstream in(a.labels);
    if (!in) throw Error(Error::Code::kIoError, a.labels + ": cannot open");
    size_t line_no = 0;
    std::set<std::string> teachers;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception&) {
        throw Error(Error::Code::kBadModel, a.labels + ": line " + std::to_string(line_no) + " is not JSON");
      }
      // Every field is checked before it is read: a malformed line is one error naming it, never
      // an nlohmann exception or a read past the end of a short point.
      const std::string where = a.labels + ": line " + std::to_string(line_no) + ": ";
      auto bad = [&](const std::string& what) { return Error(Error::Code::kBadModel, where + what); };
      if (!j.is_object()) throw bad("not a JSON object");
      const auto status = j.find("status");
      if (status == j.end() || !status->is_string() || status->get<std::string>() != "ok") continue;
      const auto points = j.find("points");
      if (points == j.end() || !points->is_array() || points->size() != 106) continue;
      const auto image = j.find("image");
      if (image == j.end() || !image->is_string()) throw bad("\"image\" must be a string");
      if (j.contains("teacher") && j["teacher"].is_string()) teachers.insert(j["teacher"].get<std::string>());
      auto number = [&](const nlohmann::json& v, const char* what) {
        if (!v.is_number() || !std::isfinite(v.get<double>()) || std::fabs(v.get<double>()) > 1e7) throw bad(std::string(what) + " must be a finite number");
        return v.get<float>();
      };
      LandmarkSample smp{image->get<std::string>(), {}, j.contains("pose"), {}};
      for (const auto& p : *points) {
        if (!p.is_array() || p.size() < 2) throw bad("every point must be [x, y]");
        smp.truth.push_back({number(p[0], "a point's x"), number(p[1], "a point's y")});
      }
      if (smp.has_pose) {
        const auto& pose = j["pose"];
        if (!pose.is_object() || !pose.contains("pitch") || !pose.contains("yaw") || !pose.contains("roll"))
          throw bad("\"pose\" must be an object with pitch, yaw and roll");
        smp.pose = {number(pose["pitch"], "pitch"), number(pose["yaw"], "yaw"), number(pose["roll"], "roll")};
      }
      samples.push_back(std::move(smp));
    }
    subset_note = "the faces labelled \"ok\" in " + a.labels;
    std::string who;
    for (const auto& t : teachers) who += (who.empty() ? "" : ", ") + t;
    label_note = "these labels were made by a model (" + (who.empty() ? std::string("teacher not recorded") : who) +
                 "), not by people: the method that made them is measured against itself; dlib is compared on the labels' 106 -> 68 points";
  } else {
    title = "dlib 68-point faces (" + fs::path(a.xml).filename().string() + ")";
    for (const auto& face : eval::loadDlibXml(a.xml)) {
      std::vector<Point2f> pts = face.parts;
      for (auto& p : pts) p.x += 0.5f, p.y += 0.5f;  // dlib pixel indices -> continuous coordinates
      if (pts.size() == 68) samples.push_back({(fs::path(a.xml).parent_path() / face.image).string(), pts, false, {}});
    }
    subset_note = "every 68-point face of " + fs::path(a.xml).filename().string() + ": a small sample, not a benchmark's full set (1 face moves a rate by " +
                  fmt("%.1f", samples.empty() ? 0.0 : 100.0 / double(samples.size())) + " percentage points)";
    std::ifstream in(a.xml);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("shape_predictor_68_face_landmarks") != std::string::npos)
      label_note = "the XML says its landmarks came from dlib's shape_predictor_68_face_landmarks.dat: dlib is measured against itself here";
  }
  if (samples.empty()) throw Error(Error::Code::kIoError, "no annotated faces found");
  const bool truth68 = samples.front().truth.size() == 68;

  // The methods, in table order.
  std::vector<LandmarkMethod> methods;
  for (const std::string& b : splitList(a.backends)) {
    if (b != "landmark106" && b != "mesh") throw Error(Error::Code::kInvalidArgument, "--backends: unknown backend '" + b + "' (landmark106, mesh)");
    for (const auto& m : methods)
      if (m.backend == b) throw Error(Error::Code::kInvalidArgument, "--backends: '" + b + "' given twice");
    LandmarkerOptions o = a.opt;
    o.backend = b == "mesh" ? LandmarkBackend::kMesh : LandmarkBackend::kLandmark106;
    LandmarkMethod m;
    m.backend = b;
    m.name = "facekit (" + b + (truth68 ? ", via 106->68)" : ", 106 points)");
    m.points = truth68 ? "68 (106->68)" : "106";
    m.lm = FaceLandmarker::create(o);
    methods.push_back(std::move(m));
  }
  std::unique_ptr<DlibPeer> dlib;
  if (!a.no_dlib) {
    dlib = std::make_unique<DlibPeer>(a.dlib_model);
    LandmarkMethod m;
    m.name = "dlib HOG + shape_predictor_68";
    m.points = truth68 ? "68" : "68 (labels' 106->68)";
    methods.push_back(std::move(m));
  }
  if (methods.empty()) throw Error(Error::Code::kInvalidArgument, "nothing to evaluate: no --backends and --no-dlib");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (auto& m : methods) {
    m.ion.assign(samples.size(), nan);
    m.ipn.assign(samples.size(), nan);
    m.pose_err.assign(samples.size(), {nan, nan, nan});
  }

  // One detector for both facekit backends: they landmark exactly the same detections.
  DetectorOptions det_opt = a.opt.detector;
  det_opt.num_threads = a.opt.num_threads;
  auto detector = FaceDetector::create(det_opt);
  Progress progress("eval", samples.size());
  std::string cached_path;
  Image img;
  std::vector<Face> faces;
  std::vector<Box> dlib_boxes;
  for (size_t si = 0; si < samples.size(); ++si) {
    const LandmarkSample& s = samples[si];
    if (s.image != cached_path) {  // several faces per image in the XML sets
      img = loadImage(s.image);
      faces = detector->detect(img.view());
      if (dlib) dlib_boxes = dlib->detect(img.view(), 1);
      cached_path = s.image;
    }
    const Box truth_box = boundsOf(s.truth);
    const int k = bestMatch(faces.size(), [&](size_t i) { return faces[i].box; }, truth_box);
    for (auto& m : methods) {
      if (m.lm) {
        if (k < 0) continue;
        const FaceLandmarks f = m.lm->landmark(img.view(), faces[size_t(k)]);
        const auto pred = truth68 ? eval::to68(f.points) : std::vector<Point2f>(f.points.begin(), f.points.end());
        m.ion[si] = eval::nme(pred, s.truth, eval::Normaliser::kInterOcular);
        m.ipn[si] = eval::nme(pred, s.truth, eval::Normaliser::kInterPupil);
        if (s.has_pose)
          m.pose_err[si] = {std::fabs(f.pose.pitch - s.pose.pitch), std::fabs(f.pose.yaw - s.pose.yaw), std::fabs(f.pose.roll - s.pose.roll)};
      } else {
        const int d = bestMatch(dlib_boxes.size(), [&](size_t i) { return dlib_boxes[i]; }, truth_box);
        if (d < 0) continue;
        auto pred = dlib->landmarks68(img.view(), dlib_boxes[size_t(d)]);
        for (auto& p : pred) p.x += 0.5f, p.y += 0.5f;
        std::vector<Point2f> truth = s.truth;
        if (!truth68) {
          std::array<Point2f, kNumLandmarks106> t106;
          std::copy(s.truth.begin(), s.truth.end(), t106.begin());
          truth = eval::to68(t106);
        }
        m.ion[si] = eval::nme(pred, truth, eval::Normaliser::kInterOcular);
        m.ipn[si] = eval::nme(pred, truth, eval::Normaliser::kInterPupil);
      }
    }
    progress.step();
  }

  // Figures per method, and on the faces every method found (the fair comparison).
  std::vector<size_t> common;
  for (size_t i = 0; i < samples.size(); ++i)
    if (std::all_of(methods.begin(), methods.end(), [&](const LandmarkMethod& m) { return !std::isnan(m.ion[i]); })) common.push_back(i);
  auto found = [](const std::vector<double>& v) {
    std::vector<double> out;
    for (double e : v)
      if (!std::isnan(e)) out.push_back(e);
    return out;
  };
  auto on = [](const std::vector<double>& v, const std::vector<size_t>& idx) {
    std::vector<double> out;
    for (size_t i : idx) out.push_back(v[i]);
    return out;
  };
  const bool any_pose = std::any_of(samples.begin(), samples.end(), [](const LandmarkSample& s) { return s.has_pose; });

  fs::create_directories(a.out);
  nlohmann::ordered_json j;
  j["dataset"] = title;
  j["faces"] = samples.size();
  j["subset"] = subset_note;
  j["faces_found_by_all"] = common.size();
  eval::LinePlot ced{"Cumulative error: " + title, "NME (inter-ocular)", "fraction of the faces found", 0, 0.2, 0, 1, {}};
  std::ostringstream t;
  t << "\n" << title << ": " << samples.size() << " faces -- " << subset_note << "\n\n"
    << "| method | points | faces found | NME (ION) | NME (IPN) | failure rate @0.1 (ION) | NME (ION), the " << common.size()
    << " faces all found |" << (any_pose ? " pitch MAE (deg) | yaw MAE | roll MAE | pose MAE, mean |" : "") << "\n|---|---|---|---|---|---|---|"
    << (any_pose ? "---|---|---|---|" : "") << "\n";
  std::map<std::string, double> mean_ion, mean_ipn;  // on the common faces, for the ratio
  for (auto& m : methods) {
    const auto si = eval::summarise(found(m.ion)), sp = eval::summarise(found(m.ipn)), sc = eval::summarise(on(m.ion, common));
    mean_ion[m.name] = sc.mean, mean_ipn[m.name] = eval::summarise(on(m.ipn, common)).mean;
    const std::string na = "n/a";
    t << "| " << m.name << " | " << m.points << " | " << si.count << "/" << samples.size() << " | " << (si.count ? fmt("%.4f", si.mean) : na)
      << " | " << (sp.count ? fmt("%.4f", sp.mean) : na) << " | " << (si.count ? fmt("%.3f", si.failure_rate) : na) << " | "
      << (sc.count ? fmt("%.4f", sc.mean) : na) << " |";
    auto& jm = j["methods"][m.name];
    jm = {{"points", m.points},
          {"found", si.count},
          {"missed", samples.size() - si.count},
          {"nme_ion", si.mean},
          {"nme_ipn", sp.mean},
          {"failure_rate_ion_0.1", si.failure_rate},
          {"nme_ion_common", sc.mean}};
    if (any_pose) {
      double sum[3] = {0, 0, 0};
      size_t n = 0;
      for (const auto& e : m.pose_err)
        if (!std::isnan(e[0])) sum[0] += e[0], sum[1] += e[1], sum[2] += e[2], ++n;
      if (n) {
        const double p = sum[0] / n, y = sum[1] / n, r = sum[2] / n, mean = (p + y + r) / 3;
        t << " " << fmt("%.2f", p) << " | " << fmt("%.2f", y) << " | " << fmt("%.2f", r) << " | " << fmt("%.2f", mean) << " |";
        jm["pose_mae"] = {{"faces", n}, {"pitch", p}, {"yaw", y}, {"roll", r}, {"mean", mean}};
        // The single-backend key older readers use: the mesh's figures.
        if (m.backend == "mesh") j["pose_mae"] = {{"faces", n}, {"pitch", p}, {"yaw", y}, {"roll", r}};
      } else {
        t << (m.lm ? " n/a | n/a | n/a | n/a |" : " no pose output | n/a | n/a | n/a |");
      }
    }
    t << "\n";
    ced.series.push_back({m.name + " " + fmt("%.4f", si.mean), si.ced});
  }
  const std::string small = "facekit (landmark106" + std::string(truth68 ? ", via 106->68)" : ", 106 points)");
  const std::string mesh = "facekit (mesh" + std::string(truth68 ? ", via 106->68)" : ", 106 points)");
  if (mean_ion.count(small) && mean_ion.count(mesh) && mean_ion[mesh] > 0 && !common.empty()) {
    const double r_ion = mean_ion[small] / mean_ion[mesh], r_ipn = mean_ipn[small] / mean_ipn[mesh];
    t << "\nsmall model / mesh NME, the " << common.size() << " faces all found: ION " << fmt("%.2f", r_ion) << "x, IPN " << fmt("%.2f", r_ipn)
      << "x (below 1: the small model is closer to the ground truth)\n";
    j["ratio_small_over_mesh"] = {{"faces", common.size()}, {"nme_ion", r_ion}, {"nme_ipn", r_ipn}};
  }
  // The conditions the figures hold under.
  std::vector<std::string> cond = {
      "faces: a method's face counts as found when one of its detections overlaps the box around the ground-truth points with IoU > 0.2; "
      "misses are excluded from its NME, so compare NME on the faces all methods found (the 'all found' column)",
      "NME: mean point-to-point error / inter-ocular distance (outer eye corners: 68-point 36-45, 106-point 66-75) or inter-pupil "
      "distance (eye centres: 68-point means of 36-41 and 42-47, 106-point pupils 104/105); failure: ION NME > 0.1",
      "facekit: one MTCNN detection pass (min face " + std::to_string(a.opt.detector.min_face_size) + ", thresholds " +
          fmt("%g", a.opt.detector.thresholds[0]) + "/" + fmt("%g", a.opt.detector.thresholds[1]) + "/" + fmt("%g", a.opt.detector.thresholds[2]) +
          (a.opt.detector.all_orientations ? ", all orientations" : ", upright only") + ") shared by the backends, refine passes " + (a.opt.refine_passes < 0 ? std::string("landmark106 0, mesh 1 (each backend's default)") : std::to_string(a.opt.refine_passes))};
  for (const auto& m : methods)
    if (m.lm)
      cond.back() += "; " + m.backend + " model " +
                     (m.backend == "mesh" ? (a.opt.mesh_model_path.empty() ? defaultModelPath("facemesh.safetensors") : a.opt.mesh_model_path)
                                          : (a.opt.model_path.empty() ? defaultModelPath("landmark106.safetensors") : a.opt.model_path));
  if (dlib) cond.push_back("dlib: its own HOG detector (1x upsampling) and " + a.dlib_model + " on its boxes (no pose output)");
  if (any_pose) cond.push_back("pose MAE: absolute angle error against the ground-truth pose, degrees, on each method's found faces");
  if (!label_note.empty()) cond.push_back(label_note);
  t << "\nconditions:\n";
  for (const auto& c : cond) t << "- " << c << "\n";
  j["conditions"] = cond;
  std::cout << t.str();
  std::ofstream(a.out + "/results.md") << t.str().substr(1);
  std::ofstream(a.out + "/results.json") << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  eval::savePlot(ced, a.out + "/ced.png");
  std::cout << "wrote " << a.out << "/{results.md,results.json,ced.png}\n";
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
    c->add_option_function<std::string>(
         "--precision", [args](const std::string& p) { args->det.precision = p == "int8" ? ComputePrecision::kInt8 : ComputePrecision::kFp32; },
         "facekit's arithmetic: fp32 (default) or int8")
        ->check(CLI::IsMember({"fp32", "int8"}));
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
  lmk->add_option("--backends", largs->backends, "facekit backends to compare, comma-separated: landmark106, mesh")->capture_default_str();
  lmk->add_option("--model", largs->opt.model_path, "facekit-106 model file (default: " + defaultModelPath("landmark106.safetensors") + ")");
  lmk->add_option("--mesh-model", largs->opt.mesh_model_path, "face mesh model file");
  lmk->add_option("--detector-model", largs->opt.detector.model_path, "MTCNN model file");
  lmk->add_option("--min-face", largs->opt.detector.min_face_size, "facekit's smallest face, pixels")->capture_default_str();
  lmk->add_option("--threshold", largs->thresholds, "facekit's P-, R-, O-Net thresholds");
  lmk->add_option("--refine", largs->opt.refine_passes, "facekit re-crops from the previous pass's points (default: each backend's own, landmark106 0, mesh 1)");
  lmk->add_option("--threads", largs->opt.num_threads, "threads")->capture_default_str();
  lmk->add_option("--dlib-model", largs->dlib_model, "dlib 68-point shape predictor (peer)")->capture_default_str();
  lmk->add_flag("--no-dlib", largs->no_dlib, "skip the dlib peer");
  lmk->add_flag_callback("--upright-only", [largs] { largs->opt.detector.all_orientations = false; },
                         "facekit finds upright faces only (default: any roll, as facekit landmarks)");
  lmk->callback([largs] {
    if (!largs->thresholds.empty()) largs->opt.detector.thresholds = parseThresholds(largs->thresholds);
    runLandmarkEval(*largs);
  });
}

}  // namespace facekit::cli
