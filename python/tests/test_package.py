"""The C++ package installed into a temporary prefix, used from outside: CMake and pkg-config
builds of examples/, the models found relative to the (moved) prefix, the .deb, and pip."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD, ROOT, SAMPLE


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kw)
    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def env_without_models():
    env = dict(os.environ)
    env.pop("FACEKIT_MODEL_DIR", None)
    return env


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """cmake --install into a prefix, which is then moved: nothing may depend on where it was."""
    first = tmp_path_factory.mktemp("install") / "first"
    run(["cmake", "--install", BUILD, "--prefix", first])
    moved = first.parent / "moved"
    first.rename(moved)
    return moved


def libdir(prefix):
    return next(p.parent for p in prefix.glob("lib*/**/libfacekit.so"))


def test_install_layout(prefix):
    lib = libdir(prefix)
    real = lib / "libfacekit.so.0.1.0"
    assert real.is_file() and (lib / "libfacekit.so").is_symlink() and (lib / "libfacekit.so.0.1").is_symlink()
    assert re.search(r"SONAME\)\s+Library soname: \[libfacekit\.so\.0\.1\]", run(["readelf", "-d", real]))
    for f in ("mtcnn.safetensors", "facemesh.safetensors", "landmark106.safetensors"):
        assert (prefix / "share" / "facekit" / f).is_file()
    for f in ("facekit.hpp", "detector.hpp", "landmarks.hpp", "image.hpp", "render.hpp", "video.hpp", "error.hpp"):
        assert (prefix / "include" / "facekit" / f).is_file()
    assert (lib / "cmake" / "facekit" / "facekitConfig.cmake").is_file() and (lib / "pkgconfig" / "facekit.pc").is_file()
    assert (prefix / "bin" / "facekit").is_file()
    # Only the facekit:: API is exported; OpenCV, XNNPACK, nlohmann::json stay inside.
    symbols = run(["nm", "-D", "--defined-only", "-C", real]).splitlines()
    exported = [s.split(" ", 2)[2] for s in symbols if len(s.split(" ", 2)) == 3]
    assert any(s.startswith("facekit::FaceDetector::create") for s in exported)
    assert all("facekit::" in s for s in exported), [s for s in exported if "facekit::" not in s][:5]
    # OpenCV's image codecs are not linked: they live in the plugin, installed in <libdir>/facekit.
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", run(["readelf", "-d", real]))
    assert not [n for n in needed if "imgcodecs" in n] and "libpng16.so.16" in needed and "libjpeg.so.62" in needed, needed
    assert (lib / "facekit" / "libfacekit_imgcodecs.so").is_file()
    # The targets file links nothing but the library itself.
    targets = (lib / "cmake" / "facekit" / "facekitTargets.cmake").read_text()
    assert "opencv" not in targets.lower() and "INTERFACE_LINK_LIBRARIES" not in targets


def check_examples(bindir, prefix):
    out = run([bindir / "detect_example", SAMPLE], env=env_without_models())
    m = re.match(r"(0\.99\d|1\.000)  \[(\d+) (\d+) (\d+) (\d+)\]  left eye \((\d+), (\d+)\)\n$", out)
    assert m, out
    assert all(abs(int(v) - w) <= 3 for v, w in zip(m.groups()[1:], (179, 61, 267, 174, 204, 101))), out  # the README's figures
    out = run([bindir / "landmarks_example", SAMPLE], env=env_without_models())
    assert re.match(r"face (0\.99\d|1\.000)  nose tip", out), out
    # The program's only link to facekit is libfacekit (no OpenCV, XNNPACK, ... through it).
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", run(["readelf", "-d", bindir / "detect_example"]))
    assert "libfacekit.so.0.1" in needed and not [n for n in needed if "opencv" in n or "XNN" in n or "dlib" in n], needed


def test_examples_with_cmake(prefix, tmp_path):
    run(["cmake", "-S", ROOT / "examples", "-B", tmp_path, f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"])
    run(["cmake", "--build", tmp_path, "-j", "2"])
    check_examples(tmp_path, prefix)


def test_examples_with_pkg_config(prefix, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir(prefix) / "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "facekit"], env=env).split()
    assert f"-L{libdir(prefix)}" in [os.path.normpath(f) if f.startswith("-L") else f for f in flags] or any(
        Path(f[2:]).resolve() == libdir(prefix).resolve() for f in flags if f.startswith("-L"))
    cv = run(["pkg-config", "--cflags", "--libs", "opencv4"]).split()
    rpath = f"-Wl,-rpath,{libdir(prefix)}"
    run(["g++", "-std=c++17", "-O1", ROOT / "examples" / "detect_example.cpp", "-o", tmp_path / "detect_example", *flags, rpath])
    run(["g++", "-std=c++17", "-O1", ROOT / "examples" / "landmarks_example.cpp", "-o", tmp_path / "landmarks_example", *flags, *cv, rpath])
    check_examples(tmp_path, prefix)


def test_models_come_from_the_prefix(prefix, tmp_path):
    """Break the prefix's copy of the model: the installed program must fail on that file."""
    shutil.copytree(prefix, tmp_path / "p", symlinks=True)
    (tmp_path / "p" / "share" / "facekit" / "mtcnn.safetensors").write_bytes(b"")
    r = subprocess.run([tmp_path / "p" / "bin" / "facekit", "detect", SAMPLE], capture_output=True, text=True, env=env_without_models())
    assert r.returncode != 0 and str(tmp_path / "p" / "share" / "facekit" / "mtcnn.safetensors") in r.stderr, r.stderr
    r = subprocess.run([prefix / "bin" / "facekit", "detect", SAMPLE], capture_output=True, text=True, env=env_without_models())
    assert r.returncode == 0 and len(json.loads(r.stdout)["scores"]) == 1


