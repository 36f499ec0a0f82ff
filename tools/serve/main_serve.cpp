// facekit-serve: `facekit serve ...` execs this program (same argv[0] and process id, so signals
// reach the server), which alone links the HTTP server.
#include "cmd_serve.hpp"
#include "facekit/facekit.hpp"
#include "programs.hpp"

int main(int argc, char** argv) {
  CLI::App app{"facekit " FACEKIT_VERSION ": face detection (MTCNN) with 5 landmarks"};
  app.require_subcommand(1);
  facekit::cli::registerServe(app);
  return facekit::cli::runProgram(app, argc, argv);
}
