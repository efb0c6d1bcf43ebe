// The quantised 1:N index: build, and the search with its exact float
// re-rank (see match_i8.h for the bound that makes it exact). The int8
// kernels are in sqdist_i8_*.c.
#include "gallery/match_i8.h"

#include "core/mem.h"
#include "gallery/gallery_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ft_match_i8 {
    int8_t *codes;  // 16-row blocks, sqdist_i8.h layout, 64-byte aligned
    int32_t *norm;  // per row (padded to whole blocks): sum of code^2
    size_t n, n_blocks, dim, dim4;
    double scale;   // value = scale * code
    double row_err; // the largest ||r - scale * code(r)|| over the rows
    double rel;     // K: the float kernel's relative error bound on a distance
    const ft_sqdist_i8_variant *kern;
};

size_t ft_match_i8_min_rows(void)
{
    const char *e = getenv("FT_MATCH_INDEX");
    if (!e || !*e)
        return FT_MATCH_I8_MIN_ROWS;
    if (strcmp(e, "off") == 0)
        return SIZE_MAX;
    char *end;
    unsigned long long v = strtoull(e, &end, 10);
    return *end ? FT_MATCH_I8_MIN_ROWS : (size_t)v;
}

// Rounds half away from zero (any rounding would do: the error bound is
// measured, not assumed), clamped to [-127, 127]. Plain arithmetic instead
// of nearbyint(), which is a library call without SSE4.1.
static int8_t quantise(double x, double inv_scale)
{
    double c = x * inv_scale;
    c = c > 127.0 ? 127.0 : c < -127.0 ? -127.0 : c;
    return (int8_t)(int)(c + (c >= 0 ? 0.5 : -0.5));
}

ft_status ft_match_i8_new(const float *rows, size_t n, size_t dim, size_t stride,
                          const ft_sqdist_i8_variant *kern, ft_match_i8 **out, ft_err *err)
{
    const size_t R = FT_SQDIST_I8_ROWS;
    size_t code_bytes, norm_bytes, n_pad;
    *out = NULL;
    if (dim == 0 || dim > FT_MATCH_I8_MAX_DIM || stride < dim)
        return ft_err_set(err, FT_E_INVALID, "int8 index: rows of %zu values are not indexed",
                          dim);
    size_t n_blocks = n / R + (n % R != 0);
    size_t dim4 = (dim + 3) / 4 * 4;
    if (!ft_size_mul(n_blocks, R, &n_pad) || !ft_size_mul(n_pad, dim4, &code_bytes) ||
        !ft_size_mul(n_pad, sizeof(int32_t), &norm_bytes))
        return ft_err_set(err, FT_E_LIMIT, "int8 index: %zu rows is too many", n);
    ft_match_i8 *ix = ft_calloc(1, sizeof *ix);
    if (!ix)
        return ft_err_set(err, FT_E_NOMEM, "int8 index: out of memory");
    ix->codes = ft_aligned_alloc(code_bytes ? code_bytes : 64);
    ix->norm = ft_malloc(norm_bytes ? norm_bytes : sizeof(int32_t));
    if (!ix->codes || !ix->norm) {
        ft_match_i8_free(ix);
        return ft_err_set(err, FT_E_NOMEM, "int8 index of %zu rows: out of memory", n);
    }
    memset(ix->codes, 0, code_bytes);
    memset(ix->norm, 0, norm_bytes);
    ix->n = n, ix->n_blocks = n_blocks, ix->dim = dim, ix->dim4 = dim4;
    ix->kern = kern ? kern : ft_sqdist_i8_best();
    // The float kernels sum dim non-negative terms (each a rounded
    // difference squared by a fused multiply-add) in float: relative error
    // at most about (dim + 2) u, u = 2^-24, whatever the order of the sum;
    // on the root, half that. Twice the bound on the squares is a safe K.
    ix->rel = 2.0 * ((double)dim + 4.0) * ldexp(1.0, -24);

    // The largest |value|: for finite floats with the sign bit cleared,
    // the order of the bit patterns as integers is the order of the
    // values, and an integer max is a loop the compiler vectorises.
    uint32_t amax_bits = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * stride;
        for (size_t k = 0; k < dim; k++) {
            uint32_t b;
            memcpy(&b, &r[k], 4);
            b &= 0x7fffffffu;
            amax_bits = b > amax_bits ? b : amax_bits;
        }
    }
    float amax;
    memcpy(&amax, &amax_bits, 4);
    // Values below 1e-28 share the smallest scale (1e-30), so that 1 / scale
    // stays a finite float; |value / scale| <= 127 still holds.
    ix->scale = (double)amax / 127.0 >= 1e-30 ? (double)amax / 127.0 : 1e-30;
    double inv = 1.0 / ix->scale, worst = 0;
    const float inv_f = (float)inv;
    const size_t ng = dim4 / 4;
    int8_t *tmp = ft_malloc(dim4);
    if (!tmp) {
        ft_match_i8_free(ix);
        return ft_err_set(err, FT_E_NOMEM, "int8 index: out of memory");
    }
    memset(tmp, 0, dim4);
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * stride;
        int8_t *blk = ix->codes + (i / R) * ng * R * 4;
        size_t j = i % R;
        // Codes in float, branch-free so the compiler vectorises it: no
        // clamp is needed, |r * inv| <= 127 (plus a rounding) here by the
        // choice of the scale. Any rounding is fine: the error below is
        // measured.
        for (size_t k = 0; k < dim; k++)
            tmp[k] = (int8_t)(int32_t)(r[k] * inv_f + copysignf(0.5f, r[k]));
        int32_t nrm = 0;
        for (size_t k = 0; k < dim; k++)
            nrm += (int32_t)tmp[k] * tmp[k];
        // The row's error in double, four partial sums (the order is ours
        // to choose; one chain would wait on every add).
        double e2[4] = {0, 0, 0, 0};
        size_t k = 0;
        for (; k + 4 <= dim; k += 4)
            for (size_t t = 0; t < 4; t++) {
                double e = (double)r[k + t] - ix->scale * tmp[k + t];
                e2[t] += e * e;
            }
        for (; k < dim; k++) {
            double e = (double)r[k] - ix->scale * tmp[k];
            e2[0] += e * e;
        }
        double e2s = (e2[0] + e2[1]) + (e2[2] + e2[3]);
        for (size_t g = 0; g < ng; g++)
            memcpy(blk + (g * R + j) * 4, tmp + 4 * g, 4);
        ix->norm[i] = nrm;
        worst = e2s > worst ? e2s : worst;
    }
    ft_free(tmp);
    // Rounding of the sums above is far below this 1e-9 relative slack.
    ix->row_err = sqrt(worst) * (1 + 1e-9);
    *out = ix;
    return FT_OK;
}

