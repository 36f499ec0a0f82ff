// facekit model files (safetensors layout) and the TFLite reader.
#include <fstream>

#include "engine/model_file.hpp"
#include "engine/tflite_reader.hpp"
#include "test_util.hpp"

using namespace facekit::engine;

namespace {
std::string slurp(const std::string& p) { return readFileBytes(p); }
}

TEST(ModelFile, RoundTripsTensorsAndMetadata) {
  ModelFile m;
  m.metadata["k"] = "v";
  m.add("a.weight", {2, 3}, {1, 2, 3, 4, 5, 6});
  m.add("b", {1}, {-0.5f});
  const std::string bytes = m.serialize();
  const size_t header = size_t(uint8_t(bytes[0])) | size_t(uint8_t(bytes[1])) << 8;
  EXPECT_EQ((8 + header) % 8, 0u) << "tensor data must start 8-byte aligned";
  const ModelFile r = ModelFile::parse(bytes, "mem");
  EXPECT_EQ(r.metadata.at("k"), "v");
  EXPECT_EQ(r.get("a.weight", {2, 3}).data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.get("b", {1}).data[0], -0.5f);
  EXPECT_THROW(r.get("a.weight", {3, 2}), facekit::Error);
  EXPECT_THROW(r.get("missing", {1}), facekit::Error);
}

// The layout is the public safetensors one: a hand-built file must parse.
TEST(ModelFile, ReadsAHandWrittenSafetensorsFile) {
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string bytes(8, '\0');
  bytes[0] = char(header.size());
  bytes += header;
  const float v[2] = {1.5f, -2.f};
  bytes.append(reinterpret_cast<const char*>(v), 8);
  const ModelFile m = ModelFile::parse(bytes, "hand");
  EXPECT_EQ(m.get("x", {2}).data, (std::vector<float>{1.5f, -2.f}));
}

TEST(ModelFile, RejectsTruncatedAndForeignFiles) {
  ModelFile m;
  m.add("w", {4}, {1, 2, 3, 4});
  const std::string good = m.serialize();
  for (size_t cut : {size_t(0), size_t(5), size_t(12), good.size() - 1}) {
    try {
      ModelFile::parse(good.substr(0, cut), "cut");
      ADD_FAILURE() << "accepted a file cut at " << cut;
    } catch (const facekit::Error& e) {
      EXPECT_EQ(e.code(), facekit::Error::Code::kBadModel);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  EXPECT_THROW(ModelFile::parse(std::string(64, 'x'), "junk"), facekit::Error);
  EXPECT_THROW(ModelFile::load("/nonexistent/model.safetensors"), facekit::Error);
}

TEST(TfliteReader, ReadsThePinnedPNet) {
  const auto m = tflite::load(std::string(FACEKIT_TEST_TFLITE_DIR) + "/pnet.tflite");
  EXPECT_EQ(m.tensor("pnet/conv1/weights/read").shape, (std::vector<int32_t>{10, 3, 3, 3}));
  EXPECT_EQ(m.floats("pnet/PReLU1/alpha/read").size(), 10u);
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.tensors[size_t(m.inputs[0])].name, "pnet/input");
  // The graph: 4 convolutions + 2 heads, one max pool.
  int conv = 0, pool = 0;
  for (const auto& op : m.operators) conv += op.builtin_code == 3, pool += op.builtin_code == 17;
  EXPECT_EQ(conv, 5);
  EXPECT_EQ(pool, 1);
}

TEST(TfliteReader, RejectsTruncatedAndForeignFiles) {
  const std::string good = slurp(std::string(FACEKIT_TEST_TFLITE_DIR) + "/rnet.tflite");
  EXPECT_THROW(tflite::parse(good.substr(0, good.size() / 2), "half"), facekit::Error);
  EXPECT_THROW(tflite::parse(good.substr(0, 6), "tiny"), facekit::Error);
  EXPECT_THROW(tflite::parse(std::string(1000, '\0'), "zeros"), facekit::Error);
}
