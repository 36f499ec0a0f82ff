#include "models/landmarks/layout106.hpp"

#include <cmath>
#include <sstream>

#include "facekit/error.hpp"
#include "facekit106_table.inc"  // kFacekit106Csv, generated from data/facekit106.csv

namespace facekit::landmarks {

const std::vector<PointDef>& layout106() {
  static const std::vector<PointDef> table = [] {
    std::vector<PointDef> t;
    std::istringstream in(kFacekit106Csv);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#' || line.rfind("index,", 0) == 0) continue;
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      if (f.size() < 6) throw Error(Error::Code::kInternal, "facekit106.csv: bad line: " + line);
      PointDef p;
      p.name = f[1], p.group = f[2], p.mirror = std::stoi(f[3]);
      p.kind = f[4] == "vertex" ? PointDef::kVertex : f[4] == "mean" ? PointDef::kMean : PointDef::kPolyline;
      std::stringstream vs(f[5]);
      for (int v; vs >> v;) p.vertices.push_back(v);
      if (f.size() > 6 && !f[6].empty()) p.t = std::stod(f[6]);
      if (std::stoi(f[0]) != int(t.size())) throw Error(Error::Code::kInternal, "facekit106.csv: indices out of order");
      t.push_back(std::move(p));
    }
    if (t.size() != size_t(kNumLandmarks106)) throw Error(Error::Code::kInternal, "facekit106.csv: expected 106 points");
    return t;
  }();
  return table;
}

std::array<Point2f, kNumLandmarks106> meshTo106(const std::vector<std::array<float, 3>>& mesh) {
  std::array<Point2f, kNumLandmarks106> out{};
  const auto& table = layout106();
  for (size_t i = 0; i < table.size(); ++i) {
    const PointDef& d = table[i];
    auto at = [&](int v) { return Point2f{mesh.at(size_t(v))[0], mesh.at(size_t(v))[1]}; };
    if (d.kind == PointDef::kVertex) {
      out[i] = at(d.vertices[0]);
    } else if (d.kind == PointDef::kMean) {
      Point2f s;
      for (int v : d.vertices) s.x += at(v).x, s.y += at(v).y;
      out[i] = {s.x / float(d.vertices.size()), s.y / float(d.vertices.size())};
    } else {  // the point at fraction t of the polyline's length
      double total = 0;
      for (size_t k = 1; k < d.vertices.size(); ++k)
        total += std::hypot(at(d.vertices[k]).x - at(d.vertices[k - 1]).x, at(d.vertices[k]).y - at(d.vertices[k - 1]).y);
      double want = d.t * total;
      out[i] = at(d.vertices.back());
      for (size_t k = 1; k < d.vertices.size(); ++k) {
        const Point2f a = at(d.vertices[k - 1]), b = at(d.vertices[k]);
        const double len = std::hypot(b.x - a.x, b.y - a.y);
        if (want <= len && len > 0) {
          const float f = float(want / len);
          out[i] = {a.x + f * (b.x - a.x), a.y + f * (b.y - a.y)};
          break;
        }
        want -= len;
      }
    }
  }
  return out;
}

}  // namespace facekit::landmarks

namespace facekit {

const std::array<std::string, kNumLandmarks106>& landmark106Names() {
  static const auto names = [] {
    std::array<std::string, kNumLandmarks106> n;
    for (size_t i = 0; i < n.size(); ++i) n[i] = landmarks::layout106()[i].name;
    return n;
  }();
  return names;
}

const std::array<int, kNumLandmarks106>& landmark106Mirror() {
  static const auto m = [] {
    std::array<int, kNumLandmarks106> r{};
    for (size_t i = 0; i < r.size(); ++i) r[i] = landmarks::layout106()[i].mirror;
    return r;
  }();
  return m;
}

}  // namespace facekit
