// The int8 distance kernel of the quantised 1:N index (match_i8.c): exact
// integer squared Euclidean distances from one int8 query to int8 rows. A
// plain reference (sqdist_i8_ref.c, the specification), an AVX2 variant and
// an AVX-512 VNNI variant, picked at run time.
//
// Layout "16 rows x 4 codes": rows come in blocks of 16 (the last block
// padded with zero rows), each row `dim4` codes long (dim4 a multiple of 4;
// the padding codes are zero). Inside a block the codes are grouped by four
// dimensions, so one 64-byte line holds dimensions 4g..4g+3 of all 16 rows:
//
//   codes[((b * (dim4 / 4) + g) * 16 + j) * 4 + t] = code of row 16b + j,
//                                                   dimension 4g + t
//
// This is the layout VNNI's vpdpbusd consumes directly (a 4-byte dot
// product per 32-bit lane, one lane per row), so no horizontal sums are
// needed. codes is 64-byte aligned. Codes are in [-127, 127] (never -128:
// the AVX2 variant negates them).
//
// norm[i] = sum over k of code(i, k)^2 for every row of every block
// (padding rows: 0). q has dim4 codes in [-127, 127], any alignment.
// out gets 16 * n_blocks values:
//
//   out[i] = sum over k < dim4 of (q[k] - code(i, k))^2
//
// Exact: every variant must equal the reference bit for bit. No overflow
// while dim4 <= FT_SQDIST_I8_MAX_DIM (254^2 * 32768 < 2^31).
#ifndef FT_GALLERY_SQDIST_I8_H
#define FT_GALLERY_SQDIST_I8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_SQDIST_I8_ROWS 16       // rows per block
#define FT_SQDIST_I8_MAX_DIM 32768 // longest row the integer sums allow

typedef void (*ft_sqdist_i8_fn)(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                                size_t dim4, const int8_t *q, int32_t *out);

void ft_kern_sqdist_i8_ref(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                           size_t dim4, const int8_t *q, int32_t *out);
void ft_kern_sqdist_i8_avx2(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                            size_t dim4, const int8_t *q, int32_t *out);
void ft_kern_sqdist_i8_avx512vnni(const int8_t *codes, const int32_t *norm, size_t n_blocks,
                                  size_t dim4, const int8_t *q, int32_t *out);

typedef struct ft_sqdist_i8_variant {
    const char *name; // "ref", "avx2", "avx512vnni"
    unsigned cpu;     // FT_CPU_* features it needs (0 = none)
    bool vnni;        // also needs AVX512_VNNI (CPUID 7.0:ECX bit 11)
    ft_sqdist_i8_fn fn;
} ft_sqdist_i8_variant;

// All variants, reference first (tests and benchmarks: check
// ft_sqdist_i8_usable() before calling one).
const ft_sqdist_i8_variant *ft_sqdist_i8_variants(size_t *n);
// Whether this CPU can run v (ignores FT_KERNELS).
bool ft_sqdist_i8_usable(const ft_sqdist_i8_variant *v);
// The best variant this CPU has and FT_KERNELS allows ("ref" forces the
// reference, "avx2" stops at AVX2).
const ft_sqdist_i8_variant *ft_sqdist_i8_best(void);

#endif
