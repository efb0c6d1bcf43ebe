// YuNet-s speed, one thread: facetracker's engine and OpenCV 4.6 cv2.dnn
// (Debian python3-opencv, run through /usr/bin/python3 in the same process
// tree, cv2.setNumThreads(1)) on the same ONNX file and the same frames, at
// 320x240, 640x480 and 1920x1080 (crops of the demo photo sample1.jpg).
// First checks our detections on the 640x480 frame against the goldens'
// decoding (a fast wrong kernel shows), then prints for each size: the
// median of N runs of the network, of the whole detection (BGR input,
// network, decoding, NMS; and with single_scale, the one run cv2.dnn's
// FaceDetectorYN makes, without the coarse run for frames over 640 px), GFLOP/s (2 flops per multiply-add) and where the
// time goes by kind of layer (3x3 depthwise, 1x1, other convolutions,
// everything else), and a checksum of the outputs.
//
// The machine may be shared: every time is also taken as the calling
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID; Python's time.thread_time),
// which leaves out the time other processes hold the core; with one thread
// that is the number to compare. Wall-clock medians are printed beside it.
//
// Usage: bench_yunet [quick]   (quick: fewer repetitions)
//        bench_yunet door [quick]
//        bench_yunet layers
//
// door: the door frame on one core. A 640x480 JPEG with one face (a crop
// of sample1.jpg, encoded at quality 90 in memory) is decoded and run
// through the door pipeline (src/door: ft_door_frame on an FT_DOOR_STILL
// source with recording off, YuNet, 68-point landmarks, similarity
// alignment, 128-d descriptor, 1:N match against a gallery of 100 people,
// decision); then each stage alone (decode, detection, landmarks,
// descriptor, match + decision) and the chain with the descriptor fitted to
// YuNet's five keypoints (ft_descriptor_kps, no landmark net), which the
// door does not offer yet. Then the door frame in the product's default
// descriptor space, faceres (face/descriptor.h; issue 12, item 6): the same
// ft_door_frame with YuNet and faceres on the detector's box (no landmark
// net), matched 1:N against the same 100 people enrolled with faceres
// vectors (the subject's own, 99 others at cosine distance ~0.6 from it),
// and faceres alone; skipped, saying so, when faceres's weights are absent.
// First checks that the doors grant the enrolled subject and that both
// chains match them; then interleaved rounds, median thread CPU time of each.
#include "access/access.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "door/door.h"
#include "face/descriptor.h"
#include "face/face.h"
#include "face/faceres.h"
#include "gallery/gallery.h"
#include "model/onnx.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/dwconv2d.h"

#include <unistd.h>

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

// Deterministic N(0, 1) (Box-Muller on a 64-bit LCG).
static double gauss(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

// ---- layers: YuNet's convolution shapes alone, against the FMA peak ----

#if defined(__x86_64__)
// The machine's raw zmm FMA throughput now (bench_nn's loop): 12
// independent chains, 24 vfmadd231ps an iteration, no memory traffic.
#define FMA12                                                                                      \
    "vfmadd231ps %%zmm14, %%zmm15, %%zmm0\n vfmadd231ps %%zmm14, %%zmm15, %%zmm1\n"              \
    "vfmadd231ps %%zmm14, %%zmm15, %%zmm2\n vfmadd231ps %%zmm14, %%zmm15, %%zmm3\n"              \
    "vfmadd231ps %%zmm14, %%zmm15, %%zmm4\n vfmadd231ps %%zmm14, %%zmm15, %%zmm5\n"              \
    "vfmadd231ps %%zmm14, %%zmm15, %%zmm6\n vfmadd231ps %%zmm14, %%zmm15, %%zmm7\n"              \
    "vfmadd231ps %%zmm14, %%zmm15, %%zmm8\n vfmadd231ps %%zmm14, %%zmm15, %%zmm9\n"              \
    "vfmadd231ps %%zmm14, %%zmm15, %%zmm10\n vfmadd231ps %%zmm14, %%zmm15, %%zmm11\n"

static double fma_peak(void)
{
    if (!(ft_cpu_features() & FT_CPU_AVX512))
        return NAN;
    long n = 2000000;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cpu_ms();
        __asm__ volatile("vpxord %%zmm14, %%zmm14, %%zmm14\n vpxord %%zmm15, %%zmm15, %%zmm15\n"
                         "mov %0, %%rcx\n 1:\n" FMA12 FMA12 "dec %%rcx\n jnz 1b\n"
                         :
                         : "r"(n)
                         : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                           "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15");
        double g = n * 24.0 * 32 / (cpu_ms() - t0) * 1e-6;
        best = g > best ? g : best;
    }
    return best;
}
#else
static double fma_peak(void)
{
    return NAN;
}
#endif

