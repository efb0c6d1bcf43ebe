// PNG decode and encode through libspng.
//
// A PNG is the 8-byte signature, then chunks: u32 length, 4-byte type,
// data, CRC-32. IHDR comes first (u32 width, u32 height, bit depth, colour
// type, compression, filter, interlace); IDAT chunks hold the zlib stream;
// eXIf (a TIFF structure, as in JPEG's APP1) may carry an orientation.
// spng validates all of it; we read the size from IHDR before decoding.
#include "core/mem.h"
#include "io/io_internal.h"

#include <stdlib.h>
#include <string.h>

#include <spng.h>

// Ancillary chunks (text, ICC profiles) are bounded so a small file cannot
// make spng cache a lot of memory; pixel data is bounded by the pixel limit.
#define PNG_MAX_CHUNK ((size_t)16 << 20)
#define PNG_MAX_CACHE ((size_t)64 << 20)

static ft_status png_error(int rc, ft_err *err)
{
    switch (rc) {
    case SPNG_EMEM:
        return ft_err_set(err, FT_E_NOMEM, "PNG: out of memory");
    case SPNG_EUSER_WIDTH:
    case SPNG_EUSER_HEIGHT:
    case SPNG_ECHUNK_LIMITS:
        return ft_err_set(err, FT_E_LIMIT, "PNG: %s", spng_strerror(rc));
    case SPNG_EOF:
    case SPNG_IO_EOF:
    case SPNG_EIDAT_TOO_SHORT:
        return ft_err_set(err, FT_E_FORMAT, "truncated PNG data (spng: %s)", spng_strerror(rc));
    case SPNG_ECHUNK_CRC:
        return ft_err_set(err, FT_E_FORMAT, "corrupt PNG: chunk CRC mismatch (spng: %s)",
                          spng_strerror(rc));
    case SPNG_EWIDTH:
    case SPNG_EHEIGHT:
        return ft_err_set(err, FT_E_FORMAT, "PNG header has an invalid size (spng: %s)",
                          spng_strerror(rc));
    default:
        return ft_err_set(err, FT_E_FORMAT, "corrupt PNG (spng: %s)", spng_strerror(rc));
    }
}

ft_status ft_io__decode_png(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                            ft_image *out, ft_err *err)
{
    ft_status st = FT_OK;
    ft_image im = {0, 0, NULL};
    struct spng_ihdr ihdr;
    struct spng_exif exif;
    size_t size = 0, want;
    int rc, orientation = 0;

    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx)
        return ft_err_set(err, FT_E_NOMEM, "PNG: out of memory");
    if ((rc = spng_set_chunk_limits(ctx, PNG_MAX_CHUNK, PNG_MAX_CACHE)) != 0 ||
        (rc = spng_set_png_buffer(ctx, buf, len)) != 0 || (rc = spng_get_ihdr(ctx, &ihdr)) != 0) {
        st = png_error(rc, err);
        goto done;
    }
    st = ft_io__check_dims("PNG", ihdr.width, ihdr.height, lim, err);
    if (st != FT_OK)
        goto done;
    // RGB8 output covers every colour type and depth: grey is expanded,
    // palettes looked up, 16-bit samples reduced to 8 and alpha dropped
    // (no tRNS/alpha compositing, as face-api does).
    if ((rc = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &size)) != 0) {
        st = png_error(rc, err);
        goto done;
    }
    if (!ft_size_mul((size_t)ihdr.width * 3, ihdr.height, &want) || size != want) {
        st = ft_err_set(err, FT_E_INTERNAL, "PNG: unexpected decoded size %zu", size);
        goto done;
    }
    st = ft_io__alloc(&im, (int32_t)ihdr.width, (int32_t)ihdr.height, err);
    if (st != FT_OK)
        goto done;
    if ((rc = spng_decode_image(ctx, im.rgb, size, SPNG_FMT_RGB8, 0)) != 0) {
        st = png_error(rc, err);
        goto done;
    }
    // spng stops after the image data; reading on to IEND checks the CRC
    // of the last IDAT and of everything after it, so a damaged or cut
    // tail is an error here too. It also finds an eXIf placed after IDAT.
    if ((rc = spng_decode_chunks(ctx)) != 0) {
        st = png_error(rc, err);
        goto done;
    }
    if (spng_get_exif(ctx, &exif) == 0)
        orientation = ft_io__exif_orientation_any((const uint8_t *)exif.data, exif.length);
    st = ft_io__orient(&im, orientation, err);
    if (st != FT_OK)
        goto done;
    *out = im;
    im.rgb = NULL;
done:
    ft_free(im.rgb);
    spng_ctx_free(ctx);
    return st;
}

ft_status ft_image_encode_png(const ft_image *im, ft_buf *out, ft_err *err)
{
    ft_status st = FT_OK;
    size_t png_len = 0, size;
    void *png = NULL;
    int rc;

    if (!im || !im->rgb || im->w <= 0 || im->h <= 0)
        return ft_err_set(err, FT_E_INVALID, "PNG encode: empty image");
    if (!ft_size_mul((size_t)im->w * 3, (size_t)im->h, &size))
        return ft_err_set(err, FT_E_LIMIT, "PNG encode: image too large");
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx)
        return ft_err_set(err, FT_E_NOMEM, "PNG: out of memory");
    struct spng_ihdr ihdr = {0};
    ihdr.width = (uint32_t)im->w;
    ihdr.height = (uint32_t)im->h;
    ihdr.bit_depth = 8;
    ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    if ((rc = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)) != 0 ||
        (rc = spng_set_ihdr(ctx, &ihdr)) != 0 ||
        (rc = spng_encode_image(ctx, im->rgb, size, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE)) != 0) {
        st = ft_err_set(err, rc == SPNG_EMEM ? FT_E_NOMEM : FT_E_INTERNAL, "PNG encode: %s",
                        spng_strerror(rc));
        goto done;
    }
    png = spng_get_png_buffer(ctx, &png_len, &rc);
    if (!png) {
        st = ft_err_set(err, rc == SPNG_EMEM ? FT_E_NOMEM : FT_E_INTERNAL, "PNG encode: %s",
                        spng_strerror(rc));
        goto done;
    }
    st = ft_buf_append(out, png, png_len);
    if (st != FT_OK)
        ft_err_set(err, st, "PNG encode: output buffer: %s", ft_status_str(st));
done:
    free(png); // spng's buffer comes from its allocator (malloc)
    spng_ctx_free(ctx);
    return st;
}
