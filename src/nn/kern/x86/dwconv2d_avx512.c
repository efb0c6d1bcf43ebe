// AVX-512 depthwise convolution (kern/dwconv2d.h): 16 channels per zmm.
// A 3x3 kernel sweeps each output row as a sliding window: every input
// column is loaded once and stays in registers for the outputs sharing it,
// with zero columns and zero-weight rows standing in for the padding, so
// border pixels take the same path. Below c = 64 (or c not a multiple of
// 64) one 16-channel block is swept at a time with its nine weights and
// bias in registers; wider layers sweep four blocks together, and layers of
// a multiple of 32 channels two (see row3x3_group). Other kernel sizes go
// through a general per-tap path. While a 3x3 row is computed, the input
// rows the next output row adds are prefetched into L2 in address order
// (rows_ahead). The channel tail uses masked loads and stores, so nothing
// past c is written. Bias and the activation are fused
// before the store.
#include "nn/kern/act.h"
#include "nn/kern/dwconv2d.h"

#include "nn/kern/x86/act_simd.h"

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

// Stride-1 3x3 layers go through row3x3_pair (per 16-channel block, for
// wide layers instead of the grouped sweep) when the input rows a call
// reads fit in PAIR_WIDE_BYTES (half of the 2 MiB L2 of the Xeon measured)
// and one row in PAIR_WIDE_ROW_BYTES; see rows_act.
#define PAIR_WIDE_BYTES ((double)(1 << 20))
#define PAIR_WIDE_ROW_BYTES ((double)(64 << 10))

static ALWAYS_INLINE __m512 load(const float *p, __mmask16 m, bool full)
{
    return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

static ALWAYS_INLINE void store(float *p, __m512 v, __mmask16 m, bool full, ft_act act, int n)
{
    if (full)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, m, v);
    if (act == FT_ACT_SIGMOID)
        for (int i = 0; i < n; i++)
            p[i] = ft_act_apply(p[i], act);
}

// One output pixel, any kernel size, taps outside the input skipped.
static ALWAYS_INLINE __m512 pixel_general(const ft_conv_geom *g, const float *x, const float *w,
                                          __m512 acc, int32_t oy, int32_t ox, int32_t cb,
                                          __mmask16 m, bool full)
{
    size_t c = (size_t)g->c_in;
    for (int32_t ky = 0; ky < g->kh; ky++) {
        int32_t iy = oy * g->stride - g->pad_top + ky;
        if (iy < 0 || iy >= g->in_h)
            continue;
        for (int32_t kx = 0; kx < g->kw; kx++) {
            int32_t ix = ox * g->stride - g->pad_left + kx;
            if (ix < 0 || ix >= g->in_w)
                continue;
            __m512 xv = load(x + ((size_t)iy * g->in_w + ix) * c + cb, m, full);
            __m512 wv = load(w + ((size_t)ky * g->kw + kx) * c + cb, m, full);
            acc = _mm512_fmadd_ps(xv, wv, acc);
        }
    }
    return acc;
}

// ---- 3x3 rows: a sliding window ----
//
// One 16-channel block of one output row of a 3x3 kernel. Each input
// column (its three rows) is loaded once and kept in registers for the
// outputs that share it: 3 loads an output at stride 1, 6 at stride 2,
// instead of 9. Columns left or right of the input are zero vectors; a row
// above or below it is read from a row that exists, with its three weights
// zeroed (the product is then +-0, which leaves the sum unchanged).

typedef struct col3 {
    __m512 r0, r1, r2;
} col3;

typedef struct rows3 {
    const float *p0, *p1, *p2; // the three input rows at this channel block
    int32_t in_w;
    size_t c;
    __mmask16 m;
    bool full;
} rows3;

static ALWAYS_INLINE col3 column(const rows3 *r, int32_t ix)
{
    if ((uint32_t)ix >= (uint32_t)r->in_w) {
        __m512 z = _mm512_setzero_ps();
        return (col3){z, z, z};
    }
    size_t o = (size_t)ix * r->c;
    return (col3){load(r->p0 + o, r->m, r->full), load(r->p1 + o, r->m, r->full),
                  load(r->p2 + o, r->m, r->full)};
}

// The input rows that output row oy + 1 adds below the window (stride of
// them), prefetched into L2 while row oy is computed: output u of the row
// (u = block * out_w + ox, in sweep order) prefetches lines [u*per,
// u*per + per) of those rows, so they arrive in address order, a line or
// a few per output. Without it a row's first sweep reads one line in c / 16
// at a time, which the hardware prefetchers do not follow, and waits on
// memory for each.
typedef struct ahead {
    const char *p; // NULL: nothing to prefetch
    size_t lines;
    int32_t per;
} ahead;

