// The door pipeline (see door.h for the rules): one frame in, the faces,
// their tracks, and the decided events out, stored and queued for
// delivery.
#include "door/door_internal.h"

#include "core/clock.h"
#include "core/mem.h"
#include "deliver/deliver.h"
#include "train/model.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct ft_door {
    const ft_face_models *models;
    const ft_descriptor_net *net; // the descriptor space the door matches in
    ft_descriptor_models mm;
    ft_door_opts o;
    struct ft_deliver *deliver;
    pthread_rwlock_t lock; // guards `matrix`
    ft_match_matrix *matrix;
};

// ---- Options ----

ft_door_opts ft_door_opts_default(void)
{
    ft_door_opts o;
    memset(&o, 0, sizeof o);
    o.describe = ft_describe_opts_default();
    o.k = 3;
    o.n = 5;
    o.gap_s = 1.0;
    o.iou_min = 0.3;
    o.assoc_distance = 0; // the descriptor network's track gate (face/descriptor.h)
    o.detect_every = 1;
    o.thumb_px = 160;
    o.redescribe_every = 5;
    o.record = true;
    return o;
}

ft_status ft_door_opts_check(const ft_door_opts *o, ft_err *err)
{
    if (o->n < 1 || o->n > FT_DOOR_MAX_N)
        return ft_err_set(err, FT_E_INVALID, "n must be 1..%d (got %d)", FT_DOOR_MAX_N, o->n);
    if (o->k < 1 || o->k > o->n)
        return ft_err_set(err, FT_E_INVALID, "k must be 1..n (%d) (got %d)", o->n, o->k);
    if (!(o->gap_s > 0 && o->gap_s <= 3600))
        return ft_err_set(err, FT_E_INVALID, "the track gap must be in (0, 3600] s");
    if (!(o->iou_min > 0 && o->iou_min <= 1))
        return ft_err_set(err, FT_E_INVALID, "the IoU gate must be in (0, 1]");
    if (!(o->assoc_distance >= 0))
        return ft_err_set(err, FT_E_INVALID, "the association distance must be >= 0");
    if (o->detect_every < 1 || o->detect_every > 100)
        return ft_err_set(err, FT_E_INVALID, "detect every must be 1..100 frames");
    if (o->redescribe_every < 1 || o->redescribe_every > 100)
        return ft_err_set(err, FT_E_INVALID, "redescribe every must be 1..100 frames");
    if (o->thumb_px < 16 || o->thumb_px > 1024)
        return ft_err_set(err, FT_E_INVALID, "thumbnails must be 16..1024 px");
    if (!o->describe.descriptors ||
        (!o->describe.landmarks &&
         (!o->descriptor || o->descriptor->needs_landmarks)))
        return ft_err_set(err, FT_E_INVALID, "the door needs descriptors (and landmarks for %s)",
                          o->descriptor ? o->descriptor->name : "resnet128");
    return FT_OK;
}

ft_status ft_door_new(const ft_face_models *models, const ft_door_opts *o,
                      struct ft_deliver *deliver, ft_door **out, ft_err *err)
{
    ft_door_opts def = ft_door_opts_default();
    if (!o)
        o = &def;
    ft_status st = ft_door_opts_check(o, err);
    if (st != FT_OK)
        return st;
    ft_door *d = ft_calloc(1, sizeof *d);
    if (!d)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    d->models = models;
    d->o = *o;
    if (!d->o.descriptor)
        d->o.descriptor = ft_descriptor_net_default();
    if (d->o.assoc_distance == 0)
        d->o.assoc_distance = d->o.descriptor->track_gate;
    d->net = d->o.descriptor;
    d->mm = (ft_descriptor_models){models, o->faceres};
    d->deliver = deliver;
    pthread_rwlock_init(&d->lock, NULL);
    *out = d;
    return FT_OK;
}

void ft_door_free(ft_door *d)
{
    if (!d)
        return;
    ft_match_matrix_free(d->matrix);
    pthread_rwlock_destroy(&d->lock);
    ft_free(d);
}

const ft_door_opts *ft_door_opts_get(const ft_door *d)
{
    return &d->o;
}

struct ft_deliver *ft_door_deliver(const ft_door *d)
{
    return d->deliver;
}

// The stored policy of the door's network (its own threshold and margin,
// ft_access_policy_load).
static ft_status door_policy(const ft_door *d, ft_gallery *g, ft_gallery_policy *out, ft_err *err)
{
    return ft_access_policy_load(g, d->net, out, err);
}

