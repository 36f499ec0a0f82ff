// WIDER-style text ground truth (*_bbx_gt.txt): eval::loadBbxGtText, then an evaluation of the
// boxes it read against themselves (what `facekit eval detections` does with them).
#include "eval/widerface.hpp"
#include "facekit/error.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static facekit::fuzz::MemFile file("bbx_gt.txt");
  file.set(data, size);
  try {
    const auto gt = facekit::eval::loadBbxGtText(file.path());
    if (gt.boxCount() > 2000) return 0;  // evaluation is quadratic per image; the parser is what is fuzzed
    facekit::eval::Predictions pred;
    for (const auto& e : gt.events)
      for (const auto& img : e.images) {
        auto& p = pred[e.name + "/" + img.name];
        for (size_t i = 0; i < img.boxes.size(); ++i) p.push_back({img.boxes[i], 1.0 - 0.001 * double(i % 100)});
      }
    facekit::eval::evaluate(gt, pred, 0.5, 10);
  } catch (const facekit::Error&) {
  }
  return 0;
}