static ALWAYS_INLINE ahead rows_ahead(const ft_conv_geom *g, const float *x, int32_t oy)
{
    ahead a = {NULL, 0, 0};
    int32_t s = g->stride, iy = oy * s - g->pad_top + 3;
    int32_t n = g->in_h - iy < s ? g->in_h - iy : s;
    if (iy < 0 || n <= 0)
        return a;
    size_t rs = (size_t)g->in_w * g->c_in;
    size_t outs = (size_t)g->out_w * (size_t)((g->c_in + 15) / 16);
    a.p = (const char *)(x + (size_t)iy * rs);
    a.lines = (size_t)n * rs / 16;
    a.per = (int32_t)((a.lines + outs - 1) / outs);
    return a;
}

static ALWAYS_INLINE void prefetch_ahead(const ahead *a, size_t u)
{
    for (int32_t j = 0; j < a->per; j++) {
        size_t i = u * (size_t)a->per + (size_t)j;
        if (a->p && i < a->lines)
            _mm_prefetch(a->p + i * 64, _MM_HINT_T1);
    }
}

// One output from window columns l, mi, r: a partial sum per column.
static ALWAYS_INLINE __m512 window3x3(col3 l, col3 mi, col3 r, const __m512 *wv, __m512 b)
{
    __m512 a0 = _mm512_fmadd_ps(l.r0, wv[0], b);
    __m512 a1 = _mm512_mul_ps(mi.r0, wv[1]);
    __m512 a2 = _mm512_mul_ps(r.r0, wv[2]);
    a0 = _mm512_fmadd_ps(l.r1, wv[3], a0);
    a1 = _mm512_fmadd_ps(mi.r1, wv[4], a1);
    a2 = _mm512_fmadd_ps(r.r1, wv[5], a2);
    a0 = _mm512_fmadd_ps(l.r2, wv[6], a0);
    a1 = _mm512_fmadd_ps(mi.r2, wv[7], a1);
    a2 = _mm512_fmadd_ps(r.r2, wv[8], a2);
    return _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
}

static ALWAYS_INLINE void row3x3(const ft_conv_geom *g, const float *x, const float *w,
                                 const float *bias, ft_act act, float *y, int32_t oy, int32_t cb,
                                 bool full)
{
    size_t c = (size_t)g->c_in, rs = (size_t)g->in_w * c;
    int nc = g->c_in - cb < 16 ? g->c_in - cb : 16;
    __mmask16 m = (__mmask16)((1u << nc) - 1);
    __m512 b = bias ? load(bias + cb, m, full) : _mm512_setzero_ps();
    int32_t s = g->stride, iy0 = oy * s - g->pad_top;
    __m512 wv[9];
    const float *rp[3];
    int32_t valid = iy0 + 1 >= 0 && iy0 + 1 < g->in_h ? iy0 + 1 : iy0 >= 0 ? iy0 : iy0 + 2;
    for (int t = 0; t < 3; t++) {
        int32_t iy = iy0 + t;
        bool in = iy >= 0 && iy < g->in_h;
        rp[t] = x + (size_t)(in ? iy : valid) * rs + cb;
        for (int k = 0; k < 3; k++)
            wv[3 * t + k] = in ? load(w + (size_t)(3 * t + k) * c + cb, m, full)
                               : _mm512_setzero_ps();
    }
    rows3 r = {rp[0], rp[1], rp[2], g->in_w, c, m, full};
    float *yp = y + (size_t)oy * g->out_w * c + cb;
    int32_t ix = -g->pad_left, n = g->out_w;
    ahead pa = rows_ahead(g, x, oy);
    size_t u = (size_t)(cb / 16) * (size_t)n;
    col3 l = column(&r, ix);
    if (s == 1) {
        col3 mi = column(&r, ix + 1);
        for (int32_t i = 0; i < n; i++, yp += c) {
            prefetch_ahead(&pa, u + (size_t)i);
            col3 rc = column(&r, ix + 2 + i);
            store(yp, ft_act_zmm(window3x3(l, mi, rc, wv, b), act), m, full, act, nc);
            l = mi;
            mi = rc;
        }
    } else {
        for (int32_t i = 0; i < n; i++, yp += c, ix += s) {
            prefetch_ahead(&pa, u + (size_t)i);
            col3 mi = column(&r, ix + 1), rc = column(&r, ix + 2);
            store(yp, ft_act_zmm(window3x3(l, mi, rc, wv, b), act), m, full, act, nc);
            l = s == 2 ? rc : column(&r, ix + s);
        }
    }
}

