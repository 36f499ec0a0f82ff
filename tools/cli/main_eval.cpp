// facekit-eval: `facekit eval ...` execs this program (same argv[0]), which alone links the peers
// (dlib, OpenCV DNN for YuNet) and libmatio (WIDER FACE .mat ground truth).
#include "cmd_eval.hpp"
#include "facekit/facekit.hpp"
#include "programs.hpp"

int main(int argc, char** argv) {
  CLI::App app{"facekit " FACEKIT_VERSION ": face detection (MTCNN) with 5 landmarks"};
  app.require_subcommand(1);
  facekit::cli::registerEval(app);
  return facekit::cli::runProgram(app, argc, argv);
}
