// Training: backward passes against central differences (double), fast
// variants against the references, Adam against PyTorch's numbers, the
// labelme importer, split and augmentation, the model and the loop.
#include "ft_test.h"

#include "core/buf.h"
#include "core/mem.h"
#include "nn/train/grad.h"
#include "model/graph.h"
#include "model/h5.h"
#include "train/dataset.h"
#include "train/model.h"

#include <sys/stat.h>
#include <unistd.h>

#include <stdint.h>

// ---- Helpers ----

// A small deterministic generator (splitmix64) for test data.
static uint64_t rng_state;
static double urand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}
static void fill_d(double *p, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * urand();
}
static void fill_f(float *p, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(lo + (hi - lo) * urand());
}
static double dot_d(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}
static double *dalloc(size_t n)
{
    double *p = ft_calloc(n ? n : 1, sizeof(double));
    FT_ASSERT(p);
    return p;
}
static float *falloc(size_t n)
{
    float *p = ft_aligned_alloc((n ? n : 1) * sizeof(float));
    FT_ASSERT(p);
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

// Relative comparison used for gradients: |a-b| <= tol * max(1, |a|, |b|).
static int near_rel(double a, double b, double tol)
{
    double s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= tol * (s > 1 ? s : 1);
}

// Checks an analytic gradient g (n entries) of the scalar f(p) against
// central differences, perturbing p in place.
typedef double (*scalar_fn)(void *ctx);
static void check_grad(const char *what, double *p, const double *g, size_t n, scalar_fn f,
                       void *ctx, double h, double tol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double fp = f(ctx);
        p[i] = keep - h;
        double fm = f(ctx);
        p[i] = keep;
        double num = (fp - fm) / (2 * h);
        if (!near_rel(num, g[i], tol)) {
            if (bad++ < 5)
                fprintf(stderr, "%s: d[%zu] analytic %.12g numeric %.12g\n", what, i, g[i], num);
        }
    }
    if (bad)
        ft_test_failures++;
}

// ---- Convolutions ----

typedef struct conv_case {
    ft_conv_geom g;
    bool dw;
    double *x, *w, *y, *r;
} conv_case;

static double conv_loss(void *ctx)
{
    conv_case *c = ctx;
    if (c->dw)
        ft_kern_dwconv2d_fwd_f64_ref(&c->g, c->x, c->w, c->y);
    else
        ft_kern_conv2d_fwd_f64_ref(&c->g, c->x, c->w, c->y);
    return dot_d(c->y, c->r, (size_t)c->g.out_h * c->g.out_w * c->g.c_out);
}

static const struct {
    int32_t h, w, cin, cout, k, s;
    ft_pad pad;
} conv_shapes[] = {
    {5, 5, 3, 4, 3, 1, FT_PAD_SAME},  {6, 6, 2, 3, 3, 2, FT_PAD_SAME},
    {7, 5, 3, 2, 3, 2, FT_PAD_SAME},  {4, 4, 5, 3, 1, 1, FT_PAD_SAME},
    {6, 7, 2, 3, 3, 1, FT_PAD_VALID}, {2, 2, 3, 3, 3, 2, FT_PAD_SAME},
    {1, 1, 4, 2, 1, 1, FT_PAD_VALID}, {5, 4, 2, 2, 1, 2, FT_PAD_SAME},
};

static void run_conv_grad(bool dw)
{
    for (size_t t = 0; t < sizeof conv_shapes / sizeof conv_shapes[0]; t++) {
        conv_case c = {.dw = dw};
        int32_t cout = dw ? conv_shapes[t].cin : conv_shapes[t].cout;
        FT_CHECK_EQ(ft_grad_geom(conv_shapes[t].h, conv_shapes[t].w, conv_shapes[t].cin, cout,
                                 conv_shapes[t].k, conv_shapes[t].k, conv_shapes[t].s,
                                 conv_shapes[t].pad, &c.g),
                    FT_OK);
        size_t nx = (size_t)c.g.in_h * c.g.in_w * c.g.c_in;
        size_t nw = (size_t)c.g.kh * c.g.kw * c.g.c_in * (dw ? 1 : c.g.c_out);
        size_t ny = (size_t)c.g.out_h * c.g.out_w * c.g.c_out;
        c.x = dalloc(nx), c.w = dalloc(nw), c.y = dalloc(ny), c.r = dalloc(ny);
        double *dx = dalloc(nx), *dwt = dalloc(nw);
        fill_d(c.x, nx, -1, 1), fill_d(c.w, nw, -1, 1), fill_d(c.r, ny, -1, 1);
        // L = sum(r * y) so dL/dy = r.
        if (dw)
            ft_kern_dwconv2d_bwd_f64_ref(&c.g, c.x, c.w, c.r, dx, dwt);
        else
            ft_kern_conv2d_bwd_f64_ref(&c.g, c.x, c.w, c.r, dx, dwt);
        // Convolutions are linear in x and in w: central differences are
        // exact up to rounding, so 1e-7 relative is generous.
        check_grad(dw ? "dwconv dx" : "conv dx", c.x, dx, nx, conv_loss, &c, 1e-3, 1e-7);
        check_grad(dw ? "dwconv dw" : "conv dw", c.w, dwt, nw, conv_loss, &c, 1e-3, 1e-7);
        ft_free(c.x), ft_free(c.w), ft_free(c.y), ft_free(c.r), ft_free(dx), ft_free(dwt);
    }
}

static void test_grad_conv(void)
{
    rng_state = 1;
    run_conv_grad(false);
}

static void test_grad_dwconv(void)
{
    rng_state = 2;
    run_conv_grad(true);
}

// ---- Bias + activation, global max pool, dense ----

typedef struct act_case {
    size_t n;
    int32_t c;
    ft_act act;
    double *x, *b, *y, *r;
} act_case;

static double act_loss(void *ctx)
{
    act_case *a = ctx;
    memcpy(a->y, a->x, sizeof(double) * a->n * a->c);
    ft_kern_bias_act_fwd_f64_ref(a->n, a->c, a->b, a->act, a->y);
    return dot_d(a->y, a->r, a->n * a->c);
}

static void test_grad_bias_act(void)
{
    rng_state = 3;
    const ft_act acts[] = {FT_ACT_NONE, FT_ACT_RELU, FT_ACT_RELU6, FT_ACT_SIGMOID, FT_ACT_LEAKY};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        act_case a = {.n = 7, .c = 5, .act = acts[k]};
        size_t n = a.n * a.c;
        a.x = dalloc(n), a.b = dalloc(a.c), a.y = dalloc(n), a.r = dalloc(n);
        fill_d(a.x, n, -3, 9), fill_d(a.b, a.c, -1, 1), fill_d(a.r, n, -1, 1);
        // Keep pre-activations away from the kinks at 0 and 6 by more than
        // the step, where the derivative is undefined.
        for (size_t i = 0; i < n; i++) {
            double v = a.x[i] + a.b[i % a.c];
            if (fabs(v) < 0.05 || fabs(v - 6) < 0.05)
                a.x[i] += 0.2;
        }
        double *dy = dalloc(n), *db = dalloc(a.c), *dx = dalloc(n);
        act_loss(&a);
        memcpy(dy, a.r, sizeof(double) * n);
        ft_kern_bias_act_bwd_f64_ref(a.n, a.c, a.act, a.y, dy, db);
        memcpy(dx, dy, sizeof(double) * n); // d/dx of act(x+b) = d/d(x+b)
        // Step 1e-5 with smooth (or piecewise linear) functions: central
        // difference error ~1e-10; 1e-6 relative leaves room for rounding.
        check_grad("bias_act dx", a.x, dx, n, act_loss, &a, 1e-5, 1e-6);
        check_grad("bias_act db", a.b, db, a.c, act_loss, &a, 1e-5, 1e-6);
        ft_free(a.x), ft_free(a.b), ft_free(a.y), ft_free(a.r), ft_free(dy), ft_free(db),
            ft_free(dx);
    }
}

