// DetectorOptions::all_orientations and FaceDetector::verify(): faces at any roll, checked
// upright, no more false faces than the upright detector, on photos made for these tests from
// ../shared/data/faces (rotated on an enlarged canvas, pasted into collages) and on the sample.
#include <filesystem>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <random>

#include "test_util.hpp"

using namespace facekit;
using facekit::test::astronaut;
using facekit::test::testOptions;

namespace {

cv::Mat asMat(const Image& img) {
  return cv::Mat(img.height, img.width, img.format == PixelFormat::kGray ? CV_8UC1 : CV_8UC3, const_cast<uint8_t*>(img.pixels.data()));
}

ImageView viewOf(const cv::Mat& m) {
  return {m.data, m.cols, m.rows, m.channels() == 1 ? PixelFormat::kGray : PixelFormat::kRGB, m.step};
}

DetectorOptions anyOrientationOptions() {
  DetectorOptions o = testOptions();
  o.all_orientations = true;
  return o;
}

FaceDetector& upright() {
  static auto d = FaceDetector::create(testOptions());
  return *d;
}

FaceDetector& anyOrientation() {
  static auto d = FaceDetector::create(anyOrientationOptions());
  return *d;
}

Point2f centre(const Box& b) { return {0.5f * (b.x1 + b.x2), 0.5f * (b.y1 + b.y2)}; }

// Turns src by `degrees` counter-clockwise on screen (OpenCV's convention) onto a canvas large
// enough to hold all of it (black around); A maps src points to the canvas.
cv::Mat rotated(const cv::Mat& src, double degrees, cv::Matx23d& A) {
  const double r = degrees * CV_PI / 180;
  double c = std::cos(r), s = std::sin(r);
  if (std::fabs(c) < 1e-9) c = 0;  // quarter turns stay exact
  if (std::fabs(s) < 1e-9) s = 0;
  const int W = int(std::lround(src.cols * std::fabs(c) + src.rows * std::fabs(s)));
  const int H = int(std::lround(src.cols * std::fabs(s) + src.rows * std::fabs(c)));
  // canvas = R * (p - src centre) + canvas centre, in continuous coordinates (pixel centres at +0.5)
  const double cx = src.cols / 2.0, cy = src.rows / 2.0;
  A = cv::Matx23d(c, s, W / 2.0 - c * cx - s * cy, -s, c, H / 2.0 + s * cx - c * cy);
  // warpAffine works on pixel indices: index = continuous - 0.5 on both sides.
  const cv::Matx23d Ai(A(0, 0), A(0, 1), A(0, 2) + 0.5 * (A(0, 0) + A(0, 1)) - 0.5, A(1, 0), A(1, 1), A(1, 2) + 0.5 * (A(1, 0) + A(1, 1)) - 0.5);
  cv::Mat out;
  cv::warpAffine(src, out, Ai, cv::Size(W, H), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return out;
}

Point2f apply(const cv::Matx23d& A, Point2f p) {
  return {float(A(0, 0) * p.x + A(0, 1) * p.y + A(0, 2)), float(A(1, 0) * p.x + A(1, 1) * p.y + A(1, 2))};
}

cv::Matx23d inverse(const cv::Matx23d& A) {
  cv::Matx23d B;
  cv::invertAffineTransform(A, B);
  return B;
}

// A face the tests expect: centre and size (mean side) in the test image.
struct Expected {
  Point2f centre;
  float size;
};

bool matches(const Face& f, const Expected& e) {
  const Point2f c = centre(f.box);
  const float s = 0.5f * (f.box.width() + f.box.height());
  return std::hypot(c.x - e.centre.x, c.y - e.centre.y) < 0.35f * e.size && s > 0.6f * e.size && s < 1.6f * e.size;
}

// Detections matching no expected face, plus second detections of one face.
int falseFaces(const std::vector<Face>& faces, const std::vector<Expected>& expected) {
  std::vector<int> hits(expected.size(), 0);
  int wrong = 0;
  for (const Face& f : faces) {
    size_t i = 0;
    while (i < expected.size() && !matches(f, expected[i])) ++i;
    if (i == expected.size() || hits[i]++ > 0) ++wrong;
  }
  return wrong;
}

// Eyes above the nose above the mouth, left before right, in the face's own (upright) frame.
bool saneOrder(const std::array<Point2f, 5>& p) {
  const float eyes = 0.5f * (p[0].y + p[1].y), mouth = 0.5f * (p[3].y + p[4].y);
  return p[0].x < p[1].x && p[3].x < p[4].x && eyes < p[2].y && p[2].y < mouth;
}

// The photos of ../shared/data/faces, scaled so the longer side is 480 px, with the faces the
// upright detector finds on them (score >= 0.9, at least 2 x min face: 40 px).
struct Photo {
  std::string name;
  cv::Mat rgb;
  std::vector<Face> faces, all;  // the expected ones; every upright detection
};

const std::vector<Photo>& photos() {
  static const std::vector<Photo> list = [] {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(facekit::test::sharedDir() + "/data/faces"))
      if (e.path().extension() == ".jpg") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    std::vector<Photo> out;
    for (const std::string& f : files) {
      const Image img = loadImage(f);
      cv::Mat rgb = asMat(img).clone();
      if (img.format == PixelFormat::kGray) cv::cvtColor(rgb, rgb, cv::COLOR_GRAY2RGB);
      const double k = 480.0 / std::max(rgb.cols, rgb.rows);
      if (k < 1) cv::resize(rgb, rgb, cv::Size(), k, k, cv::INTER_AREA);
      Photo p{std::filesystem::path(f).filename().string(), rgb, {}, {}};
      p.all = upright().detect(viewOf(rgb));
      for (const Face& d : p.all)
        if (d.score >= 0.9f && std::min(d.box.width(), d.box.height()) >= 40) p.faces.push_back(d);
      out.push_back(std::move(p));
    }
    return out;
  }();
  return list;
}

}  // namespace

