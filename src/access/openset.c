// Open-set decisions over several descriptor spaces and the pair
// calibration of a space's threshold (definitions in openset.h).
#include "access/openset.h"

#include "core/mem.h"
#include "gallery/person_nearest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool ft_openset_rule_default(const char *space, ft_openset_rule *out)
{
    // Thresholds chosen on all five development sets' pairs
    // (docs/ACCURACY.md: best pooled accuracy at 0.512 and 0.372);
    // margins: resnet128's is the product's policy default, faceres's
    // about the same share of its threshold; alpha 0.8 measured on the
    // open-set protocol (0.7 and 0.8 let no development stranger in with
    // faceres, 0.9 one).
    if (strcmp(space, "resnet128") == 0) {
        *out = (ft_openset_rule){0.51, 0.05, 0.8};
        return true;
    }
    if (strcmp(space, "faceres") == 0) {
        *out = (ft_openset_rule){0.37, 0.04, 0.8};
        return true;
    }
    return false;
}

const char *ft_openset_status_str(ft_openset_status s)
{
    switch (s) {
    case FT_OPENSET_GRANTED:
        return "granted";
    case FT_OPENSET_UNKNOWN:
        return "unknown";
    case FT_OPENSET_AMBIGUOUS:
        return "ambiguous";
    case FT_OPENSET_DISAGREE:
        return "spaces disagree";
    }
    return "?";
}