// Two output rows oy, oy + 1 of one 16-channel block, stride 1, both with
// all three input rows inside the map (interior rows): each input column
// is loaded once for both, four rows of it, and the nine weights are the
// same for both rows. Each output is computed by window3x3 as in row3x3,
// the same operations in the same order, so the bits are those of two
// row3x3 calls. The two input rows the next pair adds are prefetched.
static ALWAYS_INLINE void row3x3_pair(const ft_conv_geom *g, const float *x, const float *w,
                                      const float *bias, ft_act act, float *y, int32_t oy,
                                      int32_t cb, bool full)
{
    size_t c = (size_t)g->c_in, rs = (size_t)g->in_w * c;
    int nc = g->c_in - cb < 16 ? g->c_in - cb : 16;
    __mmask16 m = (__mmask16)((1u << nc) - 1);
    __m512 b = bias ? load(bias + cb, m, full) : _mm512_setzero_ps();
    int32_t iy0 = oy - g->pad_top;
    __m512 wv[9];
    for (int k = 0; k < 9; k++)
        wv[k] = load(w + (size_t)k * c + cb, m, full);
    const float *p0 = x + (size_t)iy0 * rs + cb;
    rows3 ra = {p0, p0 + rs, p0 + 2 * rs, g->in_w, c, m, full};
    rows3 rb = {p0 + rs, p0 + 2 * rs, p0 + 3 * rs, g->in_w, c, m, full};
    float *ya = y + (size_t)oy * g->out_w * c + cb, *yb = ya + (size_t)g->out_w * c;
    int32_t ix = -g->pad_left, n = g->out_w;
    // Rows iy0 + 4 and iy0 + 5 (those that exist), in address order.
    ahead pa = {NULL, 0, 0};
    int32_t nr = g->in_h - (iy0 + 4) < 2 ? g->in_h - (iy0 + 4) : 2;
    if (nr > 0) {
        size_t outs = (size_t)n * (size_t)((g->c_in + 15) / 16);
        pa.p = (const char *)(x + (size_t)(iy0 + 4) * rs);
        pa.lines = (size_t)nr * rs / 16;
        pa.per = (int32_t)((pa.lines + outs - 1) / outs);
    }
    size_t u = (size_t)(cb / 16) * (size_t)n;
    // Columns: rows 0-2 for row oy, rows 1-3 for row oy + 1; row 3 apart.
    col3 la = column(&ra, ix), ma = column(&ra, ix + 1);
    __m512 l3 = (uint32_t)ix < (uint32_t)g->in_w ? load(rb.p2 + (size_t)ix * c, m, full)
                                                  : _mm512_setzero_ps();
    __m512 m3 = (uint32_t)(ix + 1) < (uint32_t)g->in_w
                    ? load(rb.p2 + (size_t)(ix + 1) * c, m, full)
                    : _mm512_setzero_ps();
    for (int32_t i = 0; i < n; i++, ya += c, yb += c) {
        prefetch_ahead(&pa, u + (size_t)i);
        int32_t jx = ix + 2 + i;
        col3 ra_c;
        __m512 r3;
        if ((uint32_t)jx < (uint32_t)g->in_w) {
            size_t o = (size_t)jx * c;
            ra_c = (col3){load(ra.p0 + o, m, full), load(ra.p1 + o, m, full),
                          load(ra.p2 + o, m, full)};
            r3 = load(rb.p2 + o, m, full);
        } else {
            __m512 z = _mm512_setzero_ps();
            ra_c = (col3){z, z, z};
            r3 = z;
        }
        col3 lb = {la.r1, la.r2, l3}, mb = {ma.r1, ma.r2, m3}, rcb = {ra_c.r1, ra_c.r2, r3};
        store(ya, ft_act_zmm(window3x3(la, ma, ra_c, wv, b), act), m, full, act, nc);
        store(yb, ft_act_zmm(window3x3(lb, mb, rcb, wv, b), act), m, full, act, nc);
        la = ma;
        ma = ra_c;
        l3 = m3;
        m3 = r3;
    }
}

