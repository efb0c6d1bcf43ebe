// Scalar activation functions shared by the reference kernels, the layer
// code and the scalar tails of the SIMD kernels. Header-only: every variant
// must apply exactly these formulas so activations agree to the last bit.
#ifndef FT_NN_KERN_ACT_H
#define FT_NN_KERN_ACT_H

#include "nn/nn.h"

#include <math.h>

// y = act(v). Leaky ReLU is written the way face-api computes it
// (m = 0.1x; max(x - m, 0) + m), which matters only for the last bit;
// sigmoid is evaluated in double and rounded once (faceapi-models.md §10).
static inline float ft_act_apply(float v, ft_act act)
{
    switch (act) {
    case FT_ACT_NONE:
        return v;
    case FT_ACT_RELU:
        return v > 0.0f ? v : 0.0f;
    case FT_ACT_RELU6:
        return v > 6.0f ? 6.0f : (v > 0.0f ? v : 0.0f);
    case FT_ACT_LEAKY: {
        float m = v * 0.1f;
        float r = v - m;
        return (r > 0.0f ? r : 0.0f) + m;
    }
    case FT_ACT_SIGMOID:
        return (float)(1.0 / (1.0 + exp(-(double)v)));
    }
    return v;
}

#endif
