// Shared by the HTTP fuzz targets (fuzz_json.c, fuzz_query.c): runs the
// server's real handlers from the route table without a network. A handler
// sees an ft_http_req as libmicrohttpd's glue (httpd.c) would build it, an
// ft_server with default options whose models are still "loading" (so no
// route runs a network), and a database worker context whose gallery is an
// in-memory SQLite database with two people, a key and a few events. The
// gallery is recreated every FT_FUZZ_HTTP_RESET runs, so rows added by
// POSTs do not pile up over a million runs.
//
// Each reply is checked: a status in 100..599 and, for JSON replies, a body
// that jansson reads back as a JSON object.
#ifndef FT_FUZZ_HTTP_COMMON_H
#define FT_FUZZ_HTTP_COMMON_H

#include "core/mem.h"
#include "face/descriptor.h"
#include "gallery/gallery.h"
#include "http/http_internal.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FT_FUZZ_HTTP_RESET 512

static ft_server fz_srv;
static ft_wctx fz_wctx;
static unsigned fz_runs;

static void fz_die(const char *what, ft_status st, const ft_err *e)
{
    fprintf(stderr, "fuzz setup: %s: %s (%s)\n", what, ft_status_str(st), ft_err_msg(e, st));
    abort();
}

static void fz_gallery_fill(ft_gallery *g)
{
    ft_err e;
    int64_t id;
    ft_status st;
    if ((st = ft_gallery_person_add(g, "Alice", "emp-1", "front door", &id, &e)) != FT_OK ||
        (st = ft_gallery_person_add(g, "Bob", NULL, NULL, &id, &e)) != FT_OK)
        fz_die("person_add", st, &e);
    char token[FT_KEY_TOKEN_MAX];
    if ((st = ft_gallery_key_create(g, "door-1", FT_ROLE_DEVICE, token, &id, &e)) != FT_OK)
        fz_die("key_create", st, &e);
    static const char *const reasons[] = {"match", "unknown", "ambiguous"};
    for (int i = 0; i < 3; i++) {
        ft_event ev;
        ft_event_init(&ev);
        ev.time = 1714557600.0 + 3600.0 * i; // 2024-05-01T10:00:00Z onwards
        snprintf(ev.source, sizeof ev.source, "%s", i ? "cam \"north\"" : "door");
        ev.decision = i == 0 ? FT_DECISION_GRANTED : FT_DECISION_DENIED;
        snprintf(ev.reason, sizeof ev.reason, "%s", reasons[i]);
        ev.person_id = i == 0 ? 1 : 0;
        ev.distance = 0.3 + 0.1 * i;
        ev.margin = i == 2 ? 0.01 : INFINITY;
        ev.detector_score = 0.9;
        ev.track_id = i;
        ev.frames = 3 * i;
        ev.nearest_person_id = i ? 1 : 0;
        ev.second_person_id = i == 2 ? 2 : 0;
        ev.second_distance = i == 2 ? 0.41 : NAN;
        if ((st = ft_gallery_event_add(g, &ev, &e)) != FT_OK)
            fz_die("event_add", st, &e);
    }
}

// Called at the start of every run.
static void fz_http_setup(void)
{
    if (fz_runs++ % FT_FUZZ_HTTP_RESET != 0)
        return;
    ft_err e;
    ft_status st;
    if (!fz_wctx.g) {
        fz_srv.o = ft_server_opts_default();
        // As ft_server_new: the server's descriptor network (the settings
        // and calibrate handlers default to its space).
        fz_srv.net = ft_descriptor_net_default();
        pthread_rwlock_init(&fz_srv.mx_lock, NULL);
        pthread_mutex_init(&fz_srv.load_mu, NULL);
        pthread_cond_init(&fz_srv.load_cv, NULL);
        pthread_mutex_init(&fz_srv.live_mu, NULL);
        pthread_mutex_init(&fz_srv.cam_mu, NULL);
        atomic_store(&fz_srv.state, FT_SERVER_LOADING);
        fz_wctx.pool = FT_POOL_DB;
    }
    ft_gallery_close(fz_wctx.g);
    fz_wctx.g = NULL;
    if ((st = ft_gallery_open(":memory:", NULL, &fz_wctx.g, &e)) != FT_OK)
        fz_die("gallery_open", st, &e);
    fz_gallery_fill(fz_wctx.g);
}

static void fz_req_init(ft_http_req *r, const char *method, const char *path)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->path = path;
    r->route_index = -1;
    r->role = FT_HTTP_ADMIN;
    r->app = &fz_srv;
    r->tctx = &fz_wctx;
    ft_buf_init(&r->out, 0);
}

// Runs route `i` on `r` (route and params already set) and checks the reply.
static void fz_req_run(ft_http_req *r, size_t i)
{
    r->route = &ft_http__routes[i];
    r->route_index = (int)i;
    ft_http__routes[i].fn(r);
    if (r->status < 100 || r->status > 599) {
        fprintf(stderr, "%s %s: status %d\n", r->method, ft_http__routes[i].pattern, r->status);
        abort();
    }
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FT_FUZZ_VERBOSE") != NULL;
    if (verbose) // FT_FUZZ_VERBOSE=1: what each seed reaches
        fprintf(stderr, "%s %s -> %d %.*s\n", r->method, r->path, r->status,
                (int)(r->out.len < 160 ? r->out.len : 160), (const char *)r->out.data);
    bool json = !r->out_type || strncmp(r->out_type, "application/json", 16) == 0;
    if (json && r->status != 204) {
        json_error_t je;
        json_t *j = json_loadb((const char *)r->out.data, r->out.len, 0, &je);
        if (!json_is_object(j)) {
            fprintf(stderr, "%s %s: status %d, reply is not a JSON object: %s\n%.*s\n",
                    r->method, ft_http__routes[i].pattern, r->status, je.text,
                    (int)(r->out.len < 400 ? r->out.len : 400), (const char *)r->out.data);
            abort();
        }
        json_decref(j);
    }
}

static void fz_req_deinit(ft_http_req *r)
{
    ft_buf_deinit(&r->out);
}

// The index of the route `method` `pattern`, or abort (the table changed).
static inline size_t fz_route(const char *method, const char *pattern)
{
    for (size_t i = 0; i < ft_http__n_routes; i++)
        if (strcmp(ft_http__routes[i].method, method) == 0 &&
            strcmp(ft_http__routes[i].pattern, pattern) == 0)
            return i;
    fprintf(stderr, "fuzz setup: no route %s %s\n", method, pattern);
    abort();
}

#endif
