// Image basics: format sniffing, the decode dispatcher and file loader,
// allocation/copy/crop, and writing by extension. The per-format codecs
// live beside this file (jpeg.c, png.c, webp.c, heic.c, ppm.c).
#include "io/image.h"

#include "core/mem.h"
#include "io/io_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

ft_image_limits ft_image_limits_default(void)
{
    ft_image_limits l;
    l.max_pixels = 50000000u;
    l.max_bytes = (size_t)256 << 20;
    return l;
}

// ---- Sniffing ----

static bool is_heif_brand(const uint8_t *b)
{
    static const char *const brands[] = {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1",
                                         "msf1"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(b, brands[i], 4) == 0)
            return true;
    return false;
}

static bool is_avif_brand(const uint8_t *b)
{
    return memcmp(b, "avif", 4) == 0 || memcmp(b, "avis", 4) == 0;
}

// An ISO-BMFF file starts with an "ftyp" box: size(4) "ftyp" major(4)
// minor_version(4) compatible brands(4 each). It is HEIF if a brand says
// so, unless it is AVIF (an AV1 payload we do not decode).
static ft_image_format sniff_ftyp(const uint8_t *buf, size_t len)
{
    if (len < 12 || memcmp(buf + 4, "ftyp", 4) != 0)
        return FT_IMG_UNKNOWN;
    uint32_t box = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    size_t end = box < len ? box : len;
    bool heif = is_heif_brand(buf + 8), avif = is_avif_brand(buf + 8);
    for (size_t off = 16; off + 4 <= end; off += 4) {
        heif = heif || is_heif_brand(buf + off);
        avif = avif || is_avif_brand(buf + off);
    }
    return heif && !avif ? FT_IMG_HEIC : FT_IMG_UNKNOWN;
}

ft_image_format ft_image_sniff(const uint8_t *buf, size_t len)
{
    if (!buf)
        return FT_IMG_UNKNOWN;
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return FT_IMG_JPEG;
    if (len >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0)
        return FT_IMG_PNG;
    if (len >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0)
        return FT_IMG_WEBP;
    if (len >= 3 && buf[0] == 'P' && (buf[1] == '5' || buf[1] == '6') &&
        (buf[2] == ' ' || buf[2] == '\t' || buf[2] == '\n' || buf[2] == '\r' || buf[2] == '#'))
        return FT_IMG_PPM;
    return sniff_ftyp(buf, len);
}

const char *ft_image_format_name(ft_image_format f)
{
    switch (f) {
    case FT_IMG_JPEG: return "JPEG";
    case FT_IMG_PNG: return "PNG";
    case FT_IMG_WEBP: return "WebP";
    case FT_IMG_HEIC: return "HEIC";
    case FT_IMG_PPM: return "PPM";
    case FT_IMG_UNKNOWN: break;
    }
    return "unknown";
}

// Names formats we recognise but do not read, for a clearer message.
static const char *other_format(const uint8_t *buf, size_t len)
{
    if (len >= 6 && (memcmp(buf, "GIF87a", 6) == 0 || memcmp(buf, "GIF89a", 6) == 0))
        return "GIF";
    if (len >= 2 && buf[0] == 'B' && buf[1] == 'M')
        return "BMP";
    if (len >= 4 && (memcmp(buf, "II*\0", 4) == 0 || memcmp(buf, "MM\0*", 4) == 0))
        return "TIFF";
    if (len >= 12 && memcmp(buf + 4, "ftyp", 4) == 0) {
        for (size_t off = 8; off + 4 <= len && off < 64; off += 4)
            if (is_avif_brand(buf + off))
                return "AVIF";
        return "ISO-BMFF (not HEIC)";
    }
    if (len >= 2 && buf[0] == 'P' && buf[1] >= '1' && buf[1] <= '7')
        return "ASCII or PAM netpbm";
    if (len >= 2 && buf[0] == 0xFF && buf[1] == 0xD8)
        return "JPEG without a marker after SOI";
    return NULL;
}

// ---- Shared helpers ----

ft_status ft_io__check_dims(const char *fmt_name, uint64_t w, uint64_t h,
                            const ft_image_limits *lim, ft_err *err)
{
    if (w == 0 || h == 0)
        return ft_err_set(err, FT_E_FORMAT, "%s image has a zero size (%llux%llu)", fmt_name,
                          (unsigned long long)w, (unsigned long long)h);
    uint64_t max = lim ? lim->max_pixels : ft_image_limits_default().max_pixels;
    // Both are at most 2^32 in every format we read, so the product fits.
    uint64_t px = w * h;
    if (w > INT32_MAX / 3 || h > INT32_MAX || px > max)
        return ft_err_set(err, FT_E_LIMIT, "%s image is %llux%llu = %.6g Mpx, over the limit of %.6g Mpx",
                          fmt_name, (unsigned long long)w, (unsigned long long)h, (double)px / 1e6,
                          (double)max / 1e6);
    return FT_OK;
}

ft_status ft_io__alloc(ft_image *im, int32_t w, int32_t h, ft_err *err)
{
    size_t n;
    if (w <= 0 || h <= 0 || !ft_size_mul((size_t)w, (size_t)h, &n) || !ft_size_mul(n, 3, &n))
        return ft_err_set(err, FT_E_LIMIT, "image size %dx%d overflows", (int)w, (int)h);
    im->rgb = ft_malloc(n);
    if (!im->rgb)
        return ft_err_set(err, FT_E_NOMEM, "out of memory for a %dx%d image", (int)w, (int)h);
    im->w = w;
    im->h = h;
    return FT_OK;
}

