// facekit landmarks | label | make-pose-template
#include "cmd_landmarks.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "facekit/facekit.hpp"
#include "facekit/landmarks.hpp"
#include "models/cv_interop.hpp"
#include "pipeline/label_consensus.hpp"
#include "inputs.hpp"
#include "models/landmarks/head_pose.hpp"
#include "programs.hpp"
#include "progress.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {

// Outputs are written under a partial name and renamed when complete, so a failure or a kill
// never leaves a truncated file where a good one was expected. The extension is kept (video
// writers choose the container by it): out.mp4 -> out.partial.mp4.
std::string partialPath(const std::string& path) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + ".partial" + p.extension().string())).string();
}

namespace {

struct Args {
  std::vector<std::string> inputs;
  std::string images, json, draw, out, backend = "landmark106", format = "facekit";
  LandmarkerOptions opt;
  double pad = 0.5;
  ConsensusOptions consensus;
  double max_spread = 0.05;
  bool no_mirror = false;
  bool indices = false;
  bool zoom = false;
  bool no_smooth = false;
  int detect_every = 10;
};

// The first face's neighbourhood, enlarged to 1000 x 1000, with the landmarks moved along: for
// pictures where every point and index must be readable.
Image zoomOnFirstFace(const Image& img, std::vector<FaceLandmarks>& faces) {
  if (faces.empty()) return img;
  const Box b = faces[0].face.box;
  const float side = 1.35f * std::max(b.width(), b.height()), x0 = 0.5f * (b.x1 + b.x2) - side / 2, y0 = 0.5f * (b.y1 + b.y2) - side / 2;
  const float s = 1000.f / side;
  cv::Mat out;
  cv::warpAffine(matView(img.view()), out, cv::Matx23d(s, 0, -x0 * s, 0, s, -y0 * s), cv::Size(1000, 1000), cv::INTER_CUBIC, cv::BORDER_CONSTANT);
  faces.resize(1);
  FaceLandmarks& f = faces[0];
  auto move = [&](Point2f& p) { p = {(p.x - x0) * s, (p.y - y0) * s}; };
  for (auto& p : f.points) move(p);
  for (auto& p : f.face.landmarks) move(p);
  f.face.box = {(b.x1 - x0) * s, (b.y1 - y0) * s, (b.x2 - x0) * s, (b.y2 - y0) * s};
  return imageFromMat(out, img.format);
}

// Pads an image by `fraction` of its size on every side with replicated borders: detectors
// need context around faces that fill the frame (face crops).
Image padded(const Image& img, double fraction, int& dx, int& dy) {
  dx = int(img.width * fraction), dy = int(img.height * fraction);
  cv::Mat big;
  cv::copyMakeBorder(matView(img.view()), big, dy, dy, dx, dx, cv::BORDER_REPLICATE);
  return imageFromMat(big, img.format);
}

void shift(FaceLandmarks& f, float dx, float dy) {
  f.face.box = {f.face.box.x1 - dx, f.face.box.y1 - dy, f.face.box.x2 - dx, f.face.box.y2 - dy};
  for (auto& p : f.face.landmarks) p.x -= dx, p.y -= dy;
  for (auto& p : f.points) p.x -= dx, p.y -= dy;
  for (auto& p : f.mesh) p[0] -= dx, p[1] -= dy;
}

// The --backend choice into the options (every subcommand here takes it).
void applyBackend(Args& a) {
  a.opt.backend = a.backend == "mesh" ? LandmarkBackend::kMesh : LandmarkBackend::kLandmark106;
}

void runLandmarks(Args& a) {
  auto lm = FaceLandmarker::create(a.opt);
  const int rc = runOnImages(a.inputs, a.json, a.draw, "landmarks", [&](const std::string& file, bool want_drawing) {
    const Image img = loadImage(file);
    const auto faces = lm->detect(img.view());
    ImageOutput out{a.format == "modelscope" ? toModelScopeLandmarksJson(faces) : toLandmarksJson(faces), {}};
    if (want_drawing) {
      auto shown = faces;
      const Image base = a.zoom ? zoomOnFirstFace(img, shown) : img;
      out.drawing = drawLandmarks(base.view(), shown, a.indices);
    }
    return out;
  });
  if (rc) throw ExitCode{rc};
}

struct LabelResult {
  std::vector<std::string> lines;
  size_t faces = 0, low = 0, unstable = 0;
  bool failed = false;
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// One image: faces found (on a padded copy if needed), each labelled by the consensus of several
// landmark passes; faces whose passes disagree by more than max_spread are marked "unstable".
LabelResult labelOne(FaceLandmarker& lm, const std::string& file, const Args& a) {
  LabelResult r;
  nlohmann::ordered_json base{{"image", file}};
  try {
    const Image img = loadImage(file);
    Image work_img;
    const Image* work = &img;
    int dx = 0, dy = 0;
    auto found = lm.detect(img.view());
    if (found.empty() && a.pad > 0) {
      work_img = padded(img, a.pad, dx, dy);
      work = &work_img;
      found = lm.detect(work->view());
    }
    if (found.empty()) {
      base["status"] = "no_face";
      r.lines.push_back(base.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    for (size_t k = 0; k < found.size(); ++k) {
      ConsensusOptions co = a.consensus;
      co.seed = fnv1a(file) + k;
      const ConsensusLandmarks c = consensusLandmarks(lm, work->view(), found[k].face, co);
      FaceLandmarks f = c.landmarks;
      shift(f, float(dx), float(dy));
      auto j = nlohmann::ordered_json::parse(toLandmarksJson({f}))["faces"][0];
      nlohmann::ordered_json line = base;
      const bool stable = c.spread <= a.max_spread;
      line["status"] = f.confidence < 0.5f ? "low_confidence" : stable ? "ok" : "unstable";
      line["face_index"] = k;
      line["width"] = img.width;
      line["height"] = img.height;
      line["padded"] = work != &img;
      for (auto& [key, v] : j.items()) line[key] = v;
      line["passes"] = c.passes;
      line["spread"] = std::round(c.spread * 1e4) / 1e4;
      line["teacher"] = a.opt.backend == LandmarkBackend::kMesh ? "mediapipe-facemesh" : "facekit-landmark106";
      r.lines.push_back(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      ++r.faces;
      r.low += f.confidence < 0.5f;
      r.unstable += f.confidence >= 0.5f && !stable;
    }
  } catch (const Error& e) {
    r.failed = true;
    base["status"] = "error";
    base["error"] = e.what();
    r.lines.push_back(base.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return r;
}

// Images are spread over --threads workers, each with its own single-threaded landmarker:
// per-image work is too small to split one image across threads (that measured 7x slower),
// while whole images scale. Lines are written in input order.
void runLabel(Args& a) {
  const auto files = expandImageInputs({a.images});
  const int workers = std::max(1, a.opt.num_threads);
  LandmarkerOptions one = a.opt;
  one.num_threads = 1;
  std::vector<std::unique_ptr<FaceLandmarker>> lms;
  for (int w = 0; w < workers; ++w) lms.push_back(FaceLandmarker::create(one));
  if (fs::path(a.out).has_parent_path()) fs::create_directories(fs::path(a.out).parent_path());
  std::ofstream out(partialPath(a.out));
  if (!out) throw Error(Error::Code::kIoError, "cannot write " + a.out);

  Progress progress("label", files.size());
  std::vector<LabelResult> results(files.size());
  std::vector<char> done(files.size(), 0);
  std::mutex mu;
  std::condition_variable ready;
  std::atomic<size_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      for (size_t i; (i = next++) < files.size();) {
        LabelResult r = labelOne(*lms[size_t(w)], files[i], a);
        std::lock_guard<std::mutex> lock(mu);
        results[i] = std::move(r);
        done[i] = 1;
        ready.notify_one();
      }
    });
  size_t faces_total = 0, images_with_face = 0, low = 0, unstable = 0, failed = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    std::unique_lock<std::mutex> lock(mu);
    ready.wait(lock, [&] { return done[i] != 0; });
    LabelResult r = std::move(results[i]);
    lock.unlock();
    for (const auto& line : r.lines) out << line << "\n";
    faces_total += r.faces, low += r.low, unstable += r.unstable, failed += r.failed, images_with_face += r.faces > 0;
    progress.step();
  }
  for (auto& t : threads) t.join();
  out.close();
  if (!out) throw Error(Error::Code::kIoError, "cannot write " + a.out);
  fs::rename(partialPath(a.out), a.out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "facekit label: " << files.size() << " images, " << images_with_face << " with a face ("
            << (files.empty() ? 0.0 : 100.0 * double(images_with_face) / double(files.size())) << "%), " << faces_total << " faces, " << low
            << " low-confidence, " << unstable << " unstable, " << failed << " unreadable; " << double(faces_total) / secs << " faces/s with " << workers
            << " thread(s)\n";
}

void runTemplate(Args& a) {
  const auto files = expandImageInputs({a.images});
  auto lm = FaceLandmarker::create(a.opt);
  std::vector<landmarks::Mesh> meshes;
  Progress progress("template", files.size());
  for (const auto& file : files) {
    const Image img = loadImage(file);
    for (const auto& f : lm->detect(img.view()))
      if (f.confidence > 0.9f) meshes.push_back(f.mesh);
    progress.step();
  }
  const auto t = landmarks::buildPoseTemplate(meshes);
  std::ofstream o(a.out);
  o << "# facekit head-pose template: Procrustes mean of " << meshes.size() << " MediaPipe meshes, in the face's symmetry frame.\n"
    << "# made by: facekit make-pose-template --images " << a.images << " --out " << a.out << "\n"
    << landmarks::poseTemplateCsv(t);
  std::cerr << "facekit: wrote " << a.out << " from " << meshes.size() << " faces\n";
}

}  // namespace

void registerLandmarks(CLI::App& app, VideoRunner run_video) {
  auto args = std::make_shared<Args>();
  auto common = [args](CLI::App* c) {
    c->add_option("--threads", args->opt.num_threads, "threads")->capture_default_str();
    c->add_option("--min-face", args->opt.detector.min_face_size, "smallest face, pixels")->capture_default_str();
    c->add_option("--detector-model", args->opt.detector.model_path, "MTCNN model file");
    c->add_option("--mesh-model", args->opt.mesh_model_path, "face mesh model file");
    c->add_option("--model", args->opt.model_path, "facekit-106 model file (default: " + defaultModelPath("landmark106.safetensors") + ")");
    c->add_option("--backend", args->backend, "landmark106: facekit's small model (default); mesh: the MediaPipe face mesh teacher")
        ->check(CLI::IsMember({"landmark106", "mesh"}))
        ->capture_default_str();
    c->add_option("--refine", args->opt.refine_passes, "re-crops from the previous pass's points (default: landmark106 0, mesh 1)");
    auto* upright = c->add_flag_callback("--upright-only", [args] { args->opt.detector.all_orientations = false; },
                                         "only faces within about +-45 degrees of upright (~0.7x the time of the default, every roll)");
    c->add_flag_callback("--all-orientations", [args] { args->opt.detector.all_orientations = true; }, "faces at any roll (the default)")
        ->excludes(upright);
  };
  auto* lm = app.add_subcommand("landmarks", "106-point landmarks and head pose (JSON)");
  common(lm);
  lm->add_option("images", args->inputs, "image files or folders")->required();
  lm->add_option("--format", args->format, "facekit: {faces: [...]}; modelscope: face_2d_keypoints' {boxes, keypoints, poses}")
      ->check(CLI::IsMember({"facekit", "modelscope"}))
      ->capture_default_str();
  lm->add_option("--json", args->json, "write the JSON here instead of stdout");
  lm->add_option("--draw", args->draw, "write annotated copies: a file (one image) or a folder");
  lm->add_flag("--indices", args->indices, "with --draw: write each point's index");
  lm->add_flag("--zoom", args->zoom, "with --draw: show only the first face, enlarged to 1000 x 1000");
  lm->callback([args] {
    applyBackend(*args);
    runLandmarks(*args);
  });

  const std::string video_help = "landmarks on every frame of a video, smoothed; annotated video and JSON lines";
  if (!run_video) {
    addSiblingCommand(app, "video", video_help, "facekit-video");  // OpenCV's video stack is loaded there only
  } else {
    auto* video = app.add_subcommand("video", video_help);
    common(video);
    video->add_option("video", args->inputs, "input video file, or a camera index (0, 1, ...)")->required();
    video->add_option("--detect-every", args->detect_every, "run the detector every N frames (tracked from the points in between; 1: every frame)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    video->add_option("--out", args->out, "annotated video (.mp4)");
    video->add_option("--json", args->json, "one JSON line per frame: {frame, time, faces}");
    video->add_flag("--no-smooth", args->no_smooth, "raw per-frame landmarks (no One Euro smoothing)");
    video->callback([args, run_video] {
      applyBackend(*args);
      run_video(VideoArgs{args->inputs.at(0), args->out, args->json, args->opt, args->detect_every, args->no_smooth});
    });
  }

  auto* label = app.add_subcommand("label", "label a folder with 106 points + pose (JSON lines, one per face)");
  common(label);
  label->add_option("--images", args->images, "image folder (searched recursively)")->required();
  label->add_option("--out", args->out, "output .jsonl")->required();
  label->add_option("--pad", args->pad, "when no face is found, retry with this much replicated border (fraction of the size)")
      ->capture_default_str();
  label->add_option("--jitters", args->consensus.jitters, "extra passes per face with the box jittered")->capture_default_str();
  label->add_option("--jitter", args->consensus.jitter, "jitter size, fraction of the box side")->capture_default_str();
  label->add_flag("--no-mirror", args->no_mirror, "skip the pass on the mirrored image");
  label->add_option("--max-spread", args->max_spread, "passes disagreeing by more than this (mean point distance / inter-ocular) mark the face unstable")
      ->capture_default_str();
  label->callback([args] {
    args->consensus.mirror = !args->no_mirror;
    applyBackend(*args);
    runLabel(*args);
  });

  auto* tmpl = app.add_subcommand("make-pose-template", "rebuild the head-pose template from photos of frontal faces");
  common(tmpl);
  tmpl->add_option("--images", args->images, "image folder")->required();
  tmpl->add_option("--out", args->out, "output CSV (data/pose_template.csv)")->required();
  tmpl->callback([args] {
    args->opt.backend = LandmarkBackend::kMesh;  // the template is made of meshes
    runTemplate(*args);
  });
}

}  // namespace facekit::cli
