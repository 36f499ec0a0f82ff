"""`facekit serve` as a real process on 127.0.0.1: answers, errors, load, shutdown."""
import http.client
import json
import socket
import statistics
import subprocess
import threading
import time
import uuid

import numpy as np
import pytest

from conftest import SAMPLE, shared_photos

PNG = SAMPLE.read_bytes()


def request(server, method, path, body=None, headers=None, conn=None, timeout=60):
    c = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data
    finally:
        if conn is None:
            c.close()


def post_image(server, path, data=PNG, ctype="image/png", conn=None):
    return request(server, "POST", path, data, {"Content-Type": ctype}, conn=conn)


def multipart(field, filename, data, ctype="image/png"):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def cli_out(cli, *args):
    r = subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def server(cli):
    from conftest import Server
    s = Server()
    yield s
    s.close()


def test_answers_equal_the_cli(server, cli):
    status, headers, body = post_image(server, "/v1/detect")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == json.loads(cli_out(cli, "detect", str(SAMPLE))[1])
    assert len(json.loads(body)["scores"]) == 1

    mp, ctype = multipart("image", "astronaut.png", PNG)
    status, _, body2 = request(server, "POST", "/v1/detect", mp, {"Content-Type": ctype})
    assert status == 200 and json.loads(body2) == json.loads(body)

    photo = shared_photos()[0]
    status, _, body = post_image(server, "/v1/detect?min_face=40&threshold=0.5,0.6,0.6", photo.read_bytes(), "image/jpeg")
    assert status == 200
    assert json.loads(body) == json.loads(cli_out(cli, "detect", str(photo), "--min-face", "40", "--threshold", "0.5,0.6,0.6")[1])

    status, _, body = post_image(server, "/v1/landmarks")
    assert status == 200 and json.loads(body) == json.loads(cli_out(cli, "landmarks", str(SAMPLE))[1])
    status, _, body = post_image(server, "/v1/landmarks?format=modelscope")
    want = json.loads(cli_out(cli, "landmarks", str(SAMPLE), "--format", "modelscope")[1])
    assert status == 200 and json.loads(body) == want and list(json.loads(body)) == ["boxes", "keypoints", "poses"]


