// Declarations shared by the files of src/face only.
#ifndef FT_FACE_INTERNAL_H
#define FT_FACE_INTERNAL_H

#include "face/face.h"
#include "model/tfjs.h"

// ---- Networks as prepared layers ----

typedef struct ft_ssd_net {
    ft_conv *l0;
    ft_conv *dw[13], *pw[13]; // backbone L1..L13 (index 0 = L1)
    ft_conv *extra[8];        // E0..E7
    ft_conv *head[6];         // per feature map: box codes (A*4) then logits (A*3)
    float *anchors;           // [5118][4] (ymin, xmin, ymax, xmax)
    struct ft_ssd_padrows *pad; // feature-map rows of the padding (ssd.c), filled as seen
} ft_ssd_net;

typedef struct ft_tiny_net {
    ft_conv *l0;
    ft_conv *dw[5], *pw[5];
    ft_conv *head;
} ft_tiny_net;

// A separable or regular conv of the landmark nets' dense blocks.
typedef struct ft_lm_block {
    ft_conv *conv0_dw, *conv0; // conv0_dw is NULL for the first block (regular conv)
    ft_conv *sep_dw[3], *sep_pw[3];
} ft_lm_block;

typedef struct ft_lm_net {
    int n_blocks, n_convs; // 4 blocks of 4 convs (full), 3 blocks of 3 (tiny)
    ft_lm_block blocks[4];
    ft_dense *fc;
} ft_lm_net;

typedef struct ft_rec_conv {
    ft_conv *conv; // conv + bias, scale layer folded in, ReLU when stated
} ft_rec_conv;

typedef struct ft_rec_net {
    ft_conv *stem;               // 7x7 s2 VALID 3->32, ReLU
    ft_conv *a[14], *b[14];      // residual blocks, conv A (ReLU) and conv B (none)
    bool down[14];               // block is a residualDown
    ft_dense *fc;                // 256 -> 128, no bias
} ft_rec_net;

typedef struct ft_yunet ft_yunet; // yunet.c
#define FT_YUNET_FILE "yunet_s_640_640.onnx"
#ifndef FT_YUNET_SOURCE_DIR // CMakeLists.txt sets both
#define FT_YUNET_SOURCE_DIR "models/yunet"
#endif
#ifndef FT_YUNET_INSTALL_DIR
#define FT_YUNET_INSTALL_DIR "/usr/share/facetracker/models/yunet"
#endif

struct ft_face_models {
    bool has_ssd, has_tiny, has_lm, has_lm_tiny, has_rec, has_yunet;
    ft_yunet *yunet;
    ft_ssd_net ssd;
    ft_tiny_net tiny;
    ft_lm_net lm, lm_tiny;
    ft_rec_net rec;
};

ft_status ft_face__ssd_build(const ft_tfjs *w, ft_ssd_net *net, ft_err *err);
void ft_face__ssd_free(ft_ssd_net *net);
ft_status ft_face__tiny_build(const ft_tfjs *w, ft_tiny_net *net, ft_err *err);
void ft_face__tiny_free(ft_tiny_net *net);
ft_status ft_face__lm_build(const ft_tfjs *w, bool tiny, ft_lm_net *net, ft_err *err);
void ft_face__lm_free(ft_lm_net *net);
ft_status ft_face__rec_build(const ft_tfjs *w, ft_rec_net *net, ft_err *err);
void ft_face__rec_free(ft_rec_net *net);

// YuNet-s (yunet.c): the ONNX file checked against FT_YUNET_SHA256.
ft_status ft_face__yunet_load(const char *path, ft_yunet **out, ft_err *err);
void ft_face__yunet_free(ft_yunet *y);
ft_status ft_face__yunet_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                                const ft_detect_opts *o, ft_face_box *out, ft_face_kps *kps,
                                size_t cap, size_t *n_out, ft_detect_timing *t, ft_err *err);

// Looks up `name` with the given shape (rank <= 4) and reports errors
// with the net's name.
ft_status ft_face__get(const ft_tfjs *w, const char *name, int rank, int32_t d0, int32_t d1,
                       int32_t d2, int32_t d3, const float **out, ft_err *err);

