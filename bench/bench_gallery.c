// Gallery benchmark: 1:N search time over 10,000 and 100,000 enrolled
// descriptors for every distance-kernel variant this CPU has (each first
// validated against the reference), and the enrolment rate into a fresh
// database file on disk. Prints medians, a checksum of the distances and
// the CPU, compiler and date. Fixed seeds.
//
// Usage: bench_gallery [quick]   (quick: 10,000 rows only, fewer people)
#define _GNU_SOURCE
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "gallery/gallery.h"
#include "gallery/sqdist.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIM 128 // face-api's descriptor length (the 128-d kernels)

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Thread CPU time in ms: the target is per core, and wall time on a shared
// machine measures the neighbours too.
static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
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
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    printf("date:      %s\n", date);
    printf("cpu:       %s", p ? p + 2 : line);
    printf("compiler:  gcc %s\n", __VERSION__);
    printf("dispatch:  %s (FT_KERNELS=%s)\n", ft_cpu_level_name(),
           getenv("FT_KERNELS") ? getenv("FT_KERNELS") : "");
}

// ---- 1:N search ----

static int bench_search(size_t n, size_t n_people, int n_queries)
{
    size_t nv;
    const ft_sqdist_variant *v = ft_sqdist_variants(&nv);
    unsigned cpu = ft_cpu_features();
    float *desc = ft_malloc(sizeof(float) * n * DIM);
    int64_t *pid = ft_malloc(sizeof(int64_t) * n);
    float *queries = ft_malloc(sizeof(float) * (size_t)n_queries * DIM);
    float *ref = ft_malloc(sizeof(float) * n), *out = ft_malloc(sizeof(float) * n);
    double *t = ft_malloc(sizeof(double) * (size_t)n_queries);
    int bad = 0;
    rng = 0x2545f4914f6cdd1dull + n;
    for (size_t i = 0; i < n * DIM; i++)
        desc[i] = (float)(uniform() * 0.4 - 0.2);
    for (size_t i = 0; i < n; i++)
        pid[i] = (int64_t)(i % n_people) + 1;
    for (size_t i = 0; i < (size_t)n_queries * DIM; i++)
        queries[i] = (float)(uniform() * 0.4 - 0.2);

    ft_err err = {0};
    ft_match_matrix *mref = NULL;
    setenv("FT_KERNELS", "ref", 1);
    // The float kernels alone: no int8 index (bench_scale times that).
    setenv("FT_MATCH_INDEX", "off", 1);
    if (ft_match_matrix_new(desc, DIM, FT_METRIC_EUCLIDEAN, pid, NULL, n, &mref,
                            &err) != FT_OK) {
        fprintf(stderr, "matrix: %s\n", err.msg);
        return 1;
    }
    printf("\n1:N search, %zu descriptors of %d floats, %zu people, %d queries\n", n,
           DIM, n_people, n_queries);
    printf("%-8s %12s %12s %14s %14s\n", "variant", "kernel ms", "ft_match ms", "ms/10k rows",
           "checksum");
    // The raw kernel needs aligned rows: use an aligned copy.
    float *rows = ft_aligned_alloc(sizeof(float) * n * DIM);
    memcpy(rows, desc, sizeof(float) * n * DIM);
    for (size_t vi = 0; vi < nv; vi++) {
        if ((v[vi].cpu & cpu) != v[vi].cpu) {
            printf("%-8s (not supported by this CPU)\n", v[vi].name);
            continue;
        }
        // Validate against the reference first (tolerance: sqdist.h).
        double sum = 0;
        for (int q = 0; q < 3; q++) {
            const float *qq = queries + (size_t)q * DIM;
            ft_kern_sqdist128_f32_ref(rows, n, qq, ref);
            v[vi].fn(rows, n, qq, out);
            for (size_t i = 0; i < n; i++) {
                if (!(fabs(out[i] - ref[i]) <= 1e-5 * fmax(1.0, ref[i]))) {
                    printf("%-8s MISMATCH row %zu: %.9g vs %.9g\n", v[vi].name, i, out[i],
                           ref[i]);
                    bad = 1;
                    break;
                }
                sum += out[i];
            }
        }
        // Matching through the dispatcher with this variant forced.
        setenv("FT_KERNELS", strcmp(v[vi].name, "avx512") == 0 ? "auto" : v[vi].name, 1);
        ft_match_matrix *m = NULL;
        if (ft_match_matrix_new(desc, DIM, FT_METRIC_EUCLIDEAN, pid, NULL, n, &m,
                                &err) != FT_OK) {
            fprintf(stderr, "matrix: %s\n", err.msg);
            return 1;
        }
        if (strcmp(ft_match_matrix_kernel(m), v[vi].name) != 0) {
            printf("%-8s dispatcher picked %s\n", v[vi].name, ft_match_matrix_kernel(m));
            bad = 1;
        }
        for (int q = 0; q < n_queries; q++) {
            const float *qq = queries + (size_t)q * DIM;
            ft_match_result a, b;
            ft_match(mref, qq, DIM, 0.6, 0.05, &a, NULL);
            ft_match(m, qq, DIM, 0.6, 0.05, &b, NULL);
            if (a.person_id != b.person_id || fabs(a.distance - b.distance) > 1e-5) {
                printf("%-8s ft_match disagrees with ref on query %d\n", v[vi].name, q);
                bad = 1;
                break;
            }
        }
        // Time: median over queries of the kernel alone and of ft_match.
        for (int q = 0; q < n_queries; q++) {
            double t0 = cpu_ms();
            v[vi].fn(rows, n, queries + (size_t)q * DIM, out);
            t[q] = cpu_ms() - t0;
        }
        qsort(t, (size_t)n_queries, sizeof *t, cmp_double);
        double k_ms = t[n_queries / 2];
        for (int q = 0; q < n_queries; q++) {
            ft_match_result r;
            double t0 = cpu_ms();
            ft_match(m, queries + (size_t)q * DIM, DIM, 0.6, 0.05, &r,
                     NULL);
            t[q] = cpu_ms() - t0;
        }
        qsort(t, (size_t)n_queries, sizeof *t, cmp_double);
        double m_ms = t[n_queries / 2];
        printf("%-8s %12.4f %12.4f %14.4f %14.6e\n", v[vi].name, k_ms, m_ms,
               m_ms * 10000.0 / (double)n, sum);
        ft_match_matrix_free(m);
    }
    unsetenv("FT_KERNELS");
    unsetenv("FT_MATCH_INDEX");
    ft_match_matrix_free(mref);
    ft_aligned_free(rows);
    ft_free(desc);
    ft_free(pid);
    ft_free(queries);
    ft_free(ref);
    ft_free(out);
    ft_free(t);
    return bad;
}