def test_health_metrics_and_page(server):
    status, _, body = request(server, "GET", "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    post_image(server, "/v1/detect")
    status, headers, body = request(server, "GET", "/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    for needle in ('facekit_requests_total{endpoint="/v1/detect",code="200"}', "# TYPE facekit_request_duration_seconds histogram",
                   'facekit_request_duration_seconds_bucket{endpoint="/v1/detect",le="+Inf"}', 'facekit_faces_total{endpoint="/v1/detect"}',
                   'facekit_request_errors_total{endpoint="/v1/detect"}', "facekit_inference_capacity 34"):
        assert needle in text, needle
    faces = [l for l in text.splitlines() if l.startswith('facekit_faces_total{endpoint="/v1/detect"}')]
    assert int(faces[0].split()[-1]) >= 1
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b'<canvas id="canvas"' in body
    for asset in ("/app.js", "/style.css"):
        assert request(server, "GET", asset)[0] == 200
    assert b"http://" not in body and b"https://" not in body  # no CDN: everything from this server


def error_of(status_body):
    status, _, body = status_body
    return status, json.loads(body)


def test_every_error_status(server, cli, start_server, tmp_path):
    # 400: not an image, a truncated image (the CLI's message, with "upload" for the file), bad options
    status, e = error_of(post_image(server, "/v1/detect", b"not an image at all", "image/jpeg"))
    assert status == 400 and e["status"] == 400 and "upload" in e["error"]
    truncated = tmp_path / "t.png"
    truncated.write_bytes(PNG[: len(PNG) // 2])
    status, e = error_of(post_image(server, "/v1/landmarks", truncated.read_bytes()))
    cli_msg = cli_out(cli, "detect", str(truncated))[2].strip().splitlines()[-1].split(": ", 2)[2]
    assert status == 400 and e["error"] == cli_msg.replace(str(truncated), "upload")
    assert error_of(post_image(server, "/v1/detect", b""))[0] == 400
    status, e = error_of(post_image(server, "/v1/detect?min_face=abc"))
    assert status == 400 and "min_face" in e["error"]
    status, e = error_of(post_image(server, "/v1/detect?threshold=0.5,0.6"))
    assert status == 400 and "threshold" in e["error"]
    status, e = error_of(post_image(server, "/v1/detect?minface=30"))
    assert status == 400 and "unknown query parameter 'minface'" in e["error"]
    mp, ctype = multipart("other", "x.txt", b"")
    assert error_of(request(server, "POST", "/v1/detect", mp, {"Content-Type": ctype}))[0] == 400
    # 415: not an image type
    status, e = error_of(post_image(server, "/v1/detect", b'{"image": "..."}', "application/json"))
    assert status == 415 and "Content-Type" in e["error"]
    # 404, 405
    assert error_of(request(server, "GET", "/v2/nothing"))[0] == 404
    status, headers, _ = request(server, "GET", "/v1/detect")
    assert status == 405 and headers["Allow"] == "POST"

    # 413: a body over --max-body
    small = start_server("--max-body", "1")
    assert len(PNG) < 2**20
    status, e = error_of(post_image(small, "/v1/detect", PNG + b"\0" * 2**20))
    assert status == 413 and "too large" in e["error"]
    assert post_image(small, "/v1/detect")[0] == 200

    # 503: one thread, no queue, and several large images at once
    busy = start_server("--threads", "1", "--queue", "0")
    big = shared_photos()
    big = max(big, key=lambda p: p.stat().st_size).read_bytes()
    results = []
    barrier = threading.Barrier(6)

    def one():
        barrier.wait()
        results.append(post_image(busy, "/v1/landmarks?all_orientations=1", big, "image/jpeg"))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r[0] for r in results)
    assert set(codes) <= {200, 503} and 503 in codes and 200 in codes, codes
    e = json.loads(next(r[2] for r in results if r[0] == 503))
    assert e["status"] == 503 and "busy" in e["error"]
    metrics = request(busy, "GET", "/metrics")[2].decode()
    assert 'facekit_requests_total{endpoint="/v1/landmarks",code="503"}' in metrics


def test_request_timeout_closes_a_stalled_connection(start_server):
    s = start_server("--timeout", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"\0" * 10)  # then nothing
        t0 = time.monotonic()
        data = sock.recv(4096)
        waited = time.monotonic() - t0
    assert waited < 8, waited  # closed (or answered) by the server after ~1 s, not left hanging
    assert data == b"" or data.startswith(b"HTTP/1.1 4")


class Client(threading.Thread):
    """Sends `count` detect requests on one keep-alive connection (reconnecting after a failure)."""

    def __init__(self, server, count, stop_on_refused=False):
        super().__init__()
        self.server, self.count, self.stop_on_refused = server, count, stop_on_refused
        self.ok, self.failed, self.other = [], [], []

    def run(self):
        conn = None
        for _ in range(self.count):
            t0 = time.monotonic()
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
                status, _, body = post_image(self.server, "/v1/detect", conn=conn)
                t1 = time.monotonic()
                if status == 200 and len(json.loads(body)["scores"]) == 1:
                    self.ok.append((t0, t1))
                else:
                    self.other.append((status, body))
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.failed.append((t0, time.monotonic(), repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
                if self.stop_on_refused and isinstance(e, ConnectionRefusedError):
                    break
                time.sleep(0.01)
        if conn is not None:
            conn.close()


def test_200_requests_from_16_threads(server):
    alone = Client(server, 20)  # for reference: one client, one request at a time
    alone.run()
    assert len(alone.ok) == 20
    one = statistics.median(1000 * (b - a) for a, b in alone.ok)
    clients = [Client(server, 200 // 16 + (1 if i < 200 % 16 else 0)) for i in range(16)]
    t0 = time.monotonic()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    wall = time.monotonic() - t0
    lat = sorted(1000 * (b - a) for c in clients for a, b in c.ok)
    failures = [f for c in clients for f in c.failed] + [o for c in clients for o in c.other]
    assert len(lat) == 200 and not failures, failures[:3]
    p50, p99 = statistics.median(lat), lat[int(0.99 * len(lat)) - 1]
    print(f"\n[serve] 200 requests (512x512 PNG, /v1/detect), 16 client threads, 2 inference threads: "
          f"0 failures, p50 {p50:.0f} ms, p99 {p99:.0f} ms, {200 / wall:.0f} requests/s (one client alone: p50 {one:.0f} ms)")


def test_sigterm_during_load_loses_no_accepted_request(start_server):
    s = start_server()
    clients = [Client(s, 60, stop_on_refused=True) for _ in range(8)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 30
    while sum(len(c.ok) for c in clients) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    t_term = time.monotonic()
    code, rest = s.terminate(timeout=60)
    for c in clients:
        c.join(timeout=120)
    assert code == 0, rest
    summary = [l for l in rest.splitlines() if "requests received" in l][-1]
    received, answered = (int(w) for w in summary.split("stopped; ")[1].replace(",", "").split()[0::3][:2])
    ok = [r for c in clients for r in c.ok]
    other = [o for c in clients for o in c.other]
    failed = [f for c in clients for f in c.failed]
    in_flight = [r for r in ok if r[0] < t_term < r[1]]
    print(f"\n[serve] SIGTERM under load: {received} requests received, {answered} answered, "
          f"{len(ok)} answers read by the clients ({len(in_flight)} in flight at SIGTERM), "
          f"{len(failed)} refused after shutdown began; exit code {code}")
    assert received == answered, summary
    assert len(ok) + len(other) == answered, (len(ok), len(other), answered)
    assert not other, other[:3]
    assert in_flight, "no request was in flight when SIGTERM came"
    assert all(f[0] >= t_term - 0.05 or f[1] >= t_term for f in failed), failed[:3]  # failures only once shutdown began
