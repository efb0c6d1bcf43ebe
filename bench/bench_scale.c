// Gallery at scale (issue 13, item 6): 1:N search over 10k, 100k and 1M
// descriptors in memory (the float scan and the int8 index side by side,
// every answer compared), identification of real descriptors among 1M
// distractors, and PostgreSQL: cold start of a 100k-people gallery,
// enrolments and events per second. Medians of thread CPU time (the
// search targets are per core); fixed seeds. bench/scale.sh runs it all.
//
// Usage:
//   bench_scale search N...            random galleries of N rows each
//   bench_scale real FILE N            FILE: "label v1 .. v128" lines (the
//                                      evaluation sets' descriptors, made by
//                                      bench/scale.sh), among N distractors
//   bench_scale pg-fill URL PEOPLE PER [SPACE]  COPY random people into a
//                                      fresh gallery (space: bench-128)
//   bench_scale pg-load URL [RUNS [SPACE]]  cold start: open, matrix; people
//   bench_scale pg-write URL SECONDS [CONNS]  enrolments/s, then events/s,
//                                      over CONNS connections (processes)
//   bench_scale pg-notify URL [N]      NOTIFY-to-applied latency (matrix reload)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "gallery/gallery.h"
#include "gallery/gallery_internal.h"
#include "gallery/match_i8.h"
#include "gallery/sync.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIM 128
#define SPACE "bench-128"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double normal(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, size_t n)
{
    qsort(t, n, sizeof *t, cmp_double);
    return n ? t[n / 2] : NAN;
}

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

// VmRSS / VmHWM of this process in MiB.
static double proc_mib(const char *key)
{
    char line[256];
    double v = NAN;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = strtod(line + strlen(key) + 1, NULL) / 1024.0;
    if (f)
        fclose(f);
    return v;
}

static void print_env(void)
{
    char line[256] = "?\n";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0)
            break;
    if (f)
        fclose(f);
    const char *p = strchr(line, ':');
    double la[3] = {0};
    getloadavg(la, 3);
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%MZ", gmtime(&now));
    printf("date: %s; load average %.2f %.2f %.2f\n", date, la[0], la[1], la[2]);
    printf("cpu: %s", p ? p + 2 : line);
    printf("compiler: gcc %s; float kernel dispatch %s, int8 kernel %s\n", __VERSION__,
           ft_cpu_level_name(), ft_sqdist_i8_best()->name);
}

// ---- Search ----

// People as face-api descriptors look: a centre per person (values of
// about +-0.09, norm near 1), samples 0.03 per value around it (about 0.34
// apart); probes half genuine, half strangers.
static void gen_gallery(size_t n, size_t n_people, float *desc, int64_t *pid, float *centres)
{
    for (size_t i = 0; i < n_people * DIM; i++)
        centres[i] = (float)(normal() * 0.09);
    for (size_t i = 0; i < n; i++) {
        size_t p = i < n_people ? i : (size_t)(uniform() * (double)n_people);
        pid[i] = (int64_t)p + 1;
        for (size_t k = 0; k < DIM; k++)
            desc[i * DIM + k] = (float)(centres[p * DIM + k] + normal() * 0.03);
    }
}

static bool same(const ft_match_result *a, const ft_match_result *b)
{
    return a->person_id == b->person_id && a->sample_id == b->sample_id &&
           a->second_person_id == b->second_person_id && a->distance == b->distance &&
           a->second_distance == b->second_distance && a->status == b->status;
}