typedef struct pool_case {
    size_t n;
    int32_t c;
    double *x, *y, *r;
    int32_t *idx;
} pool_case;

static double pool_loss(void *ctx)
{
    pool_case *p = ctx;
    ft_kern_gmaxpool_fwd_f64_ref(p->n, p->c, p->x, p->y, p->idx);
    return dot_d(p->y, p->r, p->c);
}

static void test_grad_gmaxpool(void)
{
    rng_state = 4;
    pool_case p = {.n = 9, .c = 6};
    p.x = dalloc(p.n * p.c), p.y = dalloc(p.c), p.r = dalloc(p.c);
    p.idx = ft_calloc(p.c, sizeof(int32_t));
    // Distinct values spaced by more than 2h so the argmax never flips.
    for (size_t i = 0; i < p.n * p.c; i++)
        p.x[i] = 0.01 * (double)((i * 37) % (p.n * p.c));
    fill_d(p.r, p.c, -1, 1);
    double *dx = dalloc(p.n * p.c);
    pool_loss(&p);
    ft_kern_gmaxpool_bwd_f64_ref(p.n, p.c, p.idx, p.r, dx);
    check_grad("gmaxpool dx", p.x, dx, p.n * p.c, pool_loss, &p, 1e-4, 1e-7);
    // float version selects the same positions.
    float xf[54], yf[6];
    int32_t idf[6];
    for (size_t i = 0; i < 54; i++)
        xf[i] = (float)p.x[i];
    ft_kern_gmaxpool_fwd_f32_ref(p.n, p.c, xf, yf, idf);
    for (int32_t c = 0; c < p.c; c++)
        FT_CHECK_EQ(idf[c], p.idx[c]);
    ft_free(p.x), ft_free(p.y), ft_free(p.r), ft_free(p.idx), ft_free(dx);
}

typedef struct dense_case {
    int32_t n_in, n_out;
    ft_act act;
    double *x, *w, *b, *y, *r;
} dense_case;

static double dense_loss(void *ctx)
{
    dense_case *d = ctx;
    ft_kern_dense_fwd_f64_ref(d->n_in, d->n_out, d->x, d->w, d->b, d->act, d->y);
    return dot_d(d->y, d->r, d->n_out);
}

static void test_grad_dense(void)
{
    rng_state = 5;
    const ft_act acts[] = {FT_ACT_NONE, FT_ACT_RELU, FT_ACT_SIGMOID};
    for (size_t k = 0; k < 3; k++) {
        dense_case d = {.n_in = 6, .n_out = 5, .act = acts[k]};
        size_t nw = (size_t)d.n_in * d.n_out;
        d.x = dalloc(d.n_in), d.w = dalloc(nw), d.b = dalloc(d.n_out), d.y = dalloc(d.n_out),
        d.r = dalloc(d.n_out);
        fill_d(d.x, d.n_in, -1, 1), fill_d(d.w, nw, -1, 1), fill_d(d.b, d.n_out, -0.5, 0.5);
        fill_d(d.r, d.n_out, -1, 1);
        double *dy = dalloc(d.n_out), *dx = dalloc(d.n_in), *dw = dalloc(nw),
               *db = dalloc(d.n_out);
        dense_loss(&d);
        // ReLU: keep pre-activations off the kink.
        if (d.act == FT_ACT_RELU)
            for (int32_t o = 0; o < d.n_out; o++)
                if (fabs(d.y[o]) < 1e-3)
                    d.b[o] += 0.1;
        dense_loss(&d);
        memcpy(dy, d.r, sizeof(double) * d.n_out);
        ft_kern_dense_bwd_f64_ref(d.n_in, d.n_out, d.x, d.w, d.y, d.act, dy, dx, dw, db);
        // Smooth in every argument away from kinks; 1e-6 relative.
        check_grad("dense dx", d.x, dx, d.n_in, dense_loss, &d, 1e-5, 1e-6);
        check_grad("dense dw", d.w, dw, nw, dense_loss, &d, 1e-5, 1e-6);
        check_grad("dense db", d.b, db, d.n_out, dense_loss, &d, 1e-5, 1e-6);
        ft_free(d.x), ft_free(d.w), ft_free(d.b), ft_free(d.y), ft_free(d.r), ft_free(dy),
            ft_free(dx), ft_free(dw), ft_free(db);
    }
}

// ---- Losses ----

typedef struct loss_case {
    int kind;
    double z[6], t[4];
    int32_t target;
} loss_case;

static double loss_eval(void *ctx)
{
    loss_case *l = ctx;
    double d[6];
    if (l->kind == 0)
        return ft_loss_bce_logit_f64(l->z[0], l->t[0], d);
    if (l->kind == 1)
        return ft_loss_box_f64(l->z, l->t, d);
    return ft_loss_softmax_ce_f64(6, l->z, l->target, NULL, d);
}

static void test_grad_losses(void)
{
    rng_state = 6;
    for (int kind = 0; kind < 3; kind++)
        for (int rep = 0; rep < 4; rep++) {
            loss_case l = {.kind = kind, .target = rep % 6};
            fill_d(l.z, 6, kind == 1 ? 0 : -4, kind == 1 ? 1 : 4);
            fill_d(l.t, 4, 0, 1);
            if (kind == 0)
                l.t[0] = rep % 2;
            double g[6];
            if (kind == 0)
                ft_loss_bce_logit_f64(l.z[0], l.t[0], g);
            else if (kind == 1)
                ft_loss_box_f64(l.z, l.t, g);
            else
                ft_loss_softmax_ce_f64(6, l.z, l.target, NULL, g);
            size_t n = kind == 0 ? 1 : kind == 1 ? 4 : 6;
            check_grad("loss", l.z, g, n, loss_eval, &l, 1e-5, 1e-6);
        }
    // Known values: BCE(z=0) = log 2 for either target; box loss of a
    // perfect prediction is 0.
    float dz;
    FT_CHECK_NEAR(ft_loss_bce_logit(0.0f, 1.0f, &dz), log(2.0), 1e-12);
    FT_CHECK_NEAR(dz, -0.5, 1e-7);
    float p[4] = {0.1f, 0.2f, 0.5f, 0.7f}, dp[4];
    FT_CHECK_NEAR(ft_loss_box(p, p, dp), 0.0, 0.0);
    // Saturated logits stay finite.
    FT_CHECK(isfinite(ft_loss_bce_logit(80.0f, 0.0f, &dz)));
    FT_CHECK_NEAR(dz, 1.0, 1e-7);
}

// ---- IoU box losses ----

typedef struct iou_case {
    ft_box_loss kind;
    double p[4], t[4];
} iou_case;

static double iou_eval(void *ctx)
{
    iou_case *c = ctx;
    double d[4];
    return ft_loss_box_iou_f64(c->kind, c->p, c->t, d);
}

// Distance of the point's coordinates from the loss's kinks (min/max
// switches, zero width/height, zero intersection): central differences
// across a kink are not a derivative.
static double kink_margin(const iou_case *c)
{
    const double *p = c->p, *t = c->t;
    double m = 1e9;
    for (int a = 0; a < 2; a++) {
        double v[6] = {p[a] - t[a], p[a + 2] - t[a + 2], p[a + 2] - p[a], p[a + 2] - t[a],
                       t[a + 2] - p[a], p[a] - t[a + 2]};
        for (int k = 0; k < 6; k++)
            m = fmin(m, fabs(v[k]));
    }
    return m;
}

