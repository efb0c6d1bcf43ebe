// The facetracker routes and their handlers: the page, the prototype's
// POST /api/prediction, the REST API under /api/v1/, /healthz and /metrics.
// Image handlers run on the inference workers (one ft_nn_ctx each),
// database handlers on the database worker, cheap ones inline. The route
// table at the end is the single source of the router and of the OpenAPI
// document.
#define _GNU_SOURCE // strptime, timegm
#include "http/http_internal.h"
#include "http/multipart.h"

#include "access/enroll.h"

#include "core/clock.h"
#include "core/mem.h"
#include "core/sha256.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_FACES 64
#define THUMB_PX 160

// ---- Small helpers ----

static ft_server *srv(ft_http_req *r)
{
    return r->app;
}

static ft_wctx *wc(ft_http_req *r)
{
    return r->tctx;
}

// JSON has no NaN or infinity: those become null.
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool path_id(ft_http_req *r, size_t i, int64_t *out)
{
    if (i >= r->n_params || !parse_i64(r->params[i], out) || *out <= 0) {
        ft_http_reply_error(r, 400, "E_INVALID", "'%s' is not a valid id",
                            i < r->n_params ? r->params[i] : "");
        return false;
    }
    return true;
}

static json_t *box_json(const ft_face_box *b)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "x", num(b->x), "y", num(b->y), "width", num(b->w),
                     "height", num(b->h));
}

// ---- Image input ----

// The image bytes of a request: a multipart part (`field`, or when NULL
// the first of photo/fileImg/image or any file part), or a raw image/*
// body. `mp` receives the parsed form (deinit it after).
static ft_status image_input(ft_http_req *r, const char *field, ft_multipart *mp,
                             const uint8_t **data, size_t *len, ft_err *err)
{
    ft_server *s = srv(r);
    memset(mp, 0, sizeof *mp);
    const char *ct = r->content_type;
    if (ct && strncasecmp(ct, "multipart/", 10) == 0) {
        ft_multipart_limits lim = ft_multipart_limits_default();
        lim.max_body_bytes = s->o.max_body_bytes + 64 * 1024;
        ft_status st = ft_multipart_parse(r->body, r->body_len, ct, &lim, mp, err);
        if (st != FT_OK)
            return st;
        const ft_multipart_part *p = NULL;
        if (field) {
            p = ft_multipart_find(mp, field);
        } else {
            static const char *names[] = {"photo", "fileImg", "image", "file"};
            for (size_t i = 0; !p && i < sizeof names / sizeof names[0]; i++)
                p = ft_multipart_find(mp, names[i]);
            for (size_t i = 0; !p && i < mp->n_parts; i++)
                if (mp->parts[i].filename)
                    p = &mp->parts[i];
        }
        if (!p)
            return ft_err_set(err, FT_E_FORMAT, "no '%s' file in the form",
                              field ? field : "photo");
        *data = p->data;
        *len = p->len;
    } else if (ct && (strncasecmp(ct, "image/", 6) == 0 ||
                      strncasecmp(ct, "application/octet-stream", 24) == 0)) {
        *data = r->body;
        *len = r->body_len;
    } else {
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "expected multipart/form-data with a '%s' file, or an image body; got "
                          "Content-Type '%.60s'",
                          field ? field : "photo", ct ? ct : "(none)");
    }
    if (*len == 0)
        return ft_err_set(err, FT_E_FORMAT, "the uploaded file is empty");
    if (*len > s->o.max_body_bytes)
        return ft_err_set(err, FT_E_LIMIT, "the file is over the upload limit of %zu bytes",
                          s->o.max_body_bytes);
    return FT_OK;
}

static ft_status decode(ft_http_req *r, const uint8_t *data, size_t len, ft_image *im,
                        ft_err *err)
{
    ft_image_limits lim = ft_image_limits_default();
    lim.max_pixels = srv(r)->o.max_pixels;
    lim.max_bytes = srv(r)->o.max_body_bytes;
    ft_status st = ft_image_decode(data, len, &lim, im, err);
    if (st == FT_E_UNSUPPORTED)
        ft_err_prefix(err, "not an image we can read: ");
    return st;
}

// A form text field, or NULL; copies at most cap-1 bytes.
static const char *form_text(const ft_multipart *mp, const char *name, char *buf, size_t cap)
{
    const ft_multipart_part *p = mp ? ft_multipart_find(mp, name) : NULL;
    if (!p || p->filename)
        return NULL;
    size_t n = p->len < cap - 1 ? p->len : cap - 1;
    memcpy(buf, p->data, n);
    buf[n] = 0;
    return buf;
}

// ---- The face pipeline ----

typedef struct face_res {
    ft_face_box box;
    float desc[FT_DESCRIPTOR_DIM];
    bool has_desc;
} face_res;

static ft_detector_kind detector_for(ft_http_req *r)
{
    ft_detector_kind k;
    if (ft_detector_parse(ft_http_query(r, "detector"), &k))
        return k;
    return srv(r)->o.detector;
}

// The trained single-face model (server option trained_model): one box
// when its face score is over 0.5, as the prototype's real-time loop.
static ft_status detect_trained(ft_http_req *r, const ft_image *im, ft_face_box *box, size_t *n,
                                ft_err *err)
{
    ft_fm_pred p;
    ft_status st = ft_fmodel_predict(wc(r)->fm, im, &p, err);
    if (st != FT_OK)
        return st;
    *n = 0;
    if (p.score > 0.5f) {
        *box = (ft_face_box){p.box[0] * im->w, p.box[1] * im->h, (p.box[2] - p.box[0]) * im->w,
                             (p.box[3] - p.box[1]) * im->h, p.score};
        *n = 1;
    }
    return FT_OK;
}

// Only the prototype's routes use it; enrolment and identification keep the
// detector.
static bool use_trained(ft_http_req *r)
{
    return wc(r)->fm && r->route &&
           (strcmp(r->route->pattern, "/api/prediction") == 0 ||
            strcmp(r->route->pattern, "/api/v1/detect") == 0);
}

static const char *detector_name(ft_http_req *r)
{
    if (use_trained(r))
        return "trained";
    return ft_detector_name(detector_for(r));
}

static ft_status analyse(ft_http_req *r, const ft_image *im, bool want_desc, face_res *faces,
                         size_t *n, double *ms_detect, double *ms_describe, ft_err *err)
{
    ft_server *s = srv(r);
    ft_metrics *m = ft_httpd_metrics(s->httpd);
    ft_detect_opts o = ft_detect_opts_default();
    o.kind = detector_for(r);
    ft_face_box boxes[MAX_FACES];
    size_t nf = 0;
    double t0 = ft_now_ms();
    ft_status st = use_trained(r)
                       ? detect_trained(r, im, boxes, &nf, err)
                       : ft_detect(s->models, wc(r)->nn, im, &o, boxes, MAX_FACES, &nf, NULL, err);
    if (st != FT_OK)
        return st;
    double t1 = ft_now_ms();
    *ms_detect = t1 - t0;
    ft_metrics_inference(m, detector_name(r), (t1 - t0) / 1000.0);
    if (nf > MAX_FACES)
        nf = MAX_FACES;
    atomic_fetch_add(&m->faces_detected, nf);
    *ms_describe = 0;
    for (size_t i = 0; i < nf; i++) {
        faces[i].box = boxes[i];
        faces[i].has_desc = false;
        if (!want_desc)
            continue;
        ft_point lm[FT_LANDMARKS];
        double a = ft_now_ms();
        st = ft_landmarks(s->models, wc(r)->nn, im, &boxes[i], false, lm, err);
        if (st != FT_OK)
            return st;
        double b = ft_now_ms();
        // The same alignment as every other enrolment and query path
        // (the CLI's default), so descriptors in one gallery compare.
        st = ft_descriptor(s->models, wc(r)->nn, im, &boxes[i], lm, ft_align_default(),
                           faces[i].desc, err);
        if (st != FT_OK)
            return st;
        double c = ft_now_ms();
        ft_metrics_inference(m, "landmarks", (b - a) / 1000.0);
        ft_metrics_inference(m, "recognition", (c - b) / 1000.0);
        *ms_describe += c - a;
        faces[i].has_desc = true;
    }
    *n = nf;
    return FT_OK;
}