// Times the float scan and the index on the same matrix (the index
// detached for the float runs) and compares every answer.
static int run_probes(ft_match_matrix *m, const float *probes, int n_probes, const char *what)
{
    double *tf = ft_malloc(sizeof(double) * (size_t)n_probes);
    double *ti = ft_malloc(sizeof(double) * (size_t)n_probes);
    struct ft_match_i8 *ix = m->i8;
    int diff = 0, fallbacks = 0, known = 0;
    size_t cands = 0;
    double sum = 0;
    for (int t = 0; t < n_probes; t++) {
        const float *q = probes + (size_t)t * DIM;
        ft_match_result a, b;
        m->i8 = NULL;
        double t0 = cpu_ms();
        ft_match(m, q, DIM, 0.6, 0.05, &a, NULL);
        tf[t] = cpu_ms() - t0;
        m->i8 = ix;
        t0 = cpu_ms();
        ft_match(m, q, DIM, 0.6, 0.05, &b, NULL);
        ti[t] = cpu_ms() - t0;
        diff += !same(&a, &b);
        known += a.status == FT_MATCH_KNOWN;
        sum += a.distance + a.second_distance;
        ft_match_top2 top;
        if (ft_gallery__match_i8_top2(m, q, &top))
            cands += top.n_candidates;
        else
            fallbacks++;
    }
    double mf = median(tf, (size_t)n_probes), mi = median(ti, (size_t)n_probes);
    printf("| %s | %zu | %d | %d | %.3f | %.3f | %.1fx | %.1f | %d | %d | %.6f |\n", what, m->n,
           n_probes, known, mf, mi, mf / mi,
           (double)cands / (n_probes > fallbacks ? n_probes - fallbacks : 1), fallbacks, diff,
           sum);
    ft_free(tf);
    ft_free(ti);
    return diff != 0;
}

static int bench_search(size_t n)
{
    size_t n_people = n / 5 ? n / 5 : 1;
    int n_probes = n >= 1000000 ? 101 : 301;
    rng = 0x2545f4914f6cdd1dull + n;
    double rss0 = proc_mib("VmRSS:");
    float *desc = ft_malloc(sizeof(float) * n * DIM);
    int64_t *pid = ft_malloc(sizeof(int64_t) * n);
    float *centres = ft_malloc(sizeof(float) * n_people * DIM);
    float *probes = ft_malloc(sizeof(float) * (size_t)n_probes * DIM);
    gen_gallery(n, n_people, desc, pid, centres);
    for (int t = 0; t < n_probes; t++) {
        size_t p = (size_t)(uniform() * (double)n_people);
        for (size_t k = 0; k < DIM; k++)
            probes[(size_t)t * DIM + k] =
                t % 2 ? (float)(normal() * 0.09) : (float)(centres[p * DIM + k] + normal() * 0.03);
    }
    ft_free(centres);
    ft_err err = {0};
    ft_match_matrix *m = NULL;
    setenv("FT_MATCH_INDEX", "0", 1);
    double b0 = ft_now_ms();
    ft_status st = ft_match_matrix_new(desc, DIM, FT_METRIC_EUCLIDEAN, pid, NULL, n, &m, &err);
    double build_ms = ft_now_ms() - b0;
    unsetenv("FT_MATCH_INDEX");
    ft_free(desc);
    ft_free(pid);
    if (st != FT_OK) {
        fprintf(stderr, "matrix: %s\n", ft_err_msg(&err, st));
        return 1;
    }
    double rss1 = proc_mib("VmRSS:");
    // Index build time alone (the matrix build above includes it).
    b0 = cpu_ms();
    ft_match_i8 *ix2 = NULL;
    ft_match_i8_new(m->desc, m->n, DIM, DIM, NULL, &ix2, NULL);
    double index_ms = cpu_ms() - b0;
    ft_match_i8_free(ix2);
    int bad = run_probes(m, probes, n_probes, "random");
    size_t fbytes = n * (DIM * sizeof(float) + 2 * sizeof(int64_t));
    size_t ibytes = ft_match_i8_bytes(m->i8);
    printf("memory %zu rows: float matrix %.1f MiB + int8 index %.1f MiB; process RSS %.1f MiB "
           "(matrix and index %.1f MiB); matrix build %.0f ms wall (index alone %.0f ms CPU)\n",
           n, fbytes / 1048576.0, ibytes / 1048576.0, rss1, rss1 - rss0, build_ms, index_ms);

    // The int8 search with each kernel variant (the kernels' exactness is
    // tested in test_match_i8; here the best-distance checksum must agree).
    size_t nv;
    const ft_sqdist_i8_variant *v = ft_sqdist_i8_variants(&nv);
    for (size_t vi = 0; vi < nv; vi++) {
        if (!ft_sqdist_i8_usable(&v[vi]))
            continue;
        int reps = strcmp(v[vi].name, "ref") == 0 ? 3 : 21;
        double *t = ft_malloc(sizeof(double) * (size_t)reps);
        double ms_sum = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_ms();
            ft_match_top2 top;
            // Through the search, with this kernel forced.
            const ft_sqdist_i8_variant *keep = ft_match_i8_kernel_set(m->i8, &v[vi]);
            bool ok = ft_gallery__match_i8_top2(m, probes + (size_t)(r % n_probes) * DIM, &top);
            ft_match_i8_kernel_set(m->i8, keep);
            t[r] = cpu_ms() - t0;
            if (r < 3) // the same three probes for every variant
                ms_sum += ok ? top.best : 0;
        }
        printf("int8 search with kernel %s, %zu rows: %.3f ms (median of %d; checksum %.6f)\n",
               v[vi].name, n, median(t, (size_t)reps), reps, ms_sum);
        ft_free(t);
    }
    ft_match_matrix_free(m);
    ft_free(probes);
    return bad;
}

