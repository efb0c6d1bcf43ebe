// Convolution and dense layers: weight preparation (GEMM packing) at
// creation, and forward passes that lower regular convolutions to the GEMM
// kernels (direct for 1x1 stride 1, blocked im2col otherwise; layers with
// few input channels, and 3x3 ones with more on outputs of 9 pixels or
// more, on the direct dconv2d kernel where the level has one)
// and run depthwise ones on the dwconv2d kernels, split over the context's
// threads.
#include "core/mem.h"
#include "nn/nn_internal.h"

#include <string.h>

struct ft_dense {
    int32_t n_in, n_out;
    ft_act act;
    float *bp;
    float *bias;
};

// ---- Geometry ----

ft_status ft_conv_geom_make(int32_t in_h, int32_t in_w, int32_t c_in, int32_t c_out, int32_t kh,
                            int32_t kw, int32_t stride, ft_pad pad, ft_conv_geom *g)
{
    if (in_h <= 0 || in_w <= 0 || c_in <= 0 || c_out <= 0 || kh <= 0 || kw <= 0 || stride <= 0)
        return FT_E_INVALID;
    int32_t out_h, out_w, pad_top = 0, pad_left = 0;
    if (pad == FT_PAD_SAME) {
        out_h = (int32_t)(((int64_t)in_h + stride - 1) / stride);
        out_w = (int32_t)(((int64_t)in_w + stride - 1) / stride);
        int64_t th = (int64_t)(out_h - 1) * stride + kh - in_h;
        int64_t tw = (int64_t)(out_w - 1) * stride + kw - in_w;
        pad_top = th > 0 ? (int32_t)(th / 2) : 0;
        pad_left = tw > 0 ? (int32_t)(tw / 2) : 0;
    } else if (pad == FT_PAD_VALID) {
        if (in_h < kh || in_w < kw)
            return FT_E_INVALID;
        out_h = (in_h - kh) / stride + 1;
        out_w = (in_w - kw) / stride + 1;
    } else {
        return FT_E_INVALID;
    }
    *g = (ft_conv_geom){.in_h = in_h,
                        .in_w = in_w,
                        .c_in = c_in,
                        .out_h = out_h,
                        .out_w = out_w,
                        .c_out = c_out,
                        .kh = kh,
                        .kw = kw,
                        .stride = stride,
                        .pad_top = pad_top,
                        .pad_left = pad_left};
    return FT_OK;
}

// ---- Layer creation ----

static float *bias_copy(const float *bias, int32_t n)
{
    size_t cap = ((size_t)n + FT_PGEMM_NR - 1) / FT_PGEMM_NR * FT_PGEMM_NR;
    float *b = ft_aligned_alloc(cap * sizeof(float));
    if (!b)
        return NULL;
    for (size_t i = 0; i < cap; i++)
        b[i] = bias && i < (size_t)n ? bias[i] : 0.0f;
    return b;
}

static bool act_valid(ft_act a)
{
    return a >= FT_ACT_NONE && a <= FT_ACT_SIGMOID;
}

ft_status ft_conv_new(const ft_conv_desc *d, const float *w, const float *bias, ft_conv **out)
{
    *out = NULL;
    if (d->kh <= 0 || d->kw <= 0 || d->c_in <= 0 || d->c_out <= 0 || d->stride <= 0 ||
        (d->pad != FT_PAD_SAME && d->pad != FT_PAD_VALID) || !act_valid(d->act) ||
        (d->depthwise && d->c_in != d->c_out) || d->kh > 64 || d->kw > 64)
        return FT_E_INVALID;
    ft_nn_init();
    size_t taps = (size_t)d->kh * (size_t)d->kw, k, count, bytes;
    if (!ft_size_mul(taps, (size_t)d->c_in, &k) || k > INT32_MAX)
        return FT_E_LIMIT;
    if (d->depthwise)
        count = k;
    else if ((count = ft_kern_pgemm_packed_count((int32_t)k, d->c_out)) == 0)
        return FT_E_LIMIT;
    if (!ft_size_mul(count, sizeof(float), &bytes))
        return FT_E_LIMIT;

    ft_conv *c = ft_calloc(1, sizeof *c);
    if (!c)
        return FT_E_NOMEM;
    c->d = *d;
    c->w = ft_aligned_alloc(bytes);
    c->bias = bias_copy(bias, d->c_out);
    if (!c->w || !c->bias) {
        ft_conv_free(c);
        return FT_E_NOMEM;
    }
    if (d->depthwise)
        memcpy(c->w, w, bytes);
    else
        ft_kern_pgemm_pack_b((int32_t)k, d->c_out, w, (size_t)d->c_out, c->w);
    *out = c;
    return FT_OK;
}

