// facekit face detection: MTCNN (Zhang et al., "Joint Face Detection and Alignment using
// Multi-task Cascaded Convolutional Networks", 2016).
//
//   auto det = facekit::FaceDetector::create(options);     // loads and checks the model
//   std::vector<facekit::Face> faces = det->detect(image.view());
//
// Output layout. One Face per detected face, sorted by descending score:
//   score      O-Net face probability in [0, 1]; every face has score >= thresholds[2].
//   box        {x1, y1, x2, y2} in pixels of the input image, x1 < x2, y1 < y2. Coordinates
//              are continuous: (0, 0) is the top-left corner of the top-left pixel, so the
//              centre of pixel (col, row) is (col + 0.5, row + 0.5). A box may extend past the
//              image border when a face is cut by it.
//   landmarks  5 points in the same coordinates, always in this order: left eye, right eye,
//              nose tip, left mouth corner, right mouth corner, where "left" is the image's
//              left for the face seen upright (the subject's right eye).
//
// Contracts. create() throws facekit::Error (kIoError / kBadModel) if the model file is
// missing, truncated or not an MTCNN model, and kInvalidArgument for out-of-range options.
// detect() throws kInvalidArgument for a null view or an image smaller than 12 x 12 pixels;
// any larger 8-bit gray/RGB/BGR image is accepted. An image with no face gives an empty vector.
//
// Thread safety. What may be shared between threads:
//  * Separate FaceDetector instances are independent: create() and any calls on them may run on
//    different threads at once, over the same input images.
//  * One instance is not safe to call concurrently: it keeps scratch buffers, a per-image-size
//    network cache, XNNPACK operators set up for the current call and the last profile. Its
//    member functions (detect(), verify(), options(), lastProfile()) must be called one at a time;
//    different threads may use it in turn if the caller orders the calls (a mutex, a pool).
//  * Input images (ImageView) are only read: one image may go to several instances at once.
//  * num_threads > 1 parallelises one detect() call on the instance's own pool; the result is
//    bit-identical to num_threads = 1. The tasks are whole pyramid levels (one per level and
//    turn with all_orientations) and chunks of R-Net / O-Net crops; no network operator is split
//    over threads. The calling thread takes tasks too and never waits for a pool thread that has
//    not started one, so when another process holds the other cores a call runs at about the
//    speed of num_threads = 1 instead of waiting for the scheduler (engine/thread_pool.hpp).
// tests/test_threads.cpp checks each point (under ThreadSanitizer too: make test-tsan).
//
// All orientations (DetectorOptions::all_orientations). The image is also searched turned by
// 90, 180 and 270 degrees; the turned pyramid levels are the upright levels turned (cv::rotate),
// not resized again. What is reported:
//  * Faces of the upright pass as the upright detector reports them, except one it found the
//    wrong way up (MTCNN also fires on faces turned by 90 or 180 degrees, with its 5 points in
//    the wrong order): that one is re-derived from its upright re-check.
//  * Faces of a turned pass after an upright re-check: R-Net picks which quarter turn of the
//    crop turned by the face's eye line is upright (O-Net confirms a change), O-Net runs on that
//    crop, and again on the crop it refined, with R-Net. The face is kept if the logits of its
//    O-Net score in its pass, the two O-Net checks and the R-Net check sum to >= 12 (about 0.95
//    each), a threshold measured on WIDER FACE train images (never the test photos).
//  * A turned photo (the camera on its side): a face passing that test with its eye line within
//    30 degrees of level in a turned pass confirms that pass, which then runs again as the
//    upright detector would on the photo turned upright (all its levels, the upright
//    thresholds); its faces are kept on those thresholds (plus a first check >= 0.5, the right
//    way up), and the upright pass's faces then need the test too unless one of them passes it
//    level. A quarter-turned photo thus gives the faces of the upright photo, turned.
//  * One face per place (the same face found by several passes): the one its pass saw level,
//    else the best by O-Net score and first check. landmarks[0] is always the eye on the
//    image-left of the face as if upright; a face taken from a pass is reported as that pass
//    found it (box, points, O-Net score), a re-derived one as its check found it.
// Cost: the turned passes search faces from 2 x min_face_size (a confirmed one down to
// min_face_size), with the P-Net threshold max(thresholds[0], 0.8); they skip the places of
// upright faces that are sure (O-Net >= 0.99), level and re-check >= 0.9 (stop early); R-Net and
// O-Net run once on the candidates of all three. P-Net's per-size cache (see the README) holds
// up to twice as many networks. Limits: a turned face smaller than 2 x min_face_size is found
// only in a photo where a larger face confirms its pass; faces turned by about 45 degrees (the
// edge between two passes) are found less often than upright ones (WIDER figures below).
//
// Measured 2026-11-25 on this project's 2-core VM (tests/test_orientations.cpp,
// bench/bench_option_cost.cpp; WIDER FACE figures from a development harness):
//  * Time, the bench scene (sample photo, one face), 1 thread, min face 20, same run: 640x480
//    13.2 ms upright, 18.5 ms all orientations (1.40x; the previous all-orientations code: 4.1x);
//    1280x720 35.5 vs 48.0 ms (1.36x). With border_faces on (the default since; every pass gets
//    the border), 2026-11-26, paired runs under chrt -f, 640x480: 13.6 vs 22.7 ms (1.65x) on 1
//    thread; on 2 threads (one task per level and turn) 7.4 vs 13.4 ms (1.81x). The all-orientations
//    search itself scales 1.7x from 1 to 2 threads (its re-checks run on the calling thread).
//  * The 48 photos of ../shared/data/faces scaled to 480 px, turned by 0, 45, .., 315 degrees on
//    an enlarged canvas: all 49 faces of at least 40 px that the upright detector finds upright
//    are found at every one of the 8 angles, each once; the 5 points are in a sane order (eyes
//    above nose above mouth, left before right, in the face's own frame) for 386 of 392.
//  * False faces (detections of no face, or a second one of a face) on collages of pasted
//    portraits (upright, turned by quarter turns and any angle), tiled photos, blank and noise
//    images: 3 with all orientations, 4 upright; faces found 171 vs 145 of 174.
//  * WIDER FACE train subset (118 images, official boxes), faces >= 40 px found / false faces:
//    upright detector on the upright images 397/416 and 22; all orientations on the same
//    images 397/416 and 22, turned by 90, 180, 270 degrees 391, 393, 394 and 12, 16, 23, by 45
//    and 135 degrees 344, 339 and 47, 37 (the upright detector on those turned images: 45 to 63
//    false faces). Faces of 28-40 px turned by quarter turns: 187-190 of 217 (upright 190);
//    20-28 px: 105 of 232 (upright 178), mostly images where no larger face confirms the turn.
//
// Faces cut by the border (DetectorOptions::border_faces, on by default). Every pyramid level is
// searched with 6 pixels of border around it (half of P-Net's 12-pixel window, at every level:
// the coarse levels, which find large faces, get it almost for free), so a window may be half
// outside the image; outside the image is mean grey, there and in the R-Net and O-Net crops
// (without the option those crops are black, as in the original MTCNN). Grey was chosen by
// measurement (figures in mtcnn_detector.cpp): black found 0.93 / 0.65 of the cut faces below,
// replicated edges 0.98 / 0.86, grey 0.995 / 0.974. A cut face is reported as the whole face:
// its box and points may lie partly outside the image (`facekit detect` keeps them so in its
// JSON, `--draw` clips the drawn box to the image); `--no-border-faces` turns it off.
// Measured 2026-11-25 on this project's 2-core VM (tests/test_border.cpp, bench/bench_option_cost.cpp):
//  * The 48 photos of ../shared/data/faces scaled to <= 640 px, the largest face cut by 40 % and
//    by 50 % of its box at each of the four edges (192 crops each): found as the whole face (IoU
//    >= 0.4 with the uncut box shifted into the crop) 0.995 and 0.974 (without the option 0.849
//    and 0.208); YuNet 2022mar (OpenCV 4.6 FaceDetectorYN, score 0.9) on the same crops against
//    its own uncut box 0.654 and 0.372 (any box on the visible part: 0.676 and 0.511; it loses
//    most faces cut at the right and bottom edges).
//  * Elsewhere: no faces on 36 blank, gradient and noise images; faces at least one face width
//    from every edge are found bit for bit as without the option; WIDER FACE val subset AP
//    (easy / medium / hard) min face 12, thresholds 0.4/0.5/0.5: 0.896 / 0.864 / 0.642 without,
//    0.897 / 0.868 / 0.645 with; defaults: 0.876 / 0.840 / 0.530 without, 0.876 / 0.842 / 0.531 with.
//  * Time, the bench scene (one face, not cut), min face 20, 1 thread, with / without in the same
//    run, alternating, CPU time (the VM ran at a load of ~17, wall times were 2-3x inflated):
//    640x480 13.1 vs 14.8 ms, 1.15x (nine runs: 1.12x to 1.17x, median 1.14x; P-Net sees 12.7 %
//    more pixels, R-Net 6 % more candidates); 1920x1080 90.3 vs 95.0 ms, 1.05x (runs: 1.01x to
//    1.05x). 2-thread timings on that loaded VM were noise (0.6x to 2.8x).
//
// Memory. Pyramid levels of more than 20,480 pixels (border included) run through P-Net in row
// bands that overlap by P-Net's receptive field (10 rows) and start on even rows, so the outputs
// are exactly those of the whole level (tests/test_tiles.cpp: bit for bit, 1 and 2 threads) and
// P-Net's working memory (band input, activations, XNNPACK buffers) is that of a band whatever the
// image size. The 8-bit pyramid is kept (about twice the largest level). Band nets stay for the
// next call up to 1 M band pixels, whole-level nets of the per-size cache up to 2 M pixels; beyond
// that they are rebuilt. FACEKIT_PNET_BAND_PIXELS=N overrides the band size (0: whole levels).
// all_orientations runs the large levels of every pass in bands too (turned levels are turned
// whole in 8 bits, then banded). Measured 2026-11-25, 1 thread, min face 20, peak RSS:
// `facekit detect` 1920x1080 photo 331 -> 112 MiB, 9000x9000 (81 MP, 232 MiB decoded) 9,781 ->
// 570 MiB (35 s); `facekit landmarks` (all orientations) 2280x1588 photo 620 -> 70 MiB (1.5 ->
// 0.8 s), 9000x9000 out of memory at a 12 GB ceiling (11.8 GB peak) -> 580 MiB (35 s). Bands fit the CPU caches, so they are also faster (CPU
// time, same machine): 1920x1080 93 -> 80 ms, 640x480 13.4-13.9 -> 12.7-13.0 ms.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "facekit/image.hpp"