void ft_match_i8_free(ft_match_i8 *ix)
{
    if (!ix)
        return;
    ft_aligned_free(ix->codes);
    ft_free(ix->norm);
    ft_free(ix);
}

size_t ft_match_i8_bytes(const ft_match_i8 *ix)
{
    size_t n_pad = ix->n_blocks * FT_SQDIST_I8_ROWS;
    return sizeof *ix + n_pad * ix->dim4 + n_pad * sizeof(int32_t);
}

const char *ft_match_i8_kernel(const ft_match_i8 *ix)
{
    return ix->kern->name;
}

const ft_sqdist_i8_variant *ft_match_i8_kernel_set(ft_match_i8 *ix,
                                                   const ft_sqdist_i8_variant *k)
{
    const ft_sqdist_i8_variant *old = ix->kern;
    ix->kern = k;
    return old;
}

double ft_match_i8_scale(const ft_match_i8 *ix)
{
    return ix->scale;
}

double ft_match_i8_row_error(const ft_match_i8 *ix)
{
    return ix->row_err;
}

// ---- The matrix's index ----

ft_status ft_gallery__matrix_index(ft_match_matrix *m, size_t min_rows, ft_err *err)
{
    ft_gallery__matrix_unindex(m);
    // Row indices are kept in 32 bits by the search.
    if (m->n < min_rows || m->n < 2 || m->n > UINT32_MAX || m->dim > FT_MATCH_I8_MAX_DIM)
        return FT_OK;
    return ft_match_i8_new(m->desc, m->n, m->dim, m->dim, NULL, &m->i8, err);
}

void ft_gallery__matrix_unindex(ft_match_matrix *m)
{
    ft_match_i8_free(m->i8);
    m->i8 = NULL;
}

// ---- Search ----

// The float squared distance of row i, by the matrix's own kernel, so the
// value is the one the full float scan computes (each row's value does not
// depend on its neighbours in a kernel call).
static float row_d2(const ft_match_matrix *m, const float *query, size_t i)
{
    float d2;
    ft_gallery__matrix_d2(m, query, i, 1, &d2);
    return d2;
}

// The integer distance bound: rows with a larger quantised distance than
// this cannot be either of the two best people's nearest rows, given an
// upper bound u2 on the second-best person's float distance.
static int64_t int_bound(const ft_match_i8 *ix, double c, double u2)
{
    double qmax = u2 / (1 - ix->rel) + c; // (Q - c)(1 - K) <= u2
    double t = qmax / ix->scale;
    t = t * t;
    return !(t < (double)INT32_MAX - 2) ? INT32_MAX : (int64_t)t + 1;
}