void ft_openset_decide(const ft_match_result *r, const ft_openset_rule *rules,
                       const double *person_thr, size_t n, ft_openset_result *out)
{
    FT_ASSERT(n >= 1 && r && rules && out);
    out->status = FT_OPENSET_GRANTED;
    out->person_id = r[0].person_id;
    out->space = 0;
    // Severity order: any unknown first, then any ambiguous, then the
    // persons' agreement.
    for (size_t s = 0; s < n; s++) {
        double t = person_thr && !isnan(person_thr[s]) ? person_thr[s] : rules[s].threshold;
        if (r[s].person_id == 0 || !(r[s].distance < t)) {
            out->status = FT_OPENSET_UNKNOWN;
            out->space = s;
            return;
        }
    }
    for (size_t s = 0; s < n; s++)
        if (!(r[s].second_distance - r[s].distance >= rules[s].margin)) {
            out->status = FT_OPENSET_AMBIGUOUS;
            out->space = s;
            return;
        }
    for (size_t s = 1; s < n; s++)
        if (r[s].person_id != r[0].person_id) {
            out->status = FT_OPENSET_DISAGREE;
            return;
        }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

ft_status ft_openset_pair_threshold(const double *d, const bool *same, size_t n,
                                    double *threshold, double *accuracy, ft_err *err)
{
    size_t nc = 0;
    double *c = ft_malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return ft_err_set(err, FT_E_NOMEM, "pair calibration over %zu pairs: out of memory", n);
    for (size_t i = 0; i < n; i++)
        if (isfinite(d[i]))
            c[nc++] = d[i];
    if (nc == 0) {
        ft_free(c);
        return ft_err_set(err, FT_E_INVALID, "pair calibration: no pair has a distance");
    }
    qsort(c, nc, sizeof *c, cmp_double);
    // Sweep the candidates in order: at candidate k (between c[k-1] and
    // c[k]) the accepted pairs are exactly c[0..k-1]; the same-person ones
    // among them are counted on a second sorted list (cs) of same-pair
    // distances.
    size_t ns = 0;
    double *cs = ft_malloc(nc * sizeof *cs);
    if (!cs) {
        ft_free(c);
        return ft_err_set(err, FT_E_NOMEM, "pair calibration over %zu pairs: out of memory", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (isfinite(d[i]) && same[i])
            cs[ns++] = d[i];
    }
    qsort(cs, ns, sizeof *cs, cmp_double);
    size_t n_diff_finite = nc - ns;
    double best = -1, lo = 0, hi = 0;
    bool in_run = false;
    size_t js = 0; // same pairs with distance < candidate
    for (size_t k = 0; k <= nc; k++) {
        double t = k == 0 ? c[0] - 1e-6 : k == nc ? c[nc - 1] + 1e-6 : (c[k - 1] + c[k]) / 2;
        if (k > 0 && k < nc && c[k - 1] == c[k])
            continue; // not a boundary between two different distances
        while (js < ns && cs[js] < t)
            js++;
        size_t acc_total = k; // c[0..k-1] < t <= c[k] (equal runs skipped above)
        size_t diff_accepted = acc_total - js;
        size_t correct = js + (n_diff_finite - diff_accepted);
        double accu = (double)correct / (double)n;
        if (accu > best) {
            best = accu;
            lo = hi = t;
            in_run = true;
        } else if (accu == best && in_run) {
            hi = t;
        } else {
            in_run = false;
        }
    }
    *threshold = (lo + hi) / 2;
    if (accuracy)
        *accuracy = best;
    ft_free(c);
    ft_free(cs);
    return FT_OK;
}

// Reference distance between two rows (double accumulation); cosine on
// raw rows: 1 - a.b / (|a| |b|).
static double row_dist(const float *a, const float *b, size_t dim, ft_metric metric)
{
    double acc = 0, na = 0, nb = 0;
    if (metric == FT_METRIC_COSINE) {
        for (size_t k = 0; k < dim; k++) {
            acc += (double)a[k] * b[k];
            na += (double)a[k] * a[k];
            nb += (double)b[k] * b[k];
        }
        return 1 - acc / sqrt(na * nb);
    }
    for (size_t k = 0; k < dim; k++) {
        double d = (double)a[k] - b[k];
        acc += d * d;
    }
    return sqrt(acc);
}

ft_status ft_openset_person_thresholds(const float *desc, size_t dim, ft_metric metric,
                                       const int64_t *ids, size_t n, double threshold,
                                       double alpha, ft_openset_person **out, size_t *n_people,
                                       ft_err *err)
{
    if (dim == 0)
        return ft_err_set(err, FT_E_INVALID, "per-person thresholds: descriptor length 0");
    for (size_t i = 0; i < n; i++) {
        if (ids[i] <= 0)
            return ft_err_set(err, FT_E_INVALID, "per-person thresholds: row %zu has person id %lld",
                              i, (long long)ids[i]);
        double sq = 0;
        for (size_t k = 0; k < dim; k++) {
            float v = desc[i * dim + k];
            if (!isfinite(v))
                return ft_err_set(err, FT_E_INVALID,
                                  "per-person thresholds: row %zu has a non-finite value", i);
            sq += (double)v * v;
        }
        if (metric == FT_METRIC_COSINE && sq == 0)
            return ft_err_set(err, FT_E_INVALID,
                              "per-person thresholds: row %zu is zero in a cosine space", i);
    }
    ft_openset_person *t = ft_malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return ft_err_set(err, FT_E_NOMEM, "per-person thresholds over %zu rows: out of memory", n);
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        size_t p = 0;
        while (p < np && t[p].person_id != ids[i])
            p++;
        if (p == np)
            t[np++] = (ft_openset_person){ids[i], threshold, INFINITY};
    }
    // D_p over every pair of rows of different people (each pair once).
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            if (ids[i] == ids[j])
                continue;
            double d = row_dist(desc + i * dim, desc + j * dim, dim, metric);
            for (size_t p = 0; p < np; p++)
                if ((t[p].person_id == ids[i] || t[p].person_id == ids[j]) && d < t[p].nearest)
                    t[p].nearest = d;
        }
    for (size_t p = 0; p < np; p++)
        if (alpha > 0 && alpha * t[p].nearest < threshold)
            t[p].threshold = alpha * t[p].nearest;
    *out = t;
    *n_people = np;
    return FT_OK;
}

double ft_openset_person_threshold(const ft_openset_person *t, size_t n, int64_t person,
                                   double fallback)
{
    for (size_t p = 0; p < n; p++)
        if (t[p].person_id == person)
            return t[p].threshold;
    return fallback;
}

ft_status ft_openset_person_thresholds_matrix(const ft_match_matrix *m, double threshold,
                                              double alpha, ft_openset_person **out,
                                              size_t *n_people, ft_err *err)
{
    int64_t *ids = NULL;
    double *near = NULL;
    size_t np = 0;
    ft_status st = ft_match_matrix_person_nearest(m, &ids, &near, &np, err);
    if (st != FT_OK)
        return st;
    ft_openset_person *t = ft_malloc((np ? np : 1) * sizeof *t);
    if (!t) {
        st = ft_err_set(err, FT_E_NOMEM, "per-person thresholds: out of memory");
    } else {
        for (size_t p = 0; p < np; p++) {
            t[p] = (ft_openset_person){ids[p], threshold, near[p]};
            if (alpha > 0 && alpha * near[p] < threshold)
                t[p].threshold = alpha * near[p];
        }
        *out = t;
        *n_people = np;
    }
    ft_free(ids);
    ft_free(near);
    return st;
}