namespace facekit {

struct Point2f {
  float x = 0, y = 0;
};

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
};

struct Face {
  float score = 0;
  Box box;
  std::array<Point2f, 5> landmarks;
};

enum class ComputeBackend {
  kFast,       // XNNPACK kernels (default)
  kReference,  // plain loops accumulating in double: the ground truth for tests, far slower
};

// Arithmetic of the networks. kInt8: P-Net and R-Net run in int8 (uint8 activations with
// per-tensor scales calibrated on ../shared training-side images, int8 weights with one scale per
// output channel, int32 accumulation; AVX-512 VNNI kernels where the CPU has them, else AVX2, else
// plain loops; FACEKIT_INT8_KERNEL=vnni|avx2|scalar forces one), O-Net stays FP32
// (FACEKIT_INT8_NETS=pnet,rnet,onet changes the set); the kernels agree bit for bit, so results
// do not depend on the CPU. FP32 is the reference and the default. Measured (README, "Lower
// precision"): WIDER FACE subset AP within -0.003 / +0.005 of FP32 on every setting, the same
// faces on ../shared/data/faces; 640x480, 1 thread, min face 20: 1.6-1.8x faster than FP32.
enum class ComputePrecision {
  kFp32,
  kInt8,
};

struct DetectorOptions {
  // facekit MTCNN model (safetensors layout) written by `facekit convert-mtcnn`. Empty means
  // $FACEKIT_MODEL_DIR/mtcnn.safetensors, else the models/ folder of the build's source tree.
  std::string model_path;
  int min_face_size = 20;            // smallest face searched for, pixels; >= 8 (below 12 the image is upsampled)
  float scale_factor = 0.709f;       // image pyramid step, in (0.1, 0.95]
  std::array<float, 3> thresholds = {0.6f, 0.7f, 0.7f};  // P-, R-, O-Net score thresholds, each in [0, 1]
  std::array<float, 3> nms = {0.7f, 0.7f, 0.7f};         // IoU of the cross-scale (Union), R-Net (Union), O-Net (Min) NMS
  float pnet_scale_nms = 0.5f;       // IoU of the per-scale P-Net NMS (Union)
  int num_threads = 1;               // threads for one detect() call, 1..64
  // Also find faces at any roll: lying sideways, upside down (MTCNN alone covers about +-45
  // degrees). See "All orientations" below: how, what it costs, what was measured.
  bool all_orientations = false;
  // Also find faces cut by the image border, reported whole (see "Faces cut by the border").
  bool border_faces = true;
  ComputeBackend backend = ComputeBackend::kFast;
  ComputePrecision precision = ComputePrecision::kFp32;  // kInt8: see ComputePrecision (the backend then applies to the FP32 nets)
};