// On an upright image every face the upright detector reports is reported the same way.
TEST(Orientations, UprightFacesAreReportedAsTheUprightDetectorReportsThem) {
  const auto up = upright().detect(astronaut().view());
  const auto any = anyOrientation().detect(astronaut().view());
  ASSERT_EQ(up.size(), 1u);
  ASSERT_EQ(any.size(), up.size());
  EXPECT_EQ(any[0].score, up[0].score);
  EXPECT_EQ(any[0].box.x1, up[0].box.x1);
  EXPECT_EQ(any[0].box.y2, up[0].box.y2);
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(any[0].landmarks[k].x, up[0].landmarks[k].x);
}

// The sample turned by quarter turns: one face, where the turned upright face is, its 5 points
// in face order (each lands on the turned upright point).
TEST(Orientations, QuarterTurnedSampleGivesOneFaceInFaceOrder) {
  const auto base = upright().detect(astronaut().view());
  ASSERT_EQ(base.size(), 1u);
  for (int deg : {90, 180, 270}) {
    cv::Matx23d A;
    const cv::Mat img = rotated(asMat(astronaut()), deg, A);
    const auto faces = anyOrientation().detect(viewOf(img));
    ASSERT_EQ(faces.size(), 1u) << deg;
    const Point2f want = apply(A, centre(base[0].box)), got = centre(faces[0].box);
    const float side = base[0].box.width();
    EXPECT_LT(std::hypot(got.x - want.x, got.y - want.y), 0.08f * side) << deg;
    EXPECT_NEAR(faces[0].box.width() * faces[0].box.height(), base[0].box.width() * base[0].box.height(), 0.25f * side * side) << deg;
    for (size_t k = 0; k < 5; ++k) {
      const Point2f w = apply(A, base[0].landmarks[k]);
      EXPECT_LT(std::hypot(faces[0].landmarks[k].x - w.x, faces[0].landmarks[k].y - w.y), 0.08f * side) << deg << " point " << k;
    }
    EXPECT_GT(faces[0].score, 0.9f) << deg;
  }
}

