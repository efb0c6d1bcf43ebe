// The HTTP adapters of the door pipeline (src/door): POST /api/v1/access
// (a still photo, or a frame of the Live tab's stream source), the
// prototype's POST /api/prediction, the cameras the server watches
// (/api/v1/cameras), and the door's start and stop with the server. Every
// decision is made by ft_door_frame; nothing here decides.
#include "http/http_internal.h"
#include "http/multipart.h"

#include "core/clock.h"
#include "core/mem.h"
#include "deliver/deliver.h"
#include "door/door.h"
#include "gallery/sync.h"
#include "source/source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

// A stream source the Live tab stopped sending to is flushed (its tracks
// end, undecided ones are logged as denied) after this long.
#define LIVE_IDLE_MS 30000.0

static ft_server *srv(ft_http_req *r)
{
    return r->app;
}

static ft_wctx *wc(ft_http_req *r)
{
    return r->tctx;
}

// ---- Start and stop ----

static void camera_free(struct ft_camera *c)
{
    ft_watcher_stop(c->w);
    memset(c, 0, sizeof *c);
}

// Takes the camera called `name` out of the server's list (its watcher
// still running) and returns its watcher; NULL when there is none.
static ft_watcher *camera_take(ft_server *s, const char *name)
{
    ft_watcher *w = NULL;
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++)
        if (strcmp(s->cams[i].name, name) == 0) {
            w = s->cams[i].w;
            s->cams[i] = s->cams[--s->n_cams];
            memset(&s->cams[s->n_cams], 0, sizeof s->cams[0]);
            break;
        }
    pthread_mutex_unlock(&s->cam_mu);
    return w;
}

static ft_status camera_start(ft_server *s, const char *name, const char *url, ft_err *err)
{
    ft_status st = ft_gallery_name_check(name, err);
    if (st != FT_OK) {
        ft_err_prefix(err, "camera name: ");
        return st;
    }
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++)
        if (strcmp(s->cams[i].name, name) == 0) {
            pthread_mutex_unlock(&s->cam_mu);
            return ft_err_set(err, FT_E_EXISTS, "a camera called '%s' is already watched", name);
        }
    if (s->n_cams >= FT_SERVER_MAX_CAMERAS) {
        pthread_mutex_unlock(&s->cam_mu);
        return ft_err_set(err, FT_E_LIMIT, "at most %d cameras", FT_SERVER_MAX_CAMERAS);
    }
    ft_watcher_opts wo = ft_watcher_opts_default();
    wo.db_path = s->db_path;
    wo.snapshot_fps = 10;
    wo.realtime = true; // a video file as a camera plays at its own rate
    wo.trained_model = s->trained_model;
    ft_watcher *w = NULL;
    st = ft_watcher_start(s->door, name, url, &wo, &w, err);
    if (st == FT_OK) {
        struct ft_camera *c = &s->cams[s->n_cams++];
        snprintf(c->name, sizeof c->name, "%s", name);
        c->w = w;
    }
    pthread_mutex_unlock(&s->cam_mu);
    return st;
}

// ---- Housekeeping: retention ----

// Applies the retention settings (ft_gallery_retention_apply) a minute after
// start (ft_server_opts.retention_first_s) and then every hour, on its own
// gallery connection. A failure is tried again at the next round (the log
// is kept, not lost).
static void viewers_wake(ft_server *s);

static void *housekeeping_main(void *arg)
{
    ft_server *s = arg;
    double first_s = s->o.retention_first_s > 0 ? s->o.retention_first_s : 60;
    double next = ft_now_ms() + 1e3 * first_s;
    pthread_mutex_lock(&s->hk_mu);
    while (!s->hk_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait_ms = next - ft_now_ms();
        // The MJPEG viewers are woken ten times a second: each takes the
        // camera's newest annotated frame if there is a new one.
        pthread_mutex_unlock(&s->hk_mu);
        viewers_wake(s);
        pthread_mutex_lock(&s->hk_mu);
        if (wait_ms > 100)
            wait_ms = 100;
        if (wait_ms > 0) {
            double end = ts.tv_sec + ts.tv_nsec / 1e9 + wait_ms / 1000.0;
            ts.tv_sec = (time_t)end;
            ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&s->hk_cv, &s->hk_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&s->hk_mu);
        ft_gallery *g = NULL;
        if (ft_gallery_open(s->db_path, NULL, &g, NULL) == FT_OK) {
            ft_retention_result rr;
            ft_gallery_retention_apply(g, 0, &rr, NULL);
            ft_gallery_close(g);
        }
        next = ft_now_ms() + 3600e3;
        pthread_mutex_lock(&s->hk_mu);
    }
    pthread_mutex_unlock(&s->hk_mu);
    return NULL;
}

ft_status ft_http__door_start(ft_server *s, ft_err *err)
{
    pthread_mutex_init(&s->view_mu, NULL);
    pthread_mutex_init(&s->hk_mu, NULL);
    pthread_cond_init(&s->hk_cv, NULL);
    s->hk_started = pthread_create(&s->hk_thread, NULL, housekeeping_main, s) == 0;
    pthread_mutex_init(&s->live_mu, NULL);
    pthread_mutex_init(&s->cam_mu, NULL);
    for (size_t i = 0; i < sizeof s->live / sizeof s->live[0]; i++)
        pthread_mutex_init(&s->live[i].mu, NULL);
    ft_status st = FT_OK;
    if (s->o.n_webhooks > FT_DELIVER_MAX_WEBHOOKS)
        return ft_err_set(err, FT_E_INVALID, "at most %d webhooks", FT_DELIVER_MAX_WEBHOOKS);
    if (s->o.n_webhooks || s->o.mqtt || s->o.on_grant) {
        ft_deliver_opts d = ft_deliver_opts_default();
        d.db_path = s->db_path;
        for (size_t i = 0; i < s->o.n_webhooks && i < FT_DELIVER_MAX_WEBHOOKS; i++)
            d.webhooks[d.n_webhooks++] = (ft_deliver_webhook){s->o.webhooks[i],
                                                              s->o.webhook_secret};
        d.mqtt = s->o.mqtt;
        d.on_grant = s->o.on_grant;
        st = ft_deliver_start(&d, &s->deliver, err);
    }
    return st;
}

