// facekit serve: the library behind HTTP (cpp-httplib), and the browser demo at /.
//
//   POST /v1/detect      image as the raw body (Content-Type image/* or application/octet-stream)
//   POST /v1/landmarks   or as the file field "image" of a multipart/form-data body; options as
//                        query parameters; answers the JSON of `facekit detect` / `facekit landmarks`
//   GET  /healthz        {"status": "ok"} (503 {"status": "draining"} once shutting down)
//   GET  /metrics        Prometheus text format
//   GET  /               the demo page (tools/serve/web, compiled in)
//
// Work model. --threads N inference slots, each with its own detectors and landmarkers (one
// instance is never used by two threads). A request takes a free slot or waits for one; at most
// --queue requests wait, and one more gets 503 at once instead of piling up; a request that
// waited --timeout seconds gets 503 as well. Connections are served by a pool of --connections
// threads; reading a request and writing its answer each time out after --timeout seconds.
//
// Shutdown. SIGTERM or SIGINT: the listening socket closes at once, requests already being read
// or processed are answered, keep-alive connections close after their current request, and the
// process exits 0 with a one-line summary on stderr.
#include "cmd_serve.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "facekit/facekit.hpp"
#include "inputs.hpp"
#include "web_assets.hpp"

namespace facekit::cli {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 2;
  int queue = 32;
  int connections = 64;
  double max_body_mb = 20;
  double timeout_s = 30;
  std::string web_dir;
  LandmarkerOptions base;  // model paths given on the command line
};

// An HTTP error with its status: what a handler throws to answer {"error": ..., "status": ...}.
struct HttpError {
  int status;
  std::string message;
};

