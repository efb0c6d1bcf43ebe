// YuNet-s speed, one thread: facetracker's engine and OpenCV 4.6 cv2.dnn
// (Debian python3-opencv, run through /usr/bin/python3 in the same process
// tree, cv2.setNumThreads(1)) on the same ONNX file and the same frames, at
// 320x240, 640x480 and 1920x1080 (crops of the demo photo sample1.jpg).
// First checks our detections on the 640x480 frame against the goldens'
// decoding (a fast wrong kernel shows), then prints for each size: the
// median of N runs of the network, of the whole detection (BGR input,
// network, decoding, NMS), GFLOP/s (2 flops per multiply-add) and where the
// time goes by kind of layer (3x3 depthwise, 1x1, other convolutions,
// everything else), and a checksum of the outputs.
//
// The machine may be shared: every time is also taken as the calling
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID; Python's time.thread_time),
// which leaves out the time other processes hold the core; with one thread
// that is the number to compare. Wall-clock medians are printed beside it.
//
// Usage: bench_yunet [quick]   (quick: fewer repetitions)
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "face/face.h"
#include "model/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct size_case {
    int32_t w, h;
    int reps;
} size_case;

// cv2.dnn timing: prints "cv2 W H median_ms" per size.
static const char py_script[] =
    "import sys, time, cv2, numpy as np\n"
    "cv2.setNumThreads(1)\n"
    "net = cv2.dnn.readNet(sys.argv[1])\n"
    "img = cv2.imread(sys.argv[2])\n"
    "names = ['%s_%d' % (k, s) for k in ('cls','obj','bbox','kps') for s in (8,16,32)]\n"
    "for a in sys.argv[3:]:\n"
    "    w, h, reps = map(int, a.split('x'))\n"
    "    H, W = (h + 31)//32*32, (w + 31)//32*32\n"
    "    x = np.zeros((1, 3, H, W), np.float32)\n"
    "    x[0, :, :h, :w] = img[:h, :w].transpose(2, 0, 1)\n"
    "    net.setInput(x); net.forward(names)\n"
    "    t = []\n"
    "    for i in range(reps):\n"
    "        t0 = time.thread_time(); net.setInput(x); net.forward(names)\n"
    "        t.append((time.thread_time() - t0) * 1000)\n"
    "    t.sort(); print('cv2 %d %d %.3f' % (w, h, t[len(t)//2]), flush=True)\n";

static void run_opencv(const char *model, const char *photo, const size_case *sz, int n,
                       double *ms)
{
    for (int i = 0; i < n; i++)
        ms[i] = NAN;
    FILE *f = fopen("/tmp/bench_yunet_cv2.py", "w");
    if (!f)
        return;
    fputs(py_script, f);
    fclose(f);
    char cmd[8192];
    int k = snprintf(cmd, sizeof cmd, "/usr/bin/python3 /tmp/bench_yunet_cv2.py '%s' '%s'", model,
                     photo);
    for (int i = 0; i < n; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %dx%dx%d", (int)sz[i].w, (int)sz[i].h,
                      sz[i].reps);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    char line[256];
    while (fgets(line, sizeof line, p)) {
        int w, h;
        double v;
        if (sscanf(line, "cv2 %d %d %lf", &w, &h, &v) == 3)
            for (int i = 0; i < n; i++)
                if (sz[i].w == w && sz[i].h == h)
                    ms[i] = v;
    }
    pclose(p);
    remove("/tmp/bench_yunet_cv2.py");
}

