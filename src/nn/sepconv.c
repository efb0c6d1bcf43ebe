// Fused depthwise-separable layer (nn.h ft_sepconv_forward): each thread
// takes a range of output rows and walks it in bands. A band's depthwise
// output goes to a per-thread workspace of ~SEP_BAND_BYTES, small enough to
// stay in L2, and the pointwise GEMM reads it from there while it is hot.
// The GEMM runs on whole multiples of SEP_GRANULE positions; the few left
// over are moved to the front of the workspace and join the next band, so
// micro-tiles stay full (the last positions of a range go as they are).
//
// The depthwise kernel writes a band into the workspace through a shifted
// geometry: the same columns and padding, the input starting at the band's
// first input row. The kernels then take the same interior/border paths as
// on the whole map, and the GEMM sums each element in the same order as on
// a full matrix, so the result is the unfused one bit for bit.
#include "core/mem.h"
#include "nn/nn_internal.h"

#include <string.h>

// Workspace per thread; measured on Zen 4 (1 MiB L2) with the SSD shapes.
#define SEP_BAND_BYTES (128 * 1024)
// Multiple of the AVX-512 (14) and AVX2 (6) micro-kernel heights.
#define SEP_GRANULE 42

typedef struct sep_job {
    const ft_nn_kernels *kern;
    const ft_conv *dw, *pw;
    const ft_conv_geom *g; // the depthwise geometry
    const float *x;
    float *y;
    float *ws;       // nth workspaces, `pitch` floats apart
    size_t pitch;
    int32_t cap;     // positions one workspace holds (>= out_w + SEP_GRANULE)
    int32_t x_row0, x_end; // x holds input rows [x_row0, x_end) of g's input
    int32_t y_row0, y_h;   // y holds output rows [y_row0, y_row0 + y_h) of g's output
} sep_job;

// Depthwise output rows [oy0, oy0 + rows) of geometry g into dst
// ([rows][out_w][c]); x holds rows [x_row0, x_end) of the input map
// (x_row0 > 0 only when the band needs no row above it; rows from x_end on
// are never needed by the band). The kernel is told only those rows exist:
// it may read (prefetch) any row it is given.
static void dw_rows(const ft_nn_kernels *kern, const ft_conv *dw, const ft_conv_geom *g,
                    const float *x, int32_t x_row0, int32_t x_end, int32_t oy0, int32_t rows,
                    float *dst)
{
    ft_conv_geom b = *g;
    int32_t off = oy0 * g->stride - g->pad_top; // first input row of the band
    int32_t end = x_end < g->in_h ? x_end : g->in_h;
    if (off >= 0) {
        FT_ASSERT(off >= x_row0 && end > off);
        x += (size_t)(off - x_row0) * g->in_w * g->c_in;
        b.in_h = end - off;
        b.pad_top = 0;
    } else {
        FT_ASSERT(x_row0 == 0);
        b.in_h = end;
        b.pad_top = -off;
    }
    b.out_h = rows;
    kern->dwconv2d(&b, x, dw->w, dw->bias, dw->d.act, dst, 0, rows);
}

static void dw_band(const sep_job *j, int32_t oy0, int32_t rows, float *dst)
{
    dw_rows(j->kern, j->dw, j->g, j->x, j->x_row0, j->x_end, oy0, rows, dst);
}

static void sep_slice(void *p, int ith, int nth)
{
    const sep_job *j = p;
    const ft_conv_geom *g = j->g;
    long lo, hi;
    ft_pool_range(j->y_h, ith, nth, &lo, &hi);
    if (lo >= hi)
        return;
    size_t c = (size_t)g->c_out, n = (size_t)j->pw->d.c_out;
    float *ws = j->ws + (size_t)ith * j->pitch;
    ft_pgemm_args a = {.n = j->pw->d.c_out,
                       .k = j->pw->d.c_in,
                       .a = ws,
                       .lda = c,
                       .bp = j->pw->w,
                       .bias = j->pw->bias,
                       .ldc = n,
                       .act = j->pw->d.act};
    int32_t have = 0; // positions in the workspace not yet multiplied
    size_t done = (size_t)lo * g->out_w; // first position not yet written
    for (int32_t oy = (int32_t)lo; oy < hi;) {
        int32_t rows = (j->cap - have) / g->out_w;
        if (rows > hi - oy)
            rows = (int32_t)hi - oy;
        dw_band(j, j->y_row0 + oy, rows, ws + (size_t)have * c);
        oy += rows;
        have += rows * g->out_w;
        int32_t m = oy == hi ? have : have / SEP_GRANULE * SEP_GRANULE;
        if (m == 0)
            continue;
        a.m = m;
        a.c = j->y + done * n;
        j->kern->pgemm(&a, 0, m, 0, a.n);
        done += (size_t)m;
        have -= m;
        if (have > 0)
            memmove(ws, ws + (size_t)m * c, (size_t)have * c * sizeof(float));
    }
}