static void test_grad_box_iou(void)
{
    rng_state = 21;
    int checked = 0;
    for (int kind = FT_BOX_LOSS_GIOU; kind <= FT_BOX_LOSS_CIOU; kind++)
        for (int rep = 0; rep < 400 && checked < 60 * (kind - FT_BOX_LOSS_GIOU + 1); rep++) {
            iou_case c = {.kind = (ft_box_loss)kind};
            // Targets valid; predictions anywhere in [0, 1], so some are
            // disjoint, some contain the target, some inverted (x2 < x1).
            fill_d(c.t, 2, 0.0, 0.6);
            c.t[2] = c.t[0] + 0.1 + 0.3 * urand();
            c.t[3] = c.t[1] + 0.1 + 0.3 * urand();
            fill_d(c.p, 4, 0.0, 1.0);
            if (rep % 4 != 3) { // mostly ordered predictions
                if (c.p[2] < c.p[0]) {
                    double x = c.p[0];
                    c.p[0] = c.p[2], c.p[2] = x;
                }
                if (c.p[3] < c.p[1]) {
                    double x = c.p[1];
                    c.p[1] = c.p[3], c.p[3] = x;
                }
            }
            if (kink_margin(&c) < 1e-3)
                continue;
            double g[4];
            ft_loss_box_iou_f64(c.kind, c.p, c.t, g);
            // Smooth between kinks, h well inside the 1e-3 margin: 1e-6
            // relative (central differences are O(h^2) = 1e-12 here).
            check_grad(ft_box_loss_name(c.kind), c.p, g, 4, iou_eval, &c, 1e-6, 1e-6);
            checked++;
        }
    FT_CHECK_EQ(checked, 60 + 60 + 60);
    // Known values, worked by hand (exact up to double rounding: 1e-12).
    double d[4];
    const double a[4] = {0, 0, 1, 1}, far[4] = {2, 0, 3, 1}, wide[4] = {0, 0, 2, 1};
    // Disjoint, 1 apart: IoU 0, C = 3, U = 2; rho^2 = 4, c^2 = 10; same aspect.
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_GIOU, a, far, d), 4.0 / 3.0, 1e-12);
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_DIOU, a, far, d), 1.4, 1e-12);
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_CIOU, a, far, d), 1.4, 1e-12);
    // Twice as wide, same corner: IoU 1/2, C = U = 2; rho^2 = 1/4, c^2 = 5;
    // v = 4/pi^2 (atan 1 - atan 2)^2, alpha = v / (1/2 + v).
    double pi = acos(-1.0), v = 4 / (pi * pi) * pow(atan(1.0) - atan(2.0), 2);
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_GIOU, wide, a, d), 0.5, 1e-12);
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_DIOU, wide, a, d), 0.55, 1e-12);
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_CIOU, wide, a, d), 0.55 + v * v / (0.5 + v),
                  1e-12);
    // A perfect box: 0 for all; the prototype kind is ft_loss_box.
    for (int k = FT_BOX_LOSS_GIOU; k <= FT_BOX_LOSS_CIOU; k++)
        FT_CHECK_NEAR(ft_loss_box_iou_f64((ft_box_loss)k, a, a, d), 0.0, 1e-11);
    double d2[4];
    FT_CHECK_NEAR(ft_loss_box_iou_f64(FT_BOX_LOSS_PROTOTYPE, wide, a, d),
                  ft_loss_box_f64(wide, a, d2), 0.0);
    // An inverted prediction still gets a gradient towards the target.
    const double inv[4] = {0.6, 0.6, 0.4, 0.4}, tgt[4] = {0.3, 0.3, 0.7, 0.7};
    for (int k = FT_BOX_LOSS_GIOU; k <= FT_BOX_LOSS_CIOU; k++) {
        ft_loss_box_iou_f64((ft_box_loss)k, inv, tgt, d);
        FT_CHECK(d[0] > 0 && d[1] > 0 && d[2] < 0 && d[3] < 0); // x1 left, x2 right
    }
    // Names round-trip.
    ft_box_loss bl;
    FT_CHECK_EQ(ft_box_loss_parse("ciou", &bl), FT_OK);
    FT_CHECK_EQ(bl, FT_BOX_LOSS_CIOU);
    FT_CHECK_EQ(ft_box_loss_parse("iou", &bl), FT_E_INVALID);
}

// ---- Fast variants against the references ----

#define CANARY 12345.0f

static void test_variants(void)
{
    size_t n_ops;
    const ft_grad_ops *const *all = ft_grad_ops_all(&n_ops);
    const ft_grad_ops *ref = ft_grad_ops_ref();
    rng_state = 7;
    // GEMM shapes: tails in every dimension, 1s, and one bigger than a block.
    static const int32_t gs[][3] = {{1, 1, 1}, {3, 5, 7},    {8, 32, 16},  {9, 33, 17},
                                    {17, 15, 3}, {16, 64, 1}, {40, 300, 70}, {7, 1, 260}};
    for (size_t v = 0; v < n_ops; v++)
        for (size_t s = 0; s < sizeof gs / sizeof gs[0]; s++) {
            int32_t m = gs[s][0], n = gs[s][1], k = gs[s][2];
            float *a = falloc((size_t)m * k), *b = falloc((size_t)k * n);
            float *c0 = falloc((size_t)m * n + 1), *c1 = falloc((size_t)m * n + 1);
            fill_f(a, (size_t)m * k, -1, 1), fill_f(b, (size_t)k * n, -1, 1);
            for (int beta = 0; beta < 2; beta++) {
                fill_f(c0, (size_t)m * n, -1, 1);
                memcpy(c1, c0, sizeof(float) * (size_t)m * n);
                c0[(size_t)m * n] = c1[(size_t)m * n] = CANARY;
                ref->gemm(m, n, k, a, b, (float)beta, c0);
                all[v]->gemm(m, n, k, a, b, (float)beta, c1);
                // float sums of k <= 300 products of magnitude <= 1 in a
                // different order: 1e-4 absolute is ~100 ulp of the result.
                for (size_t i = 0; i < (size_t)m * n; i++)
                    FT_CHECK_NEAR(c1[i], c0[i], 1e-4);
                FT_CHECK(c1[(size_t)m * n] == CANARY);
            }
            ft_aligned_free(a), ft_aligned_free(b), ft_aligned_free(c0), ft_aligned_free(c1);
        }
    // Depthwise and regular conv drivers over the conv shapes (+ wide channels).
    for (size_t v = 0; v < n_ops; v++)
        for (size_t t = 0; t < sizeof conv_shapes / sizeof conv_shapes[0] + 1; t++)
            for (int dw = 0; dw < 2; dw++) {
                ft_conv_geom g;
                int32_t h = 5, w = 6, cin = 37, cout = 19, k = 3, s = 2;
                ft_pad pad = FT_PAD_SAME;
                if (t < sizeof conv_shapes / sizeof conv_shapes[0])
                    h = conv_shapes[t].h, w = conv_shapes[t].w, cin = conv_shapes[t].cin,
                    cout = conv_shapes[t].cout, k = conv_shapes[t].k, s = conv_shapes[t].s,
                    pad = conv_shapes[t].pad;
                if (dw)
                    cout = cin;
                FT_CHECK_EQ(ft_grad_geom(h, w, cin, cout, k, k, s, pad, &g), FT_OK);
                size_t nx = (size_t)h * w * cin, ny = (size_t)g.out_h * g.out_w * cout;
                size_t nw = (size_t)k * k * cin * (dw ? 1 : cout);
                float *x = falloc(nx), *wt = falloc(nw), *dy = falloc(ny);
                float *y0 = falloc(ny + 1), *y1 = falloc(ny + 1), *dx0 = falloc(nx + 1),
                      *dx1 = falloc(nx + 1), *dw0 = falloc(nw), *dw1 = falloc(nw);
                float *scr = falloc(ft_grad_conv_scratch(&g, dw));
                fill_f(x, nx, -1, 1), fill_f(wt, nw, -1, 1), fill_f(dy, ny, -1, 1);
                y1[ny] = dx1[nx] = CANARY;
                fill_f(dw0, nw, -1, 1);
                memcpy(dw1, dw0, sizeof(float) * nw);
                if (dw) {
                    ft_kern_dwconv2d_fwd_f32_ref(&g, x, wt, y0);
                    ft_kern_dwconv2d_bwd_f32_ref(&g, x, wt, dy, dx0, dw0);
                } else {
                    ft_kern_conv2d_fwd_f32_ref(&g, x, wt, y0);
                    ft_kern_conv2d_bwd_f32_ref(&g, x, wt, dy, dx0, dw0);
                }
                ft_grad_conv_fwd(all[v], &g, dw, x, wt, y1, scr);
                ft_grad_conv_bwd(all[v], &g, dw, x, wt, dy, dx1, dw1, scr);
                // At most 9*37 float products of magnitude <= 1: 1e-4.
                for (size_t i = 0; i < ny; i++)
                    FT_CHECK_NEAR(y1[i], y0[i], 1e-4);
                for (size_t i = 0; i < nx; i++)
                    FT_CHECK_NEAR(dx1[i], dx0[i], 1e-4);
                for (size_t i = 0; i < nw; i++)
                    FT_CHECK_NEAR(dw1[i], dw0[i], 1e-4);
                FT_CHECK(y1[ny] == CANARY && dx1[nx] == CANARY);
                ft_aligned_free(x), ft_aligned_free(wt), ft_aligned_free(dy),
                    ft_aligned_free(y0), ft_aligned_free(y1), ft_aligned_free(dx0),
                    ft_aligned_free(dx1), ft_aligned_free(dw0), ft_aligned_free(dw1),
                    ft_aligned_free(scr);
            }
}