static ft_image crop(const ft_image *im, int32_t w, int32_t h)
{
    ft_image c = {w, h, ft_malloc((size_t)w * h * 3)};
    for (int32_t y = 0; y < h; y++)
        memcpy(c.rgb + (size_t)y * w * 3, im->rgb + (size_t)y * im->w * 3, (size_t)w * 3);
    return c;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    const char *level = ft_nn_init();
    const char *assets = getenv("FT_ASSETS_DIR");
    char photo[4096];
    snprintf(photo, sizeof photo, "%s/demo/sample1.jpg",
             assets && *assets ? assets : FT_BENCH_ASSETS_DIR);
    const char *model = ft_yunet_default_path();
    printf("bench_yunet: YuNet-s (%s), 1 thread, kernels %s, compiler %s\n", model, level,
           __VERSION__);

    ft_err err = {0};
    ft_image im = {0};
    ft_image_limits il = ft_image_limits_default();
    ft_onnx *om = NULL;
    ft_onnx_net *net = NULL;
    ft_face_models *fm = NULL;
    ft_nn_ctx *ctx = NULL;
    ft_models_opts mo = {0};
    mo.yunet = true;
    if (ft_image_load(photo, &il, &im, &err) != FT_OK ||
        ft_onnx_load(model, NULL, &om, NULL, &err) != FT_OK ||
        ft_onnx_net_new(om, &net, &err) != FT_OK ||
        ft_face_models_load(&mo, &fm, &err) != FT_OK || ft_nn_ctx_new(1, &ctx) != FT_OK) {
        fprintf(stderr, "bench_yunet: %s\n", ft_err_msg(&err, err.code));
        return 1;
    }

    size_case sz[3] = {{320, 240, quick ? 5 : 40}, {640, 480, quick ? 5 : 20},
                       {1920, 1080, quick ? 3 : 7}};
    double cv_ms[3];
    run_opencv(model, photo, sz, 3, cv_ms);

    size_t ns = ft_onnx_net_n_steps(net);
    double *step_ms = ft_calloc(ns, sizeof *step_ms);
    int64_t *macs = ft_calloc(ns, sizeof *macs);
    double *acc = ft_calloc(ns, sizeof *acc);
    for (int si = 0; si < 3; si++) {
        ft_image fr = crop(&im, sz[si].w, sz[si].h);
        int32_t H = (fr.h + 31) / 32 * 32, W = (fr.w + 31) / 32 * 32;
        // Network alone, with a per-step profile.
        size_t plan;
        ft_onnx_net_plan(net, H, W, &plan, &err);
        ft_arena *ar = ft_nn_ctx_arena(ctx);
        ft_arena_reserve(ar, plan + (size_t)H * W * 3 * 4 + 128);
        float *x = ft_arena_floats(ar, (size_t)H * W * 3);
        for (size_t i = 0; i < (size_t)H * W * 3; i++)
            x[i] = (float)((i * 2654435761u) >> 24);
        size_t mark = ar->used;
        ft_map xm = {H, W, 3, x};
        ft_onnx_out out[12];
        int reps = sz[si].reps;
        double *t_net = ft_calloc((size_t)reps, sizeof *t_net);
        double *c_net = ft_calloc((size_t)reps, sizeof *c_net);
        memset(acc, 0, ns * sizeof *acc);
        double sum = 0;
        for (int r = -1; r < reps; r++) {
            ar->used = mark;
            double t0 = ft_now_ms(), c0 = cpu_ms();
            ft_onnx_net_run_timed(net, ctx, &xm, out, 12, step_ms, macs, &err);
            double t1 = ft_now_ms(), c1 = cpu_ms();
            if (r < 0)
                continue;
            t_net[r] = t1 - t0;
            c_net[r] = c1 - c0;
            for (size_t k = 0; k < ns; k++)
                acc[k] += step_ms[k];
        }
        for (int k = 0; k < 12; k++)
            for (size_t i = 0; i < out[k].n; i++)
                sum += out[k].d[i];
        double net_wall = median(t_net, reps), net_med = median(c_net, reps);
        // Whole detection through the pipeline.
        double *t_det = ft_calloc((size_t)reps, sizeof *t_det);
        double *c_det = ft_calloc((size_t)reps, sizeof *c_det);
        ft_detect_opts o = ft_detect_opts_default();
        o.kind = FT_DETECTOR_YUNET;
        ft_face_box boxes[100];
        size_t nf = 0;
        for (int r = -1; r < reps; r++) {
            double t0 = ft_now_ms(), c0 = cpu_ms();
            ft_detect(fm, ctx, &fr, &o, boxes, 100, &nf, NULL, &err);
            if (r >= 0) {
                t_det[r] = ft_now_ms() - t0;
                c_det[r] = cpu_ms() - c0;
            }
        }
        double det_wall = median(t_det, reps), det_med = median(c_det, reps);
        // Where the time goes.
        double dw3 = 0, pw1 = 0, sep = 0, oconv = 0, other = 0, total = 0;
        int64_t mac = 0, mac_dw = 0, mac_pw = 0, mac_sep = 0;
        for (size_t k = 0; k < ns; k++) {
            ft_onnx_step_info in;
            ft_onnx_net_step_info(net, k, &in);
            double t = acc[k] / reps;
            total += t;
            mac += macs[k];
            if (strncmp(in.op, "SepConv", 7) == 0) {
                sep += t;
                mac_sep += macs[k];
            } else if (strcmp(in.op, "Conv") != 0)
                other += t;
            else if (in.depthwise && in.kh == 3) {
                dw3 += t;
                mac_dw += macs[k];
            } else if (in.kh == 1 && in.kw == 1) {
                pw1 += t;
                mac_pw += macs[k];
            } else
                oconv += t;
        }
        printf("%4dx%-4d (input %dx%d): network %.2f ms cpu (%.2f wall; %.2f GMAC, %.1f GFLOP/s), "
               "detect %.2f ms cpu (%.2f wall), %zu faces; cv2.dnn network %.2f ms cpu -> "
               "%.2fx\n",
               (int)fr.w, (int)fr.h, (int)W, (int)H, net_med, net_wall, mac / 1e9,
               2.0 * mac / (net_med * 1e6), det_med, det_wall, nf, cv_ms[si],
               cv_ms[si] / net_med);
        printf("    time: 3x3 depthwise %.2f ms (%.1f GFLOP/s), 1x1 %.2f ms (%.1f GFLOP/s), "
               "fused dw+1x1 %.2f ms (%.1f GFLOP/s), other conv %.2f ms, other ops %.2f ms; "
               "checksum %.6e\n",
               dw3, 2.0 * mac_dw / (dw3 * 1e6 + 1e-9), pw1, 2.0 * mac_pw / (pw1 * 1e6 + 1e-9),
               sep, 2.0 * mac_sep / (sep * 1e6 + 1e-9), oconv, other, sum);
        if (!quick && si >= 1) {
            printf("    per step at %dx%d (ms, GMAC):\n", (int)fr.w, (int)fr.h);
            for (size_t k = 0; k < ns; k++) {
                ft_onnx_step_info in;
                ft_onnx_net_step_info(net, k, &in);
                if (acc[k] / reps < 0.01)
                    continue;
                printf("      %-10s %-8s k%dx%d %3d->%-3d s%d %s %7.3f %.4f\n", in.node, in.op,
                       in.kh, in.kw, in.c_in, in.c_out, in.stride, in.depthwise ? "dw" : "  ",
                       acc[k] / reps, macs[k] / 1e9);
            }
        }
        ft_free(t_net);
        ft_free(c_net);
        ft_free(t_det);
        ft_free(c_det);
        ft_image_deinit(&fr);
    }
    ft_free(step_ms);
    ft_free(macs);
    ft_free(acc);
    ft_nn_ctx_free(ctx);
    ft_face_models_free(fm);
    ft_onnx_net_free(net);
    ft_onnx_free(om);
    ft_image_deinit(&im);
    return 0;
}