// Input rows [*lo, *hi) that output rows [o0, o1) of g read (clipped to
// the map; o0 < o1).
static void rows_read(const ft_conv_geom *g, int32_t o0, int32_t o1, int32_t *lo, int32_t *hi)
{
    int64_t l = (int64_t)o0 * g->stride - g->pad_top;
    int64_t u = (int64_t)(o1 - 1) * g->stride - g->pad_top + g->kh;
    *lo = l < 0 ? 0 : l > g->in_h ? g->in_h : (int32_t)l;
    *hi = u > g->in_h ? g->in_h : u < *lo ? *lo : (int32_t)u;
}

// A band's rows: x holds rows [x_row0, x_row0 + x->h) of an input of in_h
// rows; FT_E_INVALID unless those are rows of the map.
static bool band_ok(const ft_map *x, int32_t x_row0, int32_t in_h)
{
    return x->h >= 1 && x_row0 >= 0 && in_h >= 1 && x_row0 <= in_h - x->h;
}

ft_status ft_sepconv_forward(ft_nn_ctx *ctx, const ft_conv *dw, const ft_conv *pw, const ft_map *x,
                             ft_map *y)
{
    return ft_sepconv_forward_rows(ctx, dw, pw, x, 0, x->h, 0, y);
}

ft_status ft_sepconv_forward_rows(ft_nn_ctx *ctx, const ft_conv *dw, const ft_conv *pw,
                                  const ft_map *x, int32_t x_row0, int32_t in_h, int32_t y_row0,
                                  ft_map *y)
{
    ft_conv_geom g;
    FT_ASSERT(x->d && y->d && x->d != y->d);
    const ft_conv_desc *dd = &dw->d, *pd = &pw->d;
    if (!dd->depthwise || pd->depthwise || pd->kh != 1 || pd->kw != 1 || pd->stride != 1 ||
        pd->c_in != dd->c_out || x->c != dd->c_in || !band_ok(x, x_row0, in_h))
        return FT_E_INVALID;
    if (ft_conv_geom_make(in_h, x->w, dd->c_in, dd->c_out, dd->kh, dd->kw, dd->stride, dd->pad,
                          &g) != FT_OK)
        return FT_E_INVALID;
    if (y->h < 1 || y_row0 < 0 || y_row0 > g.out_h - y->h || y->w != g.out_w ||
        y->c != pd->c_out)
        return FT_E_INVALID;
    int32_t lo, hi;
    rows_read(&g, y_row0, y_row0 + y->h, &lo, &hi);
    if (lo < x_row0 || hi > x_row0 + x->h)
        return FT_E_INVALID;

    size_t cap = SEP_BAND_BYTES / sizeof(float) / (size_t)g.c_out;
    if (cap < (size_t)g.out_w + SEP_GRANULE)
        cap = (size_t)g.out_w + SEP_GRANULE;
    if (cap > INT32_MAX)
        return FT_E_LIMIT;
    int nth = ctx->n_threads;
    // Workspaces 64-byte aligned, with 16 spare floats: the GEMM may read
    // a vector past the last row.
    size_t pitch, bytes;
    if (!ft_size_mul(cap, (size_t)g.c_out, &pitch) || pitch > SIZE_MAX - 32)
        return FT_E_LIMIT;
    pitch = (pitch + 16 + 15) / 16 * 16;
    if (!ft_size_mul(pitch, (size_t)nth * sizeof(float), &bytes))
        return FT_E_LIMIT;
    sep_job j = {.kern = ctx->kern,
                 .dw = dw,
                 .pw = pw,
                 .g = &g,
                 .x = x->d,
                 .y = y->d,
                 .ws = ft_nn__scratch(ctx, bytes),
                 .pitch = pitch,
                 .cap = (int32_t)cap,
                 .x_row0 = x_row0,
                 .x_end = x_row0 + x->h,
                 .y_row0 = y_row0,
                 .y_h = y->h};
    if (!j.ws)
        return FT_E_NOMEM;
    ft_pool_run(nth > 1 && y->h > 1 ? ctx->pool : NULL, sep_slice, &j);
    return FT_OK;
}