static size_t largest(const face_res *f, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (f[i].box.w * f[i].box.h > f[best].box.w * f[best].box.h)
            best = i;
    return best;
}

// Takes the read lock on a fresh matrix (reloading it first when the
// gallery changed). On FT_OK the caller must unlock s->mx_lock.
static ft_status matrix_acquire(ft_server *s, ft_wctx *w, ft_err *err)
{
    ft_status st = FT_OK;
    pthread_rwlock_rdlock(&s->mx_lock);
    bool stale = true;
    if (s->matrix)
        st = ft_gallery_matrix_stale(w->g, s->matrix, &stale, err);
    if (st != FT_OK || !stale) {
        if (st != FT_OK)
            pthread_rwlock_unlock(&s->mx_lock);
        return st;
    }
    pthread_rwlock_unlock(&s->mx_lock);
    pthread_rwlock_wrlock(&s->mx_lock);
    if (!s->matrix)
        st = ft_gallery_matrix_load(w->g, ft_descriptor_space(ft_align_default()), &s->matrix, err);
    else
        st = ft_gallery_matrix_refresh(w->g, &s->matrix, err);
    pthread_rwlock_unlock(&s->mx_lock);
    if (st != FT_OK)
        return st;
    pthread_rwlock_rdlock(&s->mx_lock);
    return FT_OK;
}

typedef struct ident {
    ft_match_result match;
    char name[FT_GALLERY_NAME_MAX + 1]; // "" unless known
} ident;

static ft_status identify_all(ft_http_req *r, const face_res *f, size_t n,
                              const ft_gallery_policy *pol, ident *out, ft_err *err)
{
    ft_server *s = srv(r);
    ft_status st = matrix_acquire(s, wc(r), err);
    if (st != FT_OK)
        return st;
    for (size_t i = 0; i < n && st == FT_OK; i++)
        st = ft_match(s->matrix, f[i].desc, pol->threshold, pol->margin, &out[i].match, err);
    pthread_rwlock_unlock(&s->mx_lock);
    for (size_t i = 0; i < n && st == FT_OK; i++) {
        out[i].name[0] = 0;
        if (out[i].match.status == FT_MATCH_KNOWN) {
            ft_person p;
            if (ft_gallery_person_get(wc(r)->g, out[i].match.person_id, &p, NULL) == FT_OK)
                snprintf(out[i].name, sizeof out[i].name, "%s", p.name);
        }
    }
    return st;
}

static const char *match_status_str(ft_match_status s)
{
    return s == FT_MATCH_KNOWN ? "known" : s == FT_MATCH_AMBIGUOUS ? "ambiguous" : "unknown";
}

// A small JPEG of the face for the gallery or the log (shared with the
// CLI); empty when it cannot be made or would exceed the gallery's cap.
static void thumbnail(const ft_image *im, const ft_face_box *b, ft_buf *out)
{
    if (ft_face_thumbnail(im, b, THUMB_PX, out, NULL) != FT_OK || out->len > FT_GALLERY_THUMB_MAX)
        out->len = 0;
}

// ---- One photo request ----

// What the image endpoints share: the upload, the decoded photo and what the
// pipeline found in it. photo_read takes the upload (handlers then read
// their own form fields), photo_run decodes it and runs the pipeline as deep
// as asked, photo_deinit frees everything whatever happened before.
typedef enum photo_depth { PHOTO_DETECT, PHOTO_DESCRIBE, PHOTO_IDENTIFY } photo_depth;

typedef struct photo {
    ft_multipart mp;
    const uint8_t *data;
    size_t len;
    ft_image im;
    face_res *f;
    ident *id; // PHOTO_IDENTIFY
    size_t n;
    double td, tr;          // ms: detection, landmarks + descriptors
    ft_gallery_policy pol; // PHOTO_DESCRIBE and PHOTO_IDENTIFY
} photo;

static ft_status photo_read(ft_http_req *r, const char *field, photo *p, ft_err *err)
{
    memset(p, 0, sizeof *p);
    p->f = ft_malloc(sizeof *p->f * MAX_FACES);
    p->id = ft_malloc(sizeof *p->id * MAX_FACES);
    if (!p->f || !p->id)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    return image_input(r, field, &p->mp, &p->data, &p->len, err);
}

static ft_status photo_run(ft_http_req *r, photo *p, photo_depth depth, ft_err *err)
{
    ft_status st = decode(r, p->data, p->len, &p->im, err);
    if (st == FT_OK)
        st = analyse(r, &p->im, depth != PHOTO_DETECT, p->f, &p->n, &p->td, &p->tr, err);
    if (st == FT_OK && depth != PHOTO_DETECT)
        st = ft_gallery_policy_load(wc(r)->g, &p->pol, err);
    if (st == FT_OK && depth == PHOTO_IDENTIFY)
        st = identify_all(r, p->f, p->n, &p->pol, p->id, err);
    return st;
}

// photo_read + photo_run for handlers with nothing in between; replies with
// the error and returns false when either fails.
static bool photo_take(ft_http_req *r, const char *field, photo_depth depth, photo *p)
{
    ft_err err;
    ft_err_clear(&err);
    ft_status st = photo_read(r, field, p, &err);
    if (st == FT_OK)
        st = photo_run(r, p, depth, &err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, &err);
    return st == FT_OK;
}

static void photo_deinit(photo *p)
{
    ft_image_deinit(&p->im);
    ft_multipart_deinit(&p->mp);
    ft_free(p->f);
    ft_free(p->id);
}

// ---- Page, health, metrics, OpenAPI (inline) ----

static void serve_asset(ft_http_req *r, const char *name)
{
    size_t len;
    const uint8_t *d = ft_http__asset(name, &len);
    if (!d) {
        ft_http_reply_error(r, 404, "E_NOT_FOUND", "no file called '%s'", name);
        return;
    }
    r->out.len = 0;
    if (ft_buf_append(&r->out, d, len) != FT_OK) {
        ft_http_reply_error(r, 503, "E_NOMEM", "out of memory");
        return;
    }
    r->status = 200;
    r->out_type = ft_http__mime(name);
    ft_http_reply_header(r, "Cache-Control", "no-cache");
}

static void h_index(ft_http_req *r)
{
    serve_asset(r, "index.html");
}

static void h_asset(ft_http_req *r)
{
    serve_asset(r, r->params[0]);
}

