#include "cmd_train.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "facekit/error.hpp"

namespace fs = std::filesystem;

namespace facekit::cli {

void registerTrain(CLI::App& app) {
  auto* train = app.add_subcommand("train",
                                   "train or fine-tune a model (runs facekit-train: --config FILE --work-dir DIR [--cfg-options K=V ...] "
                                   "[--finetune MODEL] [--resume CKPT]; see facekit-train --help)");
  train->prefix_command();  // every argument goes to facekit-train as it is
  train->callback([train] {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    const fs::path trainer = (ec ? fs::path(".") : self.parent_path()) / "facekit-train";
    if (!fs::exists(trainer))
      throw Error(Error::Code::kIoError, trainer.string() + " is not built (it needs libtorch: apt-get install libtorch-dev, then rebuild)");
    std::vector<std::string> args{trainer.string()};
    for (const auto& a : train->remaining()) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(trainer.c_str(), argv.data());
    throw Error(Error::Code::kIoError, "cannot run " + trainer.string() + ": " + std::strerror(errno));
  });
}

}  // namespace facekit::cli
