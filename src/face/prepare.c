// The input pipeline shared by all nets (faceapi-models.md §4): pad to a
// square with zeros, TF-legacy bilinear resize, per-net normalisation.
//
// The padded square is never built: each output sample reads up to four
// source pixels of the region and treats positions outside it as zero.
// Per-column taps are computed once per call, so the inner loop is four
// loads and two lerps per channel, evaluated in double and rounded once as
// tfjs does.
#include "face/face_internal.h"

#include "core/mem.h"

#include <math.h>

typedef struct tap {
    int32_t lo, hi; // source offsets (pixels) in the region; -1 = padding
    double f;       // weight of hi
} tap;

// Taps along one axis: output i samples ratio*i in the padded square of
// size m, where the region occupies [off, off + n).
static void make_taps(tap *t, int32_t s, int32_t m, int32_t off, int32_t n, double ratio)
{
    for (int32_t i = 0; i < s; i++) {
        double p = ratio * i;
        int32_t lo = (int32_t)floor(p), hi = (int32_t)ceil(p);
        if (hi > m - 1)
            hi = m - 1;
        t[i].f = p - lo;
        lo -= off;
        hi -= off;
        t[i].lo = lo >= 0 && lo < n ? lo : -1;
        t[i].hi = hi >= 0 && hi < n ? hi : -1;
    }
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

    tap *tx = ft_malloc(sizeof(tap) * (size_t)s * 2);
    FT_ASSERT(tx != NULL); // s <= 2048: a few tens of KB
    tap *ty = tx + s;
    make_taps(tx, s, m, off_x, w, ratio);
    make_taps(ty, s, m, off_y, h, ratio);
    static const uint8_t zero[3] = {0, 0, 0};
    size_t stride = (size_t)im->w * 3;
    const uint8_t *base = im->rgb + (size_t)y0 * stride + (size_t)x0 * 3;

    for (int32_t r = 0; r < s; r++) {
        const uint8_t *row_lo = ty[r].lo >= 0 ? base + (size_t)ty[r].lo * stride : NULL;
        const uint8_t *row_hi = ty[r].hi >= 0 ? base + (size_t)ty[r].hi * stride : NULL;
        double fy = ty[r].f;
        float *o = out + (size_t)r * (size_t)s * 3;
        for (int32_t c = 0; c < s; c++, o += 3) {
            const uint8_t *tl = zero, *tr = zero, *bl = zero, *br = zero;
            if (row_lo) {
                if (tx[c].lo >= 0)
                    tl = row_lo + (size_t)tx[c].lo * 3;
                if (tx[c].hi >= 0)
                    tr = row_lo + (size_t)tx[c].hi * 3;
            }
            if (row_hi) {
                if (tx[c].lo >= 0)
                    bl = row_hi + (size_t)tx[c].lo * 3;
                if (tx[c].hi >= 0)
                    br = row_hi + (size_t)tx[c].hi * 3;
            }
            double fx = tx[c].f;
            for (int ch = 0; ch < 3; ch++) {
                double top = tl[ch] + (tr[ch] - (double)tl[ch]) * fx;
                double bot = bl[ch] + (br[ch] - (double)bl[ch]) * fx;
                float v = (float)(top + (bot - top) * fy);
                // Two separate float32 steps, as tfjs does them.
                if (norm == FT_NORM_SSD) {
                    v = v / 127.5f;
                    v = v - 1.0f;
                } else {
                    v = v - mean[ch];
                    v = v / 255.0f;
                }
                o[ch] = v;
            }
        }
    }
    ft_free(tx);
}