// ---- The match matrix ----

ft_status ft_door_matrix_acquire(ft_door *d, ft_gallery *g, const ft_match_matrix **out,
                                 ft_err *err)
{
    ft_status st = FT_OK;
    pthread_rwlock_rdlock(&d->lock);
    bool stale = true;
    if (d->matrix)
        st = ft_gallery_matrix_stale(g, d->matrix, &stale, err);
    if (st == FT_OK && !stale) {
        *out = d->matrix;
        return FT_OK;
    }
    pthread_rwlock_unlock(&d->lock);
    if (st != FT_OK)
        return st;
    pthread_rwlock_wrlock(&d->lock);
    if (!d->matrix) {
        ft_gallery_space sp = ft_access_space(d->net, d->o.describe.align);
        st = ft_gallery_matrix_load(g, &sp, &d->matrix, err);
    }
    else
        st = ft_gallery_matrix_refresh(g, &d->matrix, err);
    // The database is unreachable (a shared gallery's degraded mode,
    // gallery/sync.h): decide from the templates in memory until it is back.
    if (st == FT_E_IO && d->matrix) {
        ft_err_clear(err);
        st = FT_OK;
    }
    pthread_rwlock_unlock(&d->lock);
    if (st != FT_OK)
        return st;
    pthread_rwlock_rdlock(&d->lock);
    *out = d->matrix;
    return FT_OK;
}

void ft_door_matrix_release(ft_door *d)
{
    pthread_rwlock_unlock(&d->lock);
}

// ---- Sources ----

const char *ft_track_state_str(ft_track_state s)
{
    return s == FT_TRACK_GRANTED ? "granted" : s == FT_TRACK_DENIED ? "denied" : "pending";
}

ft_status ft_door_source_new(const char *name, ft_door_mode mode, ft_door_source **out,
                             ft_err *err)
{
    ft_status st = ft_gallery_name_check(name ? name : "", err);
    if (st != FT_OK) {
        ft_err_prefix(err, "source name: ");
        return st;
    }
    ft_door_source *s = ft_calloc(1, sizeof *s);
    if (s)
        s->tracks = ft_calloc(FT_DOOR_MAX_TRACKS, sizeof *s->tracks);
    if (!s || !s->tracks) {
        ft_free(s);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->mode = mode;
    s->record = true;
    s->next_track_id = 1;
    *out = s;
    return FT_OK;
}

void ft_door_source_free(ft_door_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tracks; i++)
        ft_buf_deinit(&s->tracks[i].thumb);
    ft_free(s->tracks);
    ft_free(s);
}

const char *ft_door_source_name(const ft_door_source *s)
{
    return s->name;
}

void ft_door_source_set_record(ft_door_source *s, bool record)
{
    s->record = record;
}

ft_door_mode ft_door_source_mode(const ft_door_source *s)
{
    return s->mode;
}

void ft_door_source_stats_get(const ft_door_source *s, ft_door_source_stats *out)
{
    *out = s->stats;
    out->live_tracks = (int64_t)s->n_tracks;
}

// ---- Per-track decision ----

static void fuse_add(ft_door__track *tr, const float *desc, size_t dim)
{
    double len = 0;
    for (size_t i = 0; i < dim; i++)
        len += (double)desc[i] * desc[i];
    len = sqrt(len);
    if (!(len > 0) || !isfinite(len))
        return;
    for (size_t i = 0; i < dim; i++)
        tr->fused[i] += desc[i] / len;
    tr->fused_len_sum += len;
    tr->n_fused++;
}

// The fused descriptor: the mean direction of the frames' unit
// descriptors, at their mean length (the gallery compares raw face-api
// descriptors by Euclidean distance, so the length matters).
static bool fused_get(const ft_door__track *tr, float *out, size_t dim)
{
    if (tr->n_fused == 0)
        return false;
    double n2 = 0;
    for (size_t i = 0; i < dim; i++)
        n2 += tr->fused[i] * tr->fused[i];
    double norm = sqrt(n2);
    if (!(norm > 0))
        return false;
    double scale = (tr->fused_len_sum / tr->n_fused) / norm;
    for (size_t i = 0; i < dim; i++)
        out[i] = (float)(tr->fused[i] * scale);
    return true;
}