// Photos of ../shared/data/faces turned by every multiple of 45 degrees: every face the upright
// detector finds upright is found once, with its 5 points in a sane order in the face's own frame.
TEST(Orientations, RecallAtEveryAngleEqualsUpright) {
  FACEKIT_REQUIRE_SHARED();
  int expected = 0;
  for (const Photo& p : photos()) expected += int(p.faces.size());
  ASSERT_GE(expected, 48);
  int found_all = 0, sane = 0, duplicates = 0;
  for (int deg = 0; deg < 360; deg += 45) {
    int found = 0;
    for (const Photo& p : photos()) {
      cv::Matx23d A;
      const cv::Mat img = rotated(p.rgb, deg, A);
      const cv::Matx23d back = inverse(A);
      const auto faces = anyOrientation().detect(viewOf(img));
      for (const Face& e : p.faces) {
        const Expected want{apply(A, centre(e.box)), 0.5f * (e.box.width() + e.box.height())};
        int hits = 0;
        for (const Face& f : faces) {
          if (!matches(f, want)) continue;
          if (hits++ > 0) continue;
          std::array<Point2f, 5> q;
          for (size_t k = 0; k < 5; ++k) q[k] = apply(back, f.landmarks[k]);
          sane += saneOrder(q);
        }
        found += hits > 0;
        duplicates += std::max(0, hits - 1);
        if (hits == 0) ADD_FAILURE() << p.name << " turned " << deg << " degrees: face at " << want.centre.x << "," << want.centre.y << " not found";
      }
    }
    EXPECT_EQ(found, expected) << deg << " degrees";
    RecordProperty("recall_" + std::to_string(deg), std::to_string(found) + "/" + std::to_string(expected));
    found_all += found;
  }
  EXPECT_EQ(duplicates, 0);
  EXPECT_GE(sane, 0.95 * found_all) << sane << " of " << found_all << " in a sane order";
  RecordProperty("sane_order", std::to_string(sane) + "/" + std::to_string(found_all));
}

// Collages of pasted portraits (upright, and turned by quarter turns and any angle), whole photos
// tiled, blank and noise images: no more false faces than the upright detector reports.
TEST(Orientations, NoMoreFalseFacesThanUpright) {
  FACEKIT_REQUIRE_SHARED();
  std::vector<std::pair<cv::Mat, std::vector<Expected>>> scenes;
  std::mt19937 rng(7);
  const auto& ph = photos();
  size_t next = 0;
  for (int k = 0; k < 12; ++k) {  // portraits with a wide margin (hair, ears, shoulders, hands)
    const bool turn = k >= 6;
    cv::Mat canvas(960, 1280, CV_8UC3, cv::Scalar(110 + 20 * (k % 3), 120, 130));
    std::vector<Expected> want;
    std::vector<cv::Rect> used;
    for (int tries = 0; tries < 300 && used.size() < 10; ++tries) {
      const Photo& p = ph[next++ % ph.size()];
      if (p.faces.empty()) continue;
      const Box fb = p.faces[0].box;
      const float side = std::max(fb.width(), fb.height());
      const float margin = std::uniform_real_distribution<float>(1.6f, 2.6f)(rng);
      const Point2f c = centre(fb);
      const cv::Rect r = cv::Rect(int(c.x - margin * side / 2), int(c.y - margin * side / 2 + 0.1f * side), int(margin * side), int(margin * side)) &
                         cv::Rect(0, 0, p.rgb.cols, p.rgb.rows);
      const float s = std::uniform_real_distribution<float>(40.f, 200.f)(rng) / side;
      cv::Mat tile;
      cv::resize(p.rgb(r), tile, cv::Size(int(r.width * s), int(r.height * s)), 0, 0, cv::INTER_AREA);
      const int kind = turn ? std::uniform_int_distribution<int>(0, 5)(rng) : 0;
      const double deg = kind < 4 ? 90.0 * kind : std::uniform_real_distribution<double>(0, 360)(rng);
      cv::Matx23d A;
      tile = rotated(tile, deg, A);
      if (tile.cols >= canvas.cols || tile.rows >= canvas.rows) continue;
      const cv::Rect dst(std::uniform_int_distribution<int>(0, canvas.cols - tile.cols)(rng),
                         std::uniform_int_distribution<int>(0, canvas.rows - tile.rows)(rng), tile.cols, tile.rows);
      if (std::any_of(used.begin(), used.end(), [&](const cv::Rect& u) { return (u & dst).area() > 0; })) continue;
      tile.copyTo(canvas(dst));
      used.push_back(dst);
      for (const Face& f : p.all) {  // every face the upright detector sees in the pasted part
        const Point2f fc = centre(f.box);
        if (!r.contains(cv::Point(int(fc.x), int(fc.y)))) continue;
        const Point2f q = apply(A, {(fc.x - r.x) * s, (fc.y - r.y) * s});
        want.push_back({{dst.x + q.x, dst.y + q.y}, 0.5f * (f.box.width() + f.box.height()) * s});
      }
    }
    scenes.push_back({canvas, want});
  }
  for (size_t start = 0; start < ph.size(); start += 12) {  // whole photos, 4 x 3 tiles of 320 px
    cv::Mat canvas(960, 1280, CV_8UC3, cv::Scalar(128, 128, 128));
    std::vector<Expected> want;
    for (size_t i = start; i < std::min(ph.size(), start + 12); ++i) {
      const int x = int((i - start) % 4) * 320, y = int((i - start) / 4) * 320;
      const float s = 320.f / float(std::max(ph[i].rgb.cols, ph[i].rgb.rows));
      cv::Mat t;
      cv::resize(ph[i].rgb, t, cv::Size(), s, s, cv::INTER_AREA);
      t.copyTo(canvas(cv::Rect(x, y, t.cols, t.rows)));
      for (const Face& f : ph[i].all) want.push_back({{x + centre(f.box).x * s, y + centre(f.box).y * s}, 0.5f * (f.box.width() + f.box.height()) * s});
    }
    scenes.push_back({canvas, want});
  }
  for (int k = 0; k < 8; ++k) {  // nothing to find
    cv::Mat m(480, 640, CV_8UC3);
    if (k < 3) m.setTo(cv::Scalar(k * 100, 255 - k * 80, 128));
    else if (k < 5) cv::randu(m, 0, 255);
    else cv::randn(m, 128, 50);
    if (k == 4 || k == 7) cv::GaussianBlur(m, m, cv::Size(0, 0), 3);
    scenes.push_back({m, {}});
  }
  int false_up = 0, false_any = 0, found_up = 0, found_any = 0, expected = 0;
  for (const auto& [img, want] : scenes) {
    const auto up = upright().detect(viewOf(img)), any = anyOrientation().detect(viewOf(img));
    false_up += falseFaces(up, want), false_any += falseFaces(any, want);
    for (const Expected& e : want) {
      found_up += std::any_of(up.begin(), up.end(), [&](const Face& f) { return matches(f, e); });
      found_any += std::any_of(any.begin(), any.end(), [&](const Face& f) { return matches(f, e); });
    }
    expected += int(want.size());
  }
  RecordProperty("false_faces", "upright " + std::to_string(false_up) + ", all orientations " + std::to_string(false_any));
  RecordProperty("found", "upright " + std::to_string(found_up) + ", all orientations " + std::to_string(found_any) + " of " + std::to_string(expected));
  EXPECT_LE(false_any, false_up);
  EXPECT_GE(found_any, found_up);
  EXPECT_GT(found_any, found_up + 20) << "the turned portraits must be found";
}

