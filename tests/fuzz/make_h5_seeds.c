// Writes small Keras .h5 seeds for fuzz_h5 with our own writer
// (ft_h5_model_save), so the corpus holds whole, valid files of a few KB
// rather than the 50-130 KB fixtures: usage make_h5_seeds OUTDIR.
//   tiny_dense.h5  Input(4) -> Dense(3, relu)
//   tiny_conv.h5   Input(6, 6, 2) -> Conv2D(2, 3x3, same) -> BatchNorm ->
//                  ReLU(6) -> DepthwiseConv2D(2x2, stride 2) ->
//                  MaxPool(2) -> GlobalAvgPool -> Dense(2, softmax)
#include "model/graph.h"
#include "model/h5.h"

#include <stdio.h>
#include <string.h>

static float wbuf[4096];
static size_t wused;

static ft_gweight weight(const char *name, int32_t rank, int32_t d0, int32_t d1, int32_t d2,
                         int32_t d3)
{
    ft_gweight w;
    memset(&w, 0, sizeof w);
    w.name = (char *)name;
    w.rank = rank;
    int32_t d[4] = {d0, d1, d2, d3};
    w.n_elems = 1;
    for (int32_t i = 0; i < rank; i++) {
        w.shape[i] = d[i];
        w.n_elems *= (size_t)d[i];
    }
    w.data = wbuf + wused;
    for (size_t i = 0; i < w.n_elems; i++)
        w.data[i] = strcmp(name, "moving_variance") == 0 ? 1.0f : (float)((wused + i) % 7) * 0.1f;
    wused += w.n_elems;
    return w;
}

static int save(const char *dir, const char *file, ft_graph *g)
{
    char path[1024];
    ft_err err;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ft_status st = ft_h5_model_save(path, g, NULL, &err);
    if (st != FT_OK) {
        fprintf(stderr, "%s: %s\n", path, ft_err_msg(&err, st));
        return 1;
    }
    return 0;
}

#define MAXL 8

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_h5_seeds OUTDIR\n");
        return 2;
    }
    int bad = 0;
    ft_glayer L[MAXL];
    ft_gnode N[MAXL];
    ft_gref R[MAXL];
    ft_gweight W[MAXL][4];
    ft_gref gin = {0, 0, 0}, gout;
    ft_graph g;

    // Common layer defaults, chained: layer i takes layer i-1's output.
    memset(L, 0, sizeof L);
    for (int i = 0; i < MAXL; i++) {
        L[i].trainable = true;
        L[i].relu_max = -1;
        L[i].kernel[0] = L[i].kernel[1] = 1;
        L[i].strides[0] = L[i].strides[1] = 1;
        L[i].dilation[0] = L[i].dilation[1] = 1;
        L[i].depth_multiplier = 1;
        L[i].use_bias = true;
        L[i].center = L[i].scale = true;
        L[i].epsilon = 1e-3f;
        R[i] = (ft_gref){i - 1, 0, 0};
        N[i].n_inputs = i ? 1 : 0;
        N[i].inputs = i ? &R[i] : NULL;
        L[i].nodes = &N[i];
        L[i].n_nodes = 1;
        L[i].weights = W[i];
    }

    // tiny_dense
    L[0].name = "input_1", L[0].kind = FT_LAYER_INPUT, L[0].input_rank = 1;
    L[0].input_shape[0] = 4;
    L[1].name = "dense", L[1].kind = FT_LAYER_DENSE, L[1].units = 3;
    L[1].activation = FT_GACT_RELU;
    W[1][0] = weight("kernel", 2, 4, 3, 0, 0), W[1][1] = weight("bias", 1, 3, 0, 0, 0);
    L[1].n_weights = 2;
    memset(&g, 0, sizeof g);
    g.name = "tiny_dense", g.layers = L, g.n_layers = 2, g.inputs = &gin, g.n_inputs = 1;
    gout = (ft_gref){1, 0, 0}, g.outputs = &gout, g.n_outputs = 1;
    bad |= save(argv[1], "tiny_dense.h5", &g);

    // tiny_conv
    wused = 0;
    L[0].input_rank = 3, L[0].input_shape[0] = L[0].input_shape[1] = 6, L[0].input_shape[2] = 2;
    L[1].name = "conv", L[1].kind = FT_LAYER_CONV2D, L[1].units = 2;
    L[1].kernel[0] = L[1].kernel[1] = 3, L[1].padding = FT_GPAD_SAME;
    L[1].activation = FT_GACT_LINEAR;
    W[1][0] = weight("kernel", 4, 3, 3, 2, 2), W[1][1] = weight("bias", 1, 2, 0, 0, 0);
    L[2].name = "bn", L[2].kind = FT_LAYER_BATCHNORM;
    W[2][0] = weight("gamma", 1, 2, 0, 0, 0), W[2][1] = weight("beta", 1, 2, 0, 0, 0);
    W[2][2] = weight("moving_mean", 1, 2, 0, 0, 0);
    W[2][3] = weight("moving_variance", 1, 2, 0, 0, 0);
    L[2].n_weights = 4;
    L[3].name = "relu6", L[3].kind = FT_LAYER_RELU, L[3].relu_max = 6;
    L[4].name = "dw", L[4].kind = FT_LAYER_DWCONV2D, L[4].kernel[0] = L[4].kernel[1] = 2;
    L[4].strides[0] = L[4].strides[1] = 2, L[4].use_bias = false;
    W[4][0] = weight("depthwise_kernel", 4, 2, 2, 2, 1), L[4].n_weights = 1;
    L[5].name = "pool", L[5].kind = FT_LAYER_MAXPOOL2D, L[5].kernel[0] = L[5].kernel[1] = 2;
    L[5].strides[0] = L[5].strides[1] = 1;
    L[6].name = "gap", L[6].kind = FT_LAYER_GLOBAL_AVGPOOL2D;
    L[7].name = "head", L[7].kind = FT_LAYER_DENSE, L[7].units = 2;
    L[7].activation = FT_GACT_SOFTMAX;
    W[7][0] = weight("kernel", 2, 2, 2, 0, 0), W[7][1] = weight("bias", 1, 2, 0, 0, 0);
    L[7].n_weights = 2;
    g.name = "tiny_conv", g.n_layers = 8, gout = (ft_gref){7, 0, 0};
    bad |= save(argv[1], "tiny_conv.h5", &g);
    return bad;
}
