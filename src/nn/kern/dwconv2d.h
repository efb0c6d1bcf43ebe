// Depthwise convolution (channel multiplier 1) with fused bias and
// activation, one image:
//
//   y[oy, ox, c] = act(sum_{ky,kx} x[oy*s - pad_top + ky, ox*s - pad_left + kx, c]
//                                   * w[ky, kx, c] + bias[c])
//
// x: HWC [in_h][in_w][c]; w: [kh][kw][c]; bias: [c] or NULL; y: HWC
// [out_h][out_w][c], c = g->c_in = g->c_out. Taps outside the input are
// skipped (zero padding). A call computes output rows [oy0, oy1) only, so
// threads split rows. Any kh, kw and stride; SIMD variants have a fast path
// for 3x3 and read up to FT_TENSOR_PAD bytes past x's end, never writing
// past y's rows.
//
// Tolerance: at most kh*kw terms, summed in a different order with FMA:
// within 1e-6 * kh*kw * max(1, |y_ref|) of the reference for |x|, |w| <= 1.
#ifndef FT_NN_KERN_DWCONV2D_H
#define FT_NN_KERN_DWCONV2D_H

#include "nn/nn.h"

typedef void (*ft_kern_dwconv2d_fn)(const ft_conv_geom *g, const float *x, const float *w,
                                    const float *bias, ft_act act, float *y, int32_t oy0,
                                    int32_t oy1);

void ft_kern_dwconv2d_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                              const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1);
void ft_kern_dwconv2d_f32_avx2(const ft_conv_geom *g, const float *x, const float *w,
                               const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1);
void ft_kern_dwconv2d_f32_avx512(const ft_conv_geom *g, const float *x, const float *w,
                                 const float *bias, ft_act act, float *y, int32_t oy0, int32_t oy1);

// The depthwise convolution of geometry g followed by a 2x2 stride-2 max
// pooling without padding, the depthwise output never written:
//
//   y[py, px, c] = max over dy, dx in {0, 1} of dw(x)[2py + dy, 2px + dx, c]
//
// with dw(x) as above (bias and activation included) and the taps taken as
// the max pooling kernels take them (kern/pool2d.h: m = -inf, then
// m = v > m ? v : m in the order (0,0), (0,1), (1,0), (1,1)). y: HWC
// [out_h / 2][out_w / 2][c]; a call computes pooled rows [py0, py1). Each
// variant gives the bits of its own dwconv2d variant followed by max
// pooling; the reference is the formula of both references.
typedef void (*ft_kern_dwconv2d_maxpool2_fn)(const ft_conv_geom *g, const float *x,
                                             const float *w, const float *bias, ft_act act,
                                             float *y, int32_t py0, int32_t py1);

void ft_kern_dwconv2d_maxpool2_f32_ref(const ft_conv_geom *g, const float *x, const float *w,
                                       const float *bias, ft_act act, float *y, int32_t py0,
                                       int32_t py1);
void ft_kern_dwconv2d_maxpool2_f32_avx512(const ft_conv_geom *g, const float *x, const float *w,
                                          const float *bias, ft_act act, float *y, int32_t py0,
                                          int32_t py1);

#endif