void ft_conv_free(ft_conv *c)
{
    if (!c)
        return;
    ft_aligned_free(c->w);
    ft_aligned_free(c->bias);
    ft_free(c);
}

const ft_conv_desc *ft_conv_get_desc(const ft_conv *c)
{
    return &c->d;
}

static ft_status conv_geom(const ft_conv *c, int32_t in_h, int32_t in_w, ft_conv_geom *g)
{
    return ft_conv_geom_make(in_h, in_w, c->d.c_in, c->d.c_out, c->d.kh, c->d.kw, c->d.stride,
                             c->d.pad, g);
}

ft_status ft_conv_out_shape(const ft_conv *c, int32_t in_h, int32_t in_w, int32_t *out_h,
                            int32_t *out_w)
{
    ft_conv_geom g;
    ft_status st = conv_geom(c, in_h, in_w, &g);
    if (st != FT_OK)
        return st;
    *out_h = g.out_h;
    *out_w = g.out_w;
    return FT_OK;
}

// ---- im2col ----

// Rows [row0, row0 + rows) of the im2col matrix of x: row r is output
// position r (oy = r / out_w, ox = r % out_w) and holds the kh x kw x c_in
// input patch in (ky, kx, ci) order, zeros for taps outside the input; the
// same order as HWIO weights seen as a [kh*kw*c_in][c_out] matrix.
void ft_nn__im2col(const ft_conv_geom *g, const float *x, int32_t row0, int32_t rows, float *buf)
{
    size_t k = (size_t)g->kh * g->kw * g->c_in, run = (size_t)g->c_in;
    size_t span = (size_t)g->kw * run; // one kernel row of the patch
    for (int32_t r = 0; r < rows; r++) {
        int32_t oy = (row0 + r) / g->out_w, ox = (row0 + r) % g->out_w;
        int32_t ix0 = ox * g->stride - g->pad_left;
        bool inside = ix0 >= 0 && ix0 + g->kw <= g->in_w;
        float *dst = buf + (size_t)r * k;
        for (int32_t ky = 0; ky < g->kh; ky++, dst += span) {
            int32_t iy = oy * g->stride - g->pad_top + ky;
            if (iy < 0 || iy >= g->in_h) {
                memset(dst, 0, span * sizeof(float));
                continue;
            }
            const float *row = x + (size_t)iy * g->in_w * run;
            if (inside) { // the kernel row is contiguous in HWC: one copy
                const float *src = row + (size_t)ix0 * run;
                // Constant sizes for the 3-channel first layers (3x3, 7x7)
                // inline the copy: a third of the SSD's L0 im2col time.
                if (span == 9)
                    memcpy(dst, src, 9 * sizeof(float));
                else if (span == 21)
                    memcpy(dst, src, 21 * sizeof(float));
                else
                    memcpy(dst, src, span * sizeof(float));
                continue;
            }
            // Pointers are formed for columns inside the input only (one
            // before the buffer would be undefined behaviour).
            for (int32_t kx = 0; kx < g->kw; kx++) {
                int32_t ix = ix0 + kx;
                if (ix < 0 || ix >= g->in_w)
                    memset(dst + kx * run, 0, run * sizeof(float));
                else
                    memcpy(dst + kx * run, row + (size_t)ix * run, run * sizeof(float));
            }
        }
    }
}

// ---- Threaded GEMM driver ----

typedef struct gemm_job {
    ft_kern_pgemm_fn gemm;
    ft_pgemm_args args;
    const ft_conv_geom *g; // im2col source geometry, NULL for a direct GEMM
    const float *x;
    float *buf;       // im2col: one block of `block` rows per thread
    size_t buf_pitch; // floats between two threads' blocks
    int32_t block;
    bool split_n;
} gemm_job;