// Threads share out work, never change results.
TEST(Orientations, TwoThreadsGiveTheSameFaces) {
  DetectorOptions o = anyOrientationOptions();
  o.num_threads = 2;
  auto two = FaceDetector::create(o);
  for (int deg : {0, 90, 135}) {
    cv::Matx23d A;
    const cv::Mat img = rotated(asMat(astronaut()), deg, A);
    const auto a = anyOrientation().detect(viewOf(img)), b = two->detect(viewOf(img));
    ASSERT_EQ(a.size(), b.size()) << deg;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i].score, b[i].score, 1e-5) << deg;
      EXPECT_NEAR(a[i].box.x1, b[i].box.x1, 1e-3) << deg;
      EXPECT_NEAR(a[i].landmarks[2].y, b[i].landmarks[2].y, 1e-3) << deg;
    }
  }
}

// ---- verify() ----------------------------------------------------------------------------------

TEST(Verify, RealFaceScoresHigh) {
  const auto faces = upright().detect(astronaut().view());
  ASSERT_EQ(faces.size(), 1u);
  const VerifiedFace v = upright().verify(astronaut().view(), faces[0]);
  EXPECT_GT(v.score, 0.9f);
  EXPECT_EQ(v.face.score, v.score);
  EXPECT_GT(iou(v.face.box, faces[0].box), 0.7f);
  const float side = faces[0].box.width();
  for (size_t k = 0; k < 5; ++k)
    EXPECT_LT(std::hypot(v.face.landmarks[k].x - faces[0].landmarks[k].x, v.face.landmarks[k].y - faces[0].landmarks[k].y), 0.06f * side) << k;
  const Point2f e = faces[0].landmarks[1], l = faces[0].landmarks[0];
  EXPECT_NEAR(v.roll, std::atan2(e.y - l.y, e.x - l.x) * 180 / CV_PI, 1e-3);
  EXPECT_NEAR(v.centre.x, centre(v.face.box).x, 1e-3);
  EXPECT_NEAR(v.width, v.face.box.width(), 1e-3);  // roll near 0: the face's frame is the image's
}

