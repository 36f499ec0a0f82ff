// facekit info MODEL: what a facekit model file holds and what it costs to run.
//
// Works on every facekit model: MTCNN (three sequential nets, described per net at its own input
// size) and graph models (facekit.graph metadata: the face mesh, trained models). Layers are
// built with the reference backend and walked by shape inference only (no data is run), so the
// shapes are the engine's own, and every count comes from engine::Layer::summary():
//   parameters  every tensor element in the file (per MTCNN net: its "<net>." tensors)
//   MACs        multiply-accumulates as PyTorch FLOP counters (thop, fvcore) count "FLOPs":
//               conv out_h*out_w*out_c*kh*kw*in_c, depthwise out_h*out_w*C*kh*kw, FC in*out;
//               biases, activations, pooling and other elementwise work count 0.
#include "cmd_info.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "engine/graph.hpp"
#include "engine/model_file.hpp"
#include "facekit/error.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"

namespace facekit::cli {
namespace {

using engine::Backend;
using engine::LayerSummary;
using engine::ModelFile;
using engine::Shape;

struct InfoArgs {
  std::string model, input;
  bool json = false;
};

struct Row {
  std::string name, op, activation, kernel;
  Shape out;
  size_t parameters = 0;
  uint64_t macs = 0;
};

// One network at one input size.
struct Net {
  std::string name;
  Shape input;
  std::string note;  // where the input size came from / what it means
  bool fully_convolutional = false;
  std::vector<Row> rows;
  size_t parameters = 0;  // tensor elements that belong to this network
  uint64_t macs = 0;
};

std::string hwc(const Shape& s) { return std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c); }

// "HxWxC" with positive sizes.
std::optional<Shape> parseHwc(const std::string& s) {
  static const std::regex re(R"(\s*(\d{1,6})\s*x\s*(\d{1,6})\s*x\s*(\d{1,6})\s*)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return std::nullopt;
  const Shape r{1, std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
  if (r.h <= 0 || r.w <= 0 || r.c <= 0) return std::nullopt;
  return r;
}

// The free-text "input" metadata ("192x192 RGB scaled to [0,1]"): the leading HxW[xC]; without
// an explicit C, "RGB"/"BGR" mean 3 channels and "gray" 1.
std::optional<Shape> parseInputText(const std::string& s) {
  static const std::regex re(R"(^\s*(\d{1,6})\s*x\s*(\d{1,6})(?:\s*x\s*(\d{1,6}))?)");
  std::smatch m;
  if (!std::regex_search(s, m, re)) return std::nullopt;
  int c = 0;
  if (m[3].matched) {
    c = std::stoi(m[3]);
  } else if (std::regex_search(s, std::regex("RGB|BGR", std::regex::icase))) {
    c = 3;
  } else if (std::regex_search(s, std::regex("gr[ae]y", std::regex::icase))) {
    c = 1;
  }
  const Shape r{1, std::stoi(m[1]), std::stoi(m[2]), c};
  if (r.h <= 0 || r.w <= 0 || r.c <= 0) return std::nullopt;
  return r;
}

// "input_shape" metadata as the face mesh converter writes it: "[1,192,192,3]" (NHWC).
std::optional<Shape> parseInputShape(const std::string& s) {
  try {
    const auto v = nlohmann::json::parse(s).get<std::vector<int>>();
    if (v.size() == 4 && v[1] > 0 && v[2] > 0 && v[3] > 0) return Shape{1, v[1], v[2], v[3]};
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

Shape explicitInput(const std::string& s) {
  const auto r = parseHwc(s);
  if (!r) throw Error(Error::Code::kInvalidArgument, "--input '" + s + "' is not HxWxC (e.g. 96x96x3)");
  return *r;
}

// A graph model's input: --input if given, else the first of the metadata keys "input_size"
// ("96x96x3"), "input_shape" ("[1,192,192,3]"), "input" (free text) that parses.
std::pair<Shape, std::string> graphInput(const ModelFile& m, const std::string& option) {
  if (!option.empty()) return {explicitInput(option), "--input"};
  const auto meta = [&](const char* key) { return m.metadata.count(key) ? m.metadata.at(key) : std::string(); };
  if (auto s = parseHwc(meta("input_size"))) return {*s, "metadata input_size"};
  if (auto s = parseInputShape(meta("input_shape"))) return {*s, "metadata input_shape"};
  if (auto s = parseInputText(meta("input"))) return {*s, "metadata input"};
  throw Error(Error::Code::kInvalidArgument,
              "model file " + m.origin + " declares no input size (metadata input_size); pass --input HxWxC");
}

Row row(const std::string& name, const std::string& type, const LayerSummary& s, const Shape& out) {
  Row r{name, type, s.activation, s.kernel, out, s.parameters, s.macs};
  if (!s.activation.empty()) r.op = type == "Clamp" ? "Clamp(" + s.activation + ")" : type + "+" + s.activation;
  return r;
}

size_t tensorElements(const ModelFile& m, const std::string& prefix) {
  size_t n = 0;
  for (const auto& [name, t] : m.tensors())
    if (name.rfind(prefix, 0) == 0) n += t.numel();
  return n;
}

Net describeGraph(const ModelFile& m, const std::string& input_option) {
  const engine::Graph g = engine::Graph::build(m, Backend::kReference);
  Net net;
  net.name = m.metadata.count("facekit.model") ? m.metadata.at("facekit.model") : "graph";
  std::string from;
  std::tie(net.input, from) = graphInput(m, input_option);
  net.note = "input size from " + from;
  std::vector<Shape> shapes;
  try {
    shapes = g.shapes(net.input);
  } catch (const Error& e) {
    throw Error(e.code(), "model file " + m.origin + " at input " + hwc(net.input) + ": " + e.what());
  }
  for (size_t i = 0; i < g.nodeCount(); ++i) {
    const engine::Layer* layer = g.nodeLayer(i);
    const LayerSummary s = layer ? layer->summary(shapes[g.nodeInputs(i)[0]]) : LayerSummary{};
    net.rows.push_back(row(g.nodeName(i), g.nodeOp(i), s, shapes[i]));
    net.macs += s.macs;
  }
  net.parameters = tensorElements(m, "");
  return net;
}

std::vector<Net> describeMtcnn(const ModelFile& m, const std::string& input_option) {
  mtcnn::Nets nets = mtcnn::buildNets(m, Backend::kReference);
  struct Part {
    const char* name;
    engine::Sequential& seq;
    int side;
  };
  const Part parts[] = {{"pnet", nets.pnet, mtcnn::kPNetCell}, {"rnet", nets.rnet, mtcnn::kRNetSize}, {"onet", nets.onet, mtcnn::kONetSize}};
  std::vector<Net> out;
  for (const Part& p : parts) {
    Net net;
    net.name = p.name;
    net.input = {1, p.side, p.side, 3};
    if (net.name == "pnet") {
      net.fully_convolutional = true;
      if (!input_option.empty()) net.input = explicitInput(input_option);
      net.note = "fully convolutional: slides over the whole image, one output per 12x12 window at stride 2; " +
                 std::string(input_option.empty() ? "shown at one 12x12 window" : "shown at --input");
    } else {
      net.note = "runs on each " + std::to_string(p.side) + "x" + std::to_string(p.side) + " candidate crop";
    }
    const std::vector<std::string> names = mtcnn::layerNames(p.name);
    Shape s = net.input;
    for (size_t i = 0; i < p.seq.size(); ++i) {
      const engine::Layer& layer = p.seq.layer(i);
      const std::string name = i < names.size() ? names[i] : std::to_string(i);
      LayerSummary sum;
      try {
        sum = layer.summary(s);
        s = layer.outputShape(s);
      } catch (const Error& e) {
        throw Error(e.code(), net.name + " at input " + hwc(net.input) + ": layer '" + name + "': " + e.what());
      }
      net.rows.push_back(row(name, layer.type(), sum, s));
      net.macs += sum.macs;
    }
    net.parameters = tensorElements(m, net.name + ".");
    out.push_back(std::move(net));
  }
  return out;
}

// Millions with three significant digits, never in exponent form: 0.262, 7.59, 44.8, 1234.
std::string millions(uint64_t v) {
  const double m = double(v) / 1e6;
  char buf[32];
  std::snprintf(buf, sizeof buf, m >= 100 ? "%.0f" : m >= 10 ? "%.1f" : m >= 1 ? "%.2f" : "%.3f", m);
  return buf;
}

void printTable(const Net& net) {
  std::cout << net.name << " at " << hwc(net.input) << " (" << net.note << ")\n";
  const std::vector<std::string> head = {"name", "op", "kernel", "output", "parameters", "MACs"};
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : net.rows)
    cells.push_back({r.name, r.op, r.kernel, hwc(r.out), std::to_string(r.parameters), std::to_string(r.macs)});
  size_t layer_params = 0;
  for (const Row& r : net.rows) layer_params += r.parameters;
  cells.push_back({net.name + " total", "", "", "", std::to_string(net.parameters), std::to_string(net.macs)});
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& line : cells) width[c] = std::max(width[c], line[c].size());
  }
  auto print = [&](const std::vector<std::string>& line) {
    std::string text;
    for (size_t c = 0; c < line.size(); ++c) {
      const std::string pad(width[c] - line[c].size(), ' ');
      text += "  " + (c >= 4 ? pad + line[c] : line[c] + pad);  // numbers right-aligned
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::cout << text << "\n";
  };
  print(head);
  for (const auto& line : cells) print(line);
  // Tensors no layer reads would make the two counts differ; say so rather than hide it.
  if (layer_params != net.parameters)
    std::cout << "  (layers use " << layer_params << " of the " << net.parameters << " parameters)\n";
  std::cout << "\n";
}

nlohmann::json toJson(const Net& net) {
  nlohmann::json layers = nlohmann::json::array();
  for (const Row& r : net.rows)
    layers.push_back({{"name", r.name}, {"op", r.op}, {"activation", r.activation}, {"kernel", r.kernel},
                      {"output", {r.out.h, r.out.w, r.out.c}}, {"parameters", r.parameters}, {"macs", r.macs}});
  return {{"name", net.name}, {"input", {net.input.h, net.input.w, net.input.c}}, {"note", net.note},
          {"fully_convolutional", net.fully_convolutional}, {"layers", layers}, {"parameters", net.parameters}, {"macs", net.macs}};
}

void runInfo(const InfoArgs& a) {
  const ModelFile m = ModelFile::load(a.model);
  const auto meta = [&](const char* key) { return m.metadata.count(key) ? m.metadata.at(key) : std::string(); };
  std::vector<Net> nets;
  bool is_mtcnn = false;
  if (m.metadata.count("facekit.graph")) {
    nets.push_back(describeGraph(m, a.input));
  } else if (meta("facekit.model") == "mtcnn" || (!m.metadata.count("facekit.model") && m.has("pnet.conv1.weight"))) {
    nets = describeMtcnn(m, a.input);
    is_mtcnn = true;
  } else {
    throw Error(Error::Code::kBadModel, "model file " + a.model + " holds '" + meta("facekit.model") +
                                            "', which is neither MTCNN nor a graph model (no facekit.graph metadata)");
  }
  size_t parameters = 0;
  uint64_t macs = 0;
  for (const Net& n : nets) macs += n.macs;
  for (const auto& [name, t] : m.tensors()) parameters += t.numel();
  // The metadata to show: the three that say what the model is first, then the rest (the graph
  // description itself is summarised by the layer table).
  std::vector<std::pair<std::string, std::string>> shown;
  for (const char* key : {"facekit.model", "source", "input"}) shown.push_back({key, m.metadata.count(key) ? meta(key) : "(not set)"});
  for (const auto& [k, v] : m.metadata)
    if (k != "facekit.model" && k != "source" && k != "input" && k != "facekit.graph") shown.push_back({k, v});
  const std::string totals_of = is_mtcnn ? "P-Net at " + hwc(nets[0].input) + " + R-Net at 24x24x3 + O-Net at 48x48x3" : nets[0].name + " at " + hwc(nets[0].input);

  if (a.json) {
    nlohmann::json metadata = nlohmann::json::object(), list = nlohmann::json::array();
    for (const auto& [k, v] : m.metadata)
      if (k != "facekit.graph") metadata[k] = v;
    for (const Net& n : nets) list.push_back(toJson(n));
    const nlohmann::json j = {{"file", a.model}, {"kind", is_mtcnn ? "mtcnn" : "graph"}, {"metadata", metadata}, {"networks", list},
                              {"parameters", parameters}, {"macs", macs}, {"totals_of", totals_of}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "file: " << a.model << "\n";
  for (const auto& [k, v] : shown) std::cout << k << ": " << v << "\n";
  std::cout << "\n";
  for (const Net& n : nets) printTable(n);
  std::cout << "totals (" << totals_of << "):\n";
  std::cout << "parameters: " << millions(parameters) << " M\n";
  std::cout << "MACs: " << millions(macs) << " M (PyTorch-style FLOPs = MACs)\n";
}

}  // namespace

void registerInfo(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  auto* info = app.add_subcommand("info", "a model file's metadata, layers (shapes, parameters, MACs) and totals");
  info->add_option("model", args->model, "facekit model file (.safetensors): MTCNN or a graph model")->required();
  info->add_option("--input", args->input,
                   "input size HxWxC (graph models: overrides the metadata; MTCNN: P-Net's input, default one 12x12 window)");
  info->add_flag("--json", args->json, "print a JSON object instead of the table");
  info->callback([args] { runInfo(*args); });
}

}  // namespace facekit::cli
