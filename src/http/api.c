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
#include "door/door.h"

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
    // Every route that takes a photo takes ?detector too: a name that is
    // none of the detectors is refused, not answered with the default.
    const char *dq = ft_http_query(r, "detector");
    ft_detector_kind dk;
    if (dq && !ft_detector_parse(dq, &dk))
        return ft_err_set(err, FT_E_INVALID, "detector '%.20s': expected yunet, ssd or tiny", dq);
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

// For the other handler files (api_door.c).
ft_status ft_http__image_input(ft_http_req *r, const char *field, ft_multipart *mp,
                               const uint8_t **data, size_t *len, ft_err *err)
{
    return image_input(r, field, mp, data, len, err);
}

ft_status ft_http__decode(ft_http_req *r, const uint8_t *data, size_t len, ft_image *im,
                          ft_err *err)
{
    return decode(r, data, len, im, err);
}

const char *ft_http__form_text(const ft_multipart *mp, const char *name, char *buf, size_t cap)
{
    return form_text(mp, name, buf, cap);
}

json_t *ft_http__num(double v)
{
    return num(v);
}

json_t *ft_http__box_json(const ft_face_box *b)
{
    return box_json(b);
}

// ---- The face pipeline ----

// The stored policy of the server's descriptor network (its own threshold
// and margin, ft_access_policy_load).
static ft_status server_policy(ft_http_req *r, ft_gallery_policy *out, ft_err *err)
{
    return ft_access_policy_load(wc(r)->g, srv(r)->net, out, err);
}

