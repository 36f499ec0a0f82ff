#include "eval/widerface.hpp"

#include <matio.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "eval/mat_check.hpp"
#include "facekit/error.hpp"

namespace facekit::eval {
namespace {

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  throw Error(Error::Code::kBadModel, file + ": " + what);
}

struct MatFile {
  mat_t* mat = nullptr;
  std::string path;
  explicit MatFile(const std::string& p) : path(p) {
    if (!std::filesystem::exists(p)) throw Error(Error::Code::kIoError, p + ": no such file");
    checkMat5(p);  // libmatio trusts declared sizes: the structure is checked first
    mat = Mat_Open(p.c_str(), MAT_ACC_RDONLY);
    if (!mat) bad(p, "not a readable MATLAB .mat file");
  }
  ~MatFile() {
    if (mat) Mat_Close(mat);
  }
  using Var = std::unique_ptr<matvar_t, void (*)(matvar_t*)>;
  Var read(const char* name) const {
    matvar_t* v = Mat_VarRead(mat, name);
    if (!v) bad(path, std::string("has no variable '") + name + "'");
    return Var(v, Mat_VarFree);
  }
};

size_t numel(const matvar_t* v) {
  size_t n = 1;
  for (int i = 0; i < v->rank; ++i)
    if (__builtin_mul_overflow(n, v->dims[i], &n)) return SIZE_MAX;
  return n;
}

// The variable's data as n elements of `size` bytes, or a bad-file error: libmatio leaves data
// null for some layouts, and complex data is a pair of pointers, not numbers.
const void* dataOf(const matvar_t* v, size_t n, size_t size, const std::string& file) {
  if (n == 0) return nullptr;
  if (!v->data || v->isComplex || n > v->nbytes / size) bad(file, "unexpected layout (no real data of the declared size)");
  return v->data;
}

const matvar_t* cell(const matvar_t* v, size_t i, const std::string& file) {
  if (v->class_type != MAT_C_CELL || i >= numel(v)) bad(file, "unexpected layout (expected a cell array)");
  const matvar_t* c = Mat_VarGetCell(const_cast<matvar_t*>(v), int(i));
  if (!c) bad(file, "empty cell");
  return c;
}

std::string str(const matvar_t* v, const std::string& file) {
  if (v->class_type != MAT_C_CHAR) bad(file, "unexpected layout (expected a string)");
  const size_t n = numel(v);
  std::string s;
  if (v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16) {
    const auto* d = static_cast<const uint16_t*>(dataOf(v, n, 2, file));
    for (size_t i = 0; i < n; ++i) s += char(d[i]);
  } else if (v->data_type == MAT_T_UINT8 || v->data_type == MAT_T_INT8 || v->data_type == MAT_T_UTF8) {
    if (n) s.assign(static_cast<const char*>(dataOf(v, n, 1, file)), n);
  } else {
    bad(file, "unexpected layout (a string of data type " + std::to_string(int(v->data_type)) + ")");
  }
  return s;
}

// A numeric matrix as doubles, column-major like MATLAB.
std::vector<double> numbers(const matvar_t* v, const std::string& file) {
  const size_t n = numel(v);
  if (n > v->nbytes) bad(file, "unexpected layout (more elements than data)");
  std::vector<double> out(n);
  if (n == 0) return out;
  switch (v->class_type) {
    case MAT_C_DOUBLE: std::copy_n(static_cast<const double*>(dataOf(v, n, 8, file)), n, out.begin()); break;
    case MAT_C_SINGLE: std::copy_n(static_cast<const float*>(dataOf(v, n, 4, file)), n, out.begin()); break;
    case MAT_C_INT32: std::copy_n(static_cast<const int32_t*>(dataOf(v, n, 4, file)), n, out.begin()); break;
    case MAT_C_UINT8: std::copy_n(static_cast<const uint8_t*>(dataOf(v, n, 1, file)), n, out.begin()); break;
    case MAT_C_UINT16: std::copy_n(static_cast<const uint16_t*>(dataOf(v, n, 2, file)), n, out.begin()); break;
    default: bad(file, "unexpected numeric class " + std::to_string(int(v->class_type)));
  }
  return out;
}

}  // namespace

size_t GroundTruth::imageCount() const {
  size_t n = 0;
  for (const auto& e : events) n += e.images.size();
  return n;
}

size_t GroundTruth::boxCount() const {
  size_t n = 0;
  for (const auto& e : events)
    for (const auto& i : e.images) n += i.boxes.size();
  return n;
}

