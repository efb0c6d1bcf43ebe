// The quantised 1:N index (match_i8.c), private to src/gallery: an int8
// copy of a descriptor matrix that ft_match scans first, then re-ranks the
// few rows that could matter with the exact float kernel. Results are the
// float search's, bit for bit (person, sample and distance); only the time
// differs.
//
// Quantisation: one scale s per matrix (the largest |value| / 127), code =
// round(x / s) clamped to [-127, 127]. For every row the build records how
// far the dequantised row is from the float one, ||r - s code(r)||, and
// keeps the largest, E_r. A query gets its own error E_q the same way. By
// the triangle inequality the float distance T and the quantised one Q
// (s * sqrt(integer distance)) then differ by at most c = E_q + E_r; the
// float kernel adds a relative error of at most K (its sums of dim
// non-negative terms, see match_i8.c). A row can only be one of the two
// best people's nearest rows if (Q - c)(1 - K) <= U2, where U2 is an upper
// bound on the second-best person's float distance, (Q2 + c)(1 + K) with Q2
// the quantised distance of the second-best person seen so far. Those rows
// are re-ranked in float, in row order, by the same scan as ft_match's.
// When more than FT_MATCH_I8_MAX_CANDIDATES rows qualify (one person only,
// or thousands of near-identical rows), the search says so and ft_match
// falls back to the full float scan.
#ifndef FT_GALLERY_MATCH_I8_H
#define FT_GALLERY_MATCH_I8_H

#include "core/status.h"
#include "gallery/gallery.h"
#include "gallery/sqdist_i8.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Matrices with at least this many rows get an index (ft_match on fewer
// rows is under 1 ms in float; see docs/BENCHMARKS.md). The environment
// variable FT_MATCH_INDEX overrides it: "off" (never) or a row count.
#define FT_MATCH_I8_MIN_ROWS 20000
#define FT_MATCH_I8_MAX_DIM 4096          // longer rows are not indexed
#define FT_MATCH_I8_MAX_CANDIDATES 8192 // rows re-ranked at most (64 KiB of stack)

typedef struct ft_match_i8 ft_match_i8;

// The row count from which matrices are indexed (FT_MATCH_INDEX or
// FT_MATCH_I8_MIN_ROWS; SIZE_MAX for "off").
size_t ft_match_i8_min_rows(void);

// Builds the index of n rows of dim floats (row i at rows + i * stride,
// stride >= dim; all values finite). FT_E_INVALID for dim 0 or above
// FT_MATCH_I8_MAX_DIM, FT_E_LIMIT/FT_E_NOMEM for sizes. The kernel is
// `kern` (NULL: ft_sqdist_i8_best()).
ft_status ft_match_i8_new(const float *rows, size_t n, size_t dim, size_t stride,
                          const ft_sqdist_i8_variant *kern, ft_match_i8 **out, ft_err *err);
void ft_match_i8_free(ft_match_i8 *ix);
size_t ft_match_i8_bytes(const ft_match_i8 *ix); // memory it holds
const char *ft_match_i8_kernel(const ft_match_i8 *ix);
// Swaps the kernel (for benchmarks; not while searches run); returns the
// previous one.
const ft_sqdist_i8_variant *ft_match_i8_kernel_set(ft_match_i8 *ix,
                                                   const ft_sqdist_i8_variant *k);
double ft_match_i8_scale(const ft_match_i8 *ix);
double ft_match_i8_row_error(const ft_match_i8 *ix); // E_r

// What ft_match's scan produces: the two best people by float squared
// distance, with the first row of the best person's minimum.
typedef struct ft_match_top2 {
    float best, second;       // squared float distances (+inf if none)
    int64_t best_p, best_s;   // 0 if none
    int64_t second_p;         // 0 if none
    size_t n_candidates;      // rows re-ranked in float
} ft_match_top2;

// Attaches an index to m (replacing any) if m has at least min_rows rows
// and a length the index takes; otherwise leaves m without one. Only
// before m is shared: matrices are immutable afterwards.
ft_status ft_gallery__matrix_index(ft_match_matrix *m, size_t min_rows, ft_err *err);
void ft_gallery__matrix_unindex(ft_match_matrix *m);

// The index's search for ft_match (query finite, m indexed). false: too
// many candidates, use the float scan (t is then undefined).
bool ft_gallery__match_i8_top2(const ft_match_matrix *m, const float *query, ft_match_top2 *t);

#endif
