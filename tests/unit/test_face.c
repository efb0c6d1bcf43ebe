// Face module pieces that need no model files.
#include "core/cpu.h"
#include "core/mem.h"
#include "face/face_internal.h"
#include "ft_test.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// ft_face__prepare (row-wise, with padding rows filled) against the
// per-pixel reference: bit-identical over region shapes, both pad modes,
// the three normalisations and up/down scaling.
static void prepare_matches_ref(void)
{
    static const int32_t dims[][2] = {{1, 1}, {7, 3}, {3, 7}, {640, 480}, {480, 640}, {250, 250},
                                      {1920, 1280}, {513, 97}, {100, 1000}};
    static const int32_t sizes[] = {1, 112, 150, 320, 416, 512};
    uint64_t seed = 0x9E3779B97F4A7C15u;
    size_t checked = 0, differ = 0;
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        ft_image im = {dims[d][0] + 5, dims[d][1] + 3, NULL};
        im.rgb = ft_malloc((size_t)im.w * im.h * 3);
        FT_ASSERT(im.rgb);
        for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            im.rgb[i] = (uint8_t)(seed >> 56);
        }
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            int32_t s = sizes[k];
            float *a = ft_malloc(sizeof(float) * (size_t)s * s * 3);
            float *b = ft_malloc(sizeof(float) * (size_t)s * s * 3);
            FT_ASSERT(a && b);
            for (int pm = 0; pm < 2; pm++)
                for (int nm = 0; nm < 3; nm++) {
                    ft_pad_mode p = pm ? FT_PADMODE_CENTRED : FT_PADMODE_BOTTOM_RIGHT;
                    ft_norm n = nm == 0 ? FT_NORM_SSD : nm == 1 ? FT_NORM_TINY : FT_NORM_FACE;
                    // The region sits inside the image (offset 2, 1).
                    ft_face__prepare_ref(&im, 2, 1, dims[d][0], dims[d][1], p, n, s, a);
                    ft_face__prepare(&im, 2, 1, dims[d][0], dims[d][1], p, n, s, b);
                    checked++;
                    if (memcmp(a, b, sizeof(float) * (size_t)s * s * 3) != 0) {
                        differ++;
                        fprintf(stderr, "prepare %dx%d -> %d, pad %d, norm %d: differs\n",
                                dims[d][0], dims[d][1], s, pm, nm);
                    }
                }
            ft_free(a);
            ft_free(b);
        }
        ft_free(im.rgb);
    }
    FT_CHECK_EQ(differ, 0);
    FT_CHECK(checked == 9 * 6 * 6);
}

// `n` bytes that end where an inaccessible page begins, so a read past
// them faults (the warp's variants load four bytes for three).
typedef struct guarded {
    uint8_t *p;
    void *map;
    size_t len;
} guarded;

static guarded guarded_new(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), data = (n + pg - 1) / pg * pg;
    guarded g = {NULL, NULL, data + pg};
    g.map = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    FT_ASSERT(g.map != MAP_FAILED);
    FT_ASSERT(mprotect((uint8_t *)g.map + data, pg, PROT_NONE) == 0);
    g.p = (uint8_t *)g.map + data - n;
    return g;
}

