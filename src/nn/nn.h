// The inference engine's public contract: activation maps, layer
// descriptions, prepared layers and the per-inference context. The face
// pipeline (src/face) builds networks from these calls; it never touches
// kernels directly.
//
// Layout: every activation is one image, NHWC with N = 1, i.e. HWC float32,
// element (y, x, c) at (y*w + x)*c_count + c. Weights arrive in TF/tfjs
// layouts: conv HWIO [kh][kw][cin][cout], depthwise [kh][kw][c], dense
// [in][out]. Padding follows TensorFlow's SAME/VALID rule (see
// ../shared/docs/faceapi-models.md §3.1: SAME on even sizes with stride 2
// pads 0 before and 1 after).
#ifndef FT_NN_NN_H
#define FT_NN_NN_H

#include "core/arena.h"
#include "core/pool.h"
#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ft_act {
    FT_ACT_NONE = 0,
    FT_ACT_RELU,
    FT_ACT_RELU6,
    FT_ACT_LEAKY, // x >= 0 ? x : 0.1*x (tiny face detector)
    FT_ACT_SIGMOID,
} ft_act;

typedef enum ft_pad {
    FT_PAD_SAME = 0,
    FT_PAD_VALID,
} ft_pad;

// A view of one HWC activation map. `d` is borrowed (usually arena memory).
typedef struct ft_map {
    int32_t h, w, c;
    float *d;
} ft_map;

static inline size_t ft_map_count(const ft_map *m)
{
    return (size_t)m->h * (size_t)m->w * (size_t)m->c;
}

// Geometry of one convolution or pooling window over an input.
typedef struct ft_conv_geom {
    int32_t in_h, in_w, c_in;
    int32_t out_h, out_w, c_out;
    int32_t kh, kw, stride;
    int32_t pad_top, pad_left; // bottom/right padding is implied by the sizes
} ft_conv_geom;

// Fills `g` with TF's output size and padding for the given window.
// FT_E_INVALID when the output would be empty or a size is not positive.
ft_status ft_conv_geom_make(int32_t in_h, int32_t in_w, int32_t c_in, int32_t c_out, int32_t kh,
                            int32_t kw, int32_t stride, ft_pad pad, ft_conv_geom *g);

// ---- Execution context ----

// One per inference thread: a thread pool for intra-op parallelism and a
// scratch arena for kernel workspaces (im2col, packing). Not thread-safe:
// two threads never share one context. Prepared layers are read-only and
// may be shared by any number of contexts.
typedef struct ft_nn_ctx ft_nn_ctx;

// n_threads <= 0: one per core.
ft_status ft_nn_ctx_new(int n_threads, ft_nn_ctx **out);
void ft_nn_ctx_free(ft_nn_ctx *ctx);
ft_pool *ft_nn_ctx_pool(ft_nn_ctx *ctx);
int ft_nn_ctx_threads(const ft_nn_ctx *ctx);
// The activation arena callers allocate their maps from; reset it at the
// start of each inference.
ft_arena *ft_nn_ctx_arena(ft_nn_ctx *ctx);

// n rings (ft_mirror_alloc in core/mem.h), ring i of exactly bytes[i] (a
// whole number of pages), in out[i]: the same rings as the last call with
// the same sizes, as the context keeps its rings until it is freed (it
// drops them all when new ones would pass 32 rings or 16 MB, never one
// that this call returns). Their contents are whatever was last
// written. False when they cannot be had; the caller then works in plain
// memory.
bool ft_nn_ctx_rings(ft_nn_ctx *ctx, int n, const size_t *bytes, void **out);

// ---- Prepared layers ----

// A regular or depthwise convolution with an optional per-output-channel
// bias and an activation fused at the end: y = act(conv(x, w) + bias).
typedef struct ft_conv_desc {
    int32_t kh, kw, c_in, c_out; // depthwise: c_in == c_out
    int32_t stride;
    ft_pad pad;
    bool depthwise;
    ft_act act;
} ft_conv_desc;

typedef struct ft_conv ft_conv;

// Copies (and, for fast kernels, repacks) the weights; `w` is HWIO for a
// regular conv and [kh][kw][c] for a depthwise one, `bias` may be NULL.
ft_status ft_conv_new(const ft_conv_desc *d, const float *w, const float *bias, ft_conv **out);
void ft_conv_free(ft_conv *c);
const ft_conv_desc *ft_conv_get_desc(const ft_conv *c);

