// The in-memory descriptor matrix and 1:N matching (see gallery.h); the
// distance kernels are in sqdist_*.c. One matrix holds one descriptor
// space: its length and metric (cosine rows are stored as unit vectors,
// so both metrics run on the squared-Euclidean kernels).
#include "gallery/gallery_internal.h"

#include "core/mem.h"
#include "gallery/match_i8.h"
#include "gallery/person_nearest.h"
#include "gallery/sqdist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ft_metric_str(ft_metric m)
{
    return m == FT_METRIC_COSINE ? "cosine" : "euclidean";
}

ft_status ft_gallery__matrix_alloc(size_t n, size_t dim, ft_metric metric, ft_match_matrix **out,
                                   ft_err *err)
{
    size_t bytes;
    if (dim < 1 || dim > FT_GALLERY_DIM_MAX)
        return ft_err_set(err, FT_E_INVALID, "descriptor length %zu is outside 1..%d", dim,
                          FT_GALLERY_DIM_MAX);
    if (metric != FT_METRIC_EUCLIDEAN && metric != FT_METRIC_COSINE)
        return ft_err_set(err, FT_E_INVALID, "unknown descriptor metric %d", (int)metric);
    ft_match_matrix *m = ft_calloc(1, sizeof *m);
    if (!m)
        return ft_err_set(err, FT_E_NOMEM, "descriptor matrix: out of memory");
    if (!ft_size_mul(n, dim * sizeof(float), &bytes)) {
        ft_free(m);
        return ft_err_set(err, FT_E_LIMIT, "descriptor matrix: %zu rows is too many", n);
    }
    m->desc = ft_aligned_alloc(bytes);
    m->person = ft_malloc((n ? n : 1) * sizeof(int64_t));
    m->sample = ft_malloc((n ? n : 1) * sizeof(int64_t));
    if (!m->desc || !m->person || !m->sample) {
        ft_match_matrix_free(m);
        return ft_err_set(err, FT_E_NOMEM, "descriptor matrix of %zu rows: out of memory", n);
    }
    m->n = n;
    m->dim = dim;
    m->metric = metric;
    m->kern = ft_sqdist_best();
    *out = m;
    return FT_OK;
}

ft_status ft_gallery__matrix_row_fix(ft_match_matrix *m, size_t r, ft_status bad, const char *path,
                                     long long id, ft_err *err)
{
    float *d = m->desc + r * m->dim;
    double ss = 0.0;
    for (size_t k = 0; k < m->dim; k++) {
        if (!isfinite(d[k]))
            return ft_err_set(err, bad, "%s%ssample %lld has a non-finite descriptor",
                              path ? path : "", path ? ": " : "", id);
        ss += (double)d[k] * d[k];
    }
    if (m->metric == FT_METRIC_COSINE) {
        if (!(ss > 0) || !isfinite(ss))
            return ft_err_set(err, bad, "%s%ssample %lld: a zero vector has no direction",
                              path ? path : "", path ? ": " : "", id);
        double inv = 1.0 / sqrt(ss);
        for (size_t k = 0; k < m->dim; k++)
            d[k] = (float)(d[k] * inv);
    }
    return FT_OK;
}

void ft_gallery__matrix_d2(const ft_match_matrix *m, const float *q, size_t i0, size_t nb,
                           float *out)
{
    if (m->dim == 128)
        m->kern->fn(m->desc + i0 * m->dim, nb, q, out);
    else
        m->kern->fn_dim(m->desc + i0 * m->dim, nb, m->dim, q, out);
}

double ft_gallery__matrix_dist(const ft_match_matrix *m, float d2)
{
    // Unit vectors: |a - b|^2 = 2 - 2 a.b, so 1 - a.b = |a - b|^2 / 2.
    return m->metric == FT_METRIC_COSINE ? (double)d2 / 2.0 : sqrt((double)d2);
}

void ft_gallery__matrix_count_people(ft_match_matrix *m)
{
    m->n_people = 0;
    for (size_t i = 0; i < m->n; i++)
        if (i == 0 || m->person[i] != m->person[i - 1])
            m->n_people++;
}

