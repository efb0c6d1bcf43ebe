// The access decision: quality gate, match rules and the event (see
// access.h).
#include "access/access.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *ft_access_reason_str(ft_access_reason r)
{
    switch (r) {
    case FT_REASON_MATCH:
        return "match";
    case FT_REASON_UNKNOWN:
        return "unknown";
    case FT_REASON_AMBIGUOUS:
        return "ambiguous";
    case FT_REASON_FACE_TOO_SMALL:
        return "face too small";
    case FT_REASON_LOW_SCORE:
        return "low detector score";
    case FT_REASON_NOT_CONFIRMED:
        return "not confirmed";
    }
    return "unknown";
}

ft_status ft_access_quality(const ft_face_box *box, const ft_gallery_policy *p,
                            ft_access_reason *reason, ft_err *err)
{
    double side = fmin(box->w, box->h);
    // NaN sizes or scores fail the gate rather than slip through it.
    if (!(side >= p->min_face_px)) {
        if (reason)
            *reason = FT_REASON_FACE_TOO_SMALL;
        return ft_err_set(err, FT_E_QUALITY, "face too small: %.0fx%.0f px, need at least %.0f px",
                          box->w, box->h, p->min_face_px);
    }
    if (!(box->score >= p->min_detector_score)) {
        if (reason)
            *reason = FT_REASON_LOW_SCORE;
        return ft_err_set(err, FT_E_QUALITY, "low detector score: %.3f, need at least %.3f",
                          box->score, p->min_detector_score);
    }
    return FT_OK;
}

void ft_access_decide(const ft_face_box *box, const ft_match_result *match,
                      const ft_gallery_policy *p, ft_access_decision *out)
{
    ft_access_decision d;
    memset(&d, 0, sizeof d);
    d.decision = FT_DECISION_DENIED;
    d.distance = d.margin = NAN;
    d.detector_score = box->score;
    ft_access_reason r;
    if (ft_access_quality(box, p, &r, NULL) != FT_OK) {
        d.reason = r;
        *out = d;
        return;
    }
    FT_ASSERT(match != NULL);
    d.nearest_person_id = match->person_id;
    d.distance = match->distance;
    d.margin = match->margin;
    // !(a < b) rather than a >= b: a NaN distance is unknown, not granted.
    if (match->person_id == 0 || !(match->distance < p->threshold))
        d.reason = FT_REASON_UNKNOWN;
    else if (!(match->margin >= p->margin))
        d.reason = FT_REASON_AMBIGUOUS;
    else {
        d.reason = FT_REASON_MATCH;
        d.decision = FT_DECISION_GRANTED;
        d.person_id = match->person_id;
    }
    *out = d;
}

ft_status ft_access_match(const ft_match_matrix *m, const float *desc, size_t dim,
                          const ft_gallery_policy *p, ft_match_result *mr, ft_gallery_policy *eff,
                          ft_err *err)
{
    ft_status st = ft_match(m, desc, dim, p->threshold, p->margin, mr, err);
    if (st != FT_OK)
        return st;
    *eff = *p;
    // Only a match that would be known gets the person's threshold: one
    // already refused by the margin stays "ambiguous", the more telling
    // reason (two enrolled people that close are why the threshold shrinks).
    if (p->person_cap > 0 && mr->person_id != 0 && mr->distance < p->threshold &&
        mr->margin >= p->margin) {
        double dp;
        if ((st = ft_match_person_nearest(m, mr->person_id, &dp, err)) != FT_OK)
            return st;
        if (p->person_cap * dp < eff->threshold)
            eff->threshold = p->person_cap * dp;
        // The match's own verdict under the person's threshold.
        if (!(mr->distance < eff->threshold))
            mr->status = FT_MATCH_UNKNOWN;
    }
    return FT_OK;
}

ft_status ft_access_record(ft_gallery *g, ft_access_decision *d, const char *source, double time,
                           const uint8_t *thumbnail, size_t thumbnail_len, ft_err *err)
{
    ft_event ev;
    memset(&ev, 0, sizeof ev);
    if (!source || strlen(source) >= sizeof ev.source)
        return ft_err_set(err, FT_E_INVALID, "access event: source missing or longer than %d bytes",
                          FT_GALLERY_NAME_MAX);
    snprintf(ev.source, sizeof ev.source, "%s", source);
    snprintf(ev.reason, sizeof ev.reason, "%s", ft_access_reason_str(d->reason));
    ev.time = time;
    ev.decision = d->decision;
    ev.person_id = d->person_id; // denied: unknown (NULL); the distance still says how close
    snprintf(ev.name_at_time, sizeof ev.name_at_time, "%s", d->name);
    ev.distance = d->distance;
    ev.margin = d->margin;
    ev.detector_score = d->detector_score;
    ev.thumbnail = thumbnail;
    ev.thumbnail_len = thumbnail_len;
    ft_status st = ft_gallery_event_add(g, &ev, err);
    if (st != FT_OK)
        return st;
    d->event_id = ev.id;
    return FT_OK;
}

ft_status ft_access_check(ft_gallery *g, const ft_match_matrix *m, const ft_gallery_policy *p,
                          const ft_access_request *rq, ft_access_decision *out, ft_err *err)
{
    ft_status st = ft_gallery_policy_check(p, err);
    if (st != FT_OK)
        return st;
    ft_access_decision d;
    ft_match_result mr;
    ft_gallery_policy eff = *p;
    bool matched = false;
    if (ft_access_quality(&rq->box, p, NULL, NULL) == FT_OK) {
        if (!rq->descriptor)
            return ft_err_set(err, FT_E_INVALID, "access check: no descriptor");
        if ((st = ft_access_match(m, rq->descriptor, rq->descriptor_dim, p, &mr, &eff, err)) !=
            FT_OK)
            return st;
        matched = true;
    }
    ft_access_decide(&rq->box, matched ? &mr : NULL, &eff, &d);
    if (d.decision == FT_DECISION_GRANTED) {
        ft_person person;
        // The matrix may predate a deletion: a person who is gone is not
        // let in.
        st = ft_gallery_person_get(g, d.person_id, &person, err);
        if (st == FT_E_NOT_FOUND) {
            d.decision = FT_DECISION_DENIED;
            d.reason = FT_REASON_UNKNOWN;
            d.person_id = 0;
        } else if (st != FT_OK) {
            return st;
        } else {
            snprintf(d.name, sizeof d.name, "%s", person.name);
        }
    }
    if ((st = ft_access_record(g, &d, rq->source, rq->time, rq->thumbnail, rq->thumbnail_len,
                               err)) != FT_OK)
        return st;
    *out = d;
    return FT_OK;
}

ft_gallery_space ft_access_space(const ft_descriptor_net *d, ft_align_mode a)
{
    return (ft_gallery_space){d->space(a), d->dim,
                              d->metric == FT_DESC_COSINE ? FT_METRIC_COSINE : FT_METRIC_EUCLIDEAN};
}

ft_policy_space ft_access_policy_space(const ft_descriptor_net *d)
{
    return (ft_policy_space){d->name,           d->legacy_policy_keys, d->threshold,
                             d->margin,         d->safe_threshold,     d->threshold_max};
}

ft_status ft_access_policy_load(ft_gallery *g, const ft_descriptor_net *d, ft_gallery_policy *out,
                                ft_err *err)
{
    ft_policy_space sp = ft_access_policy_space(d ? d : ft_descriptor_net_default());
    return ft_gallery_policy_load_for(g, &sp, out, err);
}
