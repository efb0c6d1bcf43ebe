// Tests of the quantised 1:N index (src/gallery/match_i8.c) and its int8
// kernels (sqdist_i8_*.c): every kernel variant equals the reference
// exactly; the reference equals a direct sum over unpacked rows; the
// quantised distance stays within the bound the index relies on; and
// ft_match gives the same people, samples and distances (bit for bit) with
// and without the index, on random galleries and on real face-api
// descriptors (tests/golden/faceapi, made by face-api 1.7.15).
#include "ft_test.h"

#include "core/cpu.h"
#include "core/mem.h"
#include "gallery/gallery_internal.h"
#include "gallery/match_i8.h"
#include "gallery/sqdist_i8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 1;

static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9e3779b97f4a7c15ull + 1;
}

static double rng_uniform(void) // [0, 1)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double rng_normal(void)
{
    double u = rng_uniform(), v = rng_uniform();
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

// ---- Kernels ----

// Every variant against the reference, and the reference against a plain
// sum over rows unpacked from the layout: exact integers, so exact
// equality. Codes span [-127, 127] including rows and queries all at the
// extremes (the largest sums); canaries after the output.
static void test_kernels(void)
{
    const size_t dims[] = {4, 8, 12, 128, 132, 1024};
    const size_t blocks[] = {0, 1, 2, 3, 17};
    enum { R = FT_SQDIST_I8_ROWS, MAXB = 17, MAXD = 1024, CANARY = 16 };
    int8_t *codes = ft_aligned_alloc((size_t)MAXB * R * MAXD);
    int32_t *norm = ft_malloc(sizeof(int32_t) * MAXB * R);
    int32_t *ref = ft_malloc(sizeof(int32_t) * MAXB * R);
    int32_t *out = ft_malloc(sizeof(int32_t) * (MAXB * R + CANARY));
    int8_t q[MAXD + 1], *qu = q + 1; // a misaligned query
    size_t nv;
    const ft_sqdist_i8_variant *v = ft_sqdist_i8_variants(&nv);
    FT_CHECK(nv >= 1 && strcmp(v[0].name, "ref") == 0);
    rng_seed(5);
    int tested = 0;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t dim4 = dims[di];
        for (int pattern = 0; pattern < 3; pattern++) {
            // 0: random codes; 1: rows +127, query -127; 2: rows -127, query +127.
            for (size_t i = 0; i < (size_t)MAXB * R * dim4; i++)
                codes[i] = pattern == 0 ? (int8_t)(rng_uniform() * 255 - 127)
                                        : pattern == 1 ? 127 : -127;
            for (size_t k = 0; k < dim4; k++)
                qu[k] = pattern == 0 ? (int8_t)(rng_uniform() * 255 - 127)
                                     : pattern == 1 ? -127 : 127;
            // norm and an independent direct sum from unpacked rows.
            for (size_t i = 0; i < (size_t)MAXB * R; i++) {
                size_t b = i / R, j = i % R;
                int64_t n2 = 0, d2 = 0;
                for (size_t k = 0; k < dim4; k++) {
                    int32_t c = codes[b * dim4 * R + (k / 4) * R * 4 + j * 4 + k % 4];
                    n2 += c * c;
                    d2 += (int64_t)(qu[k] - c) * (qu[k] - c);
                }
                norm[i] = (int32_t)n2;
                ref[i] = (int32_t)d2;
            }
            for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
                size_t nb = blocks[bi];
                for (size_t vi = 0; vi < nv; vi++) {
                    if (!ft_sqdist_i8_usable(&v[vi]))
                        continue;
                    tested++;
                    memset(out, 0xA5, sizeof(int32_t) * (MAXB * R + CANARY));
                    v[vi].fn(codes, norm, nb, dim4, qu, out);
                    for (size_t i = 0; i < nb * R; i++)
                        if (out[i] != ref[i]) {
                            fprintf(stderr, "  %s dim4=%zu blocks=%zu pattern %d row %zu: %d, "
                                            "direct sum %d\n",
                                    v[vi].name, dim4, nb, pattern, i, out[i], ref[i]);
                            ft_test_failures++;
                            break;
                        }
                    const uint8_t *c = (const uint8_t *)(out + nb * R);
                    for (size_t b = 0; b < CANARY * sizeof(int32_t); b++)
                        if (c[b] != 0xA5) {
                            fprintf(stderr, "  %s dim4=%zu blocks=%zu: wrote past the output\n",
                                    v[vi].name, dim4, nb);
                            ft_test_failures++;
                            break;
                        }
                }
            }
        }
    }
    FT_CHECK(tested > 0);
    for (size_t vi = 0; vi < nv; vi++)
        fprintf(stderr, "  int8 kernel %s: %s\n", v[vi].name,
                ft_sqdist_i8_usable(&v[vi]) ? "tested" : "not supported by this CPU, skipped");
    setenv("FT_KERNELS", "ref", 1);
    FT_CHECK_STREQ(ft_sqdist_i8_best()->name, "ref");
    unsetenv("FT_KERNELS");
    ft_aligned_free(codes);
    ft_free(norm);
    ft_free(ref);
    ft_free(out);
}