// The float references agree with the double ones (they share a body).
static void test_ref_f32_f64(void)
{
    rng_state = 8;
    ft_conv_geom g;
    FT_CHECK_EQ(ft_grad_geom(6, 6, 3, 4, 3, 3, 2, FT_PAD_SAME, &g), FT_OK);
    FT_CHECK_EQ(g.out_h, 3);
    FT_CHECK_EQ(g.pad_top, 0); // TF SAME, stride 2 on an even size: 0 before, 1 after
    FT_CHECK_EQ(ft_grad_geom(5, 5, 3, 4, 3, 3, 1, FT_PAD_SAME, &g), FT_OK);
    FT_CHECK_EQ(g.pad_top, 1);
    FT_CHECK_EQ(ft_grad_geom(2, 2, 3, 4, 3, 3, 1, FT_PAD_VALID, &g), FT_E_INVALID);
}

// ---- Adam against PyTorch ----

static void test_adam_golden(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/train_adam.txt", ft_test_srcdir());
    FILE *f = fopen(path, "r");
    FT_CHECK(f != NULL);
    if (!f)
        return;
    char magic[64];
    int version = 0;
    FT_CHECK(fscanf(f, "%63s %d", magic, &version) == 2);
    FT_CHECK_STREQ(magic, "FT_ADAM_GOLDEN");
    FT_CHECK_EQ(version, 1);
    ft_adam_opts o;
    long n = 0, steps = 0;
    FT_CHECK(fscanf(f, " n %ld steps %ld lr %lf beta1 %lf beta2 %lf eps %lf decay %lf", &n, &steps,
                    &o.lr, &o.beta1, &o.beta2, &o.eps, &o.decay) == 7);
    FT_CHECK(n > 0 && n < 100000 && steps > 0 && steps < 10000);
    if (ft_test_failures) {
        fclose(f);
        return;
    }
    float *w = falloc(n), *m = falloc(n), *v = falloc(n), *g = falloc(n), *want = falloc(n);
    char tag[16];
    FT_CHECK(fscanf(f, "%15s", tag) == 1 && strcmp(tag, "w0") == 0);
    for (long i = 0; i < n; i++)
        FT_CHECK(fscanf(f, "%f", &w[i]) == 1);
    double max_err = 0;
    for (long s = 1; s <= steps; s++) {
        long sn;
        FT_CHECK(fscanf(f, "%15s %ld", tag, &sn) == 2 && strcmp(tag, "step") == 0 && sn == s);
        FT_CHECK(fscanf(f, "%15s", tag) == 1 && strcmp(tag, "g") == 0);
        for (long i = 0; i < n; i++)
            FT_CHECK(fscanf(f, "%f", &g[i]) == 1);
        FT_CHECK(fscanf(f, "%15s", tag) == 1 && strcmp(tag, "w") == 0);
        for (long i = 0; i < n; i++)
            FT_CHECK(fscanf(f, "%f", &want[i]) == 1);
        ft_kern_adam_f32_ref((size_t)n, &o, s, g, w, m, v);
        for (long i = 0; i < n; i++) {
            double e = fabs((double)w[i] - want[i]);
            max_err = e > max_err ? e : max_err;
        }
    }
    fclose(f);
    // torch computes in float32 (we keep m, v in float but do the update in
    // double); after tens of steps of size ~lr the weights may differ by a
    // few float ulps of values ~1: 1e-6.
    FT_CHECK_NEAR(max_err, 0.0, 1e-6);
    ft_aligned_free(w), ft_aligned_free(m), ft_aligned_free(v), ft_aligned_free(g),
        ft_aligned_free(want);
}


// ---- labelme, split, augment ----

static void tmpdir(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/ft_test_train_%s_%ld", tag, (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    FT_CHECK(system(cmd) == 0);
}

static int n_problems;
static char last_problem[600];
static void count_problem(void *ctx, const char *file, const char *msg)
{
    (void)ctx;
    n_problems++;
    snprintf(last_problem, sizeof last_problem, "%s: %s", file, msg);
}

static void test_labelme_parse(void)
{
    ft_labelme_doc d;
    ft_err err = {0};
    const char *good = "{\"shapes\": [{\"label\": \"bob\", \"points\": [[9, 8], [1, 2]], "
                       "\"shape_type\": \"rectangle\"}], \"imagePath\": \"x.jpg\", "
                       "\"imageData\": null, \"imageWidth\": 10, \"imageHeight\": 10}";
    FT_CHECK_OK(ft_labelme_parse("g.json", (const uint8_t *)good, strlen(good), &d, &err), &err);
    FT_CHECK_EQ(d.n_boxes, 1);
    if (d.n_boxes == 1) {
        FT_CHECK_NEAR(d.boxes[0].x1, 1, 0); // corners sorted
        FT_CHECK_NEAR(d.boxes[0].y2, 8, 0);
        FT_CHECK_STREQ(d.boxes[0].label, "bob");
    }
    FT_CHECK_STREQ(d.image_path, "x.jpg");
    ft_labelme_doc_deinit(&d);
    const char *bad[] = {"{\"shapes\": [", "[1, 2]", "{\"imagePath\": \"x.jpg\"}",
                         "{\"shapes\": [], \"imagePath\": 3}",
                         "{\"shapes\": [{\"label\": \"f\", \"points\": [[1, 2]], "
                         "\"shape_type\": \"rectangle\"}], \"imagePath\": \"x\"}",
                         "{\"shapes\": [{\"label\": \"f\", \"points\": [[1, 2], [1, 5]], "
                         "\"shape_type\": \"rectangle\"}], \"imagePath\": \"x\"}",
                         "{\"shapes\": [], \"imageData\": \"!!notbase64\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ft_err e = {0};
        FT_CHECK_EQ(ft_labelme_parse("b.json", (const uint8_t *)bad[i], strlen(bad[i]), &d, &e),
                    FT_E_FORMAT);
        FT_CHECK(strstr(e.msg, "b.json") != NULL);
    }
}