// Called on the loader thread once the models are in (before READY).
static ft_status door_make(ft_server *s, ft_err *err)
{
    ft_door_opts o = ft_door_opts_default();
    o.describe.detect.kind = s->o.detector;
    o.descriptor = s->net;
    o.faceres = s->faceres;
    o.describe.landmarks = s->net->needs_landmarks;
    if (s->o.door_k > 0)
        o.k = s->o.door_k;
    if (s->o.door_n > 0)
        o.n = s->o.door_n;
    if (s->o.door_gap_s > 0)
        o.gap_s = s->o.door_gap_s;
    if (s->o.detect_every > 0)
        o.detect_every = s->o.detect_every;
    ft_status st = ft_door_new(s->models, &o, s->deliver, &s->door, err);
    for (size_t i = 0; st == FT_OK && i < s->o.n_cameras; i++) {
        const char *spec = s->o.cameras[i];
        const char *eq = strchr(spec, '=');
        if (!eq || eq == spec || (size_t)(eq - spec) > FT_GALLERY_NAME_MAX) {
            st = ft_err_set(err, FT_E_INVALID, "--camera %s: expected NAME=URL", spec);
            break;
        }
        char name[FT_GALLERY_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
        st = camera_start(s, name, eq + 1, err);
    }
    return st;
}

ft_status ft_http__door_models_ready(ft_server *s, ft_err *err)
{
    return door_make(s, err);
}

void ft_http__door_stop(ft_server *s)
{
    pthread_mutex_lock(&s->hk_mu);
    s->hk_stop = true;
    pthread_cond_broadcast(&s->hk_cv);
    pthread_mutex_unlock(&s->hk_mu);
    if (s->hk_started)
        pthread_join(s->hk_thread, NULL);
    pthread_mutex_destroy(&s->hk_mu);
    pthread_cond_destroy(&s->hk_cv);
    // Cameras first: their tracks end and are logged while the gallery and
    // the delivery are still there.
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++)
        camera_free(&s->cams[i]);
    s->n_cams = 0;
    pthread_mutex_unlock(&s->cam_mu);
    for (size_t i = 0; i < sizeof s->live / sizeof s->live[0]; i++) {
        ft_door_source_free(s->live[i].src);
        s->live[i].src = NULL;
        pthread_mutex_destroy(&s->live[i].mu);
    }
    ft_door_free(s->door);
    s->door = NULL;
    if (s->deliver) {
        ft_deliver_flush(s->deliver, 2.0, NULL);
        ft_deliver_stop(s->deliver);
        s->deliver = NULL;
    }
    pthread_mutex_destroy(&s->live_mu);
    pthread_mutex_destroy(&s->cam_mu);
    pthread_mutex_destroy(&s->view_mu);
}

// ---- Replies ----

static json_t *person_obj(int64_t id, const char *name)
{
    return id > 0 ? json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name) : json_null();
}

// An event as JSON (ft_gallery_event_json, parsed back: one format).
static json_t *event_obj(const ft_event *ev)
{
    ft_buf b;
    ft_buf_init(&b, 0);
    json_t *j = NULL;
    if (ft_gallery_event_json(ev, &b) == FT_OK)
        j = json_loadb((const char *)b.data, b.len, 0, NULL);
    ft_buf_deinit(&b);
    return j ? j : json_null();
}

static const ft_event *event_of(const ft_door_result *res, int64_t track)
{
    for (size_t e = 0; e < res->n_events; e++)
        if (res->events[e].track_id == track)
            return &res->events[e];
    return NULL;
}

// One face as the API shows it: box, score, the track and its state, and
// when the track was decided in this frame its event's fields.
static json_t *face_obj(const ft_door_face *f, const ft_event *ev)
{
    const char *decision = ev ? ft_decision_str(ev->decision) : ft_track_state_str(f->state);
    const char *reason = ev ? ev->reason
                         : f->described ? ft_access_reason_str(f->frame.reason)
                                        : "tracked";
    json_t *j = json_pack("{s:o, s:o, s:I, s:s, s:s, s:o, s:o, s:o, s:i, s:b}", "box",
                          ft_http__box_json(&f->box), "score", ft_http__num(f->box.score),
                          "track", (json_int_t)f->track_id, "decision", decision, "reason",
                          reason, "person",
                          f->state == FT_TRACK_GRANTED ? person_obj(f->person_id, f->name)
                                                       : json_null(),
                          "distance",
                          ft_http__num(ev ? ev->distance
                                          : f->described ? f->frame.distance : NAN),
                          "margin",
                          ft_http__num(ev ? ev->margin : f->described ? f->frame.margin : NAN),
                          "frames", (int)f->frames, "described", f->described);
    if (j && ev)
        json_object_set_new(j, "event", event_obj(ev));
    return j;
}

