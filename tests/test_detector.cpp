// End-to-end detection on real photos, checked against independent references.
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;
using facekit::test::testOptions;

namespace {

FaceDetector& detector() {
  static auto d = FaceDetector::create(testOptions());
  return *d;
}

cv::Mat asMat(const Image& img) {
  return cv::Mat(img.height, img.width, img.format == PixelFormat::kGray ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(img.pixels.data()));
}

void expectPlausibleLandmarks(const Face& f) {
  const auto& p = f.landmarks;
  for (const Point2f& q : p) {
    EXPECT_GT(q.x, f.box.x1);
    EXPECT_LT(q.x, f.box.x2);
    EXPECT_GT(q.y, f.box.y1);
    EXPECT_LT(q.y, f.box.y2);
  }
  EXPECT_LT(p[0].x, p[1].x) << "left eye must be left of right eye";
  EXPECT_LT(p[3].x, p[4].x) << "left mouth corner must be left of right";
  const float eyes_y = 0.5f * (p[0].y + p[1].y), mouth_y = 0.5f * (p[3].y + p[4].y);
  EXPECT_GT(p[2].y, eyes_y) << "nose below the eyes";
  EXPECT_LT(p[2].y, mouth_y) << "nose above the mouth";
  EXPECT_GT(p[2].x, p[0].x);
  EXPECT_LT(p[2].x, p[1].x);
}

}  // namespace

// Independent reference: OpenCV's Haar cascade (Viola-Jones), a different method entirely.
TEST(Detector, AstronautMatchesHaarCascadeBox) {
  const auto faces = detector().detect(astronaut().view());
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_GT(faces[0].score, 0.99f);

  cv::CascadeClassifier haar(FACEKIT_TEST_HAAR);
  ASSERT_FALSE(haar.empty());
  cv::Mat gray;
  cv::cvtColor(asMat(astronaut()), gray, cv::COLOR_RGB2GRAY);
  std::vector<cv::Rect> hf;
  std::vector<int> levels;
  std::vector<double> weights;
  haar.detectMultiScale(gray, hf, levels, weights, 1.05, 5, 0, cv::Size(40, 40), cv::Size(), true);
  ASSERT_FALSE(hf.empty());
  // The cascade's most confident detection (it also fires on the suit's badge).
  const cv::Rect h = hf[size_t(std::max_element(weights.begin(), weights.end()) - weights.begin())];
  const Box hb{float(h.x), float(h.y), float(h.x + h.width), float(h.y + h.height)};
  EXPECT_GE(iou(faces[0].box, hb), 0.7f) << "haar box " << h.x << "," << h.y << " " << h.width << "x" << h.height;
  expectPlausibleLandmarks(faces[0]);
}

TEST(Detector, ReferenceBackendGivesTheSameFaces) {
  DetectorOptions o = testOptions();
  o.backend = ComputeBackend::kReference;
  o.min_face_size = 60;  // the reference path is slow; a coarser pyramid keeps the test short
  auto ref = FaceDetector::create(o);
  o.backend = ComputeBackend::kFast;
  auto fast = FaceDetector::create(o);
  const auto a = ref->detect(astronaut().view()), b = fast->detect(astronaut().view());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i].score, b[i].score, 1e-4);
    EXPECT_NEAR(a[i].box.x1, b[i].box.x1, 0.01);
    EXPECT_NEAR(a[i].box.y2, b[i].box.y2, 0.01);
    for (int k = 0; k < 5; ++k) EXPECT_NEAR(a[i].landmarks[size_t(k)].x, b[i].landmarks[size_t(k)].x, 0.01);
  }
}

