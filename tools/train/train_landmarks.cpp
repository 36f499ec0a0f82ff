// facekit-train: trains (or fine-tunes) the facekit-106 landmark model on libtorch, CPU.
//
//   facekit-train --config configs/landmark106.json --work-dir DIR [--cfg-options k=v ...]
//                 [--finetune MODEL.safetensors] [--resume DIR/latest.pt]
//
// Writes DIR/<timestamp>.log.json (one JSON object per line: a "meta" line, then "train" lines
// every train.log_interval iterations and a "val" line per validation), DIR/epoch_N.pt and
// DIR/latest.pt checkpoints, and DIR/<model.name>.safetensors, the exported model the engine runs.
// Kept out of the facekit library and CLI so that they never need libtorch.
// A config with "task": "mtcnn" (configs/mtcnn-*.json) runs the MTCNN trainer instead
// (mtcnn_train.hpp); the shared machinery is in train_common.hpp and train_config.hpp.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "checkpoint.hpp"
#include "engine/model_file.hpp"
#include "facekit/error.hpp"
#include "landmark_data.hpp"
#include "landmark_net.hpp"
#include "mtcnn_train.hpp"
#include "train_common.hpp"
#include "train_config.hpp"

namespace fs = std::filesystem;
using namespace facekit;
using namespace facekit::train;

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Batch {
  torch::Tensor pixels, points, pose;
};

Batch makeBatch(const std::vector<FaceSample>& data, const std::vector<size_t>& order, size_t begin, size_t count, const AugmentOptions& aug,
                const landmarks::BoxCalibration& k, int size, uint64_t seed) {
  Batch b;
  b.pixels = torch::empty({int64_t(count), 3, size, size});
  b.points = torch::empty({int64_t(count), 2 * kNumLandmarks106});
  b.pose = torch::empty({int64_t(count), 3});
  for (size_t i = 0; i < count; ++i) {
    const size_t idx = order[begin + i];
    makeTrainingExample(data[idx], aug, k, size, seed ^ (0x9E3779B97F4A7C15ull * (idx + 1)), b.pixels[int64_t(i)].data_ptr<float>(),
                        b.points[int64_t(i)].data_ptr<float>(), b.pose[int64_t(i)].data_ptr<float>());
  }
  return b;
}

// Wing loss (Feng et al. 2018) on pixel-scale errors.
torch::Tensor wingLoss(const torch::Tensor& pred, const torch::Tensor& target, double w, double eps) {
  const auto x = (pred - target).abs();
  const double c = w - w * std::log(1 + w / eps);
  return torch::where(x < w, w * torch::log1p(x / eps), x - c).mean();
}

struct ValResult {
  double nme_ion = 0, nme_ion_pass1 = 0, pose_mae = 0, pitch = 0, yaw = 0, roll = 0, failure_rate = 0;
  size_t faces = 0;
};

double wrapDeg(double a) {
  while (a > 180) a -= 360;
  while (a <= -180) a += 360;
  return a;
}