static void ring_push(ft_door__track *tr, int n, int64_t person, ft_access_reason reason)
{
    tr->ring[tr->ring_pos] = (ft_door__obs){person, reason};
    tr->ring_pos = (tr->ring_pos + 1) % n;
    if (tr->ring_len < n)
        tr->ring_len++;
}

// The person most of the last n frames matched, and how many did (ties:
// the most recent frame's person wins).
static int64_t ring_leader(const ft_door__track *tr, int n, int32_t *count)
{
    int64_t best = 0;
    int32_t best_n = 0;
    for (int32_t a = 0; a < tr->ring_len; a++) {
        // From the newest backwards.
        int32_t ia = ((tr->ring_pos - 1 - a) % n + n) % n;
        int64_t p = tr->ring[ia].person_id;
        if (p == 0)
            continue;
        int32_t c = 0;
        for (int32_t b = 0; b < tr->ring_len; b++)
            if (tr->ring[b].person_id == p)
                c++;
        if (c > best_n) {
            best_n = c;
            best = p;
        }
    }
    *count = best_n;
    return best;
}

// What the fused descriptor says (rules 3-4 under the policy). *has is
// false when no frame passed the gate.
typedef struct fused_verdict {
    bool has;
    ft_match_result m;
    ft_access_reason reason; // MATCH, UNKNOWN or AMBIGUOUS
} fused_verdict;

static ft_status fused_match(const ft_door__track *tr, const ft_match_matrix *mx,
                             const ft_gallery_policy *pol, fused_verdict *v, ft_err *err)
{
    memset(v, 0, sizeof *v);
    v->m.distance = v->m.second_distance = v->m.margin = NAN;
    float f[FT_DESCRIPTOR_DIM_MAX];
    size_t dim = ft_match_matrix_dim(mx);
    if (dim > FT_DESCRIPTOR_DIM_MAX || !fused_get(tr, f, dim))
        return FT_OK;
    ft_gallery_policy eff;
    ft_status st = ft_access_match(mx, f, dim, pol, &v->m, &eff, err);
    if (st != FT_OK)
        return st;
    v->has = true;
    if (v->m.person_id == 0 || !(v->m.distance < eff.threshold))
        v->reason = FT_REASON_UNKNOWN;
    else if (!(v->m.margin >= eff.margin))
        v->reason = FT_REASON_AMBIGUOUS;
    else
        v->reason = FT_REASON_MATCH;
    return FT_OK;
}

// ---- Events ----

static void person_name(ft_gallery *g, int64_t id, char *out, size_t cap)
{
    ft_person p;
    out[0] = 0;
    if (id > 0 && ft_gallery_person_get(g, id, &p, NULL) == FT_OK)
        snprintf(out, cap, "%s", p.name);
}

static void event_fill(const ft_door_source *s, const ft_door__track *tr, const fused_verdict *v,
                       ft_gallery *g, double t, ft_event *ev)
{
    ft_event_init(ev);
    snprintf(ev->source, sizeof ev->source, "%s", s->name);
    ev->time = t;
    ev->decision = tr->state == FT_TRACK_GRANTED ? FT_DECISION_GRANTED : FT_DECISION_DENIED;
    ev->person_id = tr->state == FT_TRACK_GRANTED ? tr->person_id : 0;
    snprintf(ev->name_at_time, sizeof ev->name_at_time, "%s",
             tr->state == FT_TRACK_GRANTED ? tr->name : "");
    ev->detector_score = tr->best_score;
    ev->distance = ev->margin = ev->second_distance = NAN;
    if (v->has) {
        ev->distance = v->m.distance;
        ev->margin = v->m.margin;
        ev->nearest_person_id = v->m.person_id;
        person_name(g, v->m.person_id, ev->nearest_name, sizeof ev->nearest_name);
        ev->second_person_id = v->m.second_person_id;
        person_name(g, v->m.second_person_id, ev->second_name, sizeof ev->second_name);
        ev->second_distance = v->m.second_distance;
    }
    ev->track_id = tr->id;
    ev->frames = tr->frames;
    ev->first_seen = tr->t_first;
    ev->thumbnail = tr->thumb.len ? tr->thumb.data : NULL;
    ev->thumbnail_len = tr->thumb.len;
}

