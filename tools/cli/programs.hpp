// The facekit command is a front-end plus sibling programs: subcommands whose dependencies are
// heavy (dlib, OpenCV DNN and libmatio for eval; OpenCV's video stack for video; the HTTP server
// for serve; libtorch for train) run in their own program, so `facekit detect` loads none of them
// (issue 10: 255 shared libraries and 78 MiB resident for `facekit --help` before the split).
// The front-end execs the sibling with the whole command line; the sibling parses it with the
// same CLI11 definitions, so options, help, messages and exit codes stay those of `facekit`.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

namespace facekit::cli {

// A program beside the running one (the build tree and an install put facekit, facekit-eval,
// facekit-video, facekit-serve and facekit-train in one folder).
std::filesystem::path siblingProgram(const std::string& name);

// Adds subcommand `name` whose whole command line is handed to `program` (a sibling): argv[0]
// is kept, so usage lines read `facekit ...` as before. Its help text is the sibling's
// (tests/test_lean_cli.cpp checks that both list the same description).
void addSiblingCommand(CLI::App& app, const std::string& name, const std::string& description, const std::string& program);

// Parses and runs a program's subcommands the way every facekit program does: --help exits 0, a
// refused command line exits 2 with one line on stderr, a failing subcommand exits 1 (or its
// ExitCode). Also installs the FACEKIT_PEAK_MEMORY_FILE report.
int runProgram(CLI::App& app, int argc, char** argv);

// The parsing half of runProgram(), for a program that goes on after its callbacks (facekit's
// own detect and convert commands): -1 when the command line parsed and its callbacks ran,
// otherwise the exit code, with the message already printed.
int parseCommandLine(CLI::App& app, int argc, char** argv);

// With FACEKIT_PEAK_MEMORY_FILE set, writes this process's peak resident memory (VmHWM, kB)
// there at exit (the benchmark's memory figures).
void reportPeakMemoryAtExit();

}  // namespace facekit::cli
