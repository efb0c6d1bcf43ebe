// What training adds to the engine: forward and backward kernels for the
// operators the facetracker training model uses (regular, depthwise and
// pointwise convolution, bias + ReLU/ReLU6/sigmoid, global max pooling,
// dense layers), the losses, and the Adam optimiser.
//
// Layouts follow nn.h: one image per call, HWC float; conv weights HWIO
// [kh][kw][cin][cout], depthwise [kh][kw][c], dense [in][out]. Geometry
// (sizes, stride, TF SAME/VALID padding) comes in an ft_conv_geom.
//
// Every operator has a reference kernel written as plain loops (the
// specification), generated for float and for double from one body
// (grad_ref.inc) so that tests can check each backward pass against central
// differences of the double forward. Fast variants (float only) exist where
// the time goes: the GEMM behind pointwise convolutions and im2col
// convolutions, and the depthwise convolution. ft_grad_ops() picks the best
// variant once; FT_KERNELS=ref forces the reference ones.
//
// Conventions of every backward kernel: `dy` is the gradient of the loss
// with respect to the output; `dx` (may be NULL when not needed) is
// *overwritten* with the gradient with respect to the input; weight and
// bias gradients are *accumulated* (+=) so a batch sums naturally.
// Kernels never allocate: scratch is passed in, sized by the _scratch
// functions. All kernels are pure functions of their arguments.
#ifndef FT_NN_TRAIN_GRAD_H
#define FT_NN_TRAIN_GRAD_H

#include "core/status.h"
#include "nn/nn.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// TF's SAME/VALID rule (faceapi-models.md §3.1) without depending on the
// engine's implementation. FT_E_INVALID when a size is not positive or the
// output would be empty.
ft_status ft_grad_geom(int32_t in_h, int32_t in_w, int32_t c_in, int32_t c_out, int32_t kh,
                       int32_t kw, int32_t stride, ft_pad pad, ft_conv_geom *g);

// ---- Reference kernels (float and double, same body) ----

#define FT_GRAD_REF_DECL(T, S)                                                                    \
    /* y[oy,ox,co] = sum_{ky,kx,ci} x[iy,ix,ci] * w[ky,kx,ci,co] (taps outside skipped) */       \
    void ft_kern_conv2d_fwd_##S##_ref(const ft_conv_geom *g, const T *x, const T *w, T *y);       \
    void ft_kern_conv2d_bwd_##S##_ref(const ft_conv_geom *g, const T *x, const T *w, const T *dy, \
                                      T *dx, T *dw);                                              \
    /* depthwise: c_in == c_out == c, w [kh][kw][c] */                                            \
    void ft_kern_dwconv2d_fwd_##S##_ref(const ft_conv_geom *g, const T *x, const T *w, T *y);     \
    void ft_kern_dwconv2d_bwd_##S##_ref(const ft_conv_geom *g, const T *x, const T *w,            \
                                        const T *dy, T *dx, T *dw);                               \
    /* y[p,c] = act(y[p,c] + b[c]) in place over n_pos positions of c channels. */                \
    void ft_kern_bias_act_fwd_##S##_ref(size_t n_pos, int32_t c, const T *b, ft_act act, T *y);   \
    /* From the activated output y: dy *= act'(y) in place, db[c] += sum_p dy. */                 \
    void ft_kern_bias_act_bwd_##S##_ref(size_t n_pos, int32_t c, ft_act act, const T *y, T *dy,   \
                                        T *db);                                                   \
    /* y[c] = max_p x[p,c]; idx[c] = first p reaching it. */                                      \
    void ft_kern_gmaxpool_fwd_##S##_ref(size_t n_pos, int32_t c, const T *x, T *y,                \
                                        int32_t *idx);                                            \
    /* dx = 0 except dx[idx[c], c] = dy[c]. */                                                    \
    void ft_kern_gmaxpool_bwd_##S##_ref(size_t n_pos, int32_t c, const int32_t *idx, const T *dy, \
                                        T *dx);                                                   \
    /* y[o] = act(sum_i x[i] w[i,o] + b[o]) */                                                    \
    void ft_kern_dense_fwd_##S##_ref(int32_t n_in, int32_t n_out, const T *x, const T *w,         \
                                     const T *b, ft_act act, T *y);                               \
    /* dy_pre = dy*act'(y) (dy is overwritten with it); dx = w dy_pre; dw += x dy_pre^T; db +=. */ \
    void ft_kern_dense_bwd_##S##_ref(int32_t n_in, int32_t n_out, const T *x, const T *w,         \
                                     const T *y, ft_act act, T *dy, T *dx, T *dw, T *db);         \
    /* C[m,n] = beta*C[m,n] + sum_k A[m,k] B[k,n]; row-major, leading dims = widths. */           \
    void ft_kern_gemm_##S##_ref(int32_t m, int32_t n, int32_t k, const T *a, const T *b, T beta,  \
                                T *c);

FT_GRAD_REF_DECL(float, f32)
FT_GRAD_REF_DECL(double, f64)

// ---- Losses (double arithmetic, float in/out) ----
//
// Face / no face: the model's class output is a sigmoid; the loss is binary
// cross-entropy computed from the logit z in the stable form
// max(z,0) - z*t + log(1 + exp(-|z|)) (Keras computes it from the
// probability clipped to [1e-7, 1-1e-7]; the two agree except when the
// sigmoid saturates). Returns the loss, writes dL/dz.
double ft_loss_bce_logit(float z, float t, float *dz);
double ft_loss_bce_logit_f64(double z, double t, double *dz);

