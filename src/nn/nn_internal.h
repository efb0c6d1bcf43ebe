// Declarations shared by the files of src/nn (and its own tests and
// benchmarks); no other module includes this.
#ifndef FT_NN_NN_INTERNAL_H
#define FT_NN_NN_INTERNAL_H

#include "core/cpu.h"
#include "nn/kern/conv2d.h"
#include "nn/kern/dwconv2d.h"
#include "nn/kern/pgemm.h"
#include "nn/kern/pool2d.h"
#include "nn/nn.h"

// A prepared convolution (conv.c; sepconv.c reads it too).
struct ft_conv {
    ft_conv_desc d;
    float *w;    // packed GEMM panels (regular) or [kh][kw][c] (depthwise)
    float *bias; // [c_out rounded up to 32], zero when the layer has none
};

// The kernels one context runs: the dispatcher's choice by default.
typedef struct ft_nn_kernels {
    ft_kern_pgemm_fn pgemm;
    const char *pgemm_variant;
    ft_kern_dwconv2d_fn dwconv2d;
    const char *dwconv2d_variant;
    const char *level; // "avx512", "avx2" or "ref": the pgemm variant
    // Direct convolution for few input channels (kern/conv2d.h); NULL when
    // the level has none (then im2col + pgemm).
    ft_kern_dconv2d_fn dconv2d;
    const char *dconv2d_variant;
    // Max pooling (kern/pool2d.h); NULL in a table that names none: the
    // reference then.
    ft_kern_maxpool2d_fn maxpool2d;
    const char *maxpool2d_variant;
} ft_nn_kernels;

// The dispatched table (calls ft_nn_init). Never NULL; read-only.
const ft_nn_kernels *ft_nn__kernels(void);

// Rings (ft_mirror_alloc) a context keeps for its banded chains.
#define FT_NN_RINGS 32
#define FT_NN_RING_BYTES ((size_t)16 << 20) // all of them together

struct ft_nn_ctx {
    ft_pool *pool;
    int n_threads;
    ft_arena arena;
    float *scratch; // kernel workspace, grows to the largest request
    size_t scratch_bytes;
    const ft_nn_kernels *kern;
    struct {
        void *p;
        size_t bytes;
        int slot;
    } rings[FT_NN_RINGS];
    int n_rings;
    size_t ring_bytes;
    int64_t sep2_kept; // intermediate rows ft_sepconv2_forward_kept did not recompute (tests)
};

// Tests and benchmarks: run this context with another kernel table (which
// must outlive it); NULL restores the dispatched one.
void ft_nn__ctx_set_kernels(ft_nn_ctx *ctx, const ft_nn_kernels *k);

// A workspace of at least `bytes`, 64-byte aligned, valid until the next
// call; NULL when it had to grow and could not.
float *ft_nn__scratch(ft_nn_ctx *ctx, size_t bytes);

// Rows [row0, row0 + rows) of the im2col matrix of x for geometry g (row =
// output position, kh*kw*c_in patch in (ky, kx, ci) order, zero padding),
// written contiguously to buf.
void ft_nn__im2col(const ft_conv_geom *g, const float *x, int32_t row0, int32_t rows, float *buf);

#endif