// Creates a conv layer, mapping failures to an error naming `what`.
ft_status ft_face__conv(const char *what, int32_t k, int32_t cin, int32_t cout, int32_t stride,
                        ft_pad pad, bool depthwise, ft_act act, const float *w,
                        const float *bias, ft_conv **out, ft_err *err);

// Runs one prepared conv from `x` into `buf`, setting `y` to the output
// map (size from the layer, channels c_out).
ft_status ft_face__run_conv(ft_nn_ctx *ctx, const ft_conv *c, const ft_map *x, ft_map *y,
                            float *buf);
// A depthwise + pointwise pair as one fused layer (the depthwise output
// stays in cache; bit-identical to running them one after the other).
ft_status ft_face__run_sep(ft_nn_ctx *ctx, const ft_conv *dw, const ft_conv *pw, const ft_map *x,
                           ft_map *y, float *buf);

// ---- Input pipeline (faceapi-models.md §4) ----

typedef enum ft_pad_mode {
    FT_PADMODE_BOTTOM_RIGHT, // detectors: image anchored top-left
    FT_PADMODE_CENTRED,      // landmark and recognition nets
} ft_pad_mode;

typedef enum ft_norm {
    FT_NORM_SSD,   // x / 127.5 - 1
    FT_NORM_TINY,  // (x - [117.001, 114.697, 97.404]) / 255
    FT_NORM_FACE,  // (x - [122.782, 117.001, 104.298]) / 255
} ft_norm;

// Pads the integer region (x0, y0, w, h) of `im` to a square with zeros,
// resizes it to s x s with TF's legacy bilinear rule (evaluated in double,
// rounded once) and normalises it into `out` (s x s x 3, caller storage).
void ft_face__prepare(const ft_image *im, int32_t x0, int32_t y0, int32_t w, int32_t h,
                      ft_pad_mode pm, ft_norm norm, int32_t s, float *out);
// The reference: the same samples computed one output pixel at a time;
// ft_face__prepare must match it bit for bit (tests/unit/test_face.c).
void ft_face__prepare_ref(const ft_image *im, int32_t x0, int32_t y0, int32_t w, int32_t h,
                          ft_pad_mode pm, ft_norm norm, int32_t s, float *out);

// The recognition net's 150x150 chip (recognition.c): the image sampled
// bilinearly (zeros outside) at m[0]*c + m[1]*r + m[2], m[3]*c + m[4]*r +
// m[5] for chip pixel (r, c), minus the channel means, divided by 255, into
// `out` (150 x 150 x 3). The reference works one sample at a time;
// ft_face__warp_chip (the AVX-512 variant when the CPU has it and
// FT_KERNELS allows it, else the portable one) and both variants must match
// it bit for bit (tests/unit/test_face.c).
void ft_face__warp_chip(const ft_image *im, const double m[6], float *out);
void ft_face__warp_chip_ref(const ft_image *im, const double m[6], float *out);
void ft_face__warp_chip_c(const ft_image *im, const double m[6], float *out);
void ft_face__warp_chip_avx512(const ft_image *im, const double m[6], float *out);

// The recognition net's downsampling shortcut (recognition.c): o =
// ReLU(avgpool2x2s2(x) with zero channels appended + y zero-padded at the
// bottom/right), o of x's half size and y's channels (x->c <= y->c, y no
// larger than o). The reference runs ft_avgpool into `tmp` (o's size, x's
// channels) then adds; ft_face__rec_shortcut must match it bit for bit
// (tests/unit/test_face.c).
void ft_face__rec_shortcut(const ft_map *x, const ft_map *y, ft_map *o);
void ft_face__rec_shortcut_ref(const ft_map *x, const ft_map *y, float *tmp, ft_map *o);

// The landmark nets' dense-block sums (landmarks.c): y = ReLU or identity
// of t[0] + (t[1] + (... + t[n-1])), 2 <= n <= 4 maps of y's shape; y may
// alias t[0]. Bit for bit the chain of ft_add calls it replaces
// (tests/unit/test_face.c).
void ft_face__add_chain(const ft_map *const *t, int n, bool relu, ft_map *y);

// JS Math.round: floor(x + 0.5).
static inline double ft_face__js_round(double x)
{
    return __builtin_floor(x + 0.5);
}

#endif
