// Enrolment samples from photos.
#include "access/enroll.h"

#include "core/mem.h"
#include "core/sha256.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *ft_enroll_detector(const ft_face *f)
{
    // ft_face_single falls back to another detector when the one asked
    // for finds nothing (face.h); the face says which one found it.
    return ft_detector_name(f->detector);
}

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
    snprintf(sample->detector, sizeof sample->detector, "%s",
             ft_enroll_detector(&f));
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

ft_status ft_enroll_region(const ft_image *im, const ft_face_box *b, ft_buf *region, float box[4],
                           ft_err *err)
{
    double side = fmax(b->w, b->h) * FT_ENROLL_REGION_EXTENT;
    double cx = b->x + b->w / 2, cy = b->y + b->h / 2;
    int32_t x0 = (int32_t)floor(cx - side / 2), y0 = (int32_t)floor(cy - side / 2);
    int32_t x1 = (int32_t)ceil(cx + side / 2), y1 = (int32_t)ceil(cy + side / 2);
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > im->w)
        x1 = im->w;
    if (y1 > im->h)
        y1 = im->h;
    if (x1 - x0 < 2 || y1 - y0 < 2)
        return ft_err_set(err, FT_E_INVALID, "face region: the box is outside the photo");
    ft_image crop;
    ft_status st = ft_image_crop(im, x0, y0, x1 - x0, y1 - y0, &crop);
    if (st != FT_OK)
        return ft_err_set(err, st, "face region: cannot crop");
    // Quality 95: the spaces are computed again from these pixels later
    // (facetracker gallery reindex), so keep them close to the photo's.
    region->len = 0;
    st = ft_image_encode_jpeg(&crop, 95, region, err);
    ft_image_deinit(&crop);
    if (st != FT_OK)
        return st;
    if (region->len > FT_GALLERY_THUMB_MAX)
        return ft_err_set(err, FT_E_LIMIT, "face region: %zu bytes is over %u", region->len,
                          FT_GALLERY_THUMB_MAX);
    box[0] = (float)(b->x - x0);
    box[1] = (float)(b->y - y0);
    box[2] = (float)b->w;
    box[3] = (float)b->h;
    return FT_OK;
}

ft_status ft_enroll_samples(const ft_descriptor_models *mm, ft_nn_ctx *ctx, const ft_image *im,
                            const uint8_t *src, size_t src_len, const ft_describe_opts *o,
                            const ft_descriptor_net *const *nets, size_t n_nets,
                            const ft_gallery_policy *p, ft_sample *out, float *descs,
                            ft_buf *thumb, ft_buf *region, bool *below_threshold, ft_err *err)
{
    ft_face f;
    bool low = false;
    if (n_nets == 0)
        return ft_err_set(err, FT_E_INVALID, "enrolment: no descriptor network");
    // One pass of the pipeline serves every network: landmarks if any
    // needs them, the ResNet's vector if it is one of them.
    ft_describe_opts po = ft_descriptor_net_pipeline(nets[0], o);
    for (size_t i = 1; i < n_nets; i++) {
        ft_describe_opts pi = ft_descriptor_net_pipeline(nets[i], o);
        po.landmarks |= pi.landmarks;
        po.descriptors |= pi.descriptors;
        po.align_kps |= pi.align_kps;
    }
    ft_status st =
        ft_face_single(mm->face, ctx, im, &po, FT_SINGLE_FACE_FLOOR, false, &f, &low, err);
    if (st != FT_OK)
        return st;
    if ((st = ft_access_quality(&f.box, p, NULL, err)) != FT_OK)
        return st;
    char sha[65] = "";
    if (src && src_len)
        ft_sha256_hex(src, src_len, sha);
    const char *det = ft_enroll_detector(&f);
    float rbox[4] = {0, 0, 0, 0};
    bool have_region = ft_enroll_region(im, &f.box, region, rbox, NULL) == FT_OK;
    bool have_thumb = ft_face_thumbnail(im, &f.box, FT_THUMB_PX, thumb, NULL) == FT_OK;
    for (size_t i = 0; i < n_nets; i++) {
        float *d = descs + i * FT_DESCRIPTOR_DIM_MAX;
        if ((st = ft_descriptor_net_face(nets[i], mm, ctx, im, &f, o, d, err)) != FT_OK)
            return st;
        ft_sample *x = &out[i];
        memset(x, 0, sizeof *x);
        x->descriptor = d;
        x->dim = (uint32_t)nets[i]->dim;
        snprintf(x->model, sizeof x->model, "%s", nets[i]->space(o->align));
        snprintf(x->alignment, sizeof x->alignment, "%s", nets[i]->align_name(o->align));
        x->detector_score = f.box.score;
        snprintf(x->detector, sizeof x->detector, "%s", det);
        x->face_w = (int32_t)lround(f.box.w);
        x->face_h = (int32_t)lround(f.box.h);
        memcpy(x->source_sha256, sha, sizeof sha);
        if (have_thumb) {
            x->thumbnail = thumb->data;
            x->thumbnail_len = thumb->len;
        }
        if (have_region) {
            x->region = region->data;
            x->region_len = region->len;
            memcpy(x->region_box, rbox, sizeof rbox);
        }
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
// *dup (may be NULL) gets that space's duplicate distance.
static double sample_distance(const ft_sample *x, const ft_sample *y, double *dup)
{
    if (dup)
        *dup = FT_ENROLL_DUP_DISTANCE;
    const ft_descriptor_net *d = ft_descriptor_net_of_space(x->model);
    if (!d || strcmp(x->model, y->model) != 0 || x->dim != d->dim || y->dim != d->dim)
        return INFINITY;
    if (dup)
        *dup = d->dup_distance;
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
            double dup;
            double d = sample_distance(x, y, &dup);
            if ((same_src && same_space) || d < dup) {
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
            double dup;
            double d = sample_distance(x, y, &dup);
            if ((same_src && same_space) || d < dup) {
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
                double d = sample_distance(x, y, NULL);
                if (d < best) {
                    best = d;
                    who = y->person_id;
                }
            }
            const ft_descriptor_net *net = ft_descriptor_net_of_space(x->model);
            ft_gallery_policy px = *p;
            if (who > 0 && net && (st = ft_access_policy_load(g, net, &px, err)) != FT_OK)
                break;
            double limit = px.threshold + px.margin;
            if (who > 0 && best < limit) {
                ft_person other;
                v.kind = FT_ENROLL_CONFLICT;
                v.other_person_id = who;
                v.distance = best;
                v.threshold = px.threshold;
                v.margin = px.margin;
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
                          v->threshold > 0 ? v->threshold : p->threshold,
                          v->threshold > 0 ? v->margin : p->margin);
    }
    return FT_OK;
}