// ---- Enrolment ----

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int bench_enroll(int n_people, int per_person)
{
    char dir[] = "./bench_gallery_XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/bench.db", dir);
    ft_err err = {0};
    ft_gallery *g = NULL;
    int rc = 0;
    if (ft_gallery_open(path, NULL, &g, &err) != FT_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    static uint8_t thumb[4096]; // a typical small JPEG thumbnail
    for (size_t i = 0; i < sizeof thumb; i++)
        thumb[i] = (uint8_t)(uniform() * 256);
    ft_sample s[16];
    static float d[16][DIM];
    double t0 = ft_now_ms();
    for (int p = 0; p < n_people && !rc; p++) {
        char name[32];
        snprintf(name, sizeof name, "person-%05d", p);
        for (int k = 0; k < per_person; k++) {
            memset(&s[k], 0, sizeof s[k]);
            for (int j = 0; j < DIM; j++)
                d[k][j] = (float)(uniform() * 0.4 - 0.2);
            s[k].descriptor = d[k];
            s[k].dim = DIM;
            snprintf(s[k].model, sizeof s[k].model, "bench-%d", DIM);
            s[k].detector_score = 0.9;
            s[k].face_w = s[k].face_h = 150;
            s[k].thumbnail = thumb;
            s[k].thumbnail_len = sizeof thumb;
        }
        if (ft_gallery_enroll(g, 0, name, s, (size_t)per_person, NULL, NULL, &err) != FT_OK) {
            fprintf(stderr, "enroll: %s\n", err.msg);
            rc = 1;
        }
    }
    double ms = ft_now_ms() - t0;
    double lt0 = ft_now_ms();
    ft_match_matrix *m = NULL;
    char space[32];
    snprintf(space, sizeof space, "bench-%d", DIM);
    ft_gallery_space sp = {space, DIM, FT_METRIC_EUCLIDEAN};
    if (!rc && ft_gallery_matrix_load(g, &sp, &m, &err) != FT_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        rc = 1;
    }
    double load_ms = ft_now_ms() - lt0;
    int n = n_people * per_person;
    printf("\nEnrolment into a fresh file (%s, WAL, synchronous=NORMAL), one transaction per "
           "person of %d samples with 4 KiB thumbnails:\n",
           path, per_person);
    printf("  %d samples in %.1f ms: %.0f samples/s (%.0f people/s)\n", n, ms, n / ms * 1e3,
           n_people / ms * 1e3);
    printf("  matrix load of %zu rows: %.1f ms\n", m ? ft_match_matrix_rows(m) : 0, load_ms);
    ft_match_matrix_free(m);
    ft_gallery_close(g);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    int bad = 0;
    print_env();
    bad |= bench_search(10000, 2000, quick ? 21 : 101);
    if (!quick)
        bad |= bench_search(100000, 20000, 31);
    bad |= bench_enroll(quick ? 300 : 2000, 3);
    if (bad)
        printf("\nFAILED: a variant disagrees with the reference\n");
    return bad;
}
