#include "mtcnn_train.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>

#include "checkpoint.hpp"
#include "eval/widerface.hpp"
#include "facekit/error.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"
#include "mtcnn_data.hpp"
#include "mtcnn_net.hpp"
#include "train_common.hpp"

namespace fs = std::filesystem;

namespace facekit::train {
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Batch {
  torch::Tensor pixels, kind, box, points;
};

// NCHW float batch, normalised as the detector does; mirrored at random (boxes and points too:
// left and right offsets swap sign and place, the eyes and mouth corners swap).
Batch makeBatch(const SampleSet& s, const std::vector<size_t>& order, size_t begin, size_t n, std::mt19937_64& rng, bool flip) {
  const int S = s.size;
  const size_t per = size_t(S) * S * 3;
  Batch b;
  auto px = torch::empty({int64_t(n), S, S, 3}, torch::kUInt8);
  b.kind = torch::empty({int64_t(n)}, torch::kInt64);
  b.box = torch::empty({int64_t(n), 4});
  b.points = torch::empty({int64_t(n), 10});
  std::bernoulli_distribution coin(flip ? 0.5 : 0.0);
  for (size_t i = 0; i < n; ++i) {
    const size_t k = order[begin + i];
    uint8_t* dst = px[int64_t(i)].data_ptr<uint8_t>();
    const uint8_t* src = s.pixels.data() + k * per;
    const float* bx = s.box.data() + 4 * k;
    const float* pt = s.points.data() + 10 * k;
    float* obx = b.box[int64_t(i)].data_ptr<float>();
    float* opt = b.points[int64_t(i)].data_ptr<float>();
    b.kind[int64_t(i)] = int64_t(s.kind[k]);
    if (coin(rng)) {
      for (int y = 0; y < S; ++y)
        for (int x = 0; x < S; ++x) std::copy_n(src + (size_t(y) * S + x) * 3, 3, dst + (size_t(y) * S + (S - 1 - x)) * 3);
      obx[0] = -bx[2], obx[1] = bx[1], obx[2] = -bx[0], obx[3] = bx[3];
      static const int kMirror[5] = {1, 0, 2, 4, 3};
      for (int p = 0; p < 5; ++p) opt[p] = 1.f - pt[kMirror[p]], opt[5 + p] = pt[5 + kMirror[p]];
    } else {
      std::copy_n(src, per, dst);
      std::copy_n(bx, 4, obx);
      std::copy_n(pt, 10, opt);
    }
  }
  b.pixels = (px.permute({0, 3, 1, 2}).to(torch::kFloat32) - 127.5f) * 0.0078125f;
  return b;
}

struct Losses {
  torch::Tensor total, cls, box, landmark;
  double accuracy = 0;
};

// Multi-task loss: cross-entropy on positives and negatives, of which only the hardest
// `ohem_keep` fraction counts (online hard example mining); squared error of the box offsets
// on positives and parts; of the 5 points on landmark samples (O-Net only).
Losses mtcnnLoss(const torch::Tensor& out, const Batch& b, const std::array<double, 3>& w, double ohem_keep) {
  Losses l;
  const auto zero = torch::zeros({}, out.options());
  const auto cls_mask = (b.kind == kPositive) | (b.kind == kNegative);
  if (cls_mask.any().item<bool>()) {
    const auto logits = out.index({cls_mask}).slice(1, 0, 2);
    const auto target = (b.kind.index({cls_mask}) == kPositive).to(torch::kInt64);
    const auto each = torch::nn::functional::cross_entropy(logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const int64_t keep = std::max<int64_t>(1, int64_t(std::ceil(ohem_keep * double(each.size(0)))));
    l.cls = std::get<0>(each.topk(keep)).mean();
    l.accuracy = (logits.argmax(1) == target).to(torch::kFloat32).mean().item<double>();
  } else {
    l.cls = zero;
  }
  const auto box_mask = (b.kind == kPositive) | (b.kind == kPart);
  l.box = box_mask.any().item<bool>() ? (out.index({box_mask}).slice(1, 2, 6) - b.box.index({box_mask})).pow(2).sum(1).mean() : zero;
  const auto lmk_mask = b.kind == kLandmark;
  l.landmark = out.size(1) >= 16 && lmk_mask.any().item<bool>() ? (out.index({lmk_mask}).slice(1, 6, 16) - b.points.index({lmk_mask})).pow(2).sum(1).mean() : zero;
  l.total = w[0] * l.cls + w[1] * l.box + w[2] * l.landmark;
  return l;
}

struct ValSet {
  eval::GroundTruth gt;
  std::vector<std::pair<std::string, std::string>> images;  // key, path
};

ValSet loadVal(const std::string& images, const std::string& annotations, int max_images) {
  ValSet v;
  v.gt = fs::is_directory(annotations) ? eval::loadWiderMat(annotations) : eval::loadBbxGtText(annotations);
  for (const auto& ev : v.gt.events)
    for (const auto& img : ev.images)
      for (const char* ext : {".jpg", ".jpeg", ".png"}) {
        const fs::path p = fs::path(images) / ev.name / (img.name + ext);
        if (fs::exists(p)) {
          v.images.push_back({ev.name + "/" + img.name, p.string()});
          break;
        }
      }
  if (max_images > 0 && v.images.size() > size_t(max_images)) v.images.resize(size_t(max_images));
  if (v.images.empty()) throw Error(Error::Code::kIoError, images + ": none of the validation images annotated in " + annotations + " found");
  return v;
}

// The official WIDER protocol (src/eval) on the detector as `facekit detect --model` runs it.
nlohmann::ordered_json evaluateModel(const std::string& model_path, const ValSet& val, const Json& cfg, const std::string& stage) {
  const auto t0 = Clock::now();
  DetectorOptions o;
  o.model_path = model_path;
  o.min_face_size = get<int>(cfg, "eval.min_face");
  const auto th = get<std::vector<double>>(cfg, "eval.thresholds");
  if (th.size() != 3) throw Error(Error::Code::kInvalidArgument, "config: eval.thresholds needs 3 values");
  o.thresholds = {float(th[0]), float(th[1]), float(th[2])};
  std::unique_ptr<FaceDetector> det;
  eval::Predictions preds;
  size_t seen = 0;
  for (const auto& [key, path] : val.images) {
    if (seen++ % kDetectorReuse == 0) det = FaceDetector::create(o);
    const cv::Mat rgb = readRgb(path);
    auto& out = preds[key];
    for (const Face& f : det->detect({rgb.data, rgb.cols, rgb.rows, PixelFormat::kRGB, rgb.step}))
      out.push_back({{f.box.x1, f.box.y1, f.box.width(), f.box.height()}, f.score});
  }
  nlohmann::ordered_json j{{"mode", "val"}, {"stage", stage}, {"model", model_path}, {"images", val.images.size()}};
  std::cerr << "facekit-train: " << stage << " val AP on " << val.images.size() << " images:";
  for (const auto& r : eval::evaluate(val.gt, preds)) {
    j["ap_" + r.setting] = round4(r.ap);
    std::cerr << " " << r.setting << " " << std::fixed << std::setprecision(4) << r.ap << std::defaultfloat;
  }
  j["time"] = round4(secondsSince(t0));
  std::cerr << " (" << std::setprecision(3) << secondsSince(t0) << " s)\n";
  return j;
}

void saveModel(engine::ModelFile& m, const fs::path& path, const std::string& training, const Json& cfg) {
  m.metadata["facekit.model"] = "mtcnn";
  m.metadata["training"] = training;
  m.metadata["config"] = cfg.dump();
  m.metadata["licence"] = get<std::string>(cfg, "licence");
  writeAtomically(path, [&](const std::string& tmp) { m.save(tmp); });
  // What the detector loads must build: fail the run here, not in a user's detect --model.
  mtcnn::buildNets(engine::ModelFile::load(path.string()), engine::Backend::kReference);
  std::cerr << "facekit-train: wrote " << path.string() << "\n";
}

// FNV-1a, 64 bits: the sample cache's key (not cryptographic: it tells runs apart, nothing more).
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Everything that decides a stage's samples: the sampling keys, the seed, the training images
// with their faces (and for O-Net their 5 points), and the weights of the nets that mine them.
std::string sampleKey(const Json& cfg, const std::string& stage, const engine::ModelFile& model, const std::vector<TrainImage>& images) {
  const Json k = {{"format", 1},
                  {"stage", stage},
                  {"seed", at(cfg, "seed")},
                  {"min_face", at(cfg, "data.min_face_px")},
                  {"mining", at(cfg, "mining")},
                  {"sampling", at(cfg, "stages." + stage + ".sampling")},
                  {"max_samples", at(cfg, "stages." + stage + ".max_samples")}};
  const std::string ks = k.dump();
  uint64_t h = fnv1a(ks.data(), ks.size());
  for (const TrainImage& im : images) {
    h = fnv1a(im.path.data(), im.path.size(), h);
    for (const Box& b : im.all) h = fnv1a(&b, sizeof b, h);
    for (const Box& b : im.faces) h = fnv1a(&b, sizeof b, h);
    if (stage == "onet")  // only O-Net has landmark samples
      for (const auto& p : im.points)
        if (p) h = fnv1a(p->data(), sizeof(*p), h);
  }
  for (const auto& [name, t] : model.tensors())
    if ((stage != "pnet" && name.rfind("pnet.", 0) == 0) || (stage == "onet" && name.rfind("rnet.", 0) == 0)) {
      h = fnv1a(name.data(), name.size(), h);
      h = fnv1a(t.data.data(), t.data.size() * sizeof(float), h);
    }
  std::ostringstream os;
  os << stage << "_" << std::hex << std::setw(16) << std::setfill('0') << h << ".samples";
  return os.str();
}

// A stage's samples (and its mining counts) in one raw file; the key is in the name.
constexpr char kSampleMagic[8] = {'F', 'K', 'M', 'T', 'C', 'N', 'N', '1'};
// Written under a name of this process's own and renamed: two runs filling the same cache at
// once each leave a complete file (the same one). A cache that cannot be written only warns.
void saveSamples(const fs::path& path, const SampleSet& s, size_t mined, size_t proposals) {
  const fs::path tmp = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  try {
    std::ofstream out(tmp, std::ios::binary);
    const uint64_t head[4] = {uint64_t(s.size), uint64_t(s.count()), uint64_t(mined), uint64_t(proposals)};
    out.write(kSampleMagic, 8);
    out.write(reinterpret_cast<const char*>(head), sizeof head);
    out.write(reinterpret_cast<const char*>(s.pixels.data()), std::streamsize(s.pixels.size()));
    out.write(reinterpret_cast<const char*>(s.kind.data()), std::streamsize(s.kind.size()));
    out.write(reinterpret_cast<const char*>(s.box.data()), std::streamsize(s.box.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(s.points.data()), std::streamsize(s.points.size() * sizeof(float)));
    if (!out.flush()) throw Error(Error::Code::kIoError, "cannot write");
    out.close();
    fs::rename(tmp, path);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    std::cerr << "facekit-train: warning: the sample cache " << path.string() << " was not written (" << e.what() << ")\n";
  }
}
bool loadSamples(const fs::path& path, SampleSet& s, size_t& mined, size_t& proposals) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  uint64_t head[4];
  if (!in.read(magic, 8) || std::memcmp(magic, kSampleMagic, 8) != 0 || !in.read(reinterpret_cast<char*>(head), sizeof head)) return false;
  const size_t n = head[1], per = size_t(head[0]) * head[0] * 3;
  if (head[0] != uint64_t(s.size) || fs::file_size(path) != 8 + sizeof head + n * (per + 1 + 14 * sizeof(float))) return false;
  s.pixels.resize(n * per), s.kind.resize(n), s.box.resize(4 * n), s.points.resize(10 * n);
  in.read(reinterpret_cast<char*>(s.pixels.data()), std::streamsize(s.pixels.size()));
  in.read(reinterpret_cast<char*>(s.kind.data()), std::streamsize(n));
  in.read(reinterpret_cast<char*>(s.box.data()), std::streamsize(4 * n * sizeof(float)));
  in.read(reinterpret_cast<char*>(s.points.data()), std::streamsize(10 * n * sizeof(float)));
  mined = head[2], proposals = head[3];
  return bool(in);
}

// The parameters a stage trains: those of the layers named in `layers` (conv1, prelu1, fc5_1 ...),
// or all of them when it is empty. The others keep the weights the stage started from.
std::vector<torch::Tensor> trainableParameters(MtcnnNet& net, const std::vector<std::string>& layers, const std::string& stage) {
  std::vector<torch::Tensor> out;
  std::set<std::string> seen;
  for (auto& item : net->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    const std::string layer = name.substr(0, name.find('.'));
    const bool train = layers.empty() || std::find(layers.begin(), layers.end(), layer) != layers.end();
    p.set_requires_grad(train);
    if (train) out.push_back(p), seen.insert(layer);
  }
  for (const auto& l : layers)
    if (!seen.count(l)) throw Error(Error::Code::kInvalidArgument, "config: stages." + stage + ".train_layers: " + stage + " has no layer '" + l + "'");
  return out;
}

// <stage>_latest.pt: the net and the optimizer after `epoch` epochs of `stage`, and the model
// file as it stood when the stage began (its earlier nets, its starting weights), so --resume
// rebuilds the same samples and continues where the run stopped.
const std::array<std::string, 3> kStageOrder = {"pnet", "rnet", "onet"};
void saveStageCheckpoint(const fs::path& path, MtcnnNet& net, torch::optim::Optimizer& opt, int epoch, const std::string& stage,
                         const std::string& start_model) {
  writeAtomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive ar;
    writeCheckpointCore(ar, *net, opt, epoch);
    ar.write("stage", torch::tensor(int64_t(std::find(kStageOrder.begin(), kStageOrder.end(), stage) - kStageOrder.begin())));
    auto bytes = torch::empty({int64_t(start_model.size())}, torch::kUInt8);
    std::memcpy(bytes.data_ptr<uint8_t>(), start_model.data(), start_model.size());
    ar.write("start_model", bytes);
    ar.save_to(tmp);
  });
}

