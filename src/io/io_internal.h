// Declarations shared by the files of src/io (decoders, EXIF, orientation).
// No other module includes this header.
#ifndef FT_IO_INTERNAL_H
#define FT_IO_INTERNAL_H

#include "io/image.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Per-format decoders: `buf` has already been sniffed as that format and
// checked against lim->max_bytes. Each checks the pixel limit from the
// header before allocating pixel memory, applies EXIF orientation where the
// format carries it, and writes `*out` only on success.
ft_status ft_io__decode_jpeg(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             ft_image *out, ft_err *err);
ft_status ft_io__decode_png(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                            ft_image *out, ft_err *err);
ft_status ft_io__decode_webp(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             ft_image *out, ft_err *err);
ft_status ft_io__decode_heic(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             ft_image *out, ft_err *err);
ft_status ft_io__decode_ppm(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                            ft_image *out, ft_err *err);

// FT_OK if a w x h image fits the limit, else FT_E_LIMIT with a message
// naming the format ("PNG image is 100000x100000 = 10000 Mpx, ...").
// Also rejects non-positive sizes (FT_E_FORMAT).
ft_status ft_io__check_dims(const char *fmt_name, uint64_t w, uint64_t h,
                            const ft_image_limits *lim, ft_err *err);

// Allocates im->rgb for w x h (caller has checked the limit). FT_E_NOMEM
// or FT_E_LIMIT (size overflow) with a message.
ft_status ft_io__alloc(ft_image *im, int32_t w, int32_t h, ft_err *err);

// The Orientation (tag 0x0112) of IFD0 in an EXIF TIFF structure (the bytes
// after "Exif\0\0"), 1..8; 0 if absent, unreadable or out of range. Every
// offset is checked against `len`; both byte orders.
int ft_io__exif_orientation(const uint8_t *tiff, size_t len);

// Same, for a block that may start with the "Exif\0\0" header (JPEG APP1,
// WebP EXIF chunk as some writers store it) or directly with "II"/"MM".
int ft_io__exif_orientation_any(const uint8_t *p, size_t len);

// Applies EXIF orientation 2..8 to `im` (1 and 0 leave it as is). May
// replace im->rgb and swap w/h. FT_E_NOMEM on failure (im untouched).
ft_status ft_io__orient(ft_image *im, int orientation, ft_err *err);

#endif