void sendJson(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void sendError(httplib::Response& res, int status, const std::string& message) {
  sendJson(res, status, Json{{"error", message}, {"status", status}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// ---- images from request bodies ----------------------------------------------------------------

// Decodes an upload with loadImage()'s checks and messages, `name` standing for the file.
Image decodeUpload(const std::string& bytes, const std::string& name) { return loadImageFromMemory(bytes.data(), bytes.size(), name); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// The image bytes of a request: the raw body, or the multipart field "image" (else the first file).
std::string imageBytes(const httplib::Request& req, std::string& name) {
  const std::string type = lower(req.get_header_value("Content-Type"));
  if (req.is_multipart_form_data()) {
    const httplib::MultipartFormData* part = nullptr;
    if (req.has_file("image")) part = &req.files.find("image")->second;
    else if (!req.files.empty()) part = &req.files.begin()->second;
    if (!part) throw HttpError{400, "multipart body has no file field 'image'"};
    name = part->filename.empty() ? "upload" : part->filename;
    if (part->content.empty()) throw HttpError{400, name + ": empty file (0 bytes)"};
    return part->content;
  }
  if (!type.empty() && type.rfind("image/", 0) != 0 && type.rfind("application/octet-stream", 0) != 0)
    throw HttpError{415, "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                             "': send the image as the raw body (image/* or application/octet-stream) or as the field 'image' of multipart/form-data"};
  name = "upload";
  if (req.body.empty()) throw HttpError{400, "empty body: send an image (JPEG, PNG, BMP, TIFF, WebP, PNM)"};
  return req.body;
}

// ---- query options ----------------------------------------------------------------------------

struct RequestOptions {
  DetectorOptions detector;
  LandmarkBackend backend = LandmarkBackend::kLandmark106;
  int refine = -1;
  std::string format = "facekit";
};

int parseInt(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    const int x = std::stoi(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw HttpError{400, "query parameter " + key + "='" + v + "' is not an integer"};
}

bool parseBool(const std::string& key, const std::string& v) {
  const std::string s = lower(v);
  if (s == "" || s == "1" || s == "true" || s == "yes") return true;
  if (s == "0" || s == "false" || s == "no") return false;
  throw HttpError{400, "query parameter " + key + "='" + v + "' is not a boolean (1/0, true/false)"};
}

RequestOptions parseOptions(const httplib::Request& req, bool landmarks) {
  RequestOptions o;
  o.detector.all_orientations = landmarks;  // as the CLI: landmarks at any roll, detect upright (MTCNN's default)
  for (const auto& [key, value] : req.params) {
    try {
      if (key == "min_face") o.detector.min_face_size = parseInt(key, value);
      else if (key == "threshold") o.detector.thresholds = parseThresholds(value);
      else if (key == "all_orientations") o.detector.all_orientations = parseBool(key, value);
      else if (landmarks && key == "format") {
        if (value != "facekit" && value != "modelscope") throw HttpError{400, "format='" + value + "': use facekit or modelscope"};
        o.format = value;
      } else if (landmarks && key == "backend") {
        if (value != "landmark106" && value != "mesh") throw HttpError{400, "backend='" + value + "': use landmark106 or mesh"};
        o.backend = value == "mesh" ? LandmarkBackend::kMesh : LandmarkBackend::kLandmark106;
      } else if (landmarks && key == "refine") o.refine = parseInt(key, value);
      else
        throw HttpError{400, "unknown query parameter '" + key + "' (" +
                                 (landmarks ? "min_face, threshold, all_orientations, format, backend, refine" : "min_face, threshold, all_orientations") + ")"};
    } catch (const Error& e) {
      throw HttpError{400, std::string("query parameter ") + key + ": " + e.what()};
    }
  }
  if (o.detector.min_face_size < 8) throw HttpError{400, "min_face must be >= 8"};
  return o;
}

std::string cacheKey(const RequestOptions& o, bool landmarks) {
  std::ostringstream k;
  k << o.detector.min_face_size << '|' << o.detector.thresholds[0] << ',' << o.detector.thresholds[1] << ',' << o.detector.thresholds[2]
    << '|' << o.detector.all_orientations;
  if (landmarks) k << '|' << int(o.backend) << '|' << o.refine;
  return k.str();
}

// ---- inference slots --------------------------------------------------------------------------

// One thread's models, built on first use for each distinct set of options (at most 4 kept).
class Slot {
 public:
  explicit Slot(const LandmarkerOptions& base) : base_(base) {}

  FaceDetector& detector(const RequestOptions& o) {
    return get(detectors_, cacheKey(o, false), [&] {
      DetectorOptions d = o.detector;
      d.model_path = base_.detector.model_path;
      return FaceDetector::create(d);
    });
  }
  FaceLandmarker& landmarker(const RequestOptions& o) {
    return get(landmarkers_, cacheKey(o, true), [&] {
      LandmarkerOptions l = base_;
      const std::string model = l.detector.model_path;
      l.detector = o.detector;
      l.detector.model_path = model;
      l.backend = o.backend;
      l.refine_passes = o.refine;
      return FaceLandmarker::create(l);
    });
  }

 private:
  template <class T, class Make>
  T& get(std::list<std::pair<std::string, std::unique_ptr<T>>>& cache, const std::string& key, Make make) {
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (it->first == key) {
        cache.splice(cache.begin(), cache, it);
        return *cache.front().second;
      }
    cache.emplace_front(key, make());
    if (cache.size() > 4) cache.pop_back();
    return *cache.front().second;
  }

  LandmarkerOptions base_;
  std::list<std::pair<std::string, std::unique_ptr<FaceDetector>>> detectors_;
  std::list<std::pair<std::string, std::unique_ptr<FaceLandmarker>>> landmarkers_;
};

// N slots and a bounded wait for one.
class SlotPool {
 public:
  SlotPool(int n, int queue, const LandmarkerOptions& base) : queue_(queue) {
    for (int i = 0; i < n; ++i) slots_.push_back(std::make_unique<Slot>(base));
    for (auto& s : slots_) free_.push_back(s.get());
  }
  int capacity() const { return int(slots_.size()) + queue_; }
  int pending() const { return pending_; }
  int running() const {
    std::lock_guard<std::mutex> lock(m_);
    return int(slots_.size() - free_.size());
  }

  // Runs fn(slot) on a free slot. Throws HttpError 503 when running + waiting would exceed the
  // capacity, or when no slot came free within `timeout`.
  template <class Fn>
  void run(std::chrono::milliseconds timeout, Fn fn) {
    if (pending_.fetch_add(1) >= capacity()) {
      pending_.fetch_sub(1);
      throw HttpError{503, "busy: " + std::to_string(slots_.size()) + " requests running and " + std::to_string(queue_) +
                               " waiting; try again later"};
    }
    Slot* slot = nullptr;
    {
      std::unique_lock<std::mutex> lock(m_);
      if (!cv_.wait_for(lock, timeout, [&] { return !free_.empty(); })) {
        pending_.fetch_sub(1);
        throw HttpError{503, "busy: no inference slot came free within the request timeout; try again later"};
      }
      slot = free_.front();
      free_.pop_front();
    }
    struct Release {
      SlotPool* p;
      Slot* s;
      ~Release() {
        {
          std::lock_guard<std::mutex> lock(p->m_);
          p->free_.push_back(s);
        }
        p->pending_.fetch_sub(1);
        p->cv_.notify_one();
      }
    } release{this, slot};
    fn(*slot);
  }

 private:
  int queue_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::deque<Slot*> free_;
  std::atomic<int> pending_{0};
  mutable std::mutex m_;
  std::condition_variable cv_;
};

// ---- metrics ----------------------------------------------------------------------------------

class Metrics {
 public:
  static constexpr double kBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  static std::string endpointOf(const std::string& path) {
    for (const char* e : {"/v1/detect", "/v1/landmarks", "/healthz", "/metrics"})
      if (path == e) return e;
    return path == "/" || path == "/index.html" || path == "/app.js" || path == "/style.css" ? "web" : "other";
  }

  void record(const std::string& endpoint, int status, double seconds) {
    std::lock_guard<std::mutex> lock(m_);
    E& e = by_endpoint_[endpoint];
    e.codes[status]++;
    if (status >= 400) e.errors++;
    e.count++;
    e.sum += seconds;
    for (size_t i = 0; i < std::size(kBuckets); ++i)
      if (seconds <= kBuckets[i]) e.buckets[i]++;
  }
  void faces(const std::string& endpoint, size_t n) {
    std::lock_guard<std::mutex> lock(m_);
    by_endpoint_[endpoint].faces += n;
  }

  std::string text(int running, int pending, int capacity, bool draining) const {
    std::lock_guard<std::mutex> lock(m_);
    std::ostringstream o;
    o << "# HELP facekit_requests_total HTTP requests answered, by endpoint and status code.\n# TYPE facekit_requests_total counter\n";
    for (const auto& [ep, e] : by_endpoint_)
      for (const auto& [code, n] : e.codes) o << "facekit_requests_total{endpoint=\"" << ep << "\",code=\"" << code << "\"} " << n << "\n";
    o << "# HELP facekit_request_errors_total HTTP requests answered with a status >= 400, by endpoint.\n# TYPE facekit_request_errors_total counter\n";
    for (const auto& [ep, e] : by_endpoint_) o << "facekit_request_errors_total{endpoint=\"" << ep << "\"} " << e.errors << "\n";
    o << "# HELP facekit_request_duration_seconds Time from the request's headers to its answer written.\n"
         "# TYPE facekit_request_duration_seconds histogram\n";
    for (const auto& [ep, e] : by_endpoint_) {
      for (size_t i = 0; i < std::size(kBuckets); ++i)
        o << "facekit_request_duration_seconds_bucket{endpoint=\"" << ep << "\",le=\"" << kBuckets[i] << "\"} " << e.buckets[i] << "\n";
      o << "facekit_request_duration_seconds_bucket{endpoint=\"" << ep << "\",le=\"+Inf\"} " << e.count << "\n";
      o << "facekit_request_duration_seconds_sum{endpoint=\"" << ep << "\"} " << e.sum << "\n";
      o << "facekit_request_duration_seconds_count{endpoint=\"" << ep << "\"} " << e.count << "\n";
    }
    o << "# HELP facekit_faces_total Faces found, by endpoint.\n# TYPE facekit_faces_total counter\n";
    for (const char* ep : {"/v1/detect", "/v1/landmarks"}) {
      const auto it = by_endpoint_.find(ep);
      o << "facekit_faces_total{endpoint=\"" << ep << "\"} " << (it == by_endpoint_.end() ? 0 : it->second.faces) << "\n";
    }
    o << "# HELP facekit_inference_running Requests running inference now.\n# TYPE facekit_inference_running gauge\n"
      << "facekit_inference_running " << running << "\n";
    o << "# HELP facekit_inference_queued Requests waiting for an inference slot now.\n# TYPE facekit_inference_queued gauge\n"
      << "facekit_inference_queued " << std::max(0, pending - running) << "\n";
    o << "# HELP facekit_inference_capacity Slots plus queue places; a request beyond it gets 503.\n# TYPE facekit_inference_capacity gauge\n"
      << "facekit_inference_capacity " << capacity << "\n";
    o << "# HELP facekit_draining 1 once shutdown has begun.\n# TYPE facekit_draining gauge\nfacekit_draining " << (draining ? 1 : 0) << "\n";
    o << "# HELP facekit_build_info facekit version.\n# TYPE facekit_build_info gauge\nfacekit_build_info{version=\"" FACEKIT_VERSION "\"} 1\n";
    return o.str();
  }

 private:
  struct E {
    std::map<int, uint64_t> codes;
    uint64_t errors = 0, count = 0, faces = 0;
    double sum = 0;
    uint64_t buckets[std::size(kBuckets)] = {};
  };
  mutable std::mutex m_;
  std::map<std::string, E> by_endpoint_;
};

// ---- the server -------------------------------------------------------------------------------

// Per connection thread: when the current request's headers arrived (httplib answers a request
// on the thread that read it).
thread_local Clock::time_point t_request_start;
thread_local bool t_request_routed = false;

int runServer(const ServeOptions& o) {
  if (o.threads < 1 || o.threads > 256) throw Error(Error::Code::kInvalidArgument, "--threads must be in 1..256");
  if (o.queue < 0) throw Error(Error::Code::kInvalidArgument, "--queue must be >= 0");
  if (o.connections < 2) throw Error(Error::Code::kInvalidArgument, "--connections must be >= 2");
  if (!(o.max_body_mb > 0)) throw Error(Error::Code::kInvalidArgument, "--max-body must be > 0 (MB)");
  if (!(o.timeout_s > 0)) throw Error(Error::Code::kInvalidArgument, "--timeout must be > 0 (seconds)");

  // Every slot loads the default models up front (a missing model fails here, not on the first
  // request); a released slot goes to the back of the free list, so n runs visit all n slots.
  SlotPool pool(o.threads, o.queue, o.base);
  for (int i = 0; i < o.threads; ++i) {
    RequestOptions defaults;
    pool.run(std::chrono::milliseconds(1000), [&](Slot& s) { s.detector(defaults); s.landmarker(defaults); });
  }

  // SIGTERM / SIGINT are taken by one thread (sigwait), so every other thread, httplib's
  // included, runs with them blocked.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  httplib::Server svr;
  Metrics metrics;
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> received{0}, answered{0};
  const auto timeout = std::chrono::milliseconds(int64_t(o.timeout_s * 1000));
  const int connections = o.connections;
  svr.new_task_queue = [connections] { return new httplib::ThreadPool(size_t(connections)); };
  svr.set_payload_max_length(size_t(o.max_body_mb * 1024 * 1024));
  svr.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(o.timeout_s)));
  svr.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(o.timeout_s)));
  svr.set_keep_alive_timeout(5);

  svr.set_pre_routing_handler([&](const httplib::Request&, httplib::Response& res) {
    t_request_start = Clock::now();
    t_request_routed = true;
    received++;
    if (draining) res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    const double s = t_request_routed ? std::chrono::duration<double>(Clock::now() - t_request_start).count() : 0.0;
    if (t_request_routed) answered++;
    t_request_routed = false;
    metrics.record(Metrics::endpointOf(req.path), res.status, s);
  });
  // Every error answer is JSON: statuses httplib sets itself (413, 404, 400 for a malformed
  // request) get a body here; handlers' own error bodies are kept.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg = res.status == 400 ? "malformed request" : "HTTP status " + std::to_string(res.status);
    if (res.status == 413) msg = "request body too large (see --max-body)";
    if (res.status == 404) msg = "no such endpoint: " + req.method + " " + req.path;
    sendError(res, res.status, msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    sendError(res, 500, msg);
  });

  // The two inference endpoints share everything but the model call and the JSON.
  auto inference = [&](bool landmarks) {
    const std::string endpoint = landmarks ? "/v1/landmarks" : "/v1/detect";
    return [&, landmarks, endpoint](const httplib::Request& req, httplib::Response& res) {
      try {
        const RequestOptions opt = parseOptions(req, landmarks);
        std::string name;
        const std::string& bytes = imageBytes(req, name);
        Image img;
        try {
          img = decodeUpload(bytes, name);
        } catch (const Error& e) {
          throw HttpError{400, e.what()};
        }
        std::string body;
        size_t n = 0;
        pool.run(timeout, [&](Slot& slot) {
          try {
            if (landmarks) {
              const auto faces = slot.landmarker(opt).detect(img.view());
              n = faces.size();
              body = opt.format == "modelscope" ? toModelScopeLandmarksJson(faces) : toLandmarksJson(faces);
            } else {
              const auto faces = slot.detector(opt).detect(img.view());
              n = faces.size();
              body = toModelScopeJson(faces);
            }
          } catch (const Error& e) {
            throw HttpError{e.code() == Error::Code::kInvalidArgument || e.code() == Error::Code::kBadImage ? 400 : 500, e.what()};
          }
        });
        metrics.faces(endpoint, n);
        sendJson(res, 200, body);
      } catch (const HttpError& e) {
        sendError(res, e.status, e.message);
      }
    };
  };
  svr.Post("/v1/detect", inference(false));
  svr.Post("/v1/landmarks", inference(true));
  for (const char* p : {"/v1/detect", "/v1/landmarks"})
    svr.Get(p, [p](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "POST");
      sendError(res, 405, std::string(p) + " takes POST with an image");
    });
  svr.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
    if (draining) return sendJson(res, 503, R"({"status":"draining"})");
    sendJson(res, 200, Json{{"status", "ok"}, {"version", FACEKIT_VERSION}, {"threads", o.threads}, {"queue", o.queue}}.dump());
  });
  svr.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.text(pool.running(), pool.pending(), pool.capacity(), draining), "text/plain; version=0.0.4");
  });

  // The demo page: compiled in, or read from --web-dir (for editing it without a rebuild).
  if (!o.web_dir.empty()) {
    if (!svr.set_mount_point("/", o.web_dir)) throw Error(Error::Code::kIoError, o.web_dir + ": no such folder (--web-dir)");
  } else {
    for (const WebAsset& a : webAssets()) {
      auto serveAsset = [&a](const httplib::Request&, httplib::Response& res) {
        res.set_content(a.content, a.content_type);
        res.set_header("Cache-Control", "no-cache");
      };
      svr.Get(a.path, serveAsset);
      if (a.path == std::string("/index.html")) svr.Get("/", serveAsset);
    }
  }

  const int port = o.port == 0 ? svr.bind_to_any_port(o.host) : (svr.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) throw Error(Error::Code::kIoError, "cannot listen on " + o.host + ":" + std::to_string(o.port) + " (address in use?)");

  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    draining = true;
    svr.stop();  // closes the listening socket; listen_after_bind() returns once in-flight requests are answered
  });
  std::cerr << "facekit serve: listening on http://" << o.host << ":" << port << " (" << o.threads << " inference threads, queue "
            << o.queue << ", max body " << o.max_body_mb << " MB, timeout " << o.timeout_s << " s)" << std::endl;
  const bool ok = svr.listen_after_bind();
  draining = true;
  pthread_kill(signals.native_handle(), SIGTERM);  // wakes the signal thread if the server stopped on its own
  signals.join();
  std::cerr << "facekit serve: stopped; " << received << " requests received, " << answered << " answered" << std::endl;
  return ok ? 0 : 1;
}

}  // namespace

