// HEIC (HEIF with HEVC images) decode through libheif.
//
// HEIF is ISO-BMFF: an "ftyp" box naming brands (heic, mif1, ...), a "meta"
// box listing items and their properties (ispe = stored size, irot/imir =
// rotation/mirror, clap = crop), and the coded data in "mdat" or "idat".
// libheif applies irot/imir/clap when decoding unless told not to. We
// leave that on and deliberately ignore any EXIF orientation inside the
// file: HEIF says the transform properties are authoritative, and cameras
// (iPhones) that write both would otherwise be rotated twice.
#include "core/mem.h"
#include "io/io_internal.h"

#include <pthread.h>
#include <string.h>

#include <libheif/heif.h>

// libheif initialises itself lazily on first use, checking its counter
// without a lock; decoders on several threads at once (the HTTP workers)
// could race there. Initialise it once, first. It stays initialised for the
// life of the process (heif_deinit is never called), as it would lazily.
static pthread_once_t heif_once = PTHREAD_ONCE_INIT;

static void heif_init_once(void)
{
    heif_init(NULL);
}

static ft_status heif_fail(struct heif_error e, const char *what, ft_err *err)
{
    ft_status code = FT_E_FORMAT;
    const char *kind = "corrupt HEIC";
    // libheif reports its security limits with the allocation error code,
    // so the subcode is tested first.
    if (e.subcode == heif_suberror_Security_limit_exceeded) {
        code = FT_E_LIMIT;
        kind = "HEIC over a libheif security limit";
    } else if (e.code == heif_error_Memory_allocation_error) {
        code = FT_E_NOMEM;
        kind = "HEIC: out of memory";
    } else if (e.subcode == heif_suberror_End_of_data) {
        kind = "truncated HEIC data";
    } else if (e.code == heif_error_Unsupported_feature || e.code == heif_error_Unsupported_filetype) {
        code = FT_E_UNSUPPORTED;
        kind = "unsupported HEIC";
    }
    return ft_err_set(err, code, "%s (%s: %s)", kind, what, e.message ? e.message : "?");
}

ft_status ft_io__decode_heic(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             ft_image *out, ft_err *err)
{
    ft_status st = FT_OK;
    ft_image im = {0, 0, NULL};
    struct heif_context *ctx = NULL;
    struct heif_image_handle *h = NULL;
    struct heif_image *img = NULL;
    struct heif_decoding_options *opts = NULL;
    struct heif_error e;

    pthread_once(&heif_once, heif_init_once);
    ctx = heif_context_alloc();
    if (!ctx)
        return ft_err_set(err, FT_E_NOMEM, "HEIC: out of memory");
    // libheif checks every item's stored size (ispe) against a per-side
    // limit while reading the file, including auxiliary images (alpha,
    // depth) that it decodes along with the primary image and that we
    // cannot size through the 1.15 API. Cap each side at our pixel limit
    // (and libheif's own default of 32768), so no item can be larger than
    // max_pixels on a side; the primary image's area is checked below.
    uint64_t max_px = lim ? lim->max_pixels : ft_image_limits_default().max_pixels;
    heif_context_set_maximum_image_size_limit(ctx, max_px >= 32767 ? 32768 : (int)max_px + 1);
    // The buffer outlives the context, so libheif need not copy it.
    e = heif_context_read_from_memory_without_copy(ctx, buf, len, NULL);
    if (e.code != heif_error_Ok) {
        st = heif_fail(e, "reading the container", err);
        goto done;
    }
    e = heif_context_get_primary_image_handle(ctx, &h);
    if (e.code != heif_error_Ok) {
        st = heif_fail(e, "primary image", err);
        goto done;
    }
    // libheif decodes the stored (ispe) size, then crops/rotates: check both.
    int w = heif_image_handle_get_width(h), hh = heif_image_handle_get_height(h);
    int iw = heif_image_handle_get_ispe_width(h), ih = heif_image_handle_get_ispe_height(h);
    st = ft_io__check_dims("HEIC", (uint64_t)(w > 0 ? w : 0), (uint64_t)(hh > 0 ? hh : 0), lim,
                           err);
    if (st == FT_OK && iw > 0 && ih > 0)
        st = ft_io__check_dims("HEIC", (uint64_t)iw, (uint64_t)ih, lim, err);
    if (st != FT_OK)
        goto done;
    opts = heif_decoding_options_alloc();
    if (!opts) {
        st = ft_err_set(err, FT_E_NOMEM, "HEIC: out of memory");
        goto done;
    }
    opts->ignore_transformations = 0; // apply irot/imir/clap (the default, made explicit)
    opts->convert_hdr_to_8bit = 1;    // 10-bit iPhone HEICs come out as 8-bit RGB
    e = heif_decode_image(h, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGB, opts);
    if (e.code != heif_error_Ok) {
        st = heif_fail(e, "decoding", err);
        goto done;
    }
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    int ow = heif_image_get_width(img, heif_channel_interleaved);
    int oh = heif_image_get_height(img, heif_channel_interleaved);
    if (!plane || ow <= 0 || oh <= 0 || stride < ow * 3 ||
        heif_image_get_bits_per_pixel_range(img, heif_channel_interleaved) != 8) {
        st = ft_err_set(err, FT_E_FORMAT, "HEIC: decoder returned no usable RGB plane");
        goto done;
    }
    st = ft_io__check_dims("HEIC", (uint64_t)ow, (uint64_t)oh, lim, err);
    if (st != FT_OK)
        goto done;
    st = ft_io__alloc(&im, ow, oh, err);
    if (st != FT_OK)
        goto done;
    for (int y = 0; y < oh; y++)
        memcpy(im.rgb + (size_t)y * (size_t)ow * 3, plane + (size_t)y * (size_t)stride,
               (size_t)ow * 3);
    *out = im;
    im.rgb = NULL;
done:
    ft_free(im.rgb);
    heif_image_release(img);
    heif_decoding_options_free(opts);
    heif_image_handle_release(h);
    heif_context_free(ctx);
    return st;
}