// ---- Real descriptors ----

// Gallery: every real descriptor at an even position within its label
// (the 1st, 3rd, ... photo of each person), as people labelled 1..L,
// among n distractor rows drawn with the real descriptors' per-value mean
// and spread (5 rows per distractor person). Probes: the odd ones. With
// half = 1 the other way round (2nd, 4th, ... enrolled), so that over both
// runs every photo is a probe once.
static int bench_real(const char *file, size_t n, int half)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return 1;
    }
    size_t cap = 4096, nr = 0;
    float *real = ft_malloc(sizeof(float) * cap * DIM);
    int *lab = ft_malloc(sizeof(int) * cap);
    char labels[512][64];
    int n_lab = 0;
    char name[64];
    while (nr < cap && fscanf(f, "%63s", name) == 1) {
        int l = 0;
        while (l < n_lab && strcmp(labels[l], name) != 0)
            l++;
        if (l == n_lab && n_lab < 512)
            snprintf(labels[n_lab++], sizeof labels[0], "%s", name);
        lab[nr] = l;
        for (int k = 0; k < DIM; k++)
            if (fscanf(f, "%f", &real[nr * DIM + k]) != 1) {
                fprintf(stderr, "%s: short line %zu\n", file, nr + 1);
                fclose(f);
                return 1;
            }
        nr++;
    }
    fclose(f);
    double mean[DIM] = {0}, var[DIM] = {0};
    for (size_t i = 0; i < nr; i++)
        for (int k = 0; k < DIM; k++)
            mean[k] += real[i * DIM + k] / (double)nr;
    for (size_t i = 0; i < nr; i++)
        for (int k = 0; k < DIM; k++)
            var[k] += pow(real[i * DIM + k] - mean[k], 2) / (double)nr;
    size_t total = n + nr;
    float *desc = ft_malloc(sizeof(float) * total * DIM);
    int64_t *pid = ft_malloc(sizeof(int64_t) * total);
    float *probes = ft_malloc(sizeof(float) * nr * DIM);
    int *plab = ft_malloc(sizeof(int) * nr);
    rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        pid[i] = 100000 + (int64_t)(i / 5);
        for (int k = 0; k < DIM; k++)
            desc[i * DIM + k] = (float)(mean[k] + normal() * sqrt(var[k]));
    }
    int seen[512] = {0};
    size_t ng = 0, np = 0;
    for (size_t i = 0; i < nr; i++) {
        if (seen[lab[i]]++ % 2 == half) {
            memcpy(desc + (n + ng) * DIM, real + i * DIM, DIM * sizeof(float));
            pid[n + ng++] = lab[i] + 1;
        } else {
            memcpy(probes + np * DIM, real + i * DIM, DIM * sizeof(float));
            plab[np++] = lab[i] + 1;
        }
    }
    ft_err err = {0};
    ft_match_matrix *m = NULL;
    setenv("FT_MATCH_INDEX", "0", 1);
    ft_status st =
        ft_match_matrix_new(desc, DIM, FT_METRIC_EUCLIDEAN, pid, NULL, n + ng, &m, &err);
    unsetenv("FT_MATCH_INDEX");
    if (st != FT_OK) {
        fprintf(stderr, "matrix: %s\n", ft_err_msg(&err, st));
        return 1;
    }
    int right = 0, right_known = 0;
    for (size_t t = 0; t < np; t++) {
        ft_match_result r;
        ft_match(m, probes + t * DIM, DIM, 0.6, 0.05, &r, NULL);
        right += r.person_id == plab[t];
        right_known += r.person_id == plab[t] && r.status == FT_MATCH_KNOWN;
    }
    printf("real, half %d: %zu descriptors of %d people (%zu enrolled, %zu probes) among %zu distractors: "
           "rank-1 right %d, right and known at 0.6/0.05 %d\n",
           half, nr, n_lab, ng, np, n, right, right_known);
    int bad = run_probes(m, probes, (int)np, "real");
    ft_match_matrix_free(m);
    ft_free(desc);
    ft_free(pid);
    ft_free(probes);
    ft_free(plab);
    ft_free(real);
    ft_free(lab);
    return bad;
}