// Liveness: 200 as soon as the server listens, models loaded or not;
// "ready" says whether the networks can run (see server.h).
static void h_healthz(ft_http_req *r)
{
    ft_server *s = srv(r);
    ft_server_state state = ft_server_state_get(s);
    json_t *j = json_pack(
        "{s:s, s:b, s:s, s:f, s:s, s:i, s:I}", "status",
        state == FT_SERVER_READY ? "ok" : state == FT_SERVER_LOADING ? "loading" : "error",
        "ready", state == FT_SERVER_READY, "version", FT_VERSION, "uptime_s",
        (ft_now_ms() - s->t_start_ms) / 1000.0, "detector",
        s->o.detector == FT_DETECTOR_TINY ? "tiny" : "ssd", "workers", s->o.threads, "queue",
        (json_int_t)ft_httpd_queue_depth(s->httpd, FT_POOL_INFER));
    if (j && state == FT_SERVER_FAILED) {
        ft_err err;
        ft_err_clear(&err);
        ft_status st = ft_server_wait_ready(s, &err); // returns at once: loading is over
        json_object_set_new(j, "error", json_string(ft_err_msg(&err, st)));
    }
    ft_http_reply_json(r, 200, j);
}

// Readiness: 200 once the models are loaded, else 503 + Retry-After, so a
// load balancer sends no traffic to a server that would answer 503.
static void h_readyz(ft_http_req *r)
{
    ft_server_state state = ft_server_state_get(srv(r));
    if (state == FT_SERVER_READY) {
        ft_http_reply_json(r, 200, json_pack("{s:b}", "ready", 1));
        return;
    }
    ft_http_reply_error(r, 503, state == FT_SERVER_LOADING ? "E_LOADING" : "E_MODELS",
                        "%s", state == FT_SERVER_LOADING ? "the models are still loading"
                                                         : "the models failed to load");
    ft_http_reply_header(r, "Retry-After", "1");
}

static void h_metrics(ft_http_req *r)
{
    ft_server *s = srv(r);
    ft_buf g;
    ft_buf_init(&g, 0);
    if (s->app.gauges)
        s->app.gauges(s, &g);
    r->out.len = 0;
    ft_status st = ft_metrics_render(ft_httpd_metrics(s->httpd), g.len ? (char *)g.data : NULL,
                                     &r->out);
    ft_buf_deinit(&g);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, NULL);
        return;
    }
    r->status = 200;
    r->out_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void h_openapi(ft_http_req *r)
{
    ft_http_reply_json(r, 200, ft_http__openapi(ft_http__routes, ft_http__n_routes, FT_VERSION));
}

// ---- Image endpoints (inference pool) ----

static void h_prediction(ft_http_req *r)
{
    photo p;
    if (photo_take(r, "fileImg", PHOTO_IDENTIFY, &p)) {
        json_t *faces = json_array();
        for (size_t i = 0; i < p.n; i++) {
            bool known = p.id[i].match.status == FT_MATCH_KNOWN;
            json_array_append_new(
                faces, json_pack("{s:o, s:o, s:s, s:o, s:o}", "box", box_json(&p.f[i].box),
                                 "score", num(p.f[i].box.score), "person",
                                 known ? p.id[i].name : "unknown", "person_id",
                                 known ? json_integer(p.id[i].match.person_id) : json_null(),
                                 "distance", num(p.id[i].match.distance)));
        }
        ft_http_reply_json(r, 200,
                           json_pack("{s:i, s:i, s:o, s:{s:f, s:f}}", "width", p.im.w, "height",
                                     p.im.h, "faces", faces, "timing_ms", "detect", p.td,
                                     "describe", p.tr));
    }
    photo_deinit(&p);
}

static void h_detect(ft_http_req *r)
{
    photo p;
    if (photo_take(r, NULL, PHOTO_DETECT, &p)) {
        json_t *faces = json_array();
        for (size_t i = 0; i < p.n; i++)
            json_array_append_new(faces, json_pack("{s:o, s:o}", "box", box_json(&p.f[i].box),
                                                   "score", num(p.f[i].box.score)));
        ft_http_reply_json(r, 200,
                           json_pack("{s:i, s:i, s:s, s:o, s:{s:f}}", "width", p.im.w, "height",
                                     p.im.h, "detector", detector_name(r), "faces", faces,
                                     "timing_ms", "detect", p.td));
    }
    photo_deinit(&p);
}

static void h_identify(ft_http_req *r)
{
    photo p;
    if (photo_take(r, NULL, PHOTO_IDENTIFY, &p)) {
        json_t *faces = json_array();
        for (size_t i = 0; i < p.n; i++) {
            const ft_match_result *m = &p.id[i].match;
            json_array_append_new(
                faces,
                json_pack("{s:o, s:o, s:{s:s, s:o, s:o, s:o, s:o}}", "box", box_json(&p.f[i].box),
                          "score", num(p.f[i].box.score), "match", "status",
                          match_status_str(m->status), "person_id",
                          m->status == FT_MATCH_KNOWN ? json_integer(m->person_id) : json_null(),
                          "name", p.id[i].name[0] ? json_string(p.id[i].name) : json_null(),
                          "distance", num(m->distance), "margin", num(m->margin)));
        }
        ft_http_reply_json(r, 200,
                           json_pack("{s:i, s:i, s:o, s:f, s:f, s:{s:f, s:f}}", "width", p.im.w,
                                     "height", p.im.h, "faces", faces, "threshold",
                                     p.pol.threshold, "margin", p.pol.margin, "timing_ms",
                                     "detect", p.td, "describe", p.tr));
    }
    photo_deinit(&p);
}

static void h_verify(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    photo p;
    ft_person person;
    ft_sample *samples = NULL;
    size_t ns = 0;
    char buf[32];
    int64_t pid = 0;
    ft_status st = photo_read(r, NULL, &p, &err);
    if (st == FT_OK) {
        const char *ps = ft_http_query(r, "person_id");
        if (!ps)
            ps = form_text(&p.mp, "person_id", buf, sizeof buf);
        if (!ps || !parse_i64(ps, &pid) || pid <= 0)
            st = ft_err_set(&err, FT_E_INVALID, "person_id (query or form field) is required");
    }
    if (st == FT_OK)
        st = ft_gallery_person_get(wc(r)->g, pid, &person, &err);
    if (st == FT_OK)
        st = photo_run(r, &p, PHOTO_DESCRIBE, &err);
    if (st == FT_OK && p.n == 0)
        st = ft_err_set(&err, FT_E_NO_FACE, "no face found in the photo");
    if (st == FT_OK)
        st = ft_gallery_samples_list(wc(r)->g, pid, &samples, &ns, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
    } else {
        size_t k = largest(p.f, p.n);
        double best = INFINITY;
        for (size_t i = 0; i < ns; i++) {
            double d = ft_descriptor_distance(p.f[k].desc, samples[i].descriptor);
            if (d < best)
                best = d;
        }
        ft_http_reply_json(r, 200,
                           json_pack("{s:I, s:s, s:b, s:o, s:f, s:o, s:I}", "person_id",
                                     (json_int_t)pid, "name", person.name, "verified",
                                     best < p.pol.threshold, "distance", num(best), "threshold",
                                     p.pol.threshold, "box", box_json(&p.f[k].box), "n_samples",
                                     (json_int_t)ns));
    }
    ft_free(samples);
    photo_deinit(&p);
}