// Output shape for an input of in_h x in_w (FT_E_INVALID if empty).
ft_status ft_conv_out_shape(const ft_conv *c, int32_t in_h, int32_t in_w, int32_t *out_h,
                            int32_t *out_w);

// Runs the layer. `y` must have the shape given by ft_conv_out_shape and
// must not alias `x`. Uses the context's pool and scratch; allocates only
// the first time a larger workspace is needed.
//
// Top rows only (here and in the two calls below): a `y` with fewer rows
// than the output shape (1 <= y->h) receives the first y->h output rows of
// the full map, bit for bit, and only the input rows those rows read are
// touched (padding as for the whole map).
ft_status ft_conv_forward(ft_nn_ctx *ctx, const ft_conv *c, const ft_map *x, ft_map *y);

// The layer with explicit zero padding instead of its own `pad`: output
// row r, column q (y's size, the caller's choice) reads input rows
// r*stride - pad_top + ky and columns q*stride - pad_left + kx, taps
// outside x being zeros (ONNX's asymmetric or stride-2 "pads", without
// copying the input into a padded map). Same kernels and sums as the
// layer on a zero-padded copy of x with VALID padding. FT_E_INVALID unless
// 0 <= pad_top < kh, 0 <= pad_left < kw and every output row and column
// reads at least one input row and column.
ft_status ft_conv_forward_pad(ft_nn_ctx *ctx, const ft_conv *c, const ft_map *x, int32_t pad_top,
                              int32_t pad_left, ft_map *y);

// A depthwise-separable pair run as one layer: y = pw(dw(x)), where `dw` is
// a depthwise convolution and `pw` a 1x1 stride-1 regular convolution with
// pw.c_in == dw.c_out. The depthwise output is computed a band of rows at a
// time into a cache-resident workspace and fed straight to the GEMM, so it
// never goes to memory; threads split the output rows. Same outputs as
// ft_conv_forward(dw) then ft_conv_forward(pw) on the same kernels (each
// element is summed in the same order). `y` has pw's channels and dw's
// output size and must not alias `x`. FT_E_INVALID for any other pair.
ft_status ft_sepconv_forward(ft_nn_ctx *ctx, const ft_conv *dw, const ft_conv *pw, const ft_map *x,
                             ft_map *y);

// The pair on a band of a taller map: x holds rows [x_row0, x_row0 + x->h)
// of an input of in_h rows (x's width and channels) and y receives output
// rows [y_row0, y_row0 + y->h) of the pair run on that whole input, bit for
// bit: the layers' own padding applies at the whole map's edges only, so a
// banded caller computes exactly the rows it wants, none above them from a
// false top edge. Only the input rows those output rows read are touched;
// FT_E_INVALID unless they all lie in x (or for the cases above).
// ft_sepconv_forward is the band x_row0 = 0, in_h = x->h, y_row0 = 0.
ft_status ft_sepconv_forward_rows(ft_nn_ctx *ctx, const ft_conv *dw, const ft_conv *pw,
                                  const ft_map *x, int32_t x_row0, int32_t in_h, int32_t y_row0,
                                  ft_map *y);

// Two depthwise-separable pairs in a chain: y = pw2(dw2(pw1(dw1(x)))), each
// pair as for ft_sepconv_forward. The intermediate map pw1(dw1(x)) is never
// stored whole: each thread keeps a few of its rows in a cache-resident ring
// (recomputing the rows two threads share), so on large maps neither it nor
// the depthwise outputs go to memory. Same outputs as two ft_sepconv_forward
// calls on the same kernels, bit for bit. FT_E_INVALID unless both pairs are
// valid and chain (dw2.c_in == pw1.c_out).
ft_status ft_sepconv2_forward(ft_nn_ctx *ctx, const ft_conv *dw1, const ft_conv *pw1,
                              const ft_conv *dw2, const ft_conv *pw2, const ft_map *x, ft_map *y);
// The chain on a band of a taller map, as ft_sepconv_forward_rows: the
// intermediate map's padding, too, is at the whole map's edges only.
ft_status ft_sepconv2_forward_rows(ft_nn_ctx *ctx, const ft_conv *dw1, const ft_conv *pw1,
                                   const ft_conv *dw2, const ft_conv *pw2, const ft_map *x,
                                   int32_t x_row0, int32_t in_h, int32_t y_row0, ft_map *y);