// The similarity warp's variants (portable: gathered per chip row, blended
// in a vectorised loop; AVX-512: eight pixels per gather, where the CPU has
// it; and the dispatched one) against the per-sample reference:
// bit-identical for chips wholly inside the image, cut by each edge, wholly
// outside, over the image's last pixels (which end at an inaccessible
// page), on images down to 1x1, with rotations, reflections, up/down
// scaling and integer source positions (zero fractions), and on a sample
// a fused multiply-add would change.
static void warp_matches_ref(void)
{
    static const int32_t dims[][2] = {{640, 480}, {151, 149}, {37, 300}, {2, 2}, {1, 1}};
    // {a, b, tx, c, d, ty}: source x = a*col + b*row + tx, y = c*col + d*row + ty.
    static const double mats[][6] = {
        {1, 0, 0, 0, 1, 0},                      // identity: integer positions
        {0.93, -0.31, 180.2, 0.31, 0.93, 120.7}, // rotated, inside a 640x480 image
        {1.7, 0.4, -60.3, -0.4, 1.7, -40.1},     // rotated, larger, cut top-left
        {0.5, 0, 560.25, 0, 0.5, 400.75},        // upscaling, cut bottom-right
        {-1.1, 0.2, 150.5, 0.2, 1.1, -5.5},      // a reflection
        {0.8, 0.1, -500, -0.1, 0.8, -500},       // wholly outside
        {0.013, 0, 0.1, 0, 0.013, 0.2}};         // all samples within two pixels
    uint64_t seed = 0x2545F4914F6CDD1Du;
    size_t checked = 0, differ = 0;
    bool avx512 = (ft_cpu_features() & FT_CPU_AVX512) != 0;
    size_t bytes = sizeof(float) * 150 * 150 * 3;
    float *a = ft_malloc(bytes), *b = ft_malloc(bytes);
    FT_ASSERT(a && b);
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        ft_image im = {dims[d][0], dims[d][1], NULL};
        guarded gb = guarded_new((size_t)im.w * im.h * 3);
        im.rgb = gb.p;
        for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            im.rgb[i] = (uint8_t)(seed >> 56);
        }
        size_t n_mats = sizeof mats / sizeof mats[0];
        for (size_t k = 0; k <= n_mats; k++) {
            // Last: the image's bottom-right corner and beyond, at 1/16
            // pixel steps (the image's last bytes: the fast path must not
            // read past them).
            double br[6] = {0.0625, 0, im.w - 5.03, 0, 0.0625, im.h - 5.03};
            const double *mk = k < n_mats ? mats[k] : br;
            memset(a, 0xAB, bytes);
            ft_face__warp_chip_ref(&im, mk, a);
            for (int v = 0; v < 3; v++) {
                if (v == 2 && !avx512)
                    continue;
                memset(b, 0xCD, bytes);
                (v == 0 ? ft_face__warp_chip : v == 1 ? ft_face__warp_chip_c
                                                      : ft_face__warp_chip_avx512)(&im, mk, b);
                checked++;
                if (memcmp(a, b, bytes) != 0) {
                    differ++;
                    fprintf(stderr, "warp %dx%d, matrix %zu, %s: differs\n", im.w, im.h, k,
                            v == 0 ? "dispatched" : v == 1 ? "portable" : "avx512");
                }
            }
        }
        munmap(gb.map, gb.len);
    }
    // A sample whose result depends on the product (bot - top) * fy being
    // rounded before the add: top 100, bot 120 and the fy below give p =
    // 118 exactly as the reference computes it, 117.99999237 with a fused
    // multiply-add, and two different normalised values for channel 0
    // (found by a search over bytes and fractions in exact rational
    // arithmetic). A 4x2 image, top row 100s, bottom row 120s; all chip
    // pixels at (0.5, fy): the AVX-512 variant's plain gathers; at
    // (c + 0.5, fy): its masked ones (the group reaches the image's edge).
    static const double trap_fy = 0x1.ccccc66666663p-1;
    const double traps[2][6] = {{0, 0, 0.5, 0, 0, trap_fy}, {1, 0, 0.5, 0, 0, trap_fy}};
    uint8_t trap_px[4 * 2 * 3];
    for (int i = 0; i < 4 * 2 * 3; i++)
        trap_px[i] = i < 12 ? 100 : 120;
    ft_image trap = {4, 2, trap_px};
    ft_face__warp_chip_ref(&trap, traps[0], a);
    FT_CHECK_DBL_EXACT(a[0], (118.0f - 122.782f) / 255.0f); // the unfused value
    for (int k = 0; k < 2; k++) {
        ft_face__warp_chip_ref(&trap, traps[k], a);
        for (int v = 0; v < 3; v++) {
            if (v == 2 && !avx512)
                continue;
            memset(b, 0xCD, bytes);
            (v == 0 ? ft_face__warp_chip : v == 1 ? ft_face__warp_chip_c
                                                  : ft_face__warp_chip_avx512)(&trap, traps[k], b);
            checked++;
            if (memcmp(a, b, bytes) != 0) {
                differ++;
                fprintf(stderr, "warp: the fused-multiply-add trap, matrix %d, %s: differs\n", k,
                        v == 0 ? "dispatched" : v == 1 ? "portable" : "avx512");
            }
        }
    }
    ft_free(a);
    ft_free(b);
    FT_CHECK_EQ(differ, 0);
    FT_CHECK(checked == (size_t)(5 * 8 + 2) * (avx512 ? 3 : 2));
    if (!avx512)
        fprintf(stderr, "warp_matches_ref: no AVX-512 on this CPU, its variant not checked\n");
}