// ---- PostgreSQL ----

static ft_status open_gallery(const char *url, ft_gallery **g, ft_err *err)
{
    return ft_gallery_open(url, NULL, g, err);
}

// Random people through COPY (text format, bytea as hex), after the
// library has created the schema. Columns as the current schema has them.
static int pg_fill(const char *url, long people, int per, const char *space)
{
    ft_err err = {0};
    ft_gallery *g = NULL;
    ft_status st = open_gallery(url, &g, &err);
    if (st != FT_OK) {
        fprintf(stderr, "open: %s\n", ft_err_msg(&err, st));
        return 1;
    }
    ft_gallery_close(g);
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        return 1;
    }
    double t0 = ft_now_ms();
    PGresult *r = PQexec(c, "SELECT coalesce(max(id), 0) FROM people");
    long base = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    r = PQexec(c, "COPY people (id, name, created_at, updated_at) FROM STDIN");
    PQclear(r);
    char line[8192];
    for (long p = 1; p <= people; p++) {
        int len = snprintf(line, sizeof line, "%ld\tbench-%08ld\t%f\t%f\n", base + p, base + p,
                           (double)time(NULL), (double)time(NULL));
        PQputCopyData(c, line, len);
    }
    PQputCopyEnd(c, NULL);
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "copy people: %s", PQerrorMessage(c));
        return 1;
    }
    PQclear(r);
    r = PQexec(c, "SELECT 1 FROM information_schema.columns WHERE table_name = 'samples' AND "
                  "column_name = 'dim'");
    bool has_dim = PQntuples(r) == 1;
    PQclear(r);
    r = PQexec(c, has_dim ? "COPY samples (person_id, descriptor, model, alignment, dim, "
                            "detector_score, face_w, face_h, created_at) FROM STDIN"
                          : "COPY samples (person_id, descriptor, model, alignment, "
                            "detector_score, face_w, face_h, created_at) FROM STDIN");
    PQclear(r);
    rng = 0x1234567ull;
    static const char hex[] = "0123456789abcdef";
    for (long p = 1; p <= people; p++) {
        float centre[DIM];
        for (int k = 0; k < DIM; k++)
            centre[k] = (float)(normal() * 0.09);
        for (int s = 0; s < per; s++) {
            int len = snprintf(line, sizeof line, "%ld\t\\\\x", base + p);
            for (int k = 0; k < DIM; k++) {
                float v = (float)(centre[k] + normal() * 0.03);
                uint8_t b[4];
                memcpy(b, &v, 4); // little-endian host, the stored layout
                for (int j = 0; j < 4; j++) {
                    line[len++] = hex[b[j] >> 4];
                    line[len++] = hex[b[j] & 15];
                }
            }
            len += snprintf(line + len, sizeof line - (size_t)len, "\t%s\tfaceapi\t%s0.9\t150\t150\t%f\n",
                            space, has_dim ? "128\t" : "", (double)time(NULL));
            PQputCopyData(c, line, len);
        }
    }
    PQputCopyEnd(c, NULL);
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "copy samples: %s", PQerrorMessage(c));
        return 1;
    }
    PQclear(r);
    r = PQexec(c, "UPDATE gallery_version SET generation = generation + 1; ANALYZE; "
                  "SELECT setval(pg_get_serial_sequence('people', 'id'), "
                  "(SELECT max(id) FROM people))");
    PQclear(r);
    printf("pg fill: %ld people x %d samples by COPY in %.0f ms\n", people, per,
           ft_now_ms() - t0);
    PQfinish(c);
    return 0;
}

