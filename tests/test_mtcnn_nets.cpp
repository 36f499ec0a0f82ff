// The converted MTCNN networks: the de-transposition done by the converter, the fast path
// against the reference path, and an independent cross-check against the original Caffe models.
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/thread_pool.hpp"
#include "models/mtcnn/mtcnn_nets.hpp"
#include "test_util.hpp"

using namespace facekit;
using namespace facekit::engine;
using facekit::test::randomTensor;
using facekit::test::sameTensor;
using facekit::mtcnn::Nets;

namespace {

const ModelFile& natural() {
  static const ModelFile m = mtcnn::convertTflite(FACEKIT_TEST_TFLITE_DIR, true);
  return m;
}
const ModelFile& transposed() {
  static const ModelFile m = mtcnn::convertTflite(FACEKIT_TEST_TFLITE_DIR, false);
  return m;
}

Tensor transposeHW(const Tensor& t) {
  const Shape s = t.shape();
  Tensor r({s.n, s.w, s.h, s.c});
  for (int n = 0; n < s.n; ++n)
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x)
        for (int c = 0; c < s.c; ++c) r.at(n, x, y, c) = t.at(n, y, x, c);
  return r;
}

}  // namespace

TEST(MtcnnConvert, ConvertedFileEqualsTheCommittedSetupOutput) {
  const ModelFile onDisk = ModelFile::load(FACEKIT_TEST_MODEL);
  EXPECT_EQ(onDisk.serialize(), natural().serialize());
  EXPECT_EQ(onDisk.metadata.at("orientation"), "natural");
}

// network(natural weights, image) must equal transpose(network(original weights, image^T)).
TEST(MtcnnConvert, NaturalOrientationEqualsTransposedOriginal) {
  Nets nat = mtcnn::buildNets(natural(), Backend::kReference);
  Nets tr = mtcnn::buildNets(transposed(), Backend::kReference);

  const Tensor img = randomTensor({1, 37, 29, 3}, 42);  // non-square, odd sizes: catches any mix-up
  const Tensor a = nat.pnet.forward(img, nullptr);
  const Tensor b = transposeHW(tr.pnet.forward(transposeHW(img), nullptr));
  EXPECT_TRUE(sameTensor(a, b, 1e-5));

  for (auto [net_nat, net_tr, side] : {std::tuple{&nat.rnet, &tr.rnet, 24}, {&nat.onet, &tr.onet, 48}}) {
    const Tensor crops = randomTensor({3, side, side, 3}, uint32_t(side));
    const Tensor x = net_nat->forward(crops, nullptr);
    const Tensor y = net_tr->forward(transposeHW(crops), nullptr);
    EXPECT_TRUE(sameTensor(x, y, 1e-5)) << "side " << side;
  }
}

TEST(MtcnnConvert, FastNetsEqualReferenceNets) {
  Nets ref = mtcnn::buildNets(natural(), Backend::kReference);
  Nets fast = mtcnn::buildNets(natural(), Backend::kFast);
  ThreadPool pool(2);
  const Tensor img = randomTensor({1, 61, 47, 3}, 7);
  EXPECT_TRUE(sameTensor(fast.pnet.forward(img, &pool), ref.pnet.forward(img, nullptr), 1e-4));
  const Tensor r = randomTensor({5, 24, 24, 3}, 8);
  EXPECT_TRUE(sameTensor(fast.rnet.forward(r, &pool), ref.rnet.forward(r, nullptr), 1e-4));
  const Tensor o = randomTensor({4, 48, 48, 3}, 9);
  EXPECT_TRUE(sameTensor(fast.onet.forward(o, &pool), ref.onet.forward(o, nullptr), 1e-4));
}