struct StageCheckpoint {
  std::string stage;
  int epoch = 0;
  engine::ModelFile start_model;
};
// Reads the checkpoint's stage, epoch and starting model; with `net` and `opt`, their states too.
StageCheckpoint loadStageCheckpoint(const std::string& path, MtcnnNet* net = nullptr, torch::optim::Optimizer* opt = nullptr) {
  if (!fs::exists(path)) throw Error(Error::Code::kIoError, path + ": no such checkpoint");
  StageCheckpoint c;
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    torch::Tensor stage, epoch, bytes;  // each its own: read() will not resize a tensor it filled
    ar.read("stage", stage);
    const int64_t s = stage.item<int64_t>();
    if (s < 0 || s > 2) throw Error(Error::Code::kBadModel, path + ": not an MTCNN stage checkpoint");
    c.stage = kStageOrder[size_t(s)];
    ar.read("epoch", epoch);
    c.epoch = int(epoch.item<int64_t>());
    ar.read("start_model", bytes);
    c.start_model = engine::ModelFile::parse(std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), size_t(bytes.numel())), path);
    if (net) {
      torch::serialize::InputArchive model_ar, opt_ar;
      ar.read("model", model_ar);
      (*net)->load(model_ar);
      ar.read("optimizer", opt_ar);
      opt->load(opt_ar);
    }
  } catch (const c10::Error& e) {
    throw Error(Error::Code::kBadModel, path + ": not an MTCNN stage checkpoint of facekit-train (" +
                                            std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
  return c;
}

}  // namespace