// Cold start: what a server does before its first decision: open (schema
// check), then the descriptor matrix (with the int8 index when large).
// Wall time, median of `runs`, and this thread's CPU time (the database
// server's share is the rest). The full people list is timed apart.
static int pg_load(const char *url, int runs, const char *space)
{
    double *t = ft_malloc(sizeof(double) * (size_t)runs);
    double topen = 0, tpeople = 0, tmatrix = 0, cpu_ready = 0;
    size_t rows = 0, np = 0, mpeople = 0;
    for (int i = 0; i < runs; i++) {
        ft_err err = {0};
        ft_gallery *g = NULL;
        ft_person *p = NULL;
        ft_match_matrix *m = NULL;
        // A server's path to ready: open, then the matrix (the people
        // list is timed after it: doors read names one at a time).
        double c0 = cpu_ms();
        double t0 = ft_now_ms();
        ft_status st = open_gallery(url, &g, &err);
        double t1 = ft_now_ms();
        ft_gallery_space sp = {space, DIM, FT_METRIC_EUCLIDEAN};
        if (st == FT_OK)
            st = ft_gallery_matrix_load(g, &sp, &m, &err);
        double t2 = ft_now_ms();
        cpu_ready += cpu_ms() - c0;
        if (st == FT_OK)
            st = ft_gallery_people_list(g, &p, &np, &err);
        double t3 = ft_now_ms();
        if (st != FT_OK) {
            fprintf(stderr, "load: %s\n", ft_err_msg(&err, st));
            return 1;
        }
        t[i] = t2 - t0;
        topen += t1 - t0, tmatrix += t2 - t1, tpeople += t3 - t2;
        rows = m->n;
        mpeople = ft_match_matrix_people(m);
        // Rows grouped by person, ids ascending within a person.
        for (size_t k = 1; k < m->n; k++)
            if (m->person[k] < m->person[k - 1] ||
                (m->person[k] == m->person[k - 1] && m->sample[k] <= m->sample[k - 1])) {
                fprintf(stderr, "matrix row %zu out of order\n", k);
                return 1;
            }
        ft_match_matrix_free(m);
        ft_free(p);
        ft_gallery_close(g);
    }
    printf("pg cold start: %zu people (%zu in the matrix), %zu samples: ready (open + matrix with its index) in %.0f "
           "ms wall, median of %d (mean open %.0f ms, matrix %.0f ms; this process's CPU %.0f "
           "ms); listing all people apart: %.0f ms; RSS high-water %.0f MiB\n",
           np, mpeople, rows, median(t, (size_t)runs), runs, topen / runs, tmatrix / runs,
           cpu_ready / runs, tpeople / runs, proc_mib("VmHWM:"));
    ft_free(t);
    return 0;
}