static ft_status event_store(ft_door *d, const ft_door_worker *w, const ft_door_source *s,
                             ft_event *ev, ft_err *err)
{
    if (!d->o.record || !s->record)
        return FT_OK;
    const char *const *sinks = NULL;
    size_t n_sinks = ft_deliver_sinks(d->deliver, ev->decision, &sinks);
    ft_status st = ft_gallery_event_add_outbox(w->g, ev, sinks, n_sinks, err);
    // No id: kept in the server's spool while a shared gallery's database
    // is away (gallery/sync.h); its sinks get it now, from memory.
    if (st == FT_OK && n_sinks && ev->id == 0)
        ft_deliver_direct(d->deliver, ev);
    else if (st == FT_OK && n_sinks)
        ft_deliver_kick(d->deliver);
    return st;
}

static void result_event(ft_door_result *res, const ft_event *ev)
{
    if (res->n_events < sizeof res->events / sizeof res->events[0]) {
        res->events[res->n_events] = *ev;
        res->events[res->n_events].thumbnail = NULL;
        res->n_events++;
    }
}

// The denial reason of a track that ends undecided (door.h).
static ft_access_reason end_reason(const ft_door__track *tr, const fused_verdict *v)
{
    if (!v->has)
        return tr->n_small >= tr->n_low_score ? FT_REASON_FACE_TOO_SMALL : FT_REASON_LOW_SCORE;
    if (v->reason == FT_REASON_MATCH)
        return FT_REASON_NOT_CONFIRMED;
    return v->reason;
}

// Ends track i (denied if undecided, recorded) and removes it. On a store
// failure the track stays, to be ended again later (fail closed: nothing
// is reported that is not stored).
static ft_status track_end(ft_door *d, const ft_door_worker *w, ft_door_source *s, size_t i,
                           const ft_match_matrix *mx, const ft_gallery_policy *pol, double t,
                           ft_door_result *res, ft_err *err)
{
    ft_door__track *tr = &s->tracks[i];
    if (tr->state == FT_TRACK_PENDING) {
        fused_verdict v;
        ft_status st = fused_match(tr, mx, pol, &v, err);
        if (st != FT_OK)
            return st;
        tr->state = FT_TRACK_DENIED;
        ft_event ev;
        event_fill(s, tr, &v, w->g, t, &ev);
        snprintf(ev.reason, sizeof ev.reason, "%s", ft_access_reason_str(end_reason(tr, &v)));
        st = event_store(d, w, s, &ev, err);
        if (st != FT_OK) {
            tr->state = FT_TRACK_PENDING;
            return st;
        }
        s->stats.denied++;
        result_event(res, &ev);
    }
    ft_buf_deinit(&tr->thumb);
    s->tracks[i] = s->tracks[s->n_tracks - 1];
    memset(&s->tracks[s->n_tracks - 1], 0, sizeof s->tracks[0]);
    s->n_tracks--;
    return FT_OK;
}

// Grants track tr if the k-of-n and fused rules hold (door.h).
static ft_status track_try_grant(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                                 ft_door__track *tr, const ft_match_matrix *mx,
                                 const ft_gallery_policy *pol, double t, ft_door_result *res,
                                 ft_err *err)
{
    int k = s->mode == FT_DOOR_STILL ? 1 : d->o.k;
    int n = s->mode == FT_DOOR_STILL ? 1 : d->o.n;
    int32_t count;
    int64_t leader = ring_leader(tr, n, &count);
    if (leader == 0 || count < k)
        return FT_OK;
    fused_verdict v;
    ft_status st = fused_match(tr, mx, pol, &v, err);
    if (st != FT_OK || !v.has || v.reason != FT_REASON_MATCH || v.m.person_id != leader)
        return st;
    ft_person p;
    st = ft_gallery_person_get(w->g, leader, &p, err);
    if (st == FT_E_NOT_FOUND) {
        // The matrix predates a deletion: a person who is gone is not let
        // in (the matrix reloads on the next frame).
        ft_err_clear(err);
        return FT_OK;
    }
    if (st != FT_OK)
        return st;
    tr->state = FT_TRACK_GRANTED;
    tr->person_id = leader;
    snprintf(tr->name, sizeof tr->name, "%s", p.name);
    ft_event ev;
    event_fill(s, tr, &v, w->g, t, &ev);
    snprintf(ev.reason, sizeof ev.reason, "%s", ft_access_reason_str(FT_REASON_MATCH));
    st = event_store(d, w, s, &ev, err);
    if (st != FT_OK) {
        tr->state = FT_TRACK_PENDING; // fail closed: not granted
        tr->person_id = 0;
        tr->name[0] = 0;
        return st;
    }
    s->stats.granted++;
    result_event(res, &ev);
    return FT_OK;
}