static void gemm_slice(void *p, int ith, int nth)
{
    const gemm_job *j = p;
    const ft_pgemm_args *a = &j->args;
    long lo, hi;
    int32_t m0 = 0, m1 = a->m, n0 = 0, n1 = a->n;
    if (j->split_n) {
        long panels = (a->n + FT_PGEMM_NR - 1) / FT_PGEMM_NR;
        ft_pool_range(panels, ith, nth, &lo, &hi);
        n0 = (int32_t)lo * FT_PGEMM_NR;
        n1 = (int32_t)hi * FT_PGEMM_NR < a->n ? (int32_t)hi * FT_PGEMM_NR : a->n;
    } else {
        ft_pool_range(a->m, ith, nth, &lo, &hi);
        m0 = (int32_t)lo;
        m1 = (int32_t)hi;
    }
    if (m0 >= m1 || n0 >= n1)
        return;
    if (!j->g) {
        j->gemm(a, m0, m1, n0, n1);
        return;
    }
    float *buf = j->buf + (size_t)ith * j->buf_pitch;
    for (int32_t r = m0; r < m1; r += j->block) {
        int32_t rows = m1 - r < j->block ? m1 - r : j->block;
        ft_nn__im2col(j->g, j->x, r, rows, buf);
        ft_pgemm_args b = *a;
        b.a = buf;
        b.lda = (size_t)a->k;
        b.m = rows;
        b.c = a->c + (size_t)r * a->ldc;
        j->gemm(&b, 0, rows, n0, n1);
    }
}

// Splits over output rows when there are enough of them, else over column
// panels (small maps with many channels: the deep SSD and ResNet layers).
static bool prefer_split_n(int32_t m, int32_t n, int nth)
{
    int32_t panels = (n + FT_PGEMM_NR - 1) / FT_PGEMM_NR;
    return nth > 1 && m < 64 * nth && panels >= nth;
}

typedef struct dw_job {
    ft_kern_dwconv2d_fn fn;
    const ft_conv_geom *g;
    const float *x, *w, *bias;
    ft_act act;
    float *y;
} dw_job;

static void dw_slice(void *p, int ith, int nth)
{
    const dw_job *j = p;
    long lo, hi;
    ft_pool_range(j->g->out_h, ith, nth, &lo, &hi);
    if (lo < hi)
        j->fn(j->g, j->x, j->w, j->bias, j->act, j->y, (int32_t)lo, (int32_t)hi);
}

typedef struct dconv_job {
    ft_kern_dconv2d_fn fn;
    const ft_conv_geom *g;
    const float *x, *bp, *bias;
    ft_act act;
    float *y;
} dconv_job;

static void dconv_slice(void *p, int ith, int nth)
{
    const dconv_job *j = p;
    long lo, hi;
    ft_pool_range(j->g->out_h, ith, nth, &lo, &hi);
    if (lo < hi)
        j->fn(j->g, j->x, j->bp, j->bias, j->act, j->y, (int32_t)lo, (int32_t)hi);
}

static bool prefer_split_n(int32_t m, int32_t n, int nth);

// Layers with few input channels (the 3-channel first layers) take the
// direct kernel where the level has one: their im2col copy costs as much
// as a third of the layer (its k = kh*kw*c_in is small). So do k x k
// layers with more (the ResNet's 3x3 ones), reading each tap in place
// instead of copying the input ~kh*kw-fold: 35x35x32 -> 32 0.16 -> 0.13
// ms, 17x17x64 -> 64 0.135 -> 0.123; the 3x3x256 outputs 0.11 -> 0.09
// with weights out of L2 (docs/BENCHMARKS.md). Not on outputs of 2-8
// pixels (untried) or of one pixel that reads no padding (3-6 % slower
// than the GEMM); one pixel that does (a 3x3 SAME layer on a 1x1 map)
// skips the taps outside: 0.043 -> 0.004 ms for 256 -> 256. Nor where
// threads would rather split the columns (small maps: the rows are too few
// to share).
static bool dconv_fits(const ft_nn_kernels *kern, const ft_conv_geom *g, int nth)
{
    if (!kern->dconv2d || (g->kh == 1 && g->kw == 1))
        return false;
    if (g->c_in <= FT_DCONV_RUNS_MAX_CIN)
        return g->kh <= FT_DCONV_MAX_KH && g->kh * g->kw * g->c_in <= FT_DCONV_MAX_K;
    int32_t m = g->out_h * g->out_w;
    bool pads = g->pad_top > 0 || g->pad_left > 0 || (g->out_h - 1) * g->stride + g->kh > g->in_h ||
                (g->out_w - 1) * g->stride + g->kw > g->in_w;
    return g->c_in <= FT_DCONV_MAX_CIN && g->kh * g->kw <= FT_DCONV_MAX_TAPS &&
           (m >= 9 || (pads && m == 1)) && !prefer_split_n(m, g->c_out, nth);
}