void registerServe(CLI::App& app) {
  auto* serve = app.add_subcommand("serve", "HTTP service: POST /v1/detect, POST /v1/landmarks, GET /healthz, GET /metrics; demo page at /");
  auto o = std::make_shared<ServeOptions>();
  serve->add_option("--host", o->host, "address to listen on")->capture_default_str();
  serve->add_option("--port", o->port, "port (0: any free port, printed at start)")->capture_default_str();
  serve->add_option("--threads", o->threads, "inference threads (each with its own models)")->capture_default_str();
  serve->add_option("--queue", o->queue, "requests that may wait for a thread; more get 503")->capture_default_str();
  serve->add_option("--connections", o->connections, "connection threads (keep-alive connections served at once)")->capture_default_str();
  serve->add_option("--max-body", o->max_body_mb, "largest request body, MB (larger: 413)")->capture_default_str();
  serve->add_option("--timeout", o->timeout_s, "seconds to read a request, to write its answer, and to wait for a thread")->capture_default_str();
  serve->add_option("--web-dir", o->web_dir, "serve the demo page from this folder instead of the compiled-in copy");
  serve->add_option("--model", o->base.detector.model_path, "MTCNN model file (default: " + defaultModelPath() + ")");
  serve->add_option("--landmark-model", o->base.model_path, "facekit-106 model file (default: " + defaultModelPath("landmark106.safetensors") + ")");
  serve->add_option("--mesh-model", o->base.mesh_model_path, "face mesh model file (backend=mesh)");
  serve->callback([o] {
    const int rc = runServer(*o);
    if (rc != 0) throw ExitCode{rc};
  });
}

}  // namespace facekit::cli