// The frame's subject: the one rule of ft_face_pick_subject (score first,
// then size and centrality), as wherever one face is chosen.
static size_t largest(const ft_door_result *res)
{
    ft_face_box boxes[FT_DOOR_MAX_FACES];
    for (size_t i = 0; i < res->n_faces; i++)
        boxes[i] = res->faces[i].box;
    return ft_face_pick_subject(boxes, res->n_faces, res->width, res->height);
}

// A failure to store a decision closes the door: 503 with the reason
// (the decision is not given).
static void reply_failure(ft_http_req *r, ft_status st, const ft_err *err)
{
    if (st == FT_E_DB || st == FT_E_IO || st == FT_E_BUSY) {
        ft_http_reply_error(r, 503, st == FT_E_BUSY ? "E_BUSY" : "E_STORE",
                            "no decision: the access log cannot be written (%s); the door stays "
                            "shut",
                            ft_err_msg(err, st));
        ft_http_reply_header(r, "Retry-After", "1");
        return;
    }
    ft_http_reply_status(r, st, err);
}

// ---- The Live tab's stream sources ----

// The named stream source (created on first use), locked; NULL when the
// table is full. Idle ones are reclaimed on the way (their tracks flushed).
static struct ft_live *live_get(ft_server *s, const ft_door_worker *wk, const char *name,
                                ft_err *err)
{
    double now = ft_now_ms();
    struct ft_live *found = NULL, *freeslot = NULL;
    pthread_mutex_lock(&s->live_mu);
    for (size_t i = 0; i < sizeof s->live / sizeof s->live[0]; i++) {
        struct ft_live *l = &s->live[i];
        if (!l->src) {
            if (!freeslot)
                freeslot = l;
            continue;
        }
        if (strcmp(l->name, name) == 0) {
            found = l;
            continue;
        }
        if (now - l->last_ms > LIVE_IDLE_MS && pthread_mutex_trylock(&l->mu) == 0) {
            ft_door_result *res = ft_malloc(sizeof *res);
            if (res)
                ft_door_flush(s->door, wk, l->src, ft_wall_s(), res, NULL);
            ft_free(res);
            ft_door_source_free(l->src);
            l->src = NULL;
            pthread_mutex_unlock(&l->mu);
            if (!freeslot)
                freeslot = l;
        }
    }
    if (!found && freeslot) {
        if (ft_door_source_new(name, FT_DOOR_STREAM, &freeslot->src, err) == FT_OK) {
            snprintf(freeslot->name, sizeof freeslot->name, "%s", name);
            found = freeslot;
        }
    } else if (!found) {
        ft_err_set(err, FT_E_LIMIT, "too many live sources at once (%zu)",
                   sizeof s->live / sizeof s->live[0]);
    }
    if (found)
        found->last_ms = now;
    pthread_mutex_unlock(&s->live_mu);
    if (found)
        pthread_mutex_lock(&found->mu);
    return found;
}

// ---- POST /api/v1/access and /api/prediction ----

typedef struct door_req {
    ft_multipart mp;
    const uint8_t *data;
    size_t len;
    ft_image im;
    ft_door_result *res;
    char source[FT_GALLERY_NAME_MAX + 1];
    bool stream;
} door_req;

// Reads the photo and the source; runs it through the door (still, or the
// named stream source); replies with the error and returns false on failure.
static bool door_run(ft_http_req *r, const char *field, bool record, door_req *q)
{
    ft_server *s = srv(r);
    ft_err err;
    ft_err_clear(&err);
    memset(q, 0, sizeof *q);
    ft_status st = FT_OK;
    // The door pipeline runs the server's one detector (its tracks and
    // gates depend on it): a request naming another one is refused, not
    // quietly answered with the server's.
    const char *dq = ft_http_query(r, "detector");
    ft_detector_kind dk;
    if (dq && (!ft_detector_parse(dq, &dk) || dk != s->o.detector))
        st = ft_err_set(&err, FT_E_INVALID,
                        "detector '%.20s': the door pipeline runs the server's detector (%s); "
                        "start serve with --detector to change it",
                        dq, ft_detector_name(s->o.detector));
    if (st == FT_OK)
        st = ft_http__image_input(r, field, &q->mp, &q->data, &q->len, &err);
    if (st == FT_OK) {
        char buf[FT_GALLERY_NAME_MAX + 2];
        const char *src = ft_http_query(r, "source");
        if (!src)
            src = ft_http__form_text(&q->mp, "source", buf, sizeof buf);
        if (!src || !*src)
            src = record ? "api" : "prediction";
        if (strlen(src) > FT_GALLERY_NAME_MAX)
            st = ft_err_set(&err, FT_E_INVALID, "source is longer than %d bytes",
                            FT_GALLERY_NAME_MAX);
        else
            snprintf(q->source, sizeof q->source, "%s", src);
        const char *sm = ft_http_query(r, "stream");
        if (!sm)
            sm = ft_http__form_text(&q->mp, "stream", buf, sizeof buf);
        if (sm && strcmp(sm, "1") != 0 && strcmp(sm, "0") != 0 && strcmp(sm, "true") != 0 &&
            strcmp(sm, "false") != 0)
            st = ft_err_set(&err, FT_E_INVALID, "stream must be 1 or 0 (got '%.20s')", sm);
        q->stream = record && sm && (strcmp(sm, "1") == 0 || strcmp(sm, "true") == 0);
    }
    if (st == FT_OK)
        st = ft_http__decode(r, q->data, q->len, &q->im, &err);
    if (st == FT_OK && !(q->res = ft_malloc(sizeof *q->res)))
        st = ft_err_set(&err, FT_E_NOMEM, "out of memory");
    // With `serve --model`, the trained single-face model finds the face
    // for every decision (wc()->fm is loaded on the inference workers).
    ft_door_worker wk = {.nn = wc(r)->nn, .g = wc(r)->g, .fm = wc(r)->fm};
    if (st == FT_OK && q->stream) {
        struct ft_live *l = live_get(s, &wk, q->source, &err);
        if (!l) {
            st = err.code ? err.code : FT_E_LIMIT;
        } else {
            st = ft_door_frame(s->door, &wk, l->src, &q->im, ft_wall_s(), q->res, &err);
            pthread_mutex_unlock(&l->mu);
        }
    } else if (st == FT_OK) {
        ft_door_source *ds = NULL;
        st = ft_door_source_new(q->source, FT_DOOR_STILL, &ds, &err);
        if (st == FT_OK) {
            if (!record)
                ft_door_source_set_record(ds, false);
            st = ft_door_frame(s->door, &wk, ds, &q->im, ft_wall_s(), q->res, &err);
        }
        ft_door_source_free(ds);
    }
    if (st == FT_OK) {
        ft_metrics *m = ft_httpd_metrics(s->httpd);
        atomic_fetch_add(&m->faces_detected, q->res->n_faces);
        if (q->res->detected)
            ft_metrics_inference(m, wk.fm ? "trained" : ft_detector_name(s->o.detector),
                                 q->res->detect_ms / 1000.0);
        for (size_t i = 0; i < q->res->n_described; i++) {
            ft_metrics_inference(m, "landmarks",
                                 q->res->landmarks_ms / q->res->n_described / 1000.0);
            ft_metrics_inference(m, "recognition",
                                 q->res->descriptor_ms / q->res->n_described / 1000.0);
        }
        for (size_t i = 0; record && i < q->res->n_events; i++)
            ft_metrics_decision(m, ft_decision_str(q->res->events[i].decision));
        return true;
    }
    reply_failure(r, st, &err);
    return false;
}

