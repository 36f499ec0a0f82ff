// facekit: face detection and analysis. Include this for the whole public API.
#pragma once

#include "facekit/detector.hpp"
#include "facekit/error.hpp"
#include "facekit/image.hpp"
#include "facekit/render.hpp"

#define FACEKIT_VERSION "0.1.0"