static ft_status conv_run(ft_nn_ctx *ctx, const ft_conv *c, const ft_conv_geom *gp,
                          const ft_map *x, ft_map *y);

// xp [hp][wp][c_in] = x shifted by (pad_top, pad_left), zeros outside it.
static void pad_copy(const ft_conv_geom *g, const float *x, int32_t hp, int32_t wp, float *xp)
{
    size_t c = (size_t)g->c_in, row = (size_t)wp * c;
    int32_t a = g->pad_left, b = g->pad_left + g->in_w < wp ? g->pad_left + g->in_w : wp;
    for (int32_t py = 0; py < hp; py++) {
        float *d = xp + (size_t)py * row;
        int32_t iy = py - g->pad_top;
        if (iy < 0 || iy >= g->in_h || b <= a) {
            memset(d, 0, row * sizeof(float));
            continue;
        }
        memset(d, 0, (size_t)a * c * sizeof(float));
        memcpy(d + (size_t)a * c, x + (size_t)iy * g->in_w * c,
               (size_t)(b - a) * c * sizeof(float));
        memset(d + (size_t)b * c, 0, (size_t)(wp - b) * c * sizeof(float));
    }
}

ft_status ft_conv_forward(ft_nn_ctx *ctx, const ft_conv *c, const ft_map *x, ft_map *y)
{
    ft_conv_geom g;
    FT_ASSERT(x->d && y->d && x->d != y->d);
    if (x->c != c->d.c_in || conv_geom(c, x->h, x->w, &g) != FT_OK)
        return FT_E_INVALID;
    if (y->h < 1 || y->h > g.out_h || y->w != g.out_w || y->c != g.c_out)
        return FT_E_INVALID;
    g.out_h = y->h; // top rows only (nn.h); pad_top stays the full map's
    return conv_run(ctx, c, &g, x, y);
}

ft_status ft_conv_forward_pad(ft_nn_ctx *ctx, const ft_conv *c, const ft_map *x, int32_t pad_top,
                              int32_t pad_left, ft_map *y)
{
    FT_ASSERT(x->d && y->d && x->d != y->d);
    const ft_conv_desc *d = &c->d;
    if (x->c != d->c_in || y->c != d->c_out || x->h < 1 || x->w < 1 || y->h < 1 || y->w < 1 ||
        pad_top < 0 || pad_left < 0 || pad_top >= d->kh || pad_left >= d->kw)
        return FT_E_INVALID;
    // Every output row and column must read at least one input row/column.
    if ((int64_t)(y->h - 1) * d->stride - pad_top >= x->h ||
        (int64_t)(y->w - 1) * d->stride - pad_left >= x->w)
        return FT_E_INVALID;
    // 1x1 stride 1 runs as a GEMM on x itself: rows must line up.
    if (d->kh == 1 && d->kw == 1 && d->stride == 1 && (y->w != x->w || y->h > x->h))
        return FT_E_INVALID;
    ft_conv_geom g = {.in_h = x->h,
                      .in_w = x->w,
                      .c_in = d->c_in,
                      .out_h = y->h,
                      .out_w = y->w,
                      .c_out = d->c_out,
                      .kh = d->kh,
                      .kw = d->kw,
                      .stride = d->stride,
                      .pad_top = pad_top,
                      .pad_left = pad_left};
    return conv_run(ctx, c, &g, x, y);
}