static void door_req_deinit(door_req *q)
{
    ft_image_deinit(&q->im);
    ft_multipart_deinit(&q->mp);
    ft_free(q->res);
}

void ft_http__h_access(ft_http_req *r)
{
    door_req q;
    if (door_run(r, NULL, true, &q)) {
        const ft_door_result *res = q.res;
        json_t *faces = json_array();
        for (size_t i = 0; i < res->n_faces; i++)
            json_array_append_new(faces,
                                  face_obj(&res->faces[i], event_of(res, res->faces[i].track_id)));
        json_t *events = json_array();
        for (size_t i = 0; i < res->n_events; i++)
            json_array_append_new(events, event_obj(&res->events[i]));
        json_t *j;
        if (res->n_faces == 0) {
            j = json_pack("{s:n, s:s, s:n, s:n, s:b}", "decision", "reason", "no face", "person",
                          "event_id", "logged", 0);
        } else {
            // Door controllers ask one question: the largest face answers it.
            size_t k = largest(res);
            const ft_door_face *f = &res->faces[k];
            const ft_event *ev = event_of(res, f->track_id);
            json_t *jf = face_obj(f, ev);
            j = json_pack("{s:O, s:O, s:O, s:O, s:O, s:o, s:b, s:i}", "decision",
                          json_object_get(jf, "decision"), "reason",
                          json_object_get(jf, "reason"), "person", json_object_get(jf, "person"),
                          "distance", json_object_get(jf, "distance"), "margin",
                          json_object_get(jf, "margin"), "event_id",
                          // 0: kept in the spool while the database is away
                          ev && ev->id > 0 ? json_integer(ev->id) : json_null(), "logged",
                          ev != NULL,
                          "face_index", (int)k);
            json_decref(jf);
        }
        json_object_set_new(j, "source", json_string(q.source));
        json_object_set_new(j, "stream", json_boolean(q.stream));
        json_object_set_new(j, "width", json_integer(q.im.w));
        json_object_set_new(j, "height", json_integer(q.im.h));
        json_object_set_new(j, "faces", faces);
        json_object_set_new(j, "events", events);
        json_object_set_new(j, "timing_ms",
                            json_pack("{s:f, s:f, s:f}", "detect", res->detect_ms, "describe",
                                      res->describe_ms, "total", res->total_ms));
        ft_http_reply_json(r, 200, j);
    }
    door_req_deinit(&q);
}

// The prototype's endpoint: every face with its box, score and who it is
// (the door's decision for a still photo, not logged).
void ft_http__h_prediction(ft_http_req *r)
{
    door_req q;
    if (door_run(r, "fileImg", false, &q)) {
        const ft_door_result *res = q.res;
        json_t *faces = json_array();
        for (size_t i = 0; i < res->n_faces; i++) {
            const ft_door_face *f = &res->faces[i];
            const ft_event *ev = event_of(res, f->track_id);
            bool known = f->state == FT_TRACK_GRANTED;
            json_array_append_new(
                faces,
                json_pack("{s:o, s:o, s:s, s:o, s:o, s:s, s:s}", "box",
                          ft_http__box_json(&f->box), "score", ft_http__num(f->box.score),
                          "person", known ? f->name : "unknown", "person_id",
                          known ? json_integer(f->person_id) : json_null(), "distance",
                          ft_http__num(ev ? ev->distance : f->frame.distance), "decision",
                          ev ? ft_decision_str(ev->decision) : ft_track_state_str(f->state),
                          "reason", ev ? ev->reason : ft_access_reason_str(f->frame.reason)));
        }
        ft_http_reply_json(r, 200,
                           json_pack("{s:i, s:i, s:o, s:{s:f, s:f}}", "width", q.im.w, "height",
                                     q.im.h, "faces", faces, "timing_ms", "detect",
                                     res->detect_ms, "describe", res->describe_ms));
    }
    door_req_deinit(&q);
}

