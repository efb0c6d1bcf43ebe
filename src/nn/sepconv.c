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
} sep_job;

// Depthwise output rows [oy0, oy0 + rows) into dst ([rows][out_w][c]).
static void dw_band(const sep_job *j, int32_t oy0, int32_t rows, float *dst)
{
    const ft_conv_geom *g = j->g;
    ft_conv_geom b = *g;
    const float *x = j->x;
    int32_t off = oy0 * g->stride - g->pad_top; // first input row of the band
    if (off >= 0) {
        x += (size_t)off * g->in_w * g->c_in;
        b.in_h = g->in_h - off;
        b.pad_top = 0;
    } else {
        b.pad_top = -off;
    }
    b.out_h = rows;
    j->kern->dwconv2d(&b, x, j->dw->w, j->dw->bias, j->dw->d.act, dst, 0, rows);
}

static void sep_slice(void *p, int ith, int nth)
{
    const sep_job *j = p;
    const ft_conv_geom *g = j->g;
    long lo, hi;
    ft_pool_range(g->out_h, ith, nth, &lo, &hi);
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
        dw_band(j, oy, rows, ws + (size_t)have * c);
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

ft_status ft_sepconv_forward(ft_nn_ctx *ctx, const ft_conv *dw, const ft_conv *pw, const ft_map *x,
                             ft_map *y)
{
    ft_conv_geom g;
    FT_ASSERT(x->d && y->d && x->d != y->d);
    const ft_conv_desc *dd = &dw->d, *pd = &pw->d;
    if (!dd->depthwise || pd->depthwise || pd->kh != 1 || pd->kw != 1 || pd->stride != 1 ||
        pd->c_in != dd->c_out || x->c != dd->c_in)
        return FT_E_INVALID;
    if (ft_conv_geom_make(x->h, x->w, dd->c_in, dd->c_out, dd->kh, dd->kw, dd->stride, dd->pad,
                          &g) != FT_OK)
        return FT_E_INVALID;
    if (y->h != g.out_h || y->w != g.out_w || y->c != pd->c_out)
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
                 .cap = (int32_t)cap};
    if (!j.ws)
        return FT_E_NOMEM;
    ft_pool_run(nth > 1 && g.out_h > 1 ? ctx->pool : NULL, sep_slice, &j);
    return FT_OK;
}