// u2 for the second-best person at integer distance d2 (its row's float
// distance is at most (Q + c)(1 + K)).
static double upper(const ft_match_i8 *ix, double c, int32_t d2)
{
    return (ix->scale * sqrt((double)d2) + c) * (1 + ix->rel);
}

#define CHUNK 16 // blocks per kernel call: 256 distances on the stack

bool ft_gallery__match_i8_top2(const ft_match_matrix *m, const float *query, ft_match_top2 *t)
{
    const ft_match_i8 *ix = m->i8;
    const size_t R = FT_SQDIST_I8_ROWS;
    int8_t qc[FT_MATCH_I8_MAX_DIM];
    int32_t d[CHUNK * FT_SQDIST_I8_ROWS];
    uint32_t cand[FT_MATCH_I8_MAX_CANDIDATES];
    int32_t cand_d[FT_MATCH_I8_MAX_CANDIDATES];
    size_t n_c = 0;

    // The query's codes and its own quantisation error.
    double inv = 1.0 / ix->scale, e2 = 0;
    memset(qc, 0, ix->dim4);
    for (size_t k = 0; k < ix->dim; k++) {
        qc[k] = quantise(query[k], inv);
        double e = (double)query[k] - ix->scale * qc[k];
        e2 += e * e;
    }
    double c = (sqrt(e2) * (1 + 1e-9) + ix->row_err);

    // Pass over the codes: the two best people by integer distance among
    // the rows still in the running, and the candidates.
    int64_t bound = INT32_MAX;
    int32_t b1 = INT32_MAX, b2 = INT32_MAX;
    int64_t p1 = 0, p2 = 0;
    for (size_t blk = 0; blk < ix->n_blocks; blk += CHUNK) {
        size_t nb = ix->n_blocks - blk < CHUNK ? ix->n_blocks - blk : CHUNK;
        ix->kern->fn(ix->codes + blk * ix->dim4 * R, ix->norm + blk * R, nb, ix->dim4, qc, d);
        size_t i0 = blk * R, nr = nb * R;
        if (i0 + nr > ix->n)
            nr = ix->n - i0;
        for (size_t j = 0; j < nr; j++) {
            int32_t x = d[j];
            if (x > bound)
                continue;
            size_t i = i0 + j;
            int64_t p = m->person[i];
            int32_t old2 = b2;
            if (p == p1) {
                if (x < b1)
                    b1 = x;
            } else if (x < b1) {
                b2 = b1, p2 = p1; // p may have been second: it is now first
                b1 = x, p1 = p;
            } else if (p == p2 || x < b2) {
                if (x < b2)
                    b2 = x, p2 = p;
            }
            if (b2 != old2 && p2)
                bound = int_bound(ix, c, upper(ix, c, b2));
            if (n_c == FT_MATCH_I8_MAX_CANDIDATES) {
                // Drop the candidates the bound has since excluded.
                size_t w = 0;
                for (size_t r = 0; r < n_c; r++)
                    if (cand_d[r] <= bound)
                        cand[w] = cand[r], cand_d[w] = cand_d[r], w++;
                n_c = w;
                if (n_c == FT_MATCH_I8_MAX_CANDIDATES)
                    return false;
            }
            cand[n_c] = (uint32_t)i, cand_d[n_c] = x, n_c++;
        }
    }
    // Re-rank in float: ft_match's scan over the candidates, in row order.
    float best = INFINITY, second = INFINITY, cur = INFINITY;
    int64_t best_p = 0, second_p = 0, cur_p = 0, best_s = 0, cur_s = 0;
    size_t n_rr = 0;
    for (size_t r = 0; r < n_c; r++) {
        if (cand_d[r] > bound)
            continue;
        size_t i = cand[r];
        float d2 = row_d2(m, query, i);
        n_rr++;
        int64_t p = m->person[i];
        if (p != cur_p) {
            if (cur_p && cur < best) {
                second = best, second_p = best_p;
                best = cur, best_p = cur_p, best_s = cur_s;
            } else if (cur_p && cur < second) {
                second = cur, second_p = cur_p;
            }
            cur_p = p, cur = INFINITY;
        }
        if (d2 < cur)
            cur = d2, cur_s = m->sample[i];
    }
    if (cur_p && cur < best) {
        second = best, second_p = best_p;
        best = cur, best_p = cur_p, best_s = cur_s;
    } else if (cur_p && cur < second) {
        second = cur, second_p = cur_p;
    }
    t->best = best, t->second = second;
    t->best_p = best_p, t->best_s = best_s, t->second_p = second_p;
    t->n_candidates = n_rr;
    return true;
}