static void test_labelme_import(void)
{
    char src[1024], out[256];
    ft_err err = {0};
    ft_import_report r;
    snprintf(src, sizeof src, "%s/data/labelme/good", ft_test_srcdir());
    tmpdir(out, sizeof out, "import");
    n_problems = 0;
    FT_CHECK_OK(ft_labelme_import(src, out, NULL, count_problem, NULL, &r, &err), &err);
    FT_CHECK_EQ(n_problems, 0);
    FT_CHECK_EQ(r.n_json, 2);
    FT_CHECK_EQ(r.n_photos, 3);
    FT_CHECK_EQ(r.n_with_faces, 2);
    FT_CHECK_EQ(r.n_face_free, 1);
    ft_dataset *ds = NULL;
    FT_CHECK_OK(ft_dataset_load(out, &ds, &err), &err);
    if (ds) {
        FT_CHECK_EQ(ds->n, 3);
        const char **ids;
        size_t n_ids;
        FT_CHECK_EQ(ft_dataset_identities(ds, &ids, &n_ids), FT_OK);
        FT_CHECK_EQ(n_ids, 1);
        if (n_ids == 1)
            FT_CHECK_STREQ(ids[0], "alice");
        ft_free(ids);
        // The inline photo was written out as a PNG.
        bool found = false;
        for (size_t i = 0; i < ds->n; i++)
            found = found || strcmp(ds->s[i].image, "images/inline.png") == 0;
        FT_CHECK(found);
    }
    // A second import refuses to overwrite.
    FT_CHECK_EQ(ft_labelme_import(src, out, NULL, NULL, NULL, &r, &err), FT_E_EXISTS);

    // Split + augment, twice with the same seed: identical.
    FT_CHECK_OK(ft_dataset_split(ds, 0.34, 0.33, 0.33, 5, &err), &err);
    for (size_t i = 0; i < ds->n; i++)
        ds->s[i].split = FT_SPLIT_TRAIN; // three photos: keep them all in train
    FT_CHECK_OK(ft_dataset_save(ds, &err), &err);
    ft_augment_opts o = ft_augment_opts_default();
    o.per_image = 4;
    o.crop_frac = 0.7;
    o.out_size = 24;
    ft_image_limits lim = ft_image_limits_default();
    ft_augment_report ar;
    char a1[1400], a2[1400];
    ft_buf b1, b2;
    FT_CHECK_OK(ft_dataset_augment(ds, &o, &lim, &ar, &err), &err);
    FT_CHECK_EQ(ar.n_samples[FT_SPLIT_TRAIN], 12);
    snprintf(a1, sizeof a1, "%s/aug/train.jsonl", out);
    FT_CHECK_OK(ft_file_read(a1, 0, &b1, &err), &err);
    FT_CHECK_OK(ft_dataset_augment(ds, &o, &lim, &ar, &err), &err);
    FT_CHECK_OK(ft_file_read(a1, 0, &b2, &err), &err);
    FT_CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    ft_buf_deinit(&b1);
    ft_buf_deinit(&b2);
    ft_dataset *aug = NULL;
    FT_CHECK_OK(ft_dataset_load_aug(out, FT_SPLIT_TRAIN, &aug, &err), &err);
    for (size_t i = 0; aug && i < aug->n; i++)
        for (size_t k = 0; k < aug->s[i].n_boxes; k++) {
            const ft_ds_box *x = &aug->s[i].boxes[k];
            FT_CHECK(x->x1 >= 0 && x->x2 <= 1 && x->y1 >= 0 && x->y2 <= 1 && x->x1 < x->x2);
        }
    snprintf(a2, sizeof a2, "%s/preview.png", out);
    FT_CHECK_OK(ft_augment_preview(out, FT_SPLIT_TRAIN, 2, 2, 1, a2, &lim, &err), &err);
    ft_dataset_free(aug);
    ft_dataset_free(ds);
}

static void test_labelme_bad(void)
{
    const struct {
        const char *dir, *needle;
        ft_status st;
    } cases[] = {
        {"bad_json", "malformed JSON", FT_E_FORMAT},
        {"bad_box", "outside", FT_E_FORMAT},
        {"missing_photo", "missing", FT_E_FORMAT},
        {"polygon", "only rectangles", FT_E_FORMAT},
        {"", "empty dataset", FT_E_NOT_FOUND},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[1024], out[256];
        ft_err err = {0};
        ft_import_report r;
        if (cases[i].dir[0])
            snprintf(src, sizeof src, "%s/data/labelme/%s", ft_test_srcdir(), cases[i].dir);
        else {
            tmpdir(src, sizeof src, "empty_src");
            FT_CHECK(mkdir(src, 0777) == 0);
        }
        tmpdir(out, sizeof out, "bad");
        n_problems = 0;
        last_problem[0] = '\0';
        FT_CHECK_EQ(ft_labelme_import(src, out, NULL, count_problem, NULL, &r, &err),
                    cases[i].st);
        if (cases[i].st == FT_E_FORMAT) {
            FT_CHECK_EQ(n_problems, 1);
            FT_CHECK(strstr(last_problem, cases[i].needle) != NULL);
            FT_CHECK(strstr(last_problem, ".json") != NULL); // names the file
        } else {
            FT_CHECK(strstr(err.msg, cases[i].needle) != NULL);
        }
        struct stat sb;
        FT_CHECK(stat(out, &sb) != 0); // nothing written
        if (!cases[i].dir[0])
            rmdir(src);
    }
}

// ---- Model ----

static void make_batch(float *x, float *face, float *box, int32_t *id, int n)
{
    size_t px = (size_t)FT_FM_INPUT * FT_FM_INPUT * 3;
    fill_f(x, px * n, 0, 1);
    for (int i = 0; i < n; i++) {
        face[i] = (float)(i % 2 == 0);
        box[4 * i + 0] = 0.2f, box[4 * i + 1] = 0.25f, box[4 * i + 2] = 0.7f,
                    box[4 * i + 3] = 0.8f;
        id[i] = i % 2 == 0 ? 0 : -1;
    }
}

