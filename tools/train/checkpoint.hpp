// What every facekit-train checkpoint holds, whatever the task: the net, the optimizer state and
// the number of epochs done ("model", "optimizer", "epoch"); a task adds its own entries.
#pragma once

#include <torch/torch.h>

namespace facekit::train {

inline void writeCheckpointCore(torch::serialize::OutputArchive& ar, torch::nn::Module& net, torch::optim::Optimizer& opt, int epoch) {
  torch::serialize::OutputArchive model_ar, opt_ar;
  net.save(model_ar);
  opt.save(opt_ar);
  ar.write("model", model_ar);
  ar.write("optimizer", opt_ar);
  ar.write("epoch", torch::tensor(int64_t(epoch)));
}

}  // namespace facekit::train