// ---- Two pairs in a chain (ft_sepconv2_forward) ----
//
// Each thread takes a range of final output rows and walks it in bands of
// up to r2 rows. A band needs intermediate rows [a, b) (the rows dw2's taps
// reach); the buffer `mid` holds rows [m_lo, m_hi) of that map: rows below a
// are dropped (the rest moved to the front), rows up to b are computed by
// dw1 into ws1 and pw1's GEMM straight into `mid`. dw2 then runs on `mid`
// through a shifted geometry into ws2 and pw2's GEMM writes y, with ws2's
// positions carried between bands as in sep_slice.
//
// With the caller's ring (ft_sepconv2_forward_kept, one thread), `mid` is
// that ring instead: intermediate row r sits at row r mod n, so rows below
// a are dropped without moving the rest, and the rows the ring already
// holds from the call on the band below are not computed again.

// Ring size target; measured on Zen 4 (1 MiB L2) with the SSD shapes.
#define CHAIN_MID_BYTES (320 * 1024)

typedef struct chain_job {
    const ft_nn_kernels *kern;
    const ft_conv *dw1, *pw1, *dw2, *pw2;
    ft_conv_geom g1, g2; // depthwise geometries; g2's input is pw1's output
    const float *x;
    float *y;
    float *ws; // nth workspaces of `pitch` floats: ws1 | mid | ws2
    size_t pitch, off_mid, off_ws2;
    int32_t r2;   // final rows per band
    int32_t cap2; // positions ws2 holds (r2 * out_w + SEP_GRANULE)
    int32_t x_row0, x_end; // x holds input rows [x_row0, x_end) of g1's input
    int32_t y_row0, y_h;   // y holds output rows [y_row0, y_row0 + y_h) of g2's output
    float *ring;           // the caller's ring (then one thread) or NULL
    int32_t ring_n;        // its rows
    int32_t k_lo, k_hi;    // intermediate rows it holds on entry (k_lo == k_hi: none)
    int64_t kept;          // out: rows taken from it instead of computed
} chain_job;

// Intermediate rows [r0, r1) (dw1 into ws1, pw1's GEMM into dst).
static void mid_rows(const chain_job *j, ft_pgemm_args *a1, float *ws1, int32_t r0, int32_t r1,
                     float *dst)
{
    dw_rows(j->kern, j->dw1, &j->g1, j->x, j->x_row0, j->x_end, r0, r1 - r0, ws1);
    a1->m = (r1 - r0) * j->g1.out_w;
    a1->c = dst;
    j->kern->pgemm(a1, 0, a1->m, 0, a1->n);
}

// Where intermediate row r goes in `mid`, which holds rows from m_lo on.
static float *at_row(const chain_job *j, float *mid, int32_t m_lo, int32_t r, size_t rowm)
{
    if (j->ring)
        return j->ring + (size_t)(r % j->ring_n) * rowm;
    return mid + (size_t)(r - m_lo) * rowm;
}