// Wide layers (c a multiple of 64, c >= 64): sweeping one 16-channel
// block along a row steps by c floats (>= 256 B), so every column it loads
// maps to the same two L1 sets. Four adjacent blocks are swept together
// instead (their lines fill eight sets); their weights and biases are copied
// to the stack first (the weight taps are c floats apart too) and read from
// there by the FMAs, the windows of the four blocks stay in registers.
#define GROUP 4
static ALWAYS_INLINE void row3x3_group(const ft_conv_geom *g, const float *x, const float *w,
                                       const float *bias, ft_act act, float *y, int32_t oy,
                                       int32_t cb, const int grp)
{
    size_t c = (size_t)g->c_in, rs = (size_t)g->in_w * c;
    int32_t s = g->stride, iy0 = oy * s - g->pad_top;
    float wl[10][GROUP * 16] __attribute__((aligned(64)));
    const float *rp[3];
    int32_t valid = iy0 + 1 >= 0 && iy0 + 1 < g->in_h ? iy0 + 1 : iy0 >= 0 ? iy0 : iy0 + 2;
    for (int t = 0; t < 3; t++) {
        int32_t iy = iy0 + t;
        bool in = iy >= 0 && iy < g->in_h;
        rp[t] = x + (size_t)(in ? iy : valid) * rs + cb;
        for (int k = 0; k < 3; k++)
            for (int v = 0; v < grp; v++)
                _mm512_store_ps(&wl[3 * t + k][16 * v],
                                in ? _mm512_loadu_ps(w + (size_t)(3 * t + k) * c + cb + 16 * v)
                                   : _mm512_setzero_ps());
    }
    for (int v = 0; v < grp; v++)
        _mm512_store_ps(&wl[9][16 * v],
                        bias ? _mm512_loadu_ps(bias + cb + 16 * v) : _mm512_setzero_ps());
    rows3 r = {rp[0], rp[1], rp[2], g->in_w, c, 0xFFFF, true};
    float *yp = y + (size_t)oy * g->out_w * c + cb;
    int32_t ix = -g->pad_left, n = g->out_w;
    ahead pa = rows_ahead(g, x, oy);
    size_t u0 = (size_t)(cb / 16) * (size_t)n;
    col3 l[GROUP], mi[GROUP];
    for (int v = 0; v < grp; v++) {
        rows3 rv = r;
        rv.p0 += 16 * v;
        rv.p1 += 16 * v;
        rv.p2 += 16 * v;
        l[v] = column(&rv, ix);
        mi[v] = s == 1 ? column(&rv, ix + 1) : l[v]; // read at stride 1 only
    }
    for (int32_t i = 0; i < n; i++, yp += c, ix += s) {
#pragma GCC unroll 4
        for (int v = 0; v < grp; v++) {
            rows3 rv = r;
            rv.p0 += 16 * v;
            rv.p1 += 16 * v;
            rv.p2 += 16 * v;
            prefetch_ahead(&pa, u0 + (size_t)v * (size_t)n + (size_t)i);
            col3 m2 = s == 1 ? mi[v] : column(&rv, ix + 1), rc = column(&rv, ix + 2);
            __m512 a0 = _mm512_fmadd_ps(l[v].r0, _mm512_load_ps(&wl[0][16 * v]),
                                        _mm512_load_ps(&wl[9][16 * v]));
            __m512 a1 = _mm512_mul_ps(m2.r0, _mm512_load_ps(&wl[1][16 * v]));
            __m512 a2 = _mm512_mul_ps(rc.r0, _mm512_load_ps(&wl[2][16 * v]));
            a0 = _mm512_fmadd_ps(l[v].r1, _mm512_load_ps(&wl[3][16 * v]), a0);
            a1 = _mm512_fmadd_ps(m2.r1, _mm512_load_ps(&wl[4][16 * v]), a1);
            a2 = _mm512_fmadd_ps(rc.r1, _mm512_load_ps(&wl[5][16 * v]), a2);
            a0 = _mm512_fmadd_ps(l[v].r2, _mm512_load_ps(&wl[6][16 * v]), a0);
            a1 = _mm512_fmadd_ps(m2.r2, _mm512_load_ps(&wl[7][16 * v]), a1);
            a2 = _mm512_fmadd_ps(rc.r2, _mm512_load_ps(&wl[8][16 * v]), a2);
            __m512 o = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
            store(yp + 16 * v, ft_act_zmm(o, act), 0xFFFF, true, act, 16);
            if (s == 1) {
                l[v] = m2;
                mi[v] = rc;
            } else if (s == 2) {
                l[v] = rc;
            } else {
                l[v] = column(&rv, ix + s);
            }
        }
    }
}