// Per connection, one process each: enrolments (one person with 3 samples
// and 4 KiB thumbnails per transaction) for `seconds`, then events (one
// per transaction, as the door writes them, 4 KiB thumbnail each) for
// `seconds`. Writes "enrolments events" to fd.
static int pg_write_one(const char *url, double seconds, int fd, int who)
{
    ft_err err = {0};
    ft_gallery *g = NULL;
    ft_status st = open_gallery(url, &g, &err);
    if (st != FT_OK) {
        fprintf(stderr, "open: %s\n", ft_err_msg(&err, st));
        return 1;
    }
    rng += (uint64_t)who * 7919;
    static uint8_t thumb[4096];
    for (size_t i = 0; i < sizeof thumb; i++)
        thumb[i] = (uint8_t)(uniform() * 256);
    float d[3][DIM];
    ft_sample s[3];
    int n_enrol = 0, n_ev = 0;
    double t0 = ft_now_ms();
    while (ft_now_ms() - t0 < seconds * 1e3) {
        char name[64];
        snprintf(name, sizeof name, "enrol-%d-%d-%d", (int)getpid(), (int)time(NULL), n_enrol);
        for (int k = 0; k < 3; k++) {
            memset(&s[k], 0, sizeof s[k]);
            for (int j = 0; j < DIM; j++)
                d[k][j] = (float)(normal() * 0.09);
            s[k].descriptor = d[k];
            s[k].dim = DIM;
            snprintf(s[k].model, sizeof s[k].model, "%s", SPACE);
            s[k].detector_score = 0.9;
            s[k].face_w = s[k].face_h = 150;
            s[k].thumbnail = thumb;
            s[k].thumbnail_len = sizeof thumb;
        }
        if ((st = ft_gallery_enroll(g, 0, name, s, 3, NULL, NULL, &err)) != FT_OK) {
            fprintf(stderr, "enroll: %s\n", ft_err_msg(&err, st));
            return 1;
        }
        n_enrol++;
    }
    t0 = ft_now_ms();
    while (ft_now_ms() - t0 < seconds * 1e3) {
        ft_event ev;
        ft_event_init(&ev);
        snprintf(ev.source, sizeof ev.source, "door-%d", who);
        ev.decision = n_ev % 3 ? FT_DECISION_GRANTED : FT_DECISION_DENIED;
        snprintf(ev.reason, sizeof ev.reason, "%s", n_ev % 3 ? "match" : "unknown");
        ev.person_id = n_ev % 3 ? 1 + n_ev % 1000 : 0;
        ev.distance = 0.4;
        ev.thumbnail = thumb;
        ev.thumbnail_len = sizeof thumb;
        if ((st = ft_gallery_event_add(g, &ev, &err)) != FT_OK) {
            fprintf(stderr, "event: %s\n", ft_err_msg(&err, st));
            return 1;
        }
        n_ev++;
    }
    char line[64];
    int len = snprintf(line, sizeof line, "%d %d\n", n_enrol, n_ev);
    if (write(fd, line, (size_t)len) != len)
        return 1;
    ft_gallery_close(g);
    return 0;
}

static int pg_write(const char *url, double seconds, int conns)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(stdout);
    for (int c = 0; c < conns; c++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(pg_write_one(url, seconds, fds[1], c));
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    long enrol = 0, ev = 0;
    int e, v, got = 0;
    while (f && fscanf(f, "%d %d", &e, &v) == 2)
        enrol += e, ev += v, got++;
    if (f)
        fclose(f);
    int bad = 0, status;
    while (wait(&status) > 0)
        bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    printf("pg writes, %d connection(s), one process each: %.0f enrolments/s (3 samples + 4 KiB "
           "thumbnails each), %.0f events/s (4 KiB thumbnail each), %.0f s per phase\n",
           conns, enrol / seconds, ev / seconds, seconds);
    return bad || got != conns;
}

// NOTIFY-to-applied (gallery/sync.h): a listener whose on_change reloads
// the descriptor matrix (what a server does), and a writer enrolling one
// person at a time on another connection; the sync measures from each
// commit to on_change's return.
typedef struct notify_ctx {
    ft_gallery *g;
    ft_match_matrix *m;
    int reloads;
} notify_ctx;

static void on_change(void *arg)
{
    notify_ctx *c = arg;
    ft_err err = {0};
    if (!c->m) {
        ft_gallery_space sp = {SPACE, DIM, FT_METRIC_EUCLIDEAN};
        ft_gallery_matrix_load(c->g, &sp, &c->m, &err);
    } else {
        ft_gallery_matrix_refresh(c->g, &c->m, &err);
    }
    c->reloads++;
}