// ft_face__rec_shortcut (pool and add in one pass) against ft_avgpool then
// the add: bit-identical on the net's three downsampling blocks (the last
// one's conv path is smaller than the pool) and odd shapes (odd sizes, few
// channels, no appended channels, a conv path of one pixel), with values
// of both signs and some zeros and negative zeros.
static void shortcut_matches_ref(void)
{
    // x h, w, c; y h, w, c.
    static const int32_t shapes[][6] = {{35, 35, 32, 17, 17, 64}, {17, 17, 64, 8, 8, 128},
                                        {8, 8, 128, 3, 3, 256},   {7, 5, 3, 3, 2, 5},
                                        {4, 6, 7, 2, 3, 7},       {9, 9, 1, 1, 1, 2}};
    uint64_t seed = 0xD1B54A32D192ED03u;
    size_t differ = 0, n = sizeof shapes / sizeof shapes[0];
    for (size_t k = 0; k < n; k++) {
        const int32_t *sh = shapes[k];
        int32_t ph = sh[0] / 2, pw = sh[1] / 2;
        size_t nx = (size_t)sh[0] * sh[1] * sh[2], ny = (size_t)sh[3] * sh[4] * sh[5];
        size_t no = (size_t)ph * pw * sh[5];
        float *x = ft_malloc(sizeof(float) * nx), *y = ft_malloc(sizeof(float) * ny);
        float *a = ft_malloc(sizeof(float) * no), *b = ft_malloc(sizeof(float) * no);
        float *tmp = ft_malloc(sizeof(float) * (size_t)ph * pw * sh[2]);
        FT_ASSERT(x && y && a && b && tmp);
        for (size_t i = 0; i < nx + ny; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            uint32_t u = (uint32_t)(seed >> 32);
            // Mostly uniform in [-2, 2), with exact zeros and -0.0.
            float v = u % 16 == 0 ? 0.0f : u % 16 == 1 ? -0.0f : (float)u / 1073741824.0f - 2.0f;
            if (i < nx)
                x[i] = v;
            else
                y[i - nx] = v;
        }
        ft_map xm = {sh[0], sh[1], sh[2], x}, ym = {sh[3], sh[4], sh[5], y};
        ft_map am = {ph, pw, sh[5], a}, bm = {ph, pw, sh[5], b};
        memset(a, 0xAB, sizeof(float) * no);
        memset(b, 0xCD, sizeof(float) * no);
        ft_face__rec_shortcut_ref(&xm, &ym, tmp, &am);
        ft_face__rec_shortcut(&xm, &ym, &bm);
        if (memcmp(a, b, sizeof(float) * no) != 0) {
            differ++;
            fprintf(stderr, "shortcut %dx%dx%d + %dx%dx%d: differs\n", sh[0], sh[1], sh[2],
                    sh[3], sh[4], sh[5]);
        }
        ft_free(x);
        ft_free(y);
        ft_free(a);
        ft_free(b);
        ft_free(tmp);
    }
    FT_CHECK_EQ(differ, 0);
}

// ft_face__add_chain against the ft_add calls it replaces (right-nested:
// t0 + (t1 + (t2 + t3))), for 2, 3 and 4 maps, with and without the ReLU,
// into a separate map and in place over t[0], on values whose sums round
// differently when regrouped.
static void add_chain_matches_ref(void)
{
    enum { H = 5, W = 7, C = 11, N = H * W * C };
    float t[4][N], ref[N], got[N];
    uint64_t seed = 0x94D049BB133111EBu;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < N; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            uint32_t u = (uint32_t)(seed >> 32);
            // Magnitudes from 2^-12 to 2^12, both signs, some zeros and -0.0.
            double mant = (double)(u & 0xFFFFF) / 1048576.0 + 1.0;
            float v = (float)ldexp(mant, (int)(u >> 20) % 25 - 12);
            t[k][i] = u % 13 == 0 ? 0.0f : u % 13 == 1 ? -0.0f : (u & 0x80000000u) ? -v : v;
        }
    size_t differ = 0, checked = 0;
    for (int n = 2; n <= 4; n++)
        for (int relu = 0; relu < 2; relu++)
            for (int alias = 0; alias < 2; alias++) {
                ft_map m[4], r = {H, W, C, ref};
                for (int k = 0; k < 4; k++)
                    m[k] = (ft_map){H, W, C, t[k]};
                // The reference: ft_add from the innermost sum outwards.
                memcpy(ref, t[n - 1], sizeof ref);
                for (int k = n - 2; k >= 0; k--)
                    ft_add(NULL, &m[k], &r, k == 0 && relu ? FT_ACT_RELU : FT_ACT_NONE, &r);
                const ft_map *in[4] = {&m[0], &m[1], &m[2], &m[3]};
                ft_map g = {H, W, C, got}, m0 = {H, W, C, got};
                if (alias) { // y = t[0]: run on a copy of t[0]
                    memcpy(got, t[0], sizeof got);
                    in[0] = &m0;
                }
                ft_face__add_chain(in, n, relu != 0, &g);
                checked++;
                if (memcmp(ref, got, sizeof ref) != 0) {
                    differ++;
                    fprintf(stderr, "add_chain n %d relu %d alias %d: differs\n", n, relu, alias);
                }
            }
    FT_CHECK_EQ(differ, 0);
    FT_CHECK(checked == 12);
}

static const ft_test_case cases[] = {{"prepare_matches_ref", prepare_matches_ref},
                                     {"warp_matches_ref", warp_matches_ref},
                                     {"shortcut_matches_ref", shortcut_matches_ref},
                                     {"add_chain_matches_ref", add_chain_matches_ref}};
FT_TEST_MAIN(cases)