// Narrow layers (c = 1, 2, 4 or 8: YuNet's 1- and 4-channel heads), 3x3
// stride 1: a row's out_w * c outputs are swept 16 at a time, one (pixel,
// channel) per lane with its channel's weights, instead of one pixel per
// vector with c of 16 lanes used. Each lane does what row3x3 does for its
// output: window3x3 on the same column values (zero left or right of the
// row, a row outside the map read from one inside with zero weights), so
// the bits are the same.
static ALWAYS_INLINE void row3x3_narrow(const ft_conv_geom *g, const float *x, const float *w,
                                        const float *bias, ft_act act, float *y, int32_t oy)
{
    int32_t c = g->c_in, sh = c == 1 ? 0 : c == 2 ? 1 : c == 4 ? 2 : 3;
    size_t rs = (size_t)g->in_w * c;
    const __m512i lane =
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i ch = _mm512_and_si512(lane, _mm512_set1_epi32(c - 1));
    const __mmask16 cm = (__mmask16)((1u << c) - 1);
    __m512 b = bias ? _mm512_permutexvar_ps(ch, _mm512_maskz_loadu_ps(cm, bias))
                    : _mm512_setzero_ps();
    int32_t iy0 = oy - g->pad_top;
    int32_t valid = iy0 + 1 >= 0 && iy0 + 1 < g->in_h ? iy0 + 1 : iy0 >= 0 ? iy0 : iy0 + 2;
    __m512 wv[9];
    const float *rp[3];
    for (int t = 0; t < 3; t++) {
        int32_t iy = iy0 + t;
        bool in = iy >= 0 && iy < g->in_h;
        rp[t] = x + (size_t)(in ? iy : valid) * rs;
        for (int k = 0; k < 3; k++)
            wv[3 * t + k] =
                in ? _mm512_permutexvar_ps(ch, _mm512_maskz_loadu_ps(cm, w + (3 * t + k) * c))
                   : _mm512_setzero_ps();
    }
    int32_t n = g->out_w * c, pl = g->pad_left;
    float *yp = y + (size_t)oy * n;
    const __m512i in_w = _mm512_set1_epi32(g->in_w), zero = _mm512_setzero_si512();
    for (int32_t j0 = 0; j0 < n; j0 += 16) {
        __m512i vj = _mm512_add_epi32(_mm512_set1_epi32(j0), lane);
        __mmask16 live = _mm512_cmplt_epi32_mask(vj, _mm512_set1_epi32(n));
        __m512i ox = _mm512_srlv_epi32(vj, _mm512_set1_epi32(sh));
        col3 cols[3];
        for (int k = 0; k < 3; k++) {
            __m512i ix = _mm512_add_epi32(ox, _mm512_set1_epi32(k - pl));
            __mmask16 mk = live & _mm512_cmpge_epi32_mask(ix, zero) &
                           _mm512_cmplt_epi32_mask(ix, in_w);
            ptrdiff_t o = (ptrdiff_t)j0 + (ptrdiff_t)(k - pl) * c;
            cols[k] = (col3){_mm512_maskz_loadu_ps(mk, rp[0] + o),
                             _mm512_maskz_loadu_ps(mk, rp[1] + o),
                             _mm512_maskz_loadu_ps(mk, rp[2] + o)};
        }
        int nv = n - j0 < 16 ? n - j0 : 16;
        store(yp + j0, ft_act_zmm(window3x3(cols[0], cols[1], cols[2], wv, b), act), live,
              nv == 16, act, nv);
    }
}

// Any other kernel size: per pixel, taps outside the input skipped.
static ALWAYS_INLINE void row_block(const ft_conv_geom *g, const float *x, const float *w,
                                    const float *bias, ft_act act, float *y, int32_t oy, int32_t cb,
                                    bool full)
{
    if (g->kh == 3 && g->kw == 3) {
        row3x3(g, x, w, bias, act, y, oy, cb, full);
        return;
    }
    size_t c = (size_t)g->c_in;
    int n = g->c_in - cb < 16 ? g->c_in - cb : 16;
    __mmask16 m = (__mmask16)((1u << n) - 1);
    __m512 b = bias ? load(bias + cb, m, full) : _mm512_setzero_ps();
    float *yrow = y + (size_t)oy * g->out_w * c + cb;
    for (int32_t ox = 0; ox < g->out_w; ox++)
        store(yrow + (size_t)ox * c, ft_act_zmm(pixel_general(g, x, w, b, oy, ox, cb, m, full), act),
              m, full, act, n);
}

static ALWAYS_INLINE void rows_act(const ft_conv_geom *g, const float *x, const float *w,
                                   const float *bias, ft_act act, float *y, int32_t oy0,
                                   int32_t oy1)
{
    int32_t c_full = g->c_in / 16 * 16;
    // Measured on Zen 4: the grouped sweep wins from c = 256 on (both
    // strides), the one-block sweep below. On a Xeon with 48 KiB L1 (2026-12,
    // bench in docs/BENCHMARKS.md) it wins from c = 64 on: 480x272x64
    // 12.0 -> 7.3 ms, 75x75x128 0.46 -> 0.34 ms, 150x150x64 s2 -20 %; same
    // arithmetic, so the same bits either way.
    // 32 channels (not a multiple of 64): two blocks together.
    bool grouped = g->kh == 3 && g->kw == 3 && g->c_in >= 64 && g->c_in % (GROUP * 16) == 0;
    bool paired = !grouped && g->kh == 3 && g->kw == 3 && g->c_in % 32 == 0;
    // Stride 1: interior rows two at a time, one 16-channel block after
    // another (row3x3_pair). For wide layers this beats the grouped sweep
    // when the rows read are in cache (bands of chains and separable
    // layers: 160x8x64 67 -> 89 GFLOP/s, 160x12x32 65 -> 99, 320x24x16
    // 82 -> 110 on the Xeon of docs/BENCHMARKS.md, 2026-12-05) but not on a
    // whole map streamed from memory (480x272x64 34 -> 26), where the
    // grouped sweep stays. Nor on bands of a few long rows read from
    // memory (YuNet's 480x272x64 dw at 1080p, a chain's first step: 6.4 ->
    // 8.2 ms), hence the bound on the row too.
    // The same bounds for narrow layers (16 channels: a whole 320x240 map
    // from memory 0.40 -> 0.45 ms two rows at a time).
    if (g->kh == 3 && g->kw == 3 && g->stride == 1 &&
        (g->c_in == 1 || g->c_in == 2 || g->c_in == 4 || g->c_in == 8)) {
        for (int32_t oy = oy0; oy < oy1; oy++)
            row3x3_narrow(g, x, w, bias, act, y, oy);
        return;
    }
    double row_bytes = (double)g->in_w * g->c_in * sizeof(float);
    bool pair = g->kh == 3 && g->kw == 3 && g->stride == 1 &&
                (oy1 - oy0 + 2) * row_bytes <= PAIR_WIDE_BYTES && row_bytes <= PAIR_WIDE_ROW_BYTES;
    if (pair)
        grouped = paired = false;
    for (int32_t oy = oy0; oy < oy1; oy++) {
        if (grouped) {
            for (int32_t cb = 0; cb < g->c_in; cb += GROUP * 16)
                row3x3_group(g, x, w, bias, act, y, oy, cb, GROUP);
            continue;
        }
        if (paired) {
            for (int32_t cb = 0; cb < g->c_in; cb += 32)
                row3x3_group(g, x, w, bias, act, y, oy, cb, 2);
            continue;
        }
        int32_t iy0 = oy - g->pad_top;
        if (pair && oy + 1 < oy1 && iy0 >= 0 && iy0 + 3 < g->in_h) {
            for (int32_t cb = 0; cb < c_full; cb += 16)
                row3x3_pair(g, x, w, bias, act, y, oy, cb, true);
            if (c_full < g->c_in)
                row3x3_pair(g, x, w, bias, act, y, oy, c_full, false);
            oy++;
            continue;
        }
        for (int32_t cb = 0; cb < c_full; cb += 16)
            row_block(g, x, w, bias, act, y, oy, cb, true);
        if (c_full < g->c_in)
            row_block(g, x, w, bias, act, y, oy, c_full, false);
    }
}

