// The model's layout, shared by model.c and trainer.c only.
#ifndef FT_TRAIN_MODEL_INTERNAL_H
#define FT_TRAIN_MODEL_INTERNAL_H

#include "nn/train/grad.h"
#include "train/model.h"

typedef struct ft_fm_conv {
    ft_conv_geom g;
    bool dw;
    size_t w_off, b_off, nw;
} ft_fm_conv;

typedef struct ft_fm_dense {
    int32_t n_in, n_out;
    size_t w_off, b_off;
} ft_fm_dense;

// Per-sample activations and scratch.
typedef struct ft_fm_ws {
    float *block;
    float *act[FT_FM_CONVS + 1]; // act[0] = input, act[i+1] = output of conv i
    float *scratch;
    float *da[2]; // ping-pong activation gradients (backward only)
    float *feat;  // pooled features
    int32_t idx[FT_FM_FEATURES];
} ft_fm_ws;

struct ft_fmodel {
    ft_fm_conv conv[FT_FM_CONVS];
    ft_fm_dense d1c, d2c, d1b, d2b, did;
    size_t n_backbone, n_params;
    float *p;
    size_t n_ids;
    char **ids;
    ft_fm_ws *ws; // prediction workspace, made on first use
    bool flip;    // test-time flip averaging (ft_fmodel_set_flip)
};

void ft_fm__conv_name(int i, char *buf, size_t cap);
ft_status ft_fm__ws_new(const ft_fmodel *m, bool backward, ft_fm_ws **out);
void ft_fm__ws_free(ft_fm_ws *ws);
void ft_fm__input(const uint8_t *rgb, float *x);
void ft_fm__backbone_fwd(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws);
void ft_fm__backbone_fwd_range(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws, int lo,
                               int hi);
// Floats of ws->act[i] (the input of conv i).
size_t ft_fm__act_size(const ft_fmodel *m, int i);
void ft_fm__backbone_bwd(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws, int from,
                         float *g, size_t base);
// The same for convs top-1 down to from, dA of act[top] in ws->da[0].
void ft_fm__backbone_bwd_range(const ft_fmodel *m, const ft_grad_ops *ops, ft_fm_ws *ws, int from,
                               int top, float *g, size_t base);
// Prediction on one 120x120 RGB sample with m->ws (made by the caller),
// flip-averaged when m->flip.
void ft_fm__predict_rgb(ft_fmodel *m, const ft_grad_ops *ops, const uint8_t *rgb, ft_fm_pred *out);
void ft_fm__heads_one(const ft_fmodel *m, const float *feat, ft_fm_pred *out);

#endif