// The whole model's gradient (fine-tune, identity head on) against central
// differences of its loss, for a sample of parameters in every part.
static void test_model_grad(void)
{
    rng_state = 11;
    const char *ids[] = {"alice", "bob"};
    ft_fmodel *m = NULL;
    FT_CHECK_EQ(ft_fmodel_new_random(ids, 2, 3, &m), FT_OK);
    if (!m)
        return;
    ft_train_opts o = ft_train_opts_default();
    o.fine_tune = true;
    o.fine_tune_from = 0; // every conv
    // The prototype's smooth loss: the GIoU's min/max switches add kinks the
    // 1e-2 probes would cross (its gradient is checked in grad_box_iou; the
    // trainer applies either loss's dL/dp the same way).
    o.box_loss = FT_BOX_LOSS_PROTOTYPE;
    o.batch = 2;
    o.threads = 2;
    o.lr = 0; // the step must not move the weights: we only want its gradient
    ft_fm_trainer *t = NULL;
    FT_CHECK_EQ(ft_fm_trainer_new(m, &o, &t), FT_OK);
    enum { N = 2 };
    float *x = falloc((size_t)N * FT_FM_INPUT * FT_FM_INPUT * 3), face[N], box[4 * N];
    int32_t id[N];
    make_batch(x, face, box, id, N);
    double l, cl, bl;
    FT_CHECK_EQ(ft_fm_trainer_step(t, x, face, box, id, N, &l, &cl, &bl), FT_OK);
    const float *g = ft_fm_trainer_grad(t);
    float *p = ft_fmodel_params(m);
    size_t np = ft_fmodel_n_params(m);
    // Probe the parameters with the largest gradients in spread-out chunks
    // (small gradients drown in float rounding of the loss).
    int checked = 0, bad = 0;
    for (int chunk = 0; chunk < 24; chunk++) {
        size_t lo = np / 24 * chunk, hi = np / 24 * (chunk + 1), best = lo;
        for (size_t k = lo; k < hi; k++)
            if (fabsf(g[k]) > fabsf(g[best]))
                best = k;
        if (fabsf(g[best]) < 1e-3f)
            continue;
        float keep = p[best];
        double h = 1e-2 * fmax(1.0, fabs(keep));
        double lp, lm;
        p[best] = (float)(keep + h);
        FT_CHECK_EQ(ft_fm_trainer_loss(t, x, face, box, id, N, &lp), FT_OK);
        p[best] = (float)(keep - h);
        FT_CHECK_EQ(ft_fm_trainer_loss(t, x, face, box, id, N, &lm), FT_OK);
        p[best] = keep;
        double num = (lp - lm) / (2 * h);
        checked++;
        // Float forward passes through 27 layers, ReLU6 kinks and max-pool
        // switches within the step: 10% relative (+ 1e-3 absolute). The
        // operator-level checks above are the tight ones.
        if (fabs(num - g[best]) > 0.1 * fabs(g[best]) + 1e-3) {
            if (bad++ < 5)
                fprintf(stderr, "param %zu: analytic %.6g numeric %.6g\n", best, g[best], num);
        }
    }
    FT_CHECK(checked >= 8);
    FT_CHECK(bad <= checked / 8); // a kink may flip for one probe
    ft_aligned_free(x);
    ft_fm_trainer_free(t);
    ft_fmodel_free(m);
}

// Training steps lower the loss on a fixed batch, and the same seed gives
// the same weights whatever the thread count.
static void test_model_train_determinism(void)
{
    enum { N = 4 };
    float *x = falloc((size_t)N * FT_FM_INPUT * FT_FM_INPUT * 3), face[N], box[4 * N];
    int32_t id[N];
    rng_state = 12;
    make_batch(x, face, box, id, N);
    float *params[2] = {NULL, NULL};
    size_t np = 0;
    for (int run = 0; run < 2; run++) {
        ft_fmodel *m = NULL;
        FT_CHECK_EQ(ft_fmodel_new_random(NULL, 0, 9, &m), FT_OK);
        ft_train_opts o = ft_train_opts_default();
        o.fine_tune = true;
        o.fine_tune_from = 20;
        o.batch = N;
        o.threads = run + 1;
        o.lr = 1e-3;
        // The prototype's loss: 4 steps at 1e-3 from a random backbone
        // lower it reliably (model_grad checks the GIoU default's gradient).
        o.box_loss = FT_BOX_LOSS_PROTOTYPE;
        ft_fm_trainer *t = NULL;
        FT_CHECK_EQ(ft_fm_trainer_new(m, &o, &t), FT_OK);
        double first = 0, l = 0, cl, bl;
        for (int s = 0; s < 4; s++) {
            FT_CHECK_EQ(ft_fm_trainer_step(t, x, face, box, id, N, &l, &cl, &bl), FT_OK);
            if (s == 0)
                first = l;
        }
        FT_CHECK(l < first);
        np = ft_fmodel_n_params(m);
        params[run] = falloc(np);
        memcpy(params[run], ft_fmodel_params(m), np * sizeof(float));
        ft_fm_trainer_free(t);
        ft_fmodel_free(m);
    }
    FT_CHECK(memcmp(params[0], params[1], np * sizeof(float)) == 0);
    ft_aligned_free(params[0]);
    ft_aligned_free(params[1]);
    ft_aligned_free(x);
}

// The learning-rate schedules: values worked by hand, and the schedule is
// what Adam uses (cosine over one 1-step epoch gives lr 0 at step 2, so
// that step leaves the weights as they were; the default does not).
static void test_lr_schedule(void)
{
    ft_train_opts o = ft_train_opts_default();
    FT_CHECK_EQ(o.lr_schedule, FT_LR_INVERSE_TIME);
    o.lr = 1e-3;
    o.epochs = 4;
    // Exact formulas evaluated in double: tolerance 1e-15 (a few ulps of 1e-3).
    // Inverse time, 10 steps an epoch: 0.75 lr after one epoch (Keras's decay
    // (1/0.75 - 1) / steps), lr / (1 + 4/3) after four.
    FT_CHECK_NEAR(ft_train_lr(&o, 1, 10), 1e-3, 1e-15);
    FT_CHECK_NEAR(ft_train_lr(&o, 11, 10), 0.75e-3, 1e-15);
    FT_CHECK_NEAR(ft_train_lr(&o, 41, 10), 1e-3 / (1.0 + 4.0 / 3.0), 1e-15);
    // Cosine over 4 x 10 steps: lr, (1 + cos(pi/4))/2 lr a quarter in, lr/2
    // half-way, 0 at the end and after.
    o.lr_schedule = FT_LR_COSINE;
    FT_CHECK_NEAR(ft_train_lr(&o, 1, 10), 1e-3, 1e-15);
    FT_CHECK_NEAR(ft_train_lr(&o, 11, 10), 1e-3 * (1.0 + sqrt(0.5)) / 2.0, 1e-15);
    FT_CHECK_NEAR(ft_train_lr(&o, 21, 10), 0.5e-3, 1e-15);
    FT_CHECK_NEAR(ft_train_lr(&o, 41, 10), 0.0, 1e-15);
    FT_CHECK_NEAR(ft_train_lr(&o, 100, 10), 0.0, 1e-15);
    o.lr_schedule = FT_LR_CONSTANT;
    FT_CHECK_NEAR(ft_train_lr(&o, 77, 10), 1e-3, 0.0);
    ft_lr_schedule ls;
    FT_CHECK_EQ(ft_lr_schedule_parse("cosine", &ls), FT_OK);
    FT_CHECK_EQ(ls, FT_LR_COSINE);
    FT_CHECK(strcmp(ft_lr_schedule_name(FT_LR_INVERSE_TIME), "inverse-time") == 0);
    FT_CHECK_EQ(ft_lr_schedule_parse("step", &ls), FT_E_INVALID);

    enum { N = 2 };
    float *x = falloc((size_t)N * FT_FM_INPUT * FT_FM_INPUT * 3), face[N], box[4 * N];
    int32_t id[N];
    rng_state = 13;
    make_batch(x, face, box, id, N);
    for (int sched = 0; sched < 2; sched++) {
        ft_fmodel *m = NULL;
        FT_CHECK_EQ(ft_fmodel_new_random(NULL, 0, 9, &m), FT_OK);
        o = ft_train_opts_default();
        o.fine_tune = false; // heads only: the features come from x each step
        o.batch = N;
        o.threads = 1;
        o.lr = 1e-3;
        o.epochs = 1;
        o.lr_schedule = sched ? FT_LR_COSINE : FT_LR_INVERSE_TIME;
        ft_fm_trainer *t = NULL;
        FT_CHECK_EQ(ft_fm_trainer_new(m, &o, &t), FT_OK);
        size_t np = ft_fmodel_n_params(m);
        float *after1 = falloc(np);
        double l, cl, bl;
        FT_CHECK_EQ(ft_fm_trainer_step(t, x, face, box, id, N, &l, &cl, &bl), FT_OK);
        memcpy(after1, ft_fmodel_params(m), np * sizeof(float));
        FT_CHECK_EQ(ft_fm_trainer_step(t, x, face, box, id, N, &l, &cl, &bl), FT_OK);
        bool same = memcmp(after1, ft_fmodel_params(m), np * sizeof(float)) == 0;
        FT_CHECK_EQ(same, sched == 1);
        ft_aligned_free(after1);
        ft_fm_trainer_free(t);
        ft_fmodel_free(m);
    }
    ft_aligned_free(x);
}