int runMtcnn(const Json& cfg, const std::string& config_path, const std::vector<std::string>& overrides, const std::string& work_dir,
             const std::string& finetune, const std::string& resume) {
  const int seed = get<int>(cfg, "seed"), threads = get<int>(cfg, "train.threads");
  torch::manual_seed(uint64_t(seed));
  torch::set_num_threads(threads);
  const auto stages = get<std::vector<std::string>>(cfg, "train.stages");
  for (size_t i = 0; i < stages.size(); ++i) {
    static const std::vector<std::string> order = {"pnet", "rnet", "onet"};
    const auto at = std::find(order.begin(), order.end(), stages[i]);
    if (at == order.end()) throw Error(Error::Code::kInvalidArgument, "config: train.stages: '" + stages[i] + "' is not pnet, rnet or onet");
    if (i > 0 && at <= std::find(order.begin(), order.end(), stages[i - 1]))
      throw Error(Error::Code::kInvalidArgument, "config: train.stages must be in cascade order (pnet, rnet, onet)");
  }
  const int epochs = get<int>(cfg, "train.max_epochs"), batch = get<int>(cfg, "train.batch_size"), log_interval = get<int>(cfg, "train.log_interval");
  if (epochs < 1 || batch < 1 || log_interval < 1) throw Error(Error::Code::kInvalidArgument, "config: epochs, batch size and log interval must be >= 1");
  const int min_face = get<int>(cfg, "data.min_face_px");
  const std::string name = get<std::string>(cfg, "model.name");

  fs::create_directories(work_dir);
  RunLog log(work_dir);
  engine::ModelFile model = finetune.empty() ? freshMtcnnModel(uint64_t(seed)) : engine::ModelFile::load(finetune);
  // --resume: the stages before the checkpoint's are done (their nets are in its starting
  // model); its stage continues after the checkpoint's epoch, the later ones run as usual.
  StageCheckpoint resumed;
  if (!resume.empty()) {
    resumed = loadStageCheckpoint(resume);
    if (std::find(stages.begin(), stages.end(), resumed.stage) == stages.end())
      throw Error(Error::Code::kInvalidArgument, resume + ": a checkpoint of " + resumed.stage + ", which train.stages does not train");
    if (resumed.epoch > epochs)
      throw Error(Error::Code::kInvalidArgument, resume + ": " + resumed.stage + " was at epoch " + std::to_string(resumed.epoch) + " of train.max_epochs " +
                                                     std::to_string(epochs));
    model = resumed.start_model;
  }
  mtcnn::buildNets(model, engine::Backend::kReference);  // a clear error now if --finetune is not an MTCNN file

  const auto t_data = Clock::now();
  std::vector<TrainImage> images = loadAnnotated(get<std::string>(cfg, "data.train.images"), get<std::string>(cfg, "data.train.annotations"), min_face);
  if (const int cap = get<int>(cfg, "data.train.max_images"); cap > 0 && images.size() > size_t(cap)) images.resize(size_t(cap));
  size_t faces = 0;
  for (const auto& im : images) faces += im.faces.size();
  const bool want_val = get<bool>(cfg, "eval.enabled");
  ValSet val;
  if (want_val) val = loadVal(get<std::string>(cfg, "data.val.images"), get<std::string>(cfg, "data.val.annotations"), get<int>(cfg, "eval.max_images"));
  // 5-point labels (O-Net's landmark samples): the points of a detector run, see docs/mtcnn-training.md.
  size_t with_points = 0;
  std::string point_model;
  if (std::find(stages.begin(), stages.end(), "onet") != stages.end()) {
    point_model = get<std::string>(cfg, "data.landmark_model");
    if (point_model.empty()) point_model = finetune.empty() ? defaultModelPath() : finetune;
    with_points = labelPointsFromDetector(images, point_model, min_face);
  }
  std::cerr << "facekit-train: " << images.size() << " training images, " << faces << " faces of >= " << min_face << " px (" << with_points
            << " with 5 points), " << val.images.size() << " validation images, " << std::setprecision(3) << secondsSince(t_data) << " s\n";
  log.line({{"mode", "meta"}, {"task", "mtcnn"}, {"config", cfg}, {"config_file", config_path}, {"overrides", overrides}, {"finetune", finetune}, {"resume", resume},
            {"train_images", images.size()}, {"train_faces", faces}, {"faces_with_points", with_points}, {"point_model", point_model},
            {"val_images", val.images.size()}, {"torch", TORCH_VERSION}, {"threads", threads}});
  if (want_val && !finetune.empty() && resume.empty() && get<bool>(cfg, "eval.start")) log.line(evaluateModel(finetune, val, cfg, "start"));

  const std::array<std::string, 3> net_names = {"pnet", "rnet", "onet"};
  const double lr = get<double>(cfg, "optimizer.lr"), momentum = get<double>(cfg, "optimizer.momentum"), wd = get<double>(cfg, "optimizer.weight_decay");
  const double warmup = get<double>(cfg, "schedule.warmup_epochs"), min_lr = get<double>(cfg, "schedule.min_lr"), ohem = get<double>(cfg, "loss.ohem_keep");
  for (const std::string& stage : stages) {
    if (!resume.empty() && std::find(stages.begin(), stages.end(), stage) < std::find(stages.begin(), stages.end(), resumed.stage)) continue;
    const bool resuming = !resume.empty() && stage == resumed.stage;
    // Resumed from the checkpoint of its last epoch: the stage only exports and evaluates, so its
    // samples are not made again.
    const bool finished = resuming && resumed.epoch >= epochs;
    const auto t_stage = Clock::now();
    const std::string start_model = model.serialize();
    const Json& scfg = at(cfg, "stages." + stage);
    const auto wv = get<std::vector<double>>(scfg, "loss_weights");
    if (wv.size() != 3) throw Error(Error::Code::kInvalidArgument, "config: stages." + stage + ".loss_weights needs 3 values (cls, box, landmark)");
    const std::array<double, 3> weights = {wv[0], wv[1], wv[2]};
    const SamplingOptions so = SamplingOptions::fromConfig(at(scfg, "sampling"));

    // Samples: random windows, plus for R/O-Net the previous stages' boxes on every image.
    MtcnnNet net(stage);
    SampleSet samples;
    samples.size = net->inputSize();
    std::unique_ptr<FaceDetector> miner;
    std::mt19937_64 rng(uint64_t(seed) * 7919u + uint64_t(samples.size));
    size_t mined = 0, proposals = 0;
    // data.sample_cache: a folder where a stage's samples are kept under a key of everything
    // that decides them (sampleKey), so a run with the same data and mining nets skips mining.
    const std::string cache_dir = get<std::string>(cfg, "data.sample_cache");
    const fs::path cache_file = cache_dir.empty() ? fs::path() : fs::path(cache_dir) / sampleKey(cfg, stage, model, images);
    const bool cached = !finished && !cache_dir.empty() && fs::exists(cache_file) && loadSamples(cache_file, samples, mined, proposals);
    if (cached) std::cerr << "facekit-train: " << stage << " samples from the cache " << cache_file.string() << "\n";
    for (size_t i = 0; i < images.size() && !cached && !finished; ++i) {
      if (stage != "pnet" && i % kDetectorReuse == 0)
        miner = makeMiner(model, stage == "rnet" ? "pnet" : "rnet", (fs::path(work_dir) / "mining.safetensors").string(),
                          float(get<double>(cfg, "mining.pnet_threshold")), float(get<double>(cfg, "mining.rnet_threshold")), get<int>(cfg, "mining.min_face"));
      const cv::Mat rgb = readRgb(images[i].path);
      randomSamples(rgb, images[i], so, stage == "onet", rng, samples);
      if (miner) {
        const auto boxes = previousStageBoxes(*miner, rgb);
        proposals += boxes.size();
        mined += minedSamples(rgb, images[i], boxes, so, rng, samples);
      }
      if ((i + 1) % 50 == 0 || i + 1 == images.size())
        std::cerr << "facekit-train: " << stage << " samples: " << i + 1 << "/" << images.size() << " images, " << samples.count() << " samples\n";
    }
    miner.reset();
    fs::remove(fs::path(work_dir) / "mining.safetensors");
    // A random subset when the stage's max_samples caps it (O-Net's 48 px samples cost ~20x
    // P-Net's to train: the cap is what makes a stage fit a time budget).
    if (const int cap = get<int>(scfg, "max_samples"); !cached && cap > 0 && samples.count() > size_t(cap) && !finished) samples = subsample(samples, size_t(cap), rng);
    if (!cache_dir.empty() && !cached && !finished) {
      fs::create_directories(cache_dir);
      saveSamples(cache_file, samples, mined, proposals);
    }
    if (samples.count() == 0 && !finished) throw Error(Error::Code::kInvalidArgument, stage + ": no training samples (no faces, or images too small?)");
    if (!finished) log.line({{"mode", "samples"}, {"stage", stage}, {"size", samples.size}, {"total", samples.count()}, {"positive", samples.count(kPositive)},
              {"part", samples.count(kPart)}, {"negative", samples.count(kNegative)}, {"landmark", samples.count(kLandmark)},
              {"mined", mined}, {"proposals", proposals}, {"cached", cached}, {"time", round4(secondsSince(t_stage))}});
    if (!finished)
      std::cerr << "facekit-train: " << stage << ": " << samples.count(kPositive) << " positive, " << samples.count(kPart) << " part, "
              << samples.count(kNegative) << " negative, " << samples.count(kLandmark) << " landmark samples (" << mined << " mined from "
              << proposals << " proposals of the previous stage)\n";

    net->importFrom(model);  // the shipped (--finetune) or the freshly initialised weights
    const auto train_layers = get<std::vector<std::string>>(scfg, "train_layers");
    torch::optim::SGD opt(trainableParameters(net, train_layers, stage), torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(wd));
    const size_t bsz = std::max<size_t>(1, std::min(size_t(batch), samples.count())), per_epoch = std::max<size_t>(1, samples.count() / bsz);
    int first_epoch = 1;
    if (resuming) {
      first_epoch = loadStageCheckpoint(resume, &net, &opt).epoch + 1;
      log.line({{"mode", "resume"}, {"stage", stage}, {"checkpoint", resume}, {"epoch", first_epoch - 1}});
      std::cerr << "facekit-train: " << stage << " resumed from " << resume << " after epoch " << first_epoch - 1 << "\n";
    }
    TrainProgress progress(epochs, int(per_epoch), stage);
    const auto t_train = Clock::now();
    size_t done = 0;
    const size_t total = per_epoch * size_t(epochs - first_epoch + 1);
    for (int epoch = first_epoch; epoch <= epochs; ++epoch) {
      net->train();
      std::vector<size_t> order(samples.count());
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 erng(uint64_t(seed) * 1000003ull + uint64_t(epoch) + 17 * uint64_t(samples.size));
      std::shuffle(order.begin(), order.end(), erng);
      double acc_loss = 0, acc_cls = 0, acc_box = 0, acc_lmk = 0, acc_acc = 0, acc_time = 0;
      int acc_n = 0;
      for (size_t it = 0; it < per_epoch; ++it) {
        const auto t0 = Clock::now();
        const double cur_lr = warmupCosineLr(lr, min_lr, warmup, epochs, epoch, it, per_epoch);
        for (auto& g : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(cur_lr);
        const Batch b = makeBatch(samples, order, it * bsz, bsz, erng, get<bool>(cfg, "augment.flip"));
        const auto out = net->forward(b.pixels).reshape({int64_t(bsz), net->outputs()});
        const Losses l = mtcnnLoss(out, b, weights, ohem);
        opt.zero_grad();
        l.total.backward();
        opt.step();
        acc_loss += l.total.item<double>(), acc_cls += l.cls.item<double>(), acc_box += l.box.item<double>(), acc_lmk += l.landmark.item<double>();
        acc_acc += l.accuracy, acc_time += secondsSince(t0), ++acc_n, ++done;
        if ((it + 1) % size_t(log_interval) == 0 || it + 1 == per_epoch) {
          log.line({{"mode", "train"}, {"stage", stage}, {"epoch", epoch}, {"iter", it + 1}, {"lr", cur_lr}, {"loss", round4(acc_loss / acc_n)},
                    {"loss_cls", round4(acc_cls / acc_n)}, {"loss_box", round4(acc_box / acc_n)}, {"loss_landmark", round4(acc_lmk / acc_n)},
                    {"cls_accuracy", round4(acc_acc / acc_n)}, {"time", round4(acc_time / acc_n)}});
          acc_loss = acc_cls = acc_box = acc_lmk = acc_acc = acc_time = 0, acc_n = 0;
        }
        progress.update(epoch, int(it + 1), l.total.item<double>(), cur_lr, secondsSince(t_train) / double(done), int(total - done));
      }
      // The stage's weights after each epoch (torch archive), written atomically.
      saveStageCheckpoint(fs::path(work_dir) / (stage + "_latest.pt"), net, opt, epoch, stage, start_model);
    }

    // One file with all three nets: this stage's, the others from --finetune or earlier stages.
    net->eval();
    net->exportInto(model);
    const std::string training = "facekit-train, stage " + stage + ", " + std::to_string(epochs) + " epochs on " + std::to_string(images.size()) +
                                 " images" + (finetune.empty() ? ", from scratch" : ", fine-tuned from " + fs::path(finetune).filename().string());
    const fs::path stage_file = fs::path(work_dir) / (name + "_" + stage + ".safetensors");
    saveModel(model, stage_file, training, cfg);
    saveModel(model, fs::path(work_dir) / (name + ".safetensors"), training, cfg);
    log.line({{"mode", "stage"}, {"stage", stage}, {"model", stage_file.string()}, {"train_time", round4(secondsSince(t_train))},
              {"stage_time", round4(secondsSince(t_stage))}});
    if (want_val) log.line(evaluateModel(stage_file.string(), val, cfg, stage));
  }
  std::cerr << "facekit-train: log " << log.path().string() << "\n";
  return 0;
}

}  // namespace facekit::train
