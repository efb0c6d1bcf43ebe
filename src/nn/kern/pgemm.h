// Packed GEMM ("pgemm"): GEMM on pre-packed weights with a fused bias +
// activation epilogue; the work-horse behind 1x1 (pointwise) convolutions,
// im2col'd k x k convolutions and dense layers.
//
//   C[i, j] = act(sum_k A[i, k] * B[k, j] + bias[j])
//
// Layouts: A is row-major [m][k] with row stride `lda` floats (for a 1x1
// conv: the HWC input map, m = h*w, k = c_in). C is row-major [m][n] with row
// stride `ldc`. B ([k][n], i.e. HWIO weights seen as a k x n matrix) is
// packed once, at layer creation, by ft_kern_pgemm_pack_b into column panels
// of FT_PGEMM_NR = 32 columns:
//
//   bp[(j / 32) * k * 32 + kk * 32 + (j % 32)] = B[kk, j]
//
// with the last panel zero-padded to 32 columns. Every variant reads this
// one layout (AVX-512 as 2 zmm per row, AVX2 as two 16-column halves), so a
// layer packs its weights once whatever variant runs it.
//
// A kernel call computes the sub-block rows [m0, m1) x columns [n0, n1) of
// C; n0 must be a multiple of 32 (a panel boundary). Threads call it on
// disjoint blocks. It reads A, bp and bias, writes only those C elements,
// and never allocates. SIMD variants may read up to FT_TENSOR_PAD bytes past
// the end of A's last row (never write).
//
// Tolerance: variants reorder the k-sum and use FMA; against the reference
// (double accumulation) with inputs of magnitude <= 1 they agree within
// 1e-5 * sqrt(k) * max(1, |C_ref|) before the activation.
#ifndef FT_NN_KERN_PGEMM_H
#define FT_NN_KERN_PGEMM_H

#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

#define FT_PGEMM_NR 32

typedef struct ft_pgemm_args {
    int32_t m, n, k;
    const float *a;
    size_t lda;
    const float *bp;   // packed B, see above
    const float *bias; // [n] or NULL
    float *c;
    size_t ldc;
    ft_act act;
} ft_pgemm_args;

typedef void (*ft_kern_pgemm_fn)(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0,
                                 int32_t n1);

// Floats in the packed form of a k x n matrix (0 on overflow).
size_t ft_kern_pgemm_packed_count(int32_t k, int32_t n);
// Packs B ([k][n], row stride ldb) into bp (ft_kern_pgemm_packed_count floats).
void ft_kern_pgemm_pack_b(int32_t k, int32_t n, const float *b, size_t ldb, float *bp);

void ft_kern_pgemm_f32_ref(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0, int32_t n1);
void ft_kern_pgemm_f32_avx2(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0, int32_t n1);
void ft_kern_pgemm_f32_avx512(const ft_pgemm_args *g, int32_t m0, int32_t m1, int32_t n0,
                              int32_t n1);

#endif
