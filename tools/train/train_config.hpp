// Training configs: a JSON file (configs/*.json) with overrides from the command line, in the
// style of mmcv's --cfg-options: `train.max_epochs=2 optimizer.lr=0.001 data.labels=[a.jsonl]`.
// An override must name a key that the config already has (so a typo is an error, not a silent
// no-op); its value is parsed as JSON when it can be (numbers, booleans, arrays) and taken as a
// string otherwise.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace facekit::train {

using Json = nlohmann::json;

// Throws facekit::Error(kInvalidArgument / kIoError) with a one-line message.
Json loadConfig(const std::string& path);
void applyOverride(Json& config, const std::string& key_eq_value);
void applyOverrides(Json& config, const std::vector<std::string>& overrides);

// config["a"]["b"] for "a.b", with a message naming the key when it is missing or of the wrong type.
template <typename T>
T get(const Json& config, const std::string& dotted);
const Json& at(const Json& config, const std::string& dotted);

}  // namespace facekit::train
