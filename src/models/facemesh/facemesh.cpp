#include "models/facemesh/facemesh.hpp"

#include "engine/tfjs_convert.hpp"
#include "facekit/error.hpp"

namespace facekit::facemesh {

engine::ModelFile convertTfjs(const std::string& json) {
  engine::ModelFile m = engine::convertTfjsGraph(engine::tfjs::load(json), kInputSize, kInputSize, 3,
                                                 {"output_mesh", "output_faceflag", "output_contours"});
  m.metadata["facekit.model"] = "facemesh";
  m.metadata["source"] = "npm @vladmandic/human@3.3.6 models/facemesh.{json,bin} (MIT package; MediaPipe Face Mesh weights, Apache-2.0)";
  m.metadata["converted_by"] = "facekit convert-facemesh";
  m.metadata["input"] = "192x192 RGB scaled to [0,1]";
  return m;
}

FaceMesh::FaceMesh(const std::string& path, engine::Backend backend, int threads) : pool_(threads) {
  const engine::ModelFile m = engine::ModelFile::load(path);
  if (m.metadata.count("facekit.model") == 0 || m.metadata.at("facekit.model") != "facemesh")
    throw Error(Error::Code::kBadModel, "model file " + path + " is not a facekit face mesh model");
  graph_ = engine::Graph::build(m, backend);
  if (graph_.outputNames().size() != 3) throw Error(Error::Code::kBadModel, "model file " + path + ": expected 3 outputs");
  input_.resize({1, kInputSize, kInputSize, 3});
}

MeshOutput FaceMesh::run(const uint8_t* rgb) {
  for (size_t i = 0; i < input_.numel(); ++i) input_.data()[i] = rgb[i] * (1.f / 255.f);
  const auto outs = graph_.forward(input_, &pool_);
  if (outs[0]->numel() != size_t(kVertices) * 3 || outs[1]->numel() != 1)
    throw Error(Error::Code::kBadModel, "face mesh model produced unexpected output sizes");
  MeshOutput r;
  r.mesh.resize(kVertices);
  for (int v = 0; v < kVertices; ++v)
    for (int k = 0; k < 3; ++k) r.mesh[size_t(v)][size_t(k)] = outs[0]->data()[3 * v + k];
  r.face_flag = outs[1]->data()[0];
  r.contours.assign(outs[2]->data(), outs[2]->data() + outs[2]->numel());
  return r;
}

}  // namespace facekit::facemesh
