// facekit-train's MTCNN task (config "task": "mtcnn", configs/mtcnn-*.json): the stages named in
// train.stages (pnet, rnet, onet, in order) trained one after another on samples generated
// from WIDER-style annotations, hard samples for R-Net and O-Net mined with the model as the
// previous stage left it; after each stage one model file with all three nets (the others from
// --finetune or the earlier stage) and its WIDER AP on the validation set in the log.
// `resume`: a WORK_DIR/<stage>_latest.pt of an earlier run with the same config; the stages
// before it are skipped, its stage continues after the checkpoint's epoch.
#pragma once

#include <string>
#include <vector>

#include "train_config.hpp"

namespace facekit::train {

int runMtcnn(const Json& cfg, const std::string& config_path, const std::vector<std::string>& overrides, const std::string& work_dir,
             const std::string& finetune, const std::string& resume = "");

}  // namespace facekit::train
