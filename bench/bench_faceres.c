// Benchmark of the faceres descriptor (issue 12 item 6: at most 12 ms per
// face on one core), next to face-api's 128-d ResNet descriptor timed in
// the same run on the same photo. Validates before timing (STYLE §9): the
// faceres descriptors of sample1's faces must match tfjs's
// (tests/golden/faceres/sample1.txt) within the conformance test's
// tolerance, and every timed run must give the same bits as the first.
// Prints the median (and min) of N runs, thread CPU time and wall time,
// GFLOP/s, a per-step profile, the checksum of the descriptors, the CPU and
// the compiler.
//
// usage: bench_faceres [ASSETS_DIR] [TESTS_DIR] [--runs N] [--threads T]
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "face/face.h"
#include "face/faceres.h"
#include "io/image.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

// MobileNetV1 224 (alpha 1) as faceres.json has it: 2 x multiply-adds.
static double faceres_gflop(void)
{
    static const int dws[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    static const int pw[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    int s = 112, c = 32;
    double f = 2.0 * s * s * 32 * 27;
    for (int i = 0; i < 13; i++) {
        s = (s + dws[i] - 1) / dws[i];
        f += 2.0 * s * s * c * 9 + 2.0 * s * s * c * pw[i];
        c = pw[i];
    }
    return f / 1e9;
}

// The tfjs descriptor of face `want` in the golden file (9-digit floats).
static bool golden_desc(const char *tests, int want, double box[4], float desc[FT_FACERES_DIM])
{
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/faceres/sample1.txt", tests);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    static char line[1 << 16];
    bool have_box = false, have_desc = false;
    while (fgets(line, sizeof line, f)) {
        int tag, off = 0;
        if (sscanf(line, "face %d %n", &tag, &off) == 1 && tag == want)
            have_box = sscanf(line + off, "%lf %lf %lf %lf", &box[0], &box[1], &box[2],
                              &box[3]) == 4;
        if (sscanf(line, "desc %d %n", &tag, &off) == 1 && tag == want && off > 0) {
            char *p = line + off, *end;
            int k = 0;
            for (; k < FT_FACERES_DIM; k++, p = end) {
                desc[k] = strtof(p, &end);
                if (end == p)
                    break;
            }
            have_desc = k == FT_FACERES_DIM;
        }
    }
    fclose(f);
    return have_box && have_desc;
}

int main(int argc, char **argv)
{
    const char *assets = FT_BENCH_ASSETS, *tests = FT_BENCH_TESTS;
    int runs = 31, threads = 1, pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (pos++ == 0)
            assets = argv[i];
        else
            tests = argv[i];
    }
    if (runs < 1 || runs > 10000)
        runs = 31;
    const char *variant = ft_nn_init();
    char dir[1100], photo[1100];
    snprintf(dir, sizeof dir, "%s/../human-3.3.6/models", assets);
    snprintf(photo, sizeof photo, "%s/demo/sample1.jpg", assets);

    ft_err err;
    ft_faceres *net = NULL;
    ft_face_models *fa = NULL;
    ft_nn_ctx *ctx = NULL;
    ft_image im;
    double t0 = ft_now_ms();
    if (ft_faceres_load(dir, NULL, &net, &err) != FT_OK) {
        fprintf(stderr, "bench_faceres: %s (run tools/setup.sh)\n", err.msg);
        return 1;
    }
    double load_ms = ft_now_ms() - t0;
    ft_models_opts mo = ft_models_opts_default();
    mo.ssd = mo.tiny = mo.landmarks_tiny = mo.yunet = false;
    if (ft_face_models_load(&mo, &fa, &err) != FT_OK || ft_image_load(photo, NULL, &im, &err) != FT_OK ||
        ft_nn_ctx_new(threads, &ctx) != FT_OK) {
        fprintf(stderr, "bench_faceres: %s\n", err.msg);
        return 1;
    }

    // ---- Validate: sample1's faces against tfjs ----
    static float ref[3][FT_FACERES_DIM], got[3][FT_FACERES_DIM];
    ft_face_box boxes[3];
    double checksum = 0;
    for (int f = 0; f < 3; f++) {
        double b[4];
        if (!golden_desc(tests, f, b, ref[f])) {
            fprintf(stderr, "bench_faceres: cannot read face %d of %s/golden/faceres/sample1.txt\n",
                    f, tests);
            return 1;
        }
        boxes[f] = (ft_face_box){b[0], b[1], b[2], b[3], 1};
        if (ft_faceres_describe(net, ctx, &im, &boxes[f], got[f], &err) != FT_OK) {
            fprintf(stderr, "bench_faceres: %s\n", err.msg);
            return 1;
        }
        double max_abs = 0;
        for (int i = 0; i < FT_FACERES_DIM; i++) {
            max_abs = fmax(max_abs, fabs((double)got[f][i] - ref[f][i]));
            checksum += got[f][i];
        }
        double cos = ft_faceres_distance(got[f], ref[f]);
        printf("validate: face %d vs tfjs: max |diff| %.3g, cosine distance %.3g\n", f, max_abs,
               cos);
        // The conformance test's bounds (tests/unit/test_faceres.c).
        if (!(max_abs <= 5e-5 && cos <= 6e-10)) {
            fprintf(stderr, "bench_faceres: face %d does not match tfjs; not timing\n", f);
            return 1;
        }
    }

    // ---- Time faceres ----
    double *wall = ft_malloc(sizeof(double) * (size_t)runs);
    double *cpu = ft_malloc(sizeof(double) * (size_t)runs);
    static float out[FT_FACERES_DIM];
    for (int r = -2; r < runs; r++) { // two warm-up runs
        double w0 = ft_now_ms(), c0 = cpu_ms();
        if (ft_faceres_describe(net, ctx, &im, &boxes[r < 0 ? 0 : r % 3], out, &err) != FT_OK)
            return 1;
        if (r >= 0) {
            wall[r] = ft_now_ms() - w0;
            cpu[r] = cpu_ms() - c0;
            if (memcmp(out, got[r % 3], sizeof out) != 0) {
                fprintf(stderr, "bench_faceres: run %d gave different bits\n", r);
                return 1;
            }
        }
    }
    double fr_wall = median(wall, runs), fr_cpu = median(cpu, runs), fr_min = wall[0];

    // Where the time goes: per step, median over the runs.
    size_t n_steps = ft_faceres_steps(net);
    float *in = ft_malloc(sizeof(float) * FT_FACERES_SIZE * FT_FACERES_SIZE * 3);
    double *steps = ft_calloc((n_steps + 1) * (size_t)runs, sizeof(double));
    double *one = ft_malloc(sizeof(double) * (n_steps + 1));
    ft_faceres_prepare(&im, &boxes[0], in, &err);
    double p0 = cpu_ms();
    for (int r = 0; r < 20; r++)
        ft_faceres_prepare(&im, &boxes[0], in, &err);
    double prep_ms = (cpu_ms() - p0) / 20; // CPU time: the machine may be shared
    for (int r = 0; r < runs; r++) {
        ft_faceres_run_timed(net, ctx, in, out, one, &err);
        for (size_t s = 0; s <= n_steps; s++)
            steps[s * (size_t)runs + (size_t)r] = one[s];
    }

    // ---- face-api's ResNet descriptor, same photo, same faces ----
    ft_point lm[3][FT_LANDMARKS];
    static float d128[FT_DESCRIPTOR_DIM];
    for (int f = 0; f < 3; f++)
        if (ft_landmarks(fa, ctx, &im, &boxes[f], false, lm[f], &err) != FT_OK) {
            fprintf(stderr, "bench_faceres: %s\n", err.msg);
            return 1;
        }
    for (int r = -2; r < runs; r++) {
        int f = r < 0 ? 0 : r % 3;
        double w0 = ft_now_ms(), c0 = cpu_ms();
        if (ft_descriptor(fa, ctx, &im, &boxes[f], lm[f], FT_ALIGN_FACEAPI, d128, &err) != FT_OK)
            return 1;
        if (r >= 0) {
            wall[r] = ft_now_ms() - w0;
            cpu[r] = cpu_ms() - c0;
        }
    }
    double rn_wall = median(wall, runs), rn_cpu = median(cpu, runs);

    char cpu_name[128] = "unknown CPU", line[256];
    FILE *ci = fopen("/proc/cpuinfo", "r");
    while (ci && fgets(line, sizeof line, ci))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(cpu_name, sizeof cpu_name, "%s", strchr(line, ':') + 2);
            cpu_name[strcspn(cpu_name, "\n")] = '\0';
            break;
        }
    if (ci)
        fclose(ci);
    double gf = faceres_gflop();
    printf("bench_faceres: %s (%s), %s, kernels %s, %d thread(s), %d runs, compiler %s\n",
           cpu_name, ft_cpu_level_name(), photo, variant, ft_nn_ctx_threads(ctx), runs,
           __VERSION__);
    printf("faceres load: %.1f ms (%zu layers)\n", load_ms, ft_faceres_layers(net, NULL));
    // Thread CPU time counts the calling thread only: with one thread it
    // is the face's cost on one core whatever else the machine runs.
    const char *cpu_what = ft_nn_ctx_threads(ctx) > 1 ? "CPU (calling thread only)" : "CPU";
    printf("faceres 1024-d (crop + net): median %.2f ms wall (min %.2f), %.2f ms %s per face; "
           "%.3f GFLOP, %.1f GFLOP/s\n",
           fr_wall, fr_min, fr_cpu, cpu_what, gf, gf / (fr_cpu / 1e3));
    printf("face-api ResNet 128-d (crop + net): median %.2f ms wall, %.2f ms %s per face\n",
           rn_wall, rn_cpu, cpu_what);
    printf("faceres profile (median wall ms per step; prepare: mean CPU ms):\n  %-60s %7.3f\n",
           "prepare (crop 224x224, BGR - mean)", prep_ms);
    for (size_t s = 0; s <= n_steps; s++) {
        char d[160];
        printf("  %-60s %7.3f\n", ft_faceres_step_desc(net, s, d, sizeof d),
               median(steps + s * (size_t)runs, runs));
    }
    printf("checksum of the validated descriptors: %.9g\n", checksum);
    ft_free(wall);
    ft_free(cpu);
    ft_free(in);
    ft_free(steps);
    ft_free(one);
    ft_image_deinit(&im);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(fa);
    ft_faceres_free(net);
    return 0;
}
