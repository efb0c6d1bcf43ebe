// libFuzzer target for ft_image_decode (JPEG, PNG, WebP, HEIC, PPM, EXIF),
// and for what runs on a decoded image: encoders, crop, drawing.
// The input is decoded whole; its last byte also picks the options, so one
// target covers every mode (as libspng's read fuzzer does):
//   bits 0-1  pixel limit: 4 Mpx, 1 Mpx, 64 Kpx, 64 px (all below the
//             50 Mpx default, to keep each run fast and small)
//   bit 2     re-encode as JPEG (quality from bits 5-7) and decode that
//   bit 3     re-encode as PNG and PPM and decode those (bit-exact)
//   bit 4     crop, draw rectangles, points and text
#include "core/buf.h"
#include "io/image.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const ft_image *im, int mode, uint8_t opt)
{
    ft_buf b;
    ft_err e;
    ft_image back;
    ft_status st;
    ft_buf_init(&b, 0);
    if (mode == 0)
        st = ft_image_encode_jpeg(im, 1 + (opt >> 5) * 14, &b, &e);
    else if (mode == 1)
        st = ft_image_encode_png(im, &b, &e);
    else
        st = ft_image_encode_ppm(im, &b, &e);
    if (st == FT_OK && ft_image_decode(b.data, b.len, NULL, &back, &e) == FT_OK) {
        if (back.w != im->w || back.h != im->h)
            abort();
        if (mode != 0 && memcmp(back.rgb, im->rgb, (size_t)im->w * (size_t)im->h * 3) != 0)
            abort(); // lossless encoders must round-trip exactly
        ft_image_deinit(&back);
    } else if (st == FT_OK) {
        abort(); // we must decode what we encode
    }
    ft_buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t px_limits[4] = {4000000, 1000000, 65536, 64};
    uint8_t opt = size ? data[size - 1] : 0;
    ft_image_limits lim = ft_image_limits_default();
    lim.max_pixels = px_limits[opt & 3];
    ft_image im;
    ft_err e;

    if (ft_image_decode(data, size, &lim, &im, &e) != FT_OK) {
        if (e.msg[0] == '\0' || e.code == FT_OK)
            abort(); // every failure must say what went wrong
        return 0;
    }
    if (im.w <= 0 || im.h <= 0 || (uint64_t)im.w * (uint64_t)im.h > lim.max_pixels)
        abort();
    if (opt & 4)
        roundtrip(&im, 0, opt);
    if (opt & 8) {
        roundtrip(&im, 1, opt);
        roundtrip(&im, 2, opt);
    }
    if (opt & 16) {
        ft_image c;
        int32_t x = (int8_t)opt, y = im.h / 3;
        if (ft_image_crop(&im, x, y, im.w / 2 + 1, im.h / 2 + 1, &c) == FT_OK)
            ft_image_deinit(&c);
        ft_draw_rect(&im, x, y, im.w / 2, im.h / 2, 0xFF0000, opt >> 5);
        ft_draw_fill(&im, -x, -y, 7, 7, 0x00FF00);
        ft_draw_point(&im, im.w / 2, im.h / 2, opt >> 4, 0x0000FF);
        ft_draw_text(&im, x, y, "Face 0.97 ~{|}", 0xFFFFFF, 1 + (opt >> 6));
    }
    ft_image_deinit(&im);
    return 0;
}
