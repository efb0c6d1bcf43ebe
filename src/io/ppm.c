// Binary netpbm: P6 (RGB) and P5 (grey), decode and P6 encode.
//
// Header: magic "P6" or "P5", then width, height and maxval as ASCII
// decimals separated by whitespace (comments run from '#' to end of line),
// then exactly one whitespace byte, then the samples row by row: one byte
// each if maxval < 256, else two bytes big-endian.
#include "core/mem.h"
#include "io/io_internal.h"

#include <stdio.h>
#include <string.h>

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Reads one header number at *pos, skipping whitespace and comments.
// Returns false on a missing, non-numeric or oversized (> 2^31-1) field.
static bool read_num(const uint8_t *buf, size_t len, size_t *pos, uint32_t *out)
{
    size_t p = *pos;
    for (;;) {
        while (p < len && is_space(buf[p]))
            p++;
        if (p < len && buf[p] == '#') {
            while (p < len && buf[p] != '\n' && buf[p] != '\r')
                p++;
            continue;
        }
        break;
    }
    if (p >= len || buf[p] < '0' || buf[p] > '9')
        return false;
    uint64_t v = 0;
    while (p < len && buf[p] >= '0' && buf[p] <= '9') {
        v = v * 10 + (uint64_t)(buf[p] - '0');
        if (v > INT32_MAX)
            return false;
        p++;
    }
    *out = (uint32_t)v;
    *pos = p;
    return true;
}

ft_status ft_io__decode_ppm(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                            ft_image *out, ft_err *err)
{
    size_t pos = 2;
    uint32_t w, h, maxval;
    bool grey = buf[1] == '5';
    const char *name = grey ? "PGM" : "PPM";
    ft_image im = {0, 0, NULL};

    if (!read_num(buf, len, &pos, &w) || !read_num(buf, len, &pos, &h) ||
        !read_num(buf, len, &pos, &maxval))
        return ft_err_set(err, FT_E_FORMAT, "%s header is truncated or malformed", name);
    if (pos >= len || !is_space(buf[pos]))
        return ft_err_set(err, FT_E_FORMAT, "%s header does not end in whitespace", name);
    pos++;
    if (maxval == 0 || maxval > 65535)
        return ft_err_set(err, FT_E_FORMAT, "%s maxval %u is outside 1..65535", name,
                          (unsigned)maxval);
    ft_status st = ft_io__check_dims(name, w, h, lim, err);
    if (st != FT_OK)
        return st;
    size_t chans = grey ? 1 : 3, bps = maxval > 255 ? 2 : 1, need;
    if (!ft_size_mul((size_t)w * chans * bps, h, &need))
        return ft_err_set(err, FT_E_LIMIT, "%s image too large", name);
    if (len - pos < need)
        return ft_err_set(err, FT_E_FORMAT, "truncated %s data: %zu of %zu sample bytes", name,
                          len - pos, need);
    st = ft_io__alloc(&im, (int32_t)w, (int32_t)h, err);
    if (st != FT_OK)
        return st;
    const uint8_t *s = buf + pos;
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < chans; c++, s += bps) {
            uint32_t v = bps == 2 ? (uint32_t)s[0] << 8 | s[1] : s[0];
            if (v > maxval)
                v = maxval;
            uint8_t b = (uint8_t)((v * 255 + maxval / 2) / maxval);
            if (grey)
                im.rgb[i * 3] = im.rgb[i * 3 + 1] = im.rgb[i * 3 + 2] = b;
            else
                im.rgb[i * 3 + c] = b;
        }
    }
    *out = im;
    return FT_OK;
}

ft_status ft_image_encode_ppm(const ft_image *im, ft_buf *out, ft_err *err)
{
    size_t n;
    if (!im || !im->rgb || im->w <= 0 || im->h <= 0)
        return ft_err_set(err, FT_E_INVALID, "PPM encode: empty image");
    if (!ft_size_mul((size_t)im->w * 3, (size_t)im->h, &n))
        return ft_err_set(err, FT_E_LIMIT, "PPM encode: image too large");
    ft_status st = ft_buf_printf(out, "P6\n%d %d\n255\n", (int)im->w, (int)im->h);
    if (st == FT_OK)
        st = ft_buf_append(out, im->rgb, n);
    if (st != FT_OK)
        return ft_err_set(err, st, "PPM encode: output buffer: %s", ft_status_str(st));
    return FT_OK;
}