// ---- One frame ----

typedef struct frame_face {
    ft_face_box box;
    float desc[FT_DESCRIPTOR_DIM_MAX]; // the door's network's length
    bool has_desc;
    bool skipped; // not described: it is a decided track's face, described lately
    ft_access_decision fd;
    int track; // index in s->tracks after association, -1 if none
} frame_face;

static void face_out(const ft_door__track *tr, const frame_face *f, ft_door_face *o, int n)
{
    memset(o, 0, sizeof *o);
    o->box = f->box;
    o->described = !f->skipped;
    o->frame = f->fd;
    if (!tr)
        return;
    o->track_id = tr->id;
    o->state = tr->state;
    o->person_id = tr->person_id;
    snprintf(o->name, sizeof o->name, "%s", tr->name);
    o->frames = tr->frames;
    ring_leader(tr, n, &o->matches);
}

// Detects and describes; fills faces[] (at most FT_DOOR_MAX_FACES) with
// each face's own decision.
// Whether a face at box b at time t belongs, beyond doubt, to a decided
// track whose descriptor is recent: it overlaps the track's predicted box
// by IoU >= 0.5 and the track was described on one of its last
// redescribe_every detected frames. Such a face needs no new descriptor:
// its passage is decided, and within a few frames it is described again,
// so a different person taking its place is told apart (the descriptor
// gate splits the track) before long.
static bool decided_face(const ft_door *d, const ft_door_source *s, const ft_face_box *b, double t)
{
    if (!s || d->o.redescribe_every <= 1)
        return false;
    for (size_t j = 0; j < s->n_tracks; j++) {
        const ft_door__track *tr = &s->tracks[j];
        if (tr->state == FT_TRACK_PENDING || tr->since_desc + 1 >= d->o.redescribe_every)
            continue;
        ft_face_box p;
        ft_door__predict(tr, t, &p);
        if (ft_door__iou(p.x, p.y, p.w, p.h, b->x, b->y, b->w, b->h) >= 0.5)
            return true;
    }
    return false;
}

static ft_status detect_describe(ft_door *d, const ft_door_worker *w, const ft_door_source *s,
                                 const ft_image *im, double t, const ft_gallery_policy *pol,
                                 frame_face *faces, size_t *n_out, ft_door_result *res,
                                 ft_err *err)
{
    ft_face_box boxes[FT_DOOR_MAX_FACES];
    size_t n = 0;
    double t0 = ft_now_ms();
    ft_status st;
    if (w->fm) {
        // The trained single-face model: one box when its score passes.
        ft_fm_pred p;
        st = ft_fmodel_predict(w->fm, im, &p, err);
        if (st == FT_OK && p.score > d->o.describe.detect.min_score) {
            boxes[0] = (ft_face_box){p.box[0] * im->w, p.box[1] * im->h,
                                     (p.box[2] - p.box[0]) * im->w, (p.box[3] - p.box[1]) * im->h,
                                     p.score};
            n = 1;
        }
    } else {
        st = ft_detect(d->models, w->nn, im, &d->o.describe.detect, boxes, FT_DOOR_MAX_FACES, &n,
                       NULL, err);
    }
    if (st != FT_OK)
        return st;
    double t1 = ft_now_ms();
    res->detect_ms = t1 - t0;
    if (n > FT_DOOR_MAX_FACES)
        n = FT_DOOR_MAX_FACES;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        frame_face *f = &faces[k];
        memset(f, 0, sizeof *f);
        f->box = boxes[i];
        f->track = -1;
        // Faces the gate refuses are not described: their decision does
        // not need a descriptor, and landmarks of a 30 px face are noise.
        bool gate = ft_access_quality(&f->box, pol, NULL, NULL) == FT_OK;
        if (gate && decided_face(d, s, &f->box, t)) {
            f->skipped = true;
        } else if (gate) {
            // The 68-point net only for a network whose crop needs it
            // (faceres cuts its crop from the box alone).
            ft_face face;
            memset(&face, 0, sizeof face);
            face.box = f->box;
            double a = ft_now_ms();
            st = FT_OK;
            if (d->net->needs_landmarks) {
                ft_face_box lb =
                    w->fm ? f->box : ft_landmark_box(d->o.describe.detect.kind, &f->box);
                st = ft_landmarks(d->models, w->nn, im, &lb, d->o.describe.tiny_landmarks,
                                  face.landmarks, err);
                face.has_landmarks = st == FT_OK;
            }
            double b = ft_now_ms();
            if (st == FT_OK)
                st = d->net->describe(&d->mm, w->nn, im, &face, &d->o.describe, f->desc, err);
            res->landmarks_ms += b - a;
            res->descriptor_ms += ft_now_ms() - b;
            if (st == FT_E_INVALID) {
                // A box that does not overlap the image has no crop.
                ft_err_clear(err);
                continue;
            }
            if (st != FT_OK)
                return st;
            f->has_desc = true;
            res->n_described++;
        }
        k++;
    }
    res->describe_ms = ft_now_ms() - t1;
    *n_out = k;
    return FT_OK;
}

