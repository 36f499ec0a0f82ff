// The bad-input matrix: every way in (image files and bytes, image views, options, floats, model
// files) through the C++ API and, where the command line reaches it, through `facekit`. Each row
// names the input, the facekit::Error code and message fragment the API must give, and the exit
// code and message the CLI must give (one line, "facekit: error: ..."). Never a crash.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>

#include "bad_files.hpp"
#include "cli_run.hpp"
#include "test_util.hpp"

using namespace facekit;
using facekit::test::BadFiles;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Row {
  std::string name;
  std::function<void()> api;  // must throw facekit::Error; empty: a CLI-only row
  Error::Code code = Error::Code::kInvalidArgument;
  std::string fragment;       // in the API's message (and the CLI's, unless cli_fragment is set)
  std::string cli;            // arguments of `facekit`; empty: an API-only row
  int exit_code = 1;
  std::string cli_fragment;
};

Row row(std::string name, std::function<void()> api, Error::Code code, std::string fragment, std::string cli = "", int exit_code = 1,
        std::string cli_fragment = "") {
  return {std::move(name), std::move(api), code, std::move(fragment), std::move(cli), exit_code, std::move(cli_fragment)};
}

const char* codeName(Error::Code c) {
  switch (c) {
    case Error::Code::kInvalidArgument: return "kInvalidArgument";
    case Error::Code::kIoError: return "kIoError";
    case Error::Code::kBadImage: return "kBadImage";
    case Error::Code::kBadModel: return "kBadModel";
    case Error::Code::kInternal: return "kInternal";
  }
  return "?";
}

std::string model() { return std::string(" --model ") + FACEKIT_TEST_MODEL; }
std::string sample() { return std::string(" ") + FACEKIT_TEST_SAMPLE; }

DetectorOptions detectorWith(const std::function<void(DetectorOptions&)>& change) {
  DetectorOptions o = test::testOptions();
  change(o);
  return o;
}
LandmarkerOptions landmarkerWith(const std::function<void(LandmarkerOptions&)>& change) {
  LandmarkerOptions o;
  o.detector = test::testOptions();
  change(o);
  return o;
}

FaceDetector& detector() {
  static auto d = FaceDetector::create(test::testOptions());
  return *d;
}
FaceLandmarker& landmarker() {
  static auto l = FaceLandmarker::create(landmarkerWith([](LandmarkerOptions&) {}));
  return *l;
}

FaceLandmarker& meshLandmarker() {
  static auto l = FaceLandmarker::create(landmarkerWith([](LandmarkerOptions& o) {
    o.backend = LandmarkBackend::kMesh;
    o.mesh_model_path = std::string(FACEKIT_TEST_MODEL_DIR) + "/facemesh.safetensors";
  }));
  return *l;
}

