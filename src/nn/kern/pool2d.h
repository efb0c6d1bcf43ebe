// Max pooling, one image, padding ignored (taps outside the input are not
// candidates, as TF and ONNX define it):
//
//   y[oy, ox, c] = max over ky < kh, kx < kw of x[oy*s - pad_top + ky, ox*s - pad_left + kx, c]
//
// x: HWC [in_h][in_w][c]; y: HWC [out_h][out_w][c]; c = g->c_in = g->c_out.
// The maximum is taken in window order (ky, then kx) starting from -inf,
// one step being m = v > m ? v : m, so every variant gives the same bits,
// NaN and signed zeros included (a NaN tap never replaces m; of equal
// values the earlier one stays). A call computes output rows [oy0, oy1)
// only, so threads split rows; it writes only those rows, never allocates,
// and SIMD variants never read past a row's c channels (masked tails).
//
// Tolerance: none. Variants must match the reference bit for bit.
#ifndef FT_NN_KERN_POOL2D_H
#define FT_NN_KERN_POOL2D_H

#include "nn/nn.h"

typedef void (*ft_kern_maxpool2d_fn)(const ft_conv_geom *g, const float *x, float *y, int32_t oy0,
                                     int32_t oy1);

void ft_kern_maxpool2d_f32_ref(const ft_conv_geom *g, const float *x, float *y, int32_t oy0,
                               int32_t oy1);
void ft_kern_maxpool2d_f32_avx512(const ft_conv_geom *g, const float *x, float *y, int32_t oy0,
                                  int32_t oy1);

#endif
