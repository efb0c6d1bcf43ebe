// Images: decoding JPEG, PNG, WebP and HEIC from memory or a file into
// 8-bit RGB with EXIF orientation applied; encoding JPEG/PNG; PPM; and the
// drawing primitives used for annotated output.
#ifndef FT_IO_IMAGE_H
#define FT_IO_IMAGE_H

#include "core/buf.h"
#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Interleaved 8-bit RGB, rows packed (stride = w*3). Owned by the struct.
typedef struct ft_image {
    int32_t w, h;
    uint8_t *rgb;
} ft_image;

typedef enum ft_image_format {
    FT_IMG_UNKNOWN = 0,
    FT_IMG_JPEG,
    FT_IMG_PNG,
    FT_IMG_WEBP,
    FT_IMG_HEIC,
    FT_IMG_PPM,
} ft_image_format;

typedef struct ft_image_limits {
    uint64_t max_pixels; // default 50,000,000
    size_t max_bytes;    // encoded input; default 256 MiB
} ft_image_limits;

ft_image_limits ft_image_limits_default(void);

// What the content is (magic bytes), whatever the file is called.
ft_image_format ft_image_sniff(const uint8_t *buf, size_t len);
const char *ft_image_format_name(ft_image_format f);

// All functions here are thread-safe: no shared state (each call has its
// own codec context).
//
// Decodes any supported format to RGB: grey is expanded, alpha dropped
// (not composited, as face-api does), CMYK/YCCK converted, 16-bit reduced
// to 8, EXIF orientation applied (JPEG, and HEIC/WebP/PNG where present).
// The pixel limit is checked from the header before any pixel memory is
// allocated. Errors: FT_E_FORMAT (corrupt, truncated, empty),
// FT_E_UNSUPPORTED (not an image format we read), FT_E_LIMIT (too many
// pixels or bytes), FT_E_NOMEM. `*out` is written only on success.
ft_status ft_image_decode(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                          ft_image *out, ft_err *err);
// Reads `path` ("-" = stdin) and decodes it; messages name the path.
ft_status ft_image_load(const char *path, const ft_image_limits *lim, ft_image *out, ft_err *err);

ft_status ft_image_new(int32_t w, int32_t h, ft_image *out);
void ft_image_deinit(ft_image *im);
ft_status ft_image_copy(const ft_image *src, ft_image *out);
// An integer crop, clipped to the image (FT_E_INVALID if empty).
ft_status ft_image_crop(const ft_image *src, int32_t x, int32_t y, int32_t w, int32_t h,
                        ft_image *out);

// Encoders (quality 1..100 for JPEG). `out` must be initialised.
ft_status ft_image_encode_jpeg(const ft_image *im, int quality, ft_buf *out, ft_err *err);
ft_status ft_image_encode_png(const ft_image *im, ft_buf *out, ft_err *err);
ft_status ft_image_encode_ppm(const ft_image *im, ft_buf *out, ft_err *err);
// Writes by the file name's extension (.jpg/.jpeg, .png, .ppm).
ft_status ft_image_save(const ft_image *im, const char *path, ft_err *err);

// Drawing (clipped to the image; coordinates may be outside). Colours are
// 0xRRGGBB. A rectangle's outline of `thickness` pixels (< 1 counts as 1)
// lies inside x..x+w-1, y..y+h-1; a point is a filled disc (radius 0: one
// pixel). Text uses a 5x8 font (capitals on rows 0..6, descenders on row
// 7), 6 dots of advance per character, '\n' starts a new line 10 dots
// down, bytes outside printable ASCII draw as '?'. Width and height are
// those of the drawn dots (no trailing spacing).
void ft_draw_rect(ft_image *im, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t rgb,
                  int32_t thickness);
void ft_draw_fill(ft_image *im, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t rgb);
void ft_draw_point(ft_image *im, int32_t x, int32_t y, int32_t radius, uint32_t rgb);
// Text in a built-in bitmap font, `scale` pixels per font dot. Returns
// the width drawn.
int32_t ft_draw_text(ft_image *im, int32_t x, int32_t y, const char *text, uint32_t rgb,
                     int32_t scale);
int32_t ft_draw_text_width(const char *text, int32_t scale);
int32_t ft_draw_text_height(int32_t scale);

#endif