// Boxes on background (the sample's backdrop, a flat image, noise) do not verify.
TEST(Verify, BackgroundScoresLow) {
  Face c;
  c.landmarks = {{{30, 40}, {70, 40}, {50, 60}, {35, 80}, {65, 80}}};  // eyes level
  auto on = [&](const ImageView& view, Box b) {
    Face f = c;
    f.box = b;
    for (auto& p : f.landmarks) p.x += b.x1, p.y += b.y1;
    return upright().verify(view, f).score;
  };
  EXPECT_LT(on(astronaut().view(), {380, 380, 480, 480}), 0.2f);  // the suit
  EXPECT_LT(on(astronaut().view(), {20, 20, 120, 120}), 0.2f);    // the backdrop
  const cv::Mat flat(240, 320, CV_8UC3, cv::Scalar(120, 130, 140));
  EXPECT_LT(on(viewOf(flat), {100, 60, 200, 160}), 0.2f);
  cv::Mat noise(240, 320, CV_8UC3);
  cv::randu(noise, 0, 255);
  EXPECT_LT(on(viewOf(noise), {100, 60, 200, 160}), 0.2f);
}

// A face turned by 30, 90 and 180 degrees verifies when the candidate's eyes give its roll: the
// crop is turned upright, and the refined points land on the turned face's points.
TEST(Verify, TurnedFacesVerifyWithTheRollOfTheirEyes) {
  const auto base = upright().detect(astronaut().view());
  ASSERT_EQ(base.size(), 1u);
  const float side = base[0].box.width();
  for (int deg : {30, 90, 180, -30}) {
    cv::Matx23d A;
    const cv::Mat img = rotated(asMat(astronaut()), deg, A);
    Face c;  // the candidate a tracker would have: the turned face's centre and size, its points
    const Point2f m = apply(A, centre(base[0].box));
    c.box = {m.x - side / 2, m.y - side / 2, m.x + side / 2, m.y + side / 2};
    for (size_t k = 0; k < 5; ++k) c.landmarks[k] = apply(A, base[0].landmarks[k]);
    const VerifiedFace v = upright().verify(viewOf(img), c);
    EXPECT_GT(v.score, 0.9f) << deg;
    const float roll0 = float(std::atan2(base[0].landmarks[1].y - base[0].landmarks[0].y, base[0].landmarks[1].x - base[0].landmarks[0].x) * 180 / CV_PI);
    EXPECT_NEAR(std::remainder(v.roll - (roll0 - deg), 360.f), 0, 1.0) << deg;  // counter-clockwise turn: roll - deg
    for (size_t k = 0; k < 5; ++k) {
      const Point2f w = apply(A, base[0].landmarks[k]);
      EXPECT_LT(std::hypot(v.face.landmarks[k].x - w.x, v.face.landmarks[k].y - w.y), 0.08f * side) << deg << " point " << k;
    }
    EXPECT_LT(std::hypot(v.centre.x - m.x, v.centre.y - m.y), 0.1f * side) << deg;
    // The same face with the roll ignored (eyes level) scores lower once it is far from upright.
    if (std::abs(deg) >= 90) {
      Face level = c;
      level.landmarks[0] = {m.x - 10, m.y}, level.landmarks[1] = {m.x + 10, m.y};
      EXPECT_LT(upright().verify(viewOf(img), level).score, v.score) << deg;
    }
  }
}

TEST(Verify, RejectsBadInput) {
  Face f;
  f.box = {10, 10, 10, 50};  // empty
  EXPECT_THROW(upright().verify(astronaut().view(), f), Error);
  f.box = {10, 10, 60, 60};
  EXPECT_THROW(upright().verify(ImageView{}, f), Error);
  f.box.x2 = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(upright().verify(astronaut().view(), f), Error);
  f.box = {-500, -500, -400, -400};  // outside the image: an all-black crop, a low score
  EXPECT_LT(upright().verify(astronaut().view(), f).score, 0.5f);
}
