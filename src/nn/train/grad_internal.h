// Declarations shared by the files of src/nn/train only.
#ifndef FT_NN_TRAIN_GRAD_INTERNAL_H
#define FT_NN_TRAIN_GRAD_INTERNAL_H

#include "nn/train/grad.h"

#define FT_GRAD_FAST_DECL(V)                                                                      \
    void ft_kern_dwconv2d_fwd_f32_##V(const ft_conv_geom *g, const float *x, const float *w,      \
                                      float *y);                                                  \
    void ft_kern_dwconv2d_bwd_f32_##V(const ft_conv_geom *g, const float *x, const float *w,      \
                                      const float *dy, float *dx, float *dw);                     \
    void ft_kern_gemm_f32_##V(int32_t m, int32_t n, int32_t k, const float *a, const float *b,    \
                              float beta, float *c);

FT_GRAD_FAST_DECL(generic)
#if defined(__x86_64__)
FT_GRAD_FAST_DECL(avx512)
#endif

#endif