static void chain_slice(void *p, int ith, int nth)
{
    chain_job *j = p;
    const ft_conv_geom *g1 = &j->g1, *g2 = &j->g2;
    long lo, hi;
    ft_pool_range(j->y_h, ith, nth, &lo, &hi);
    if (lo >= hi)
        return;
    size_t done = (size_t)lo * g2->out_w; // y is local: its row 0 is output row y_row0
    lo += j->y_row0;
    hi += j->y_row0;
    float *ws1 = j->ws + (size_t)ith * j->pitch, *mid = ws1 + j->off_mid, *ws2 = ws1 + j->off_ws2;
    size_t cm = (size_t)g2->c_in, n = (size_t)j->pw2->d.c_out;
    size_t rowm = (size_t)g1->out_w * cm; // floats in one intermediate row
    ft_pgemm_args a1 = {.n = j->pw1->d.c_out,
                        .k = j->pw1->d.c_in,
                        .a = ws1,
                        .lda = (size_t)g1->c_out,
                        .bp = j->pw1->w,
                        .bias = j->pw1->bias,
                        .ldc = cm,
                        .act = j->pw1->d.act};
    ft_pgemm_args a2 = {.n = j->pw2->d.c_out,
                        .k = j->pw2->d.c_in,
                        .a = ws2,
                        .lda = cm,
                        .bp = j->pw2->w,
                        .bias = j->pw2->bias,
                        .ldc = n,
                        .act = j->pw2->d.act};
    bool ring = j->ring != NULL;
    int64_t kept = 0;
    int32_t m_lo = 0, m_hi = 0; // intermediate rows held in mid
    int32_t have = 0;           // positions in ws2 not yet multiplied
    for (int32_t oy = (int32_t)lo; oy < hi;) {
        int32_t rows = (j->cap2 - have) / g2->out_w;
        if (rows > j->r2)
            rows = j->r2;
        if (rows > hi - oy)
            rows = (int32_t)hi - oy;
        int32_t a = oy * g2->stride - g2->pad_top;
        int32_t b = (oy + rows - 1) * g2->stride - g2->pad_top + g2->kh;
        a = a < 0 ? 0 : a > g2->in_h ? g2->in_h : a;
        b = b < a ? a : b > g2->in_h ? g2->in_h : b;
        if (a >= m_hi) {
            m_lo = m_hi = a;
        } else if (a > m_lo) {
            if (!ring)
                memmove(mid, mid + (size_t)(a - m_lo) * rowm,
                        (size_t)(m_hi - a) * rowm * sizeof(float));
            m_lo = a;
        }
        if (b > m_hi) {
            // Rows [m_hi, b), but for those the ring holds, [k_lo, k_hi).
            int32_t u = b < j->k_lo ? b : j->k_lo, v = m_hi > j->k_hi ? m_hi : j->k_hi;
            if (u > m_hi)
                mid_rows(j, &a1, ws1, m_hi, u, at_row(j, mid, m_lo, m_hi, rowm));
            if (b > v)
                mid_rows(j, &a1, ws1, v, b, at_row(j, mid, m_lo, v, rowm));
            int32_t k0 = m_hi > j->k_lo ? m_hi : j->k_lo, k1 = b < j->k_hi ? b : j->k_hi;
            kept += k1 > k0 ? k1 - k0 : 0;
            m_hi = b;
        }
        dw_rows(j->kern, j->dw2, g2, at_row(j, mid, m_lo, m_lo, rowm), m_lo, m_hi, oy, rows,
                ws2 + (size_t)have * cm);
        oy += rows;
        have += rows * g2->out_w;
        int32_t m = oy == hi ? have : have / SEP_GRANULE * SEP_GRANULE;
        if (m == 0)
            continue;
        a2.m = m;
        a2.c = j->y + done * n;
        j->kern->pgemm(&a2, 0, m, 0, a2.n);
        done += (size_t)m;
        have -= m;
        if (have > 0)
            memmove(ws2, ws2 + (size_t)m * cm, (size_t)have * cm * sizeof(float));
    }
    if (ring)
        j->kept = kept;
}

// The depthwise geometry of a valid (dw, pw) pair on an h x w x c input.
static ft_status pair_geom(const ft_conv *dw, const ft_conv *pw, int32_t h, int32_t w, int32_t c,
                           ft_conv_geom *g)
{
    const ft_conv_desc *dd = &dw->d, *pd = &pw->d;
    if (!dd->depthwise || pd->depthwise || pd->kh != 1 || pd->kw != 1 || pd->stride != 1 ||
        pd->c_in != dd->c_out || c != dd->c_in)
        return FT_E_INVALID;
    if (ft_conv_geom_make(h, w, dd->c_in, dd->c_out, dd->kh, dd->kw, dd->stride, dd->pad, g) !=
        FT_OK)
        return FT_E_INVALID;
    return FT_OK;
}

// Floats for n items rounded up to 16 (64 bytes), with 16 spare.
static bool padded(size_t items, size_t per, size_t *out)
{
    size_t f;
    if (!ft_size_mul(items, per, &f) || f > SIZE_MAX / 8)
        return false;
    *out = (f + 16 + 15) / 16 * 16;
    return true;
}

