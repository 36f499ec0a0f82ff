#include "eval/landmark_eval.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "facekit/error.hpp"

namespace facekit::eval {

// Jaw 0-16: every other contour point. Brows 17-21 / 22-26: upper edges, image-left brow outer
// to inner, image-right brow inner to outer. Nose 27-30 bridge to tip, 31-35 lower nose.
// Eyes 36-41 / 42-47: corners and the lids at one and two thirds. Lips 48-59 outer, 60-67 inner.
const std::array<int, 68> kFacekit106To68 = {
    0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32,  // jaw
    33, 34, 35, 36, 37, 46, 45, 44, 43, 42,                              // brows
    52, 53, 55, 64, 58, 59, 60, 61, 62,                                  // nose
    66, 67, 69, 70, 71, 73, 79, 78, 76, 75, 82, 80,                      // eyes
    84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,                      // outer lip
    96, 97, 98, 99, 100, 101, 102, 103};                                 // inner lip

std::vector<Point2f> to68(const std::array<Point2f, kNumLandmarks106>& p) {
  std::vector<Point2f> out;
  for (int i : kFacekit106To68) out.push_back(p[size_t(i)]);
  return out;
}

namespace {
Point2f centre(const std::vector<Point2f>& p, int first, int last) {
  Point2f c;
  for (int i = first; i <= last; ++i) c.x += p[size_t(i)].x, c.y += p[size_t(i)].y;
  const float n = float(last - first + 1);
  return {c.x / n, c.y / n};
}
}  // namespace

double nme(const std::vector<Point2f>& pred, const std::vector<Point2f>& truth, Normaliser n) {
  if (pred.size() != truth.size()) throw Error(Error::Code::kInvalidArgument, "nme: point counts differ");
  Point2f a, b;
  if (truth.size() == 68) {
    a = n == Normaliser::kInterOcular ? truth[36] : centre(truth, 36, 41);
    b = n == Normaliser::kInterOcular ? truth[45] : centre(truth, 42, 47);
  } else if (truth.size() == 106) {
    a = n == Normaliser::kInterOcular ? truth[66] : truth[104];
    b = n == Normaliser::kInterOcular ? truth[75] : truth[105];
  } else {
    throw Error(Error::Code::kInvalidArgument, "nme: needs 68 or 106 points");
  }
  const double d = std::hypot(a.x - b.x, a.y - b.y);
  if (d <= 0) throw Error(Error::Code::kInvalidArgument, "nme: the normalising distance is zero");
  double sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) sum += std::hypot(pred[i].x - truth[i].x, pred[i].y - truth[i].y);
  return sum / double(truth.size()) / d;
}

ErrorSummary summarise(std::vector<double> e, double fail, double ced_max) {
  ErrorSummary s;
  s.count = e.size();
  if (e.empty()) return s;
  std::sort(e.begin(), e.end());
  double sum = 0;
  size_t failures = 0;
  for (double v : e) sum += v, failures += v > fail;
  s.mean = sum / double(e.size());
  s.failure_rate = double(failures) / double(e.size());
  for (int k = 0; k <= 200; ++k) {
    const double t = ced_max * k / 200.0;
    const size_t below = size_t(std::upper_bound(e.begin(), e.end(), t) - e.begin());
    s.ced.emplace_back(t, double(below) / double(e.size()));
  }
  return s;
}

std::vector<XmlFace> loadDlibXml(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(Error::Code::kIoError, path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string xml = ss.str();
  std::vector<XmlFace> out;
  const std::regex image_re(R"(<image\s+file='([^']+)'[^>]*>([\s\S]*?)</image>)");
  const std::regex box_re(R"(<box\s+top='(-?\d+)'\s+left='(-?\d+)'\s+width='(\d+)'\s+height='(\d+)'[^>]*>([\s\S]*?)</box>)");
  const std::regex part_re(R"(<part\s+name='(\d+)'\s+x='(-?\d+)'\s+y='(-?\d+)'\s*/>)");
  for (auto im = std::sregex_iterator(xml.begin(), xml.end(), image_re); im != std::sregex_iterator(); ++im) {
    const std::string body = (*im)[2];
    for (auto bx = std::sregex_iterator(body.begin(), body.end(), box_re); bx != std::sregex_iterator(); ++bx) {
      XmlFace face;
      face.image = (*im)[1];
      const float top = std::stof((*bx)[1]), left = std::stof((*bx)[2]), w = std::stof((*bx)[3]), h = std::stof((*bx)[4]);
      face.box = {left, top, left + w, top + h};
      const std::string parts = (*bx)[5];
      std::vector<std::pair<int, Point2f>> pts;
      for (auto p = std::sregex_iterator(parts.begin(), parts.end(), part_re); p != std::sregex_iterator(); ++p)
        pts.push_back({std::stoi((*p)[1]), {std::stof((*p)[2]), std::stof((*p)[3])}});
      std::sort(pts.begin(), pts.end(), [](auto& a, auto& b) { return a.first < b.first; });
      for (auto& [k, p] : pts) face.parts.push_back(p);
      out.push_back(std::move(face));
    }
  }
  if (out.empty()) throw Error(Error::Code::kBadModel, path + ": no <image><box> entries (not a dlib imglab XML file?)");
  return out;
}

}  // namespace facekit::eval