static int pg_notify(const char *url, int n)
{
    ft_err err = {0};
    notify_ctx ctx = {0};
    char spool[] = "/tmp/bench_scale_spool_XXXXXX";
    int fd = mkstemp(spool);
    if (fd < 0)
        return 1;
    close(fd);
    unlink(spool);
    ft_gallery_sync_opts o = ft_gallery_sync_opts_default();
    o.spool_path = spool;
    o.on_change = on_change;
    o.arg = &ctx;
    ft_gallery_sync *sy = NULL;
    ft_gallery *w = NULL;
    ft_status st = open_gallery(url, &ctx.g, &err);
    if (st == FT_OK)
        st = ft_gallery_sync_start(url, &o, &sy, &err);
    if (st == FT_OK)
        st = open_gallery(url, &w, &err);
    if (st != FT_OK) {
        fprintf(stderr, "notify setup: %s\n", ft_err_msg(&err, st));
        return 1;
    }
    ft_gallery_sync_status ss;
    for (int i = 0; i < 600; i++) { // the first full load, up to 60 s
        ft_gallery_sync_status_get(sy, &ss);
        if (ctx.reloads > 0)
            break;
        usleep(100000);
    }
    ft_gallery_sync_status_get(sy, &ss);
    int64_t base = ss.lag_count;
    double *lag = ft_malloc(sizeof(double) * (size_t)n);
    int got = 0;
    double lag_max = 0;
    float d[DIM];
    for (int i = 0; i < n; i++) {
        ft_sample s;
        memset(&s, 0, sizeof s);
        for (int k = 0; k < DIM; k++)
            d[k] = (float)(normal() * 0.09);
        s.descriptor = d;
        s.dim = DIM;
        snprintf(s.model, sizeof s.model, "%s", SPACE);
        s.detector_score = 0.9;
        s.face_w = s.face_h = 150;
        char name[64];
        snprintf(name, sizeof name, "notify-%d-%d-%d", (int)getpid(), (int)time(NULL), i);
        if ((st = ft_gallery_enroll(w, 0, name, &s, 1, NULL, NULL, &err)) != FT_OK) {
            fprintf(stderr, "enroll: %s\n", ft_err_msg(&err, st));
            break;
        }
        for (int t = 0; t < 15000; t++) { // up to 30 s for it to be applied
            ft_gallery_sync_status_get(sy, &ss);
            if (ss.lag_count > base + got)
                break;
            usleep(2000);
        }
        if (ss.lag_count > base + got) {
            lag[got++] = ss.lag_last_ms;
            lag_max = fmax(lag_max, ss.lag_last_ms);
        }
        usleep(200000);
    }
    printf("NOTIFY-to-applied (reload of the matrix, %zu rows): median %.0f ms, max %.0f ms "
           "over %d enrolments (one person each, another connection)\n",
           ctx.m ? ctx.m->n : 0, median(lag, (size_t)got), lag_max, got);
    ft_gallery_sync_stop(sy);
    ft_match_matrix_free(ctx.m);
    ft_gallery_close(ctx.g);
    ft_gallery_close(w);
    unlink(spool);
    ft_free(lag);
    return got != n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: see the head of bench/bench_scale.c\n");
        return 2;
    }
    print_env();
    int bad = 0;
    const char *cmd = argv[1];
    if (strcmp(cmd, "search") == 0) {
        printf("| gallery | rows | probes | known | float ms | int8+re-rank ms | speed-up | "
               "re-ranked rows (mean) | fell back | answers differing | checksum |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int i = 2; i < argc; i++)
            bad |= bench_search((size_t)atol(argv[i]));
    } else if (strcmp(cmd, "real") == 0 && argc == 4) {
        printf("| gallery | rows | probes | known | float ms | int8+re-rank ms | speed-up | "
               "re-ranked rows (mean) | fell back | answers differing | checksum |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n");
        bad = bench_real(argv[2], (size_t)atol(argv[3]), 0);
        bad |= bench_real(argv[2], (size_t)atol(argv[3]), 1);
    } else if (strcmp(cmd, "pg-fill") == 0 && (argc == 5 || argc == 6)) {
        bad = pg_fill(argv[2], atol(argv[3]), atoi(argv[4]), argc == 6 ? argv[5] : SPACE);
    } else if (strcmp(cmd, "pg-load") == 0 && argc >= 3) {
        bad = pg_load(argv[2], argc > 3 ? atoi(argv[3]) : 5, argc > 4 ? argv[4] : SPACE);
    } else if (strcmp(cmd, "pg-notify") == 0 && argc >= 3) {
        bad = pg_notify(argv[2], argc > 3 ? atoi(argv[3]) : 9);
    } else if (strcmp(cmd, "pg-write") == 0 && argc >= 4) {
        bad = pg_write(argv[2], atof(argv[3]), argc > 4 ? atoi(argv[4]) : 1);
    } else {
        fprintf(stderr, "usage: see the head of bench/bench_scale.c\n");
        return 2;
    }
    if (bad)
        printf("FAILED\n");
    return bad;
}