std::vector<Row> matrix() {
  const BadFiles& bad = BadFiles::get();
  std::vector<Row> rows;
  auto image = [&](const std::string& name, const std::string& path, Error::Code code, const std::string& fragment, bool cli = true) {
    rows.push_back(row("image file: " + name, [path] { loadImage(path); }, code, fragment, cli ? "detect " + path + model() : "", 1, ""));
  };
  // --- image files: missing, empty, truncated, corrupt, wrong format, degenerate sizes, huge headers
  image("missing", bad.images.at("missing.jpg"), Error::Code::kIoError, "no such file");
  image("a directory", bad.dir, Error::Code::kIoError, "is a directory", /*cli=*/false);  // the CLI searches folders
  image("empty", bad.images.at("empty.jpg"), Error::Code::kBadImage, "empty file");
  image("truncated JPEG", bad.images.at("truncated.jpg"), Error::Code::kBadImage, "truncated JPEG");
  image("truncated PNG", bad.images.at("truncated.png"), Error::Code::kBadImage, "truncated PNG");
  image("corrupt JPEG", bad.images.at("corrupt.jpg"), Error::Code::kBadImage, "JPEG");
  image("random bytes", bad.images.at("random.png"), Error::Code::kBadImage, "cannot decode");
  image("text", bad.images.at("not-an-image.txt"), Error::Code::kBadImage, "cannot decode");
  image("wrong format (GIF)", bad.images.at("gif.gif"), Error::Code::kBadImage, "not a JPEG, PNG, BMP, TIFF, WebP or PNM image");
  image("1x1", bad.images.at("one-pixel.png"), Error::Code::kBadImage, "image is 1x1 pixels; facekit needs at least 12x12");
  image("1x100000", bad.images.at("one-by-100000.png"), Error::Code::kBadImage, "image is 1x100000 pixels");
  image("100000x1", bad.images.at("100000-by-one.png"), Error::Code::kBadImage, "image is 100000x1 pixels");
  for (const char* ext : {"png", "jpg", "bmp", "tiff", "webp", "ppm"}) {
    const std::string sides = std::string(ext) == "webp" ? "16000x16000" : "30000x30000";  // WebP's sides stop at 16384
    image("header claiming " + sides + " (" + ext + ")", bad.images.at(std::string("huge-header.") + ext), Error::Code::kBadImage,
          "image is " + sides + " pixels, larger than the limit of 200000000 pixels");
  }
  // --- --strict / LoadOptions::strict: today's refusals on request (accepted by default: test_image_formats.cpp)
  for (const auto& [name, fragment] : {std::pair<std::string, std::string>{"sixteen-bit.png", "16-bit samples are not supported"},
                                       {"rgba.png", "alpha channel"}}) {
    const std::string path = bad.strict_images.at(name);
    rows.push_back(row("strict: " + name, [path] { LoadOptions o; o.strict = true; loadImage(path, o); }, Error::Code::kBadImage, fragment,
                    "detect --strict " + path + model(), 1, ""));
  }
  // --- image bytes in memory and LoadOptions
  rows.push_back(row("memory: null data", [] { loadImageFromMemory(nullptr, 10, "upload"); }, Error::Code::kInvalidArgument, "upload: null data"));
  rows.push_back(row("memory: 0 bytes", [] { loadImageFromMemory("", 0, "upload"); }, Error::Code::kBadImage, "upload: empty file"));
  const std::string sample_path = FACEKIT_TEST_SAMPLE;
  rows.push_back(row("LoadOptions: max_pixels 0", [=] { LoadOptions o; o.max_pixels = 0; loadImage(sample_path, o); }, Error::Code::kInvalidArgument, "max_pixels"));
  rows.push_back(row("LoadOptions: min_side 0", [=] { LoadOptions o; o.min_side = 0; loadImage(sample_path, o); }, Error::Code::kInvalidArgument, "min_side"));
  rows.push_back(row("LoadOptions: min_side -5", [=] { LoadOptions o; o.min_side = -5; loadImage(sample_path, o); }, Error::Code::kInvalidArgument, "min_side"));
  // --- image views given to detect()
  static const std::vector<uint8_t> px(100000 * 3, 7);
  rows.push_back(row("view: no data", [] { detector().detect({nullptr, 100, 100, PixelFormat::kRGB, 0}); }, Error::Code::kInvalidArgument, "no data"));
  rows.push_back(row("view: 1x1", [] { detector().detect({px.data(), 1, 1, PixelFormat::kRGB, 0}); }, Error::Code::kInvalidArgument, "1x1 pixels"));
  rows.push_back(row("view: 1x100000", [] { detector().detect({px.data(), 1, 100000, PixelFormat::kGray, 0}); }, Error::Code::kInvalidArgument, "1x100000 pixels"));
  rows.push_back(row("view: 100000x1", [] { detector().detect({px.data(), 100000, 1, PixelFormat::kRGB, 0}); }, Error::Code::kInvalidArgument, "100000x1 pixels"));
  rows.push_back(row("view: negative width", [] { detector().detect({px.data(), -64, 64, PixelFormat::kGray, 0}); }, Error::Code::kInvalidArgument, "-64x64 pixels"));
  rows.push_back(row("landmarker view: 1x100000", [] { landmarker().detect({px.data(), 1, 100000, PixelFormat::kGray, 0}); }, Error::Code::kInvalidArgument, "1x100000 pixels"));
  // --- faces, points and views given to FaceLandmarker::landmark() / track(), both backends
  static const std::vector<uint8_t> gray(64 * 64, 100);
  const ImageView view64{gray.data(), 64, 64, PixelFormat::kGray, 0};
  auto face = [](Box b, Point2f eye = {}) {
    Face f;
    f.box = b;
    f.landmarks[0] = eye;
    return f;
  };
  const Face ok = face({10, 10, 40, 40});
  auto previous = [](Point2f p, bool mesh) {
    FaceLandmarks l;
    for (auto& q : l.points) q = p;
    if (mesh) l.mesh.assign(468, {p.x, p.y, 0});
    l.points[0] = {p.x + 5, p.y};  // one point apart: the points span something, only p is bad
    if (mesh) l.mesh[0] = {p.x + 5, p.y, 0};
    return l;
  };
  for (const bool mesh : {false, true}) {
    auto lm = [mesh]() -> FaceLandmarker& { return mesh ? meshLandmarker() : landmarker(); };
    const std::string b = mesh ? " (mesh)" : " (facekit-106)";
    auto lmRow = [&](const std::string& name, std::function<void()> f, const std::string& fragment) {
      rows.push_back(row("landmarker" + b + ": " + name, std::move(f), Error::Code::kInvalidArgument, fragment));
    };
    const std::string bad_face = "the face's box is empty or not finite";
    lmRow("landmark() NaN box", [=] { lm().landmark(view64, face({kNaN, 0, 10, 10})); }, bad_face);
    lmRow("landmark() infinite box", [=] { lm().landmark(view64, face({0, 0, kInf, 10})); }, bad_face);
    lmRow("landmark() -infinite box", [=] { lm().landmark(view64, face({-kInf, 0, 10, 10})); }, bad_face);
    lmRow("landmark() empty box", [=] { lm().landmark(view64, face({10, 10, 10, 20})); }, bad_face);
    lmRow("landmark() inverted box", [=] { lm().landmark(view64, face({40, 40, 10, 10})); }, bad_face);
    lmRow("landmark() NaN eye point", [=] { lm().landmark(view64, face({10, 10, 40, 40}, {kNaN, 20})); }, "eye points are not finite");
    lmRow("landmark() null view", [=] { lm().landmark({nullptr, 64, 64, PixelFormat::kGray, 0}, ok); }, "FaceLandmarker::landmark: image view has no data");
    lmRow("landmark() 1x1 view", [=] { lm().landmark({gray.data(), 1, 1, PixelFormat::kGray, 0}, ok); }, "image is 1x1 pixels");
    lmRow("landmark() negative width", [=] { lm().landmark({gray.data(), -64, 64, PixelFormat::kGray, 0}, ok); }, "image is -64x64 pixels");
    lmRow("track() NaN points", [=] { lm().track(view64, previous({kNaN, kNaN}, mesh)); }, "the previous frame's points are not finite");
    lmRow("track() infinite points", [=] { lm().track(view64, previous({kInf, 3}, mesh)); }, "the previous frame's points are not finite");
    lmRow("track() coinciding points", [=] {
      FaceLandmarks l = previous({20, 20}, mesh);
      l.points[0] = {20, 20};
      if (mesh) l.mesh[0] = {20, 20, 0};
      lm().track(view64, l);
    }, "the previous frame's points all coincide");
    lmRow("track() null view", [=] { lm().track({nullptr, 64, 64, PixelFormat::kGray, 0}, previous({20, 20}, mesh)); },
          "FaceLandmarker::track: image view has no data");
    lmRow("track() 1x1 view", [=] { lm().track({gray.data(), 1, 1, PixelFormat::kGray, 0}, previous({20, 20}, mesh)); }, "image is 1x1 pixels");
  }
  // --- NaN and infinite floats, negative and zero options: DetectorOptions (CLI: --threshold, --min-face, --threads)
  auto detOpt = [&](const std::string& name, const std::function<void(DetectorOptions&)>& change, const std::string& fragment,
                    const std::string& cli = "", int exit_code = 1, const std::string& cli_fragment = "") {
    const DetectorOptions o = detectorWith(change);
    rows.push_back(row("DetectorOptions: " + name, [o] { FaceDetector::create(o); }, Error::Code::kInvalidArgument, fragment,
                    cli.empty() ? "" : "detect" + sample() + model() + " " + cli, exit_code, cli_fragment));
  };
  detOpt("threshold NaN", [](auto& o) { o.thresholds[0] = kNaN; }, "thresholds must be in [0, 1]", "--threshold nan,0.7,0.7");
  detOpt("threshold inf", [](auto& o) { o.thresholds[2] = kInf; }, "thresholds must be in [0, 1]", "--threshold 0.6,0.7,inf");
  detOpt("threshold -inf", [](auto& o) { o.thresholds[1] = -kInf; }, "thresholds must be in [0, 1]", "--threshold 0.6,-inf,0.7");
  detOpt("threshold negative", [](auto& o) { o.thresholds[1] = -0.1f; }, "thresholds must be in [0, 1]", "--threshold 0.6,-0.1,0.7");
  detOpt("scale_factor NaN", [](auto& o) { o.scale_factor = kNaN; }, "scale_factor");
  detOpt("scale_factor inf", [](auto& o) { o.scale_factor = kInf; }, "scale_factor");
  detOpt("scale_factor 0", [](auto& o) { o.scale_factor = 0; }, "scale_factor");
  detOpt("scale_factor negative", [](auto& o) { o.scale_factor = -0.7f; }, "scale_factor");
  detOpt("nms NaN", [](auto& o) { o.nms[0] = kNaN; }, "nms");
  detOpt("nms 0", [](auto& o) { o.nms[2] = 0; }, "nms");
  detOpt("pnet_scale_nms NaN", [](auto& o) { o.pnet_scale_nms = kNaN; }, "pnet_scale_nms");
  detOpt("pnet_scale_nms negative", [](auto& o) { o.pnet_scale_nms = -1; }, "pnet_scale_nms");
  detOpt("min_face_size 0", [](auto& o) { o.min_face_size = 0; }, "min_face_size must be >= 8 (got 0)", "--min-face 0");
  detOpt("min_face_size negative", [](auto& o) { o.min_face_size = -20; }, "min_face_size must be >= 8 (got -20)", "--min-face -20");
  detOpt("num_threads 0", [](auto& o) { o.num_threads = 0; }, "num_threads must be in 1..64", "--threads 0");
  detOpt("num_threads negative", [](auto& o) { o.num_threads = -4; }, "num_threads must be in 1..64", "--threads -4");
  // --- LandmarkerOptions
  auto lmOpt = [&](const std::string& name, const std::function<void(LandmarkerOptions&)>& change, Error::Code code, const std::string& fragment) {
    const LandmarkerOptions o = landmarkerWith(change);
    rows.push_back(row("LandmarkerOptions: " + name, [o] { FaceLandmarker::create(o); }, code, fragment));
  };
  lmOpt("refine_passes -2", [](auto& o) { o.refine_passes = -2; }, Error::Code::kInvalidArgument, "refine_passes");
  lmOpt("num_threads 0", [](auto& o) { o.num_threads = 0; }, Error::Code::kInvalidArgument, "num_threads");
  lmOpt("detector threshold NaN", [](auto& o) { o.detector.thresholds[0] = kNaN; }, Error::Code::kInvalidArgument, "thresholds");
  lmOpt("mesh crop_scale NaN", [](auto& o) { o.backend = LandmarkBackend::kMesh; o.crop_scale = kNaN; }, Error::Code::kInvalidArgument, "crop_scale");
  lmOpt("mesh crop_scale 0", [](auto& o) { o.backend = LandmarkBackend::kMesh; o.crop_scale = 0; }, Error::Code::kInvalidArgument, "crop_scale");
  lmOpt("mesh crop_scale negative", [](auto& o) { o.backend = LandmarkBackend::kMesh; o.crop_scale = -1.5f; }, Error::Code::kInvalidArgument, "crop_scale");
  lmOpt("model of the wrong network (MTCNN)", [](auto& o) { o.model_path = FACEKIT_TEST_MODEL; }, Error::Code::kBadModel, "is not a facekit-106 landmark model");
  // --- model files given to the detector
  auto modelRow = [&](const std::string& name, const std::string& path, Error::Code code, const std::string& fragment) {
    const DetectorOptions o = detectorWith([&](DetectorOptions& d) { d.model_path = path; });
    rows.push_back(row("model file: " + name, [o] { FaceDetector::create(o); }, code, fragment, "detect" + sample() + " --model " + path, 1, ""));
  };
  modelRow("missing", bad.models.at("missing.safetensors"), Error::Code::kIoError, "cannot open");
  modelRow("empty", bad.models.at("empty.safetensors"), Error::Code::kBadModel, "too short to be a facekit model");
  modelRow("truncated (half)", bad.models.at("truncated.safetensors"), Error::Code::kBadModel, "(truncated or corrupt)");
  modelRow("header only", bad.models.at("header-only.safetensors"), Error::Code::kBadModel, "does not fit the file");
  modelRow("weights cut short", bad.detector_models.at("weights-cut-short.safetensors"), Error::Code::kBadModel, "data lies outside the file");
  modelRow("a PNG", bad.models.at("png-as-model.safetensors"), Error::Code::kBadModel, "not a facekit model");
  modelRow("a TFLite file", bad.models.at("tflite-as-model.safetensors"), Error::Code::kBadModel, "model file");
  modelRow("another model's file", bad.models.at("other-model.safetensors"), Error::Code::kBadModel, "holds a 'landmark106'");
  modelRow("the landmark model (wrong network)", bad.detector_models.at("landmark106-as-mtcnn.safetensors"), Error::Code::kBadModel, "holds a 'landmark106'");
  modelRow("wrong tensor shape", bad.detector_models.at("wrong-shape.safetensors"), Error::Code::kBadModel, "has shape");
  modelRow("header size claiming 1 TiB", bad.detector_models.at("terabyte-header.safetensors"), Error::Code::kBadModel,
           "header size 1099511627776 does not fit the file");
  modelRow("tensor claiming 128 EiB", bad.detector_models.at("terabyte-tensor.safetensors"), Error::Code::kBadModel,
           "more data than the file's 0 bytes");
  // --- the command line itself (parser errors exit with 2)
  auto cliRow = [&](const std::string& name, const std::string& args, int exit_code, const std::string& fragment) {
    rows.push_back(row("command line: " + name, {}, Error::Code::kInvalidArgument, "", args, exit_code, fragment));
  };
  cliRow("threshold not a number", "detect" + sample() + model() + " --threshold a,b,c", 1, "--threshold: 'a' is not a number");
  cliRow("two thresholds", "detect" + sample() + model() + " --threshold 0.6,0.7", 1, "three comma-separated numbers");
  cliRow("min-face not a number", "detect" + sample() + model() + " --min-face abc", 2, "--min-face");
  cliRow("unknown backend", "detect" + sample() + model() + " --backend gpu", 2, "--backend");
  cliRow("unknown option", "detect" + sample() + model() + " --no-such-option", 2, "--no-such-option");
  cliRow("no image", "detect" + model(), 2, "images");
  cliRow("no command", "", 2, "subcommand");
  cliRow("several images, --draw a file", "detect" + sample() + sample() + model() + " --draw " + sample_path, 1, "must be a folder");
  return rows;
}

}  // namespace