// ---- Depthwise convolution + 2x2 stride-2 max pooling ----
//
// Each pooled row is two output rows of the convolution; every output is
// computed as rows_act would (window3x3 for 3x3 kernels, with the same
// column and row rules at the borders; pixel_general otherwise), its
// activation applied, and the four of a window maxed in the order of the
// max pooling kernel (pool2d_avx512.c): _mm512_max_ps(v, m) from m = -inf
// over (0,0), (0,1), (1,0), (1,1). So the bits are those of this file's
// depthwise kernel followed by max pooling, without the convolution's
// output written and read back.

static ALWAYS_INLINE __m512 pool4(__m512 a0, __m512 a1, __m512 b0, __m512 b1)
{
    __m512 mx = _mm512_max_ps(a0, _mm512_set1_ps(-INFINITY));
    mx = _mm512_max_ps(a1, mx);
    mx = _mm512_max_ps(b0, mx);
    return _mm512_max_ps(b1, mx);
}

// The activation as the depthwise kernel leaves it in y (SIGMOID: in
// scalar after the store there).
static ALWAYS_INLINE __m512 act_all(__m512 v, ft_act act)
{
    if (act != FT_ACT_SIGMOID)
        return ft_act_zmm(v, act);
    float t[16] __attribute__((aligned(64)));
    _mm512_store_ps(t, v);
    for (int i = 0; i < 16; i++)
        t[i] = ft_act_apply(t[i], act);
    return _mm512_load_ps(t);
}

// Output (oy, ox) of one block before the activation, as rows_act computes
// it: a 3x3 window with row3x3's rules (a row outside the input read from
// one inside, its weights zero; columns outside zero), else pixel_general.
static __m512 out_any(const ft_conv_geom *g, const float *x, const float *w, __m512 b,
                      int32_t oy, int32_t ox, int32_t cb, __mmask16 m, bool full)
{
    if (g->kh != 3 || g->kw != 3)
        return pixel_general(g, x, w, b, oy, ox, cb, m, full);
    size_t c = (size_t)g->c_in, rs = (size_t)g->in_w * c;
    int32_t iy0 = oy * g->stride - g->pad_top;
    int32_t valid = iy0 + 1 >= 0 && iy0 + 1 < g->in_h ? iy0 + 1 : iy0 >= 0 ? iy0 : iy0 + 2;
    __m512 wv[9];
    const float *rp[3];
    for (int t = 0; t < 3; t++) {
        int32_t iy = iy0 + t;
        bool in = iy >= 0 && iy < g->in_h;
        rp[t] = x + (size_t)(in ? iy : valid) * rs + cb;
        for (int k = 0; k < 3; k++)
            wv[3 * t + k] = in ? load(w + (size_t)(3 * t + k) * c + cb, m, full)
                               : _mm512_setzero_ps();
    }
    rows3 r = {rp[0], rp[1], rp[2], g->in_w, c, m, full};
    int32_t ix = ox * g->stride - g->pad_left;
    return window3x3(column(&r, ix), column(&r, ix + 1), column(&r, ix + 2), wv, b);
}

