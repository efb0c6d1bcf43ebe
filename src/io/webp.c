// WebP decode through libwebp.
//
// A WebP file is RIFF: "RIFF", u32le size, "WEBP", then chunks (fourcc,
// u32le size, data padded to an even length): "VP8 " (lossy), "VP8L"
// (lossless), or "VP8X" (extended: flags and canvas size) followed by
// ICCP, ANIM/ANMF, ALPH, the image, and "EXIF" (a TIFF structure). libwebp
// parses the image; we look for the EXIF chunk ourselves for orientation.
#include "core/mem.h"
#include "io/io_internal.h"

#include <string.h>

#include <webp/decode.h>

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Orientation from the EXIF chunk, if any (0 if absent or unreadable).
static int webp_orientation(const uint8_t *buf, size_t len)
{
    size_t pos = 12;
    while (pos <= len && len - pos >= 8) {
        uint32_t size = rd32le(buf + pos + 4);
        size_t avail = len - pos - 8;
        if (size > avail)
            return 0;
        if (memcmp(buf + pos, "EXIF", 4) == 0)
            return ft_io__exif_orientation_any(buf + pos + 8, size);
        pos += 8 + (size_t)size + (size & 1);
    }
    return 0;
}

static ft_status webp_error(VP8StatusCode rc, ft_err *err)
{
    switch (rc) {
    case VP8_STATUS_OUT_OF_MEMORY:
        return ft_err_set(err, FT_E_NOMEM, "WebP: out of memory");
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return ft_err_set(err, FT_E_FORMAT, "truncated WebP data");
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return ft_err_set(err, FT_E_UNSUPPORTED, "WebP uses a feature libwebp does not support");
    case VP8_STATUS_BITSTREAM_ERROR:
        return ft_err_set(err, FT_E_FORMAT, "corrupt WebP bitstream");
    default:
        return ft_err_set(err, FT_E_FORMAT, "WebP decode failed (status %d)", (int)rc);
    }
}

ft_status ft_io__decode_webp(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             ft_image *out, ft_err *err)
{
    WebPDecoderConfig cfg;
    ft_image im = {0, 0, NULL};
    ft_status st;
    VP8StatusCode rc;

    if (!WebPInitDecoderConfig(&cfg))
        return ft_err_set(err, FT_E_INTERNAL, "WebP: library version mismatch");
    rc = WebPGetFeatures(buf, len, &cfg.input);
    if (rc != VP8_STATUS_OK)
        return webp_error(rc, err);
    if (cfg.input.has_animation)
        return ft_err_set(err, FT_E_UNSUPPORTED, "animated WebP is not supported");
    st = ft_io__check_dims("WebP", (uint64_t)(cfg.input.width > 0 ? cfg.input.width : 0),
                           (uint64_t)(cfg.input.height > 0 ? cfg.input.height : 0), lim, err);
    if (st != FT_OK)
        return st;
    st = ft_io__alloc(&im, cfg.input.width, cfg.input.height, err);
    if (st != FT_OK)
        return st;
    // Decode straight into our buffer; alpha is dropped by asking for RGB.
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = im.rgb;
    cfg.output.u.RGBA.stride = im.w * 3;
    cfg.output.u.RGBA.size = (size_t)im.w * (size_t)im.h * 3;
    rc = WebPDecode(buf, len, &cfg);
    WebPFreeDecBuffer(&cfg.output); // no-op for external memory, but the API asks for it
    if (rc != VP8_STATUS_OK) {
        st = webp_error(rc, err);
        goto done;
    }
    st = ft_io__orient(&im, webp_orientation(buf, len), err);
    if (st != FT_OK)
        goto done;
    *out = im;
    im.rgb = NULL;
done:
    ft_free(im.rgb);
    return st;
}
