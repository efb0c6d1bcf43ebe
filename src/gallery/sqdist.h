// The 1:N distance kernel: squared Euclidean distances from one query to
// n descriptor rows: a fixed 128-d kernel (face-api's length) and one for
// any length. A plain reference (sqdist_ref.c, the
// specification) and AVX2 / AVX-512 variants, picked at run time.
//
// Layout: rows is row-major [n, 128] float32, each row 512 bytes, 64-byte
// aligned (the matrix allocation); q is 128 floats (any alignment); out
// gets n floats and nothing past them is written. Variants may read up to
// FT_TENSOR_PAD bytes past the last row (never used).
//
// Tolerance: the reference accumulates in double; the variants in float
// with a different summation order. For descriptors of magnitude ~0.1-1
// (face-api's), a variant differs from the reference by at most
// 1e-5 * max(1, ref) (128 products, float epsilon 6e-8, generous slack).
#ifndef FT_GALLERY_SQDIST_H
#define FT_GALLERY_SQDIST_H

#include <stddef.h>

typedef void (*ft_sqdist_fn)(const float *rows, size_t n, const float *q, float *out);
// Any length: rows is [n, dim] with a row stride of dim floats (64-byte
// aligned rows only when dim is a multiple of 16; the variants load
// unaligned). Same tolerance rule, scaled by dim: a variant differs from
// the reference by at most 1e-7 * dim * max(1, ref).
typedef void (*ft_sqdist_dim_fn)(const float *rows, size_t n, size_t dim, const float *q,
                                 float *out);

void ft_kern_sqdist128_f32_ref(const float *rows, size_t n, const float *q, float *out);
void ft_kern_sqdist128_f32_avx2(const float *rows, size_t n, const float *q, float *out);
void ft_kern_sqdist128_f32_avx512(const float *rows, size_t n, const float *q, float *out);
void ft_kern_sqdist_f32_ref(const float *rows, size_t n, size_t dim, const float *q, float *out);
void ft_kern_sqdist_f32_avx2(const float *rows, size_t n, size_t dim, const float *q, float *out);

typedef struct ft_sqdist_variant {
    const char *name; // "ref", "avx2", "avx512"
    unsigned cpu;     // FT_CPU_* features it needs (0 = none)
    ft_sqdist_fn fn;  // dim 128
    ft_sqdist_dim_fn fn_dim; // any dim (avx512 reuses the avx2 one)
} ft_sqdist_variant;

// All variants, reference first (for tests and benchmarks; check cpu
// against ft_cpu_features() before calling one).
const ft_sqdist_variant *ft_sqdist_variants(size_t *n);

// The best variant that ft_cpu_features_allowed() permits (FT_KERNELS=ref
// forces the reference).
const ft_sqdist_variant *ft_sqdist_best(void);

#endif
