// Regular 2-D convolution, one image, with fused bias and activation:
//
//   y[oy, ox, co] = act(sum_{ky,kx,ci} x[oy*s - pad_top + ky, ox*s - pad_left + kx, ci]
//                                      * w[ky, kx, ci, co] + bias[co])
//
// x: HWC [in_h][in_w][c_in]; w: HWIO [kh][kw][c_in][c_out]; bias [c_out] or
// NULL; y: HWC [out_h][out_w][c_out]. Taps outside the input are skipped.
//
// ft_kern_conv2d_f32_ref (HWIO weights) is the specification. The fast
// path (src/nn/conv.c) lowers the convolution to the GEMM kernels (pgemm.h)
// through im2col, so its tolerance is the GEMM's with k = kh*kw*c_in.
//
// Direct convolution ("dconv2d") for layers with few input channels (the
// 3-channel first layers): the same sum on the weights packed for the GEMM
// (pgemm.h panels of a k x c_out matrix, k = kh*kw*c_in, rows in (ky, kx,
// ci) order, the form ft_conv_new keeps), reading each output pixel's patch
// straight from x instead of an im2col copy: for one output row and one
// kernel row ky, the kw*c_in taps of consecutive output pixels are
// contiguous runs stride*c_in floats apart. A call computes output rows
// [oy0, oy1), all c_out columns; threads split rows. It reads x, bp and
// bias, writes only those rows of y, never reads past x's rows and never
// allocates. Variants take geometries with either c_in <=
// FT_DCONV_RUNS_MAX_CIN, kh <= FT_DCONV_MAX_KH and kh*kw*c_in <=
// FT_DCONV_MAX_K (the few-channel layers), or c_in <= FT_DCONV_MAX_CIN and
// kh*kw <= FT_DCONV_MAX_TAPS (an implicit GEMM: each tap's c_in floats read
// in place; the ResNet's 3x3 layers); others go through im2col.
// Tolerance: the GEMM's (pgemm.h) with k = kh*kw*c_in. A SIMD variant
// forms its level's GEMM's sums in the same order (its K chunks included),
// so it gives the same bits as im2col + that GEMM (nn.dconv_gemm_bits).
#ifndef FT_NN_KERN_CONV2D_H
#define FT_NN_KERN_CONV2D_H

#include "nn/nn.h"

#define FT_DCONV_MAX_KH 8
#define FT_DCONV_MAX_K 256
#define FT_DCONV_RUNS_MAX_CIN 4
#define FT_DCONV_MAX_CIN 2048
#define FT_DCONV_MAX_TAPS 9
// Output rows at least this wide on a geometry without padding (every tap
// inside x) run faster, as row tiles (conv.c pads a copy for them).
#define FT_DCONV_ROWS_MIN_W 16

void ft_kern_conv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                            const float *bias, ft_act act, float *y);

typedef void (*ft_kern_dconv2d_fn)(const ft_conv_geom *g, const float *x, const float *bp,
                                   const float *bias, ft_act act, float *y, int32_t oy0,
                                   int32_t oy1);

void ft_kern_dconv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *bp,
                             const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1);
void ft_kern_dconv2d_f32_avx512(const ft_conv_geom *g, const float *x, const float *bp,
                                const float *bias, ft_act act, float *y, int32_t oy0,
                                int32_t oy1);

#endif