// Whether an identical decision (source, person, outcome) was logged within
// the cooldown; cooldown_note records a decision once it is logged. Live
// cameras send several frames a second: the log gets one line per passage,
// not one per frame.
static bool cooldown(ft_server *s, const char *source, int64_t person, int decision,
                     int64_t *event_id)
{
    if (s->o.event_cooldown_s <= 0)
        return false;
    double now = ft_now_ms() / 1000.0;
    bool hit = false;
    pthread_mutex_lock(&s->cool_mu);
    for (size_t i = 0; i < sizeof s->cool / sizeof s->cool[0]; i++) {
        struct ft_cooldown *c = &s->cool[i];
        if (c->time > 0 && c->person_id == person && c->decision == decision &&
            strcmp(c->source, source) == 0 && now - c->time < s->o.event_cooldown_s) {
            hit = true;
            *event_id = c->event_id;
            break;
        }
    }
    pthread_mutex_unlock(&s->cool_mu);
    return hit;
}

static void cooldown_note(ft_server *s, const char *source, int64_t person, int decision,
                          int64_t event_id)
{
    double now = ft_now_ms() / 1000.0;
    pthread_mutex_lock(&s->cool_mu);
    size_t slot = 0;
    for (size_t i = 0; i < sizeof s->cool / sizeof s->cool[0]; i++)
        if (s->cool[i].time < s->cool[slot].time)
            slot = i;
    struct ft_cooldown *c = &s->cool[slot];
    snprintf(c->source, sizeof c->source, "%s", source);
    c->person_id = person;
    c->decision = decision;
    c->time = now;
    c->event_id = event_id;
    pthread_mutex_unlock(&s->cool_mu);
}

static void h_access(ft_http_req *r)
{
    ft_server *s = srv(r);
    ft_err err;
    ft_err_clear(&err);
    photo p;
    char srcbuf[FT_GALLERY_NAME_MAX + 1];
    const char *source = NULL;
    ft_buf thumb;
    ft_buf_init(&thumb, 0);
    ft_status st = photo_read(r, NULL, &p, &err);
    if (st == FT_OK) {
        source = ft_http_query(r, "source");
        if (!source)
            source = form_text(&p.mp, "source", srcbuf, sizeof srcbuf);
        if (!source || !*source)
            source = "api";
        if (strlen(source) > FT_GALLERY_NAME_MAX)
            st = ft_err_set(&err, FT_E_INVALID, "source is longer than %d bytes",
                            FT_GALLERY_NAME_MAX);
    }
    if (st == FT_OK)
        st = photo_run(r, &p, PHOTO_IDENTIFY, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        goto done;
    }
    const face_res *f = p.f;
    const ident *id = p.id;
    size_t n = p.n;
    json_t *faces = json_array();
    for (size_t i = 0; i < n; i++) {
        const ft_match_result *m = &id[i].match;
        json_array_append_new(
            faces, json_pack("{s:o, s:o, s:s, s:o, s:o}", "box", box_json(&f[i].box), "score",
                             num(f[i].box.score), "person", id[i].name[0] ? id[i].name : "unknown",
                             "person_id",
                             id[i].name[0] ? json_integer(m->person_id) : json_null(), "distance",
                             num(m->distance)));
    }
    json_t *res;
    if (n == 0) {
        res = json_pack("{s:n, s:s, s:n, s:b}", "decision", "reason", "no face", "event_id",
                        "logged", 0);
    } else {
        // The door decides for the largest face: the person in front of it.
        size_t k = largest(f, n);
        ft_access_decision d;
        ft_access_decide(&f[k].box, &id[k].match, &p.pol, &d);
        if (d.decision == FT_DECISION_GRANTED)
            snprintf(d.name, sizeof d.name, "%s", id[k].name);
        else
            d.name[0] = 0;
        ft_metrics_decision(ft_httpd_metrics(s->httpd), ft_decision_str(d.decision));
        int64_t ev = 0;
        bool logged = false;
        if (!cooldown(s, source, d.person_id, (int)d.decision, &ev)) {
            thumbnail(&p.im, &f[k].box, &thumb);
            st = ft_access_record(wc(r)->g, &d, source, 0, thumb.len ? thumb.data : NULL,
                                  thumb.len, &err);
            if (st != FT_OK) {
                // Fail closed: a decision that was not logged is not given.
                json_decref(faces);
                ft_http_reply_status(r, st, &err);
                goto done;
            }
            ev = d.event_id;
            logged = true;
            cooldown_note(s, source, d.person_id, (int)d.decision, ev);
        }
        res = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:b, s:i}", "decision",
                        ft_decision_str(d.decision), "reason", ft_access_reason_str(d.reason),
                        "person",
                        d.decision == FT_DECISION_GRANTED
                            ? json_pack("{s:I, s:s}", "id", (json_int_t)d.person_id, "name",
                                        d.name)
                            : json_null(),
                        "distance", num(d.distance), "margin", num(d.margin), "event_id",
                        (json_int_t)ev, "logged", logged, "face_index", (int)k);
    }
    json_object_set_new(res, "source", json_string(source));
    json_object_set_new(res, "width", json_integer(p.im.w));
    json_object_set_new(res, "height", json_integer(p.im.h));
    json_object_set_new(res, "faces", faces);
    json_object_set_new(res, "timing_ms",
                        json_pack("{s:f, s:f}", "detect", p.td, "describe", p.tr));
    ft_http_reply_json(r, 200, res);
done:
    ft_buf_deinit(&thumb);
    photo_deinit(&p);
}

// POST /api/v1/people/{id}/samples: every file part is one photo; each must
// hold one face (or ?pick=largest) passing the quality gate. All accepted
// photos are enrolled in one transaction.
// One photo into one enrolment sample. By default the rules the CLI applies
// (access/enroll.c: exactly one face, the best candidate above 0.2 when none
// passes the detector, the quality gate); with ?pick=largest the largest
// face of a group photo, through the same quality gate.
static ft_status enrol_one(ft_http_req *r, const ft_image *im, const ft_multipart_part *p,
                           bool pick_largest, const ft_gallery_policy *pol, face_res *f,
                           ft_sample *sm, ft_buf *thumb, ft_err *err)
{
    ft_buf_init(thumb, 0);
    if (!pick_largest) {
        ft_describe_opts o = ft_describe_opts_default();
        o.detect.kind = detector_for(r);
        return ft_enroll_sample(srv(r)->models, wc(r)->nn, im, p->data, p->len, &o, pol, sm,
                                thumb, NULL, err);
    }
    size_t n = 0;
    double td, tr;
    ft_status st = analyse(r, im, true, f, &n, &td, &tr, err);
    if (st == FT_OK && n == 0)
        st = ft_err_set(err, FT_E_NO_FACE, "no face found");
    size_t k = st == FT_OK ? largest(f, n) : 0;
    if (st == FT_OK)
        st = ft_access_quality(&f[k].box, pol, NULL, err);
    if (st != FT_OK)
        return st;
    memset(sm, 0, sizeof *sm);
    memcpy(sm->descriptor, f[k].desc, sizeof sm->descriptor);
    sm->detector_score = f[k].box.score;
    snprintf(sm->alignment, sizeof sm->alignment, "%s", ft_align_name(ft_align_default()));
    snprintf(sm->model, sizeof sm->model, "%s", ft_descriptor_space(ft_align_default()));
    sm->face_w = (int32_t)lround(f[k].box.w);
    sm->face_h = (int32_t)lround(f[k].box.h);
    ft_sha256_hex(p->data, p->len, sm->source_sha256);
    thumbnail(im, &f[k].box, thumb);
    sm->thumbnail = thumb->len ? thumb->data : NULL;
    sm->thumbnail_len = thumb->len;
    return FT_OK;
}