static void thumb_update(const ft_door *d, ft_door__track *tr, const ft_image *im,
                         const ft_face_box *b)
{
    double q = fmin(b->w, b->h) * b->score;
    if (q <= tr->thumb_quality && tr->thumb.len)
        return;
    if (ft_face_thumbnail(im, b, d->o.thumb_px, &tr->thumb, NULL) != FT_OK ||
        tr->thumb.len > FT_GALLERY_THUMB_MAX)
        tr->thumb.len = 0;
    else
        tr->thumb_quality = q;
}

// The frame after detection: faces[0..nf) (NULL when the detector did
// not run on this frame) through decisions, tracks and events.
static ft_status frame_run(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                           const ft_image *im, frame_face *faces, size_t nf, bool detect,
                           const ft_gallery_policy *polp, double t, double t_start,
                           ft_door_result *res, ft_err *err);

static void result_start(ft_door_result *res, int32_t w, int32_t h)
{
    memset(res, 0, offsetof(ft_door_result, faces));
    res->n_faces = res->n_events = res->n_described = 0;
    res->detect_ms = res->describe_ms = res->total_ms = 0;
    res->landmarks_ms = res->descriptor_ms = 0;
    res->width = w;
    res->height = h;
}

ft_status ft_door_frame(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                        const ft_image *im, double t, ft_door_result *res, ft_err *err)
{
    double t_start = ft_now_ms();
    result_start(res, im->w, im->h);
    ft_gallery_policy pol;
    ft_status st = door_policy(d, w->g, &pol, err);
    if (st != FT_OK)
        return st;
    bool detect = s->mode == FT_DOOR_STILL || s->frame_count % d->o.detect_every == 0;
    frame_face *faces = NULL;
    size_t nf = 0;
    if (detect) {
        faces = ft_malloc(sizeof *faces * FT_DOOR_MAX_FACES);
        if (!faces)
            return ft_err_set(err, FT_E_NOMEM, "out of memory");
        st = detect_describe(d, w, s, im, t, &pol, faces, &nf, res, err);
    }
    if (st == FT_OK)
        st = frame_run(d, w, s, im, faces, nf, detect, &pol, t, t_start, res, err);
    ft_free(faces);
    return st;
}

ft_status ft_door_frame_faces(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                              const ft_image *im, int32_t width, int32_t height,
                              const ft_door_face_in *in, size_t n, double t, ft_door_result *res,
                              ft_err *err)
{
    double t_start = ft_now_ms();
    result_start(res, width, height);
    ft_gallery_policy pol;
    ft_status st = door_policy(d, w->g, &pol, err);
    if (st != FT_OK)
        return st;
    bool detect = in != NULL;
    if (n > FT_DOOR_MAX_FACES)
        n = FT_DOOR_MAX_FACES;
    frame_face *faces = ft_malloc(sizeof *faces * FT_DOOR_MAX_FACES);
    if (!faces)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        memset(&faces[i], 0, sizeof faces[i]);
        faces[i].box = in[i].box;
        faces[i].track = -1;
        // As the door's own detection: faces the gate refuses are not
        // described.
        if (in[i].descriptor && ft_access_quality(&in[i].box, &pol, NULL, NULL) == FT_OK) {
            memcpy(faces[i].desc, in[i].descriptor, d->net->dim * sizeof(float));
            faces[i].has_desc = true;
        }
    }
    st = frame_run(d, w, s, im, faces, detect ? n : 0, detect, &pol, t, t_start, res, err);
    ft_free(faces);
    return st;
}

