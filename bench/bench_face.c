// Benchmark of the face pipeline (issues 2 and 3): median ms per stage for
// the SSD and tiny detectors on a 640x480 photo and a 1920-wide demo photo,
// 1 and 2 threads; the SSD network's achieved GFLOP/s next to the GEMM peak
// of our own kernel measured in the same run; landmarks and descriptor ms
// per face. Validates before timing (STYLE §9): sample1 must give the three
// faces face-api finds, and every output the benchmark times (detections of
// each detector on each photo, landmarks of both nets, descriptors of both
// crops) must agree with the same program run on the reference kernels
// (FT_KERNELS=ref, in a child process) within the tolerances below; each
// timed run's detections must agree too. Any mismatch exits 1 before a time
// is printed. Checksums of both runs are printed.
//
// usage: bench_face [ASSETS_DIR] [--runs N] [--ppm-out DIR]
//        bench_face --ref-dump [ASSETS_DIR]   (the child: outputs as hex floats)
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "face/face.h"
#include "io/image.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// Thread CPU time in ms: robust when the machine is shared (wall time is
// reported too).
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Multiply-adds x2 of the SSD at 512x512 (faceapi-models.md §5.1), heads
// included.
static double ssd_gflop(void)
{
    static const int dws[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    static const int pw[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    double f = 0;
    int s = 256, c = 32;
    f += 2.0 * s * s * 32 * 27; // L0
    for (int i = 0; i < 13; i++) {
        s = (s + dws[i] - 1) / dws[i];
        f += 2.0 * s * s * c * 9 + 2.0 * s * s * c * pw[i];
        c = pw[i];
        if (i == 10)
            f += 2.0 * s * s * c * 21; // head 0: 3 anchors x 7
    }
    f += 2.0 * s * s * c * 42; // head 1
    static const int ek[8] = {1, 3, 1, 3, 1, 3, 1, 3}, eo[8] = {256, 512, 128, 256, 128, 256, 64, 128};
    for (int i = 0; i < 8; i++) {
        if (ek[i] == 3)
            s = (s + 1) / 2;
        f += 2.0 * s * s * c * eo[i] * ek[i] * ek[i];
        c = eo[i];
        if (ek[i] == 3)
            f += 2.0 * s * s * c * 42;
    }
    return f / 1e9;
}

// GEMM peak of our kernel on one thread: a 1x1 conv, M = 64*64, K = N = 1024.
static double gemm_peak(void)
{
    ft_nn_ctx *ctx;
    ft_nn_ctx_new(1, &ctx);
    int32_t k = 1024, n = 1024, hw = 64;
    float *w = ft_aligned_alloc(sizeof(float) * k * n), *b = ft_aligned_alloc(sizeof(float) * n);
    float *x = ft_aligned_alloc(sizeof(float) * hw * hw * k), *y = ft_aligned_alloc(sizeof(float) * hw * hw * n);
    srand(1);
    for (int32_t i = 0; i < k * n; i++)
        w[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    for (int32_t i = 0; i < hw * hw * k; i++)
        x[i] = (float)((double)rand() / RAND_MAX);
    memset(b, 0, sizeof(float) * n);
    ft_conv_desc d = {1, 1, k, n, 1, FT_PAD_SAME, false, FT_ACT_NONE};
    ft_conv *c;
    ft_conv_new(&d, w, b, &c);
    ft_map xm = {hw, hw, k, x}, ym = {hw, hw, n, y};
    double t[7];
    for (int r = 0; r < 7; r++) {
        double t0 = ft_now_ms();
        ft_conv_forward(ctx, c, &xm, &ym);
        t[r] = ft_now_ms() - t0;
    }
    double ms = median(t, 7);
    ft_conv_free(c);
    ft_aligned_free(w);
    ft_aligned_free(b);
    ft_aligned_free(x);
    ft_aligned_free(y);
    ft_nn_ctx_free(ctx);
    return 2.0 * hw * hw * (double)k * n / (ms * 1e6);
}

// A 640x480 photo: the 4:3 centre of a demo photo, area-averaged down.
static void make_vga(const ft_image *src, ft_image *out)
{
    int32_t cw = src->h * 4 / 3, x0 = (src->w - cw) / 2;
    ft_image_new(640, 480, out);
    for (int32_t oy = 0; oy < 480; oy++)
        for (int32_t ox = 0; ox < 640; ox++) {
            int32_t y0 = oy * src->h / 480, y1 = (oy + 1) * src->h / 480;
            int32_t xa = x0 + ox * cw / 640, xb = x0 + (ox + 1) * cw / 640;
            unsigned acc[3] = {0, 0, 0}, n = 0;
            for (int32_t y = y0; y < y1; y++)
                for (int32_t x = xa; x < xb; x++, n++)
                    for (int c = 0; c < 3; c++)
                        acc[c] += src->rgb[((size_t)y * src->w + x) * 3 + c];
            for (int c = 0; c < 3; c++)
                out->rgb[((size_t)oy * 640 + ox) * 3 + c] = (uint8_t)((acc[c] + n / 2) / n);
        }
}

// ---- Validation against the reference kernels ----

// The timed configurations: photo (0 = 640x480, 1 = sample1, 2 = square),
// detector, input size (tiny only). The landmark and descriptor stages run
// on the faces of configuration SAMPLE1_SSD.
typedef struct bench_cfg {
    int photo;
    ft_detector_kind kind;
    int32_t input;
    const char *name;
} bench_cfg;
enum { N_PHOTOS = 3, N_CFG = 7, SAMPLE1_SSD = 3, MAX_FACES = 64 };
static const bench_cfg cfgs[N_CFG] = {
    {0, FT_DETECTOR_SSD, 320, "ssd 512"},  {0, FT_DETECTOR_TINY, 416, "tiny 416"},
    {0, FT_DETECTOR_TINY, 320, "tiny 320"}, {1, FT_DETECTOR_SSD, 320, "ssd 512"},
    {1, FT_DETECTOR_TINY, 416, "tiny 416"}, {1, FT_DETECTOR_TINY, 320, "tiny 320"},
    {2, FT_DETECTOR_SSD, 320, "ssd 512"},
};

// Tolerances between kernel variants: the same float32 networks summed in
// another order (and with FMA). Measured on sample1, the 640x480 and the
// square photo (2026-12-04, gcc 12, Xeon with AVX-512), avx512 and avx2
// against ref, the largest deviations were: boxes 5.7e-5 px, scores 4.4e-7,
// landmarks 4.4e-5 px (both nets), descriptor distance 7.0e-7 (both crops).
// The bounds are about 4x those: room for another CPU's rounding, but a
// wrong kernel (one tap or channel off) moves these by orders of magnitude
// more. For scale, faceapi-models.md §10 finds tfjs-wasm vs tfjs-cpu, which
// differ the same way, at 2.3e-4 px, 9e-7, 1.6e-4 px and 1.3e-6.
#define TOL_BOX_PX 2.5e-4
#define TOL_SCORE 2e-6
#define TOL_LM_PX 2e-4
#define TOL_DESC 3e-6

typedef struct outputs {
    uint64_t input_hash[N_PHOTOS]; // FNV-1a of the decoded pixels of each photo
    size_t n_det[N_CFG];
    ft_face_box det[N_CFG][MAX_FACES];
    size_t n_faces; // = n_det[SAMPLE1_SSD], capped
    ft_point lm[MAX_FACES][FT_LANDMARKS], lmt[MAX_FACES][FT_LANDMARKS];
    float desc[MAX_FACES][FT_DESCRIPTOR_DIM], dsim[MAX_FACES][FT_DESCRIPTOR_DIM];
} outputs;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static ft_detect_opts cfg_opts(const bench_cfg *c)
{
    ft_detect_opts o = ft_detect_opts_default();
    o.kind = c->kind;
    o.input_size = c->input;
    return o;
}

// Every output the benchmark times, on one thread. With `ref` (the
// reference run's outputs), landmarks are computed on the reference's boxes
// and descriptors on its boxes and landmarks, so each stage is compared on
// the same input and differs only by its own kernels.
static bool compute_outputs(const ft_face_models *m, const ft_buf *const jpegs[N_PHOTOS],
                            const outputs *ref, outputs *out)
{
    ft_nn_ctx *ctx;
    ft_err err = {0};
    if (ft_nn_ctx_new(1, &ctx) != FT_OK)
        return false;
    bool ok = true;
    ft_image im[N_PHOTOS];
    memset(im, 0, sizeof im);
    for (int p = 0; p < N_PHOTOS && ok; p++) {
        ok = ft_image_decode(jpegs[p]->data, jpegs[p]->len, NULL, &im[p], &err) == FT_OK;
        if (ok)
            out->input_hash[p] = fnv1a(im[p].rgb, (size_t)im[p].w * im[p].h * 3);
    }
    for (int c = 0; c < N_CFG && ok; c++) {
        ft_detect_opts o = cfg_opts(&cfgs[c]);
        ok = ft_detect(m, ctx, &im[cfgs[c].photo], &o, out->det[c], MAX_FACES, &out->n_det[c],
                       NULL, &err) == FT_OK;
        if (out->n_det[c] > MAX_FACES)
            out->n_det[c] = MAX_FACES;
    }
    const ft_face_box *boxes = ref ? ref->det[SAMPLE1_SSD] : out->det[SAMPLE1_SSD];
    out->n_faces = ref ? ref->n_faces : out->n_det[SAMPLE1_SSD];
    for (size_t f = 0; f < out->n_faces && ok; f++) {
        const ft_image *s1 = &im[cfgs[SAMPLE1_SSD].photo];
        ok = ft_landmarks(m, ctx, s1, &boxes[f], false, out->lm[f], &err) == FT_OK &&
             ft_landmarks(m, ctx, s1, &boxes[f], true, out->lmt[f], &err) == FT_OK;
        const ft_point *lm = ref ? ref->lm[f] : out->lm[f];
        ok = ok &&
             ft_descriptor(m, ctx, s1, &boxes[f], lm, FT_ALIGN_FACEAPI, out->desc[f], &err) == FT_OK &&
             ft_descriptor(m, ctx, s1, &boxes[f], lm, FT_ALIGN_SIMILARITY, out->dsim[f], &err) == FT_OK;
    }
    if (!ok)
        fprintf(stderr, "bench_face: computing the outputs: %s\n", err.msg);
    for (int p = 0; p < N_PHOTOS; p++)
        ft_image_deinit(&im[p]);
    ft_nn_ctx_free(ctx);
    return ok;
}

static void dump_vals(FILE *f, const char *tag, const double *v, size_t n)
{
    fprintf(f, "%s", tag);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %a", v[i]);
    fprintf(f, "\n");
}

// The outputs as text with hex floats (exact), for the parent to read.
static void dump_outputs(FILE *f, const outputs *o)
{
    fprintf(f, "ft-bench-face-ref 1 %d %d\n", N_CFG, FT_LANDMARKS);
    for (int p = 0; p < N_PHOTOS; p++)
        fprintf(f, "input %llu\n", (unsigned long long)o->input_hash[p]);
    for (int c = 0; c < N_CFG; c++) {
        fprintf(f, "det %zu\n", o->n_det[c]);
        for (size_t k = 0; k < o->n_det[c]; k++) {
            const ft_face_box *b = &o->det[c][k];
            double v[5] = {b->x, b->y, b->w, b->h, b->score};
            dump_vals(f, "box", v, 5);
        }
    }
    fprintf(f, "faces %zu\n", o->n_faces);
    for (size_t k = 0; k < o->n_faces; k++) {
        double v[2 * FT_LANDMARKS];
        for (int i = 0; i < FT_LANDMARKS; i++)
            v[2 * i] = o->lm[k][i].x, v[2 * i + 1] = o->lm[k][i].y;
        dump_vals(f, "lm", v, 2 * FT_LANDMARKS);
        for (int i = 0; i < FT_LANDMARKS; i++)
            v[2 * i] = o->lmt[k][i].x, v[2 * i + 1] = o->lmt[k][i].y;
        dump_vals(f, "lmt", v, 2 * FT_LANDMARKS);
        double d[FT_DESCRIPTOR_DIM];
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            d[i] = o->desc[k][i];
        dump_vals(f, "desc", d, FT_DESCRIPTOR_DIM);
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            d[i] = o->dsim[k][i];
        dump_vals(f, "dsim", d, FT_DESCRIPTOR_DIM);
    }
    fprintf(f, "end\n");
}

static bool read_vals(FILE *f, const char *tag, double *v, size_t n)
{
    char t[16];
    if (fscanf(f, "%15s", t) != 1 || strcmp(t, tag) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) // %lf reads the %a form (C99)
            return false;
    return true;
}

static bool read_outputs(FILE *f, outputs *o)
{
    int ncfg, nlm;
    if (fscanf(f, "ft-bench-face-ref 1 %d %d", &ncfg, &nlm) != 2 || ncfg != N_CFG ||
        nlm != FT_LANDMARKS)
        return false;
    for (int p = 0; p < N_PHOTOS; p++) {
        unsigned long long h;
        if (fscanf(f, " input %llu", &h) != 1)
            return false;
        o->input_hash[p] = h;
    }
    for (int c = 0; c < N_CFG; c++) {
        if (fscanf(f, " det %zu", &o->n_det[c]) != 1 || o->n_det[c] > MAX_FACES)
            return false;
        for (size_t k = 0; k < o->n_det[c]; k++) {
            double v[5];
            if (!read_vals(f, "box", v, 5))
                return false;
            o->det[c][k] = (ft_face_box){v[0], v[1], v[2], v[3], v[4]};
        }
    }
    if (fscanf(f, " faces %zu", &o->n_faces) != 1 || o->n_faces > MAX_FACES)
        return false;
    for (size_t k = 0; k < o->n_faces; k++) {
        double v[2 * FT_LANDMARKS], d[FT_DESCRIPTOR_DIM];
        if (!read_vals(f, "lm", v, 2 * FT_LANDMARKS))
            return false;
        for (int i = 0; i < FT_LANDMARKS; i++)
            o->lm[k][i] = (ft_point){v[2 * i], v[2 * i + 1]};
        if (!read_vals(f, "lmt", v, 2 * FT_LANDMARKS))
            return false;
        for (int i = 0; i < FT_LANDMARKS; i++)
            o->lmt[k][i] = (ft_point){v[2 * i], v[2 * i + 1]};
        if (!read_vals(f, "desc", d, FT_DESCRIPTOR_DIM))
            return false;
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            o->desc[k][i] = (float)d[i];
        if (!read_vals(f, "dsim", d, FT_DESCRIPTOR_DIM))
            return false;
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            o->dsim[k][i] = (float)d[i];
    }
    char t[8];
    return fscanf(f, "%7s", t) == 1 && strcmp(t, "end") == 0;
}

// Runs this program on the reference kernels and reads its outputs.
static bool reference_outputs(const char *assets, outputs *o)
{
    char exe[4096], cmd[8400];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || strchr(assets, '\'')) {
        fprintf(stderr, "bench_face: cannot run the reference child\n");
        return false;
    }
    exe[n] = 0;
    if (strchr(exe, '\''))
        return false;
    snprintf(cmd, sizeof cmd, "FT_KERNELS=ref '%s' --ref-dump '%s'", exe, assets);
    FILE *f = popen(cmd, "r");
    if (!f)
        return false;
    bool ok = read_outputs(f, o);
    int rc = pclose(f);
    if (!ok || rc != 0)
        fprintf(stderr, "bench_face: the reference run failed (exit status %d)\n", rc);
    return ok && rc == 0;
}

// Largest deviations seen, per quantity.
typedef struct devs {
    double box, score, lm, lmt, desc, dsim;
} devs;

// Detections `got` vs `ref`: same count, and each reference face paired
// with the detection nearest to it. Returns false on a mismatch.
static bool compare_dets(const char *what, const ft_face_box *ref, size_t nr,
                         const ft_face_box *got, size_t ng, devs *d)
{
    if (nr != ng) {
        fprintf(stderr, "MISMATCH %s: %zu faces, the reference kernels found %zu\n", what, ng, nr);
        return false;
    }
    bool ok = true;
    for (size_t r = 0; r < nr; r++) {
        double best = INFINITY;
        size_t bi = 0;
        for (size_t k = 0; k < ng; k++) {
            double e = fmax(fmax(fabs(got[k].x - ref[r].x), fabs(got[k].y - ref[r].y)),
                            fmax(fabs(got[k].w - ref[r].w), fabs(got[k].h - ref[r].h)));
            if (e < best)
                best = e, bi = k;
        }
        double ds = fabs(got[bi].score - ref[r].score);
        d->box = fmax(d->box, best);
        d->score = fmax(d->score, ds);
        if (!(best <= TOL_BOX_PX) || !(ds <= TOL_SCORE)) {
            fprintf(stderr, "MISMATCH %s face %zu: box off by %.3g px (tol %g), score by %.3g (tol %g)\n",
                    what, r, best, TOL_BOX_PX, ds, TOL_SCORE);
            ok = false;
        }
    }
    return ok;
}

static double lm_dev(const ft_point *a, const ft_point *b)
{
    double e = 0;
    for (int i = 0; i < FT_LANDMARKS; i++)
        e = fmax(e, fmax(fabs(a[i].x - b[i].x), fabs(a[i].y - b[i].y)));
    return e;
}

static bool compare_outputs(const outputs *ref, const outputs *got, devs *d)
{
    bool ok = true;
    for (int p = 0; p < N_PHOTOS; p++)
        if (ref->input_hash[p] != got->input_hash[p]) {
            fprintf(stderr, "MISMATCH photo %d: the reference run decoded other pixels\n", p);
            ok = false;
        }
    for (int c = 0; c < N_CFG; c++) {
        char what[64];
        snprintf(what, sizeof what, "%s on photo %d", cfgs[c].name, cfgs[c].photo);
        ok &= compare_dets(what, ref->det[c], ref->n_det[c], got->det[c], got->n_det[c], d);
    }
    for (size_t f = 0; f < ref->n_faces; f++) {
        double e[4] = {lm_dev(ref->lm[f], got->lm[f]), lm_dev(ref->lmt[f], got->lmt[f]),
                       ft_descriptor_distance(ref->desc[f], got->desc[f]),
                       ft_descriptor_distance(ref->dsim[f], got->dsim[f])};
        d->lm = fmax(d->lm, e[0]);
        d->lmt = fmax(d->lmt, e[1]);
        d->desc = fmax(d->desc, e[2]);
        d->dsim = fmax(d->dsim, e[3]);
        if (!(e[0] <= TOL_LM_PX && e[1] <= TOL_LM_PX && e[2] <= TOL_DESC && e[3] <= TOL_DESC)) {
            fprintf(stderr,
                    "MISMATCH sample1 face %zu: landmarks off by %.3g px, tiny %.3g px (tol %g); "
                    "descriptor distance %.3g, similarity %.3g (tol %g)\n",
                    f, e[0], e[1], TOL_LM_PX, e[2], e[3], TOL_DESC);
            ok = false;
        }
    }
    return ok;
}

static double checksum(const outputs *o)
{
    double s = 0;
    for (int c = 0; c < N_CFG; c++)
        for (size_t k = 0; k < o->n_det[c]; k++)
            s += o->det[c][k].x + o->det[c][k].y + o->det[c][k].w + o->det[c][k].h +
                 o->det[c][k].score;
    for (size_t f = 0; f < o->n_faces; f++) {
        for (int i = 0; i < FT_LANDMARKS; i++)
            s += o->lm[f][i].x + o->lm[f][i].y + o->lmt[f][i].x + o->lmt[f][i].y;
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            s += o->desc[f][i] + o->dsim[f][i];
    }
    return s;
}

// ---- Timing ----

typedef struct stage_ms {
    double decode, pre, net, post, total, detect_cpu;
    size_t faces;
} stage_ms;

// Times configuration `c`; `boxes`/`n_out` receive the last run's
// detections, for checking.
static void bench_detect(const ft_face_models *m, const ft_buf *jpeg, const bench_cfg *c,
                         int threads, int runs, stage_ms *out, ft_face_box boxes[MAX_FACES],
                         size_t *n_out)
{
    ft_nn_ctx *ctx;
    ft_nn_ctx_new(threads, &ctx);
    ft_detect_opts o = cfg_opts(c);
    double *dec = calloc((size_t)runs, sizeof(double)), *pre = calloc((size_t)runs, sizeof(double));
    double *net = calloc((size_t)runs, sizeof(double)), *post = calloc((size_t)runs, sizeof(double));
    double *tot = calloc((size_t)runs, sizeof(double)), *cpu = calloc((size_t)runs, sizeof(double));
    size_t n = 0;
    for (int r = -1; r < runs; r++) { // one warm-up run
        ft_image im;
        double t0 = ft_now_ms();
        ft_image_decode(jpeg->data, jpeg->len, NULL, &im, NULL);
        double t1 = ft_now_ms();
        ft_detect_timing t;
        double c0 = cpu_ms();
        ft_detect(m, ctx, &im, &o, boxes, MAX_FACES, &n, &t, NULL);
        double c1 = cpu_ms();
        double t2 = ft_now_ms();
        ft_image_deinit(&im);
        if (r < 0)
            continue;
        dec[r] = t1 - t0;
        pre[r] = t.preprocess_ms;
        net[r] = t.network_ms;
        post[r] = t.postprocess_ms;
        tot[r] = t2 - t0;
        cpu[r] = c1 - c0;
    }
    *out = (stage_ms){median(dec, runs), median(pre, runs), median(net, runs), median(post, runs),
                      median(tot, runs), median(cpu, runs), n};
    *n_out = n > MAX_FACES ? MAX_FACES : n;
    free(cpu);
    free(dec);
    free(pre);
    free(net);
    free(post);
    free(tot);
    ft_nn_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    const char *assets = getenv("FT_ASSETS_DIR");
    const char *ppm_dir = NULL;
    int runs = 9;
    bool ref_dump = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ref-dump") == 0)
            ref_dump = true;
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "quick") == 0)
            runs = 3;
        else if (strcmp(argv[i], "--ppm-out") == 0 && i + 1 < argc)
            ppm_dir = argv[++i];
        else
            assets = argv[i];
    }
    if (!assets)
        assets = FT_DEFAULT_MODELS_DIR "/..";
    ft_nn_init();
    char path[4096];
    snprintf(path, sizeof path, "%s/model", assets);
    ft_models_opts mo = ft_models_opts_default();
    mo.dir = path;
    ft_face_models *m;
    ft_err err = {0};
    if (ft_face_models_load(&mo, &m, &err) != FT_OK) {
        fprintf(stderr, "bench_face: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/demo/sample1.jpg", assets);
    ft_buf big, vga_jpeg;
    if (ft_file_read(path, 0, &big, &err) != FT_OK) {
        fprintf(stderr, "bench_face: %s\n", err.msg);
        return 1;
    }
    ft_image im1, vga;
    ft_image_decode(big.data, big.len, NULL, &im1, NULL);
    make_vga(&im1, &vga);
    ft_buf_init(&vga_jpeg, 0);
    ft_image_encode_jpeg(&vga, 90, &vga_jpeg, NULL);
    // A square photo (the centre 480x480 of the 640x480 one): no padding
    // rows, so the SSD computes every row and its GFLOP/s are real; on the
    // landscape photos the padding rows are copied, not computed (ssd.c),
    // and the figure is "effective" (the whole network's FLOPs / time).
    ft_image sq;
    ft_buf sq_jpeg;
    ft_image_new(480, 480, &sq);
    for (int32_t y = 0; y < 480; y++)
        memcpy(sq.rgb + (size_t)y * 480 * 3, vga.rgb + ((size_t)y * 640 + 80) * 3, 480 * 3);
    ft_buf_init(&sq_jpeg, 0);
    ft_image_encode_jpeg(&sq, 90, &sq_jpeg, NULL);
    const ft_buf *jpegs[N_PHOTOS] = {&vga_jpeg, &big, &sq_jpeg};
    const char *photo_names[N_PHOTOS] = {"640x480", "1920x1280 (sample1)", "480x480 (square)"};

    outputs *ref = calloc(1, sizeof *ref), *got = calloc(1, sizeof *got);
    if (!ref || !got)
        return 1;
    if (ref_dump) {
        // The child of reference_outputs(): nothing else goes to stdout.
        if (!compute_outputs(m, jpegs, NULL, ref))
            return 1;
        dump_outputs(stdout, ref);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (ppm_dir) {
        snprintf(path, sizeof path, "%s/vga.ppm", ppm_dir);
        ft_image_save(&vga, path, NULL);
        snprintf(path, sizeof path, "%s/vga.jpg", ppm_dir);
        ft_file_write_atomic(path, vga_jpeg.data, vga_jpeg.len, NULL);
        snprintf(path, sizeof path, "%s/sample1.ppm", ppm_dir);
        ft_image_save(&im1, path, NULL);
        snprintf(path, sizeof path, "%s/square.ppm", ppm_dir);
        ft_image_save(&sq, path, NULL);
    }

    // Validation: the three faces face-api finds on sample1.
    ft_nn_ctx *ctx1;
    ft_nn_ctx_new(1, &ctx1);
    ft_face_box boxes[64];
    size_t n = 0;
    ft_detect_opts so = ft_detect_opts_default();
    so.kind = FT_DETECTOR_SSD; // face-api's count is the SSD's (the default is YuNet)
    ft_detect(m, ctx1, &im1, &so, boxes, 64, &n, NULL, NULL);
    printf("validation: sample1 SSD faces %zu (face-api: 3)\n", n);
    if (n != 3)
        return 1;
    // Every timed output against the reference kernels' (computed in this
    // process when they are the ones dispatched).
    const char *kernels = ft_nn_init();
    bool same = strcmp(kernels, "ref") == 0;
    if (!(same ? compute_outputs(m, jpegs, NULL, ref) : reference_outputs(assets, ref)) ||
        !compute_outputs(m, jpegs, ref, got))
        return 1;
    devs dv = {0};
    bool valid = compare_outputs(ref, got, &dv);
    printf("validation: %s kernels vs ref, max deviation: boxes %.3g px, scores %.3g, landmarks "
           "%.3g px (tiny net %.3g px), descriptor distance %.3g (similarity crop %.3g); "
           "tolerances %g px, %g, %g px, %g\n",
           kernels, dv.box, dv.score, dv.lm, dv.lmt, dv.desc, dv.dsim, TOL_BOX_PX, TOL_SCORE,
           TOL_LM_PX, TOL_DESC);
    printf("validation: checksum %.6f (ref kernels %.6f)\n", checksum(got), checksum(ref));
    if (!valid) {
        fprintf(stderr, "bench_face: outputs differ from the reference kernels: no timings\n");
        return 1;
    }

    printf("cpu kernels: %s; threads available: %d\n", kernels, ft_cpu_count());
    double peak = gemm_peak();
    double gf = ssd_gflop();
    printf("gemm peak (our kernel, 1 thread, 4096x1024x1024): %.1f GFLOP/s\n", peak);
    printf("SSD network: %.2f GFLOP per image\n\n", gf);
    printf("wall-clock medians in ms; \"detect CPU\" is the calling thread's CPU time for the\n"
           "whole detect call (1 thread: the true cost; 2 threads: the caller's share only)\n\n");
    printf("| detector | photo | threads | faces | decode | preprocess | network | decode+NMS | total | detect CPU | network GFLOP/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < N_CFG; c++) {
        bool square = cfgs[c].photo == 2;
        for (int th = 1; th <= (square ? 1 : 2); th++) {
            stage_ms s;
            ft_face_box last[MAX_FACES];
            size_t n_last = 0;
            bench_detect(m, jpegs[cfgs[c].photo], &cfgs[c], th, runs, &s, last, &n_last);
            // What was timed is what was validated.
            char what[64];
            snprintf(what, sizeof what, "timed %s on photo %d, %d threads", cfgs[c].name,
                     cfgs[c].photo, th);
            if (!compare_dets(what, ref->det[c], ref->n_det[c], last, n_last, &dv))
                return 1;
            printf("| %s | %s | %d | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |", cfgs[c].name,
                   photo_names[cfgs[c].photo], th, s.faces, s.decode, s.pre, s.net, s.post,
                   s.total, s.detect_cpu);
            if (cfgs[c].kind == FT_DETECTOR_SSD && th == 1 && square)
                printf(" %.1f wall, %.1f CPU (%.0f%% of peak) |\n", gf / (s.net / 1e3),
                       gf / (s.detect_cpu / 1e3), 100 * gf / (s.detect_cpu / 1e3) / peak);
            else if (cfgs[c].kind == FT_DETECTOR_SSD)
                printf(" %.1f wall, effective |\n", gf / (s.net / 1e3));
            else
                printf(" |\n");
        }
    }

    // Landmarks and descriptor per face, 1 thread, on sample1's faces.
    double *tl = calloc((size_t)runs * n, sizeof(double)), *tlt = calloc((size_t)runs * n, sizeof(double));
    double *td = calloc((size_t)runs * n, sizeof(double)), *tds = calloc((size_t)runs * n, sizeof(double));
    int k = 0;
    for (int r = 0; r < runs; r++)
        for (size_t f = 0; f < n; f++, k++) {
            ft_point lm[FT_LANDMARKS];
            float d[FT_DESCRIPTOR_DIM];
            double t0 = cpu_ms();
            ft_landmarks(m, ctx1, &im1, &boxes[f], false, lm, NULL);
            double t1 = cpu_ms();
            ft_landmarks(m, ctx1, &im1, &boxes[f], true, lm, NULL);
            double t2 = cpu_ms();
            ft_landmarks(m, ctx1, &im1, &boxes[f], false, lm, NULL);
            double t3 = cpu_ms();
            ft_descriptor(m, ctx1, &im1, &boxes[f], lm, FT_ALIGN_FACEAPI, d, NULL);
            double t4 = cpu_ms();
            ft_descriptor(m, ctx1, &im1, &boxes[f], lm, FT_ALIGN_SIMILARITY, d, NULL);
            double t5 = cpu_ms();
            tl[k] = t1 - t0;
            tlt[k] = t2 - t1;
            td[k] = t4 - t3;
            tds[k] = t5 - t4;
        }
    printf("\nper face, 1 thread, CPU ms (median over %d runs x %zu faces of sample1):\n\n", runs, n);
    printf("| stage | ms |\n|---|---|\n");
    printf("| landmarks (68-point net, incl. crop) | %.2f |\n", median(tl, k));
    printf("| landmarks (tiny net) | %.2f |\n", median(tlt, k));
    printf("| descriptor, face-api crop (incl. crop+resize) | %.2f |\n", median(td, k));
    printf("| descriptor, similarity warp | %.2f |\n", median(tds, k));
    free(tl);
    free(tlt);
    free(td);
    free(tds);
    ft_nn_ctx_free(ctx1);
    ft_image_deinit(&im1);
    ft_image_deinit(&vga);
    ft_image_deinit(&sq);
    ft_buf_deinit(&sq_jpeg);
    ft_buf_deinit(&big);
    ft_buf_deinit(&vga_jpeg);
    ft_face_models_free(m);
    free(ref);
    free(got);
    return 0;
}