static void h_samples_add(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t pid;
    if (!path_id(r, 0, &pid))
        return;
    ft_multipart mp;
    memset(&mp, 0, sizeof mp);
    ft_person person;
    ft_gallery_policy pol;
    face_res *f = ft_malloc(sizeof *f * MAX_FACES);
    ft_sample *smp = NULL;
    ft_buf *thumbs = NULL;
    int64_t *ids = NULL;
    json_t *rejected = json_array(), *added = json_array();
    size_t n_ok = 0;
    bool pick_largest = ft_http_query(r, "pick") && strcmp(ft_http_query(r, "pick"), "largest") == 0;
    ft_status st = f ? FT_OK : ft_err_set(&err, FT_E_NOMEM, "out of memory");
    if (st == FT_OK)
        st = ft_gallery_person_get(wc(r)->g, pid, &person, &err);
    if (st == FT_OK) {
        if (!r->content_type || strncasecmp(r->content_type, "multipart/", 10) != 0)
            st = ft_err_set(&err, FT_E_UNSUPPORTED,
                            "expected multipart/form-data with one or more 'photo' files");
        else {
            ft_multipart_limits lim = ft_multipart_limits_default();
            lim.max_body_bytes = srv(r)->o.max_body_bytes + 64 * 1024;
            st = ft_multipart_parse(r->body, r->body_len, r->content_type, &lim, &mp, &err);
        }
    }
    if (st == FT_OK)
        st = ft_gallery_policy_load(wc(r)->g, &pol, &err);
    size_t nfiles = 0;
    for (size_t i = 0; st == FT_OK && i < mp.n_parts; i++)
        if (mp.parts[i].filename)
            nfiles++;
    if (st == FT_OK && nfiles == 0)
        st = ft_err_set(&err, FT_E_FORMAT, "no photo in the form (file parts named 'photo')");
    if (st == FT_OK) {
        smp = ft_calloc(nfiles, sizeof *smp);
        thumbs = ft_calloc(nfiles, sizeof *thumbs);
        ids = ft_calloc(nfiles, sizeof *ids);
        if (!smp || !thumbs || !ids)
            st = ft_err_set(&err, FT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == FT_OK && i < mp.n_parts; i++) {
        const ft_multipart_part *p = &mp.parts[i];
        if (!p->filename)
            continue;
        ft_err e2;
        ft_err_clear(&e2);
        ft_image im = {0, 0, NULL};
        ft_status s2 = p->len ? decode(r, p->data, p->len, &im, &e2)
                              : ft_err_set(&e2, FT_E_FORMAT, "the file is empty");
        if (s2 == FT_OK)
            s2 = enrol_one(r, &im, p, pick_largest, &pol, f, &smp[n_ok], &thumbs[n_ok], &e2);
        if (s2 != FT_OK) {
            json_array_append_new(rejected,
                                  json_pack("{s:s, s:{s:s, s:s}}", "filename", p->filename,
                                            "error", "code", ft_status_name(s2), "message",
                                            ft_err_msg(&e2, s2)));
        } else {
            json_array_append_new(added, json_pack("{s:s, s:o, s:o}", "filename", p->filename,
                                                   "face", json_pack("[ii]", smp[n_ok].face_w,
                                                                     smp[n_ok].face_h),
                                                   "score", num(smp[n_ok].detector_score)));
            n_ok++;
        }
        ft_image_deinit(&im);
    }
    if (st == FT_OK && n_ok == 0) {
        json_t *first = json_array_get(rejected, 0);
        const char *msg =
            json_string_value(json_object_get(json_object_get(first, "error"), "message"));
        ft_http_reply_json(
            r, 422,
            json_pack("{s:{s:s, s:s}, s:O}", "error", "code", "E_NO_FACE", "message",
                      msg ? msg : "no usable face in the photos", "rejected", rejected));
        goto done;
    }
    if (st == FT_OK)
        st = ft_gallery_enroll(wc(r)->g, pid, NULL, smp, n_ok, NULL, ids, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        goto done;
    }
    for (size_t i = 0; i < n_ok; i++)
        json_object_set_new(json_array_get(added, i), "sample_id", json_integer(ids[i]));
    ft_http_reply_json(r, 201,
                       json_pack("{s:I, s:s, s:O, s:O}", "person_id", (json_int_t)pid, "name",
                                 person.name, "added", added, "rejected", rejected));
done:
    json_decref(rejected);
    json_decref(added);
    for (size_t i = 0; thumbs && i < n_ok; i++)
        ft_buf_deinit(&thumbs[i]);
    ft_free(thumbs);
    ft_free(smp);
    ft_free(ids);
    ft_free(f);
    ft_multipart_deinit(&mp);
}

// ---- People, samples (database pool) ----

static json_t *person_json(const ft_person *p, int64_t thumb_sample)
{
    char url[96];
    snprintf(url, sizeof url, "/api/v1/samples/%lld/thumbnail", (long long)thumb_sample);
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:f, s:f, s:o}", "id", (json_int_t)p->id, "name",
                     p->name, "external_id", p->external_id, "notes", p->notes, "n_samples",
                     (json_int_t)p->n_samples, "created_at", p->created_at, "updated_at",
                     p->updated_at, "thumbnail",
                     thumb_sample > 0 ? json_string(url) : json_null());
}

static json_t *sample_json(const ft_sample *s)
{
    char url[96];
    snprintf(url, sizeof url, "/api/v1/samples/%lld/thumbnail", (long long)s->id);
    return json_pack("{s:I, s:I, s:s, s:s, s:f, s:i, s:i, s:s, s:f, s:o}", "id", (json_int_t)s->id,
                     "person_id", (json_int_t)s->person_id, "model", s->model, "alignment",
                     s->alignment, "detector_score", s->detector_score, "face_w", s->face_w,
                     "face_h", s->face_h, "source_sha256", s->source_sha256, "created_at",
                     s->created_at, "thumbnail",
                     s->thumbnail_len ? json_string(url) : json_null());
}

static void h_people_list(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    ft_person *p = NULL;
    ft_sample *s = NULL;
    size_t np = 0, ns = 0;
    ft_status st = ft_gallery_people_list(wc(r)->g, &p, &np, &err);
    if (st == FT_OK)
        st = ft_gallery_samples_list(wc(r)->g, 0, &s, &ns, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < np; i++) {
            int64_t th = 0;
            for (size_t j = 0; j < ns && !th; j++)
                if (s[j].person_id == p[i].id && s[j].thumbnail_len)
                    th = s[j].id;
            json_array_append_new(arr, person_json(&p[i], th));
        }
        ft_http_reply_json(r, 200, json_pack("{s:o}", "people", arr));
    }
    ft_free(p);
    ft_free(s);
}

// The person of the path's id and their samples (the caller frees *s);
// replies with the error and returns false when either cannot be read.
static bool person_samples(ft_http_req *r, int64_t *id, ft_person *p, ft_sample **s, size_t *ns)
{
    ft_err err;
    ft_err_clear(&err);
    *s = NULL;
    *ns = 0;
    if (!path_id(r, 0, id))
        return false;
    ft_status st = ft_gallery_person_get(wc(r)->g, *id, p, &err);
    if (st == FT_OK)
        st = ft_gallery_samples_list(wc(r)->g, *id, s, ns, &err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, &err);
    return st == FT_OK;
}