// Two threads run pyramid levels in parallel: the faces must be exactly those of one thread.
TEST(Detector, TwoThreadsGiveTheSameFacesAsOne) {
  DetectorOptions o = testOptions();
  o.num_threads = 2;
  auto two = FaceDetector::create(o);
  for (int run = 0; run < 2; ++run) {  // the second run reuses the cached per-level networks
    const auto a = detector().detect(astronaut().view()), b = two->detect(astronaut().view());
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i].score, b[i].score, 1e-5);
      EXPECT_NEAR(a[i].box.x1, b[i].box.x1, 1e-3);
      EXPECT_NEAR(a[i].landmarks[2].y, b[i].landmarks[2].y, 1e-3);
    }
  }
}

// A view into a larger buffer (row stride > width * 3) must give what a packed copy gives.
TEST(Detector, StridedViewsEqualPackedCopies) {
  const cv::Mat full = asMat(astronaut());
  const cv::Mat roi = full(cv::Rect(100, 20, 300, 260));  // not continuous: stride = 512 * 3
  ASSERT_FALSE(roi.isContinuous());
  const cv::Mat packed = roi.clone();
  const auto a = detector().detect({roi.data, roi.cols, roi.rows, PixelFormat::kRGB, roi.step});
  const auto b = detector().detect({packed.data, packed.cols, packed.rows, PixelFormat::kRGB, 0});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FLOAT_EQ(a[0].score, b[0].score);
  EXPECT_FLOAT_EQ(a[0].box.x1, b[0].box.x1);
}

TEST(Detector, GrayAndBgrInputsAreHandled) {
  const auto rgb = detector().detect(astronaut().view());
  ASSERT_EQ(rgb.size(), 1u);
  cv::Mat bgr, gray;
  cv::cvtColor(asMat(astronaut()), bgr, cv::COLOR_RGB2BGR);
  cv::cvtColor(asMat(astronaut()), gray, cv::COLOR_RGB2GRAY);
  const auto b = detector().detect({bgr.data, bgr.cols, bgr.rows, PixelFormat::kBGR, bgr.step});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FLOAT_EQ(b[0].score, rgb[0].score);  // same pixels after conversion: same result
  const auto g = detector().detect({gray.data, gray.cols, gray.rows, PixelFormat::kGray, gray.step});
  ASSERT_EQ(g.size(), 1u);
  EXPECT_GT(iou(g[0].box, rgb[0].box), 0.85f);
}

// Several copies of one face at 24..400 px on one canvas: all found, nothing else.
TEST(Detector, CollageOfScalesFindsEveryCopyAndNothingElse) {
  const auto ref = detector().detect(astronaut().view());
  ASSERT_EQ(ref.size(), 1u);
  const Box fb = ref[0].box;
  // A square patch around the face with margin, so every copy shows a whole head.
  const float side = 1.5f * std::max(fb.width(), fb.height());
  const float cx = 0.5f * (fb.x1 + fb.x2), cy = 0.5f * (fb.y1 + fb.y2);
  const cv::Rect patch_rect(int(cx - side / 2), int(cy - side / 2), int(side), int(side));
  const cv::Mat patch = asMat(astronaut())(patch_rect & cv::Rect(0, 0, astronaut().width, astronaut().height));
  const float face_in_patch = fb.width() / float(patch.cols);

  cv::Mat canvas(1400, 2000, CV_8UC3, cv::Scalar(120, 130, 140));
  const int sizes[] = {24, 34, 48, 68, 96, 136, 192, 272, 400};
  std::vector<Box> expected;
  int x = 10, y = 10, row_h = 0;
  for (int face_px : sizes) {
    const int p = int(std::lround(face_px / face_in_patch));
    if (x + p > canvas.cols - 10) x = 10, y += row_h + 20, row_h = 0;
    cv::Mat scaled;
    cv::resize(patch, scaled, cv::Size(p, p), 0, 0, p < patch.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
    scaled.copyTo(canvas(cv::Rect(x, y, p, p)));
    const float s = float(p) / float(patch.cols);
    expected.push_back({x + (fb.x1 - patch_rect.x) * s, y + (fb.y1 - patch_rect.y) * s, x + (fb.x2 - patch_rect.x) * s,
                        y + (fb.y2 - patch_rect.y) * s});
    x += p + 20;
    row_h = std::max(row_h, p);
  }
  ASSERT_LT(y + row_h, canvas.rows);
  const auto faces = detector().detect({canvas.data, canvas.cols, canvas.rows, PixelFormat::kRGB, canvas.step});
  for (const Box& e : expected) {
    float best = 0;
    for (const Face& f : faces) best = std::max(best, iou(f.box, e));
    EXPECT_GE(best, 0.6f) << "copy of width " << e.width() << " at " << e.x1 << "," << e.y1 << " not found";
  }
  EXPECT_EQ(faces.size(), expected.size()) << "extra or missing boxes";
}

// Real photos of ../shared/data/faces: each holds at least one face; couple.jpg exactly two.
TEST(Detector, FindsFacesInEverySharedPhoto) {
  FACEKIT_REQUIRE_SHARED();
  DetectorOptions o = testOptions();
  o.min_face_size = 40;  // faces there are >= 60 px; keeps 4000 px images quick
  o.num_threads = 2;
  auto det = FaceDetector::create(o);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(facekit::test::sharedDir() + "/data/faces")) {
    if (e.path().extension() != ".jpg") continue;
    ++files;
    const Image img = loadImage(e.path().string());
    const auto faces = det->detect(img.view());
    EXPECT_GE(faces.size(), 1u) << e.path();
    if (e.path().filename() == "couple.jpg") EXPECT_EQ(faces.size(), 2u);
    if (!faces.empty()) expectPlausibleLandmarks(faces[0]);
  }
  EXPECT_EQ(files, 48);
}