// ---- Cameras ----

static json_t *camera_obj(ft_watcher *w)
{
    ft_watcher_health h;
    ft_watcher_health_get(w, &h);
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:I, "
                     "s:I, s:I, s:I}, s:o}",
                     "name", h.name, "url", h.url, "running", h.running, "state",
                     ft_source_state_str((ft_source_state)h.source_state), "kind",
                     ft_source_kind_str((ft_source_kind)h.source_kind), "frames",
                     (json_int_t)h.frames_decoded, "dropped", (json_int_t)h.frames_dropped,
                     "reconnects", (json_int_t)h.reconnects, "fps", ft_http__num(h.fps),
                     "processed_fps", ft_http__num(h.processed_fps), "door", "frames",
                     (json_int_t)h.door.frames, "detected_frames",
                     (json_int_t)h.door.detected_frames, "tracks", (json_int_t)h.door.tracks,
                     "live_tracks", (json_int_t)h.door.live_tracks, "granted",
                     (json_int_t)h.door.granted, "denied", (json_int_t)h.door.denied,
                     "last_error", h.last_error[0] ? json_string(h.last_error) : json_null());
}

json_t *ft_http__cameras_json(ft_server *s)
{
    json_t *a = json_array();
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++)
        json_array_append_new(a, camera_obj(s->cams[i].w));
    pthread_mutex_unlock(&s->cam_mu);
    return a;
}

void ft_http__door_gauges(ft_server *s, ft_buf *out)
{
    pthread_mutex_lock(&s->cam_mu);
    if (s->n_cams)
        ft_buf_puts(out, "# HELP facetracker_camera_frames_total Frames decoded per camera.\n"
                         "# TYPE facetracker_camera_frames_total counter\n"
                         "# HELP facetracker_camera_dropped_total Frames a live camera "
                         "decoded but the door never took (it was busy).\n"
                         "# TYPE facetracker_camera_dropped_total counter\n"
                         "# HELP facetracker_camera_reconnects_total Reconnections after a "
                         "lost stream.\n"
                         "# TYPE facetracker_camera_reconnects_total counter\n"
                         "# HELP facetracker_camera_up 1 while the camera delivers frames.\n"
                         "# TYPE facetracker_camera_up gauge\n");
    for (size_t i = 0; i < s->n_cams; i++) {
        ft_watcher_health h;
        ft_watcher_health_get(s->cams[i].w, &h);
        // Names are checked text (no control characters); quotes and
        // backslashes would still break the label, so replace them.
        char name[FT_GALLERY_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s", h.name);
        for (char *c = name; *c; c++)
            if (*c == '"' || *c == '\\')
                *c = '_';
        ft_buf_printf(out,
                      "facetracker_camera_frames_total{camera=\"%s\"} %lld\n"
                      "facetracker_camera_dropped_total{camera=\"%s\"} %lld\n"
                      "facetracker_camera_reconnects_total{camera=\"%s\"} %lld\n"
                      "facetracker_camera_up{camera=\"%s\"} %d\n",
                      name, (long long)h.frames_decoded, name, (long long)h.frames_dropped, name,
                      (long long)h.reconnects, name,
                      h.running && h.source_state == FT_SOURCE_RUNNING);
    }
    pthread_mutex_unlock(&s->cam_mu);
    if (s->deliver) {
        ft_deliver_sink_stats st[16];
        size_t n = ft_deliver_stats(s->deliver, st, 16);
        if (n > 16)
            n = 16;
        ft_buf_puts(out, "# HELP facetracker_delivery_pending Events waiting in the outbox.\n"
                         "# TYPE facetracker_delivery_pending gauge\n"
                         "# HELP facetracker_delivery_delivered_total Events delivered.\n"
                         "# TYPE facetracker_delivery_delivered_total counter\n"
                         "# HELP facetracker_delivery_failed_total Events given up.\n"
                         "# TYPE facetracker_delivery_failed_total counter\n");
        for (size_t i = 0; i < n; i++) {
            char name[FT_OUTBOX_SINK_MAX + 1];
            snprintf(name, sizeof name, "%s", st[i].name);
            for (char *c = name; *c; c++)
                if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
                    *c = '_';
            ft_buf_printf(out,
                          "facetracker_delivery_pending{sink=\"%s\"} %lld\n"
                          "facetracker_delivery_delivered_total{sink=\"%s\"} %lld\n"
                          "facetracker_delivery_failed_total{sink=\"%s\"} %lld\n",
                          name, (long long)st[i].pending, name, (long long)st[i].delivered, name,
                          (long long)st[i].failed);
        }
    }
}

void ft_http__door_ready_detail(ft_server *s, json_t *j)
{
    json_t *cams = json_array();
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++) {
        ft_watcher_health h;
        ft_watcher_health_get(s->cams[i].w, &h);
        json_array_append_new(
            cams, json_pack("{s:s, s:s, s:b, s:o}", "name", h.name, "state",
                            ft_source_state_str((ft_source_state)h.source_state), "running",
                            h.running,
                            "last_error", h.last_error[0] ? json_string(h.last_error) : json_null()));
    }
    pthread_mutex_unlock(&s->cam_mu);
    json_object_set_new(j, "cameras", cams);
    json_t *dl = json_array();
    if (s->deliver) {
        ft_deliver_sink_stats st[16];
        size_t n = ft_deliver_stats(s->deliver, st, 16);
        for (size_t i = 0; i < n && i < 16; i++)
            json_array_append_new(
                dl, json_pack("{s:s, s:b, s:I, s:o}", "sink", st[i].name, "connected",
                              st[i].connected, "pending", (json_int_t)st[i].pending, "last_error",
                              st[i].last_error[0] ? json_string(st[i].last_error) : json_null()));
    }
    json_object_set_new(j, "delivery", dl);
    // A PostgreSQL gallery: "degraded" while it is unreachable (doors
    // still decide, from memory; events wait in the spool; writes get 503).
    if (s->sync) {
        ft_gallery_sync_status ss;
        ft_gallery_sync_status_get(s->sync, &ss);
        json_object_set_new(j, "degraded", json_boolean(!ss.connected));
        json_object_set_new(
            j, "database",
            json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:f, s:f, s:f}}",
                      "connected", ss.connected, "down_since",
                      ss.connected ? json_null() : json_real(ss.down_since), "generation",
                      (json_int_t)ss.generation, "connects", (json_int_t)ss.connects, "spooled",
                      (json_int_t)ss.spooled, "flushed", (json_int_t)ss.flushed, "duplicates",
                      (json_int_t)ss.duplicates, "refused", (json_int_t)ss.refused,
                      "notify_apply_ms", "count", (json_int_t)ss.lag_count, "last",
                      ss.lag_last_ms, "max", ss.lag_max_ms, "mean",
                      ss.lag_count ? ss.lag_sum_ms / (double)ss.lag_count : 0.0));
    }
}