ft_status ft_sepconv2_forward(ft_nn_ctx *ctx, const ft_conv *dw1, const ft_conv *pw1,
                              const ft_conv *dw2, const ft_conv *pw2, const ft_map *x, ft_map *y)
{
    return ft_sepconv2_forward_rows(ctx, dw1, pw1, dw2, pw2, x, 0, x->h, 0, y);
}

ft_status ft_sepconv2_forward_rows(ft_nn_ctx *ctx, const ft_conv *dw1, const ft_conv *pw1,
                                   const ft_conv *dw2, const ft_conv *pw2, const ft_map *x,
                                   int32_t x_row0, int32_t in_h, int32_t y_row0, ft_map *y)
{
    return ft_sepconv2_forward_kept(ctx, dw1, pw1, dw2, pw2, x, x_row0, in_h, y_row0, y, NULL);
}

ft_status ft_sepconv2_forward_kept(ft_nn_ctx *ctx, const ft_conv *dw1, const ft_conv *pw1,
                                   const ft_conv *dw2, const ft_conv *pw2, const ft_map *x,
                                   int32_t x_row0, int32_t in_h, int32_t y_row0, ft_map *y,
                                   ft_sep2_keep *keep)
{
    FT_ASSERT(x->d && y->d && x->d != y->d);
    chain_job j = {.kern = ctx->kern, .dw1 = dw1, .pw1 = pw1, .dw2 = dw2, .pw2 = pw2};
    if (!band_ok(x, x_row0, in_h) || pair_geom(dw1, pw1, in_h, x->w, x->c, &j.g1) != FT_OK ||
        pair_geom(dw2, pw2, j.g1.out_h, j.g1.out_w, pw1->d.c_out, &j.g2) != FT_OK)
        return FT_E_INVALID;
    const ft_conv_geom *g1 = &j.g1, *g2 = &j.g2;
    if (y->h < 1 || y_row0 < 0 || y_row0 > g2->out_h - y->h || y->w != g2->out_w ||
        y->c != pw2->d.c_out)
        return FT_E_INVALID;
    // The intermediate rows the band reads, and the input rows those read.
    int32_t ma, mb, lo, hi;
    rows_read(g2, y_row0, y_row0 + y->h, &ma, &mb);
    if (ma >= mb)
        return FT_E_INVALID;
    rows_read(g1, ma, mb, &lo, &hi);
    if (lo < x_row0 || hi > x_row0 + x->h)
        return FT_E_INVALID;
    j.x_row0 = x_row0;
    j.x_end = x_row0 + x->h;
    j.y_row0 = y_row0;
    j.y_h = y->h;

    // Rows of the ring: the taps of r2 final rows, r2 as large as the
    // target allows (at least 1).
    size_t rowm = (size_t)g1->out_w * (size_t)g2->c_in;
    size_t fit = CHAIN_MID_BYTES / sizeof(float) / rowm;
    int32_t kh = g2->kh, s = g2->stride;
    int32_t r2 = fit > (size_t)kh ? (int32_t)((fit - (size_t)kh) / (size_t)s) + 1 : 1;
    if (r2 > y->h)
        r2 = y->h;
    int32_t ring = (r2 - 1) * s + kh; // intermediate rows a band can need
    if (ring > g2->in_h)
        ring = g2->in_h;
    size_t n1, nm, n2;
    if ((size_t)g2->out_w > (size_t)(INT32_MAX - SEP_GRANULE) / (size_t)r2)
        return FT_E_LIMIT;
    j.r2 = r2;
    j.cap2 = r2 * g2->out_w + SEP_GRANULE;
    if (!padded((size_t)ring * g1->out_w, (size_t)g1->c_out, &n1) ||
        !padded((size_t)ring * g1->out_w, (size_t)g2->c_in, &nm) ||
        !padded((size_t)j.cap2, (size_t)g2->c_in, &n2) || n1 + nm > SIZE_MAX / 4 - n2)
        return FT_E_LIMIT;
    j.off_mid = n1;
    j.off_ws2 = n1 + nm;
    j.pitch = n1 + nm + n2;
    int nth = ctx->n_threads;
    size_t bytes;
    if (!ft_size_mul(j.pitch, (size_t)nth * sizeof(float), &bytes))
        return FT_E_LIMIT;
    j.x = x->d;
    j.y = y->d;
    j.ws = ft_nn__scratch(ctx, bytes);
    if (!j.ws)
        return FT_E_NOMEM;
    // The caller's ring when one thread runs the call and the ring holds
    // every intermediate row it reads: rows [ma, mb) then have rows of their
    // own, and those it holds from the band below stay until read.
    if (keep && nth == 1 && keep->ring && keep->n >= mb - ma) {
        j.ring = keep->ring;
        j.ring_n = keep->n;
        if (keep->lo < keep->hi) {
            j.k_lo = keep->lo;
            j.k_hi = keep->hi;
        }
        chain_slice(&j, 0, 1);
        keep->lo = ma;
        keep->hi = mb;
        ctx->sep2_kept += j.kept;
        return FT_OK;
    }
    if (keep)
        keep->lo = keep->hi = 0;
    ft_pool_run(nth > 1 && y->h > 1 ? ctx->pool : NULL, chain_slice, &j);
    return FT_OK;
}