// Timings of the last detect() call, milliseconds (wall-clock on the calling thread). With
// num_threads > 1 the pyramid levels after the first are built while P-Net runs on the first:
// that time is then part of pnet_ms, and pyramid_ms covers the first level only.
struct DetectorProfile {
  double pyramid_ms = 0, pnet_ms = 0, rnet_ms = 0, onet_ms = 0, total_ms = 0;
  int pnet_candidates = 0, rnet_candidates = 0;
  double verify_ms = 0;  // all_orientations: the upright re-checks and the merge (time included in total_ms)
};

// What FaceDetector::verify() found on one candidate.
struct VerifiedFace {
  float score = 0;   // O-Net face probability of the crop turned upright, in [0, 1]
  Face face;         // the refined face in image coordinates: face.score == score; landmarks
                     // in face order; box centred on `centre`, sides width x height (swapped
                     // when the roll is nearer +-90 than 0 or 180 degrees)
  float roll = 0;    // degrees the crop was turned by: the angle of the candidate's eye line
                     // (landmarks[0] -> landmarks[1]), clockwise on screen, in [-180, 180]
  Point2f centre;    // the refined box in the face's own frame: its centre in the image,
  float width = 0;   // its side along the eye line
  float height = 0;  // and across it
};

class FaceDetector {
 public:
  static std::unique_ptr<FaceDetector> create(const DetectorOptions& options = {});
  virtual ~FaceDetector() = default;
  virtual std::vector<Face> detect(const ImageView& image) = 0;
  // Re-checks one candidate face, upright, at any roll: O-Net on the square crop of side
  // max(box width, height) around the box centre, turned by the roll of the candidate's eyes
  // (landmarks[0] -> landmarks[1]; eyes at one point: no turn). Only box and the two eyes are
  // read; thresholds and all_orientations do not apply (the caller decides what score is enough:
  // real faces score > 0.9, background < 0.2 in the tests). One O-Net run, about 0.2 ms; outside
  // the image the crop is black. For trackers: a face followed from the previous frame's points.
  // Throws kInvalidArgument as detect() does for the image, and for an empty or non-finite box.
  virtual VerifiedFace verify(const ImageView& image, const Face& candidate) = 0;
  virtual const DetectorOptions& options() const = 0;
  virtual const DetectorProfile& lastProfile() const = 0;
};

// The path of a model file when options leave it empty: $FACEKIT_MODEL_DIR/file_name if that
// variable is set; else the build's models/ folder (converted at setup), or the repository's
// weights/ folder for the weights facekit ships (landmark106.safetensors).
std::string defaultModelPath(const std::string& file_name = "mtcnn.safetensors");

// Intersection over union of two boxes (0 when either is empty).
float iou(const Box& a, const Box& b);

}  // namespace facekit