// Each of YuNet-s's convolution shapes at 640x480 (its stem, backbone and
// neck; random weights), run alone through ft_conv_forward: first checked
// against the reference kernels (kern/conv2d.h, kern/dwconv2d.h; the GEMM's
// tolerance 1e-5 * sqrt(k)), then the median of 15 runs. In the network
// most of these run fused or in row bands, so this is each kernel's own
// speed, the yardstick for the 50 %-of-peak target.
static int layers_mode(void)
{
    static const struct {
        int32_t h, w, ci, co, k, s;
        bool dw;
        const char *what;
    } L[] = {{480, 640, 3, 16, 3, 2, false, "stem 3x3/2"},
             {240, 320, 16, 16, 1, 1, false, "1x1"},
             {240, 320, 16, 16, 3, 1, true, "dw 3x3"},
             {120, 160, 16, 16, 1, 1, false, "1x1"},
             {120, 160, 16, 16, 3, 1, true, "dw 3x3"},
             {120, 160, 16, 32, 1, 1, false, "1x1"},
             {120, 160, 32, 32, 3, 1, true, "dw 3x3"},
             {120, 160, 32, 32, 1, 1, false, "1x1"},
             {120, 160, 32, 64, 1, 1, false, "1x1"},
             {120, 160, 64, 64, 3, 1, true, "dw 3x3"},
             {60, 80, 64, 64, 1, 1, false, "1x1"},
             {60, 80, 64, 64, 3, 1, true, "dw 3x3"}};
    double peak = fma_peak();
    printf("bench_yunet layers: YuNet-s conv shapes at 640x480 alone, 1 thread, kernels %s, "
           "thread CPU time, median of 15; FMA peak %.1f GFLOP/s (zmm, this run)\n",
           ft_nn_init(), peak);
    ft_nn_ctx *ctx = NULL;
    if (ft_nn_ctx_new(1, &ctx) != FT_OK)
        return 1;
    uint64_t seed = 7;
    int rc = 0;
    for (size_t i = 0; i < sizeof L / sizeof *L; i++) {
        ft_conv_desc d = {L[i].k, L[i].k, L[i].ci, L[i].co, L[i].s, FT_PAD_SAME, L[i].dw,
                          FT_ACT_RELU};
        size_t nw = (size_t)L[i].k * L[i].k * L[i].ci * (L[i].dw ? 1 : L[i].co);
        size_t nx = (size_t)L[i].h * L[i].w * L[i].ci;
        float *w = ft_malloc(nw * sizeof(float)), *b = ft_malloc((size_t)L[i].co * sizeof(float));
        float *x = ft_malloc(nx * sizeof(float) + 256);
        for (size_t j = 0; j < nw; j++)
            w[j] = (float)(0.3 * gauss(&seed));
        for (int32_t j = 0; j < L[i].co; j++)
            b[j] = (float)(0.1 * gauss(&seed));
        for (size_t j = 0; j < nx; j++)
            x[j] = (float)gauss(&seed);
        ft_conv *c = NULL;
        ft_conv_geom g;
        ft_conv_geom_make(L[i].h, L[i].w, L[i].ci, L[i].co, L[i].k, L[i].k, L[i].s, FT_PAD_SAME,
                          &g);
        size_t ny = (size_t)g.out_h * g.out_w * L[i].co;
        float *y = ft_malloc(ny * sizeof(float) + 256), *ref = ft_malloc(ny * sizeof(float));
        if (ft_conv_new(&d, w, b, &c) != FT_OK)
            return 1;
        ft_map xm = {L[i].h, L[i].w, L[i].ci, x}, ym = {g.out_h, g.out_w, L[i].co, y};
        ft_conv_forward(ctx, c, &xm, &ym);
        if (L[i].dw)
            ft_kern_dwconv2d_f32_ref(&g, x, w, b, FT_ACT_RELU, ref, 0, g.out_h);
        else
            ft_kern_conv2d_f32_ref(&g, x, w, b, FT_ACT_RELU, ref);
        double tol = 1e-5 * sqrt((double)L[i].k * L[i].k * (L[i].dw ? 1 : L[i].ci)), worst = 0;
        for (size_t j = 0; j < ny; j++) {
            double e = fabs((double)y[j] - ref[j]) / fmax(1.0, fabs(ref[j]));
            worst = e > worst ? e : worst;
        }
        double t[15];
        for (int r = 0; r < 15; r++) {
            double t0 = cpu_ms();
            ft_conv_forward(ctx, c, &xm, &ym);
            t[r] = cpu_ms() - t0;
        }
        double ms = median(t, 15);
        double gf = 2.0 * (double)g.out_h * g.out_w * L[i].co * L[i].k * L[i].k *
                    (L[i].dw ? 1 : L[i].ci) / (ms * 1e6);
        printf("  %-10s %4dx%-4d %3d->%-3d %7.3f ms %6.1f GFLOP/s %5.1f %% of peak  (max rel. "
               "error %.1e, tol %.1e)%s\n",
               L[i].what, (int)L[i].w, (int)L[i].h, (int)L[i].ci, (int)L[i].co, ms, gf,
               100 * gf / peak, worst, tol, worst <= tol ? "" : "  WRONG");
        if (!(worst <= tol))
            rc = 1;
        ft_conv_free(c);
        ft_free(w);
        ft_free(b);
        ft_free(x);
        ft_free(y);
        ft_free(ref);
    }
    ft_nn_ctx_free(ctx);
    return rc;
}