// ---- Random galleries ----

// n_people centres with per-value spread `spread` (face-api descriptors
// have values of about +-0.1 and norms near 1), rows = centre + noise.
typedef struct gal {
    float *desc;
    int64_t *pid;
    float *centres;
    size_t n, n_people, dim;
} gal;

static void gal_make(gal *g, size_t n, size_t n_people, size_t dim, double spread, double noise)
{
    g->n = n, g->n_people = n_people, g->dim = dim;
    g->desc = ft_malloc(sizeof(float) * n * dim);
    g->pid = ft_malloc(sizeof(int64_t) * n);
    g->centres = ft_malloc(sizeof(float) * n_people * dim);
    for (size_t i = 0; i < n_people * dim; i++)
        g->centres[i] = (float)(rng_normal() * spread);
    for (size_t i = 0; i < n; i++) {
        size_t p = i < n_people ? i : (size_t)(rng_uniform() * (double)n_people);
        g->pid[i] = (int64_t)p + 1;
        for (size_t k = 0; k < dim; k++)
            g->desc[i * dim + k] = (float)(g->centres[p * dim + k] + rng_normal() * noise);
    }
}

static void gal_free(gal *g)
{
    ft_free(g->desc);
    ft_free(g->pid);
    ft_free(g->centres);
}

// The float scan's result against the index's for one query: everything
// bit for bit. Returns 1 on a difference.
static int same_result(const ft_match_matrix *mf, const ft_match_matrix *mi, const float *q,
                       size_t dim, int probe, ft_match_result *float_out)
{
    ft_err err = {0};
    ft_match_result a = {0}, b = {0};
    FT_CHECK_OK(ft_match(mf, q, dim, 0.6, 0.05, &a, &err), &err);
    FT_CHECK_OK(ft_match(mi, q, dim, 0.6, 0.05, &b, &err), &err);
    if (float_out)
        *float_out = a;
    if (a.person_id == b.person_id && a.sample_id == b.sample_id &&
        a.second_person_id == b.second_person_id && a.distance == b.distance &&
        a.second_distance == b.second_distance && a.status == b.status)
        return 0;
    fprintf(stderr,
            "  probe %d: float %lld/%lld %.9g, %lld %.9g; index %lld/%lld %.9g, %lld %.9g\n",
            probe, (long long)a.person_id, (long long)a.sample_id, a.distance,
            (long long)a.second_person_id, a.second_distance, (long long)b.person_id,
            (long long)b.sample_id, b.distance, (long long)b.second_person_id,
            b.second_distance);
    return 1;
}

