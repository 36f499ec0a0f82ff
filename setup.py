"""pip install --no-build-isolation .  -- the facekit Python module.

The compiled part (_facekit) is built by the project's CMake build (python/CMakeLists.txt) in
$FACEKIT_BUILD_DIR (default: build/, the directory `make` uses; configured here if it is not yet),
then copied into the package together with the image codecs plugin (libfacekit_imgcodecs.so, which
the module loads from beside itself for BMP, TIFF, WebP and PNM files) and the models
(models/*.safetensors from `make models`, weights/landmark106.safetensors). Nothing is downloaded: setuptools, pybind11 and numpy come
from Debian packages (python3-setuptools, pybind11-dev, python3-numpy).
"""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MODELS = [ROOT / "models" / "mtcnn.safetensors", ROOT / "models" / "facemesh.safetensors", ROOT / "weights" / "landmark106.safetensors"]


def version():
    for line in (ROOT / "CMakeLists.txt").read_text().splitlines():
        if line.startswith("project(facekit VERSION"):
            return line.split()[2]
    raise RuntimeError("no project version in CMakeLists.txt")


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = Path(os.environ.get("FACEKIT_BUILD_DIR", ROOT / "build")).resolve()
        if not (build / "CMakeCache.txt").exists():
            subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                                   f"-DPython_EXECUTABLE={sys.executable}"])
        jobs = os.environ.get("FACEKIT_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_facekit", "facekit_imgcodecs", "-j", jobs])
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = build / "python" / "facekit" / f"_facekit{suffix}"
        if not built.exists():
            found = sorted((build / "python" / "facekit").glob("_facekit*.so"))
            raise RuntimeError(f"{built} was not built (found {[p.name for p in found]}): the build directory was configured "
                               f"for another Python; set FACEKIT_BUILD_DIR to a fresh directory")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)
        shutil.copy2(build / "libfacekit_imgcodecs.so", target.parent / "libfacekit_imgcodecs.so")


class BuildPyWithModels(build_py):
    def run(self):
        super().run()
        missing = [str(m) for m in MODELS if not m.exists()]
        if missing:
            raise RuntimeError(f"models missing: {missing}; run `make models` first")
        dest = Path(self.build_lib) / "facekit" / "models"
        dest.mkdir(parents=True, exist_ok=True)
        for m in MODELS:
            shutil.copy2(m, dest / m.name)


setup(
    name="facekit",
    version=version(),
    description="Face detection (MTCNN, 5 landmarks), 106-point landmarks and head pose",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT (code); see README for the model weights",
    package_dir={"": "python"},
    packages=["facekit"],
    package_data={"facekit": ["py.typed", "__init__.pyi"]},
    ext_modules=[Extension("facekit._facekit", sources=[])],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithModels},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
    # setuptools' own scratch space inside the CMake build folder, not a second build/ layout
    options={"build": {"build_base": os.path.join(os.environ.get("FACEKIT_BUILD_DIR", "build"), "setuptools")}},
)
