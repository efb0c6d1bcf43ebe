// Regular 2-D convolution, one image, with fused bias and activation:
//
//   y[oy, ox, co] = act(sum_{ky,kx,ci} x[oy*s - pad_top + ky, ox*s - pad_left + kx, ci]
//                                      * w[ky, kx, ci, co] + bias[co])
//
// x: HWC [in_h][in_w][c_in]; w: HWIO [kh][kw][c_in][c_out]; bias [c_out] or
// NULL; y: HWC [out_h][out_w][c_out]. Taps outside the input are skipped.
//
// Only the reference exists as a kernel: it is the specification. The fast
// path (src/nn/conv.c) lowers the convolution to the GEMM kernels (pgemm.h)
// through im2col, so its tolerance is the GEMM's with k = kh*kw*c_in.
#ifndef FT_NN_KERN_CONV2D_H
#define FT_NN_KERN_CONV2D_H

#include "nn/nn.h"

void ft_kern_conv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                            const float *bias, ft_act act, float *y);

#endif