// The box prior: every first prediction is the prior box, whatever the
// photo (the box head's last kernel is zero), clamped to [0.02, 0.98]; with
// and without flip averaging (the prior is mirrored onto itself only when
// symmetric, so flip is off for the asymmetric one).
static void test_box_prior(void)
{
    ft_fmodel *m = NULL;
    FT_CHECK_EQ(ft_fmodel_new_random(NULL, 0, 5, &m), FT_OK);
    if (!m)
        return;
    ft_image im = {0};
    FT_CHECK_EQ(ft_image_new(50, 40, &im), FT_OK);
    rng_state = 31;
    for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++)
        im.rgb[i] = (uint8_t)(urand() * 255);
    ft_err err = {0};
    ft_fm_pred p;
    const float prior[4] = {0.25f, 0.3f, 0.7f, 0.999f};
    ft_fmodel_box_prior(m, prior);
    ft_fmodel_set_flip(m, false);
    FT_CHECK_OK(ft_fmodel_predict(m, &im, &p, &err), &err);
    // sigmoid(logit(v)) in float: a few ulps of 1 (1e-6).
    FT_CHECK_NEAR(p.box[0], 0.25, 1e-6);
    FT_CHECK_NEAR(p.box[1], 0.3, 1e-6);
    FT_CHECK_NEAR(p.box[2], 0.7, 1e-6);
    FT_CHECK_NEAR(p.box[3], 0.98, 1e-6); // clamped
    const float sym[4] = {0.3f, 0.2f, 0.7f, 0.8f};
    ft_fmodel_box_prior(m, sym);
    ft_fmodel_set_flip(m, true);
    FT_CHECK_OK(ft_fmodel_predict(m, &im, &p, &err), &err);
    for (int k = 0; k < 4; k++)
        FT_CHECK_NEAR(p.box[k], sym[k], 1e-6);
    ft_image_deinit(&im);
    ft_fmodel_free(m);
}

// ft_train_run end to end on the labelme fixture (random backbone): fine-
// tuning the last blocks with the frozen prefix cached gives the same
// weights, bit for bit, as recomputing it every step, whatever the threads.
static void test_train_run_cache(void)
{
    char src[1024], out[256];
    ft_err err = {0};
    ft_import_report rep;
    snprintf(src, sizeof src, "%s/data/labelme/good", ft_test_srcdir());
    tmpdir(out, sizeof out, "run");
    FT_CHECK_OK(ft_labelme_import(src, out, NULL, NULL, NULL, &rep, &err), &err);
    ft_dataset *ds = NULL;
    FT_CHECK_OK(ft_dataset_load(out, &ds, &err), &err);
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n; i++)
        ds->s[i].split = i == 0 ? FT_SPLIT_VAL : FT_SPLIT_TRAIN;
    FT_CHECK_OK(ft_dataset_save(ds, &err), &err);
    ft_dataset_free(ds);
    float *params[3] = {NULL, NULL, NULL};
    size_t np = 0;
    for (int run = 0; run < 3; run++) {
        ft_train_opts o = ft_train_opts_default();
        o.fine_tune = true;
        o.fine_tune_from = 23;
        o.epochs = 2;
        o.batch = 2;
        o.lr = 1e-3;
        o.threads = run == 2 ? 1 : 2;
        o.cache_mb = run == 0 ? 0 : 4096;
        ft_fmodel *m = NULL;
        ft_train_result r;
        FT_CHECK_OK(ft_train_run(out, NULL, &o, &m, &r, &err), &err);
        if (!m)
            return;
        FT_CHECK_EQ(r.n_train, 2);
        FT_CHECK_EQ(r.n_val, 1);
        FT_CHECK_EQ(r.n_epochs, 2);
        FT_CHECK(run == 0 ? r.feature_seconds == 0 : r.feature_seconds > 0);
        np = ft_fmodel_n_params(m);
        params[run] = falloc(np);
        memcpy(params[run], ft_fmodel_params(m), np * sizeof(float));
        ft_free(r.history);
        ft_fmodel_free(m);
    }
    FT_CHECK(memcmp(params[0], params[1], np * sizeof(float)) == 0);
    FT_CHECK(memcmp(params[0], params[2], np * sizeof(float)) == 0);
    for (int i = 0; i < 3; i++)
        ft_aligned_free(params[i]);
}

// After training: the val IoU histogram (summary and .svg panel), the
// contact sheet of evaluate's draw_dir, and flip averaging that makes the
// prediction mirror-equivariant.
static void test_eval_draw_flip(void)
{
    char src[1024], out[256], path[600], svg[600];
    ft_err err = {0};
    ft_import_report rep;
    snprintf(src, sizeof src, "%s/data/labelme/good", ft_test_srcdir());
    tmpdir(out, sizeof out, "draw");
    FT_CHECK_OK(ft_labelme_import(src, out, NULL, NULL, NULL, &rep, &err), &err);
    ft_dataset *ds = NULL;
    FT_CHECK_OK(ft_dataset_load(out, &ds, &err), &err);
    if (!ds)
        return;
    // Every photo in val too, so the val evaluation sees faces.
    for (size_t i = 0; i < ds->n; i++)
        ds->s[i].split = i == 0 ? FT_SPLIT_VAL : FT_SPLIT_TRAIN;
    FT_CHECK_OK(ft_dataset_save(ds, &err), &err);
    ft_dataset_free(ds);
    ft_train_opts o = ft_train_opts_default();
    o.fine_tune = false;
    o.epochs = 1;
    o.batch = 2;
    o.threads = 1;
    o.box_loss = FT_BOX_LOSS_CIOU;
    ft_fmodel *m = NULL;
    ft_train_result r;
    FT_CHECK_OK(ft_train_run(out, NULL, &o, &m, &r, &err), &err);
    if (!m)
        return;
    FT_CHECK(r.has_val_eval);
    size_t n_hist = 0;
    for (int i = 0; i < 10; i++)
        n_hist += r.val_iou_hist[i];
    FT_CHECK_EQ(n_hist, 1); // alice1 or inline in val: one face
    snprintf(svg, sizeof svg, "%s/h.svg", out);
    FT_CHECK_OK(ft_train_history_svg(&r, svg, &err), &err);
    ft_buf b;
    FT_CHECK_OK(ft_file_read(svg, 1 << 20, &b, &err), &err);
    FT_CHECK(b.data && strstr((const char *)b.data, "val photos: IoU of 1 faces") != NULL);
    FT_CHECK(b.data && strstr((const char *)b.data, "<title>[") != NULL);
    ft_buf_deinit(&b);
    ft_free(r.history);
    // Contact sheet of the 2 train photos: 8 cells a row, one row.
    ft_eval_opts eo = ft_eval_opts_default();
    snprintf(path, sizeof path, "%s/sheet", out);
    eo.draw_dir = path;
    ft_eval_result ev;
    FT_CHECK_OK(ft_fmodel_evaluate(m, out, FT_SPLIT_TRAIN, &eo, &ev, &err), &err);
    FT_CHECK_EQ(ev.n, 2);
    snprintf(path, sizeof path, "%s/sheet/contact.jpg", out);
    ft_image_limits lim = ft_image_limits_default();
    ft_image im = {0}, mir = {0};
    FT_CHECK_OK(ft_image_load(path, &lim, &im, &err), &err);
    FT_CHECK_EQ(im.w, 4 + 8 * (240 + 4));
    FT_CHECK_EQ(im.h, 4 + 240 + 22 + 4);
    // Flip averaging: predict(mirror(x)) is the mirror of predict(x).
    ft_image_deinit(&im);
    snprintf(path, sizeof path, "%s/data/labelme/good/alice1.png", ft_test_srcdir());
    FT_CHECK_OK(ft_image_load(path, &lim, &im, &err), &err);
    FT_CHECK_OK(ft_image_new(im.w, im.h, &mir), &err);
    for (int32_t y = 0; y < im.h; y++)
        for (int32_t x = 0; x < im.w; x++)
            memcpy(mir.rgb + ((size_t)y * im.w + x) * 3,
                   im.rgb + ((size_t)y * im.w + (im.w - 1 - x)) * 3, 3);
    ft_fm_pred a, c, a0;
    FT_CHECK_OK(ft_fmodel_predict(m, &im, &a, &err), &err);
    FT_CHECK_OK(ft_fmodel_predict(m, &mir, &c, &err), &err);
    // Float sums in another order: a few ulps of values in [0, 1].
    FT_CHECK_NEAR(a.score, c.score, 1e-6);
    FT_CHECK_NEAR(a.box[0], 1.0f - c.box[2], 1e-6);
    FT_CHECK_NEAR(a.box[2], 1.0f - c.box[0], 1e-6);
    FT_CHECK_NEAR(a.box[1], c.box[1], 1e-6);
    FT_CHECK_NEAR(a.box[3], c.box[3], 1e-6);
    // Without flip averaging the two differ (the model is not symmetric).
    ft_fmodel_set_flip(m, false);
    FT_CHECK_OK(ft_fmodel_predict(m, &im, &a0, &err), &err);
    FT_CHECK(fabsf(a0.box[0] - a.box[0]) > 1e-6f || fabsf(a0.score - a.score) > 1e-6f);
    ft_image_deinit(&im);
    ft_image_deinit(&mir);
    ft_fmodel_free(m);
}

