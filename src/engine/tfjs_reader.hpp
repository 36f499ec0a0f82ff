// A reader for TensorFlow.js graph models (model.json + weight shards), written from the
// format's public description: "modelTopology.node" is a TensorFlow GraphDef in JSON (attribute
// strings base64-encoded), "weightsManifest" lists the constants in shard order with their
// dtype and optional quantization (float16 here). Throws facekit::Error(kBadModel) on anything
// unexpected, naming the file.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace facekit::engine::tfjs {

struct Node {
  std::string name, op;
  std::vector<std::string> inputs;  // node names (":0" output suffixes stripped)
  nlohmann::json attr;
  std::vector<int> ints(const std::string& key) const;         // attr[key].list.i
  std::string str(const std::string& key) const;               // attr[key].s, base64-decoded
  std::vector<std::string> strs(const std::string& key) const;  // attr[key].list.s, decoded
};

struct Weight {
  std::vector<int64_t> shape;
  std::vector<float> f;    // float weights (float16 ones are widened)
  std::vector<int32_t> i;  // int32 weights
};

struct Model {
  std::vector<Node> nodes;
  std::map<std::string, Weight> weights;
  nlohmann::json signature;
  std::string origin;
  const Node& node(const std::string& name) const;
  const Weight& weight(const std::string& name) const;
};

Model load(const std::string& model_json_path);  // shards are read from the same folder
// The same from the model.json text; read_shard(name) returns a weight shard's bytes (a name
// of the manifest's "paths"). `origin` names the model in messages.
Model parse(const std::string& model_json, const std::function<std::string(const std::string&)>& read_shard, const std::string& origin);
float halfToFloat(uint16_t h);
std::string base64Decode(const std::string& s);

}  // namespace facekit::engine::tfjs