void ft_http__h_cameras_list(ft_http_req *r)
{
    ft_http_reply_json(r, 200, json_pack("{s:o}", "cameras", ft_http__cameras_json(srv(r))));
}

void ft_http__h_camera_add(ft_http_req *r)
{
    ft_server *s = srv(r);
    ft_err err;
    ft_err_clear(&err);
    json_t *body = NULL;
    ft_status st = ft_http_body_json(r, &body, &err);
    const char *name = NULL, *url = NULL;
    if (st == FT_OK) {
        name = json_string_value(json_object_get(body, "name"));
        url = json_string_value(json_object_get(body, "url"));
        if (!name || !url || !*url)
            st = ft_err_set(&err, FT_E_INVALID, "expected {\"name\": ..., \"url\": ...}");
        else if (ft_server_state_get(s) != FT_SERVER_READY || !s->door)
            st = ft_err_set(&err, FT_E_BUSY, "the models are still loading; retry in a second");
    }
    if (st == FT_OK)
        st = camera_start(s, name, url, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
    } else {
        // Audited with the URL as shown everywhere else: without credentials.
        char target[FT_GALLERY_NAME_MAX + 8];
        snprintf(target, sizeof target, "camera:%s", name);
        json_t *detail = NULL;
        pthread_mutex_lock(&s->cam_mu);
        for (size_t i = 0; i < s->n_cams; i++)
            if (strcmp(s->cams[i].name, name) == 0) {
                ft_watcher_health h;
                ft_watcher_health_get(s->cams[i].w, &h);
                detail = json_pack("{s:s}", "url", h.url);
            }
        pthread_mutex_unlock(&s->cam_mu);
        // Cameras live in the server, not the gallery, so there is no
        // transaction to share: without its audit row the camera is stopped
        // again and the caller gets the error.
        st = ft_http__audit(r, "camera.add", target, detail, &err);
        if (st != FT_OK) {
            ft_watcher *w = camera_take(s, name);
            if (w)
                ft_watcher_stop(w);
            ft_http_reply_status(r, st, &err);
            json_decref(body);
            return;
        }
        json_t *cam = NULL;
        pthread_mutex_lock(&s->cam_mu);
        for (size_t i = 0; i < s->n_cams; i++)
            if (strcmp(s->cams[i].name, name) == 0)
                cam = camera_obj(s->cams[i].w);
        pthread_mutex_unlock(&s->cam_mu);
        ft_http_reply_json(r, 201, cam ? cam : json_object());
    }
    json_decref(body);
}

void ft_http__h_camera_remove(ft_http_req *r)
{
    ft_server *s = srv(r);
    const char *name = r->params[0];
    ft_watcher *w = camera_take(s, name);
    if (!w) {
        ft_http_reply_error(r, 404, "E_NOT_FOUND", "no camera called '%s'", name);
        return;
    }
    ft_watcher_health h;
    ft_watcher_health_get(w, &h);
    // Audited before it stops (cameras have no transaction to share): if
    // the row cannot be written the camera goes back and keeps watching.
    char target[FT_GALLERY_NAME_MAX + 8];
    snprintf(target, sizeof target, "camera:%s", name);
    ft_err err;
    ft_err_clear(&err);
    ft_status st = ft_http__audit(r, "camera.remove", target, json_pack("{s:s}", "url", h.url),
                                  &err);
    if (st != FT_OK) {
        bool back = false;
        pthread_mutex_lock(&s->cam_mu);
        if (s->n_cams < FT_SERVER_MAX_CAMERAS) {
            struct ft_camera *c = &s->cams[s->n_cams++];
            snprintf(c->name, sizeof c->name, "%s", name);
            c->w = w;
            back = true;
        }
        pthread_mutex_unlock(&s->cam_mu);
        if (!back) // its slot was taken meanwhile: it cannot be kept
            ft_watcher_stop(w);
        ft_http_reply_status(r, st, &err);
        return;
    }
    ft_watcher_stop(w); // ends its tracks (logged) and joins
    ft_http_reply_json(r, 200,
                       json_pack("{s:s, s:I}", "removed", name, "frames",
                                 (json_int_t)h.frames_decoded));
}

