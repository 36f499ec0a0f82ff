#include "eval/landmark_eval.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <cerrno>
#include <cstdlib>
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

namespace {
// A small scanner for dlib's imglab XML: std::regex ([\s\S]*? over a whole <image> element)
// recursed once per character in libstdc++ and overflowed the stack on dlib's own 300-face test
// file under AddressSanitizer (and would on a larger file without it).
struct XmlScan {
  const std::string& xml;
  const std::string& path;
  // The next element `name` at or after `from`: [start, end of its start tag), or npos.
  std::pair<size_t, size_t> element(const std::string& name, size_t from, size_t limit) const {
    for (size_t p = xml.find("<" + name, from); p != std::string::npos && p < limit; p = xml.find("<" + name, p + 1)) {
      const size_t after = p + 1 + name.size();
      if (after >= xml.size() || !(std::isspace(uint8_t(xml[after])) || xml[after] == '>' || xml[after] == '/')) continue;
      const size_t gt = xml.find('>', after);
      if (gt == std::string::npos || gt >= limit) return {std::string::npos, std::string::npos};
      return {p, gt + 1};
    }
    return {std::string::npos, std::string::npos};
  }
  // The value of attribute `name` in the start tag [b, e), quoted with ' or ".
  bool attribute(size_t b, size_t e, const std::string& name, std::string& value) const {
    for (size_t p = xml.find(name, b); p != std::string::npos && p + name.size() < e; p = xml.find(name, p + 1)) {
      if (!std::isspace(uint8_t(xml[p - 1]))) continue;
      size_t q = p + name.size();
      while (q < e && std::isspace(uint8_t(xml[q]))) ++q;
      if (q >= e || xml[q] != '=') continue;
      ++q;
      while (q < e && std::isspace(uint8_t(xml[q]))) ++q;
      if (q >= e || (xml[q] != '\'' && xml[q] != '"')) continue;
      const size_t close = xml.find(xml[q], q + 1);
      if (close == std::string::npos || close >= e) return false;
      value = xml.substr(q + 1, close - q - 1);
      return true;
    }
    return false;
  }
  // An integer attribute (dlib writes integers); false if absent or not a number in range.
  bool integer(size_t b, size_t e, const std::string& name, long& v) const {
    std::string text;
    if (!attribute(b, e, name, text) || text.empty()) return false;
    errno = 0;
    char* end = nullptr;
    v = std::strtol(text.c_str(), &end, 10);
    return errno == 0 && *end == '\0' && v > -(1L << 30) && v < (1L << 30);
  }
};
}  // namespace

std::vector<XmlFace> loadDlibXml(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(Error::Code::kIoError, path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string xml = ss.str();
  const XmlScan x{xml, path};
  std::vector<XmlFace> out;
  for (size_t pos = 0;;) {
    const auto [ib, ie] = x.element("image", pos, xml.size());
    if (ib == std::string::npos) break;
    const size_t iend = xml.find("</image>", ie);
    if (iend == std::string::npos) break;
    pos = iend + 8;
    std::string file;
    if (!x.attribute(ib, ie, "file", file) || file.empty()) continue;
    for (size_t bpos = ie;;) {
      const auto [bb, be] = x.element("box", bpos, iend);
      if (bb == std::string::npos) break;
      const bool empty_box = xml[be - 2] == '/';
      const size_t bend = empty_box ? be : xml.find("</box>", be);
      if (bend == std::string::npos || bend > iend) break;
      bpos = empty_box ? be : bend + 6;
      long top, left, width, height;
      if (!x.integer(bb, be, "top", top) || !x.integer(bb, be, "left", left) || !x.integer(bb, be, "width", width) ||
          !x.integer(bb, be, "height", height) || width < 0 || height < 0)
        continue;
      XmlFace face;
      face.image = file;
      face.box = {float(left), float(top), float(left + width), float(top + height)};
      std::vector<std::pair<long, Point2f>> pts;
      for (size_t ppos = be;;) {
        const auto [pb, pe] = x.element("part", ppos, bend);
        if (pb == std::string::npos) break;
        ppos = pe;
        long name, px, py;
        if (x.integer(pb, pe, "name", name) && name >= 0 && x.integer(pb, pe, "x", px) && x.integer(pb, pe, "y", py))
          pts.push_back({name, {float(px), float(py)}});
      }
      std::stable_sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto& [k, p] : pts) face.parts.push_back(p);
      out.push_back(std::move(face));
    }
  }
  if (out.empty()) throw Error(Error::Code::kBadModel, path + ": no <image><box> entries (not a dlib imglab XML file?)");
  return out;
}

}  // namespace facekit::eval
