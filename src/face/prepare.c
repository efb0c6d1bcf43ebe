// The input pipeline shared by all nets (faceapi-models.md §4): pad to a
// square with zeros, TF-legacy bilinear resize, per-net normalisation.
//
// The padded square is never built: each output sample reads up to four
// source pixels of the region and treats positions outside it as zero,
// evaluated in double and rounded once as tfjs does. The reference does
// that per output pixel; the fast path interpolates each source row across
// once (an output row reads two source rows, and when shrinking by less
// than 2x neighbouring output rows share them), then blends two such rows
// per output row, and fills rows that lie wholly in the padding with the
// padding's normalised value. Same operations in the same order per
// sample, so the same bits.
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

typedef struct geom {
    tap *tx, *ty; // s each, one allocation
    const float *mean;
} geom;

static void geometry(int32_t w, int32_t h, ft_pad_mode pm, ft_norm norm, int32_t s, geom *g)
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
    g->mean = norm == FT_NORM_TINY ? mean_tiny : mean_face;
    double ratio = (double)m / (double)s;
    g->tx = ft_malloc(sizeof(tap) * (size_t)s * 2);
    FT_ASSERT(g->tx != NULL); // s <= 2048: a few tens of KB
    g->ty = g->tx + s;
    make_taps(g->tx, s, m, off_x, w, ratio);
    make_taps(g->ty, s, m, off_y, h, ratio);
}

// One interpolated sample, normalised: two separate float32 steps, as tfjs
// does them.
static inline float normalise(float v, ft_norm norm, const float *mean, int ch)
{
    if (norm == FT_NORM_SSD) {
        v = v / 127.5f;
        v = v - 1.0f;
    } else {
        v = v - mean[ch];
        v = v / 255.0f;
    }
    return v;
}

void ft_face__prepare_ref(const ft_image *im, int32_t x0, int32_t y0, int32_t w, int32_t h,
                          ft_pad_mode pm, ft_norm norm, int32_t s, float *out)
{
    geom g;
    geometry(w, h, pm, norm, s, &g);
    const tap *tx = g.tx, *ty = g.ty;
    const float *mean = g.mean;
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
                o[ch] = normalise((float)(top + (bot - top) * fy), norm, mean, ch);
            }
        }
    }
    ft_free(g.tx);
}

// Source row `row` of the region interpolated across to the s output
// columns (s x 3 doubles); -1 = a padding row (zeros).
static void across(const uint8_t *base, size_t stride, int32_t row, const tap *tx, int32_t s,
                   double *h)
{
    if (row < 0) {
        for (size_t j = 0; j < (size_t)s * 3; j++)
            h[j] = 0.0;
        return;
    }
    static const uint8_t zero[3] = {0, 0, 0};
    const uint8_t *p = base + (size_t)row * stride;
    for (int32_t c = 0; c < s; c++, h += 3) {
        const uint8_t *l = tx[c].lo >= 0 ? p + (size_t)tx[c].lo * 3 : zero;
        const uint8_t *r = tx[c].hi >= 0 ? p + (size_t)tx[c].hi * 3 : zero;
        double fx = tx[c].f;
        for (int ch = 0; ch < 3; ch++)
            h[ch] = l[ch] + (r[ch] - (double)l[ch]) * fx;
    }
}

void ft_face__prepare(const ft_image *im, int32_t x0, int32_t y0, int32_t w, int32_t h,
                      ft_pad_mode pm, ft_norm norm, int32_t s, float *out)
{
    geom g;
    geometry(w, h, pm, norm, s, &g);
    size_t n = (size_t)s * 3;
    // Two interpolated source rows (the last two used) and the per-element
    // channel means for the normalisation.
    double *rows = ft_malloc(sizeof(double) * n * 2);
    float *mean = ft_malloc(sizeof(float) * n);
    FT_ASSERT(rows && mean); // s <= 2048: under 100 KB
    for (size_t j = 0; j < n; j++)
        mean[j] = g.mean[j % 3];
    int32_t held[2] = {INT32_MIN, INT32_MIN};
    float padv[3]; // a sample wholly in the padding: (float)(0.0 + (0.0 - 0.0) * fy)
    for (int ch = 0; ch < 3; ch++)
        padv[ch] = normalise((float)0.0, norm, g.mean, ch);
    size_t stride = (size_t)im->w * 3;
    const uint8_t *base = im->rgb + (size_t)y0 * stride + (size_t)x0 * 3;

    for (int32_t r = 0; r < s; r++) {
        float *o = out + (size_t)r * n;
        int32_t lo = g.ty[r].lo, hi = g.ty[r].hi;
        if (lo < 0 && hi < 0) {
            for (size_t j = 0; j < n; j++)
                o[j] = padv[j % 3];
            continue;
        }
        const double *hl = NULL, *hh = NULL;
        for (int k = 0; k < 2; k++) {
            if (held[k] == lo)
                hl = rows + (size_t)k * n;
            if (held[k] == hi)
                hh = rows + (size_t)k * n;
        }
        if (!hl) { // fill the slot hi does not use
            int k = hh == rows ? 1 : 0;
            across(base, stride, lo, g.tx, s, rows + (size_t)k * n);
            held[k] = lo;
            hl = rows + (size_t)k * n;
        }
        if (!hh && hi == lo)
            hh = hl;
        if (!hh) {
            int k = hl == rows ? 1 : 0;
            across(base, stride, hi, g.tx, s, rows + (size_t)k * n);
            held[k] = hi;
            hh = rows + (size_t)k * n;
        }
        double fy = g.ty[r].f;
        if (norm == FT_NORM_SSD)
            for (size_t j = 0; j < n; j++) {
                float v = (float)(hl[j] + (hh[j] - hl[j]) * fy);
                v = v / 127.5f;
                o[j] = v - 1.0f;
            }
        else
            for (size_t j = 0; j < n; j++) {
                float v = (float)(hl[j] + (hh[j] - hl[j]) * fy);
                v = v - mean[j];
                o[j] = v / 255.0f;
            }
    }
    ft_free(rows);
    ft_free(mean);
    ft_free(g.tx);
}
