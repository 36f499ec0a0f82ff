#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "facekit/render.hpp"

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
  for (const Face& f : faces) {
    const cv::Point p1(int(std::lround(f.box.x1)), int(std::lround(f.box.y1)));
    const cv::Point p2(int(std::lround(f.box.x2)), int(std::lround(f.box.y2)));
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

}  // namespace facekit