void ft_http__h_camera_frame(ft_http_req *r)
{
    ft_server *s = srv(r);
    const char *name = r->params[0];
    ft_err err;
    ft_err_clear(&err);
    uint64_t after = 0, seq = 0;
    const char *a = ft_http_query(r, "after");
    if (a) {
        char *end;
        unsigned long long v = strtoull(a, &end, 10);
        if (*end || end == a) {
            ft_http_reply_error(r, 400, "E_INVALID", "after must be a whole number");
            return;
        }
        after = v;
    }
    ft_status st = FT_E_NOT_FOUND;
    bool found = false;
    ft_buf jpg;
    ft_buf_init(&jpg, 0);
    // No waiting here (this runs on the database worker): the page asks
    // again a few times a second; `after` only saves resending the same
    // frame (204).
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++)
        if (strcmp(s->cams[i].name, name) == 0) {
            found = true;
            st = ft_watcher_snapshot(s->cams[i].w, 0, 0, &jpg, &seq, &err);
        }
    pthread_mutex_unlock(&s->cam_mu);
    if (!found) {
        ft_http_reply_error(r, 404, "E_NOT_FOUND", "no camera called '%s'", name);
    } else if (st != FT_OK) {
        ft_http_reply_error(r, 404, ft_status_name(st), "%s", ft_err_msg(&err, st));
    } else if (after && seq <= after) {
        r->status = 204;
        r->out.len = 0;
    } else {
        r->out.len = 0;
        ft_buf_append(&r->out, jpg.data, jpg.len);
        r->status = 200;
        r->out_type = "image/jpeg";
        char sq[32];
        snprintf(sq, sizeof sq, "%llu", (unsigned long long)seq);
        ft_http_reply_header(r, "X-Frame-Seq", sq);
    }
    ft_buf_deinit(&jpg);
}

// ---- OpenAPI: the event format ----

// The schemas of an event (ft_gallery_event_json: one format for the API,
// watch, webhooks, MQTT and the door hook) and of a door answer, and the
// routes that return them.
void ft_http__openapi_door(json_t *doc)
{
    json_t *person = json_pack(
        "{s:[s,s], s:{s:{s:s}, s:{s:s}}}", "type", "object", "null", "properties", "id", "type",
        "integer", "name", "type", "string");
    json_t *event = json_pack(
        "{s:s, s:s, s:{"
        "s:{s:s}, s:{s:s, s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:[s,s]}, s:{s:s, s:s},"
        "s:O, s:{s:[s,s], s:s}, s:{s:[s,s], s:s}, s:{s:[s,s]}, s:{s:s, s:s},"
        "s:{s:[s,s], s:s}, s:{s:s, s:s}, s:O, s:{s:[s,s], s:s}}}",
        "type", "object", "description",
        "One decision: one passage of one face at one source (src/door/door.h). The same "
        "object is printed by `facetracker watch`, POSTed to webhooks, published on MQTT and "
        "given to the door hook as FT_EVENT_JSON. Times are Unix seconds; numbers that do "
        "not apply are null.",
        "properties", "event_id", "type", "integer", "event_uid", "type", "string",
        "description", "32 hex digits: the idempotency key (X-Facetracker-Event)", "source",
        "type", "string", "track", "type", "integer", "description",
        "the face track (per source) the decision was made on", "decision", "type", "string",
        "enum", "granted", "denied", "reason", "type", "string", "description",
        "match, unknown, ambiguous, face too small, low detector score, not confirmed",
        "person", person, "distance", "type", "number", "null", "description",
        "Euclidean distance of the track's fused descriptor to the nearest person (lower is "
        "closer)",
        "margin", "type", "number", "null", "description",
        "distance to the second-nearest person minus distance to the nearest",
        "detector_score", "type", "number", "null", "frames", "type", "integer",
        "description", "described frames of the track when it was decided", "first_seen",
        "type", "number", "null", "description", "when the face was first seen",
        "decided_at", "type", "number", "description", "when it was decided", "nearest",
        person, "second", "type", "object", "null", "description",
        "the second-nearest person {id, name, distance}: for ambiguous, the other one");
    json_decref(person);
    json_t *comp = json_object_get(doc, "components");
    if (!comp) {
        comp = json_object();
        json_object_set_new(doc, "components", comp);
    }
    json_t *schemas = json_object_get(comp, "schemas");
    if (!schemas) {
        schemas = json_object();
        json_object_set_new(comp, "schemas", schemas);
    }
    json_object_set_new(schemas, "Event", event);
    json_object_set_new(
        schemas, "AccessResult",
        json_pack("{s:s, s:s, s:{s:{s:s, s:[s,s,s,s]}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, "
                  "s:{s:s}}, s:{s:s, s:{s:s}}}}",
                  "type", "object", "description",
                  "POST /api/v1/access: every face with its track and decision ('pending' "
                  "while a stream's track is undecided); `events` are the decisions made by "
                  "this request; the top-level decision is the largest face's.",
                  "properties", "decision", "type", "string", "enum", "granted", "denied",
                  "pending", "null", "reason", "type", "string", "source", "type", "string",
                  "stream", "type", "boolean", "faces", "type", "array", "items", "type",
                  "object", "events", "type", "array", "items", "$ref",
                  "#/components/schemas/Event"));
    json_t *paths = json_object_get(doc, "paths");
    struct {
        const char *path, *method, *ref;
    } uses[] = {{"/api/v1/access", "post", "#/components/schemas/AccessResult"}};
    for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++) {
        json_t *op = json_object_get(json_object_get(paths, uses[i].path), uses[i].method);
        json_t *ok = json_object_get(json_object_get(op, "responses"), "200");
        json_t *mt = json_object_get(json_object_get(ok, "content"), "application/json");
        if (mt)
            json_object_set_new(mt, "schema", json_pack("{s:s}", "$ref", uses[i].ref));
    }
}