static void h_person_get(ft_http_req *r)
{
    int64_t id;
    ft_person p;
    ft_sample *s;
    size_t ns;
    if (person_samples(r, &id, &p, &s, &ns)) {
        json_t *arr = json_array();
        int64_t th = 0;
        for (size_t i = 0; i < ns; i++) {
            json_array_append_new(arr, sample_json(&s[i]));
            if (!th && s[i].thumbnail_len)
                th = s[i].id;
        }
        json_t *j = person_json(&p, th);
        json_object_set_new(j, "samples", arr);
        ft_http_reply_json(r, 200, j);
    }
    ft_free(s);
}

static const char *json_str_field(json_t *j, const char *key, bool *bad)
{
    json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

// A person's fields from the request's JSON body (NULL when absent; the
// strings live in j). False after replying when the body is not JSON;
// *bad when a present field is not a string.
typedef struct person_body {
    json_t *j;
    const char *name, *ext, *notes;
    bool bad;
} person_body;

static bool person_body_read(ft_http_req *r, person_body *pb)
{
    ft_err err;
    ft_err_clear(&err);
    memset(pb, 0, sizeof *pb);
    ft_status st = ft_http_body_json(r, &pb->j, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return false;
    }
    pb->name = json_str_field(pb->j, "name", &pb->bad);
    pb->ext = json_str_field(pb->j, "external_id", &pb->bad);
    pb->notes = json_str_field(pb->j, "notes", &pb->bad);
    return true;
}

// Replies with person `id` as stored now (HTTP `status`), or with st's error.
static void reply_person(ft_http_req *r, ft_status st, int64_t id, int status, ft_err *err)
{
    ft_person p;
    if (st == FT_OK)
        st = ft_gallery_person_get(wc(r)->g, id, &p, err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, err);
    else
        ft_http_reply_json(r, status, person_json(&p, 0));
}

static void h_person_create(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    person_body pb;
    if (!person_body_read(r, &pb))
        return;
    ft_status st = FT_OK;
    int64_t id = 0;
    if (pb.bad || !pb.name)
        st = ft_err_set(&err, FT_E_INVALID, "\"name\" (a string) is required; \"external_id\" "
                                            "and \"notes\" must be strings");
    if (st == FT_OK)
        st = ft_gallery_person_add(wc(r)->g, pb.name, pb.ext, pb.notes, &id, &err);
    reply_person(r, st, id, 201, &err);
    json_decref(pb.j);
}

static void h_person_update(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    person_body pb;
    if (!person_body_read(r, &pb))
        return;
    ft_status st = FT_OK;
    ft_person p;
    if (pb.bad)
        st = ft_err_set(&err, FT_E_INVALID, "name, external_id and notes must be strings");
    if (st == FT_OK)
        st = ft_gallery_person_get(wc(r)->g, id, &p, &err);
    if (st == FT_OK && pb.name && strcmp(pb.name, p.name) != 0)
        st = ft_gallery_person_rename(wc(r)->g, id, pb.name, &err);
    if (st == FT_OK && (pb.ext || pb.notes))
        st = ft_gallery_person_update(wc(r)->g, id, pb.ext, pb.notes, &err);
    reply_person(r, st, id, 200, &err);
    json_decref(pb.j);
}

static void h_person_delete(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    ft_status st = ft_gallery_person_delete(wc(r)->g, id, &err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, &err);
    else
        ft_http_reply_json(r, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
}

static void h_samples_list(ft_http_req *r)
{
    int64_t id;
    ft_person p;
    ft_sample *s;
    size_t ns;
    if (person_samples(r, &id, &p, &s, &ns)) {
        json_t *arr = json_array();
        for (size_t i = 0; i < ns; i++)
            json_array_append_new(arr, sample_json(&s[i]));
        ft_http_reply_json(r, 200, json_pack("{s:I, s:o}", "person_id", (json_int_t)id,
                                             "samples", arr));
    }
    ft_free(s);
}

static void h_sample_delete(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    ft_status st = ft_gallery_sample_delete(wc(r)->g, id, &err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, &err);
    else
        ft_http_reply_json(r, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
}

static void reply_jpeg(ft_http_req *r, ft_status st, ft_err *err, const char *what)
{
    if (st != FT_OK) {
        ft_http_reply_status(r, st, err);
    } else if (r->out.len == 0) {
        ft_http_reply_error(r, 404, "E_NOT_FOUND", "%s has no thumbnail", what);
    } else {
        r->status = 200;
        r->out_type = "image/jpeg";
        ft_http_reply_header(r, "Cache-Control", "private, max-age=3600");
    }
}

static void h_sample_thumb(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    ft_status st = ft_gallery_sample_thumbnail(wc(r)->g, id, &r->out, &err);
    reply_jpeg(r, st, &err, "this sample");
}

// ---- Events ----

// Unix seconds, or an ISO-8601 UTC time ("2024-05-01T10:00:00Z", date only).
static bool parse_time(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!errno && *end == 0 && end != s && isfinite(v)) {
        *out = v;
        return true;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *fmts[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ",
                          "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        memset(&tm, 0, sizeof tm);
        const char *e = strptime(s, fmts[i], &tm);
        if (e && *e == 0) {
            *out = (double)timegm(&tm);
            return true;
        }
    }
    return false;
}

static bool event_query(ft_http_req *r, ft_event_query *q, bool paged)
{
    *q = ft_event_query_default();
    const char *v;
    if ((v = ft_http_query(r, "since")) && *v && !parse_time(v, &q->since)) {
        ft_http_reply_error(r, 400, "E_INVALID", "since: '%s' is not a time", v);
        return false;
    }
    if ((v = ft_http_query(r, "until")) && *v && !parse_time(v, &q->until)) {
        ft_http_reply_error(r, 400, "E_INVALID", "until: '%s' is not a time", v);
        return false;
    }
    if ((v = ft_http_query(r, "person_id")) && *v) {
        if (strcmp(v, "unknown") == 0)
            q->person_id = -1;
        else if (!parse_i64(v, &q->person_id) || q->person_id < -1) {
            ft_http_reply_error(r, 400, "E_INVALID", "person_id: '%s' is not an id or 'unknown'",
                                v);
            return false;
        }
    }
    if ((v = ft_http_query(r, "decision")) && *v) {
        if (strcmp(v, "granted") == 0)
            q->decision = FT_DECISION_GRANTED;
        else if (strcmp(v, "denied") == 0)
            q->decision = FT_DECISION_DENIED;
        else {
            ft_http_reply_error(r, 400, "E_INVALID", "decision must be granted or denied");
            return false;
        }
    }
    if ((v = ft_http_query(r, "source")) && *v)
        q->source = v;
    q->limit = paged ? 50 : 0;
    int64_t n;
    if ((v = ft_http_query(r, "limit")) && *v) {
        if (!parse_i64(v, &n) || n < 1 || n > 1000) {
            ft_http_reply_error(r, 400, "E_INVALID", "limit must be 1..1000");
            return false;
        }
        q->limit = (size_t)n;
    }
    if ((v = ft_http_query(r, "offset")) && *v) {
        if (!parse_i64(v, &n) || n < 0) {
            ft_http_reply_error(r, 400, "E_INVALID", "offset must be >= 0");
            return false;
        }
        q->offset = (size_t)n;
    }
    if ((v = ft_http_query(r, "order")) && strcmp(v, "asc") == 0)
        q->oldest_first = true;
    return true;
}

static void h_events(ft_http_req *r)
{
    ft_event_query q;
    if (!event_query(r, &q, true))
        return;
    ft_err err;
    ft_err_clear(&err);
    ft_event *ev = NULL;
    size_t n = 0;
    int64_t total = 0;
    ft_status st = ft_gallery_events_query(wc(r)->g, &q, &ev, &n, &total, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char url[96];
        snprintf(url, sizeof url, "/api/v1/events/%lld/thumbnail", (long long)ev[i].id);
        json_array_append_new(
            arr, json_pack("{s:I, s:f, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "id",
                           (json_int_t)ev[i].id, "time", ev[i].time, "source", ev[i].source,
                           "decision", ft_decision_str(ev[i].decision), "reason", ev[i].reason,
                           "person_id",
                           ev[i].person_id > 0 ? json_integer(ev[i].person_id) : json_null(),
                           "name", ev[i].name_at_time, "distance", num(ev[i].distance), "margin",
                           num(ev[i].margin), "detector_score", num(ev[i].detector_score),
                           "thumbnail", ev[i].thumbnail_len ? json_string(url) : json_null()));
    }
    ft_free(ev);
    ft_http_reply_json(r, 200,
                       json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)total, "limit",
                                 (json_int_t)q.limit, "offset", (json_int_t)q.offset, "events",
                                 arr));
}

static void h_events_csv(ft_http_req *r)
{
    ft_event_query q;
    if (!event_query(r, &q, false))
        return;
    ft_err err;
    ft_err_clear(&err);
    r->out.len = 0;
    ft_status st = ft_gallery_events_csv(wc(r)->g, &q, &r->out, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    r->status = 200;
    r->out_type = "text/csv; charset=utf-8";
    ft_http_reply_header(r, "Content-Disposition", "attachment; filename=\"events.csv\"");
}

static void h_event_thumb(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    ft_status st = ft_gallery_event_thumbnail(wc(r)->g, id, &r->out, &err);
    reply_jpeg(r, st, &err, "this event");
}

// ---- Settings, calibration, keys ----

static void reply_settings(ft_http_req *r, int status)
{
    ft_err err;
    ft_err_clear(&err);
    ft_gallery_policy p;
    ft_gallery_counts c;
    ft_status st = ft_gallery_policy_load(wc(r)->g, &p, &err);
    if (st == FT_OK)
        st = ft_gallery_counts_get(wc(r)->g, &c, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    ft_server *s = srv(r);
    ft_http_reply_json(
        r, status,
        json_pack("{s:f, s:f, s:f, s:f, s:s, s:f, s:b, s:I, s:I, s:I, s:I}", "threshold",
                  p.threshold, "margin", p.margin, "min_face_px", p.min_face_px,
                  "min_detector_score", p.min_detector_score, "detector",
                  s->o.detector == FT_DETECTOR_TINY ? "tiny" : "ssd", "event_cooldown_s",
                  s->o.event_cooldown_s, "keys_required", c.api_keys > 0, "people",
                  (json_int_t)c.people, "samples", (json_int_t)c.samples, "events",
                  (json_int_t)c.events, "max_upload_bytes", (json_int_t)s->o.max_body_bytes));
}

static void h_settings_get(ft_http_req *r)
{
    reply_settings(r, 200);
}

static void h_settings_set(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    json_t *j = NULL;
    ft_status st = ft_http_body_json(r, &j, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    ft_gallery_policy p;
    st = ft_gallery_policy_load(wc(r)->g, &p, &err);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (st != FT_OK)
            break;
        double *slot = strcmp(key, "threshold") == 0            ? &p.threshold
                       : strcmp(key, "margin") == 0             ? &p.margin
                       : strcmp(key, "min_face_px") == 0        ? &p.min_face_px
                       : strcmp(key, "min_detector_score") == 0 ? &p.min_detector_score
                                                                : NULL;
        if (!slot)
            st = ft_err_set(&err, FT_E_INVALID,
                            "unknown setting '%s' (threshold, margin, min_face_px, "
                            "min_detector_score)",
                            key);
        else if (!json_is_number(v))
            st = ft_err_set(&err, FT_E_INVALID, "%s must be a number", key);
        else
            *slot = json_number_value(v);
    }
    json_decref(j);
    if (st == FT_OK)
        st = ft_gallery_policy_check(&p, &err);
    if (st == FT_OK)
        st = ft_gallery_policy_save(wc(r)->g, &p, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    reply_settings(r, 200);
}

static void h_calibrate(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    json_t *j = NULL;
    ft_status st = FT_OK;
    if (r->body_len) {
        st = ft_http_body_json(r, &j, &err);
        if (st != FT_OK) {
            ft_http_reply_status(r, st, &err);
            return;
        }
    }
    ft_calib_opts o = ft_calib_opts_default();
    bool store = false;
    json_t *v;
    if ((v = json_object_get(j, "store"))) {
        if (!json_is_boolean(v))
            st = ft_err_set(&err, FT_E_INVALID, "store must be true or false");
        store = json_is_true(v);
    }
    if ((v = json_object_get(j, "target_far"))) {
        if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) >= 1)
            st = ft_err_set(&err, FT_E_INVALID, "target_far must be a number in (0, 1)");
        else
            o.target_far = json_number_value(v);
    }
    json_decref(j);
    ft_calib_result res;
    memset(&res, 0, sizeof res);
    if (st == FT_OK)
        st = ft_gallery_calibrate(wc(r)->g, ft_descriptor_space(ft_align_default()), &o, store, &res,
                                  &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < res.n_rows; i++)
        json_array_append_new(rows, json_pack("{s:f, s:o, s:o}", "threshold", res.rows[i].threshold,
                                              "far", num(res.rows[i].far), "frr",
                                              num(res.rows[i].frr)));
    ft_http_reply_json(r, 200,
                       json_pack("{s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:o, s:b, s:o}", "n_samples",
                                 (json_int_t)res.n_samples, "n_people", (json_int_t)res.n_people,
                                 "n_genuine", (json_int_t)res.n_genuine, "n_impostor",
                                 (json_int_t)res.n_impostor, "target_far", o.target_far,
                                 "threshold", num(res.threshold), "far", num(res.far), "frr",
                                 num(res.frr), "stored", store, "rows", rows));
    ft_calib_result_deinit(&res);
}

static void h_keys_list(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    ft_api_key *k = NULL;
    size_t n = 0;
    ft_status st = ft_gallery_keys_list(wc(r)->g, &k, &n, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:I, s:s, s:s, s:f, s:o, s:o}", "id", (json_int_t)k[i].id, "name",
                           k[i].name, "role", ft_key_role_str(k[i].role), "created_at",
                           k[i].created_at, "revoked_at",
                           k[i].revoked_at > 0 ? json_real(k[i].revoked_at) : json_null(),
                           "last_used_at",
                           k[i].last_used_at > 0 ? json_real(k[i].last_used_at) : json_null()));
    ft_free(k);
    ft_http_reply_json(r, 200, json_pack("{s:o}", "keys", arr));
}

