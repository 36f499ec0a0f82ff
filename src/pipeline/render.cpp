#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "facekit/render.hpp"
#include "models/landmarks/head_pose.hpp"
#include "models/landmarks/layout106.hpp"

namespace facekit {
namespace {
double round_to(double v, int decimals) {
  const double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}
}  // namespace

std::string toModelScopeJson(const std::vector<Face>& faces, int indent) {
  using Json = nlohmann::ordered_json;  // keeps ModelScope's key order
  Json scores = Json::array(), boxes = Json::array(), kps = Json::array();
  for (const Face& f : faces) {
    scores.push_back(round_to(f.score, 4));
    boxes.push_back({round_to(f.box.x1, 2), round_to(f.box.y1, 2), round_to(f.box.x2, 2), round_to(f.box.y2, 2)});
    Json k = Json::array();
    for (const Point2f& p : f.landmarks) k.push_back(round_to(p.x, 2)), k.push_back(round_to(p.y, 2));
    kps.push_back(k);
  }
  return Json{{"scores", scores}, {"boxes", boxes}, {"keypoints", kps}}.dump(indent);
}

Image drawDetections(const ImageView& image, const std::vector<Face>& faces) {
  Image out = toRGB(image);
  cv::Mat m(out.height, out.width, CV_8UC3, out.pixels.data());
  // Line widths scale with the image so drawings stay visible on large photos.
  const int thick = std::max(1, int(std::lround(std::max(out.width, out.height) / 400.0)));
  // One colour per landmark index (RGB): left eye, right eye, nose, left / right mouth corner.
  const cv::Scalar colours[5] = {{0, 0, 255}, {0, 255, 255}, {255, 0, 255}, {255, 0, 0}, {255, 160, 0}};
  // Boxes of faces cut by the border reach outside the image: drawn clipped to it, so the cut
  // sides run along the image's edge.
  auto clip = [](float v, int hi) { return int(std::lround(std::min(std::max(v, 0.f), float(hi)))); };
  for (const Face& f : faces) {
    const cv::Point p1(clip(f.box.x1, out.width - 1), clip(f.box.y1, out.height - 1));
    const cv::Point p2(clip(f.box.x2, out.width - 1), clip(f.box.y2, out.height - 1));
    if (f.box.x2 < 0 || f.box.y2 < 0 || f.box.x1 > out.width || f.box.y1 > out.height) continue;  // wholly outside
    cv::rectangle(m, p1, p2, cv::Scalar(0, 255, 0), thick, cv::LINE_AA);
    char text[16];
    std::snprintf(text, sizeof text, "%.2f", f.score);
    const double font = 0.4 * thick;
    cv::putText(m, text, cv::Point(p1.x, std::max(p1.y - 4 * thick, 10)), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 255, 0), thick,
                cv::LINE_AA);
    for (size_t i = 0; i < f.landmarks.size(); ++i)
      cv::circle(m, cv::Point(int(std::lround(f.landmarks[i].x)), int(std::lround(f.landmarks[i].y))), 2 * thick, colours[i], -1,
                 cv::LINE_AA);
  }
  return out;
}

Image drawLandmarks(const ImageView& image, const std::vector<FaceLandmarks>& faces, bool with_indices) {
  Image out = toRGB(image);
  cv::Mat m(out.height, out.width, CV_8UC3, out.pixels.data());
  const auto& layout = landmarks::layout106();
  const std::map<std::string, cv::Scalar> colours = {
      {"contour", {255, 255, 255}}, {"brow_left", {255, 200, 0}}, {"brow_right", {255, 200, 0}}, {"nose", {0, 255, 255}},
      {"eye_left", {0, 255, 0}},    {"eye_right", {0, 255, 0}},   {"mouth", {255, 60, 160}},    {"pupil", {255, 0, 0}}};
  for (const FaceLandmarks& f : faces) {
    const float size = std::max(f.face.box.width(), f.face.box.height());
    const int r = std::max(1, int(std::lround(size / 150)));
    cv::rectangle(m, cv::Point(int(f.face.box.x1), int(f.face.box.y1)), cv::Point(int(f.face.box.x2), int(f.face.box.y2)),
                  cv::Scalar(0, 255, 0), std::max(1, r / 2), cv::LINE_AA);
    for (size_t i = 0; i < f.points.size(); ++i) {
      const cv::Point p(int(std::lround(f.points[i].x)), int(std::lround(f.points[i].y)));
      cv::circle(m, p, r, colours.at(layout[i].group), -1, cv::LINE_AA);
      if (with_indices)
        cv::putText(m, std::to_string(i), p + cv::Point(r + 1, -r - 1), cv::FONT_HERSHEY_SIMPLEX, 0.0009 * size, cv::Scalar(255, 255, 0), 1,
                    cv::LINE_AA);
    }
    // Pose axes from the nose tip (point 64), length ~ half the face.
    const auto rot = landmarks::rotationFromEuler(f.pose);
    const cv::Point2d o(f.points[64].x, f.points[64].y);
    const cv::Scalar axis_colour[3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    for (int a = 0; a < 3; ++a) {
      // Column a of R is the face's axis a in camera coordinates; z is drawn pointing out of the face.
      const double sign = a == 2 ? -1.0 : 1.0;
      const cv::Point2d tip = o + cv::Point2d(rot[size_t(a)], rot[size_t(3 + a)]) * (sign * 0.5 * size);
      cv::arrowedLine(m, o, tip, axis_colour[a], std::max(1, r), cv::LINE_AA, 0, 0.15);
    }
  }
  return out;
}

std::string toLandmarksJson(const std::vector<FaceLandmarks>& faces, int indent) {
  using Json = nlohmann::ordered_json;
  Json arr = Json::array();
  for (const FaceLandmarks& f : faces) {
    Json pts = Json::array(), kp = Json::array();
    for (const Point2f& p : f.points) pts.push_back({round_to(p.x, 2), round_to(p.y, 2)});
    for (const Point2f& p : f.face.landmarks) kp.push_back(round_to(p.x, 2)), kp.push_back(round_to(p.y, 2));
    arr.push_back({{"score", round_to(f.face.score, 4)},
                   {"box", {round_to(f.face.box.x1, 2), round_to(f.face.box.y1, 2), round_to(f.face.box.x2, 2), round_to(f.face.box.y2, 2)}},
                   {"keypoints", kp},
                   {"points", pts},
                   {"pose", {{"pitch", round_to(f.pose.pitch, 2)}, {"yaw", round_to(f.pose.yaw, 2)}, {"roll", round_to(f.pose.roll, 2)}}},
                   {"confidence", round_to(f.confidence, 4)}});
  }
  return Json{{"faces", arr}}.dump(indent);
}

std::string toModelScopeLandmarksJson(const std::vector<FaceLandmarks>& faces, int indent) {
  using Json = nlohmann::ordered_json;
  Json boxes = Json::array(), keypoints = Json::array(), poses = Json::array();
  for (const FaceLandmarks& f : faces) {
    boxes.push_back({round_to(f.face.box.x1, 2), round_to(f.face.box.y1, 2), round_to(f.face.box.x2, 2), round_to(f.face.box.y2, 2)});
    Json pts = Json::array();
    for (const Point2f& p : f.points) pts.push_back({round_to(p.x, 2), round_to(p.y, 2)});
    keypoints.push_back(pts);
    poses.push_back({round_to(f.pose.pitch, 2), round_to(f.pose.roll, 2), round_to(f.pose.yaw, 2)});
  }
  return Json{{"boxes", boxes}, {"keypoints", keypoints}, {"poses", poses}}.dump(indent);
}

}  // namespace facekit