// The prototype's localisation loss for one sample, on sigmoid outputs
// p = (x1, y1, x2, y2) and target t:
//   (p.x1-t.x1)^2 + (p.y1-t.y1)^2 + ((p.x2-p.x1)-(t.x2-t.x1))^2 + ((p.y2-p.y1)-(t.y2-t.y1))^2
// Writes dL/dp.
double ft_loss_box(const float p[4], const float t[4], float dp[4]);
double ft_loss_box_f64(const double p[4], const double t[4], double dp[4]);

// Box losses by name: the prototype's (above) or one of the IoU-based
// losses on corner boxes p = (x1, y1, x2, y2), target t (x2 > x1, y2 > y1):
//   giou: 1 - IoU + (C - U) / C          (C: enclosing box area, U: union)
//   diou: 1 - IoU + rho^2 / c^2          (rho: centre distance, c: enclosing diagonal)
//   ciou: diou + alpha v, v = 4/pi^2 (atan(wt/ht) - atan(wp/hp))^2,
//         alpha = v / (1 - IoU + v)      (alpha differentiated too, so dp is the
//                                         exact gradient; torchvision holds it constant)
// A prediction with x2 < x1 (or y2 < y1) counts as zero width (height) and
// adds (x1 - x2)^2 (or (y1 - y2)^2): an inverted box inside the target
// would otherwise get no gradient at all (the model's boxes start near
// x1 = x2 = 0.5, half of them inverted). Reference in
// ref/loss_iou_ref.c (double, exact gradient; checked against central
// differences and known values in train.grad_box_iou). Writes dL/dp.
typedef enum ft_box_loss {
    FT_BOX_LOSS_PROTOTYPE,
    FT_BOX_LOSS_GIOU,
    FT_BOX_LOSS_DIOU,
    FT_BOX_LOSS_CIOU,
} ft_box_loss;
double ft_loss_box_iou(ft_box_loss kind, const float p[4], const float t[4], float dp[4]);
double ft_loss_box_iou_f64(ft_box_loss kind, const double p[4], const double t[4], double dp[4]);
// "prototype", "giou", "diou", "ciou".
const char *ft_box_loss_name(ft_box_loss k);
ft_status ft_box_loss_parse(const char *s, ft_box_loss *out);

// Softmax cross-entropy over n logits z for the class `target`: returns
// -log softmax(z)[target], writes prob (may be NULL) and dL/dz.
double ft_loss_softmax_ce(int32_t n, const float *z, int32_t target, float *prob, float *dz);
double ft_loss_softmax_ce_f64(int32_t n, const double *z, int32_t target, double *prob,
                              double *dz);

static inline float ft_sigmoidf(float z)
{
    // exp of a negative argument only: no overflow for any z.
    if (z >= 0.0f) {
        float e = expf(-z);
        return 1.0f / (1.0f + e);
    }
    float e = expf(z);
    return e / (1.0f + e);
}

// ---- Adam ----
//
// PyTorch's Adam (torch.optim.Adam, amsgrad off, no weight decay), which is
// also Keras's update up to where epsilon enters:
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
// with t counted from 1. The learning rate of step t (from 1) under the
// prototype's Keras "decay" (inverse time) is lr0 / (1 + decay*(t-1)).
typedef struct ft_adam_opts {
    double lr, beta1, beta2, eps, decay;
} ft_adam_opts;

// lr 1e-4, betas 0.9/0.999, eps 1e-7 (Keras's default), decay 0.
ft_adam_opts ft_adam_opts_default(void);
double ft_adam_lr(const ft_adam_opts *o, int64_t t);
// One update of n parameters at step t (>= 1); m and v start at zero.
void ft_kern_adam_f32_ref(size_t n, const ft_adam_opts *o, int64_t t, const float *g, float *w,
                          float *m, float *v);

// ---- Dispatched float kernels ----

typedef struct ft_grad_ops {
    const char *name; // "avx512", "generic" or "ref"
    void (*gemm)(int32_t m, int32_t n, int32_t k, const float *a, const float *b, float beta,
                 float *c);
    void (*dwconv2d_fwd)(const ft_conv_geom *g, const float *x, const float *w, float *y);
    void (*dwconv2d_bwd)(const ft_conv_geom *g, const float *x, const float *w, const float *dy,
                         float *dx, float *dw);
} ft_grad_ops;

// The best variant allowed on this CPU (ft_cpu_features_allowed), chosen
// once; thread-safe. ft_grad_ops_ref() always returns the references.
const ft_grad_ops *ft_grad_ops_get(void);
const ft_grad_ops *ft_grad_ops_ref(void);
// All variants built into this binary and runnable here (for tests and
// benchmarks); *n receives the count.
const ft_grad_ops *const *ft_grad_ops_all(size_t *n);

// Convolutions through the dispatched kernels. Regular convs with a
// kernel bigger than 1x1 go through im2col, 1x1 stride-1 ones straight to
// the GEMM. `scratch` must hold ft_grad_conv_scratch(g, depthwise) floats.
size_t ft_grad_conv_scratch(const ft_conv_geom *g, bool depthwise);
void ft_grad_conv_fwd(const ft_grad_ops *ops, const ft_conv_geom *g, bool depthwise,
                      const float *x, const float *w, float *y, float *scratch);
// dx may be NULL (first layer). dw is accumulated.
void ft_grad_conv_bwd(const ft_grad_ops *ops, const ft_conv_geom *g, bool depthwise,
                      const float *x, const float *w, const float *dy, float *dx, float *dw,
                      float *scratch);

#endif