static ft_status frame_run(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                           const ft_image *im, frame_face *faces, size_t nf, bool detect,
                           const ft_gallery_policy *polp, double t, double t_start,
                           ft_door_result *res, ft_err *err)
{
    ft_status st = FT_OK;
    ft_gallery_policy pol = *polp;
    s->stats.frames++;
    bool still = s->mode == FT_DOOR_STILL;
    int n_ring = still ? 1 : d->o.n;
    s->frame_count++;
    res->detected = detect;
    if (detect)
        s->stats.detected_frames++;
    const ft_match_matrix *mx = NULL;
    if ((st = ft_door_matrix_acquire(d, w->g, &mx, err)) != FT_OK) {
        mx = NULL;
        goto done;
    }
    // Each face's own decision (rules 1-5).
    for (size_t i = 0; i < nf && st == FT_OK; i++) {
        ft_match_result mr;
        if (faces[i].skipped) {
            // Its track's decision stands; this frame adds nothing to it.
            memset(&faces[i].fd, 0, sizeof faces[i].fd);
            faces[i].fd.decision = FT_DECISION_DENIED;
            faces[i].fd.reason = FT_REASON_MATCH;
            faces[i].fd.distance = faces[i].fd.margin = NAN;
            faces[i].fd.detector_score = faces[i].box.score;
        } else if (faces[i].has_desc) {
            ft_gallery_policy eff;
            st = ft_access_match(mx, faces[i].desc, d->net->dim, &pol, &mr, &eff, err);
            if (st == FT_OK)
                ft_access_decide(&faces[i].box, &mr, &eff, &faces[i].fd);
        } else {
            ft_access_decide(&faces[i].box, NULL, &pol, &faces[i].fd);
        }
    }
    if (st != FT_OK)
        goto done;

    // Association: in a still photo every face is its own passage.
    int match[FT_DOOR_MAX_FACES];
    for (size_t i = 0; i < nf; i++)
        match[i] = -1;
    if (!still && nf) {
        ft_door__det dets[FT_DOOR_MAX_FACES];
        for (size_t i = 0; i < nf; i++)
            dets[i] = (ft_door__det){faces[i].box, faces[i].has_desc ? faces[i].desc : NULL};
        ft_door__assoc_opts ao = {d->o.iou_min, d->o.assoc_distance, d->net};
        ft_door__associate(s->tracks, s->n_tracks, dets, nf, t, &ao, match);
    }
    for (size_t j = 0; j < s->n_tracks; j++)
        s->tracks[j].seen_now = false;
    for (size_t i = 0; i < nf; i++) {
        int j = match[i];
        if (j < 0) {
            if (s->n_tracks >= FT_DOOR_MAX_TRACKS)
                continue; // untracked this frame; it will start a track later
            j = (int)s->n_tracks++;
            ft_door__track *tr = &s->tracks[j];
            memset(tr, 0, sizeof *tr);
            ft_buf_init(&tr->thumb, 0);
            tr->id = s->next_track_id++;
            tr->t_first = tr->t_last = t;
            s->stats.tracks++;
        }
        ft_door__track *tr = &s->tracks[j];
        faces[i].track = j;
        ft_door__track_update(tr, &faces[i].box, t);
        tr->seen_now = true;
        if (faces[i].skipped) {
            tr->since_desc++;
            continue;
        }
        tr->since_desc = 0;
        tr->frames++;
        if (faces[i].box.score > tr->best_score)
            tr->best_score = faces[i].box.score;
        if (faces[i].has_desc) {
            memcpy(tr->last_desc, faces[i].desc, sizeof tr->last_desc);
            tr->has_desc = true;
        }
        const ft_access_decision *fd = &faces[i].fd;
        if (fd->reason == FT_REASON_FACE_TOO_SMALL)
            tr->n_small++;
        else if (fd->reason == FT_REASON_LOW_SCORE)
            tr->n_low_score++;
        else if (faces[i].has_desc)
            fuse_add(tr, faces[i].desc, d->net->dim);
        ring_push(tr, n_ring, fd->decision == FT_DECISION_GRANTED ? fd->person_id : 0,
                  fd->reason);
        if (im)
            thumb_update(d, tr, im, &faces[i].box);
    }
    // Decide: grants first, for every track that gained a frame.
    for (size_t j = 0; j < s->n_tracks && st == FT_OK; j++)
        if (s->tracks[j].seen_now && s->tracks[j].state == FT_TRACK_PENDING)
            st = track_try_grant(d, w, s, &s->tracks[j], mx, &pol, t, res, err);
    if (st != FT_OK)
        goto done;
    // The faces of this frame, as the tracks now stand (before tracks end:
    // the indices stay valid).
    if (detect) {
        for (size_t i = 0; i < nf && res->n_faces < FT_DOOR_MAX_FACES; i++)
            face_out(faces[i].track >= 0 ? &s->tracks[faces[i].track] : NULL, &faces[i],
                     &res->faces[res->n_faces++], n_ring);
    } else {
        for (size_t j = 0; j < s->n_tracks && res->n_faces < FT_DOOR_MAX_FACES; j++) {
            const ft_door__track *tr = &s->tracks[j];
            if (t - tr->t_last > d->o.gap_s)
                continue;
            ft_door_face *o = &res->faces[res->n_faces++];
            memset(o, 0, sizeof *o);
            ft_door__predict(tr, t, &o->box);
            o->track_id = tr->id;
            o->state = tr->state;
            o->person_id = tr->person_id;
            snprintf(o->name, sizeof o->name, "%s", tr->name);
            o->frames = tr->frames;
            o->frame.distance = o->frame.margin = NAN;
            ring_leader(tr, n_ring, &o->matches);
        }
    }
    // End the tracks that are over: all of them in a still photo, the ones
    // unseen for longer than the gap in a stream.
    for (size_t j = s->n_tracks; j-- > 0 && st == FT_OK;)
        if (still || t - s->tracks[j].t_last > d->o.gap_s)
            st = track_end(d, w, s, j, mx, &pol, t, res, err);
done:
    if (mx)
        ft_door_matrix_release(d);
    res->total_ms = ft_now_ms() - t_start;
    return st;
}

