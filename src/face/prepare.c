// The input pipeline shared by all nets (faceapi-models.md §4): pad to a
// square with zeros, TF-legacy bilinear resize, per-net normalisation.
#include "face/face_internal.h"

#include <math.h>

// Reads channel c of padded-square pixel (py, px): zero outside the image
// region.
static inline double px_at(const ft_image *im, int32_t x0, int32_t y0, int32_t w, int32_t h,
                           int32_t off_y, int32_t off_x, int32_t py, int32_t px, int c)
{
    int32_t ry = py - off_y, rx = px - off_x;
    if (ry < 0 || ry >= h || rx < 0 || rx >= w)
        return 0.0;
    return im->rgb[((size_t)(y0 + ry) * (size_t)im->w + (size_t)(x0 + rx)) * 3 + (size_t)c];
}

void ft_face__prepare(const ft_image *im, int32_t x0, int32_t y0, int32_t w, int32_t h,
                      ft_pad_mode pm, ft_norm norm, int32_t s, float *out)
{
    int32_t m = w > h ? w : h;
    int32_t off_x = 0, off_y = 0;
    if (pm == FT_PADMODE_CENTRED) {
        // The odd pixel of padding goes after: after = round(diff/2).
        int32_t diff = m - (w < h ? w : h);
        int32_t after = (int32_t)ft_face__js_round(diff / 2.0);
        int32_t before = diff - after;
        if (w < h)
            off_x = before;
        else
            off_y = before;
    }
    static const float mean_tiny[3] = {117.001f, 114.697f, 97.404f};
    static const float mean_face[3] = {122.782f, 117.001f, 104.298f};
    const float *mean = norm == FT_NORM_TINY ? mean_tiny : mean_face;
    double ratio = (double)m / (double)s;

    for (int32_t r = 0; r < s; r++) {
        double sy = ratio * r;
        int32_t yl = (int32_t)floor(sy);
        int32_t yh = (int32_t)ceil(sy);
        if (yh > m - 1)
            yh = m - 1;
        double fy = sy - yl;
        for (int32_t col = 0; col < s; col++) {
            double sx = ratio * col;
            int32_t xl = (int32_t)floor(sx);
            int32_t xh = (int32_t)ceil(sx);
            if (xh > m - 1)
                xh = m - 1;
            double fx = sx - xl;
            float *o = out + ((size_t)r * (size_t)s + (size_t)col) * 3;
            for (int c = 0; c < 3; c++) {
                double tl = px_at(im, x0, y0, w, h, off_y, off_x, yl, xl, c);
                double tr = px_at(im, x0, y0, w, h, off_y, off_x, yl, xh, c);
                double bl = px_at(im, x0, y0, w, h, off_y, off_x, yh, xl, c);
                double br = px_at(im, x0, y0, w, h, off_y, off_x, yh, xh, c);
                double top = tl + (tr - tl) * fx;
                double bot = bl + (br - bl) * fx;
                float v = (float)(top + (bot - top) * fy);
                // Two separate float32 steps, as tfjs does them.
                if (norm == FT_NORM_SSD) {
                    v = v / 127.5f;
                    v = v - 1.0f;
                } else {
                    v = v - mean[c];
                    v = v / 255.0f;
                }
                o[c] = v;
            }
        }
    }
}