static void h_key_create(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    json_t *j = NULL;
    ft_status st = ft_http_body_json(r, &j, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    bool bad = false;
    const char *name = json_str_field(j, "name", &bad);
    const char *role_s = json_str_field(j, "role", &bad);
    ft_key_role role = FT_ROLE_VIEWER;
    char token[FT_KEY_TOKEN_MAX];
    int64_t id = 0;
    if (bad || !name || !role_s)
        st = ft_err_set(&err, FT_E_INVALID,
                        "\"name\" and \"role\" (admin, device or viewer) are required strings");
    if (st == FT_OK)
        st = ft_key_role_parse(role_s, &role, &err);
    if (st == FT_OK)
        st = ft_gallery_key_create(wc(r)->g, name, role, token, &id, &err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, &err);
    else
        ft_http_reply_json(r, 201,
                           json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name,
                                     "role", ft_key_role_str(role), "token", token));
    json_decref(j);
}

static void h_key_revoke(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    ft_status st = ft_gallery_key_revoke(wc(r)->g, id, &err);
    if (st != FT_OK)
        ft_http_reply_status(r, st, &err);
    else
        ft_http_reply_json(r, 200, json_pack("{s:I}", "revoked", (json_int_t)id));
}

// ---- The route table ----

#define READ (FT_HTTP_VIEWER | FT_HTTP_DEVICE)
#define VIEW FT_HTTP_VIEWER
#define DEV FT_HTTP_DEVICE
#define ADMIN FT_HTTP_ADMIN
#define INL FT_POOL_INLINE
#define DB FT_POOL_DB
#define INF FT_POOL_INFER
#define NOB FT_BODY_NONE
#define JSN FT_BODY_JSON
#define MPT FT_BODY_MULTIPART
#define EVQ                                                                                   \
    "since:string:Unix seconds or ISO-8601 UTC (inclusive)|until:string:Unix seconds or "      \
    "ISO-8601 UTC (exclusive)|person_id:string:a person id, or 'unknown'|decision:string:"     \
    "granted or denied|source:string:door or camera name"

