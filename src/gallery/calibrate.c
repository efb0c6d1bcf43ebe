// Threshold calibration: leave-one-out genuine and impostor distances over
// enrolled descriptors, FAR/FRR on a threshold grid, and the threshold for
// a target false-accept rate (definitions in gallery.h, ft_calibrate).
#include "gallery/gallery_internal.h"

#include "core/mem.h"

#include <math.h>
#include <string.h>

ft_calib_opts ft_calib_opts_default(void)
{
    ft_calib_opts o;
    memset(&o, 0, sizeof o);
    o.t_min = 0.30;
    o.t_max = 0.80;
    o.t_step = 0.01;
    o.target_far = 0.001;
    return o;
}

void ft_calib_result_deinit(ft_calib_result *r)
{
    if (!r)
        return;
    ft_free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}

// Grid point k; computed from k each time so no error accumulates.
static double grid_t(const ft_calib_opts *o, size_t k)
{
    return o->t_min + (double)k * o->t_step;
}

// The bucket of distance d: the smallest k with d < t_k (k = K if none), so
// the trials with d < t_k are exactly those in buckets 0..k.
static size_t bucket(const ft_calib_opts *o, size_t K, double d)
{
    double f = floor((d - o->t_min) / o->t_step) + 1.0;
    size_t k = f <= 0 ? 0 : f >= (double)K ? K : (size_t)f;
    while (k > 0 && d < grid_t(o, k - 1))
        k--;
    while (k < K && !(d < grid_t(o, k)))
        k++;
    return k;
}