static void test_model_h5(void)
{
    char dir[256], path[512], bad[512];
    ft_err err = {0};
    tmpdir(dir, sizeof dir, "h5");
    FT_CHECK(mkdir(dir, 0777) == 0);
    snprintf(path, sizeof path, "%s/m.h5", dir);
    const char *ids[] = {"alice", "bob", "carol"};
    ft_fmodel *m = NULL, *m2 = NULL;
    FT_CHECK_EQ(ft_fmodel_new_random(ids, 3, 4, &m), FT_OK);
    FT_CHECK_OK(ft_fmodel_save(m, path, &err), &err);
    FT_CHECK_OK(ft_fmodel_load(path, &m2, &err), &err);
    if (m && m2) {
        FT_CHECK_EQ(ft_fmodel_n_ids(m2), 3);
        FT_CHECK_STREQ(ft_fmodel_id_name(m2, 2), "carol");
        // Same weights (padding between tensors aside): same predictions.
        ft_image im;
        FT_CHECK_EQ(ft_image_new(64, 48, &im), FT_OK);
        for (size_t i = 0; i < (size_t)64 * 48 * 3; i++)
            im.rgb[i] = (uint8_t)(i * 7);
        ft_fm_pred a, b;
        FT_CHECK_OK(ft_fmodel_predict(m, &im, &a, &err), &err);
        FT_CHECK_OK(ft_fmodel_predict(m2, &im, &b, &err), &err);
        FT_CHECK(a.score == b.score && memcmp(a.box, b.box, sizeof a.box) == 0 && a.id == b.id);
        ft_image_deinit(&im);
    }
    // Truncated file: a clear error.
    ft_buf fb;
    FT_CHECK_OK(ft_file_read(path, 0, &fb, &err), &err);
    snprintf(bad, sizeof bad, "%s/trunc.h5", dir);
    FT_CHECK_OK(ft_file_write_atomic(bad, fb.data, fb.len / 3, &err), &err);
    ft_buf_deinit(&fb);
    ft_fmodel *m3 = NULL;
    ft_err e1 = {0};
    FT_CHECK(ft_fmodel_load(bad, &m3, &e1) != FT_OK && m3 == NULL);
    FT_CHECK(strstr(e1.msg, "trunc.h5") != NULL);
    // Foreign file.
    snprintf(bad, sizeof bad, "%s/foreign.h5", dir);
    FT_CHECK_OK(ft_file_write_atomic(bad, "{\"not\": \"hdf5\"}", 15, &err), &err);
    ft_err e2 = {0};
    FT_CHECK_EQ(ft_fmodel_load(bad, &m3, &e2), FT_E_FORMAT);
    // A Keras model with a layer facetracker does not have.
    ft_graph g;
    memset(&g, 0, sizeof g);
    ft_glayer layers[3];
    memset(layers, 0, sizeof layers);
    ft_gnode nodes[3];
    ft_gref refs[3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}};
    ft_gref gin = {0, 0, 0}, gout = {2, 0, 0};
    const char *names[3] = {"input_1", "max_pooling2d", "global_max_pooling2d"};
    ft_layer_kind kinds[3] = {FT_LAYER_INPUT, FT_LAYER_MAXPOOL2D, FT_LAYER_GLOBAL_MAXPOOL2D};
    for (int i = 0; i < 3; i++) {
        layers[i].name = (char *)names[i];
        layers[i].kind = kinds[i];
        layers[i].trainable = true;
        layers[i].relu_max = -1;
        layers[i].kernel[0] = layers[i].kernel[1] = 2;
        layers[i].strides[0] = layers[i].strides[1] = 2;
        layers[i].dilation[0] = layers[i].dilation[1] = 1;
        nodes[i].n_inputs = i ? 1 : 0;
        nodes[i].inputs = i ? &refs[i - 1] : NULL;
        layers[i].nodes = &nodes[i];
        layers[i].n_nodes = 1;
    }
    layers[0].input_rank = 3;
    layers[0].input_shape[0] = layers[0].input_shape[1] = 8;
    layers[0].input_shape[2] = 3;
    g.name = (char *)"other";
    g.layers = layers;
    g.n_layers = 3;
    g.inputs = &gin;
    g.outputs = &gout;
    g.n_inputs = g.n_outputs = 1;
    snprintf(bad, sizeof bad, "%s/other.h5", dir);
    FT_CHECK_OK(ft_h5_model_save(bad, &g, NULL, &err), &err);
    ft_err e3 = {0};
    FT_CHECK_EQ(ft_fmodel_load(bad, &m3, &e3), FT_E_UNSUPPORTED);
    FT_CHECK(strstr(e3.msg, "max_pooling2d") != NULL);
    ft_fmodel_free(m);
    ft_fmodel_free(m2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    FT_CHECK(system(cmd) == 0);
}

static const ft_test_case cases[] = {
    {"grad_conv", test_grad_conv},
    {"grad_dwconv", test_grad_dwconv},
    {"grad_bias_act", test_grad_bias_act},
    {"grad_gmaxpool", test_grad_gmaxpool},
    {"grad_dense", test_grad_dense},
    {"grad_losses", test_grad_losses},
    {"grad_box_iou", test_grad_box_iou},
    {"variants", test_variants},
    {"ref_f32_f64", test_ref_f32_f64},
    {"adam_golden", test_adam_golden},
    {"labelme_parse", test_labelme_parse},
    {"labelme_import", test_labelme_import},
    {"labelme_bad", test_labelme_bad},
    {"model_grad", test_model_grad},
    {"model_train_determinism", test_model_train_determinism},
    {"train_run_cache", test_train_run_cache},
    {"lr_schedule", test_lr_schedule},
    {"box_prior", test_box_prior},
    {"model_h5", test_model_h5},
    {"eval_draw_flip", test_eval_draw_flip},
};
FT_TEST_MAIN(cases)