const ft_route ft_http__routes[] = {
    {"GET", "/", h_index, 0, INL, NOB, "text/html", "page", "The web page", NULL},
    {"GET", "/index.html", h_index, 0, INL, NOB, "text/html", "page", "The web page", NULL},
    {"GET", "/assets/{file}", h_asset, 0, INL, NOB, "application/octet-stream", "page",
     "The page's scripts, styles and icons (embedded in the binary)", NULL},
    {"GET", "/healthz", h_healthz, 0, INL, NOB, NULL, "ops",
     "Liveness (200 from the first millisecond), version, and whether the models are loaded "
     "(\"ready\")", NULL},
    {"GET", "/readyz", h_readyz, 0, INL, NOB, NULL, "ops",
     "Readiness: 200 once the models are loaded, 503 + Retry-After before", NULL},
    {"GET", "/metrics", h_metrics, 0, INL, NOB, "text/plain", "ops",
     "Prometheus metrics: requests and latency per route, faces, decisions, inference time",
     NULL},
    {"GET", "/api/v1/openapi.json", h_openapi, 0, INL, NOB, NULL, "ops", "This document", NULL},
    {"POST", "/api/prediction", h_prediction, READ, INF, MPT, NULL, "recognition",
     "The prototype's endpoint: faces (box, score, person or unknown, distance) in the "
     "multipart field fileImg",
     "detector:string:ssd or tiny"},
    {"POST", "/api/v1/detect", h_detect, READ, INF, MPT, NULL, "recognition",
     "Faces in a photo (multipart 'photo' or an image/* body)", "detector:string:ssd or tiny"},
    {"POST", "/api/v1/identify", h_identify, READ, INF, MPT, NULL, "recognition",
     "Faces in a photo, each matched against the gallery", "detector:string:ssd or tiny"},
    {"POST", "/api/v1/verify", h_verify, READ, INF, MPT, NULL, "recognition",
     "Is the largest face in the photo this person?",
     "person_id:integer:the person to verify against|detector:string:ssd or tiny"},
    {"POST", "/api/v1/access", h_access, DEV, INF, MPT, NULL, "access",
     "The door's question: decision for the largest face, logged as an event",
     "source:string:door or camera name (or form field)|detector:string:ssd or tiny"},
    {"GET", "/api/v1/people", h_people_list, VIEW, DB, NOB, NULL, "people",
     "Everyone enrolled, with a thumbnail", NULL},
    {"POST", "/api/v1/people", h_person_create, ADMIN, DB, JSN, NULL, "people",
     "Add a person: {\"name\", \"external_id\"?, \"notes\"?}", NULL},
    {"GET", "/api/v1/people/{id}", h_person_get, VIEW, DB, NOB, NULL, "people",
     "One person and their samples", NULL},
    {"PATCH", "/api/v1/people/{id}", h_person_update, ADMIN, DB, JSN, NULL, "people",
     "Rename or edit a person: {\"name\"?, \"external_id\"?, \"notes\"?}", NULL},
    {"DELETE", "/api/v1/people/{id}", h_person_delete, ADMIN, DB, NOB, NULL, "people",
     "Delete a person and their samples (events stay, anonymised)", NULL},
    {"GET", "/api/v1/people/{id}/samples", h_samples_list, VIEW, DB, NOB, NULL, "samples",
     "A person's samples", NULL},
    {"POST", "/api/v1/people/{id}/samples", h_samples_add, ADMIN, INF, MPT, NULL, "samples",
     "Enrol from uploaded photos (file parts 'photo'; one face each)",
     "pick:string:'largest' to use the largest face of a group photo|detector:string:ssd or "
     "tiny"},
    {"DELETE", "/api/v1/samples/{id}", h_sample_delete, ADMIN, DB, NOB, NULL, "samples",
     "Delete one sample", NULL},
    {"GET", "/api/v1/samples/{id}/thumbnail", h_sample_thumb, VIEW, DB, NOB, "image/jpeg",
     "samples", "A sample's face thumbnail", NULL},
    {"GET", "/api/v1/events", h_events, VIEW, DB, NOB, NULL, "events",
     "The access log, newest first, filtered and paginated",
     EVQ "|limit:integer:1..1000 (default 50)|offset:integer:rows to skip|order:string:asc for "
         "oldest first"},
    {"GET", "/api/v1/events.csv", h_events_csv, VIEW, DB, NOB, "text/csv", "events",
     "The access log as CSV (same filters, no paging)", EVQ},
    {"GET", "/api/v1/events/{id}/thumbnail", h_event_thumb, VIEW, DB, NOB, "image/jpeg", "events",
     "An event's face thumbnail", NULL},
    {"GET", "/api/v1/settings", h_settings_get, VIEW, DB, NOB, NULL, "settings",
     "Access policy and server facts", NULL},
    {"PATCH", "/api/v1/settings", h_settings_set, ADMIN, DB, JSN, NULL, "settings",
     "Change threshold, margin, min_face_px, min_detector_score", NULL},
    {"POST", "/api/v1/calibrate", h_calibrate, ADMIN, DB, JSN, NULL, "settings",
     "False-accept / false-reject table over the gallery: {\"store\"?, \"target_far\"?}", NULL},
    {"GET", "/api/v1/keys", h_keys_list, ADMIN, DB, NOB, NULL, "keys", "API keys (no secrets)",
     NULL},
    {"POST", "/api/v1/keys", h_key_create, ADMIN, DB, JSN, NULL, "keys",
     "Create a key: {\"name\", \"role\": admin|device|viewer}; the token is shown once", NULL},
    {"DELETE", "/api/v1/keys/{id}", h_key_revoke, ADMIN, DB, NOB, NULL, "keys", "Revoke a key",
     NULL},
};
const size_t ft_http__n_routes = sizeof ft_http__routes / sizeof ft_http__routes[0];