TEST(MtcnnConvert, RejectsAModelMissingATensor) {
  ModelFile m;
  for (const auto& [name, t] : natural().tensors())
    if (name != "onet.fc6_3.weight") m.add(name, t.shape, t.data);
  try {
    mtcnn::buildNets(m, Backend::kFast);
    FAIL() << "accepted a model without onet.fc6_3.weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("onet.fc6_3.weight"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Independent cross-check: the original MTCNN Caffe models (kpzhang93, MIT) in ../shared, run
// by OpenCV DNN's Caffe importer, on the same crops. Caffe nets take the MATLAB-transposed
// image in NCHW; facekit's take the natural image in NHWC. Outputs must agree.
namespace {

struct CaffeNet {
  cv::dnn::Net net;
  explicit CaffeNet(const std::string& name) {
    const std::string dir = facekit::test::sharedDir() + "/models/mtcnn-caffe/";
    net = cv::dnn::readNetFromCaffe(dir + name + ".prototxt", dir + name + ".caffemodel");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  }
  // crops: facekit NHWC natural tensor -> Caffe NCHW transposed blob.
  std::vector<cv::Mat> run(const Tensor& crops, const std::vector<std::string>& outputs) {
    const Shape s = crops.shape();
    const int dims[4] = {s.n, s.c, s.w, s.h};
    cv::Mat blob(4, dims, CV_32F);
    float* p = blob.ptr<float>();
    for (int n = 0; n < s.n; ++n)
      for (int c = 0; c < s.c; ++c)
        for (int x = 0; x < s.w; ++x)
          for (int y = 0; y < s.h; ++y) *p++ = crops.at(n, y, x, c);
    net.setInput(blob);
    std::vector<cv::Mat> outs;
    net.forward(outs, outputs);
    return outs;
  }
};

// Real crops: the astronaut's face at several offsets and zooms, and background patches.
Tensor realCrops(int side) {
  facekit::Image img = facekit::loadImage(FACEKIT_TEST_SAMPLE);
  cv::Mat rgb(img.height, img.width, CV_8UC3, img.pixels.data());
  const std::vector<cv::Rect> boxes = {{175, 62, 94, 94},  {168, 55, 110, 110}, {185, 80, 70, 70}, {190, 60, 90, 90},
                                       {20, 300, 120, 120}, {380, 20, 60, 60},   {300, 350, 150, 150}, {0, 0, 24, 24}};
  Tensor t({int(boxes.size()), side, side, 3});
  for (size_t i = 0; i < boxes.size(); ++i) {
    cv::Mat patch;
    cv::resize(rgb(boxes[i]), patch, cv::Size(side, side), 0, 0, cv::INTER_AREA);
    float* d = t.data() + i * size_t(side) * side * 3;
    for (int k = 0; k < side * side * 3; ++k) d[k] = (patch.data[k] - 127.5f) * 0.0078125f;
  }
  return t;
}

float prob(const float* logits) { return 1.f / (1.f + std::exp(logits[0] - logits[1])); }

}  // namespace

TEST(MtcnnCaffeCrossCheck, RNetAndONetMatchTheOriginalCaffeModels) {
  FACEKIT_REQUIRE_SHARED();
  Nets nets = mtcnn::buildNets(natural(), Backend::kFast);
  struct Stage { Sequential* net; const char* caffe; int side; std::vector<std::string> outs; };
  for (const Stage& st : {Stage{&nets.rnet, "det2", 24, {"prob1", "conv5-2"}}, Stage{&nets.onet, "det3", 48, {"prob1", "conv6-2", "conv6-3"}}}) {
    const Tensor crops = realCrops(st.side);
    const Tensor& fk = st.net->forward(crops, nullptr);
    CaffeNet caffe(st.caffe);
    const auto outs = caffe.run(crops, st.outs);
    int faces = 0;
    for (int n = 0; n < crops.shape().n; ++n) {
      const float* o = fk.data() + size_t(n) * fk.shape().c;
      const float p = prob(o);
      faces += p > 0.9f;
      EXPECT_NEAR(p, outs[0].ptr<float>()[n * 2 + 1], 1e-4) << st.caffe << " crop " << n;
      for (int k = 0; k < 4; ++k) EXPECT_NEAR(o[2 + k], outs[1].ptr<float>()[n * 4 + k], 1e-4) << st.caffe << " reg " << k;
      if (st.outs.size() == 3)
        for (int k = 0; k < 10; ++k) EXPECT_NEAR(o[6 + k], outs[2].ptr<float>()[n * 10 + k], 1e-4) << "landmark " << k;
    }
    EXPECT_GE(faces, 2) << st.caffe << ": the face crops should score as faces";
  }
}

TEST(MtcnnCaffeCrossCheck, PNetMapMatchesTheOriginalCaffeModel) {
  FACEKIT_REQUIRE_SHARED();
  Nets nets = mtcnn::buildNets(natural(), Backend::kFast);
  Tensor img = realCrops(48);  // use one 48x48 face crop as a whole P-Net input
  Tensor one({1, 48, 48, 3});
  std::copy(img.data(), img.data() + one.numel(), one.data());
  const Tensor& fk = nets.pnet.forward(one, nullptr);
  CaffeNet caffe("det1");
  const auto outs = caffe.run(one, {"prob1", "conv4-2"});
  // Caffe maps are in the transposed frame: [1][c][x][y].
  const Shape s = fk.shape();
  ASSERT_EQ(outs[0].size[2], s.w);
  ASSERT_EQ(outs[0].size[3], s.h);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const float* o = fk.data() + (size_t(y) * s.w + x) * s.c;
      const size_t plane = size_t(s.w) * s.h, at = size_t(x) * s.h + y;
      EXPECT_NEAR(prob(o), outs[0].ptr<float>()[plane + at], 1e-4);
      for (int k = 0; k < 4; ++k) EXPECT_NEAR(o[2 + k], outs[1].ptr<float>()[k * plane + at], 1e-4);
    }
}
