// Benchmark of the face pipeline (issues 2 and 3): median ms per stage for
// the SSD and tiny detectors on a 640x480 photo and a 1920-wide demo photo,
// 1 and 2 threads; the SSD network's achieved GFLOP/s next to the GEMM peak
// of our own kernel measured in the same run; landmarks and descriptor ms
// per face. Validates before timing: the detections on sample1 must be the
// three faces face-api finds (checksum printed).
//
// usage: bench_face [ASSETS_DIR] [--runs N] [--ppm-out DIR]
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
        w[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int32_t i = 0; i < hw * hw * k; i++)
        x[i] = (float)rand() / RAND_MAX;
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

typedef struct stage_ms {
    double decode, pre, net, post, total, detect_cpu;
    size_t faces;
} stage_ms;

static void bench_detect(const ft_face_models *m, const ft_buf *jpeg, ft_detector_kind kind,
                         int32_t input, int threads, int runs, stage_ms *out)
{
    ft_nn_ctx *ctx;
    ft_nn_ctx_new(threads, &ctx);
    ft_detect_opts o = ft_detect_opts_default();
    o.kind = kind;
    o.input_size = input;
    double *dec = calloc((size_t)runs, sizeof(double)), *pre = calloc((size_t)runs, sizeof(double));
    double *net = calloc((size_t)runs, sizeof(double)), *post = calloc((size_t)runs, sizeof(double));
    double *tot = calloc((size_t)runs, sizeof(double)), *cpu = calloc((size_t)runs, sizeof(double));
    ft_face_box boxes[64];
    size_t n = 0;
    for (int r = -1; r < runs; r++) { // one warm-up run
        ft_image im;
        double t0 = ft_now_ms();
        ft_image_decode(jpeg->data, jpeg->len, NULL, &im, NULL);
        double t1 = ft_now_ms();
        ft_detect_timing t;
        double c0 = cpu_ms();
        ft_detect(m, ctx, &im, &o, boxes, 64, &n, &t, NULL);
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
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
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
    if (ppm_dir) {
        snprintf(path, sizeof path, "%s/vga.ppm", ppm_dir);
        ft_image_save(&vga, path, NULL);
        snprintf(path, sizeof path, "%s/vga.jpg", ppm_dir);
        ft_file_write_atomic(path, vga_jpeg.data, vga_jpeg.len, NULL);
        snprintf(path, sizeof path, "%s/sample1.ppm", ppm_dir);
        ft_image_save(&im1, path, NULL);
    }

    // Validation: the three faces face-api finds on sample1.
    ft_nn_ctx *ctx1;
    ft_nn_ctx_new(1, &ctx1);
    ft_face_box boxes[64];
    size_t n = 0;
    ft_detect(m, ctx1, &im1, NULL, boxes, 64, &n, NULL, NULL);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += boxes[i].x + boxes[i].y + boxes[i].w + boxes[i].h + boxes[i].score;
    printf("validation: sample1 SSD faces %zu (face-api: 3), checksum %.3f\n", n, sum);
    if (n != 3)
        return 1;

    printf("cpu kernels: %s; threads available: %d\n", ft_nn_init(), ft_cpu_count());
    double peak = gemm_peak();
    double gf = ssd_gflop();
    printf("gemm peak (our kernel, 1 thread, 4096x1024x1024): %.1f GFLOP/s\n", peak);
    printf("SSD network: %.2f GFLOP per image\n\n", gf);
    printf("wall-clock medians in ms; \"detect CPU\" is the calling thread's CPU time for the\n"
           "whole detect call (1 thread: the true cost; 2 threads: the caller's share only)\n\n");
    printf("| detector | photo | threads | faces | decode | preprocess | network | decode+NMS | total | detect CPU | network GFLOP/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
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
    if (ppm_dir) {
        char sqpath[4096];
        snprintf(sqpath, sizeof sqpath, "%s/square.ppm", ppm_dir);
        ft_image_save(&sq, sqpath, NULL);
    }
    struct {
        const char *name;
        const ft_buf *jpeg;
        bool square;
    } photos[3] = {{"640x480", &vga_jpeg, false},
                   {"1920x1280 (sample1)", &big, false},
                   {"480x480 (square)", &sq_jpeg, true}};
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < (photos[p].square ? 1 : 3); k++)
            for (int th = 1; th <= (photos[p].square ? 1 : 2); th++) {
                ft_detector_kind kind = k == 0 ? FT_DETECTOR_SSD : FT_DETECTOR_TINY;
                int32_t input = k == 1 ? 416 : 320;
                stage_ms s;
                bench_detect(m, photos[p].jpeg, kind, input, th, runs, &s);
                char det[32];
                snprintf(det, sizeof det, "%s", kind == FT_DETECTOR_SSD ? "ssd 512" : input == 416 ? "tiny 416" : "tiny 320");
                printf("| %s | %s | %d | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |", det,
                       photos[p].name, th, s.faces, s.decode, s.pre, s.net, s.post, s.total,
                       s.detect_cpu);
                if (kind == FT_DETECTOR_SSD && th == 1 && photos[p].square)
                    printf(" %.1f wall, %.1f CPU (%.0f%% of peak) |\n", gf / (s.net / 1e3),
                           gf / (s.detect_cpu / 1e3), 100 * gf / (s.detect_cpu / 1e3) / peak);
                else if (kind == FT_DETECTOR_SSD)
                    printf(" %.1f wall, effective |\n", gf / (s.net / 1e3));
                else
                    printf(" |\n");
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
    return 0;
}