// Intermediate rows kept from one call of ft_sepconv2_forward_kept to the
// next on the bands of one map, run from the bottom band up (a banded chain
// of the ONNX engine): `ring` holds n rows of the intermediate map
// pw1(dw1(x)) (its width times pw1's channels), row r at row r mod n, any n
// consecutive rows readable and writable as contiguous memory
// (ft_mirror_alloc); [lo, hi) are the rows it holds (lo == hi: none, as
// before the first band).
typedef struct ft_sep2_keep {
    float *ring;
    int32_t n;
    int32_t lo, hi;
} ft_sep2_keep;
// ft_sepconv2_forward_rows with such a ring: when the context runs one
// thread and the ring has room for every intermediate row the band reads,
// those rows live in the ring and the ones it holds from the call on the
// band below are not computed again (dw2's halo rows: without the ring, a
// chain in bands of two rows computes each intermediate row twice); else
// the call runs as ft_sepconv2_forward_rows and the ring holds nothing
// after it. The caller must give the same layers and input map on every
// band of the map, and the ring to no one else in between. Same bits.
ft_status ft_sepconv2_forward_kept(ft_nn_ctx *ctx, const ft_conv *dw1, const ft_conv *pw1,
                                   const ft_conv *dw2, const ft_conv *pw2, const ft_map *x,
                                   int32_t x_row0, int32_t in_h, int32_t y_row0, ft_map *y,
                                   ft_sep2_keep *keep);

// A depthwise convolution followed by a 2x2 stride-2 max pooling without
// padding, y = maxpool(dw(x)), the convolution's output never stored: on a
// band of a taller map as ft_sepconv_forward_rows (x holds input rows
// [x_row0, x_row0 + x->h) of a map of in_h rows; y receives pooled rows
// [y_row0, y_row0 + y->h), of dw's output size halved, rounded down). Same
// bits as ft_conv_forward(dw) then ft_maxpool(2, 2, VALID) on the same
// kernels. FT_E_UNSUPPORTED where the context's depthwise kernel has no such
// variant (the caller then runs the two layers); FT_E_INVALID if dw is not
// depthwise or the rows read are not all in x.
ft_status ft_dwconv_maxpool2_forward_rows(ft_nn_ctx *ctx, const ft_conv *dw, const ft_map *x,
                                          int32_t x_row0, int32_t in_h, int32_t y_row0,
                                          ft_map *y);

// A fully connected layer: y[o] = sum_i x[i] * w[i*n_out + o] (+ bias[o]).
typedef struct ft_dense ft_dense;
ft_status ft_dense_new(int32_t n_in, int32_t n_out, const float *w, const float *bias, ft_act act,
                       ft_dense **out);
void ft_dense_free(ft_dense *d);
void ft_dense_forward(ft_nn_ctx *ctx, const ft_dense *d, const float *x, float *y);

// ---- Stateless operators (reference speed is enough for these) ----

// Max pooling k x k, stride s; padding positions are ignored (as -inf).
ft_status ft_maxpool(ft_nn_ctx *ctx, const ft_map *x, int32_t k, int32_t s, ft_pad pad, ft_map *y);
// Average pooling k x k, stride s, VALID.
ft_status ft_avgpool(ft_nn_ctx *ctx, const ft_map *x, int32_t k, int32_t s, ft_map *y);
// Mean over all positions: y[c].
void ft_global_avgpool(const ft_map *x, float *y);
// Max over all positions: y[c].
void ft_global_maxpool(const ft_map *x, float *y);
// y = act(a + b), same shapes; y may alias a or b.
void ft_add(ft_nn_ctx *ctx, const ft_map *a, const ft_map *b, ft_act act, ft_map *y);
// In-place activation.
void ft_activate(ft_nn_ctx *ctx, ft_map *x, ft_act act);

// TF1 legacy bilinear resize (align_corners = false, half_pixel_centers =
// false) of an interleaved uint8 image region to a float map, computed in
// double and rounded once: faceapi-models.md §3.4. `src` points at the
// region's first pixel, `stride` is bytes per source row, `c` channels.
void ft_resize_bilinear_u8(const uint8_t *src, int32_t src_h, int32_t src_w, size_t stride,
                           int32_t c, ft_map *y);
// The same rule on a float map.
void ft_resize_bilinear_f32(const ft_map *x, ft_map *y);

// Initialises kernel dispatch (idempotent, thread-safe); returns the
// variant level in use ("avx512", "avx2" or "ref").
const char *ft_nn_init(void);

#endif