GroundTruth loadWiderMat(const std::string& dir) {
  GroundTruth gt;
  const std::string main_path = dir + "/wider_face_val.mat";
  MatFile main(main_path);
  const auto events = main.read("event_list"), files = main.read("file_list"), boxes = main.read("face_bbx_list");
  const size_t n_events = numel(events.get());
  if (numel(files.get()) != n_events || numel(boxes.get()) != n_events) bad(main_path, "event/file/box lists differ in length");
  for (size_t e = 0; e < n_events; ++e) {
    GtEvent ev;
    ev.name = str(cell(events.get(), e, main_path), main_path);
    const matvar_t* fl = cell(files.get(), e, main_path);
    const matvar_t* bl = cell(boxes.get(), e, main_path);
    if (numel(fl) != numel(bl)) bad(main_path, "event " + ev.name + ": file and box lists differ in length");
    for (size_t i = 0; i < numel(fl); ++i) {
      GtImage img;
      img.name = str(cell(fl, i, main_path), main_path);
      const matvar_t* b = cell(bl, i, main_path);
      const auto v = numbers(b, main_path);
      const size_t rows = b->rank == 2 ? b->dims[0] : 0;
      if (rows * 4 != v.size()) bad(main_path, img.name + ": box matrix is not N x 4");
      for (size_t r = 0; r < rows; ++r) img.boxes.push_back({v[r], v[rows + r], v[2 * rows + r], v[3 * rows + r]});
      ev.images.push_back(std::move(img));
    }
    gt.events.push_back(std::move(ev));
  }
  for (const char* setting : {"easy", "medium", "hard"}) {
    const std::string path = dir + "/wider_" + std::string(setting) + "_val.mat";
    MatFile f(path);
    const auto lists = f.read("gt_list");
    if (numel(lists.get()) != n_events) bad(path, "gt_list does not have one entry per event");
    for (size_t e = 0; e < n_events; ++e) {
      const matvar_t* per_image = cell(lists.get(), e, path);
      auto& images = gt.events[e].images;
      if (numel(per_image) != images.size()) bad(path, "event " + gt.events[e].name + ": wrong image count");
      for (size_t i = 0; i < images.size(); ++i) {
        std::vector<int> keep;
        for (double idx : numbers(cell(per_image, i, path), path)) {
          // NaN fails every comparison: test for the valid range, not the invalid one.
          if (!(idx >= 1 && idx <= double(images[i].boxes.size()) && idx == std::floor(idx)))
            bad(path, images[i].name + ": index out of range");
          keep.push_back(int(idx) - 1);
        }
        images[i].keep.push_back(std::move(keep));
      }
    }
    gt.settings.push_back(setting);
  }
  return gt;
}

GroundTruth loadBbxGtText(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(Error::Code::kIoError, path + ": cannot open");
  GroundTruth gt;
  gt.settings = {"all"};
  std::map<std::string, size_t> event_index;
  std::string line;
  size_t line_no = 0;
  auto next = [&](const char* what) {
    if (!std::getline(f, line)) bad(path, std::string("ends early, expected ") + what + " after line " + std::to_string(line_no));
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
  };
  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::filesystem::path p(line);
    const std::string event = p.has_parent_path() ? p.parent_path().string() : ".";
    GtImage img;
    img.name = p.stem().string();
    next("a face count");
    long count = -1;
    try {
      count = std::stol(line);
    } catch (const std::exception&) {
    }
    if (count < 0) bad(path, "line " + std::to_string(line_no) + ": expected a face count, got '" + line + "'");
    // The official files list "0" followed by one dummy line of zeros for images without faces.
    const long lines = count == 0 ? 1 : count;
    std::vector<int> keep;
    for (long k = 0; k < lines; ++k) {
      next("a box line");
      std::istringstream ss(line);
      std::vector<double> v;
      for (double x; ss >> x;) v.push_back(x);
      if (v.size() < 4) bad(path, "line " + std::to_string(line_no) + ": expected 'x y w h ...'");
      if (count == 0) break;
      const bool invalid = v.size() >= 8 && v[7] != 0;
      if (!invalid) keep.push_back(int(img.boxes.size()));
      img.boxes.push_back({v[0], v[1], v[2], v[3]});
    }
    img.keep.push_back(std::move(keep));
    auto [it, inserted] = event_index.emplace(event, gt.events.size());
    if (inserted) gt.events.push_back({event, {}});
    gt.events[it->second].images.push_back(std::move(img));
  }
  if (gt.events.empty()) bad(path, "holds no images");
  return gt;
}

double iouPlusOne(const XywhBox& a, const XywhBox& b) {
  const double ax2 = a.x + a.w, ay2 = a.y + a.h, bx2 = b.x + b.w, by2 = b.y + b.h;
  const double iw = std::min(ax2, bx2) - std::max(a.x, b.x) + 1, ih = std::min(ay2, by2) - std::max(a.y, b.y) + 1;
  if (iw <= 0 || ih <= 0) return 0;
  const double inter = iw * ih;
  const double ua = (a.w + 1) * (a.h + 1) + (b.w + 1) * (b.h + 1) - inter;
  return inter / ua;
}

