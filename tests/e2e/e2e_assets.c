// Makes the browser tests' inputs from the demo photos: face crops for
// enrolment (JPEG) and a fake-camera video (YUV4MPEG2, 640x480 C420) for
// Chromium's --use-file-for-fake-video-capture, the window panning
// slowly across a photo so the boxes have to follow the faces.
//   e2e_assets OUT_DIR SAMPLE1.jpg SAMPLE2.jpg
#include "io/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Bilinear sample of src at (x, y) into rgb.
static void sample(const ft_image *s, double x, double y, uint8_t rgb[3])
{
    if (x < 0)
        x = 0;
    if (y < 0)
        y = 0;
    if (x > s->w - 1)
        x = s->w - 1;
    if (y > s->h - 1)
        y = s->h - 1;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < s->w ? x0 + 1 : x0, y1 = y0 + 1 < s->h ? y0 + 1 : y0;
    double fx = x - x0, fy = y - y0;
    for (int c = 0; c < 3; c++) {
        double a = s->rgb[((size_t)y0 * s->w + x0) * 3 + c], b = s->rgb[((size_t)y0 * s->w + x1) * 3 + c];
        double d = s->rgb[((size_t)y1 * s->w + x0) * 3 + c], e = s->rgb[((size_t)y1 * s->w + x1) * 3 + c];
        double v = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
        rgb[c] = (uint8_t)lround(v);
    }
}

static int crop_jpeg(const ft_image *im, int x, int y, int w, int h, const char *path)
{
    ft_image c;
    ft_err err;
    if (ft_image_crop(im, x, y, w, h, &c) != FT_OK)
        return 1;
    ft_status st = ft_image_save(&c, path, &err);
    ft_image_deinit(&c);
    if (st != FT_OK)
        fprintf(stderr, "e2e_assets: %s\n", ft_err_msg(&err, st));
    return st != FT_OK;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: e2e_assets OUT_DIR SAMPLE1.jpg SAMPLE2.jpg\n");
        return 1;
    }
    ft_image s1, s2;
    ft_err err;
    if (ft_image_load(argv[2], NULL, &s1, &err) != FT_OK ||
        ft_image_load(argv[3], NULL, &s2, &err) != FT_OK) {
        fprintf(stderr, "e2e_assets: %s\n", err.msg);
        return 1;
    }
    char path[4096];
    // The person at (838, 421, 187x228) in sample1: two crops, two margins.
    snprintf(path, sizeof path, "%s/enrol1.jpg", argv[1]);
    if (crop_jpeg(&s1, 838 - 56, 421 - 68, 187 + 112, 228 + 136, path))
        return 1;
    snprintf(path, sizeof path, "%s/enrol2.jpg", argv[1]);
    if (crop_jpeg(&s1, 838 - 120, 421 - 140, 187 + 240, 228 + 280, path))
        return 1;

    // A new photo of her: the whole of sample1 resampled to 60 % (other
    // pixels, other face size). The demo photos do not show one person
    // twice for certain, so "her name on a new photo" uses this.
    {
        ft_image small;
        int sw = s1.w * 6 / 10, sh = s1.h * 6 / 10;
        if (ft_image_new(sw, sh, &small) != FT_OK)
            return 1;
        for (int py = 0; py < sh; py++)
            for (int px = 0; px < sw; px++)
                sample(&s1, (px + 0.5) / 0.6 - 0.5, (py + 0.5) / 0.6 - 0.5,
                       small.rgb + ((size_t)py * sw + px) * 3);
        snprintf(path, sizeof path, "%s/new.jpg", argv[1]);
        ft_err e2;
        if (ft_image_save(&small, path, &e2) != FT_OK)
            return 1;
        ft_image_deinit(&small);
    }

    // The video: 40 frames at 10 fps of an 820x615 window of sample1
    // panning left and back around her face (at 838, 421), scaled to 640x480.
    const int W = 640, H = 480, N = 40;
    snprintf(path, sizeof path, "%s/camera.y4m", argv[1]);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    fprintf(f, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", W, H);
    uint8_t *y = malloc((size_t)W * H), *u = malloc((size_t)W * H / 4), *v = malloc((size_t)W * H / 4);
    uint8_t *rgb = malloc((size_t)W * H * 3);
    for (int i = 0; i < N; i++) {
        double wx = 620 - 6.0 * (i < N / 2 ? i : N - i), wy = 230, ww = 820, wh = 615;
        for (int py = 0; py < H; py++)
            for (int px = 0; px < W; px++)
                sample(&s1, wx + (px + 0.5) * ww / W - 0.5, wy + (py + 0.5) * wh / H - 0.5,
                       rgb + ((size_t)py * W + px) * 3);
        // BT.601 full range, as C420jpeg means.
        for (int py = 0; py < H; py++)
            for (int px = 0; px < W; px++) {
                const uint8_t *p = rgb + ((size_t)py * W + px) * 3;
                y[(size_t)py * W + px] = (uint8_t)lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
            }
        for (int py = 0; py < H / 2; py++)
            for (int px = 0; px < W / 2; px++) {
                double r = 0, g = 0, b = 0;
                for (int k = 0; k < 4; k++) {
                    const uint8_t *p = rgb + ((size_t)(2 * py + k / 2) * W + 2 * px + k % 2) * 3;
                    r += p[0] / 4.0;
                    g += p[1] / 4.0;
                    b += p[2] / 4.0;
                }
                double cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
                double cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
                u[(size_t)py * (W / 2) + px] = (uint8_t)fmin(255, fmax(0, lround(cb)));
                v[(size_t)py * (W / 2) + px] = (uint8_t)fmin(255, fmax(0, lround(cr)));
            }
        fputs("FRAME\n", f);
        fwrite(y, 1, (size_t)W * H, f);
        fwrite(u, 1, (size_t)W * H / 4, f);
        fwrite(v, 1, (size_t)W * H / 4, f);
    }
    fclose(f);
    free(y);
    free(u);
    free(v);
    free(rgb);
    ft_image_deinit(&s1);
    ft_image_deinit(&s2);
    return 0;
}