// The pipeline's own procedure on the validation faces: frame from the detector box, predict,
// re-frame from the predicted points, predict again. NME by the outer eye corners (66, 75).
ValResult validate(LandmarkNet& net, const std::vector<FaceSample>& val, const landmarks::BoxCalibration& k, int size) {
  ValResult r;
  if (val.empty()) return r;
  torch::NoGradGuard ng;
  net->eval();
  const size_t bs = 128;
  double sum1 = 0, sum2 = 0, sp = 0, sy = 0, sr = 0;
  size_t fails = 0;
  for (size_t b0 = 0; b0 < val.size(); b0 += bs) {
    const size_t n = std::min(bs, val.size() - b0);
    std::vector<landmarks::Crop106> crops(n);
    std::vector<Points106> pred(n);
    torch::Tensor out;
    for (int pass = 0; pass < 2; ++pass) {
      torch::Tensor px = torch::empty({int64_t(n), 3, size, size});
      for (size_t i = 0; i < n; ++i) {
        crops[i] = pass == 0 ? sampleCrop(val[b0 + i], true, k) : landmarks::cropFromPoints(pred[i]);
        cropPixels(val[b0 + i].region, crops[i], size, px[int64_t(i)].data_ptr<float>());
      }
      out = net->forward(px).contiguous();
      for (size_t i = 0; i < n; ++i) {
        const float* o = out[int64_t(i)].data_ptr<float>();
        for (size_t q = 0; q < kNumLandmarks106; ++q) pred[i][q] = crops[i].toImage(o[2 * q] * size, o[2 * q + 1] * size, size);
        const auto& t = val[b0 + i].points;
        const double ion = std::hypot(t[66].x - t[75].x, t[66].y - t[75].y);
        double e = 0;
        for (size_t q = 0; q < kNumLandmarks106; ++q) e += std::hypot(pred[i][q].x - t[q].x, pred[i][q].y - t[q].y);
        e /= kNumLandmarks106 * std::max(ion, 1e-6);
        if (pass == 0) sum1 += e;
        else sum2 += e, fails += e > 0.1;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const float* o = out[int64_t(i)].data_ptr<float>() + 2 * kNumLandmarks106;
      const auto& p = val[b0 + i].pose;
      sp += std::abs(o[0] * kPoseUnitDegrees - p.pitch);
      sy += std::abs(o[1] * kPoseUnitDegrees - p.yaw);
      sr += std::abs(wrapDeg(o[2] * kPoseUnitDegrees + crops[i].angle * 180 / kPi - p.roll));
    }
  }
  const double n = double(val.size());
  r.faces = val.size();
  r.nme_ion_pass1 = sum1 / n, r.nme_ion = sum2 / n, r.failure_rate = double(fails) / n;
  r.pitch = sp / n, r.yaw = sy / n, r.roll = sr / n, r.pose_mae = (sp + sy + sr) / (3 * n);
  return r;
}

void saveCheckpoint(const fs::path& path, LandmarkNet& net, torch::optim::Optimizer& opt, int epoch) {
  writeAtomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive ar;
    writeCheckpointCore(ar, *net, opt, epoch);
    ar.save_to(tmp);
  });
}

