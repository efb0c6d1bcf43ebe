// The fused match over two descriptor spaces (see fused.h).
#include "access/fused.h"

#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct person_d {
    int64_t id;
    double dr, df; // minimum distance in each space; +inf = no sample
} person_d;

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const person_d *)a)->id, y = ((const person_d *)b)->id;
    return x < y ? -1 : x > y;
}

ft_status ft_access_fused_match(const ft_sample *samples, size_t n, const float *qr,
                                const float *qf, ft_align_mode align,
                                const ft_gallery_policy *pol_resnet,
                                const ft_gallery_policy *pol_faceres, double w,
                                ft_fused_result *out, ft_err *err)
{
    if (!(w >= 0 && w <= 1))
        return ft_err_set(err, FT_E_INVALID, "fuse weight %g is outside [0, 1]", w);
    const ft_descriptor_net *nr = ft_descriptor_net_find("resnet128");
    const ft_descriptor_net *nf = ft_descriptor_net_find("faceres");
    ft_gallery_policy pr = *pol_resnet, pf = *pol_faceres;
    const char *sr = nr->space(align), *sf = nf->space(align);
    person_d *p = ft_malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return ft_err_set(err, FT_E_NOMEM, "fused match: out of memory");
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const ft_sample *x = &samples[i];
        bool is_r = strcmp(x->model, sr) == 0 && x->dim == nr->dim;
        bool is_f = strcmp(x->model, sf) == 0 && x->dim == nf->dim;
        if (!is_r && !is_f)
            continue;
        double d = ft_descriptor_net_distance(is_r ? nr : nf, x->descriptor, is_r ? qr : qf);
        p[np++] = (person_d){x->person_id, is_r ? d : INFINITY, is_r ? INFINITY : d};
    }
    // One entry per person: the minimum in each space.
    qsort(p, np, sizeof *p, by_id);
    size_t m = 0;
    for (size_t k = 0; k < np; k++) {
        if (m && p[m - 1].id == p[k].id) {
            p[m - 1].dr = fmin(p[m - 1].dr, p[k].dr);
            p[m - 1].df = fmin(p[m - 1].df, p[k].df);
        } else {
            p[m++] = p[k];
        }
    }
    np = m;
    ft_fused_result r;
    memset(&r, 0, sizeof r);
    r.distance = r.second_distance = r.margin = INFINITY;
    r.d_resnet = r.d_faceres = NAN;
    for (size_t k = 0; k < np; k++) {
        double fd = w * p[k].dr / pr.threshold + (1 - w) * p[k].df / pf.threshold;
        if (!isfinite(fd))
            continue; // not in both spaces
        if (fd < r.distance) {
            r.second_person_id = r.person_id;
            r.second_distance = r.distance;
            r.person_id = p[k].id;
            r.distance = fd;
            r.d_resnet = p[k].dr;
            r.d_faceres = p[k].df;
        } else if (fd < r.second_distance) {
            r.second_person_id = p[k].id;
            r.second_distance = fd;
        }
    }
    ft_free(p);
    r.margin = r.second_person_id ? r.second_distance - r.distance : INFINITY;
    r.margin_required = w * pr.margin / pr.threshold + (1 - w) * pf.margin / pf.threshold;
    if (!r.person_id || !(r.distance < 1.0))
        r.status = FT_MATCH_UNKNOWN;
    else if (r.margin < r.margin_required)
        r.status = FT_MATCH_AMBIGUOUS;
    else
        r.status = FT_MATCH_KNOWN;
    *out = r;
    return FT_OK;
}
