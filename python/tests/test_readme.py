"""The README's copy-paste examples (Python, service, C++ package) run as written, with only the
paths of the build folder, the port and the temporary folders substituted."""
import re
import socket
import subprocess

import pytest

from conftest import BUILD, ROOT

README = (ROOT / "README.md").read_text()


def blocks(kind):
    return re.findall(r"<!-- readme-test: " + kind + r" -->\n```\w+\n(.*?)```", README, re.S)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_sh(script, tmp_path):
    script = (script.replace("build/facekit", f"{BUILD}/facekit").replace("--install build ", f"--install {BUILD} ")
              .replace("/tmp/facekit-prefix", str(tmp_path / "prefix")).replace("/tmp/facekit-examples", str(tmp_path / "examples"))
              .replace("/tmp/detect_example", str(tmp_path / "detect_example")).replace("8080", str(free_port())))
    r = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{script}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    return r.stdout


def test_python_examples(tmp_path):
    found = blocks("python")
    assert found
    for code in found:
        r = subprocess.run(["/usr/bin/python3", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})
        assert r.returncode == 0, r.stderr
        assert re.search(r"^(0\.99\d|1\.000) \[17\d, 6\d, 26\d, 17\d\] \(5, 2\)$", r.stdout, re.M), r.stdout
        assert "dict_keys(['scores', 'boxes', 'keypoints'])" in r.stdout and "['boxes', 'keypoints', 'poses']" in r.stdout
        assert "invalid_argument detect: image is 5x5 pixels" in r.stdout


def test_service_example(tmp_path):
    found = [b for b in blocks("sh") if "serve" in b]
    assert len(found) == 1
    out = run_sh(found[0], tmp_path)
    assert '{"scores":[0.9997]' in out.replace(" ", "") and '{"boxes":[[' in out.replace(" ", "")
    assert re.search(r'facekit_requests_total\{endpoint="/v1/detect",code="200"\} 1', out), out


def test_package_example(tmp_path):
    found = [b for b in blocks("sh") if "cmake --install" in b]
    assert len(found) == 1
    out = run_sh(found[0], tmp_path).splitlines()
    lines = [l for l in out if "left eye" in l]
    assert len(lines) == 2 and lines[0] == lines[1] and re.match(r"(0\.99\d|1\.000)  \[17\d 6\d 26\d 17\d\]  left eye", lines[0]), out
    cmake = re.search(r"```cmake\n(.*?)```", README, re.S).group(1)
    for line in cmake.strip().splitlines():
        assert line in (ROOT / "examples" / "CMakeLists.txt").read_text(), line
