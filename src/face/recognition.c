// The 128-d face recognition ResNet (faceapi-models.md §8) and the crops
// that feed it: face-api's axis-aligned box (§8.1) or a similarity warp.
#include "face/face_internal.h"

#include "core/cpu.h"
#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define REC_SIZE 150

static const char *const block_names[14] = {
    "conv32_1",  "conv32_2",  "conv32_3",  "conv64_down",  "conv64_1",
    "conv64_2",  "conv64_3",  "conv128_down", "conv128_1", "conv128_2",
    "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"};
static const int32_t block_cout[14] = {32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256, 256};

// conv + bias, then the scale layer x*sw + sb folded into the weights.
static ft_status rec_conv(const ft_tfjs *w, const char *prefix, int32_t k, int32_t cin,
                          int32_t cout, int32_t stride, ft_pad pad, ft_act act, ft_conv **out,
                          ft_err *err)
{
    char n[96];
    const float *f, *b, *sw, *sb;
    ft_status st;
    snprintf(n, sizeof n, "%s/conv/filters", prefix);
    if ((st = ft_face__get(w, n, 4, k, k, cin, cout, &f, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "%s/conv/bias", prefix);
    if ((st = ft_face__get(w, n, 1, cout, 0, 0, 0, &b, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "%s/scale/weights", prefix);
    if ((st = ft_face__get(w, n, 1, cout, 0, 0, 0, &sw, err)) != FT_OK)
        return st;
    snprintf(n, sizeof n, "%s/scale/biases", prefix);
    if ((st = ft_face__get(w, n, 1, cout, 0, 0, 0, &sb, err)) != FT_OK)
        return st;
    size_t nw = (size_t)k * k * cin * cout;
    float *fw = ft_malloc(sizeof(float) * nw), *fb = ft_malloc(sizeof(float) * (size_t)cout);
    if (!fw || !fb) {
        ft_free(fw);
        ft_free(fb);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nw; i += (size_t)cout) // HWIO: the output channel is innermost
        for (int32_t c = 0; c < cout; c++)
            fw[i + (size_t)c] = (float)((double)f[i + (size_t)c] * sw[c]);
    for (int32_t c = 0; c < cout; c++)
        fb[c] = (float)((double)b[c] * sw[c] + sb[c]);
    st = ft_face__conv(prefix, k, cin, cout, stride, pad, false, act, fw, fb, out, err);
    ft_free(fw);
    ft_free(fb);
    return st;
}

ft_status ft_face__rec_build(const ft_tfjs *w, ft_rec_net *net, ft_err *err)
{
    char n[96];
    const float *fc;
    memset(net, 0, sizeof *net);
    ft_status st = rec_conv(w, "conv32_down", 7, 3, 32, 2, FT_PAD_VALID, FT_ACT_RELU, &net->stem,
                            err);
    int32_t cin = 32;
    for (int i = 0; i < 14 && st == FT_OK; i++) {
        bool down = strstr(block_names[i], "down") != NULL;
        net->down[i] = down;
        snprintf(n, sizeof n, "%s/conv1", block_names[i]);
        st = rec_conv(w, n, 3, cin, block_cout[i], down ? 2 : 1, down ? FT_PAD_VALID : FT_PAD_SAME,
                      FT_ACT_RELU, &net->a[i], err);
        if (st != FT_OK)
            break;
        snprintf(n, sizeof n, "%s/conv2", block_names[i]);
        st = rec_conv(w, n, 3, block_cout[i], block_cout[i], 1, FT_PAD_SAME, FT_ACT_NONE,
                      &net->b[i], err);
        cin = block_cout[i];
    }
    if (st == FT_OK)
        st = ft_face__get(w, "fc", 2, 256, 128, 0, 0, &fc, err);
    if (st == FT_OK && ft_dense_new(256, 128, fc, NULL, FT_ACT_NONE, &net->fc) != FT_OK)
        st = ft_err_set(err, FT_E_NOMEM, "recognition fc: out of memory");
    if (st != FT_OK)
        ft_face__rec_free(net);
    return st;
}

void ft_face__rec_free(ft_rec_net *net)
{
    ft_conv_free(net->stem);
    for (int i = 0; i < 14; i++) {
        ft_conv_free(net->a[i]);
        ft_conv_free(net->b[i]);
    }
    ft_dense_free(net->fc);
    memset(net, 0, sizeof *net);
}

// ---- The downsampling blocks' shortcut ----
//
// out = ReLU(p' + y'): p is the 2x2 stride-2 average pool of the block's
// input x (tfjs sums each window in double, divides, rounds), with zero
// channels appended up to y's; y is the conv path, zero-padded at the
// bottom/right when smaller than p. The reference pools with ft_avgpool
// into `tmp` and then adds; the fast path does both in one pass over each
// output position, channels innermost (vectorised), summing each window in
// the same order, so the same bits.

void ft_face__rec_shortcut_ref(const ft_map *x, const ft_map *y, float *tmp, ft_map *o)
{
    int32_t ph = x->h / 2, pw = x->w / 2;
    FT_ASSERT(o->h == ph && o->w == pw && o->c == y->c && x->c <= y->c);
    ft_map p = {ph, pw, x->c, tmp};
    ft_status st = ft_avgpool(NULL, x, 2, 2, &p);
    FT_ASSERT(st == FT_OK);
    for (int32_t r = 0; r < ph; r++)
        for (int32_t c = 0; c < pw; c++)
            for (int32_t ch = 0; ch < y->c; ch++) {
                float a = ch < p.c ? p.d[((size_t)r * pw + c) * p.c + ch] : 0.0f;
                float b = (r < y->h && c < y->w) ? y->d[((size_t)r * y->w + c) * y->c + ch] : 0.0f;
                float v = a + b;
                o->d[((size_t)r * pw + c) * y->c + ch] = v > 0 ? v : 0;
            }
}

void ft_face__rec_shortcut(const ft_map *x, const ft_map *y, ft_map *o)
{
    int32_t ph = x->h / 2, pw = x->w / 2, cx = x->c, cy = y->c;
    FT_ASSERT(o->h == ph && o->w == pw && o->c == cy && cx <= cy);
    size_t row = (size_t)x->w * cx;
    for (int32_t r = 0; r < ph; r++)
        for (int32_t c = 0; c < pw; c++) {
            const float *a0 = x->d + (size_t)(2 * r) * row + (size_t)(2 * c) * cx;
            const float *a1 = a0 + cx, *b0 = a0 + row, *b1 = b0 + cx;
            float *od = o->d + ((size_t)r * pw + c) * cy;
            if (r < y->h && c < y->w) {
                const float *yd = y->d + ((size_t)r * y->w + c) * cy;
                for (int32_t ch = 0; ch < cx; ch++) {
                    double acc = 0.0;
                    acc += a0[ch];
                    acc += a1[ch];
                    acc += b0[ch];
                    acc += b1[ch];
                    float v = (float)(acc / 4.0) + yd[ch];
                    od[ch] = v > 0 ? v : 0;
                }
                for (int32_t ch = cx; ch < cy; ch++) {
                    float v = 0.0f + yd[ch];
                    od[ch] = v > 0 ? v : 0;
                }
            } else {
                for (int32_t ch = 0; ch < cx; ch++) {
                    double acc = 0.0;
                    acc += a0[ch];
                    acc += a1[ch];
                    acc += b0[ch];
                    acc += b1[ch];
                    float v = (float)(acc / 4.0) + 0.0f;
                    od[ch] = v > 0 ? v : 0;
                }
                for (int32_t ch = cx; ch < cy; ch++)
                    od[ch] = 0; // ReLU(0 + 0)
            }
        }
}

// Runs the net on a prepared 150x150x3 input.
static ft_status rec_forward(const ft_rec_net *net, ft_nn_ctx *ctx, float *in, float *bufs[4],
                             float out[FT_DESCRIPTOR_DIM])
{
    ft_map x = {REC_SIZE, REC_SIZE, 3, in}, y, t;
    ft_status st = ft_face__run_conv(ctx, net->stem, &x, &y, bufs[0]);
    if (st != FT_OK)
        return st;
    x = (ft_map){0, 0, 32, bufs[1]};
    if ((st = ft_maxpool(ctx, &y, 3, 2, FT_PAD_VALID, &(ft_map){35, 35, 32, bufs[1]})) != FT_OK)
        return st;
    x = (ft_map){35, 35, 32, bufs[1]};
    int cur = 1; // bufs[cur] holds x
    for (int i = 0; i < 14; i++) {
        float *b_t = bufs[(cur + 1) % 4], *b_y = bufs[(cur + 2) % 4];
        if ((st = ft_face__run_conv(ctx, net->a[i], &x, &t, b_t)) != FT_OK)
            return st;
        if ((st = ft_face__run_conv(ctx, net->b[i], &t, &y, b_y)) != FT_OK)
            return st;
        if (!net->down[i]) {
            ft_add(ctx, &y, &x, FT_ACT_RELU, &y);
        } else {
            // The shortcut's pool plus the conv path, into b_t (free now).
            ft_map o = {x.h / 2, x.w / 2, y.c, b_t};
            ft_face__rec_shortcut(&x, &y, &o);
            y = o;
        }
        x = y;
        cur = (int)((x.d == bufs[0]) ? 0 : (x.d == bufs[1]) ? 1 : (x.d == bufs[2]) ? 2 : 3);
    }
    float g[256];
    ft_global_avgpool(&x, g);
    ft_dense_forward(ctx, net->fc, g, out);
    return FT_OK;
}

// ---- Crops ----

static void eye_mouth(const ft_point lm[FT_LANDMARKS], ft_point *le, ft_point *re, ft_point *mo)
{
    *le = *re = *mo = (ft_point){0, 0};
    for (int i = 36; i < 42; i++) {
        le->x += lm[i].x / 6;
        le->y += lm[i].y / 6;
    }
    for (int i = 42; i < 48; i++) {
        re->x += lm[i].x / 6;
        re->y += lm[i].y / 6;
    }
    for (int i = 48; i < 68; i++) {
        mo->x += lm[i].x / 20;
        mo->y += lm[i].y / 20;
    }
}

ft_status ft_face__lm_crop(const ft_image *im, const ft_face_box *b, int32_t r[4]);

// §8.1: face-api's axis-aligned dlib-style rect, clipped like §7.1.
static ft_status faceapi_rect(const ft_image *im, const ft_face_box *box,
                              const ft_point lm[FT_LANDMARKS], int32_t r[4])
{
    int32_t lc[4];
    if (ft_face__lm_crop(im, box, lc) != FT_OK)
        return FT_E_INVALID;
    ft_point le, re, mo;
    eye_mouth(lm, &le, &re, &mo);
    double d = (hypot(mo.x - le.x, mo.y - le.y) + hypot(mo.x - re.x, mo.y - re.y)) / 2;
    double size = floor(d / 0.45);
    double refx = (le.x + re.x + mo.x) / 3, refy = (le.y + re.y + mo.y) / 3;
    double x = floor(fmax(0, refx - 0.5 * size)), y = floor(fmax(0, refy - 0.43 * size));
    double w = fmin(size, lc[2] + x), h = fmin(size, lc[3] + y);
    // Clip to the image as §7.1 does.
    double x0 = fmax(x, 0), y0 = fmax(y, 0);
    w = fmin(x + w - x0, im->w - x0);
    h = fmin(y + h - y0, im->h - y0);
    r[0] = (int32_t)floor(x0);
    r[1] = (int32_t)floor(y0);
    r[2] = (int32_t)floor(w);
    r[3] = (int32_t)floor(h);
    if (r[2] <= 0 || r[3] <= 0 || r[0] >= im->w || r[1] >= im->h)
        return FT_E_INVALID;
    return FT_OK;
}

ft_status ft_face__descriptor_rect(const ft_image *im, const ft_face_box *box,
                                   const ft_point lm[FT_LANDMARKS], int32_t r[4]);
ft_status ft_face__descriptor_rect(const ft_image *im, const ft_face_box *box,
                                   const ft_point lm[FT_LANDMARKS], int32_t r[4])
{
    return faceapi_rect(im, box, lm, r);
}

// The similarity warp cuts the chip the recognition net was trained on
// (dlib's face chips: 150x150, padding 0.25): five landmarks (the eye
// centres, the nose tip, the mouth corners) are fitted by least squares to
// their mean positions in dlib's face template, given in a unit square;
// template coordinate u maps to chip pixel (0.25 + u) / 1.5 * 150.
#define N_ALIGN 5
static void template_points(ft_point dst[N_ALIGN])
{
    static const double u[N_ALIGN][2] = {
        {0.224152, 0.2119465}, {0.75610125, 0.2119465}, {0.490127, 0.628106},
        {0.254149, 0.780233},  {0.726104, 0.780233}};
    for (int i = 0; i < N_ALIGN; i++)
        dst[i] = (ft_point){(0.25 + u[i][0]) / 1.5 * REC_SIZE, (0.25 + u[i][1]) / 1.5 * REC_SIZE};
}

static void align_points(const ft_point lm[FT_LANDMARKS], ft_point src[N_ALIGN])
{
    ft_point mo;
    eye_mouth(lm, &src[0], &src[1], &mo);
    src[2] = lm[30]; // nose tip
    src[3] = lm[48]; // mouth corners
    src[4] = lm[54];
}

// Least-squares similarity (scale+rotation+translation) from src to dst
// points; returns the inverse map chip -> image as a 2x3 matrix.
static void similarity_inverse(const ft_point *src, const ft_point *dst, int n, double m[6])
{
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < n; i++) {
        sx += src[i].x / n;
        sy += src[i].y / n;
        dx += dst[i].x / n;
        dy += dst[i].y / n;
    }
    // Map dst (chip) -> src (image): src = s*R*(dst - dmean) + smean.
    double num_a = 0, num_b = 0, den = 0;
    for (int i = 0; i < n; i++) {
        double px = dst[i].x - dx, py = dst[i].y - dy;
        double qx = src[i].x - sx, qy = src[i].y - sy;
        num_a += px * qx + py * qy;
        num_b += px * qy - py * qx;
        den += px * px + py * py;
    }
    double a = num_a / den, b = num_b / den; // s*cos, s*sin
    m[0] = a;
    m[1] = -b;
    m[2] = sx - a * dx + b * dy;
    m[3] = b;
    m[4] = a;
    m[5] = sy - b * dx - a * dy;
}

// ---- The similarity warp ----
//
// The chip is sampled bilinearly (zero outside the image) and normalised.
// The reference does it one pixel and channel at a time. The portable fast
// path (ft_face__warp_chip_c) makes two passes per chip row: the first
// finds each pixel's source position and gathers its four neighbours' RGB
// (four-byte copies for pixels wholly inside the image, per-corner checks
// only at its edges), the second blends and normalises the row's 450
// values in a loop the compiler vectorises. warp_avx512.c has an AVX-512
// one, used when the CPU has it and FT_KERNELS allows it. Same operations
// in the same order on every sample, in double then float as the
// reference, so the same bits (test_face checks them).

static const float chip_mean[3] = {122.782f, 117.001f, 104.298f};

// Chip pixel (r, c) into o[0..2].
static void warp_pixel_ref(const ft_image *im, const double m[6], int32_t r, int32_t c, float *o)
{
    double x = m[0] * c + m[1] * r + m[2], y = m[3] * c + m[4] * r + m[5];
    int32_t x0 = (int32_t)floor(x), y0 = (int32_t)floor(y);
    double fx = x - x0, fy = y - y0;
    for (int ch = 0; ch < 3; ch++) {
        double v[4];
        for (int k = 0; k < 4; k++) {
            int32_t xx = x0 + (k & 1), yy = y0 + (k >> 1);
            v[k] = (xx < 0 || yy < 0 || xx >= im->w || yy >= im->h)
                       ? 0.0
                       : im->rgb[((size_t)yy * im->w + xx) * 3 + ch];
        }
        double top = v[0] + (v[1] - v[0]) * fx, bot = v[2] + (v[3] - v[2]) * fx;
        float p = (float)(top + (bot - top) * fy);
        o[ch] = (p - chip_mean[ch]) / 255.0f;
    }
}

void ft_face__warp_chip_ref(const ft_image *im, const double m[6], float *out)
{
    for (int32_t r = 0; r < REC_SIZE; r++)
        for (int32_t c = 0; c < REC_SIZE; c++)
            warp_pixel_ref(im, m, r, c, out + ((size_t)r * REC_SIZE + c) * 3);
}

// One corner's RGB, zeros outside the image.
static inline void corner(const ft_image *im, int32_t xx, int32_t yy, uint8_t *v)
{
    if (xx < 0 || yy < 0 || xx >= im->w || yy >= im->h) {
        v[0] = v[1] = v[2] = 0;
        return;
    }
    memcpy(v, im->rgb + ((size_t)yy * im->w + xx) * 3, 3);
}

void ft_face__warp_chip_c(const ft_image *im, const double m[6], float *out)
{
    enum { N = REC_SIZE * 3 };
    // One chip row: the four corners of each value (bytes: exact in
    // double), its fractions, the channel means.
    uint8_t tl[N + 1], tr[N + 1], bl[N + 1], br[N + 1];
    double fxs[N], fys[N];
    float mean[N];
    for (int j = 0; j < N; j++)
        mean[j] = chip_mean[j % 3];
    size_t stride = (size_t)im->w * 3;
    double xs[REC_SIZE], ys[REC_SIZE];
    for (int32_t r = 0; r < REC_SIZE; r++) {
        for (int32_t c = 0; c < REC_SIZE; c++) {
            xs[c] = m[0] * c + m[1] * r + m[2];
            ys[c] = m[3] * c + m[4] * r + m[5];
        }
        for (int32_t c = 0; c < REC_SIZE; c++) {
            double x = xs[c], y = ys[c];
            int32_t x0 = (int32_t)floor(x), y0 = (int32_t)floor(y);
            double fx = x - x0, fy = y - y0;
            int j = c * 3;
            if (x0 >= 0 && y0 >= 0 && x0 < im->w - 2 && y0 < im->h - 1) {
                // Four bytes at a time: the fourth is the next pixel's
                // (inside the image: x0 + 2 < w), written over by the next
                // chip pixel or left in the slack after the row.
                const uint8_t *p0 = im->rgb + (size_t)y0 * stride + (size_t)x0 * 3;
                memcpy(tl + j, p0, 4);
                memcpy(tr + j, p0 + 3, 4);
                memcpy(bl + j, p0 + stride, 4);
                memcpy(br + j, p0 + stride + 3, 4);
            } else {
                corner(im, x0, y0, tl + j);
                corner(im, x0 + 1, y0, tr + j);
                corner(im, x0, y0 + 1, bl + j);
                corner(im, x0 + 1, y0 + 1, br + j);
            }
            fxs[j] = fxs[j + 1] = fxs[j + 2] = fx;
            fys[j] = fys[j + 1] = fys[j + 2] = fy;
        }
        float *o = out + (size_t)r * N;
        for (int j = 0; j < N; j++) {
            double vtl = tl[j], vtr = tr[j], vbl = bl[j], vbr = br[j];
            double top = vtl + (vtr - vtl) * fxs[j];
            double bot = vbl + (vbr - vbl) * fxs[j];
            float p = (float)(top + (bot - top) * fys[j]);
            o[j] = (p - mean[j]) / 255.0f;
        }
    }
}

void ft_face__warp_chip(const ft_image *im, const double m[6], float *out)
{
    // The CPU's level, found once (a race only computes it twice).
    static int avx512 = -1;
    int v = __atomic_load_n(&avx512, __ATOMIC_RELAXED);
    if (v < 0) {
        v = (ft_cpu_features_allowed() & FT_CPU_AVX512) != 0;
        __atomic_store_n(&avx512, v, __ATOMIC_RELAXED);
    }
    if (v)
        ft_face__warp_chip_avx512(im, m, out);
    else
        ft_face__warp_chip_c(im, m, out);
}

ft_status ft_descriptor(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                        const ft_face_box *box, const ft_point lm[FT_LANDMARKS], ft_align_mode mode,
                        float out[FT_DESCRIPTOR_DIM], ft_err *err)
{
    if (!m->has_rec)
        return ft_err_set(err, FT_E_INVALID, "the face recognition model is not loaded");
    ft_arena *ar = ft_nn_ctx_arena(ctx);
    size_t map = (size_t)72 * 72 * 32; // the stem's output, the largest map
    ft_status st = ft_arena_reserve(ar, (REC_SIZE * REC_SIZE * 3 + 4 * map) * sizeof(float) +
                                            6 * FT_ALIGN * 4);
    if (st != FT_OK)
        return ft_err_set(err, st, "descriptor: %s", ft_status_str(st));
    float *in = ft_arena_floats(ar, REC_SIZE * REC_SIZE * 3);
    float *bufs[4];
    for (int i = 0; i < 4; i++)
        bufs[i] = ft_arena_floats(ar, map);
    FT_ASSERT(in && bufs[3]);

    if (mode == FT_ALIGN_FACEAPI) {
        int32_t r[4];
        if (faceapi_rect(im, box, lm, r) != FT_OK)
            return ft_err_set(err, FT_E_INVALID, "face alignment rectangle is outside the image");
        ft_face__prepare(im, r[0], r[1], r[2], r[3], FT_PADMODE_CENTRED, FT_NORM_FACE, REC_SIZE,
                         in);
    } else {
        ft_point src[N_ALIGN], dst[N_ALIGN];
        align_points(lm, src);
        template_points(dst);
        double mat[6];
        similarity_inverse(src, dst, N_ALIGN, mat);
        ft_face__warp_chip(im, mat, in);
    }
    st = rec_forward(&m->rec, ctx, in, bufs, out);
    if (st != FT_OK)
        return ft_err_set(err, st, "recognition net: %s", ft_status_str(st));
    return FT_OK;
}