// Probes: half genuine (a centre plus fresh noise), half strangers (a new
// centre); the index must agree with the float scan on every one, and
// must not have fallen back to the float scan on more than 1 % (else this
// would test the fallback, not the index).
static void check_gallery(const gal *g, ft_metric metric, int n_probes, double spread,
                          double noise, const char *what)
{
    ft_err err = {0};
    ft_match_matrix *mf = NULL, *mi = NULL;
    setenv("FT_MATCH_INDEX", "off", 1);
    FT_CHECK_OK(ft_match_matrix_new(g->desc, g->dim, metric, g->pid, NULL, g->n, &mf, &err),
                &err);
    unsetenv("FT_MATCH_INDEX");
    FT_CHECK_OK(ft_match_matrix_new(g->desc, g->dim, metric, g->pid, NULL, g->n, &mi, &err),
                &err);
    if (!mf || !mi)
        return;
    FT_CHECK(mf->i8 == NULL);
    FT_CHECK(mi->i8 != NULL || g->n < FT_MATCH_I8_MIN_ROWS);
    if (!mi->i8)
        FT_CHECK_OK(ft_gallery__matrix_index(mi, 0, &err), &err);
    FT_CHECK(mi->i8 != NULL);
    if (!mi->i8)
        goto done;
    float *q = ft_malloc(sizeof(float) * g->dim);
    float *qn = ft_malloc(sizeof(float) * g->dim);
    int diff = 0, fallbacks = 0, known = 0;
    size_t cands = 0, cand_max = 0;
    for (int t = 0; t < n_probes; t++) {
        bool genuine = t % 2 == 0;
        size_t p = (size_t)(rng_uniform() * (double)g->n_people);
        for (size_t k = 0; k < g->dim; k++)
            q[k] = genuine ? (float)(g->centres[p * g->dim + k] + rng_normal() * noise)
                           : (float)(rng_normal() * spread);
        ft_match_result r;
        diff += same_result(mf, mi, q, g->dim, t, &r);
        known += r.status == FT_MATCH_KNOWN;
        // The index's own statistics (on the query as ft_match sees it).
        double ss = 0;
        for (size_t k = 0; k < g->dim; k++)
            ss += (double)q[k] * q[k];
        for (size_t k = 0; k < g->dim; k++)
            qn[k] = metric == FT_METRIC_COSINE ? (float)(q[k] * (1.0 / sqrt(ss))) : q[k];
        ft_match_top2 top;
        if (!ft_gallery__match_i8_top2(mi, qn, &top)) {
            fallbacks++;
        } else {
            cands += top.n_candidates;
            cand_max = top.n_candidates > cand_max ? top.n_candidates : cand_max;
        }
    }
    fprintf(stderr,
            "  %s: %zu rows, %d probes (%d known): %d differ, %d fell back, candidates mean "
            "%.1f max %zu (scale %.3g, row error %.3g)\n",
            what, g->n, n_probes, known, diff, fallbacks,
            (double)cands / (n_probes - fallbacks > 0 ? n_probes - fallbacks : 1), cand_max,
            ft_match_i8_scale(mi->i8), ft_match_i8_row_error(mi->i8));
    FT_CHECK_EQ(diff, 0);
    FT_CHECK(fallbacks * 100 <= n_probes);
    ft_free(q);
    ft_free(qn);
done:
    ft_match_matrix_free(mf);
    ft_match_matrix_free(mi);
}

// The bound the search relies on: |float distance - quantised distance|
// <= E_q + E_r, over random rows and queries (the search adds the float
// kernel's own error on top; here the float side is computed in double).
static void test_bound(void)
{
    ft_err err = {0};
    gal g;
    rng_seed(7);
    gal_make(&g, 3000, 500, 128, 0.09, 0.03);
    ft_match_i8 *ix = NULL;
    FT_CHECK_OK(ft_match_i8_new(g.desc, g.n, g.dim, g.dim, NULL, &ix, &err), &err);
    if (!ix)
        return;
    double s = ft_match_i8_scale(ix), er = ft_match_i8_row_error(ix), worst = 0;
    for (int t = 0; t < 20; t++) {
        float q[128];
        int8_t qc[128];
        double eq2 = 0;
        for (int k = 0; k < 128; k++) {
            q[k] = (float)(rng_normal() * 0.12); // some beyond the gallery's range: clamped
            double c = nearbyint(q[k] / s);
            qc[k] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
            eq2 += ((double)q[k] - s * qc[k]) * ((double)q[k] - s * qc[k]);
        }
        for (size_t i = 0; i < g.n; i++) {
            double f2 = 0, d2 = 0;
            for (int k = 0; k < 128; k++) {
                double x = (double)g.desc[i * 128 + k] - q[k];
                double c = nearbyint(g.desc[i * 128 + k] / s);
                c = c > 127 ? 127 : c < -127 ? -127 : c;
                f2 += x * x;
                d2 += (qc[k] - c) * (qc[k] - c);
            }
            double gap = fabs(sqrt(f2) - s * sqrt(d2)) / (sqrt(eq2) + er);
            worst = fmax(worst, gap);
        }
    }
    fprintf(stderr, "  largest |T - Q| / (E_q + E_r): %.3f (must be <= 1)\n", worst);
    FT_CHECK(worst <= 1.0);
    ft_match_i8_free(ix);
    gal_free(&g);
}

