// facekit: face detection and analysis. Include this for the whole public API.
#pragma once

#include "facekit/detector.hpp"
#include "facekit/error.hpp"
#include "facekit/image.hpp"
#include "facekit/landmarks.hpp"
#include "facekit/render.hpp"
#include "facekit/video.hpp"

#define FACEKIT_VERSION "0.1.0"