TEST(Detector, EmptySceneGivesNoFaces) {
  cv::Mat noise(480, 640, CV_8UC3);
  cv::randu(noise, 0, 255);
  EXPECT_TRUE(detector().detect({noise.data, noise.cols, noise.rows, PixelFormat::kRGB, noise.step}).empty());
  cv::Mat flat(480, 640, CV_8UC1, cv::Scalar(200));
  EXPECT_TRUE(detector().detect({flat.data, flat.cols, flat.rows, PixelFormat::kGray, flat.step}).empty());
}

TEST(Detector, OptionsAreValidated) {
  auto with = [](auto change) {
    DetectorOptions o = testOptions();
    change(o);
    return o;
  };
  EXPECT_THROW(FaceDetector::create(with([](auto& o) { o.min_face_size = 5; })), Error);
  EXPECT_THROW(FaceDetector::create(with([](auto& o) { o.scale_factor = 1.2f; })), Error);
  EXPECT_THROW(FaceDetector::create(with([](auto& o) { o.thresholds[1] = 1.5f; })), Error);
  EXPECT_THROW(FaceDetector::create(with([](auto& o) { o.num_threads = 0; })), Error);
  EXPECT_THROW(FaceDetector::create(with([](auto& o) { o.num_threads = 100000; })), Error);  // refused before any thread starts
  EXPECT_THROW(FaceDetector::create(with([](auto& o) { o.model_path = "/nonexistent.safetensors"; })), Error);
}

TEST(Detector, MinFaceSizeSkipsSmallerFaces) {
  DetectorOptions o = testOptions();
  o.min_face_size = 200;  // the astronaut's face is ~90 px
  EXPECT_TRUE(FaceDetector::create(o)->detect(astronaut().view()).empty());
}

TEST(Render, ModelScopeJsonLayout) {
  Face f;
  f.score = 0.99876f;
  f.box = {1.234f, 2, 3, 4};
  for (int i = 0; i < 5; ++i) f.landmarks[size_t(i)] = {float(i), float(10 + i)};
  EXPECT_EQ(toModelScopeJson({f}),
            R"({"scores":[0.9988],"boxes":[[1.23,2.0,3.0,4.0]],"keypoints":[[0.0,10.0,1.0,11.0,2.0,12.0,3.0,13.0,4.0,14.0]]})");
  EXPECT_EQ(toModelScopeJson({}), R"({"scores":[],"boxes":[],"keypoints":[]})");
}