TEST(BadInput, MatrixThroughTheApiAndTheCli) {
  size_t api_rows = 0, cli_rows = 0;
  for (const Row& row : matrix()) {
    SCOPED_TRACE(row.name);
    if (row.api) {
      ++api_rows;
      try {
        row.api();
        ADD_FAILURE() << "accepted";
      } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(codeName(e.code()), std::string(codeName(row.code))) << msg;
        EXPECT_NE(msg.find(row.fragment), std::string::npos) << "'" << msg << "' should contain '" << row.fragment << "'";
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not a facekit::Error: " << e.what();
      }
    }
    if (!row.cli.empty() || row.name == "command line: no command") {
      ++cli_rows;
      const auto r = test::runFacekit(row.cli);
      const std::string fragment = row.cli_fragment.empty() ? row.fragment : row.cli_fragment;
      EXPECT_FALSE(r.signalled) << "crashed";
      EXPECT_EQ(r.exit_code, row.exit_code) << r.err;
      EXPECT_TRUE(r.oneErrorLine()) << r.err;
      EXPECT_NE(r.err.find(fragment), std::string::npos) << "'" << r.err << "' should contain '" << fragment << "'";
    }
  }
  std::printf("bad-input matrix: %zu API rows, %zu CLI rows\n", api_rows, cli_rows);
  EXPECT_GE(api_rows, 90u);
  EXPECT_GE(cli_rows, 40u);
}