// One pooled row of one block, any geometry (the map's top and bottom
// rows, other kernel sizes and strides, SIGMOID): output by output.
static void pooled_row_any(const ft_conv_geom *g, const float *x, const float *w,
                           const float *bias, ft_act act, float *y, int32_t py, int32_t cb,
                           bool full)
{
    size_t c = (size_t)g->c_in;
    int nc = g->c_in - cb < 16 ? g->c_in - cb : 16;
    __mmask16 m = (__mmask16)((1u << nc) - 1);
    __m512 b = bias ? load(bias + cb, m, full) : _mm512_setzero_ps();
    int32_t pw = g->out_w / 2, oy = 2 * py;
    float *yp = y + (size_t)py * pw * c + cb;
    for (int32_t px = 0, ox = 0; px < pw; px++, ox += 2, yp += c) {
        __m512 a0 = act_all(out_any(g, x, w, b, oy, ox, cb, m, full), act);
        __m512 a1 = act_all(out_any(g, x, w, b, oy, ox + 1, cb, m, full), act);
        __m512 b0 = act_all(out_any(g, x, w, b, oy + 1, ox, cb, m, full), act);
        __m512 b1 = act_all(out_any(g, x, w, b, oy + 1, ox + 1, cb, m, full), act);
        store(yp, pool4(a0, a1, b0, b1), m, full, FT_ACT_NONE, nc);
    }
}

typedef struct col4 {
    __m512 r0, r1, r2, r3;
} col4;

static ALWAYS_INLINE col4 column4(const float *const *q, int32_t ix, int32_t in_w, size_t c,
                                  __mmask16 m, bool full)
{
    if ((uint32_t)ix >= (uint32_t)in_w) {
        __m512 z = _mm512_setzero_ps();
        return (col4){z, z, z, z};
    }
    size_t o = (size_t)ix * c;
    return (col4){load(q[0] + o, m, full), load(q[1] + o, m, full), load(q[2] + o, m, full),
                  load(q[3] + o, m, full)};
}

// One pooled row of one block, 3x3 stride 1, output rows oy = 2 py and
// oy + 1 reading input rows iy0 .. iy0 + 3: as row3x3_pair, each input
// column loaded once (four rows) for the two output rows, two new columns
// per pooled output; the two input rows the next pooled row adds are
// prefetched. `border`: row iy0 may be the row above the map (-1) and row
// iy0 + 3 the row below it; as in row3x3, such a row is read from the
// window's middle row (rows 0 resp. iy0 + 2) with its three weights zero,
// for the output row whose window it is in (oy resp. oy + 1).
static ALWAYS_INLINE void pooled_row_pair(const ft_conv_geom *g, const float *x, const float *w,
                                          const float *bias, ft_act act, float *y, int32_t py,
                                          int32_t cb, bool full, const bool border)
{
    size_t c = (size_t)g->c_in, rs = (size_t)g->in_w * c;
    int nc = g->c_in - cb < 16 ? g->c_in - cb : 16;
    __mmask16 m = (__mmask16)((1u << nc) - 1);
    __m512 b = bias ? load(bias + cb, m, full) : _mm512_setzero_ps();
    int32_t iy0 = 2 * py - g->pad_top, pw = g->out_w / 2;
    __m512 wa[9], wb[9];
    for (int k = 0; k < 9; k++)
        wa[k] = load(w + (size_t)k * c + cb, m, full);
    const float *q[4];
    for (int t = 1; t < 3; t++)
        q[t] = x + (size_t)(iy0 + t) * rs + cb;
    q[0] = iy0 >= 0 ? q[1] - rs : q[1];
    q[3] = q[2] + rs;
    if (border) {
        for (int k = 0; k < 9; k++)
            wb[k] = wa[k];
        if (iy0 < 0) {
            q[0] = q[1];
            wa[0] = wa[1] = wa[2] = _mm512_setzero_ps();
        }
        if (iy0 + 3 >= g->in_h) {
            q[3] = q[2];
            wb[6] = wb[7] = wb[8] = _mm512_setzero_ps();
        }
    }
    const __m512 *wv = wa, *wvb = border ? wb : wa;
    float *yp = y + (size_t)py * pw * c + cb;
    ahead pa = {NULL, 0, 0};
    int32_t nr = g->in_h - (iy0 + 4) < 2 ? g->in_h - (iy0 + 4) : 2;
    if (nr > 0 && pw > 0) {
        size_t outs = (size_t)pw * (size_t)((g->c_in + 15) / 16);
        pa.p = (const char *)(x + (size_t)(iy0 + 4) * rs);
        pa.lines = (size_t)nr * rs / 16;
        pa.per = (int32_t)((pa.lines + outs - 1) / outs);
    }
    size_t u = (size_t)(cb / 16) * (size_t)pw;
    int32_t ix = -g->pad_left;
    col4 l = column4(q, ix, g->in_w, c, m, full);
    col4 mi = column4(q, ix + 1, g->in_w, c, m, full);
    for (int32_t px = 0; px < pw; px++, yp += c, ix += 2) {
        prefetch_ahead(&pa, u + (size_t)px);
        col4 r1 = column4(q, ix + 2, g->in_w, c, m, full);
        __m512 a0 = window3x3((col3){l.r0, l.r1, l.r2}, (col3){mi.r0, mi.r1, mi.r2},
                              (col3){r1.r0, r1.r1, r1.r2}, wv, b);
        __m512 b0 = window3x3((col3){l.r1, l.r2, l.r3}, (col3){mi.r1, mi.r2, mi.r3},
                              (col3){r1.r1, r1.r2, r1.r3}, wvb, b);
        col4 r2 = column4(q, ix + 3, g->in_w, c, m, full);
        __m512 a1 = window3x3((col3){mi.r0, mi.r1, mi.r2}, (col3){r1.r0, r1.r1, r1.r2},
                              (col3){r2.r0, r2.r1, r2.r2}, wv, b);
        __m512 b1 = window3x3((col3){mi.r1, mi.r2, mi.r3}, (col3){r1.r1, r1.r2, r1.r3},
                              (col3){r2.r1, r2.r2, r2.r3}, wvb, b);
        store(yp,
              pool4(ft_act_zmm(a0, act), ft_act_zmm(a1, act), ft_act_zmm(b0, act),
                    ft_act_zmm(b1, act)),
              m, full, FT_ACT_NONE, nc);
        l = r1;
        mi = r2;
    }
}

