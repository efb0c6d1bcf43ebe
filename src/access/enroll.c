// Enrolment samples from photos.
#include "access/enroll.h"

#include "core/mem.h"
#include "core/sha256.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ft_status ft_enroll_sample(const ft_descriptor_models *mm, ft_nn_ctx *ctx, const ft_image *im,
                           const uint8_t *src, size_t src_len, const ft_describe_opts *o,
                           const ft_descriptor_net *net, const ft_gallery_policy *p,
                           ft_sample *sample, float *desc, ft_buf *thumb, bool *below_threshold,
                           ft_err *err)
{
    ft_face f;
    bool low = false;
    ft_describe_opts po = ft_descriptor_net_pipeline(net, o);
    ft_status st =
        ft_face_single(mm->face, ctx, im, &po, FT_SINGLE_FACE_FLOOR, false, &f, &low, err);
    if (st != FT_OK)
        return st;
    // The door refuses faces under the gate; enrolling one would make a
    // sample the door can never use, so refuse it here too. A face found
    // only below the detector threshold is judged by the same gate.
    st = ft_access_quality(&f.box, p, NULL, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_descriptor_net_face(net, mm, ctx, im, &f, o, desc, err)) != FT_OK)
        return st;
    memset(sample, 0, sizeof *sample);
    sample->descriptor = desc;
    sample->dim = (uint32_t)net->dim;
    snprintf(sample->model, sizeof sample->model, "%s", net->space(o->align));
    snprintf(sample->alignment, sizeof sample->alignment, "%s", net->align_name(o->align));
    sample->detector_score = f.box.score;
    sample->face_w = (int32_t)lround(f.box.w);
    sample->face_h = (int32_t)lround(f.box.h);
    if (src && src_len)
        ft_sha256_hex(src, src_len, sample->source_sha256);
    if (ft_face_thumbnail(im, &f.box, FT_THUMB_PX, thumb, NULL) == FT_OK) {
        sample->thumbnail = thumb->data;
        sample->thumbnail_len = thumb->len;
    }
    if (below_threshold)
        *below_threshold = low;
    return FT_OK;
}

// ---- Screening ----

const char *ft_enroll_verdict_str(ft_enroll_verdict_kind k)
{
    return k == FT_ENROLL_DUPLICATE ? "duplicate" : k == FT_ENROLL_CONFLICT ? "conflict" : "new";
}

// The distance of two samples of one registered space; +inf otherwise.
static double sample_distance(const ft_sample *x, const ft_sample *y)
{
    const ft_descriptor_net *d = ft_descriptor_net_of_space(x->model);
    if (!d || strcmp(x->model, y->model) != 0 || x->dim != d->dim || y->dim != d->dim)
        return INFINITY;
    return ft_descriptor_net_distance(d, x->descriptor, y->descriptor);
}

ft_status ft_enroll_screen(ft_gallery *g, int64_t person_id, const ft_gallery_policy *p,
                           const ft_sample *samples, size_t n, ft_enroll_verdict *verdicts,
                           ft_err *err)
{
    ft_sample *all = NULL;
    size_t n_all = 0;
    ft_status st = ft_gallery_samples_list(g, 0, &all, &n_all, err);
    if (st != FT_OK)
        return st;
    for (size_t i = 0; i < n && st == FT_OK; i++) {
        const ft_sample *x = &samples[i];
        ft_enroll_verdict v;
        memset(&v, 0, sizeof v);
        v.kind = FT_ENROLL_NEW;
        v.distance = NAN;
        // Duplicates: the person's own samples, then earlier ones of this
        // batch that are being kept.
        for (size_t k = 0; k < n_all && person_id > 0 && v.kind == FT_ENROLL_NEW; k++) {
            const ft_sample *y = &all[k];
            if (y->person_id != person_id)
                continue;
            bool same_src = x->source_sha256[0] && strcmp(x->source_sha256, y->source_sha256) == 0;
            bool same_space = strcmp(x->model, y->model) == 0;
            double d = sample_distance(x, y);
            if ((same_src && same_space) || d < FT_ENROLL_DUP_DISTANCE) {
                v.kind = FT_ENROLL_DUPLICATE;
                v.dup_sample_id = y->id;
                v.distance = same_src ? 0.0 : d;
            }
        }
        for (size_t k = 0; k < i && v.kind == FT_ENROLL_NEW; k++) {
            const ft_sample *y = &samples[k];
            if (verdicts[k].kind != FT_ENROLL_NEW)
                continue;
            bool same_src = x->source_sha256[0] && strcmp(x->source_sha256, y->source_sha256) == 0;
            bool same_space = strcmp(x->model, y->model) == 0;
            double d = sample_distance(x, y);
            if ((same_src && same_space) || d < FT_ENROLL_DUP_DISTANCE) {
                v.kind = FT_ENROLL_DUPLICATE;
                v.distance = same_src ? 0.0 : d;
            }
        }
        // Conflicts: the nearest sample of anyone else.
        if (v.kind == FT_ENROLL_NEW) {
            double best = INFINITY;
            int64_t who = 0;
            for (size_t k = 0; k < n_all; k++) {
                const ft_sample *y = &all[k];
                if (y->person_id == person_id)
                    continue;
                double d = sample_distance(x, y);
                if (d < best) {
                    best = d;
                    who = y->person_id;
                }
            }
            const ft_descriptor_net *net = ft_descriptor_net_of_space(x->model);
            ft_gallery_policy px = net ? ft_access_policy_for(p, net) : *p;
            double limit = px.threshold + px.margin;
            if (who > 0 && best < limit) {
                ft_person other;
                v.kind = FT_ENROLL_CONFLICT;
                v.other_person_id = who;
                v.distance = best;
                st = ft_gallery_person_get(g, who, &other, err);
                if (st == FT_OK)
                    snprintf(v.other_name, sizeof v.other_name, "%s", other.name);
            }
        }
        verdicts[i] = v;
    }
    ft_free(all);
    return st;
}

ft_status ft_enroll_conflict_error(const ft_enroll_verdict *verdicts, size_t n,
                                   const char *const *labels, const ft_gallery_policy *p,
                                   ft_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const ft_enroll_verdict *v = &verdicts[i];
        if (v->kind != FT_ENROLL_CONFLICT)
            continue;
        char which[300];
        if (labels && labels[i])
            snprintf(which, sizeof which, "%s", labels[i]);
        else
            snprintf(which, sizeof which, "photo %zu", i + 1);
        return ft_err_set(err, FT_E_EXISTS,
                          "%s: the face matches %s (id %lld) at distance %.3f, under the "
                          "threshold %.2f plus margin %.2f: it may be their photo; enrolling it "
                          "would make both people ambiguous at the door (force to enrol anyway)",
                          which, v->other_name, (long long)v->other_person_id, v->distance,
                          p->threshold, p->margin);
    }
    return FT_OK;
}
