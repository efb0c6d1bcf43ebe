// Face tracks: constant-velocity prediction and the association of a
// frame's detections with the live tracks (SORT-style: overlap of the
// predicted box, gated by descriptor distance; greedy assignment, which
// for the few faces in front of a door picks what the Hungarian method
// would). See door.h for the rule in words.
#include "door/door_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double ft_door__iou(double ax, double ay, double aw, double ah, double bx, double by, double bw,
                    double bh)
{
    double x0 = fmax(ax, bx), y0 = fmax(ay, by);
    double x1 = fmin(ax + aw, bx + bw), y1 = fmin(ay + ah, by + bh);
    double iw = x1 - x0, ih = y1 - y0;
    if (!(iw > 0) || !(ih > 0))
        return 0;
    double inter = iw * ih;
    double uni = aw * ah + bw * bh - inter;
    return uni > 0 ? inter / uni : 0;
}

void ft_door__predict(const ft_door__track *tr, double t, ft_face_box *out)
{
    double dt = t - tr->t_last;
    if (!(dt > 0))
        dt = 0;
    // Extrapolate at most half a second: past that the velocity says
    // little, and a wild box would steal another face's detection.
    if (dt > 0.5)
        dt = 0.5;
    out->x = tr->x + tr->vx * dt;
    out->y = tr->y + tr->vy * dt;
    out->w = fmax(1.0, tr->w + tr->vw * dt);
    out->h = fmax(1.0, tr->h + tr->vh * dt);
    out->score = tr->best_score;
}

void ft_door__track_update(ft_door__track *tr, const ft_face_box *b, double t)
{
    double dt = t - tr->t_last;
    if (dt > 1e-6 && tr->frames > 0) {
        // An exponential average of the measured velocity: detections jitter
        // by a few pixels, and raw differences would amplify that.
        const double a = 0.5;
        tr->vx = a * tr->vx + (1 - a) * (b->x - tr->x) / dt;
        tr->vy = a * tr->vy + (1 - a) * (b->y - tr->y) / dt;
        tr->vw = a * tr->vw + (1 - a) * (b->w - tr->w) / dt;
        tr->vh = a * tr->vh + (1 - a) * (b->h - tr->h) / dt;
    }
    tr->x = b->x;
    tr->y = b->y;
    tr->w = b->w;
    tr->h = b->h;
    tr->t_last = t;
}

typedef struct pair {
    double cost;
    int det, track;
} pair;

static int pair_cmp(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->cost != q->cost)
        return p->cost < q->cost ? -1 : 1;
    // Ties: lower indices first, so the result does not depend on qsort.
    if (p->det != q->det)
        return p->det - q->det;
    return p->track - q->track;
}

void ft_door__associate(const ft_door__track *tracks, size_t n_tracks, const ft_door__det *dets,
                        size_t n_det, double t, const ft_door__assoc_opts *o, int *match)
{
    pair pairs[FT_DOOR_MAX_FACES * FT_DOOR_MAX_TRACKS];
    size_t np = 0;
    for (size_t i = 0; i < n_det; i++)
        match[i] = -1;
    for (size_t j = 0; j < n_tracks; j++) {
        ft_face_box p;
        ft_door__predict(&tracks[j], t, &p);
        for (size_t i = 0; i < n_det; i++) {
            const ft_face_box *b = &dets[i].box;
            double iou = ft_door__iou(p.x, p.y, p.w, p.h, b->x, b->y, b->w, b->h);
            double dd = NAN;
            if (dets[i].desc && tracks[j].has_desc)
                dd = ft_descriptor_net_distance(o->net ? o->net : ft_descriptor_net_default(),
                                                dets[i].desc, tracks[j].last_desc);
            // Different faces are never one track.
            if (isfinite(dd) && dd > o->assoc_distance)
                continue;
            double cost;
            if (iou >= o->iou_min) {
                cost = 1.0 - iou;
            } else {
                // Little overlap (a fast move, a low frame rate): join only
                // on a close descriptor and a nearby centre.
                if (!isfinite(dd))
                    continue;
                double cx = (p.x + p.w / 2) - (b->x + b->w / 2);
                double cy = (p.y + p.h / 2) - (b->y + b->h / 2);
                double size = fmax(p.w, p.h);
                if (sqrt(cx * cx + cy * cy) > 1.5 * size)
                    continue;
                cost = 1.0 + dd; // after every overlap-based pair
            }
            if (np < sizeof pairs / sizeof pairs[0])
                pairs[np++] = (pair){cost, (int)i, (int)j};
        }
    }
    qsort(pairs, np, sizeof pairs[0], pair_cmp);
    bool used[FT_DOOR_MAX_TRACKS] = {0};
    for (size_t k = 0; k < np; k++) {
        const pair *p = &pairs[k];
        if (match[p->det] >= 0 || used[p->track])
            continue;
        match[p->det] = p->track;
        used[p->track] = true;
    }
}