static void test_same_random(void)
{
    gal g;
    rng_seed(11);
    // 30,000 rows of 6,000 people (5 samples each on average).
    gal_make(&g, 30000, 6000, 128, 0.09, 0.03);
    check_gallery(&g, FT_METRIC_EUCLIDEAN, 3000, 0.09, 0.03, "euclidean 128");
    gal_free(&g);
    // Uniform values, as bench_gallery uses: distances crowd together.
    rng_seed(12);
    gal_make(&g, 20000, 4000, 128, 0.12, 0.0);
    check_gallery(&g, FT_METRIC_EUCLIDEAN, 1000, 0.12, 0.03, "no structure 128");
    gal_free(&g);
}

// A 1024-d cosine space (the length taken from the matrix, not 128) and an
// odd length.
static void test_same_dims(void)
{
    gal g;
    rng_seed(13);
    gal_make(&g, 5000, 1000, 1024, 0.03, 0.01);
    check_gallery(&g, FT_METRIC_COSINE, 400, 0.03, 0.01, "cosine 1024");
    gal_free(&g);
    rng_seed(14);
    gal_make(&g, 5000, 1000, 13, 0.3, 0.05);
    check_gallery(&g, FT_METRIC_EUCLIDEAN, 1000, 0.3, 0.05, "euclidean 13");
    gal_free(&g);
}

// ---- Real descriptors ----

// The descriptors of tests/golden/faceapi/sample1..6.json (face-api 1.7.15
// on the npm demo photos, see tests/golden/README.md): "descriptor":[128].
static size_t read_real(float *out, size_t cap)
{
    size_t n = 0;
    for (int f = 1; f <= 6; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/golden/faceapi/sample%d.json", ft_test_srcdir(), f);
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            fprintf(stderr, "  %s: cannot open\n", path);
            ft_test_failures++;
            continue;
        }
        fseek(fp, 0, SEEK_END);
        long len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        char *buf = ft_malloc((size_t)len + 1);
        size_t got = fread(buf, 1, (size_t)len, fp);
        buf[got] = 0;
        fclose(fp);
        const char *key = "\"descriptor\":[";
        for (char *p = strstr(buf, key); p && n < cap; p = strstr(p, key)) {
            p += strlen(key);
            for (int k = 0; k < 128; k++) {
                out[n * 128 + k] = strtof(p, &p);
                p += strspn(p, ", \n");
            }
            n++;
        }
        ft_free(buf);
    }
    return n;
}

// The real descriptors as people (each with itself and two near copies)
// among 40,000 distractor rows drawn with the real descriptors' per-value
// mean and spread; probes: every real descriptor, and each with noise of
// the size that separates photos of one person (~0.3-0.4 apart).
static void test_same_real(void)
{
    enum { CAP = 64, N_DIST = 40000, PER = 3 };
    float *real = ft_malloc(sizeof(float) * CAP * 128);
    size_t nr = read_real(real, CAP);
    fprintf(stderr, "  %zu real descriptors\n", nr);
    FT_CHECK(nr >= 15);
    double mean[128] = {0}, sd[128] = {0};
    for (size_t i = 0; i < nr; i++)
        for (int k = 0; k < 128; k++)
            mean[k] += real[i * 128 + k] / (double)nr;
    for (size_t i = 0; i < nr; i++)
        for (int k = 0; k < 128; k++)
            sd[k] += pow(real[i * 128 + k] - mean[k], 2) / (double)nr;
    size_t n = N_DIST + nr * PER;
    float *desc = ft_malloc(sizeof(float) * n * 128);
    int64_t *pid = ft_malloc(sizeof(int64_t) * n);
    rng_seed(17);
    for (size_t i = 0; i < N_DIST; i++) {
        pid[i] = (int64_t)(i / 4) + 1000; // 4 rows per distractor person
        for (int k = 0; k < 128; k++)
            desc[i * 128 + k] = (float)(mean[k] + rng_normal() * sqrt(sd[k]));
    }
    for (size_t r = 0; r < nr; r++)
        for (int c = 0; c < PER; c++) {
            size_t i = N_DIST + r * PER + (size_t)c;
            pid[i] = (int64_t)r + 1;
            for (int k = 0; k < 128; k++)
                desc[i * 128 + k] = real[r * 128 + k] + (c ? (float)(rng_normal() * 0.02) : 0);
        }
    ft_err err = {0};
    ft_match_matrix *mf = NULL, *mi = NULL;
    setenv("FT_MATCH_INDEX", "off", 1);
    FT_CHECK_OK(ft_match_matrix_new(desc, 128, FT_METRIC_EUCLIDEAN, pid, NULL, n, &mf, &err),
                &err);
    setenv("FT_MATCH_INDEX", "0", 1);
    FT_CHECK_OK(ft_match_matrix_new(desc, 128, FT_METRIC_EUCLIDEAN, pid, NULL, n, &mi, &err),
                &err);
    unsetenv("FT_MATCH_INDEX");
    if (mf && mi) {
        FT_CHECK(mf->i8 == NULL && mi->i8 != NULL);
        int diff = 0, right = 0, probes = 0;
        float q[128];
        for (size_t r = 0; r < nr; r++)
            for (int v = 0; v < 20; v++, probes++) {
                for (int k = 0; k < 128; k++)
                    q[k] = real[r * 128 + k] + (v ? (float)(rng_normal() * 0.03) : 0);
                ft_match_result a;
                diff += same_result(mf, mi, q, 128, probes, &a);
                right += a.person_id == (int64_t)r + 1;
            }
        fprintf(stderr, "  %d probes: %d differ; %d name their own person\n", probes, diff,
                right);
        FT_CHECK_EQ(diff, 0);
    }
    ft_match_matrix_free(mf);
    ft_match_matrix_free(mi);
    ft_free(desc);
    ft_free(pid);
    ft_free(real);
}