void ft_match_matrix_free(ft_match_matrix *m)
{
    if (!m)
        return;
    ft_aligned_free(m->desc);
    ft_free(m->person);
    ft_free(m->sample);
    ft_free(m->model);
    ft_match_i8_free(m->i8);
    ft_free(m);
}

size_t ft_match_matrix_rows(const ft_match_matrix *m)
{
    return m->n;
}

size_t ft_match_matrix_people(const ft_match_matrix *m)
{
    return m->n_people;
}

const char *ft_match_matrix_kernel(const ft_match_matrix *m)
{
    return m->kern->name;
}

size_t ft_match_matrix_dim(const ft_match_matrix *m)
{
    return m->dim;
}

ft_metric ft_match_matrix_metric(const ft_match_matrix *m)
{
    return m->metric;
}

// ---- From arrays ----

typedef struct row_key {
    int64_t person, sample;
    size_t i;
} row_key;

static int row_key_cmp(const void *a, const void *b)
{
    const row_key *x = a, *y = b;
    if (x->person != y->person)
        return x->person < y->person ? -1 : 1;
    if (x->sample != y->sample)
        return x->sample < y->sample ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

ft_status ft_match_matrix_new(const float *desc, size_t dim, ft_metric metric,
                              const int64_t *person_ids, const int64_t *sample_ids, size_t n,
                              ft_match_matrix **out, ft_err *err)
{
    ft_match_matrix *m = NULL;
    row_key *keys = NULL;
    size_t bytes;
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (person_ids[i] <= 0)
            return ft_err_set(err, FT_E_INVALID, "row %zu: person id must be > 0", i);
    if (!ft_size_mul(n ? n : 1, sizeof *keys, &bytes) || !(keys = ft_malloc(bytes)))
        return ft_err_set(err, FT_E_NOMEM, "descriptor matrix: out of memory");
    ft_status st = ft_gallery__matrix_alloc(n, dim, metric, &m, err);
    if (st != FT_OK) {
        ft_free(keys);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = (row_key){person_ids[i], sample_ids ? sample_ids[i] : (int64_t)i + 1, i};
    qsort(keys, n, sizeof *keys, row_key_cmp);
    for (size_t r = 0; r < n; r++) {
        memcpy(m->desc + r * dim, desc + keys[r].i * dim, dim * sizeof(float));
        m->person[r] = keys[r].person;
        m->sample[r] = keys[r].sample;
        if ((st = ft_gallery__matrix_row_fix(m, r, FT_E_INVALID, NULL, (long long)keys[r].i,
                                             err)) != FT_OK) {
            // (the row index, as the caller numbered it)
            ft_free(keys);
            ft_match_matrix_free(m);
            return st;
        }
    }
    ft_free(keys);
    ft_gallery__matrix_count_people(m);
    if ((st = ft_gallery__matrix_index(m, ft_match_i8_min_rows(), err)) != FT_OK) {
        ft_match_matrix_free(m);
        return st;
    }
    *out = m;
    return FT_OK;
}

// ---- From the gallery ----

static ft_status pragma_int(ft_gallery *g, const char *sql, int64_t *out, ft_err *err)
{
    sqlite3_stmt *s;
    *out = 0;
    ft_status st = ft_gallery__prepare(g, sql, &s, err);
    if (st != FT_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        st = ft_gallery__dberr(g, rc, err, sql);
    sqlite3_finalize(s);
    return st;
}

ft_status ft_gallery__sq_matrix_load(ft_gallery *g, const ft_gallery_space *sp,
                                     ft_match_matrix **out, ft_err *err)
{
    sqlite3_stmt *s = NULL;
    ft_match_matrix *m = NULL;
    int64_t n = 0, dv = 0, gen = 0;
    ft_status st;
    int rc;
    // Count, generation and rows come from one read snapshot.
    if ((st = pragma_int(g, "PRAGMA data_version", &dv, err)) != FT_OK ||
        (st = ft_gallery__exec(g, "BEGIN", err)) != FT_OK)
        return st;
    if ((st = ft_gallery__generation(g, &gen, err)) != FT_OK)
        goto done;
    if ((st = ft_gallery__prepare(g, "SELECT count(*) FROM samples WHERE model = ?1", &s, err)) !=
        FT_OK)
        goto done;
    sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        st = ft_gallery__dberr(g, rc, err, "load descriptors");
        goto done;
    }
    n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if ((st = ft_gallery__matrix_alloc((size_t)n, sp->dim, sp->metric, &m, err)) != FT_OK)
        goto done;
    if ((st = ft_gallery__prepare(g,
                                  "SELECT person_id, id, descriptor, dim FROM samples "
                                  "WHERE model = ?1 ORDER BY person_id, id",
                                  &s, err)) != FT_OK)
        goto done;
    sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
    size_t r = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(s, 2);
        int64_t dim = sqlite3_column_int64(s, 3);
        if (r >= (size_t)n || !blob || dim != (int64_t)sp->dim ||
            sqlite3_column_bytes(s, 2) != dim * 4) {
            st = ft_err_set(err, FT_E_DB,
                            "%s: sample %lld of space %s has %lld values, not %zu (a matrix never "
                            "mixes lengths)",
                            g->path, (long long)sqlite3_column_int64(s, 1), sp->name,
                            (long long)dim, sp->dim);
            goto done;
        }
        m->person[r] = sqlite3_column_int64(s, 0);
        m->sample[r] = sqlite3_column_int64(s, 1);
        ft_gallery__desc_from_le(blob, sp->dim, m->desc + r * sp->dim);
        if ((st = ft_gallery__matrix_row_fix(m, r, FT_E_DB, g->path, (long long)m->sample[r],
                                             err)) != FT_OK)
            goto done;
        r++;
    }
    if (rc != SQLITE_DONE) {
        st = ft_gallery__dberr(g, rc, err, "load descriptors");
        goto done;
    }
    m->n = r;
    ft_gallery__matrix_count_people(m);
    m->mark.generation = gen;
    m->mark.cookie[0] = dv;
    m->mark.cookie[1] = (int64_t)g->local_seq;
done:
    sqlite3_finalize(s);
    ft_gallery__exec(g, "COMMIT", NULL); // ends the read transaction
    if (st != FT_OK) {
        ft_match_matrix_free(m);
        return st;
    }
    *out = m;
    return FT_OK;
}

bool ft_gallery__sq_quiet_since(ft_gallery *g, const ft_store_mark *mark, int64_t cookie_now[2])
{
    // data_version moves only when another connection commits; our own
    // commits bump local_seq.
    int64_t dv;
    if (pragma_int(g, "PRAGMA data_version", &dv, NULL) != FT_OK)
        return false;
    cookie_now[0] = dv;
    cookie_now[1] = (int64_t)g->local_seq;
    return dv == mark->cookie[0] && (int64_t)g->local_seq == mark->cookie[1];
}

// ---- Any backend ----

ft_status ft_gallery_matrix_load(ft_gallery *g, const ft_gallery_space *space,
                                 ft_match_matrix **out, ft_err *err)
{
    *out = NULL;
    if (!space || !space->name || !space->name[0])
        return ft_err_set(err, FT_E_INVALID, "descriptor matrix: no descriptor space given");
    if (space->dim < 1 || space->dim > FT_GALLERY_DIM_MAX ||
        (space->metric != FT_METRIC_EUCLIDEAN && space->metric != FT_METRIC_COSINE))
        return ft_err_set(err, FT_E_INVALID, "descriptor space %s: length %zu or metric invalid",
                          space->name, space->dim);
    ft_status st = g->ops->matrix_load(g, space, out, err);
    if (st != FT_OK)
        return st;
    (*out)->owner = g;
    (*out)->owner_nonce = g->nonce;
    if (!((*out)->model = ft_strdup(space->name))) {
        ft_match_matrix_free(*out);
        *out = NULL;
        return ft_err_set(err, FT_E_NOMEM, "descriptor matrix: out of memory");
    }
    if ((st = ft_gallery__matrix_index(*out, ft_match_i8_min_rows(), err)) != FT_OK) {
        ft_match_matrix_free(*out);
        *out = NULL;
    }
    return st;
}

// *cookie_seen (valid when *have_cookie) gets the backend's cookie read
// BEFORE the generation, so a commit racing with the check moves the
// cookie again and is seen next time.
static ft_status stale_check(ft_gallery *g, const ft_match_matrix *m, bool *stale,
                             bool *have_cookie, int64_t cookie_seen[2], ft_err *err)
{
    int64_t gen = 0;
    ft_status st;
    bool mine = m->owner == g && m->owner_nonce == g->nonce;
    *have_cookie = false;
    if (mine && g->ops->quiet_since) {
        if (g->ops->quiet_since(g, &m->mark, cookie_seen)) {
            *stale = false;
            return FT_OK;
        }
        *have_cookie = true;
    }
    if ((st = g->ops->generation(g, &gen, err)) != FT_OK)
        return st;
    *stale = gen != m->mark.generation;
    return FT_OK;
}

ft_status ft_gallery_matrix_stale(ft_gallery *g, const ft_match_matrix *m, bool *stale,
                                  ft_err *err)
{
    bool have;
    int64_t c[2];
    return stale_check(g, m, stale, &have, c, err);
}

ft_status ft_gallery_matrix_refresh(ft_gallery *g, ft_match_matrix **m, ft_err *err)
{
    bool stale = true, have = false;
    int64_t c[2];
    ft_match_matrix *nm;
    ft_status st;
    if (*m && (st = stale_check(g, *m, &stale, &have, c, err)) != FT_OK)
        return st;
    if (!stale) {
        // Something else changed (events, keys): remember we looked, so
        // the next check is the cheap one again.
        if (have) {
            (*m)->mark.cookie[0] = c[0];
            (*m)->mark.cookie[1] = c[1];
        }
        return FT_OK;
    }
    if (!*m || !(*m)->model)
        return ft_err_set(err, FT_E_INVALID, "descriptor matrix: refresh needs a loaded matrix");
    ft_gallery_space sp = {(*m)->model, (*m)->dim, (*m)->metric};
    if ((st = ft_gallery_matrix_load(g, &sp, &nm, err)) != FT_OK)
        return st;
    ft_match_matrix_free(*m);
    *m = nm;
    return FT_OK;
}

// ---- Matching ----

#define BLOCK 256 // distances per kernel call: a stack buffer, no allocation

ft_status ft_match(const ft_match_matrix *m, const float *query, size_t dim, double threshold,
                   double min_margin, ft_match_result *out, ft_err *err)
{
    if (dim != m->dim)
        return ft_err_set(err, FT_E_INVALID,
                          "query descriptor has %zu values, the matrix (%s) holds %zu", dim,
                          m->model ? m->model : "arrays", m->dim);
    double ss = 0.0;
    for (size_t k = 0; k < dim; k++) {
        if (!isfinite(query[k]))
            return ft_err_set(err, FT_E_INVALID, "query descriptor value %zu is not finite", k);
        ss += (double)query[k] * query[k];
    }
    if (!(threshold > 0) || !(min_margin >= 0))
        return ft_err_set(err, FT_E_INVALID, "threshold must be > 0 and margin >= 0");
    float qn[FT_GALLERY_DIM_MAX];
    if (m->metric == FT_METRIC_COSINE) {
        if (!(ss > 0) || !isfinite(ss))
            return ft_err_set(err, FT_E_INVALID, "query descriptor is a zero vector");
        double inv = 1.0 / sqrt(ss);
        for (size_t k = 0; k < dim; k++)
            qn[k] = (float)(query[k] * inv);
        query = qn;
    }

    // Rows of one person are contiguous, so the per-person minimum is a
    // running minimum over each run, and the two best people are kept as
    // runs end.
    float d2[BLOCK];
    float best = INFINITY, second = INFINITY, cur = INFINITY;
    int64_t best_p = 0, second_p = 0, cur_p = 0, best_s = 0, cur_s = 0;
    // Large matrices: the int8 index finds the same two people (match_i8.h).
    ft_match_top2 t;
    bool done = m->i8 && ft_gallery__match_i8_top2(m, query, &t);
    if (done)
        best = t.best, second = t.second, best_p = t.best_p, best_s = t.best_s,
        second_p = t.second_p;
    for (size_t i0 = 0; !done && i0 < m->n; i0 += BLOCK) {
        size_t nb = m->n - i0 < BLOCK ? m->n - i0 : BLOCK;
        ft_gallery__matrix_d2(m, query, i0, nb, d2);
        for (size_t j = 0; j < nb; j++) {
            int64_t p = m->person[i0 + j];
            if (p != cur_p) {
                if (cur_p && cur < best) {
                    second = best, second_p = best_p;
                    best = cur, best_p = cur_p, best_s = cur_s;
                } else if (cur_p && cur < second) {
                    second = cur, second_p = cur_p;
                }
                cur_p = p, cur = INFINITY;
            }
            if (d2[j] < cur)
                cur = d2[j], cur_s = m->sample[i0 + j];
        }
    }
    if (cur_p && cur < best) {
        second = best, second_p = best_p;
        best = cur, best_p = cur_p, best_s = cur_s;
    } else if (cur_p && cur < second) {
        second = cur, second_p = cur_p;
    }
    // best_p == 0: an empty matrix (or distances that overflowed to +inf).
    ft_match_result r;
    r.person_id = best_p;
    r.sample_id = best_s;
    r.distance = best_p ? ft_gallery__matrix_dist(m, best) : INFINITY;
    r.second_person_id = second_p;
    r.second_distance = second_p ? ft_gallery__matrix_dist(m, second) : INFINITY;
    r.margin = second_p ? r.second_distance - r.distance : INFINITY;
    if (!best_p || r.distance >= threshold)
        r.status = FT_MATCH_UNKNOWN;
    else if (r.margin < min_margin)
        r.status = FT_MATCH_AMBIGUOUS;
    else
        r.status = FT_MATCH_KNOWN;
    *out = r;
    return FT_OK;
}

// D_p of the person whose rows are r0..r1-1: one 1:N search per row.
static ft_status rows_nearest_other(const ft_match_matrix *m, size_t r0, size_t r1,
                                    double *nearest, ft_err *err)
{
    int64_t person_id = m->person[r0];
    double best = INFINITY;
    for (size_t r = r0; r < r1; r++) {
        ft_match_result mr;
        ft_status st = ft_match(m, m->desc + r * m->dim, m->dim, INFINITY, 0.0, &mr, err);
        if (st != FT_OK)
            return st;
        // Its own row is at distance 0, so the person is normally the
        // nearest and the next other person is the answer; rounding may
        // put another person's identical row first.
        double d = mr.person_id == person_id ? mr.second_distance : mr.distance;
        if (d < best)
            best = d;
    }
    *nearest = best;
    return FT_OK;
}

// The end of the run of rows of the person at row r0 (rows are grouped by
// person).
static size_t person_run_end(const ft_match_matrix *m, size_t r0)
{
    size_t r1 = r0;
    while (r1 < m->n && m->person[r1] == m->person[r0])
        r1++;
    return r1;
}

ft_status ft_match_person_nearest(const ft_match_matrix *m, int64_t person_id, double *nearest,
                                  ft_err *err)
{
    size_t r0 = 0;
    while (r0 < m->n && m->person[r0] != person_id)
        r0++;
    if (r0 == m->n)
        return ft_err_set(err, FT_E_NOT_FOUND, "person %lld has no sample in the matrix",
                          (long long)person_id);
    return rows_nearest_other(m, r0, person_run_end(m, r0), nearest, err);
}

// person_nearest.h: every person's D_p, the same searches person by person.
ft_status ft_match_matrix_person_nearest(const ft_match_matrix *m, int64_t **person_ids,
                                         double **nearest, size_t *n_people, ft_err *err)
{
    size_t n = m->n, np = 0;
    int64_t *ids = ft_malloc((n ? n : 1) * sizeof *ids);
    double *near = ft_malloc((n ? n : 1) * sizeof *near);
    if (!ids || !near) {
        ft_free(ids);
        ft_free(near);
        return ft_err_set(err, FT_E_NOMEM, "nearest other person over %zu samples: out of memory",
                          n);
    }
    for (size_t r0 = 0, r1; r0 < n; r0 = r1, np++) {
        r1 = person_run_end(m, r0);
        ids[np] = m->person[r0];
        ft_status st = rows_nearest_other(m, r0, r1, &near[np], err);
        if (st != FT_OK) {
            ft_free(ids);
            ft_free(near);
            return st;
        }
    }
    *person_ids = ids;
    *nearest = near;
    *n_people = np;
    return FT_OK;
}