typedef struct face_res {
    ft_face_box box;
    float desc[FT_DESCRIPTOR_DIM_MAX]; // in the server's descriptor space (s->net)
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
    size_t k = 0;
    for (size_t i = 0; i < nf; i++) {
        face_res *f = &faces[k];
        f->box = boxes[i];
        f->has_desc = false;
        if (!want_desc) {
            k++;
            continue;
        }
        ft_point lm[FT_LANDMARKS];
        double a = ft_now_ms();
        st = FT_OK;
        if (s->net->needs_landmarks) {
            ft_face_box lb = use_trained(r) ? boxes[i] : ft_landmark_box(o.kind, &boxes[i]);
            st = ft_landmarks(s->models, wc(r)->nn, im, &lb, false, lm, err);
        }
        double b = ft_now_ms();
        // The same alignment as every other enrolment and query path
        // (the CLI's default), so descriptors in one gallery compare.
        if (st == FT_OK && s->net == ft_descriptor_net_resnet()) {
            st = ft_descriptor(s->models, wc(r)->nn, im, &boxes[i], lm, ft_align_default(),
                               f->desc, err);
        } else if (st == FT_OK) {
            // Another network (serve --descriptor): its crop from the box.
            ft_face face;
            memset(&face, 0, sizeof face);
            face.box = boxes[i];
            ft_descriptor_models mm = {s->models, s->faceres};
            ft_describe_opts dopt = ft_describe_opts_default();
            st = s->net->describe(&mm, wc(r)->nn, im, &face, &dopt, f->desc, err);
        }
        if (st == FT_E_INVALID) {
            // A box that does not overlap the image has no crop: dropped,
            // as the door pipeline and the CLI drop it (not a failed
            // request).
            ft_err_clear(err);
            continue;
        }
        if (st != FT_OK)
            return st;
        double c = ft_now_ms();
        ft_metrics_inference(m, "landmarks", (b - a) / 1000.0);
        ft_metrics_inference(m, "recognition", (c - b) / 1000.0);
        *ms_describe += c - a;
        f->has_desc = true;
        k++;
    }
    *n = k;
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


typedef struct ident {
    ft_match_result match;
    char name[FT_GALLERY_NAME_MAX + 1]; // "" unless known
} ident;

static ft_status identify_all(ft_http_req *r, const face_res *f, size_t n,
                              const ft_gallery_policy *pol, ident *out, ft_err *err)
{
    ft_server *s = srv(r);
    const ft_match_matrix *mx;
    ft_status st = ft_door_matrix_acquire(s->door, wc(r)->g, &mx, err);
    if (st != FT_OK)
        return st;
    for (size_t i = 0; i < n && st == FT_OK; i++) {
        ft_gallery_policy eff;
        st = ft_access_match(mx, f[i].desc, s->net->dim, pol, &out[i].match, &eff, err);
    }
    ft_door_matrix_release(s->door);
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
        st = server_policy(r, &p->pol, err);
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
        ft_detector_name(s->o.detector), "workers", s->o.threads, "queue",
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
    // A door that cannot log cannot decide (decisions fail closed): a
    // gallery that cannot be written (read-only, disk full) is not ready.
    ft_err serr;
    ft_err_clear(&serr);
    const char *dbp = srv(r)->db_path ? srv(r)->db_path : FT_GALLERY_DEFAULT_PATH;
    // A PostgreSQL gallery has no file to probe from this thread (no
    // connection here); its writes fail closed with 503 where they happen.
    bool pg = strncmp(dbp, "postgresql://", 13) == 0 || strncmp(dbp, "postgres://", 11) == 0;
    ft_status sst = pg ? FT_OK : ft_gallery_path_writable_probe(dbp, &serr);
    if (sst != FT_OK) {
        ft_http_reply_error(r, 503, "E_STORAGE", "the gallery cannot be written: %s",
                            ft_err_msg(&serr, sst));
        ft_http_reply_header(r, "Retry-After", "5");
        return;
    }
    if (state == FT_SERVER_READY) {
        // Ready: the door decides. The detail says how each camera and each
        // delivery sink is doing (a camera that reconnects does not make
        // the server unready: other doors still decide).
        json_t *j = json_pack("{s:b}", "ready", 1);
        if (srv(r)->door_started)
            ft_http__door_ready_detail(srv(r), j);
        ft_http_reply_json(r, 200, j);
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

// POST /api/v1/people only refuses (h_person_create): the document says
// so instead of the generic 201 of a creating POST.
static void openapi_people_post(json_t *doc)
{
    json_t *op =
        json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/v1/people"), "post");
    json_t *res = json_object_get(op, "responses");
    if (!res)
        return;
    json_object_del(res, "201");
    json_object_set_new(res, "422",
                        json_pack("{s:s}", "description",
                                  "E_SAMPLE_REQUIRED, always: create a person with their first "
                                  "photos by POST /api/v1/enrol"));
    json_object_set_new(op, "deprecated", json_true());
}

static void h_openapi(ft_http_req *r)
{
    json_t *doc = ft_http__openapi(ft_http__routes, ft_http__n_routes, FT_VERSION);
    if (doc) {
        ft_http__openapi_door(doc);
        openapi_people_post(doc);
    }
    ft_http_reply_json(r, 200, doc);
}

// ---- Image endpoints (inference pool) ----


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
        const ft_descriptor_net *net = srv(r)->net;
        const char *space = net->space(ft_align_default());
        for (size_t i = 0; i < ns; i++) {
            // Only the samples of the server's space compare.
            if (strcmp(samples[i].model, space) != 0 || samples[i].dim != net->dim)
                continue;
            double d = ft_descriptor_net_distance(net, p.f[k].desc, samples[i].descriptor);
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


// ---- Enrolment (inference pool) ----

// Who is acting, for the audit trail: "key:ID:NAME" for an API key,
// "local" on a key-less (loopback-only) server.
static void actor_of(ft_http_req *r, char out[FT_AUDIT_ACTOR_MAX + 1])
{
    snprintf(out, FT_AUDIT_ACTOR_MAX + 1, "local");
    if (r->key_id <= 0)
        return;
    snprintf(out, FT_AUDIT_ACTOR_MAX + 1, "key:%lld", (long long)r->key_id);
    ft_api_key *k = NULL;
    size_t n = 0;
    if (ft_gallery_keys_list(wc(r)->g, &k, &n, NULL) == FT_OK)
        for (size_t i = 0; i < n; i++)
            if (k[i].id == r->key_id)
                snprintf(out, FT_AUDIT_ACTOR_MAX + 1, "key:%lld:%.100s", (long long)r->key_id,
                         k[i].name);
    ft_free(k);
}

// One audit row for the request's actor; `detail` is a JSON object (NULL =
// {}), stolen. The action is done by then: a failure to record it is
// returned so the handler can say so.
static ft_status audit(ft_http_req *r, const char *action, const char *target, json_t *detail,
                       ft_err *err)
{
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    actor_of(r, actor);
    char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    ft_status st = ft_gallery_audit_add(wc(r)->g, actor, action, target, d, err);
    free(d);
    return st;
}

ft_status ft_http__audit(ft_http_req *r, const char *action, const char *target, json_t *detail,
                         ft_err *err)
{
    return audit(r, action, target, detail, err);
}

// The audit row of one administrative write, for the gallery's *_audited
// functions, which write it in the action's own transaction: the
// request's actor, and `detail` (stolen, NULL = {}) as text. Release with
// req_audit_done.
typedef struct req_audit {
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    char *detail;
    ft_audit_entry e;
} req_audit;

static const ft_audit_entry *req_audit_make(ft_http_req *r, req_audit *ra, const char *action,
                                            const char *target, json_t *detail)
{
    actor_of(r, ra->actor);
    ra->detail = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    ra->e = (ft_audit_entry){ra->actor, action, target, ra->detail};
    return &ra->e;
}

static void req_audit_done(req_audit *ra)
{
    free(ra->detail);
    ra->detail = NULL;
}

static bool query_flag(ft_http_req *r, const char *key)
{
    const char *v = ft_http_query(r, key);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

// The faces of a group photo, for the page to ask which one is meant:
// [{"index": i, "box": {...}, "score": s}] in the order ?face=N counts.
static json_t *faces_list(const face_res *f, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:i, s:o, s:o}", "index", (int)i, "box",
                                           box_json(&f[i].box), "score", num(f[i].box.score)));
    return a;
}

// One photo into one enrolment sample. Without a face index, the rules the
// CLI applies (access/enroll.c: exactly one face, the best candidate above
// 0.2 when none passes the detector, the quality gate); a photo with
// several faces is refused (FT_E_MANY_FACES) and *faces lists them. With
// ?face=N, face N of that list, through the same quality gate.
static ft_status enrol_one(ft_http_req *r, const ft_image *im, const ft_multipart_part *p,
                           long face_idx, const ft_gallery_policy *pol, face_res *f,
                           ft_sample *sm, float *desc, ft_buf *thumb, ft_buf *region,
                           json_t **faces, ft_err *err)
{
    ft_buf_init(thumb, 0);
    ft_buf_init(region, 0);
    *faces = NULL;
    size_t n = 0;
    double td, tr;
    ft_status st;
    if (face_idx < 0) {
        ft_describe_opts o = ft_describe_opts_default();
        o.detect.kind = detector_for(r);
        // The server describes in its own space (serve --descriptor), and
        // keeps the face region so that other spaces can be added later.
        ft_descriptor_models mm = {srv(r)->models, srv(r)->faceres};
        st = ft_enroll_samples(&mm, wc(r)->nn, im, p->data, p->len, &o, &srv(r)->net, 1, pol, sm,
                               desc, thumb, region, NULL, err);
        if (st != FT_OK)
            ft_buf_deinit(region); // the slot is reused for the next photo
        if (st == FT_E_MANY_FACES) {
            ft_err e2;
            ft_err_clear(&e2);
            if (analyse(r, im, false, f, &n, &td, &tr, &e2) == FT_OK && n > 1)
                *faces = faces_list(f, n);
            ft_err_set(err, FT_E_MANY_FACES,
                       "%zu faces found, one is expected: send the photo again with ?face=N "
                       "to choose one (0..%zu, in the order of \"faces\")",
                       n > 1 ? n : 2, n > 1 ? n - 1 : 1);
        }
        return st;
    }
    st = analyse(r, im, true, f, &n, &td, &tr, err);
    if (st == FT_OK && n == 0)
        st = ft_err_set(err, FT_E_NO_FACE, "no face found");
    if (st == FT_OK && (size_t)face_idx >= n) {
        *faces = faces_list(f, n);
        st = ft_err_set(err, FT_E_INVALID, "face=%ld, but the photo has %zu face(s)", face_idx,
                        n);
    }
    size_t k = (size_t)face_idx;
    if (st == FT_OK)
        st = ft_access_quality(&f[k].box, pol, NULL, err);
    if (st != FT_OK)
        return st;
    memset(sm, 0, sizeof *sm);
    const ft_descriptor_net *net = srv(r)->net;
    memcpy(desc, f[k].desc, net->dim * sizeof(float));
    sm->descriptor = desc;
    sm->dim = (uint32_t)net->dim;
    sm->detector_score = f[k].box.score;
    // The detector analyse() ran (no fallback there): the box is its.
    snprintf(sm->detector, sizeof sm->detector, "%s", detector_name(r));
    snprintf(sm->alignment, sizeof sm->alignment, "%s", net->align_name(ft_align_default()));
    snprintf(sm->model, sizeof sm->model, "%s", net->space(ft_align_default()));
    sm->face_w = (int32_t)lround(f[k].box.w);
    sm->face_h = (int32_t)lround(f[k].box.h);
    ft_sha256_hex(p->data, p->len, sm->source_sha256);
    thumbnail(im, &f[k].box, thumb);
    sm->thumbnail = thumb->len ? thumb->data : NULL;
    sm->thumbnail_len = thumb->len;
    if (ft_enroll_region(im, &f[k].box, region, sm->region_box, NULL) == FT_OK) {
        sm->region = region->data;
        sm->region_len = region->len;
    }
    return FT_OK;
}

// Enrols the photos of a multipart request (every file part is one photo)
// for person `pid`, or with pid 0 for a new person named by the form field
// "name" (with optional "external_id" and "notes"), created in the same
// transaction as the samples: a request that fails leaves nobody behind.
// Query: face=N picks face N of group photos (listed in the 422 reply when
// missing); force=1 enrols even faces that match another person (otherwise
// 409, naming them). Photos the person already has are skipped.
static void enrol_request(ft_http_req *r, int64_t pid)
{
    ft_err err;
    ft_err_clear(&err);
    ft_multipart mp;
    memset(&mp, 0, sizeof mp);
    ft_person person;
    memset(&person, 0, sizeof person);
    ft_gallery_policy pol;
    face_res *f = ft_malloc(sizeof *f * MAX_FACES);
    ft_sample *smp = NULL, *keep = NULL;
    ft_buf *thumbs = NULL, *regions = NULL;
    int64_t *ids = NULL;
    size_t *slot = NULL; // slot[i]: the multipart part of sample i
    ft_enroll_verdict *vd = NULL;
    float *descs = NULL; // each photo's descriptor (FT_DESCRIPTOR_DIM_MAX floats per slot)
    json_t *rejected = json_array(), *added = json_array(), *skipped = json_array();
    size_t n_ok = 0, nfiles = 0;
    long face_idx = -1;
    bool force = query_flag(r, "force");
    char name[FT_GALLERY_NAME_MAX + 1] = "", ext[FT_GALLERY_NAME_MAX + 1] = "";
    char notes[FT_GALLERY_NOTES_MAX + 1] = "";
    bool has_ext = false, has_notes = false;
    const char *fq = ft_http_query(r, "face");
    ft_status st = f ? FT_OK : ft_err_set(&err, FT_E_NOMEM, "out of memory");
    if (st == FT_OK && ft_http_query(r, "pick"))
        st = ft_err_set(&err, FT_E_INVALID,
                        "pick= is no longer accepted: send the photo; when it has several faces "
                        "the reply lists them, then send it again with ?face=N");
    if (st == FT_OK && fq) {
        char *end;
        errno = 0;
        face_idx = strtol(fq, &end, 10);
        if (errno || end == fq || *end || face_idx < 0 || face_idx >= MAX_FACES)
            st = ft_err_set(&err, FT_E_INVALID, "face must be a face index 0..%d", MAX_FACES - 1);
    }
    if (st == FT_OK && pid > 0)
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
    if (st == FT_OK && pid <= 0) {
        has_ext = form_text(&mp, "external_id", ext, sizeof ext) != NULL;
        has_notes = form_text(&mp, "notes", notes, sizeof notes) != NULL;
        if (!form_text(&mp, "name", name, sizeof name))
            st = ft_err_set(&err, FT_E_INVALID, "the form needs a 'name' field");
        else if ((st = ft_gallery_name_check(name, &err)) == FT_OK &&
                 ft_gallery_person_find(wc(r)->g, name, &person, NULL) == FT_OK)
            st = ft_err_set(&err, FT_E_EXISTS,
                            "a person named \"%s\" already exists (id %lld): add photos with "
                            "POST /api/v1/people/%lld/samples",
                            name, (long long)person.id, (long long)person.id);
    }
    if (st == FT_OK)
        st = server_policy(r, &pol, &err);
    for (size_t i = 0; st == FT_OK && i < mp.n_parts; i++)
        if (mp.parts[i].filename)
            nfiles++;
    if (st == FT_OK && nfiles == 0)
        st = ft_err_set(&err, FT_E_FORMAT, "no photo in the form (file parts named 'photo')");
    if (st == FT_OK) {
        smp = ft_calloc(nfiles, sizeof *smp);
        keep = ft_calloc(nfiles, sizeof *keep);
        thumbs = ft_calloc(nfiles, sizeof *thumbs);
        regions = ft_calloc(nfiles, sizeof *regions);
        ids = ft_calloc(nfiles, sizeof *ids);
        slot = ft_calloc(nfiles, sizeof *slot);
        vd = ft_calloc(nfiles, sizeof *vd);
        descs = ft_calloc(nfiles * FT_DESCRIPTOR_DIM_MAX, sizeof *descs);
        if (!smp || !keep || !thumbs || !regions || !ids || !slot || !vd || !descs)
            st = ft_err_set(&err, FT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == FT_OK && i < mp.n_parts; i++) {
        const ft_multipart_part *p = &mp.parts[i];
        if (!p->filename)
            continue;
        ft_err e2;
        ft_err_clear(&e2);
        ft_image im = {0, 0, NULL};
        json_t *faces = NULL;
        ft_status s2 = p->len ? decode(r, p->data, p->len, &im, &e2)
                              : ft_err_set(&e2, FT_E_FORMAT, "the file is empty");
        if (s2 == FT_OK)
            s2 = enrol_one(r, &im, p, face_idx, &pol, f, &smp[n_ok],
                           descs + n_ok * FT_DESCRIPTOR_DIM_MAX, &thumbs[n_ok], &regions[n_ok],
                           &faces, &e2);
        if (s2 != FT_OK) {
            json_t *rej = json_pack("{s:s, s:{s:s, s:s}}", "filename", p->filename, "error",
                                    "code", ft_status_name(s2), "message", ft_err_msg(&e2, s2));
            if (faces) {
                json_object_set_new(rej, "faces", faces);
                json_object_set_new(rej, "width", json_integer(im.w));
                json_object_set_new(rej, "height", json_integer(im.h));
            }
            json_array_append_new(rejected, rej);
        } else {
            slot[n_ok++] = i;
        }
        ft_image_deinit(&im);
    }
    if (st == FT_OK && n_ok == 0) {
        // Every photo was refused: the first refusal's code and message
        // (E_MANY_FACES, E_UNSUPPORTED, ... not always E_NO_FACE).
        json_t *first = json_object_get(json_array_get(rejected, 0), "error");
        const char *code = json_string_value(json_object_get(first, "code"));
        const char *msg = json_string_value(json_object_get(first, "message"));
        ft_http_reply_json(r, 422,
                           json_pack("{s:{s:s, s:s}, s:O}", "error", "code",
                                     code ? code : "E_NO_FACE", "message",
                                     msg ? msg : "no usable face in the photos", "rejected",
                                     rejected));
        goto done;
    }
    if (st == FT_OK)
        st = ft_enroll_screen(wc(r)->g, pid > 0 ? pid : 0, &pol, smp, n_ok, vd, &err);
    if (st == FT_OK && !force) {
        json_t *conflicts = json_array();
        for (size_t i = 0; i < n_ok; i++)
            if (vd[i].kind == FT_ENROLL_CONFLICT)
                json_array_append_new(
                    conflicts,
                    json_pack("{s:s, s:{s:I, s:s}, s:o}", "filename", mp.parts[slot[i]].filename,
                              "person", "id", (json_int_t)vd[i].other_person_id, "name",
                              vd[i].other_name, "distance", num(vd[i].distance)));
        if (json_array_size(conflicts)) {
            const char **labels = ft_calloc(n_ok, sizeof *labels);
            for (size_t i = 0; labels && i < n_ok; i++)
                labels[i] = mp.parts[slot[i]].filename;
            ft_status sc = ft_enroll_conflict_error(vd, n_ok, labels, &pol, &err);
            ft_free(labels);
            ft_http_reply_json(r, ft_http_status_for(sc),
                               json_pack("{s:{s:s, s:s}, s:o, s:O}", "error", "code",
                                         ft_status_name(sc), "message", ft_err_msg(&err, sc),
                                         "conflicts", conflicts, "rejected", rejected));
            goto done;
        }
        json_decref(conflicts);
    }
    size_t nk = 0, n_forced = 0;
    for (size_t i = 0; st == FT_OK && i < n_ok; i++) {
        if (vd[i].kind == FT_ENROLL_DUPLICATE) {
            json_array_append_new(
                skipped, json_pack("{s:s, s:s, s:o, s:o}", "filename", mp.parts[slot[i]].filename,
                                   "reason", "duplicate", "of_sample",
                                   vd[i].dup_sample_id > 0 ? json_integer(vd[i].dup_sample_id)
                                                           : json_null(),
                                   "distance", num(vd[i].distance)));
            continue;
        }
        n_forced += vd[i].kind == FT_ENROLL_CONFLICT;
        keep[nk++] = smp[i];
        json_t *a = json_pack("{s:s, s:o, s:s, s:o}", "filename", mp.parts[slot[i]].filename,
                              "face", json_pack("[ii]", smp[i].face_w, smp[i].face_h), "detector",
                              smp[i].detector, "score", num(smp[i].detector_score));
        if (vd[i].kind == FT_ENROLL_CONFLICT)
            json_object_set_new(a, "forced_match",
                                json_pack("{s:I, s:s, s:o}", "id",
                                          (json_int_t)vd[i].other_person_id, "name",
                                          vd[i].other_name, "distance", num(vd[i].distance)));
        json_array_append_new(added, a);
    }
    int64_t new_pid = pid;
    if (st == FT_OK && nk > 0) {
        // The samples, the person if new, and the audit row: one transaction.
        req_audit ra;
        const ft_audit_entry *a = req_audit_make(
            r, &ra, "person.enrol", NULL,
            json_pack("{s:I, s:I, s:b, s:I}", "samples", (json_int_t)nk, "skipped",
                      (json_int_t)(n_ok - nk), "new_person", pid <= 0, "forced_conflicts",
                      (json_int_t)n_forced));
        st = ft_gallery_enroll_audited(wc(r)->g, pid, pid > 0 ? NULL : name,
                                       pid <= 0 && has_ext ? ext : NULL,
                                       pid <= 0 && has_notes ? notes : NULL, keep, nk, a,
                                       &new_pid, ids, &err);
        req_audit_done(&ra);
    }
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        goto done;
    }
    for (size_t i = 0; i < nk; i++)
        json_object_set_new(json_array_get(added, i), "sample_id", json_integer(ids[i]));
    ft_person now;
    if (ft_gallery_person_get(wc(r)->g, new_pid, &now, NULL) != FT_OK)
        snprintf(now.name, sizeof now.name, "%s", pid > 0 ? person.name : name);
    json_t *res = json_pack("{s:I, s:s, s:b, s:O, s:O, s:O}", "person_id", (json_int_t)new_pid,
                            "name", now.name, "new", pid <= 0, "added", added, "skipped", skipped,
                            "rejected", rejected);
    ft_http_reply_json(r, nk > 0 ? 201 : 200, res);
done:
    if (st != FT_OK && r->status == 0)
        ft_http_reply_status(r, st, &err);
    json_decref(rejected);
    json_decref(added);
    json_decref(skipped);
    for (size_t i = 0; thumbs && i < n_ok; i++)
        ft_buf_deinit(&thumbs[i]);
    for (size_t i = 0; regions && i < nfiles; i++)
        ft_buf_deinit(&regions[i]);
    ft_free(thumbs);
    ft_free(regions);
    ft_free(smp);
    ft_free(keep);
    ft_free(ids);
    ft_free(slot);
    ft_free(vd);
    ft_free(descs);
    ft_free(f);
    ft_multipart_deinit(&mp);
}

// POST /api/v1/people/{id}/samples
static void h_samples_add(ft_http_req *r)
{
    int64_t pid;
    if (path_id(r, 0, &pid))
        enrol_request(r, pid);
}

// POST /api/v1/enrol: a new person and their first photos, together.
static void h_enrol(ft_http_req *r)
{
    enrol_request(r, 0);
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
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:f, s:i, s:i, s:s, s:f, s:o}", "id",
                     (json_int_t)s->id, "person_id", (json_int_t)s->person_id, "model", s->model,
                     "alignment", s->alignment, "detector", s->detector, "detector_score",
                     s->detector_score, "face_w", s->face_w,
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

// POST /api/v1/people: refused. A person is created only together with at
// least one sample, in one transaction (issue 10, enrolment integrity):
// that is POST /api/v1/enrol. Nothing is read or written here, whatever
// the body says.
static void h_person_create(ft_http_req *r)
{
    ft_http_reply_error(r, 422, "E_SAMPLE_REQUIRED",
                        "a person is created only together with at least one sample: POST the "
                        "name and photos to /api/v1/enrol (multipart: field 'name', file parts "
                        "'photo')");
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
    char target[48];
    snprintf(target, sizeof target, "person:%lld", (long long)id);
    if (st == FT_OK && pb.name && strcmp(pb.name, p.name) != 0) {
        req_audit ra;
        const ft_audit_entry *a = req_audit_make(
            r, &ra, "person.rename", target, json_pack("{s:s, s:s}", "old", p.name, "new", pb.name));
        st = ft_gallery_person_rename_audited(wc(r)->g, id, pb.name, a, &err);
        req_audit_done(&ra);
    }
    if (st == FT_OK && (pb.ext || pb.notes)) {
        json_t *d = json_object();
        if (pb.ext)
            json_object_set_new(d, "external_id", json_string(pb.ext));
        if (pb.notes)
            json_object_set_new(d, "notes_changed", json_true());
        req_audit ra;
        const ft_audit_entry *a = req_audit_make(r, &ra, "person.update", target, d);
        st = ft_gallery_person_update_audited(wc(r)->g, id, pb.ext, pb.notes, a, &err);
        req_audit_done(&ra);
    }
    reply_person(r, st, id, 200, &err);
    json_decref(pb.j);
}

// DELETE /api/v1/people/{id}: the person, their samples and the face
// images of their events; the events stay with the name they had. With
// ?erase=1 the name goes too (ft_gallery_person_erase).
static void h_person_delete(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    int64_t id;
    if (!path_id(r, 0, &id))
        return;
    char target[48], actor[FT_AUDIT_ACTOR_MAX + 1];
    snprintf(target, sizeof target, "person:%lld", (long long)id);
    ft_status st;
    if (query_flag(r, "erase")) {
        ft_erase_result er;
        actor_of(r, actor);
        st = ft_gallery_person_erase(wc(r)->g, id, actor, &er, &err);
        if (st != FT_OK)
            ft_http_reply_status(r, st, &err);
        else
            ft_http_reply_json(r, 200,
                               json_pack("{s:I, s:b, s:I, s:I}", "deleted", (json_int_t)id,
                                         "erased", 1, "samples", (json_int_t)er.samples,
                                         "events", (json_int_t)er.events));
        return;
    }
    ft_person p;
    st = ft_gallery_person_get(wc(r)->g, id, &p, &err);
    if (st == FT_OK) {
        req_audit ra;
        const ft_audit_entry *a = req_audit_make(
            r, &ra, "person.delete", target,
            json_pack("{s:s, s:I}", "name", p.name, "samples", (json_int_t)p.n_samples));
        st = ft_gallery_person_delete_audited(wc(r)->g, id, a, &err);
        req_audit_done(&ra);
    }
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
    req_audit ra;
    const ft_audit_entry *a = req_audit_make(r, &ra, "sample.delete", NULL, NULL);
    ft_status st = ft_gallery_sample_delete_audited(wc(r)->g, id, a, &err);
    req_audit_done(&ra);
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
        // The door's fields (schema 3): the passage behind the decision, and
        // whom the face was closest to (for "ambiguous", between whom).
        json_t *e = json_array_get(arr, json_array_size(arr) - 1);
        json_object_set_new(e, "event_uid", json_string(ev[i].uid));
        json_object_set_new(e, "track", ev[i].track_id ? json_integer(ev[i].track_id) : json_null());
        json_object_set_new(e, "frames", ev[i].frames ? json_integer(ev[i].frames) : json_null());
        json_object_set_new(e, "first_seen", ev[i].first_seen > 0 ? num(ev[i].first_seen) : json_null());
        json_object_set_new(e, "nearest",
                            ev[i].nearest_person_id > 0
                                ? json_pack("{s:I, s:s}", "id", (json_int_t)ev[i].nearest_person_id,
                                            "name", ev[i].nearest_name)
                                : json_null());
        json_object_set_new(e, "second",
                            ev[i].second_person_id > 0
                                ? json_pack("{s:I, s:s, s:o}", "id",
                                            (json_int_t)ev[i].second_person_id, "name",
                                            ev[i].second_name, "distance",
                                            num(ev[i].second_distance))
                                : json_null());
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
    q.csv_door_columns = true; // track, frames, uid, nearest and second (schema 3)
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

// The descriptor network whose threshold, margin and calibration a
// settings or calibrate request is about: `name` (the query parameter or
// the JSON field "descriptor"), else the server's own network.
static ft_status settings_net(ft_http_req *r, const char *name, const ft_descriptor_net **out,
                              ft_err *err)
{
    if (!name || !*name) {
        *out = srv(r)->net;
        return FT_OK;
    }
    const ft_descriptor_net *d = ft_descriptor_net_find(name);
    if (!d) {
        size_t n;
        const ft_descriptor_net *all = ft_descriptor_nets(&n);
        char names[160] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     all[i].name);
        return ft_err_set(err, FT_E_INVALID, "descriptor '%.40s' is unknown (one of %s)", name,
                          names);
    }
    *out = d;
    return FT_OK;
}

// Space sp's setting `base` ("calibrated_far", ...) into *v (unchanged
// while unset or unreadable).
static void space_setting(ft_gallery *g, const ft_policy_space *sp, const char *base, double *v)
{
    char key[72];
    if (ft_policy_space_key(sp, base, key, sizeof key, NULL) == FT_OK)
        ft_gallery_setting_get_double(g, key, *v, v, NULL);
}

// Adds to the settings reply what bounds the policy: the retention
// settings, the space's stored calibration (threshold, FAR, target, time;
// null if never calibrated), the FAR the calibration expects at the
// current threshold, and the bounds themselves (the space's threshold
// bound and safe maximum).
static json_t *settings_extra(ft_http_req *r, const ft_policy_space *sp, const char *policy_error,
                              json_t *j)
{
    if (policy_error && *policy_error)
        json_object_set_new(j, "policy_error", json_string(policy_error));
    ft_gallery *g = wc(r)->g;
    int64_t td = FT_GALLERY_DEFAULT_RETENTION_THUMBS_DAYS;
    int64_t ed = FT_GALLERY_DEFAULT_RETENTION_EVENTS_DAYS;
    double ct = NAN, cf = NAN, ctarget = NAN, cat = NAN, far = NAN, thr = NAN;
    ft_gallery_setting_get_int(g, "retention_thumbnails_days", td, &td, NULL);
    ft_gallery_setting_get_int(g, "retention_events_days", ed, &ed, NULL);
    space_setting(g, sp, "calibrated_threshold", &ct);
    space_setting(g, sp, "calibrated_far", &cf);
    space_setting(g, sp, "calibrated_target", &ctarget);
    space_setting(g, sp, "calibrated_at", &cat);
    thr = json_number_value(json_object_get(j, "threshold"));
    ft_gallery_calibrated_far_for(g, sp, thr, &far, NULL);
    json_object_set_new(j, "retention_thumbnails_days", json_integer(td));
    json_object_set_new(j, "retention_events_days", json_integer(ed));
    json_object_set_new(j, "calibrated",
                        isnan(ct) ? json_null()
                                  : json_pack("{s:o, s:o, s:o, s:o}", "threshold", num(ct), "far",
                                              num(cf), "target_far", num(ctarget), "at",
                                              num(cat)));
    json_object_set_new(j, "expected_far", num(far));
    json_object_set_new(j, "bounds",
                        json_pack("{s:[f,f], s:[f,f], s:[f,f], s:[f,f], s:[f,f], s:f, s:f}",
                                  "threshold", 0.0, sp->threshold_max, "margin", 0.0,
                                  FT_GALLERY_MARGIN_MAX, "min_face_px",
                                  FT_GALLERY_MIN_FACE_PX_MIN, FT_GALLERY_MIN_FACE_PX_MAX,
                                  "min_detector_score", 0.0, 1.0, "person_cap", 0.0, 1.0,
                                  "safe_threshold", sp->safe_threshold, "safe_far",
                                  FT_GALLERY_SAFE_FAR));
    // The spaces the page may choose from, and the server's own.
    size_t n;
    const ft_descriptor_net *all = ft_descriptor_nets(&n);
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(names, json_string(all[i].name));
    json_object_set_new(j, "descriptors", names);
    json_object_set_new(j, "server_descriptor", json_string(srv(r)->net->name));
    return j;
}

// The settings of net's space (threshold, margin, calibration) with the
// shared ones.
static void reply_settings(ft_http_req *r, int status, const ft_descriptor_net *net)
{
    ft_err err;
    ft_err_clear(&err);
    ft_gallery_policy p;
    ft_gallery_counts c;
    ft_policy_space sp = ft_access_policy_space(net);
    ft_status st = ft_gallery_policy_load_for(wc(r)->g, &sp, &p, &err);
    // A stored policy outside today's bounds (saved by an older version):
    // the door refuses to decide with it; the page shows the defaults and
    // why, so that saving repairs it.
    char policy_error[sizeof err.msg];
    policy_error[0] = 0;
    if (st == FT_E_INVALID) {
        snprintf(policy_error, sizeof policy_error, "%s", ft_err_msg(&err, st));
        p = ft_gallery_policy_default_for(&sp);
        st = FT_OK;
    }
    if (st == FT_OK)
        st = ft_gallery_counts_get(wc(r)->g, &c, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    ft_server *s = srv(r);
    ft_http_reply_json(
        r, status,
        settings_extra(
            r, &sp, policy_error,
            json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:s, s:f, s:b, s:I, s:I, s:I, s:I}",
                      "descriptor", net->name, "threshold", p.threshold, "margin", p.margin,
                      "min_face_px", p.min_face_px, "min_detector_score", p.min_detector_score,
                      "person_cap", p.person_cap, "detector",
                  ft_detector_name(s->o.detector), "track_gap_s",
                  s->o.door_gap_s, "keys_required", c.api_keys > 0, "people",
                  (json_int_t)c.people, "samples", (json_int_t)c.samples, "events",
                  (json_int_t)c.events, "max_upload_bytes", (json_int_t)s->o.max_body_bytes)));
}

// GET /api/v1/settings[?descriptor=NAME]: threshold, margin and
// calibration of that space (default: the server's network; "descriptor"
// in the reply says which), with the shared settings.
static void h_settings_get(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    const ft_descriptor_net *net = srv(r)->net;
    ft_status st = settings_net(r, ft_http_query(r, "descriptor"), &net, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    reply_settings(r, 200, net);
}

// PATCH /api/v1/settings[?descriptor=NAME]: any of threshold, margin (of
// the space named by the query parameter or the field "descriptor";
// default the server's network), min_face_px, min_detector_score,
// person_cap (shared by all spaces; numbers, checked against the bounds),
// the retention days (whole numbers >= 0), and "confirm": true for a
// change that loosens security. Without it such a change is 409
// E_CONFIRM, saying which false-accept rate the calibration expects
// ("review" in the body), and nothing is written. Every change is audited.
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
    ft_gallery *g = wc(r)->g;
    ft_gallery_policy p, old;
    const ft_descriptor_net *net = NULL;
    json_t *dv = json_object_get(j, "descriptor");
    const char *dq = ft_http_query(r, "descriptor");
    if (dv && !json_is_string(dv))
        st = ft_err_set(&err, FT_E_INVALID, "descriptor must be a network's name");
    else if (dv && dq && *dq && strcmp(dq, json_string_value(dv)) != 0)
        st = ft_err_set(&err, FT_E_INVALID, "descriptor: the query says %.40s, the body %.40s",
                        dq, json_string_value(dv));
    else
        st = settings_net(r, dv ? json_string_value(dv) : dq, &net, &err);
    if (st != FT_OK) {
        json_decref(j);
        ft_http_reply_status(r, st, &err);
        return;
    }
    ft_policy_space sp = ft_access_policy_space(net);
    st = ft_gallery_policy_load_for(g, &sp, &p, &err);
    bool repair = st == FT_E_INVALID; // stored out of today's bounds: repair from the defaults
    if (repair)
        p = ft_gallery_policy_default_for(&sp), st = FT_OK;
    old = p;
    bool confirm = false, policy = false;
    int64_t days[2] = {-1, -1};
    static const char *const day_keys[2] = {"retention_thumbnails_days", "retention_events_days"};
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (st != FT_OK)
            break;
        if (strcmp(key, "confirm") == 0) {
            if (!json_is_boolean(v))
                st = ft_err_set(&err, FT_E_INVALID, "confirm must be true or false");
            confirm = json_is_true(v);
            continue;
        }
        if (strcmp(key, "descriptor") == 0)
            continue; // read above
        int dk = strcmp(key, day_keys[0]) == 0 ? 0 : strcmp(key, day_keys[1]) == 0 ? 1 : -1;
        if (dk >= 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 100000)
                st = ft_err_set(&err, FT_E_INVALID, "%s must be whole days from 0 to 100000",
                                key);
            else
                days[dk] = json_integer_value(v);
            continue;
        }
        double *slot = strcmp(key, "threshold") == 0            ? &p.threshold
                       : strcmp(key, "margin") == 0             ? &p.margin
                       : strcmp(key, "min_face_px") == 0        ? &p.min_face_px
                       : strcmp(key, "min_detector_score") == 0 ? &p.min_detector_score
                       : strcmp(key, "person_cap") == 0         ? &p.person_cap
                                                                : NULL;
        if (!slot)
            st = ft_err_set(&err, FT_E_INVALID,
                            "unknown setting '%s' (threshold, margin, min_face_px, "
                            "min_detector_score, person_cap, retention_thumbnails_days, "
                            "retention_events_days, descriptor, confirm)",
                            key);
        else if (!json_is_number(v))
            st = ft_err_set(&err, FT_E_INVALID, "%s must be a number", key);
        else {
            *slot = json_number_value(v);
            policy = true;
        }
    }
    json_decref(j);
    if (st == FT_OK)
        st = ft_gallery_policy_check_for(&sp, &p, &err);
    ft_policy_review rv;
    memset(&rv, 0, sizeof rv);
    rv.expected_far = rv.calibrated_far = rv.calibrated_threshold = NAN;
    if (st == FT_OK && policy && (repair || memcmp(&p, &old, sizeof p) != 0)) {
        char actor[FT_AUDIT_ACTOR_MAX + 1];
        actor_of(r, actor);
        st = ft_gallery_policy_change_for(g, &sp, &p, confirm, actor, &rv, &err);
    }
    if (st == FT_E_CONFIRM) {
        ft_http_reply_json(
            r, 409,
            json_pack("{s:{s:s, s:s}, s:{s:s, s:f, s:f, s:o, s:o, s:o}}", "error", "code",
                      "E_CONFIRM", "message", ft_err_msg(&err, st), "review", "descriptor",
                      net->name, "threshold", p.threshold, "person_cap", p.person_cap,
                      "calibrated_threshold", num(rv.calibrated_threshold), "calibrated_far",
                      num(rv.calibrated_far), "expected_far", num(rv.expected_far)));
        return;
    }
    for (int k = 0; k < 2 && st == FT_OK; k++) {
        if (days[k] < 0)
            continue;
        int64_t before = 0;
        ft_gallery_setting_get_int(g, day_keys[k],
                                   k ? FT_GALLERY_DEFAULT_RETENTION_EVENTS_DAYS
                                     : FT_GALLERY_DEFAULT_RETENTION_THUMBS_DAYS,
                                   &before, NULL);
        // The value and (when it changed) its audit row: one transaction.
        char target[64], val[32];
        snprintf(target, sizeof target, "settings:%s", day_keys[k]);
        snprintf(val, sizeof val, "%lld", (long long)days[k]);
        const char *dkey = day_keys[k], *dval = val;
        req_audit ra;
        const ft_audit_entry *a = req_audit_make(
            r, &ra, "settings.change", target,
            json_pack("{s:I, s:I}", "old", (json_int_t)before, "new", (json_int_t)days[k]));
        st = ft_gallery_settings_set_audited(g, &dkey, &dval, 1, before != days[k] ? a : NULL,
                                             &err);
        req_audit_done(&ra);
    }
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    reply_settings(r, 200, net);
}