// Runs the trials over a matrix whose rows are grouped by person.
static ft_status calibrate_matrix(const ft_match_matrix *m, const ft_calib_opts *o,
                                  ft_calib_result *out, ft_err *err)
{
    ft_status st = FT_OK;
    size_t K = (size_t)floor((o->t_max - o->t_min) / o->t_step + 1e-9) + 1;
    size_t n = m->n, bytes;
    float *d2 = NULL;
    uint64_t *gen = NULL, *imp = NULL;
    size_t *run_start = NULL, n_runs = 0;
    ft_calib_result r;
    memset(&r, 0, sizeof r);

    if (!ft_size_mul(n ? n : 1, sizeof *d2, &bytes) || !(d2 = ft_malloc(bytes)) ||
        !(gen = ft_calloc(K + 1, sizeof *gen)) || !(imp = ft_calloc(K + 1, sizeof *imp)) ||
        !(run_start = ft_malloc((m->n_people + 1) * sizeof *run_start)) ||
        !(r.rows = ft_calloc(K, sizeof *r.rows))) {
        st = ft_err_set(err, FT_E_NOMEM, "calibration over %zu samples: out of memory", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (i == 0 || m->person[i] != m->person[i - 1])
            run_start[n_runs++] = i;
    run_start[n_runs] = n;

    for (size_t run = 0; run < n_runs; run++) {
        for (size_t i = run_start[run]; i < run_start[run + 1]; i++) {
            // Squared distances to every row; the matrix's metric turns
            // the smallest into a distance (monotone, so the minimum of
            // squares is the square of the minimum).
            ft_gallery__matrix_d2(m, m->desc + i * m->dim, 0, n, d2);
            for (size_t q = 0; q < n_runs; q++) {
                float best = INFINITY;
                bool any = false;
                for (size_t j = run_start[q]; j < run_start[q + 1]; j++) {
                    if (j == i)
                        continue; // leave the probe out
                    any = true;
                    if (d2[j] < best)
                        best = d2[j];
                }
                if (!any)
                    continue; // the probe's person has no other sample
                size_t b = bucket(o, K, ft_gallery__matrix_dist(m, best));
                if (q == run) {
                    gen[b]++;
                    r.n_genuine++;
                } else {
                    imp[b]++;
                    r.n_impostor++;
                }
            }
        }
    }

    r.n_samples = n;
    r.n_people = n_runs;
    r.n_rows = K;
    r.threshold = r.far = r.frr = NAN;
    uint64_t g_below = 0, i_below = 0;
    for (size_t k = 0; k < K; k++) {
        g_below += gen[k];
        i_below += imp[k];
        ft_calib_row *row = &r.rows[k];
        row->threshold = grid_t(o, k);
        row->far = r.n_impostor ? (double)i_below / (double)r.n_impostor : NAN;
        row->frr = r.n_genuine ? (double)(r.n_genuine - g_below) / (double)r.n_genuine : NAN;
        // FAR only grows with t: the last qualifying row is the answer. A
        // target finer than one trial in n_impostor is not measurable.
        if (r.n_impostor && (double)r.n_impostor * o->target_far >= 1.0 &&
            row->far <= o->target_far) {
            r.threshold = row->threshold;
            r.far = row->far;
            r.frr = row->frr;
        }
    }
    *out = r;
    r.rows = NULL;
done:
    ft_free(r.rows);
    ft_free(d2);
    ft_free(gen);
    ft_free(imp);
    ft_free(run_start);
    return st;
}

static ft_status opts_check(const ft_calib_opts *o, ft_err *err)
{
    if (!(o->t_step > 0) || !(o->t_min >= 0) || !(o->t_max >= o->t_min) ||
        !isfinite(o->t_max) || (o->t_max - o->t_min) / o->t_step > 100000.0)
        return ft_err_set(err, FT_E_INVALID, "calibration grid %g..%g step %g is invalid",
                          o->t_min, o->t_max, o->t_step);
    if (!(o->target_far > 0 && o->target_far < 1))
        return ft_err_set(err, FT_E_INVALID, "target FAR %g is outside (0, 1)", o->target_far);
    return FT_OK;
}

ft_status ft_calibrate(const float *desc, size_t dim, ft_metric metric, const int64_t *labels,
                       size_t n, const ft_calib_opts *o, ft_calib_result *out, ft_err *err)
{
    ft_calib_opts def = ft_calib_opts_default();
    ft_match_matrix *m = NULL;
    if (!o)
        o = &def;
    ft_status st = opts_check(o, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_match_matrix_new(desc, dim, metric, labels, NULL, n, &m, err)) != FT_OK)
        return st;
    st = calibrate_matrix(m, o, out, err);
    ft_match_matrix_free(m);
    return st;
}

ft_status ft_gallery_calibrate(ft_gallery *g, const ft_gallery_space *space,
                               const ft_calib_opts *o, bool store, ft_calib_result *out,
                               ft_err *err)
{
    ft_calib_opts def = ft_calib_opts_default();
    ft_match_matrix *m = NULL;
    ft_calib_result r;
    if (!o)
        o = &def;
    ft_status st = opts_check(o, err);
    if (st != FT_OK)
        return st;
    if (store && (st = ft_gallery__writable(g, err)) != FT_OK)
        return st;
    if ((st = ft_gallery_matrix_load(g, space, &m, err)) != FT_OK)
        return st;
    st = calibrate_matrix(m, o, &r, err);
    ft_match_matrix_free(m);
    if (st != FT_OK)
        return st;
    if (store && (st = ft_gallery_calibration_save(g, &r, o, err)) != FT_OK) {
        ft_calib_result_deinit(&r);
        return st;
    }
    *out = r;
    return FT_OK;
}

ft_status ft_gallery_calibration_save(ft_gallery *g, const ft_calib_result *r,
                                      const ft_calib_opts *o, ft_err *err)
{
    ft_policy_space sp = ft_policy_space_legacy();
    return ft_gallery_calibration_save_for(g, &sp, r, o, err);
}

ft_status ft_gallery_calibration_save_for(ft_gallery *g, const ft_policy_space *sp,
                                          const ft_calib_result *r, const ft_calib_opts *o,
                                          ft_err *err)
{
    ft_calib_opts def = ft_calib_opts_default();
    if (!o)
        o = &def;
    ft_status st = ft_policy_space_check(sp, err);
    if (st != FT_OK)
        return st;
    if (isnan(r->threshold))
        return ft_err_set(err, FT_E_INVALID,
                          "no threshold in %g..%g reaches FAR <= %g with %zu impostor trials "
                          "(need at least %.0f); nothing stored",
                          o->t_min, o->t_max, o->target_far, r->n_impostor,
                          ceil(1.0 / o->target_far));
    // A measured threshold for a target of at most 1 % needs no
    // confirmation, even above 0.6: the trials, not face-api's LFW tuning,
    // say what it lets in. A looser target does.
    if (!o->confirm && o->target_far > FT_GALLERY_SAFE_FAR)
        return ft_err_set(err, FT_E_CONFIRM,
                          "target FAR %g is above %g (1 %%): threshold %.2f would let up to "
                          "%.2f %% of impostor trials in; confirm to store it (--force, "
                          "\"confirm\": true); nothing stored",
                          o->target_far, FT_GALLERY_SAFE_FAR, r->threshold, r->far * 100.0);
    if (!(r->threshold > 0 && r->threshold <= sp->threshold_max))
        return ft_err_set(err, FT_E_INVALID,
                          "calibrated threshold %.3g is outside %s's bounds (0, %g]; nothing "
                          "stored",
                          r->threshold, sp->name, sp->threshold_max);
    return ft_gallery__calibration_store(g, sp, r, o, err);
}