// ---- A depthwise convolution and 2x2 max pooling (ft_dwconv_maxpool2_forward_rows) ----

typedef struct dwpool_job {
    ft_kern_dwconv2d_maxpool2_fn fn;
    const ft_conv *dw;
    ft_conv_geom g; // the band's geometry: input from the band's first row
    const float *x;
    float *y;
    int32_t y_h;
} dwpool_job;

static void dwpool_slice(void *p, int ith, int nth)
{
    const dwpool_job *j = p;
    long lo, hi;
    ft_pool_range(j->y_h, ith, nth, &lo, &hi);
    if (lo < hi)
        j->fn(&j->g, j->x, j->dw->w, j->dw->bias, j->dw->d.act, j->y, (int32_t)lo, (int32_t)hi);
}

// The fused variant of the context's depthwise kernel (the same bits), or
// NULL.
static ft_kern_dwconv2d_maxpool2_fn dwpool_kernel(const ft_nn_kernels *k)
{
    if (k->dwconv2d == ft_kern_dwconv2d_f32_avx512)
        return ft_kern_dwconv2d_maxpool2_f32_avx512;
    if (k->dwconv2d == ft_kern_dwconv2d_f32_ref)
        return ft_kern_dwconv2d_maxpool2_f32_ref;
    return NULL;
}

ft_status ft_dwconv_maxpool2_forward_rows(ft_nn_ctx *ctx, const ft_conv *dw, const ft_map *x,
                                          int32_t x_row0, int32_t in_h, int32_t y_row0,
                                          ft_map *y)
{
    FT_ASSERT(x->d && y->d && x->d != y->d);
    const ft_conv_desc *dd = &dw->d;
    dwpool_job j = {.fn = dwpool_kernel(ctx->kern), .dw = dw, .y = y->d, .y_h = y->h};
    if (!j.fn)
        return FT_E_UNSUPPORTED;
    ft_conv_geom g;
    if (!dd->depthwise || x->c != dd->c_in || !band_ok(x, x_row0, in_h) ||
        ft_conv_geom_make(in_h, x->w, dd->c_in, dd->c_out, dd->kh, dd->kw, dd->stride, dd->pad,
                          &g) != FT_OK)
        return FT_E_INVALID;
    if (y->h < 1 || y_row0 < 0 || y_row0 > g.out_h / 2 - y->h || y->w != g.out_w / 2 ||
        y->c != dd->c_out)
        return FT_E_INVALID;
    int32_t lo, hi;
    rows_read(&g, 2 * y_row0, 2 * (y_row0 + y->h), &lo, &hi);
    if (lo < x_row0 || hi > x_row0 + x->h)
        return FT_E_INVALID;
    // The band's geometry, as dw_rows: from its first input row (the
    // padding only at the map's edges), its rows up to the map's end.
    j.g = g;
    j.x = x->d;
    int32_t off = 2 * y_row0 * g.stride - g.pad_top;
    int32_t end = x_row0 + x->h < g.in_h ? x_row0 + x->h : g.in_h;
    if (off >= 0) {
        j.x += (size_t)(off - x_row0) * g.in_w * g.c_in;
        j.g.in_h = end - off;
        j.g.pad_top = 0;
    } else {
        j.g.in_h = end; // x_row0 == 0: lo is 0
        j.g.pad_top = -off;
    }
    j.g.out_h = 2 * y->h;
    int nth = ctx->n_threads;
    ft_pool_run(nth > 1 && y->h > 1 ? ctx->pool : NULL, dwpool_slice, &j);
    return FT_OK;
}