def test_plugin_formats_from_the_moved_prefix(prefix, tmp_path):
    """A BMP goes through <libdir>/facekit/libfacekit_imgcodecs.so, found from the moved prefix's program."""
    import struct
    w = h = 64  # a 24-bit BMP of a colour gradient (rows bottom-up, 4-byte aligned: 192 bytes a row)
    pixels = b"".join(bytes((x * 4, y * 4, 128)) for y in range(h) for x in range(w))
    bmp = tmp_path / "gradient.bmp"
    bmp.write_bytes(b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 0, 0, 0, 0) + pixels)
    env = dict(env_without_models(), LD_DEBUG="files")
    r = subprocess.run([prefix / "bin" / "facekit", "detect", bmp], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["scores"] == [], r.stderr[-2000:]
    loaded = re.findall(r"file=(\S+) \[", r.stderr)
    assert any(f.startswith(str(prefix)) and f.endswith("/facekit/libfacekit_imgcodecs.so") for f in loaded), [f for f in loaded if "facekit" in f]


def test_debian_package(tmp_path):
    run(["cpack", "-G", "DEB", "-B", tmp_path], cwd=BUILD)
    deb = next(tmp_path.glob("facekit_0.1.0_*.deb"))
    info = run(["dpkg-deb", "-I", deb])
    depends = re.search(r"Depends: (.*)", info).group(1)
    assert "libopencv" in depends and "libc6" in depends, depends
    files = run(["dpkg-deb", "-c", deb])
    for f in ("./usr/bin/facekit", "/libfacekit.so.0.1.0", "./usr/share/facekit/mtcnn.safetensors", "./usr/include/facekit/facekit.hpp",
              "/cmake/facekit/facekitConfig.cmake", "/pkgconfig/facekit.pc"):
        assert f in files, f
    root = tmp_path / "root"
    run(["dpkg-deb", "-x", deb, root])  # the package's files, unpacked anywhere, still find their models
    out = run([root / "usr" / "bin" / "facekit", "detect", SAMPLE], env=env_without_models())
    assert len(json.loads(out)["scores"]) == 1
    print(f"\n[package] {deb.name}: {deb.stat().st_size / 2**20:.1f} MiB; Depends: {depends[:120]}...")


def test_pip_install(tmp_path):
    """pip install --no-build-isolation . (Debian's pip and setuptools; the module from the build dir)."""
    site = tmp_path / "site"
    env = dict(os.environ, FACEKIT_BUILD_DIR=str(BUILD), FACEKIT_BUILD_JOBS="1", PIP_NO_INDEX="1")
    run(["/usr/bin/python3", "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--target", site, "."], cwd=ROOT, env=env)
    assert (site / "facekit" / "models" / "landmark106.safetensors").is_file() and (site / "facekit" / "__init__.pyi").is_file()
    assert (site / "facekit" / "libfacekit_imgcodecs.so").is_file()
    code = ("import facekit, json; f = facekit.FaceDetector().detect(%r); "
            "print(facekit.__file__); print(json.dumps(facekit.to_modelscope(f)))" % str(SAMPLE))
    out = run(["/usr/bin/python3", "-c", code], cwd=tmp_path, env=dict(env_without_models(), PYTHONPATH=str(site)))
    path, result = out.splitlines()
    assert path.startswith(str(site))
    assert len(json.loads(result)["scores"]) == 1