static ft_status conv_run(ft_nn_ctx *ctx, const ft_conv *c, const ft_conv_geom *gp,
                          const ft_map *x, ft_map *y)
{
    ft_conv_geom g = *gp;
    const ft_nn_kernels *kern = ctx->kern;
    int nth = ctx->n_threads;

    if (c->d.depthwise) {
        dw_job j = {kern->dwconv2d, &g, x->d, c->w, c->bias, c->d.act, y->d};
        ft_pool_run(nth > 1 && g.out_h > 1 ? ctx->pool : NULL, dw_slice, &j);
        return FT_OK;
    }

    if (dconv_fits(kern, &g, nth)) {
        const float *xd = x->d;
        if (g.c_in > FT_DCONV_RUNS_MAX_CIN && g.out_w >= FT_DCONV_ROWS_MIN_W &&
            (g.pad_top > 0 || g.pad_left > 0 || (g.out_h - 1) * g.stride + g.kh > g.in_h ||
             (g.out_w - 1) * g.stride + g.kw > g.in_w)) {
            // A zero-padded copy of the rows read (one copy of the input,
            // not kh*kw): every tap then lies inside, and the kernel runs
            // its row tiles.
            int32_t hp = (g.out_h - 1) * g.stride + g.kh, wp = (g.out_w - 1) * g.stride + g.kw;
            size_t bytes;
            if (!ft_size_mul((size_t)hp * (size_t)wp, (size_t)g.c_in * sizeof(float), &bytes))
                return FT_E_LIMIT;
            float *xp = ft_nn__scratch(ctx, bytes);
            if (!xp)
                return FT_E_NOMEM;
            pad_copy(&g, x->d, hp, wp, xp);
            g.in_h = hp;
            g.in_w = wp;
            g.pad_top = g.pad_left = 0;
            xd = xp;
        }
        dconv_job j = {kern->dconv2d, &g, xd, c->w, c->bias, c->d.act, y->d};
        ft_pool_run(nth > 1 && g.out_h > 1 ? ctx->pool : NULL, dconv_slice, &j);
        return FT_OK;
    }

    int32_t m = g.out_h * g.out_w, k = g.kh * g.kw * g.c_in;
    gemm_job j = {.gemm = kern->pgemm,
                  .args = {.m = m,
                           .n = g.c_out,
                           .k = k,
                           .a = x->d,
                           .lda = (size_t)g.c_in,
                           .bp = c->w,
                           .bias = c->bias,
                           .c = y->d,
                           .ldc = (size_t)g.c_out,
                           .act = c->d.act}};
    j.split_n = prefer_split_n(m, g.c_out, nth);
    bool direct = g.kh == 1 && g.kw == 1 && g.stride == 1;
    if (!direct) {
        // Blocks of ~192 KiB stay in L2 while the GEMM sweeps them; a
        // multiple of 42 rows keeps whole 14- and 6-row micro-tiles.
        int32_t block = 49152 / k;
        block = block < 42 ? 42 : block > 4200 ? 4200 : block / 42 * 42;
        int32_t per = (int32_t)((m + nth - 1) / nth);
        if (j.split_n)
            per = m;
        if (block > per)
            block = per;
        size_t pitch = (size_t)block * k + 16, bytes;
        if (!ft_size_mul(pitch, (size_t)nth * sizeof(float), &bytes))
            return FT_E_LIMIT;
        j.buf = ft_nn__scratch(ctx, bytes);
        if (!j.buf)
            return FT_E_NOMEM;
        j.g = &g;
        j.x = x->d;
        j.buf_pitch = pitch;
        j.block = block;
    }
    ft_pool_run(nth > 1 ? ctx->pool : NULL, gemm_slice, &j);
    return FT_OK;
}

// ---- Dense ----

ft_status ft_dense_new(int32_t n_in, int32_t n_out, const float *w, const float *bias, ft_act act,
                       ft_dense **out)
{
    size_t count, bytes;
    *out = NULL;
    if (n_in <= 0 || n_out <= 0 || !act_valid(act))
        return FT_E_INVALID;
    if ((count = ft_kern_pgemm_packed_count(n_in, n_out)) == 0 ||
        !ft_size_mul(count, sizeof(float), &bytes))
        return FT_E_LIMIT;
    ft_nn_init();
    ft_dense *d = ft_calloc(1, sizeof *d);
    if (!d)
        return FT_E_NOMEM;
    d->n_in = n_in;
    d->n_out = n_out;
    d->act = act;
    d->bp = ft_aligned_alloc(bytes);
    d->bias = bias_copy(bias, n_out);
    if (!d->bp || !d->bias) {
        ft_dense_free(d);
        return FT_E_NOMEM;
    }
    ft_kern_pgemm_pack_b(n_in, n_out, w, (size_t)n_out, d->bp);
    *out = d;
    return FT_OK;
}

void ft_dense_free(ft_dense *d)
{
    if (!d)
        return;
    ft_aligned_free(d->bp);
    ft_aligned_free(d->bias);
    ft_free(d);
}

void ft_dense_forward(ft_nn_ctx *ctx, const ft_dense *d, const float *x, float *y)
{
    const ft_nn_kernels *kern = ctx ? ctx->kern : ft_nn__kernels();
    ft_pgemm_args a = {.m = 1,
                       .n = d->n_out,
                       .k = d->n_in,
                       .a = x,
                       .lda = (size_t)d->n_in,
                       .bp = d->bp,
                       .bias = d->bias,
                       .c = y,
                       .ldc = (size_t)d->n_out,
                       .act = d->act};
    kern->pgemm(&a, 0, 1, 0, d->n_out);
}
