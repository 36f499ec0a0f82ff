/* The C interface of libfacekit_imgcodecs.so, the plugin through which libfacekit reads BMP, TIFF,
   WebP and PNM files and writes formats other than PNG and JPEG (OpenCV's imgcodecs inside).
   libfacekit loads it with dlopen() only when it meets such a file (src/pipeline/codec_plugin.cpp),
   so that programs that read only PNG and JPEG never load OpenCV's imgcodecs and the ~120
   libraries it needs. Both sides are built from this tree; FACEKIT_IMGCODECS_ABI changes whenever
   a signature here does, and libfacekit refuses a plugin of another ABI. */
#ifndef FACEKIT_IMGCODECS_PLUGIN_H
#define FACEKIT_IMGCODECS_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FACEKIT_IMGCODECS_ABI 1

/* Returns memory for `bytes` bytes owned by the caller, or NULL to decline. */
typedef void* (*facekit_imgcodecs_alloc)(void* context, size_t bytes);

/* FACEKIT_IMGCODECS_ABI */
typedef int (*facekit_imgcodecs_abi_fn)(void);

/* cv::imdecode(data, flags). On success fills rows, cols, channels (OpenCV's order: BGR, BGRA),
   depth (OpenCV's depth code, CV_8U = 0), copies the pixels with packed rows into
   alloc(context, rows * cols * channels * bytes per sample) and returns 0; returns 2 with the
   sizes filled when alloc declines. On failure writes a one-line message (at most error_size
   bytes, NUL-terminated) and returns 1. Never throws. */
typedef int (*facekit_imgcodecs_decode_fn)(const unsigned char* data, size_t size, int flags, int* rows, int* cols, int* channels,
                                           int* depth, facekit_imgcodecs_alloc alloc, void* context, char* error, size_t error_size);

/* cv::imencode(ext, pixels): 8-bit gray (channels 1) or BGR (channels 3) rows of `step` bytes.
   On success copies the encoded file into alloc(context, *out_size) and returns 0; on failure
   writes a one-line message and returns 1. Never throws. */
typedef int (*facekit_imgcodecs_encode_fn)(const char* ext, const unsigned char* pixels, int rows, int cols, int channels, size_t step,
                                           facekit_imgcodecs_alloc alloc, void* context, size_t* out_size, char* error,
                                           size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* FACEKIT_IMGCODECS_PLUGIN_H */