static ALWAYS_INLINE void pooled_rows_act(const ft_conv_geom *g, const float *x, const float *w,
                                          const float *bias, ft_act act, float *y, int32_t py0,
                                          int32_t py1)
{
    int32_t c_full = g->c_in / 16 * 16;
    bool fast = g->kh == 3 && g->kw == 3 && g->stride == 1 && act != FT_ACT_SIGMOID;
    for (int32_t py = py0; py < py1; py++) {
        int32_t iy0 = 2 * py - g->pad_top;
        if (fast && iy0 >= 0 && iy0 + 3 < g->in_h) {
            for (int32_t cb = 0; cb < c_full; cb += 16)
                pooled_row_pair(g, x, w, bias, act, y, py, cb, true, false);
            if (c_full < g->c_in)
                pooled_row_pair(g, x, w, bias, act, y, py, c_full, false, false);
            continue;
        }
        // The map's first and last pooled rows of a same-padded layer.
        if (fast && iy0 >= -1 && iy0 + 3 <= g->in_h && g->in_h >= 2) {
            for (int32_t cb = 0; cb < c_full; cb += 16)
                pooled_row_pair(g, x, w, bias, act, y, py, cb, true, true);
            if (c_full < g->c_in)
                pooled_row_pair(g, x, w, bias, act, y, py, c_full, false, true);
            continue;
        }
        for (int32_t cb = 0; cb < c_full; cb += 16)
            pooled_row_any(g, x, w, bias, act, y, py, cb, true);
        if (c_full < g->c_in)
            pooled_row_any(g, x, w, bias, act, y, py, c_full, false);
    }
}

void ft_kern_dwconv2d_maxpool2_f32_avx512(const ft_conv_geom *g, const float *x, const float *w,
                                          const float *bias, ft_act act, float *y, int32_t py0,
                                          int32_t py1)
{
    switch (act) {
    case FT_ACT_RELU:
        pooled_rows_act(g, x, w, bias, FT_ACT_RELU, y, py0, py1);
        break;
    case FT_ACT_RELU6:
        pooled_rows_act(g, x, w, bias, FT_ACT_RELU6, y, py0, py1);
        break;
    case FT_ACT_LEAKY:
        pooled_rows_act(g, x, w, bias, FT_ACT_LEAKY, y, py0, py1);
        break;
    default:
        pooled_rows_act(g, x, w, bias, act, y, py0, py1);
        break;
    }
}

void ft_kern_dwconv2d_f32_avx512(const ft_conv_geom *g, const float *x, const float *w,
                                 const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1)
{
    // One copy of the loops per activation keeps the switch out of them.
    switch (act) {
    case FT_ACT_RELU:
        rows_act(g, x, w, bias, FT_ACT_RELU, y, oy0, oy1);
        break;
    case FT_ACT_RELU6:
        rows_act(g, x, w, bias, FT_ACT_RELU6, y, oy0, oy1);
        break;
    case FT_ACT_LEAKY:
        rows_act(g, x, w, bias, FT_ACT_LEAKY, y, oy0, oy1);
        break;
    case FT_ACT_SIGMOID:
        rows_act(g, x, w, bias, FT_ACT_SIGMOID, y, oy0, oy1);
        break;
    default:
        rows_act(g, x, w, bias, FT_ACT_NONE, y, oy0, oy1);
        break;
    }
}