// POST /api/v1/calibrate {"store"?, "target_far"?, "confirm"?,
// "descriptor"?}: the table over the samples of that network's space
// (default the server's); stored (into that space's policy keys) only on
// request, and a target above 1 % only with "confirm": true (409
// E_CONFIRM otherwise, with the table).
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
    if ((v = json_object_get(j, "confirm"))) {
        if (!json_is_boolean(v))
            st = ft_err_set(&err, FT_E_INVALID, "confirm must be true or false");
        o.confirm = json_is_true(v);
    }
    if ((v = json_object_get(j, "target_far"))) {
        if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) >= 1)
            st = ft_err_set(&err, FT_E_INVALID, "target_far must be a number in (0, 1)");
        else
            o.target_far = json_number_value(v);
    }
    const ft_descriptor_net *net = srv(r)->net;
    if ((v = json_object_get(j, "descriptor")) && st == FT_OK) {
        if (!json_is_string(v))
            st = ft_err_set(&err, FT_E_INVALID, "descriptor must be a network's name");
        else
            st = settings_net(r, json_string_value(v), &net, &err);
    }
    json_decref(j);
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    actor_of(r, actor);
    o.actor = actor;
    ft_calib_result res;
    memset(&res, 0, sizeof res);
    ft_gallery_space sp = ft_access_space(net, ft_align_default());
    ft_policy_space ps = ft_access_policy_space(net);
    if (st == FT_OK)
        st = ft_gallery_calibrate(wc(r)->g, &sp, &o, false, &res, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    ft_status sst = store ? ft_gallery_calibration_save_for(wc(r)->g, &ps, &res, &o, &err) : FT_OK;
    json_t *rows = json_array();
    for (size_t i = 0; i < res.n_rows; i++)
        json_array_append_new(rows, json_pack("{s:f, s:o, s:o}", "threshold", res.rows[i].threshold,
                                              "far", num(res.rows[i].far), "frr",
                                              num(res.rows[i].frr)));
    json_t *body =
        json_pack("{s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:o, s:b, s:o}", "n_samples",
                  (json_int_t)res.n_samples, "n_people", (json_int_t)res.n_people, "n_genuine",
                  (json_int_t)res.n_genuine, "n_impostor", (json_int_t)res.n_impostor,
                  "target_far", o.target_far, "threshold", num(res.threshold), "far",
                  num(res.far), "frr", num(res.frr), "stored", store && sst == FT_OK, "rows",
                  rows);
    json_object_set_new(body, "descriptor", json_string(net->name));
    if (sst != FT_OK)
        json_object_set_new(body, "error",
                            json_pack("{s:s, s:s}", "code", ft_status_name(sst), "message",
                                      ft_err_msg(&err, sst)));
    ft_http_reply_json(r, sst == FT_OK ? 200 : ft_http_status_for(sst), body);
    ft_calib_result_deinit(&res);
}