// FT_MATCH_INDEX and the row threshold decide who gets an index.
static void test_threshold(void)
{
    ft_err err = {0};
    gal g;
    rng_seed(19);
    gal_make(&g, 100, 10, 128, 0.09, 0.03);
    ft_match_matrix *m = NULL;
    FT_CHECK_OK(ft_match_matrix_new(g.desc, 128, FT_METRIC_EUCLIDEAN, g.pid, NULL, g.n, &m, &err),
                &err);
    FT_CHECK(m && m->i8 == NULL); // below FT_MATCH_I8_MIN_ROWS
    ft_match_matrix_free(m);
    setenv("FT_MATCH_INDEX", "100", 1);
    FT_CHECK_EQ(ft_match_i8_min_rows(), 100);
    FT_CHECK_OK(ft_match_matrix_new(g.desc, 128, FT_METRIC_EUCLIDEAN, g.pid, NULL, g.n, &m, &err),
                &err);
    FT_CHECK(m && m->i8 != NULL);
    ft_match_matrix_free(m);
    setenv("FT_MATCH_INDEX", "off", 1);
    FT_CHECK_EQ(ft_match_i8_min_rows(), SIZE_MAX);
    unsetenv("FT_MATCH_INDEX");
    FT_CHECK_EQ(ft_match_i8_min_rows(), FT_MATCH_I8_MIN_ROWS);
    // One person only: no second person bounds the search, which then
    // re-ranks every row (or falls back), and ft_match still answers.
    for (size_t i = 0; i < g.n; i++)
        g.pid[i] = 1;
    FT_CHECK_OK(ft_match_matrix_new(g.desc, 128, FT_METRIC_EUCLIDEAN, g.pid, NULL, g.n, &m, &err),
                &err);
    FT_CHECK_OK(ft_gallery__matrix_index(m, 0, &err), &err);
    ft_match_result r;
    FT_CHECK_OK(ft_match(m, g.desc, 128, 0.6, 0.05, &r, &err), &err);
    FT_CHECK_EQ(r.person_id, 1);
    FT_CHECK_EQ(r.second_person_id, 0);
    ft_match_matrix_free(m);
    // Values far below any descriptor's (denormal floats) and far above:
    // the scale stays finite and the answers are the float search's.
    const double mags[] = {1e-39, 1e15}; // 1e15: squares still fit a float
    for (size_t mi = 0; mi < 2; mi++) {
        gal h;
        rng_seed(23 + mi);
        gal_make(&h, 200, 40, 16, 1.0, 0.2);
        for (size_t i = 0; i < h.n * h.dim; i++)
            h.desc[i] = (float)(h.desc[i] * mags[mi]);
        for (size_t i = 0; i < h.n_people * h.dim; i++)
            h.centres[i] = (float)(h.centres[i] * mags[mi]);
        check_gallery(&h, FT_METRIC_EUCLIDEAN, 100, 1.0 * mags[mi], 0.2 * mags[mi],
                      mi ? "huge values" : "denormal values");
        gal_free(&h);
    }
    gal_free(&g);
}

static const ft_test_case cases[] = {
    {"kernels", test_kernels},     {"bound", test_bound},
    {"same_random", test_same_random}, {"same_dims", test_same_dims},
    {"same_real", test_same_real}, {"threshold", test_threshold},
};

FT_TEST_MAIN(cases)