ft_status ft_door_flush(ft_door *d, const ft_door_worker *w, ft_door_source *s, double t,
                        ft_door_result *res, ft_err *err)
{
    result_start(res, 0, 0);
    if (s->n_tracks == 0)
        return FT_OK;
    ft_gallery_policy pol;
    ft_status st = door_policy(d, w->g, &pol, err);
    if (st != FT_OK)
        return st;
    const ft_match_matrix *mx;
    if ((st = ft_door_matrix_acquire(d, w->g, &mx, err)) != FT_OK)
        return st;
    for (size_t j = s->n_tracks; j-- > 0 && st == FT_OK;)
        st = track_end(d, w, s, j, mx, &pol, t, res, err);
    ft_door_matrix_release(d);
    return st;
}

// ---- Drawing ----

void ft_door_draw(ft_image *im, const ft_door_result *res)
{
    int32_t scale = im->w >= 1280 ? 3 : im->w >= 480 ? 2 : 1;
    int32_t thick = im->w >= 1280 ? 3 : 2;
    for (size_t i = 0; i < res->n_faces; i++) {
        const ft_door_face *f = &res->faces[i];
        uint32_t colour = f->state == FT_TRACK_GRANTED  ? 0x22c55e
                          : f->state == FT_TRACK_DENIED ? 0xef4444
                                                        : 0xf59e0b;
        int32_t x = (int32_t)lround(f->box.x), y = (int32_t)lround(f->box.y);
        ft_draw_rect(im, x, y, (int32_t)lround(f->box.w), (int32_t)lround(f->box.h), colour,
                     thick);
        char label[160];
        if (f->state == FT_TRACK_GRANTED)
            snprintf(label, sizeof label, "#%lld %s", (long long)f->track_id, f->name);
        else if (f->described && f->frame.reason != FT_REASON_MATCH &&
                 f->frame.reason != FT_REASON_UNKNOWN && f->frame.reason != FT_REASON_AMBIGUOUS)
            snprintf(label, sizeof label, "#%lld %s", (long long)f->track_id,
                     ft_access_reason_str(f->frame.reason));
        else
            snprintf(label, sizeof label, "#%lld", (long long)f->track_id);
        int32_t th = ft_draw_text_height(scale) + 4;
        int32_t tw = ft_draw_text_width(label, scale) + 4;
        int32_t ty = y - th >= 0 ? y - th : y;
        ft_draw_fill(im, x, ty, tw, th, colour);
        ft_draw_text(im, x + 2, ty + 2, label, 0x000000, scale);
    }
}