// ---- door ----

static void door_die(const char *what, ft_status st, const ft_err *err)
{
    fprintf(stderr, "bench_yunet door: %s: %s\n", what, ft_err_msg(err, st));
    exit(1);
}

static int door_mode(const char *photo, bool quick)
{
    enum { N_PEOPLE = 100 };
    ft_err err = {0};
    ft_status st;
    ft_image src = {0}, fr;
    ft_image_limits il = ft_image_limits_default();
    if ((st = ft_image_load(photo, &il, &src, &err)) != FT_OK)
        door_die("photo", st, &err);
    // The top-left 640x480 of sample1: its face at (420, 360) is cut by
    // the frame's bottom edge (YuNet's box is 176 x 120 px, the SSD's runs
    // past the frame), so the descriptors of this frame are those of a
    // partial face; the timing is what this mode is for.
    fr = crop(&src, 640, 480);
    ft_buf jpg;
    ft_buf_init(&jpg, 0);
    if ((st = ft_image_encode_jpeg(&fr, 90, &jpg, &err)) != FT_OK)
        door_die("encode", st, &err);

    ft_models_opts mo = ft_models_opts_default();
    mo.ssd = mo.tiny = mo.landmarks_tiny = false;
    mo.yunet = mo.landmarks = mo.recognition = true;
    ft_face_models *fm = NULL;
    ft_nn_ctx *ctx = NULL;
    if ((st = ft_face_models_load(&mo, &fm, &err)) != FT_OK)
        door_die("models", st, &err);
    if ((st = ft_nn_ctx_new(1, &ctx)) != FT_OK)
        door_die("context", st, &err);

    // Check the frame: one face, and its descriptors both ways.
    ft_image im;
    ft_detect_opts dop = ft_detect_opts_default();
    dop.kind = FT_DETECTOR_YUNET;
    ft_face_box box[8];
    ft_face_kps kps[8];
    size_t nf = 0;
    ft_point lm[FT_LANDMARKS];
    float d68[FT_DESCRIPTOR_DIM], d5[FT_DESCRIPTOR_DIM];
    if ((st = ft_image_decode(jpg.data, jpg.len, &il, &im, &err)) != FT_OK ||
        (st = ft_detect_kps(fm, ctx, &im, &dop, box, kps, 8, &nf, NULL, &err)) != FT_OK)
        door_die("detect", st, &err);
    if (nf != 1) {
        fprintf(stderr, "bench_yunet door: %zu faces in the frame, 1 expected\n", nf);
        return 1;
    }
    // The landmark net gets the box the door gives it (ft_landmark_box).
    ft_face_box lbox = ft_landmark_box(FT_DETECTOR_YUNET, &box[0]);
    if ((st = ft_landmarks(fm, ctx, &im, &lbox, false, lm, &err)) != FT_OK ||
        (st = ft_descriptor(fm, ctx, &im, &box[0], lm, FT_ALIGN_SIMILARITY, d68, &err)) != FT_OK ||
        (st = ft_descriptor_kps(fm, ctx, &im, &box[0], &kps[0], d5, &err)) != FT_OK)
        door_die("describe", st, &err);
    ft_image_deinit(&im);

    // The gallery: the subject (68-point descriptor) and 99 others, each a
    // random point about 0.9 away from the subject (per-component sd
    // 0.9 / sqrt(128)), as different people's descriptors are.
    char db[256];
    snprintf(db, sizeof db, "/tmp/bench_yunet_door_%ld.db", (long)getpid());
    remove(db);
    ft_gallery *g = NULL;
    if ((st = ft_gallery_open(db, NULL, &g, &err)) != FT_OK)
        door_die("gallery", st, &err);
    uint64_t seed = 12345;
    int64_t subject = 0;
    // The same people for the 5-point chain, the subject enrolled with its
    // 5-point descriptor (each chain matches in its own descriptor space).
    float *rows5 = ft_malloc(sizeof(float) * N_PEOPLE * FT_DESCRIPTOR_DIM);
    int64_t pids[N_PEOPLE];
    for (int p = 0; p < N_PEOPLE; p++) {
        ft_sample sm;
        float smd[FT_DESCRIPTOR_DIM];
        memset(&sm, 0, sizeof sm);
        sm.descriptor = smd;
        sm.dim = FT_DESCRIPTOR_DIM;
        for (int i = 0; i < FT_DESCRIPTOR_DIM; i++)
            sm.descriptor[i] = p == 0 ? d68[i]
                                      : (float)(d68[i] + 0.9 / sqrt(128.0) * gauss(&seed));
        snprintf(sm.model, sizeof sm.model, "%s", ft_descriptor_space(FT_ALIGN_SIMILARITY));
        snprintf(sm.alignment, sizeof sm.alignment, "%s", ft_align_name(FT_ALIGN_SIMILARITY));
        sm.detector_score = box[0].score;
        sm.face_w = (int32_t)box[0].w;
        sm.face_h = (int32_t)box[0].h;
        char name[64];
        snprintf(name, sizeof name, p == 0 ? "subject" : "person %03d", p);
        int64_t pid;
        if ((st = ft_gallery_enroll(g, 0, name, &sm, 1, &pid, NULL, &err)) != FT_OK)
            door_die("enrol", st, &err);
        if (p == 0)
            subject = pid;
        pids[p] = pid;
        memcpy(rows5 + (size_t)p * FT_DESCRIPTOR_DIM, p == 0 ? d5 : sm.descriptor,
               sizeof smd);
    }
    ft_match_matrix *mm5 = NULL;
    if ((st = ft_match_matrix_new(rows5, FT_DESCRIPTOR_DIM, FT_METRIC_EUCLIDEAN, pids, NULL, N_PEOPLE, &mm5, &err)) != FT_OK)
        door_die("matrix (5-point)", st, &err);
    printf("the subject's 5-point and 68-point descriptors are %.3f apart\n",
           ft_descriptor_distance(d5, d68));
    ft_gallery_policy pol;
    ft_match_matrix *mm = NULL;
    if ((st = ft_gallery_policy_load(g, &pol, &err)) != FT_OK ||
        (st = ft_gallery_matrix_load(
             g, &(ft_gallery_space){ft_descriptor_space(FT_ALIGN_SIMILARITY), FT_DESCRIPTOR_DIM,
                                    FT_METRIC_EUCLIDEAN},
             &mm, &err)) != FT_OK)
        door_die("matrix", st, &err);

    ft_door_opts o = ft_door_opts_default();
    o.describe.detect.kind = FT_DETECTOR_YUNET;
    o.describe.align = FT_ALIGN_SIMILARITY;
    o.descriptor = ft_descriptor_net_resnet(); // issue 11's door frame: the 128-d descriptor
    ft_door *door = NULL;
    ft_door_source *ds = NULL;
    if ((st = ft_door_new(fm, &o, NULL, &door, &err)) != FT_OK ||
        (st = ft_door_source_new("bench", FT_DOOR_STILL, &ds, &err)) != FT_OK)
        door_die("door", st, &err);
    ft_door_source_set_record(ds, false);
    ft_door_worker w = {.nn = ctx, .g = g};
    ft_door_result *res = ft_malloc(sizeof *res);

    // The default space: faceres on the detector's box, its own gallery of
    // the same 100 people (each space matches its own vectors).
    const ft_descriptor_net *dnet = ft_descriptor_net_default();
    struct ft_faceres *frn = NULL;
    ft_gallery *gf = NULL;
    ft_door *doorf = NULL;
    ft_door_source *dsf = NULL;
    int64_t subject_f = 0;
    char dbf[256];
    snprintf(dbf, sizeof dbf, "/tmp/bench_yunet_door_faceres_%ld.db", (long)getpid());
    remove(dbf);
    float *df = ft_malloc(sizeof(float) * FT_FACERES_DIM);
    if (strcmp(dnet->name, "faceres") != 0)
        printf("the default descriptor network is %s, not faceres: no faceres door line\n",
               dnet->name);
    else if ((st = ft_faceres_load(ft_descriptor_faceres_path(), NULL, &frn, &err)) != FT_OK)
        printf("faceres not loaded (%s): no faceres door line (tools/setup.sh fetches it)\n",
               ft_err_msg(&err, st));
    if (frn) {
        if ((st = ft_image_decode(jpg.data, jpg.len, &il, &im, &err)) != FT_OK ||
            (st = ft_faceres_describe(frn, ctx, &im, &box[0], df, &err)) != FT_OK)
            door_die("faceres", st, &err);
        ft_image_deinit(&im);
        double norm = 0;
        for (int i = 0; i < FT_FACERES_DIM; i++)
            norm += (double)df[i] * df[i];
        // Noise of 2.5 times the vector's norm: cosine distance about
        // 1 - 1 / sqrt(1 + 2.5^2) = 0.63 from the subject (threshold 0.37).
        double sd = 2.5 * sqrt(norm / FT_FACERES_DIM);
        if ((st = ft_gallery_open(dbf, NULL, &gf, &err)) != FT_OK)
            door_die("gallery (faceres)", st, &err);
        float *v = ft_malloc(sizeof(float) * FT_FACERES_DIM);
        for (int p = 0; p < N_PEOPLE; p++) {
            ft_sample sm;
            memset(&sm, 0, sizeof sm);
            sm.descriptor = v;
            sm.dim = FT_FACERES_DIM;
            for (int i = 0; i < FT_FACERES_DIM; i++)
                v[i] = p == 0 ? df[i] : (float)(df[i] + sd * gauss(&seed));
            snprintf(sm.model, sizeof sm.model, "%s", dnet->space(FT_ALIGN_SIMILARITY));
            snprintf(sm.alignment, sizeof sm.alignment, "%s",
                     dnet->align_name(FT_ALIGN_SIMILARITY));
            sm.detector_score = box[0].score;
            sm.face_w = (int32_t)box[0].w;
            sm.face_h = (int32_t)box[0].h;
            char name[64];
            snprintf(name, sizeof name, p == 0 ? "subject" : "person %03d", p);
            int64_t pid;
            if ((st = ft_gallery_enroll(gf, 0, name, &sm, 1, &pid, NULL, &err)) != FT_OK)
                door_die("enrol (faceres)", st, &err);
            if (p == 0)
                subject_f = pid;
        }
        ft_free(v);
        ft_door_opts of = ft_door_opts_default();
        of.describe.detect.kind = FT_DETECTOR_YUNET;
        of.descriptor = dnet;
        of.faceres = frn;
        if ((st = ft_door_new(fm, &of, NULL, &doorf, &err)) != FT_OK ||
            (st = ft_door_source_new("bench-faceres", FT_DOOR_STILL, &dsf, &err)) != FT_OK)
            door_die("door (faceres)", st, &err);
        ft_door_source_set_record(dsf, false);
    }
    ft_door_worker wf = {.nn = ctx, .g = gf};

    // Rounds: the door frame, then each stage, then the 5-point chain.
    int reps = quick ? 5 : 41;
    enum { T_DOOR, T_DEC, T_DET, T_LM, T_DESC, T_MATCH, T_DESC5, T_CHAIN5, T_DOORF, T_FRES, T_N };
    static const char *const names[T_N] = {
        "door frame: decode + ft_door_frame (YuNet, 68-point landmarks, similarity)",
        "  decode 640x480 JPEG",
        "  detect (YuNet, whole ft_detect_kps)",
        "  landmarks (68-point net)",
        "  descriptor (similarity warp + 128-d net)",
        "  1:N match (100 people) + decision",
        "descriptor from the 5 keypoints (ft_descriptor_kps)",
        "chain with 5-point alignment: decode + detect + ft_descriptor_kps + match + decision",
        "door frame, default space faceres: decode + ft_door_frame (YuNet, faceres on the box)",
        "  faceres on the detector's box (ft_faceres_describe)"};
    double *t[T_N];
    for (int k = 0; k < T_N; k++)
        t[k] = ft_calloc((size_t)reps, sizeof(double));
    int granted = 0, granted5 = 0, granted_f = 0;
    double dist68 = NAN, dist5 = NAN, dist_f = NAN;
    for (int r = -1; r < reps; r++) {
        double c0 = cpu_ms();
        if ((st = ft_image_decode(jpg.data, jpg.len, &il, &im, &err)) != FT_OK ||
            (st = ft_door_frame(door, &w, ds, &im, 1000.0 + r, res, &err)) != FT_OK)
            door_die("door frame", st, &err);
        double c1 = cpu_ms();
        ft_image_deinit(&im);
        bool ok = res->n_faces == 1 && res->faces[0].described &&
                  res->faces[0].frame.decision == FT_DECISION_GRANTED &&
                  res->faces[0].frame.person_id == subject;
        granted += ok;
        if (ok)
            dist68 = res->faces[0].frame.distance;

        double s[T_N];
        s[T_DOOR] = c1 - c0;
        double a = cpu_ms();
        if ((st = ft_image_decode(jpg.data, jpg.len, &il, &im, &err)) != FT_OK)
            door_die("decode", st, &err);
        double b = cpu_ms();
        s[T_DEC] = b - a;
        if ((st = ft_detect_kps(fm, ctx, &im, &dop, box, kps, 8, &nf, NULL, &err)) != FT_OK)
            door_die("detect", st, &err);
        a = cpu_ms();
        s[T_DET] = a - b;
        lbox = ft_landmark_box(FT_DETECTOR_YUNET, &box[0]);
        if ((st = ft_landmarks(fm, ctx, &im, &lbox, false, lm, &err)) != FT_OK)
            door_die("landmarks", st, &err);
        b = cpu_ms();
        s[T_LM] = b - a;
        if ((st = ft_descriptor(fm, ctx, &im, &box[0], lm, FT_ALIGN_SIMILARITY, d68, &err)) !=
            FT_OK)
            door_die("descriptor", st, &err);
        a = cpu_ms();
        s[T_DESC] = a - b;
        ft_match_result mr;
        ft_access_decision dec;
        if ((st = ft_match(mm, d68, FT_DESCRIPTOR_DIM, pol.threshold, pol.margin, &mr, &err)) != FT_OK)
            door_die("match", st, &err);
        ft_access_decide(&box[0], &mr, &pol, &dec);
        b = cpu_ms();
        s[T_MATCH] = b - a;
        if ((st = ft_descriptor_kps(fm, ctx, &im, &box[0], &kps[0], d5, &err)) != FT_OK)
            door_die("descriptor_kps", st, &err);
        a = cpu_ms();
        s[T_DESC5] = a - b;
        ft_image_deinit(&im);

        // The 5-point chain, end to end.
        a = cpu_ms();
        if ((st = ft_image_decode(jpg.data, jpg.len, &il, &im, &err)) != FT_OK ||
            (st = ft_detect_kps(fm, ctx, &im, &dop, box, kps, 8, &nf, NULL, &err)) != FT_OK ||
            (st = ft_descriptor_kps(fm, ctx, &im, &box[0], &kps[0], d5, &err)) != FT_OK ||
            (st = ft_match(mm5, d5, FT_DESCRIPTOR_DIM, pol.threshold, pol.margin, &mr, &err)) != FT_OK)
            door_die("5-point chain", st, &err);
        ft_access_decide(&box[0], &mr, &pol, &dec);
        b = cpu_ms();
        s[T_CHAIN5] = b - a;
        ft_image_deinit(&im);
        bool ok5 = nf == 1 && dec.decision == FT_DECISION_GRANTED && dec.person_id == subject;
        granted5 += ok5;
        if (ok5)
            dist5 = dec.distance;

        // The door frame in the default space, then faceres alone.
        s[T_DOORF] = s[T_FRES] = 0;
        if (doorf) {
            a = cpu_ms();
            if ((st = ft_image_decode(jpg.data, jpg.len, &il, &im, &err)) != FT_OK ||
                (st = ft_door_frame(doorf, &wf, dsf, &im, 1000.0 + r, res, &err)) != FT_OK)
                door_die("door frame (faceres)", st, &err);
            b = cpu_ms();
            s[T_DOORF] = b - a;
            bool okf = res->n_faces == 1 && res->faces[0].described &&
                       res->faces[0].frame.decision == FT_DECISION_GRANTED &&
                       res->faces[0].frame.person_id == subject_f;
            granted_f += okf;
            if (okf)
                dist_f = res->faces[0].frame.distance;
            a = cpu_ms();
            if ((st = ft_faceres_describe(frn, ctx, &im, &box[0], df, &err)) != FT_OK)
                door_die("faceres", st, &err);
            s[T_FRES] = cpu_ms() - a;
            ft_image_deinit(&im);
        }
        if (r >= 0)
            for (int k = 0; k < T_N; k++)
                t[k][r] = s[k];
    }
    printf("bench_yunet door: 640x480 JPEG (%zu bytes, q90), 1 face, gallery of %d people, "
           "1 thread, thread CPU time, median of %d interleaved rounds\n",
           jpg.len, N_PEOPLE, reps);
    printf("check: door granted the subject in %d/%d frames (distance %.3f); 5-point chain "
           "granted in %d/%d (distance %.3f)\n",
           granted, reps + 1, dist68, granted5, reps + 1, dist5);
    if (doorf)
        printf("check: the faceres door granted the subject in %d/%d frames (cosine distance "
               "%.3f)\n",
               granted_f, reps + 1, dist_f);
    for (int k = 0; k < T_N; k++)
        if (doorf || (k != T_DOORF && k != T_FRES))
            printf("  %-86s %7.2f ms\n", names[k], median(t[k], reps));
    int rc = granted == reps + 1 && granted5 == reps + 1 && (!doorf || granted_f == reps + 1)
                 ? 0
                 : 1;
    if (rc)
        fprintf(stderr, "bench_yunet door: a frame was not granted\n");
    for (int k = 0; k < T_N; k++)
        ft_free(t[k]);
    ft_free(res);
    ft_door_source_free(dsf);
    ft_door_free(doorf);
    ft_gallery_close(gf);
    ft_faceres_free(frn);
    ft_free(df);
    ft_door_source_free(ds);
    ft_door_free(door);
    ft_match_matrix_free(mm);
    ft_match_matrix_free(mm5);
    ft_free(rows5);
    ft_gallery_close(g);
    const char *dbs[2] = {db, dbf};
    for (int i = 0; i < 2; i++) {
        char side[300];
        remove(dbs[i]);
        snprintf(side, sizeof side, "%s-wal", dbs[i]);
        remove(side);
        snprintf(side, sizeof side, "%s-shm", dbs[i]);
        remove(side);
    }
    ft_nn_ctx_free(ctx);
    ft_face_models_free(fm);
    ft_buf_deinit(&jpg);
    ft_image_deinit(&fr);
    ft_image_deinit(&src);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "layers") == 0)
        return layers_mode();
    if (argc > 1 && strcmp(argv[1], "door") == 0) {
        ft_nn_init();
        const char *assets = getenv("FT_ASSETS_DIR");
        char photo[4096];
        snprintf(photo, sizeof photo, "%s/demo/sample1.jpg",
                 assets && *assets ? assets : FT_BENCH_ASSETS_DIR);
        return door_mode(photo, argc > 2 && strcmp(argv[2], "quick") == 0);
    }
    bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    const char *level = ft_nn_init();
    const char *assets = getenv("FT_ASSETS_DIR");
    char photo[4096];
    snprintf(photo, sizeof photo, "%s/demo/sample1.jpg",
             assets && *assets ? assets : FT_BENCH_ASSETS_DIR);
    const char *model = ft_yunet_default_path();
    // The yardstick of issue 11's "50 % of the FMA peak": the zmm FMA loop
    // now, in this run (NAN without AVX-512).
    double peak = fma_peak();
    printf("bench_yunet: YuNet-s (%s), 1 thread, kernels %s, compiler %s; FMA peak %.1f GFLOP/s "
           "(zmm, this run)\n",
           model, level, __VERSION__, peak);

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
        // Each round: the network as it runs, then once more with the
        // per-step profile (its clock reads, one per step and band, kept
        // out of the network's time).
        for (int r = -1; r < reps; r++) {
            ar->used = mark;
            double t0 = ft_now_ms(), c0 = cpu_ms();
            ft_onnx_net_run(net, ctx, &xm, out, 12, &err);
            double t1 = ft_now_ms(), c1 = cpu_ms();
            ar->used = mark;
            ft_onnx_net_run_timed(net, ctx, &xm, out, 12, step_ms, macs, &err);
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
        // The same with the one run at the frame's own size (no coarse run
        // for frames longer than 640 px), as cv2.dnn's FaceDetectorYN.
        o.single_scale = true;
        for (int r = -1; r < reps; r++) {
            double c0 = cpu_ms();
            ft_detect(fm, ctx, &fr, &o, boxes, 100, &nf, NULL, &err);
            if (r >= 0)
                c_det[r] = cpu_ms() - c0;
        }
        double det1_med = median(c_det, reps);
        o.single_scale = false;
        ft_detect(fm, ctx, &fr, &o, boxes, 100, &nf, NULL, &err);
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
        double gf = 2.0 * mac / (net_med * 1e6);
        printf("%4dx%-4d (input %dx%d): network %.2f ms cpu (%.2f wall; %.2f GMAC, %.1f GFLOP/s = "
               "%.1f %% of peak), detect %.2f ms cpu (%.2f wall; one run only %.2f), %zu faces; "
               "cv2.dnn network %.2f ms cpu -> %.2fx\n",
               (int)fr.w, (int)fr.h, (int)W, (int)H, net_med, net_wall, mac / 1e9, gf,
               100.0 * gf / peak, det_med, det_wall, det1_med, nf, cv_ms[si], cv_ms[si] / net_med);
        printf("    time: 3x3 depthwise %.2f ms (%.1f GFLOP/s), 1x1 %.2f ms (%.1f GFLOP/s), "
               "fused dw+1x1 %.2f ms (%.1f GFLOP/s), other conv %.2f ms, other ops %.2f ms; "
               "checksum %.6e\n",
               dw3, 2.0 * mac_dw / (dw3 * 1e6 + 1e-9), pw1, 2.0 * mac_pw / (pw1 * 1e6 + 1e-9),
               sep, 2.0 * mac_sep / (sep * 1e6 + 1e-9), oconv, other, sum);
        if (!quick) {
            // Each step as it runs in the net: in a banded chain, its
            // share of the bands (onnx_net.c); a fused pair (depthwise +
            // max pool, upsampling + Add) booked at its first step.
            printf("    per step at %dx%d (ms, GMAC, GFLOP/s, %% of the FMA peak):\n", (int)fr.w,
                   (int)fr.h);
            for (size_t k = 0; k < ns; k++) {
                ft_onnx_step_info in;
                ft_onnx_net_step_info(net, k, &in);
                double ms = acc[k] / reps;
                if (ms < 0.01)
                    continue;
                double sg = 2.0 * macs[k] / (ms * 1e6);
                printf("      %-10s %-8s k%dx%d %3d->%-3d s%d %s %7.3f %.4f %6.1f %5.1f %%\n",
                       in.node, in.op, in.kh, in.kw, in.c_in, in.c_out, in.stride,
                       in.depthwise ? "dw" : "  ", ms, macs[k] / 1e9, sg, 100.0 * sg / peak);
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