int loadCheckpoint(const std::string& path, LandmarkNet& net, torch::optim::Optimizer& opt) {
  if (!fs::exists(path)) throw Error(Error::Code::kIoError, path + ": no such checkpoint");
  try {
    torch::serialize::InputArchive ar, model_ar, opt_ar;
    ar.load_from(path);
    ar.read("model", model_ar);
    net->load(model_ar);
    ar.read("optimizer", opt_ar);
    opt.load(opt_ar);
    torch::Tensor e;
    ar.read("epoch", e);
    return int(e.item<int64_t>());
  } catch (const c10::Error& e) {
    throw Error(Error::Code::kBadModel, path + ": not a facekit-train checkpoint of this model (" + std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
}

// The exported model: the graph, plus what the pipeline needs to frame faces as in training.
void exportModel(LandmarkNet& net, const Dataset& ds, const Json& cfg, const std::string& work_dir, const std::string& training) {
  const int size = net->spec().input_size;
  engine::ModelFile model = net->exportModel();
  model.metadata["facekit.model"] = "landmark106";
  model.metadata["input"] = std::to_string(size) + "x" + std::to_string(size) + " RGB crop (crop106.hpp framing), (pixel - 127.5) / 128";
  model.metadata["input_size"] = std::to_string(size) + "x" + std::to_string(size) + "x3";
  model.metadata["output"] = "215 values: 106 (x, y) in crop units [0, 1], then pitch, yaw, roll in units of 90 degrees (roll relative to the crop)";
  std::ostringstream k;
  k << std::setprecision(6) << ds.calibration.scale << "," << ds.calibration.dx << "," << ds.calibration.dy;
  model.metadata["crop.box_calibration"] = k.str();
  model.metadata["crop.points_scale"] = std::to_string(landmarks::kPointsCropScale);
  model.metadata["training"] = training;
  model.metadata["config"] = cfg.dump();
  model.metadata["licence"] = get<std::string>(cfg, "licence");
  const fs::path out = fs::path(work_dir) / (get<std::string>(cfg, "model.name") + ".safetensors");
  writeAtomically(out, [&](const std::string& tmp) { model.save(tmp); });
  std::cerr << "facekit-train: wrote " << out.string() << "\n";
}

NetSpec specFromConfig(const Json& cfg) {
  NetSpec s;
  s.input_size = get<int>(cfg, "model.input_size");
  s.stem = get<int>(cfg, "model.stem");
  s.stages = get<std::vector<std::vector<int>>>(cfg, "model.stages");
  s.head = get<int>(cfg, "model.head");
  return s;
}

int run(int argc, char** argv) {
  CLI::App app{"facekit-train: train or fine-tune the facekit-106 landmark model or MTCNN (libtorch, CPU)"};
  std::string config_path, work_dir, finetune, resume;
  std::vector<std::string> overrides;
  app.add_option("--config", config_path, "config file (configs/landmark106.json)")->required();
  app.add_option("--work-dir", work_dir, "output folder: log, checkpoints, exported model")->required();
  app.add_option("--cfg-options", overrides, "overrides KEY=VALUE, e.g. train.max_epochs=2")->expected(1, -1);
  app.add_option("--finetune", finetune, "start from this exported facekit model (landmark106: batch norms frozen; mtcnn: the file detect --model loads)");
  app.add_option("--resume", resume, "continue from a checkpoint (DIR/latest.pt; mtcnn: DIR/<stage>_latest.pt)");
  int dump_examples = 0;
  std::string export_checkpoint;
  app.add_option("--export-checkpoint", export_checkpoint, "export this checkpoint to DIR/<model.name>.safetensors, then stop (same config and data)");
  app.add_option("--dump-examples", dump_examples, "write this many augmented training crops with their targets to DIR/examples.png, then stop");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Json cfg = loadConfig(config_path);
  applyOverrides(cfg, overrides);
  const std::string task = get<std::string>(cfg, "task");
  if (task == "mtcnn") {
    if (!export_checkpoint.empty() || dump_examples > 0)
      throw Error(Error::Code::kInvalidArgument, "--export-checkpoint and --dump-examples are for landmark106");
    return runMtcnn(cfg, config_path, overrides, work_dir, finetune, resume);
  }
  if (task != "landmark106") throw Error(Error::Code::kInvalidArgument, "config: task '" + task + "' is not known (landmark106, mtcnn)");
  const int seed = get<int>(cfg, "seed"), threads = get<int>(cfg, "train.threads");
  torch::manual_seed(uint64_t(seed));
  torch::set_num_threads(threads);

  fs::create_directories(work_dir);
  RunLog log(work_dir);
  const fs::path log_path = log.path();
  auto logLine = [&](const nlohmann::ordered_json& j) { log.line(j); };

  std::cerr << "facekit-train: loading data ...\n";
  const auto t_data = std::chrono::steady_clock::now();
  const DataOptions dopt = DataOptions::fromConfig(train::at(cfg, "data"));
  const AugmentOptions aug = AugmentOptions::fromConfig(train::at(cfg, "augment"));
  // Checked before the (slow) data loading: a bad value fails at once.
  for (const char* key : {"train.max_epochs", "train.batch_size", "train.log_interval", "train.val_interval", "train.checkpoint_interval"})
    if (get<int>(cfg, key) < 1) throw Error(Error::Code::kInvalidArgument, std::string("config: ") + key + " must be >= 1");
  const Dataset ds = loadDataset(dopt, threads);
  std::cerr << "facekit-train: " << ds.train.size() << " training faces, " << ds.val.size() << " validation faces (skipped: " << ds.skipped_status
            << " not ok, " << ds.skipped_small << " small, " << ds.skipped_spread << " unstable, " << ds.unreadable << " unreadable) in "
            << std::fixed << std::setprecision(1) << std::chrono::duration<double>(std::chrono::steady_clock::now() - t_data).count() << " s\n"
            << std::defaultfloat;

  const NetSpec spec = specFromConfig(cfg);
  if (dump_examples > 0) {
    const int size = spec.input_size, cols = 8, rows = (dump_examples + cols - 1) / cols, zoom = 2;
    cv::Mat sheet(rows * size * zoom, cols * size * zoom, CV_8UC3, cv::Scalar::all(0));
    std::vector<float> px(size_t(3 * size * size)), pts(2 * kNumLandmarks106), pose(3);
    for (int i = 0; i < dump_examples; ++i) {
      makeTrainingExample(ds.train[size_t(i) % ds.train.size()], aug, ds.calibration, size, uint64_t(seed + i), px.data(), pts.data(), pose.data());
      cv::Mat tile(size, size, CV_8UC3);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x)
          for (int c = 0; c < 3; ++c) tile.at<cv::Vec3b>(y, x)[2 - c] = cv::saturate_cast<uint8_t>(px[size_t(c * size * size + y * size + x)] * 128 + 127.5);
      cv::resize(tile, tile, cv::Size(size * zoom, size * zoom), 0, 0, cv::INTER_NEAREST);
      for (size_t q = 0; q < kNumLandmarks106; ++q)
        cv::circle(tile, cv::Point2f(pts[2 * q] * size * zoom, pts[2 * q + 1] * size * zoom), 1, q == 66 || q == 75 ? cv::Scalar(0, 0, 255) : cv::Scalar(0, 255, 0), -1);
      cv::putText(tile, cv::format("p%.0f y%.0f r%.0f", pose[0], pose[1], pose[2]), {2, size * zoom - 4}, cv::FONT_HERSHEY_PLAIN, 0.8, {255, 255, 0});
      tile.copyTo(sheet(cv::Rect((i % cols) * size * zoom, (i / cols) * size * zoom, size * zoom, size * zoom)));
    }
    const auto path = (fs::path(work_dir) / "examples.png").string();
    cv::imwrite(path, sheet);
    std::cerr << "facekit-train: wrote " << path << "\n";
    return 0;
  }
  LandmarkNet net(spec);
  const NetCost cost = netCost(spec);
  std::cerr << "facekit-train: model " << cost.parameters << " parameters, " << std::setprecision(3) << double(cost.macs) / 1e6 << " M MACs at " << spec.input_size << "x"
            << spec.input_size << "\n";
  if (!finetune.empty()) {
    net->importModel(engine::ModelFile::load(finetune));
    net->freezeBatchNorm(true);
  } else {
    auto bias = meanTargets(ds.train, spec.input_size);
    bias.resize(size_t(spec.outputs), 0.f);
    net->setOutputBias(bias);
  }

  const double lr = get<double>(cfg, "optimizer.lr"), wd = get<double>(cfg, "optimizer.weight_decay");
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(lr).weight_decay(wd));
  int start_epoch = 1;
  if (!export_checkpoint.empty()) {
    const int epoch = loadCheckpoint(export_checkpoint, net, opt);
    net->eval();
    exportModel(net, ds, cfg, work_dir, "facekit-train, checkpoint " + fs::path(export_checkpoint).filename().string() + " (epoch " + std::to_string(epoch) + ")");
    return 0;
  }
  if (!resume.empty()) start_epoch = loadCheckpoint(resume, net, opt) + 1;

  const int epochs = get<int>(cfg, "train.max_epochs"), batch = get<int>(cfg, "train.batch_size");
  const int log_interval = get<int>(cfg, "train.log_interval"), val_interval = get<int>(cfg, "train.val_interval");
  const int ckpt_interval = get<int>(cfg, "train.checkpoint_interval");
  const double warmup = get<double>(cfg, "schedule.warmup_epochs"), min_lr = get<double>(cfg, "schedule.min_lr");
  const double wing_w = get<double>(cfg, "loss.wing_w"), wing_eps = get<double>(cfg, "loss.wing_eps"), pose_w = get<double>(cfg, "loss.pose_weight");
  const int size = spec.input_size;
  const std::vector<size_t> epoch_indices = epochIndices(ds.train, dopt.large_pose_repeat);
  const size_t per_epoch = std::max<size_t>(1, epoch_indices.size() / size_t(batch));
  const size_t bsz = std::min<size_t>(size_t(batch), ds.train.size());

  logLine({{"mode", "meta"}, {"config", cfg}, {"config_file", config_path}, {"overrides", overrides}, {"finetune", finetune}, {"resume", resume},
           {"train_faces", ds.train.size()}, {"val_faces", ds.val.size()}, {"parameters", cost.parameters}, {"macs", cost.macs},
           {"box_calibration", {ds.calibration.scale, ds.calibration.dx, ds.calibration.dy}}, {"torch", TORCH_VERSION}, {"threads", threads}});

  TrainProgress progress(epochs, int(per_epoch));
  const auto t_start = std::chrono::steady_clock::now();
  size_t iters_done = 0;
  const size_t total_iters = per_epoch * size_t(epochs - start_epoch + 1);
  for (int epoch = start_epoch; epoch <= epochs; ++epoch) {
    net->train();
    std::vector<size_t> order = epoch_indices;
    std::mt19937_64 shuffle_rng(uint64_t(seed) * 1000003ull + uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    auto seedOf = [&](size_t it) { return uint64_t(seed) * 0x100000001B3ull ^ (uint64_t(epoch) << 32) ^ it; };
    // The next batch is prepared while the network trains on this one.
    auto pending = std::async(std::launch::async, makeBatch, std::cref(ds.train), std::cref(order), 0, bsz, std::cref(aug), std::cref(ds.calibration), size, seedOf(0));
    double loss_acc = 0, lp_acc = 0, lpose_acc = 0, time_acc = 0, data_acc = 0;
    int acc_n = 0;
    for (size_t it = 0; it < per_epoch; ++it) {
      const auto t0 = std::chrono::steady_clock::now();
      Batch b = pending.get();
      const double data_time = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (it + 1 < per_epoch)
        pending = std::async(std::launch::async, makeBatch, std::cref(ds.train), std::cref(order), (it + 1) * bsz, bsz, std::cref(aug),
                             std::cref(ds.calibration), size, seedOf(it + 1));
      // Linear warm-up, then cosine decay to min_lr, per iteration.
      const double cur_lr = warmupCosineLr(lr, min_lr, warmup, epochs, epoch, it, per_epoch);
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(cur_lr);

      const auto out = net->forward(b.pixels);
      const auto lp = wingLoss(out.slice(1, 0, 2 * kNumLandmarks106) * size, b.points * size, wing_w, wing_eps);
      const auto lpose = (out.slice(1, 2 * kNumLandmarks106, 2 * kNumLandmarks106 + 3) * kPoseUnitDegrees - b.pose).abs().mean();
      const auto loss = lp + pose_w * lpose;
      opt.zero_grad();
      loss.backward();
      opt.step();

      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      loss_acc += loss.item<double>(), lp_acc += lp.item<double>(), lpose_acc += lpose.item<double>(), time_acc += secs, data_acc += data_time;
      ++acc_n, ++iters_done;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      if ((it + 1) % size_t(log_interval) == 0 || it + 1 == per_epoch) {
        logLine({{"mode", "train"}, {"epoch", epoch}, {"iter", it + 1}, {"lr", cur_lr}, {"loss", round4(loss_acc / acc_n)},
                 {"loss_points", round4(lp_acc / acc_n)}, {"loss_pose", round4(lpose_acc / acc_n)}, {"time", round4(time_acc / acc_n)},
                 {"data_time", round4(data_acc / acc_n)}});
        loss_acc = lp_acc = lpose_acc = time_acc = data_acc = 0, acc_n = 0;
      }
      progress.update(epoch, int(it + 1), loss.item<double>(), cur_lr, elapsed / double(iters_done), int(total_iters - iters_done));
    }
    if (epoch % val_interval == 0 || epoch == epochs) {
      const ValResult v = validate(net, ds.val, ds.calibration, size);
      logLine({{"mode", "val"}, {"epoch", epoch}, {"nme_ion", round4(v.nme_ion)}, {"nme_ion_pass1", round4(v.nme_ion_pass1)},
               {"failure_rate", round4(v.failure_rate)}, {"pose_mae", round4(v.pose_mae)}, {"pitch_mae", round4(v.pitch)},
               {"yaw_mae", round4(v.yaw)}, {"roll_mae", round4(v.roll)}, {"faces", v.faces}});
      std::cerr << "facekit-train: epoch " << epoch << " val: NME(ION) " << round4(v.nme_ion) << " (first pass " << round4(v.nme_ion_pass1)
                << "), pose MAE " << round4(v.pose_mae) << " deg on " << v.faces << " faces\n";
    }
    if (epoch % ckpt_interval == 0 || epoch == epochs) saveCheckpoint(fs::path(work_dir) / ("epoch_" + std::to_string(epoch) + ".pt"), net, opt, epoch);
    saveCheckpoint(fs::path(work_dir) / "latest.pt", net, opt, epoch);
  }

  exportModel(net, ds, cfg, work_dir, "facekit-train, " + std::to_string(epochs) + " epochs, " + std::to_string(ds.train.size()) + " faces" +
              (finetune.empty() ? "" : ", fine-tuned from " + fs::path(finetune).filename().string()));
  std::cerr << "facekit-train: log " << log_path.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "facekit-train: error: " << e.what() << "\n";
    return 1;
  }
}
