// The portable "generic" fast training kernels (baseline ISA): the bodies
// in grad_fast.inc under the _generic suffix.
#include "nn/train/grad.h"
#include "nn/train/grad_internal.h"

#define FT_FAST_NAME(op) ft_kern_##op##_f32_generic
#include "nn/train/grad_fast.inc"