// ---- Decoding ----

ft_status ft_image_decode(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                          ft_image *out, ft_err *err)
{
    ft_image_limits def = ft_image_limits_default();
    if (!lim)
        lim = &def;
    if (!buf || len == 0)
        return ft_err_set(err, FT_E_FORMAT, "empty input (0 bytes)");
    if (len > lim->max_bytes)
        return ft_err_set(err, FT_E_LIMIT, "encoded image is %zu bytes, over the limit of %zu bytes",
                          len, lim->max_bytes);
    ft_image_format f = ft_image_sniff(buf, len);
    switch (f) {
    case FT_IMG_JPEG: return ft_io__decode_jpeg(buf, len, lim, out, err);
    case FT_IMG_PNG: return ft_io__decode_png(buf, len, lim, out, err);
    case FT_IMG_WEBP: return ft_io__decode_webp(buf, len, lim, out, err);
    case FT_IMG_HEIC: return ft_io__decode_heic(buf, len, lim, out, err);
    case FT_IMG_PPM: return ft_io__decode_ppm(buf, len, lim, out, err);
    case FT_IMG_UNKNOWN: break;
    }
    const char *other = other_format(buf, len);
    if (other)
        return ft_err_set(err, FT_E_UNSUPPORTED, "%s is not a supported image format", other);
    char hex[3 * 8 + 1] = "";
    for (size_t i = 0; i < len && i < 8; i++)
        snprintf(hex + 3 * i, sizeof hex - 3 * i, "%02x ", buf[i]);
    if (hex[0])
        hex[strlen(hex) - 1] = '\0';
    return ft_err_set(err, FT_E_UNSUPPORTED,
                      "not a JPEG, PNG, WebP, HEIC or PPM image (starts with %s)", hex);
}

ft_status ft_image_load(const char *path, const ft_image_limits *lim, ft_image *out, ft_err *err)
{
    ft_image_limits def = ft_image_limits_default();
    ft_buf b;
    if (!lim)
        lim = &def;
    // ft_file_read stops at max_bytes (FT_E_LIMIT, message names the path),
    // so a huge file is never read whole.
    ft_status st = ft_file_read(path, lim->max_bytes, &b, err);
    if (st != FT_OK)
        return st;
    st = ft_image_decode(b.data, b.len, lim, out, err);
    if (st != FT_OK)
        ft_err_prefix(err, "%s: ", strcmp(path, "-") == 0 ? "stdin" : path);
    ft_buf_deinit(&b);
    return st;
}

// ---- Allocation, copy, crop ----

ft_status ft_image_new(int32_t w, int32_t h, ft_image *out)
{
    ft_image im = {0, 0, NULL};
    if (w <= 0 || h <= 0)
        return FT_E_INVALID;
    ft_status st = ft_io__alloc(&im, w, h, NULL);
    if (st != FT_OK)
        return st;
    memset(im.rgb, 0, (size_t)w * (size_t)h * 3);
    *out = im;
    return FT_OK;
}

void ft_image_deinit(ft_image *im)
{
    if (!im)
        return;
    ft_free(im->rgb);
    im->rgb = NULL;
    im->w = im->h = 0;
}

ft_status ft_image_copy(const ft_image *src, ft_image *out)
{
    ft_image im = {0, 0, NULL};
    ft_status st = ft_io__alloc(&im, src->w, src->h, NULL);
    if (st != FT_OK)
        return st;
    memcpy(im.rgb, src->rgb, (size_t)src->w * (size_t)src->h * 3);
    *out = im;
    return FT_OK;
}

ft_status ft_image_crop(const ft_image *src, int32_t x, int32_t y, int32_t w, int32_t h,
                        ft_image *out)
{
    // Clip in 64-bit so that x + w cannot overflow.
    int64_t x0 = x, y0 = y, x1 = (int64_t)x + w, y1 = (int64_t)y + h;
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > src->w)
        x1 = src->w;
    if (y1 > src->h)
        y1 = src->h;
    if (w <= 0 || h <= 0 || x1 <= x0 || y1 <= y0)
        return FT_E_INVALID;
    ft_image im = {0, 0, NULL};
    ft_status st = ft_io__alloc(&im, (int32_t)(x1 - x0), (int32_t)(y1 - y0), NULL);
    if (st != FT_OK)
        return st;
    size_t row = (size_t)im.w * 3;
    for (int32_t r = 0; r < im.h; r++)
        memcpy(im.rgb + (size_t)r * row,
               src->rgb + (((size_t)(y0 + r) * (size_t)src->w) + (size_t)x0) * 3, row);
    *out = im;
    return FT_OK;
}

// ---- Saving ----

ft_status ft_image_save(const ft_image *im, const char *path, ft_err *err)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    ft_buf b;
    ft_status st;

    if (!dot || (slash && dot < slash))
        return ft_err_set(err, FT_E_INVALID, "%s: no file extension to choose a format by", path);
    ft_buf_init(&b, 0);
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0)
        st = ft_image_encode_jpeg(im, 90, &b, err);
    else if (strcasecmp(dot, ".png") == 0)
        st = ft_image_encode_png(im, &b, err);
    else if (strcasecmp(dot, ".ppm") == 0)
        st = ft_image_encode_ppm(im, &b, err);
    else
        st = ft_err_set(err, FT_E_UNSUPPORTED, "%s: cannot write '%s' files (use .jpg, .png or .ppm)",
                        path, dot);
    if (st == FT_OK)
        st = ft_file_write_atomic(path, b.data, b.len, err);
    ft_buf_deinit(&b);
    return st;
}