// A file's message names the file (the CLI's "facekit: error: <file>: <what>").
TEST(BadInput, ImageMessagesNameTheFile) {
  for (const auto& [name, path] : BadFiles::get().images) {
    try {
      loadImage(path);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// Shapes that are extreme but valid run (no faces, no error).
TEST(BadInput, ExtremeButValidShapesRun) {
  std::vector<uint8_t> px(12 * 20000, 128);
  EXPECT_TRUE(detector().detect({px.data(), 12, 20000, PixelFormat::kGray, 0}).empty());
  EXPECT_TRUE(detector().detect({px.data(), 20000, 12, PixelFormat::kGray, 0}).empty());
  EXPECT_NO_THROW(detector().detect({px.data(), 12, 12, PixelFormat::kGray, 0}));  // the minimum works
}

TEST(BadInput, GrayImagesLoadAsGray) {
  const Image g = loadImage(BadFiles::get().good_gray);
  EXPECT_EQ(g.format, PixelFormat::kGray);
  EXPECT_EQ(g.width, 512);
  EXPECT_EQ(g.pixels.size(), 512u * 512u);
}

// facekit drops PNG colour-profile chunks (libpng warns about the sample's); pixels must be
// exactly what OpenCV decodes from the untouched file.
TEST(ImageLoading, DroppingThePngProfileKeepsEveryPixel) {
  const Image img = loadImage(FACEKIT_TEST_SAMPLE);
  cv::Mat direct = cv::imread(FACEKIT_TEST_SAMPLE, cv::IMREAD_COLOR);
  cv::cvtColor(direct, direct, cv::COLOR_BGR2RGB);
  ASSERT_EQ(img.width, direct.cols);
  ASSERT_EQ(img.height, direct.rows);
  EXPECT_EQ(0, std::memcmp(img.pixels.data(), direct.data, img.pixels.size()));
}