// ---- MJPEG: a camera's annotated frames as a stream ----
//
// GET /api/v1/cameras/{name}/stream.mjpeg answers multipart/x-mixed-replace
// with one JPEG part per new annotated frame (what <img src> shows as live
// video). The body is streamed by the HTTP core (ft_http_reply_stream): the
// connection is parked between frames and woken ten times a second by the
// housekeeping thread. A removed camera ends its streams.

#define MJPEG_BOUNDARY "ftframe"

struct ft_viewer {
    ft_server *s;
    char camera[FT_GALLERY_NAME_MAX + 1];
    uint64_t seq;
    ft_buf chunk; // the part being sent
    size_t off;
    ft_http_stream *handle;
    struct ft_viewer *next;
};

static void viewers_wake(ft_server *s)
{
    pthread_mutex_lock(&s->view_mu);
    for (struct ft_viewer *v = s->viewers; v; v = v->next)
        if (v->handle)
            ft_http_stream_wake(v->handle);
    pthread_mutex_unlock(&s->view_mu);
}

static long viewer_read(void *arg, char *buf, size_t max)
{
    struct ft_viewer *v = arg;
    ft_server *s = v->s;
    if (v->off >= v->chunk.len) {
        // The next part, if the camera has a newer frame.
        ft_buf jpg;
        ft_buf_init(&jpg, 0);
        uint64_t seq = 0;
        bool found = false;
        ft_status st = FT_E_NOT_FOUND;
        pthread_mutex_lock(&s->cam_mu);
        for (size_t i = 0; i < s->n_cams; i++)
            if (strcmp(s->cams[i].name, v->camera) == 0) {
                found = true;
                st = ft_watcher_snapshot(s->cams[i].w, 0, 0, &jpg, &seq, NULL);
            }
        pthread_mutex_unlock(&s->cam_mu);
        if (!found) {
            ft_buf_deinit(&jpg);
            return -1; // the camera was removed: the stream ends
        }
        if (st != FT_OK || seq <= v->seq) {
            ft_buf_deinit(&jpg);
            return 0;
        }
        v->seq = seq;
        v->chunk.len = 0;
        v->off = 0;
        ft_buf_printf(&v->chunk,
                      "--" MJPEG_BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: "
                      "%zu\r\nX-Frame-Seq: %llu\r\n\r\n",
                      jpg.len, (unsigned long long)seq);
        ft_buf_append(&v->chunk, jpg.data, jpg.len);
        ft_buf_puts(&v->chunk, "\r\n");
        ft_buf_deinit(&jpg);
    }
    size_t n = v->chunk.len - v->off;
    if (n > max)
        n = max;
    memcpy(buf, v->chunk.data + v->off, n);
    v->off += n;
    return (long)n;
}

static void viewer_close(void *arg)
{
    struct ft_viewer *v = arg;
    ft_server *s = v->s;
    pthread_mutex_lock(&s->view_mu);
    for (struct ft_viewer **p = &s->viewers; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            break;
        }
    s->n_viewers--;
    pthread_mutex_unlock(&s->view_mu);
    ft_buf_deinit(&v->chunk);
    ft_free(v);
}

void ft_http__h_camera_stream(ft_http_req *r)
{
    ft_server *s = srv(r);
    const char *name = r->params[0];
    bool found = false;
    pthread_mutex_lock(&s->cam_mu);
    for (size_t i = 0; i < s->n_cams; i++)
        found |= strcmp(s->cams[i].name, name) == 0;
    pthread_mutex_unlock(&s->cam_mu);
    if (!found) {
        ft_http_reply_error(r, 404, "E_NOT_FOUND", "no camera called '%s'", name);
        return;
    }
    struct ft_viewer *v = ft_calloc(1, sizeof *v);
    if (!v) {
        ft_http_reply_error(r, 503, "E_NOMEM", "out of memory");
        return;
    }
    pthread_mutex_lock(&s->view_mu);
    bool full = s->n_viewers >= FT_SERVER_MAX_VIEWERS;
    if (!full)
        s->n_viewers++;
    pthread_mutex_unlock(&s->view_mu);
    if (full) {
        ft_free(v);
        ft_http_reply_error(r, 503, "E_BUSY", "at most %d camera streams at once; use frame.jpg",
                            FT_SERVER_MAX_VIEWERS);
        return;
    }
    v->s = s;
    snprintf(v->camera, sizeof v->camera, "%s", name);
    ft_buf_init(&v->chunk, 0);
    static const ft_http_stream_ops ops = {viewer_read, viewer_close};
    ft_http_stream *h = NULL;
    ft_http_reply_stream(r, "multipart/x-mixed-replace; boundary=" MJPEG_BOUNDARY, &ops, v, &h);
    if (!h) {
        pthread_mutex_lock(&s->view_mu);
        s->n_viewers--;
        pthread_mutex_unlock(&s->view_mu);
        ft_buf_deinit(&v->chunk);
        ft_free(v);
        return;
    }
    pthread_mutex_lock(&s->view_mu);
    v->handle = h;
    v->next = s->viewers;
    s->viewers = v;
    pthread_mutex_unlock(&s->view_mu);
}