// GET /api/v1/audit: the audit trail, newest first.
static void h_audit(ft_http_req *r)
{
    ft_err err;
    ft_err_clear(&err);
    double since = 0;
    int64_t limit = 100, total = 0;
    const char *v;
    if ((v = ft_http_query(r, "since")) && *v && !parse_time(v, &since)) {
        ft_http_reply_error(r, 400, "E_INVALID", "since: '%s' is not a time", v);
        return;
    }
    if ((v = ft_http_query(r, "limit")) && *v && (!parse_i64(v, &limit) || limit < 1 ||
                                                   limit > 1000)) {
        ft_http_reply_error(r, 400, "E_INVALID", "limit must be 1..1000");
        return;
    }
    ft_audit_row *rows = NULL;
    size_t n = 0;
    ft_status st = ft_gallery_audit_query(wc(r)->g, since, (size_t)limit, &rows, &n, &total, &err);
    if (st != FT_OK) {
        ft_http_reply_status(r, st, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_loads(rows[i].detail, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(d)) {
            json_decref(d);
            d = json_string(rows[i].detail);
        }
        json_array_append_new(arr, json_pack("{s:I, s:f, s:s, s:s, s:s, s:o}", "id",
                                             (json_int_t)rows[i].id, "time", rows[i].time,
                                             "actor", rows[i].actor, "action", rows[i].action,
                                             "target", rows[i].target, "detail", d));
    }
    ft_free(rows);
    ft_http_reply_json(r, 200, json_pack("{s:I, s:o}", "total", (json_int_t)total, "audit", arr));
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
    if (st == FT_OK) {
        req_audit ra;
        const ft_audit_entry *a =
            req_audit_make(r, &ra, "key.create", NULL,
                           json_pack("{s:s, s:s}", "name", name, "role", ft_key_role_str(role)));
        st = ft_gallery_key_create_audited(wc(r)->g, name, role, a, token, &id, &err);
        req_audit_done(&ra);
    }
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
    req_audit ra;
    const ft_audit_entry *a = req_audit_make(r, &ra, "key.revoke", NULL, NULL);
    ft_status st = ft_gallery_key_revoke_audited(wc(r)->g, id, a, &err);
    req_audit_done(&ra);
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

// The query parameter of the routes that detect faces.
#define DETECTOR_Q                                                                                 \
    "detector:string:yunet, ssd or tiny (default: the server's --detector, yunet; another name: "  \
    "400)"
#define DOOR_DETECTOR_Q                                                                            \
    "detector:string:if given, must name the server's --detector (the door pipeline runs that "    \
    "one; another is refused with 400)"

const ft_route ft_http__routes[] = {
    {"GET", "/", h_index, 0, INL, NOB, "text/html", "page", "The web page", NULL},
    {"GET", "/index.html", h_index, 0, INL, NOB, "text/html", "page", "The web page", NULL},
    {"GET", "/assets/{file}", h_asset, 0, INL, NOB, "application/octet-stream", "page",
     "The page's scripts, styles and icons (embedded in the binary)", NULL},
    {"GET", "/healthz", h_healthz, 0, INL, NOB, NULL, "ops",
     "Liveness (200 from the first millisecond), version, and whether the models are loaded "
     "(\"ready\")", NULL},
    {"GET", "/readyz", h_readyz, 0, INL, NOB, NULL, "ops",
     "Readiness: 200 once the models are loaded and the gallery can be written; 503 + "
     "Retry-After before, or when the gallery is read-only or its disk full (E_STORAGE)",
     NULL},
    {"GET", "/metrics", h_metrics, 0, INL, NOB, "text/plain", "ops",
     "Prometheus metrics: requests and latency per route, faces, decisions, inference time",
     NULL},
    {"GET", "/api/v1/openapi.json", h_openapi, 0, INL, NOB, NULL, "ops", "This document", NULL},
    {"POST", "/api/prediction", ft_http__h_prediction, READ, INF, MPT, NULL, "recognition",
     "The prototype's endpoint: faces (box, score, person or unknown, distance) in the "
     "multipart field fileImg",
     DOOR_DETECTOR_Q},
    {"POST", "/api/v1/detect", h_detect, READ, INF, MPT, NULL, "recognition",
     "Faces in a photo (multipart 'photo' or an image/* body)", DETECTOR_Q},
    {"POST", "/api/v1/identify", h_identify, READ, INF, MPT, NULL, "recognition",
     "Faces in a photo, each matched against the gallery", DETECTOR_Q},
    {"POST", "/api/v1/verify", h_verify, READ, INF, MPT, NULL, "recognition",
     "Is the largest face in the photo this person?",
     "person_id:integer:the person to verify against|" DETECTOR_Q},
    {"POST", "/api/v1/access", ft_http__h_access, DEV, INF, MPT, NULL, "access",
     "The door's question, through the door pipeline (rules: src/door/door.h): every face "
     "decided and logged as one event (a still photo), or, with stream=1, the frame joins the "
     "source's face tracks and a passage is decided over several frames (the Live tab); the "
     "top-level decision is the largest face's",
     "source:string:door or camera name (or form field)|stream:integer:1 = a frame of a live "
     "source (tracked)|" DOOR_DETECTOR_Q},
    {"GET", "/api/v1/cameras", ft_http__h_cameras_list, VIEW, DB, NOB, NULL, "cameras",
     "The cameras the server watches: state, frames, drops, reconnects, tracks, decisions",
     NULL},
    {"POST", "/api/v1/cameras", ft_http__h_camera_add, ADMIN, DB, JSN, NULL, "cameras",
     "Watch a camera: {\"name\", \"url\"} (rtsp://, rtsps://, http(s):// MJPEG, /dev/videoN, a "
     "video file)",
     NULL},
    {"DELETE", "/api/v1/cameras/{name}", ft_http__h_camera_remove, ADMIN, DB, NOB, NULL,
     "cameras", "Stop watching a camera (tracks in view are ended and logged)", NULL},
    {"GET", "/api/v1/cameras/{name}/stream.mjpeg", ft_http__h_camera_stream, VIEW, DB, NOB,
     "multipart/x-mixed-replace", "cameras",
     "The camera live: an MJPEG stream of its annotated frames (boxes, track ids, names, "
     "decisions), at most 10 a second; ends when the camera is removed",
     NULL},
    {"GET", "/api/v1/cameras/{name}/frame.jpg", ft_http__h_camera_frame, VIEW, DB, NOB,
     "image/jpeg", "cameras",
     "The camera's newest frame, annotated (boxes, track ids, names, decisions)",
     "after:integer:204 unless there is a frame newer than this sequence number (X-Frame-Seq)"},
    {"GET", "/api/v1/people", h_people_list, VIEW, DB, NOB, NULL, "people",
     "Everyone enrolled, with a thumbnail", NULL},
    {"POST", "/api/v1/people", h_person_create, ADMIN, DB, JSN, NULL, "people",
     "Refused (422 E_SAMPLE_REQUIRED, nothing is created): a person is created only together "
     "with at least one sample, by POST /api/v1/enrol",
     NULL},
    {"GET", "/api/v1/people/{id}", h_person_get, VIEW, DB, NOB, NULL, "people",
     "One person and their samples", NULL},
    {"PATCH", "/api/v1/people/{id}", h_person_update, ADMIN, DB, JSN, NULL, "people",
     "Rename or edit a person: {\"name\"?, \"external_id\"?, \"notes\"?}", NULL},
    {"DELETE", "/api/v1/people/{id}", h_person_delete, ADMIN, DB, NOB, NULL, "people",
     "Delete a person, their samples and the face images of their events; the events stay "
     "with the name the person had. ?erase=1 also blanks that name (and the nearest/second "
     "names) in their events. Audited",
     "erase:string:1 to erase the name from the access log too"},
    {"GET", "/api/v1/people/{id}/samples", h_samples_list, VIEW, DB, NOB, NULL, "samples",
     "A person's samples", NULL},
    {"POST", "/api/v1/people/{id}/samples", h_samples_add, ADMIN, INF, MPT, NULL, "samples",
     "Enrol from uploaded photos (file parts 'photo'; one face each). A photo with several "
     "faces is refused with their boxes (422 E_MANY_FACES, \"faces\"): send it again with "
     "?face=N. A face matching another person is refused (409 E_EXISTS, \"conflicts\") "
     "unless ?force=1; photos the person already has are skipped. Audited",
     "face:integer:which face of a group photo (index into \"faces\")|force:string:1 to "
     "enrol a face that matches another person|" DETECTOR_Q},
    {"POST", "/api/v1/enrol", h_enrol, ADMIN, INF, MPT, NULL, "samples",
     "A new person with their first photos, in one transaction (form fields 'name', "
     "'external_id'?, 'notes'?, file parts 'photo'): if no photo is usable nobody is created. "
     "Same rules and query as POST /api/v1/people/{id}/samples",
     "face:integer:which face of a group photo|force:string:1 to enrol a face that matches "
     "another person|" DETECTOR_Q},
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
     "Access policy and server facts: threshold, margin and calibration of one descriptor "
     "space (\"descriptor\" says which; \"descriptors\" lists them), the shared quality gate "
     "and person_cap",
     "descriptor:string:resnet128 or faceres (default the server's network)"},
    {"GET", "/api/v1/audit", h_audit, ADMIN, DB, NOB, NULL, "settings",
     "The audit trail of administrative actions, newest first",
     "since:string:Unix seconds or ISO-8601 UTC|limit:integer:1..1000 (default 100)"},
    {"PATCH", "/api/v1/settings", h_settings_set, ADMIN, DB, JSN, NULL, "settings",
     "Change threshold (resnet128 (0, 1], faceres (0, 0.8]) and margin [0, 0.5] of the space "
     "named by \"descriptor\" (field or query; default the server's network), and the shared "
     "min_face_px [20, 2000], min_detector_score [0, 1], person_cap [0, 1] (0 = off), "
     "retention_thumbnails_days, retention_events_days. A threshold above the space's "
     "calibrated one or its safe maximum (resnet128 0.6, faceres 0.40), or person_cap raised "
     "or turned off, needs \"confirm\": true (409 E_CONFIRM with the expected false-accept "
     "rate otherwise). Audited",
     "descriptor:string:resnet128 or faceres (default the server's network)"},
    {"POST", "/api/v1/calibrate", h_calibrate, ADMIN, DB, JSN, NULL, "settings",
     "False-accept / false-reject table over the samples of one space: {\"store\"?, "
     "\"target_far\"?, \"confirm\"?, \"descriptor\"? (default the server's network)}; "
     "stored into that space's threshold; a target above 0.01 needs \"confirm\": true",
     NULL},
    {"GET", "/api/v1/keys", h_keys_list, ADMIN, DB, NOB, NULL, "keys", "API keys (no secrets)",
     NULL},
    {"POST", "/api/v1/keys", h_key_create, ADMIN, DB, JSN, NULL, "keys",
     "Create a key: {\"name\", \"role\": admin|device|viewer}; the token is shown once", NULL},
    {"DELETE", "/api/v1/keys/{id}", h_key_revoke, ADMIN, DB, NOB, NULL, "keys", "Revoke a key",
     NULL},
};
const size_t ft_http__n_routes = sizeof ft_http__routes / sizeof ft_http__routes[0];