std::vector<SettingResult> evaluate(const GroundTruth& gt, const Predictions& predictions, double iou_threshold, int thresholds) {
  // Normalise scores over the whole run.
  double lo = 1e300, hi = -1e300;
  for (const auto& [k, dets] : predictions)
    for (const auto& d : dets) lo = std::min(lo, d.score), hi = std::max(hi, d.score);
  const double range = hi > lo ? hi - lo : 0;

  std::vector<SettingResult> results;
  for (size_t s = 0; s < gt.settings.size(); ++s) {
    SettingResult res;
    res.setting = gt.settings[s];
    std::vector<double> proposals(size_t(thresholds), 0), recalled(size_t(thresholds), 0);
    for (const GtEvent& ev : gt.events)
      for (const GtImage& img : ev.images) {
        auto it = predictions.find(ev.name + "/" + img.name);
        if (it == predictions.end()) continue;  // not evaluated (subset)
        res.gt_faces += img.keep[s].size();
        if (img.boxes.empty() || it->second.empty()) continue;
        std::vector<Detection> pred = it->second;
        std::stable_sort(pred.begin(), pred.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
        for (auto& d : pred) d.score = range > 0 ? (d.score - lo) / range : 1.0;

        std::vector<char> counts(img.boxes.size(), 0);
        for (int k : img.keep[s]) counts[size_t(k)] = 1;
        std::vector<int> recall_state(img.boxes.size(), 0);  // 0 unseen, 1 recalled, -1 matched an ignored box
        std::vector<int> is_proposal(pred.size(), 1);
        std::vector<int> recall_after(pred.size(), 0);
        int recalled_now = 0;
        for (size_t h = 0; h < pred.size(); ++h) {
          double best = -1;
          size_t best_i = 0;
          for (size_t g = 0; g < img.boxes.size(); ++g) {
            const double o = iouPlusOne(pred[h].box, img.boxes[g]);
            if (o > best) best = o, best_i = g;
          }
          if (best >= iou_threshold) {
            if (!counts[best_i]) {
              recall_state[best_i] = -1;
              is_proposal[h] = -1;
            } else if (recall_state[best_i] == 0) {
              recall_state[best_i] = 1;
              ++recalled_now;
            }
          }
          recall_after[h] = recalled_now;
        }
        for (int t = 0; t < thresholds; ++t) {
          const double thresh = 1.0 - double(t + 1) / thresholds;
          // predictions are sorted: the last one with score >= thresh
          long last = -1;
          for (size_t h = 0; h < pred.size() && pred[h].score >= thresh; ++h) last = long(h);
          if (last < 0) continue;
          double p = 0;
          for (long h = 0; h <= last; ++h) p += is_proposal[size_t(h)] == 1;
          proposals[size_t(t)] += p;
          recalled[size_t(t)] += recall_after[size_t(last)];
        }
      }
    // PR curve and VOC AP (area under the precision envelope).
    std::vector<double> rec(static_cast<size_t>(thresholds)), prec(static_cast<size_t>(thresholds));
    for (int t = 0; t < thresholds; ++t) {
      prec[size_t(t)] = proposals[size_t(t)] > 0 ? recalled[size_t(t)] / proposals[size_t(t)] : 0;  // 0/0 -> 0 (the
      // official script yields NaN there, which never happens on full runs; 0 leaves the envelope unchanged)
      rec[size_t(t)] = res.gt_faces ? recalled[size_t(t)] / double(res.gt_faces) : 0;
      res.pr.emplace_back(rec[size_t(t)], prec[size_t(t)]);
    }
    std::vector<double> mrec{0}, mpre{0};
    mrec.insert(mrec.end(), rec.begin(), rec.end());
    mpre.insert(mpre.end(), prec.begin(), prec.end());
    mrec.push_back(1);
    mpre.push_back(0);
    for (size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
    for (size_t i = 0; i + 1 < mrec.size(); ++i)
      if (mrec[i + 1] != mrec[i]) res.ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
    results.push_back(std::move(res));
  }
  return results;
}

void writePredictionFiles(const Predictions& predictions, const std::string& dir) {
  for (const auto& [key, dets] : predictions) {
    const std::filesystem::path p = std::filesystem::path(dir) / (key + ".txt");
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p);
    if (!f) throw Error(Error::Code::kIoError, "cannot write " + p.string());
    f << p.stem().string() << "\n" << dets.size() << "\n";
    char buf[128];
    for (const auto& d : dets) {
      std::snprintf(buf, sizeof buf, "%.1f %.1f %.1f %.1f %.4f\n", d.box.x, d.box.y, d.box.w, d.box.h, d.score);
      f << buf;
    }
  }
}

}  // namespace facekit::eval
