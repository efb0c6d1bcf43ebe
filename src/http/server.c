// The facetracker server's lifecycle: options, the bind rule for API keys,
// models (loaded on their own thread once the server listens, see
// server.h), per-thread contexts (an inference context and a gallery
// connection per worker), authentication against the gallery's hashed
// keys, and the HTTP core started with the route table of api.c.
#include "http/http_internal.h"

#include "core/clock.h"
#include "core/mem.h"
#include "core/pool.h"
#include "door/door.h"
#include "face/faceres.h"
#include "gallery/sync.h"

#include <arpa/inet.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ft_server_opts ft_server_opts_default(void)
{
    ft_server_opts o;
    memset(&o, 0, sizeof o);
    o.bind = "127.0.0.1";
    o.port = 8080;
    o.detector = ft_detect_opts_default().kind; // YuNet (issue 11)
    o.max_body_bytes = 10u << 20;
    o.max_pixels = 40000000;
    o.header_timeout_ms = 10000;
    o.body_timeout_ms = 60000;
    o.conn_timeout_s = 30;
    ft_door_opts door = ft_door_opts_default(); // the door's own k of n and gap
    o.door_k = door.k;
    o.door_n = door.n;
    o.door_gap_s = door.gap_s;
    o.detect_every = door.detect_every;
    o.load_in_background = true;
    o.auth_fail_max = 10;
    o.auth_fail_window_s = 60;
    o.auth_block_s = 60;
    return o;
}

bool ft_server_is_loopback(const char *addr)
{
    if (!addr || !*addr || strcmp(addr, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

// ---- Thread contexts ----

static ft_status worker_init(void *ctx, int pool, int index, void **tctx, ft_err *err)
{
    ft_server *s = ctx;
    ft_wctx *w = ft_calloc(1, sizeof *w);
    if (!w)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    w->pool = pool;
    ft_status st = FT_OK;
    // One thread per inference: two single-thread inferences side by side
    // beat one inference on two threads on this kind of machine.
    if (pool == FT_POOL_INFER)
        st = ft_nn_ctx_new(1, &w->nn);
    // ft_fmodel is not thread-safe: one copy per inference worker.
    if (st == FT_OK && pool == FT_POOL_INFER && s->trained_model) {
        ft_err e;
        ft_err_clear(&e);
        if ((st = ft_fmodel_load(s->trained_model, &w->fm, &e)) != FT_OK) {
            const char *msg = ft_err_msg(&e, st);
            if (strstr(msg, s->trained_model) && err)
                *err = e;
            else
                ft_err_set(err, st, "%s: %s", s->trained_model, msg);
            ft_nn_ctx_free(w->nn);
            ft_free(w);
            return st;
        }
    }
    if (st == FT_OK)
        st = ft_gallery_open(s->db_path, NULL, &w->g, err);
    if (st != FT_OK) {
        ft_nn_ctx_free(w->nn);
        ft_fmodel_free(w->fm);
        ft_free(w);
        return st == FT_E_NOMEM ? ft_err_set(err, st, "out of memory") : st;
    }
    *tctx = w;
    return FT_OK;
}

static void worker_deinit(void *ctx, int pool, void *tctx)
{
    ft_wctx *w = tctx;
    if (!w)
        return;
    ft_gallery_close(w->g);
    ft_nn_ctx_free(w->nn);
    ft_fmodel_free(w->fm);
    ft_free(w);
}

// No key defined: everyone is admin (the bind rule keeps such a server on
// loopback). Any key row, even revoked: a valid key is required.
static ft_status auth(void *ctx, void *tctx, const char *key, unsigned *role, int64_t *key_id,
                      ft_err *err)
{
    ft_wctx *w = tctx;
    ft_gallery_counts c;
    ft_status st = ft_gallery_counts_get(w->g, &c, err);
    if (st != FT_OK)
        return st;
    if (c.api_keys == 0) {
        *role = FT_HTTP_ADMIN;
        return FT_OK;
    }
    if (!key || !*key)
        return ft_err_set(err, FT_E_AUTH,
                          "an API key is required (X-API-Key or Authorization: Bearer)");
    ft_api_key k;
    st = ft_gallery_key_verify(w->g, key, &k, err);
    if (st != FT_OK)
        return st;
    *key_id = k.id;
    *role = k.role == FT_ROLE_ADMIN    ? FT_HTTP_ADMIN
            : k.role == FT_ROLE_DEVICE ? FT_HTTP_DEVICE
                                       : FT_HTTP_VIEWER;
    return FT_OK;
}

static void gauges(void *ctx, ft_buf *out)
{
    ft_server *s = ctx;
    ft_buf_printf(out,
                  "# HELP facetracker_queue_depth Jobs queued or running per worker pool.\n"
                  "# TYPE facetracker_queue_depth gauge\n"
                  "facetracker_queue_depth{pool=\"inference\"} %zu\n"
                  "facetracker_queue_depth{pool=\"db\"} %zu\n"
                  "# HELP facetracker_workers Inference worker threads.\n"
                  "# TYPE facetracker_workers gauge\n"
                  "facetracker_workers %d\n",
                  ft_httpd_queue_depth(s->httpd, FT_POOL_INFER),
                  ft_httpd_queue_depth(s->httpd, FT_POOL_DB), s->o.threads);
    if (s->door_started)
        ft_http__door_gauges(s, out);
    if (s->sync) {
        ft_gallery_sync_status ss;
        ft_gallery_sync_status_get(s->sync, &ss);
        ft_buf_printf(out,
                      "# HELP facetracker_db_connected Whether the shared database is reachable "
                      "(0: degraded, deciding from memory).\n"
                      "# TYPE facetracker_db_connected gauge\n"
                      "facetracker_db_connected %d\n"
                      "# HELP facetracker_spool_events Events waiting in the local spool.\n"
                      "# TYPE facetracker_spool_events gauge\n"
                      "facetracker_spool_events %lld\n"
                      "# HELP facetracker_spool_flushed_total Spooled events stored since start.\n"
                      "# TYPE facetracker_spool_flushed_total counter\n"
                      "facetracker_spool_flushed_total %lld\n"
                      "# HELP facetracker_notify_apply_seconds NOTIFY-to-applied latency (commit "
                      "elsewhere to templates reloaded here).\n"
                      "# TYPE facetracker_notify_apply_seconds summary\n"
                      "facetracker_notify_apply_seconds_sum %.6f\n"
                      "facetracker_notify_apply_seconds_count %lld\n",
                      ss.connected ? 1 : 0, (long long)ss.spooled, (long long)ss.flushed,
                      ss.lag_sum_ms / 1000.0, (long long)ss.lag_count);
    }
}

// The change feed's hook, on its listener thread: the gallery's people or
// samples changed (here, on another server, or while we were away), so
// the door's templates reload now rather than on the next decision.
static void sync_changed(void *arg)
{
    ft_server *s = arg;
    if (ft_server_state_get(s) != FT_SERVER_READY || !s->door)
        return;
    if (!s->sync_g && ft_gallery_open(s->db_path, NULL, &s->sync_g, NULL) != FT_OK)
        return;
    const ft_match_matrix *m;
    if (ft_door_matrix_acquire(s->door, s->sync_g, &m, NULL) == FT_OK)
        ft_door_matrix_release(s->door);
}

// ---- Models ----

// The five face-api networks the server loads (ft_models_opts_default).
static const char *const model_files[] = {
    "ssd_mobilenetv1_model", "tiny_face_detector_model", "face_landmark_68_model",
    "face_landmark_68_tiny_model", "face_recognition_model"};

// A missing model file is the usual mistake (wrong --models, no setup):
// report it from ft_server_start, before listening, even when the loading
// itself happens in the background.
static ft_status models_present(const char *dir, ft_err *err)
{
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s-weights_manifest.json", dir, model_files[i]);
        if (access(p, R_OK) != 0)
            return ft_err_set(err, FT_E_NOT_FOUND,
                              "%s: no such model file (run tools/setup.sh, or point --models or "
                              "FT_MODELS_DIR at the face-api model folder)",
                              p);
    }
    return FT_OK;
}

static ft_status models_load(ft_server *s, ft_err *err)
{
    ft_models_opts mo = ft_models_opts_default();
    mo.dir = s->models_dir;
    ft_face_models *m = NULL;
    ft_status st = ft_face_models_load(&mo, &m, err);
    if (st == FT_OK && strcmp(s->net->name, "faceres") == 0)
        st = ft_faceres_load(ft_descriptor_faceres_path(), NULL, &s->faceres, err);
    if (st == FT_OK) {
        // The door (and the cameras it watches) before anyone sees READY.
        s->models = m;
        st = ft_http__door_models_ready(s, err);
    }
    pthread_mutex_lock(&s->load_mu);
    s->load_st = st;
    if (st != FT_OK && err)
        s->load_err = *err;
    s->models = m;
    atomic_store_explicit(&s->state, st == FT_OK ? FT_SERVER_READY : FT_SERVER_FAILED,
                          memory_order_release);
    pthread_cond_broadcast(&s->load_cv);
    pthread_mutex_unlock(&s->load_mu);
    ft_gallery_sync_poke(s->sync); // load the templates before the first decision
    return st;
}

static void *loader_main(void *p)
{
    ft_server *s = p;
    ft_err err;
    ft_err_clear(&err);
    double t0 = ft_now_ms();
    // A failure is reported by ft_server_wait_ready and /healthz.
    ft_status st = models_load(s, &err);
    if (st == FT_OK && s->o.verbose && s->o.log) {
        char line[160];
        snprintf(line, sizeof line, "facetracker: models loaded in %.0f ms (ready %.0f ms after start)",
                 ft_now_ms() - t0, ft_now_ms() - s->t_start_ms);
        s->o.log(s->o.log_ctx, line);
    }
    return NULL;
}

static const char *unavailable(void *ctx, ft_route_pool pool)
{
    ft_server *s = ctx;
    if (pool != FT_POOL_INFER)
        return NULL;
    switch (ft_server_state_get(s)) {
    case FT_SERVER_READY:
        return NULL;
    case FT_SERVER_LOADING:
        return "the models are still loading; retry in a second";
    default:
        return "the models failed to load (see /healthz and the server log)";
    }
}

ft_server_state ft_server_state_get(const ft_server *s)
{
    return (ft_server_state)atomic_load_explicit(&((ft_server *)s)->state, memory_order_acquire);
}

ft_status ft_server_wait_ready(ft_server *s, ft_err *err)
{
    pthread_mutex_lock(&s->load_mu);
    while (atomic_load(&s->state) == FT_SERVER_LOADING)
        pthread_cond_wait(&s->load_cv, &s->load_mu);
    ft_status st = s->load_st;
    if (st != FT_OK && err)
        *err = s->load_err;
    pthread_mutex_unlock(&s->load_mu);
    return st;
}

// ---- Start and stop ----

static void request_log(void *ctx, const char *line)
{
    ft_server *s = ctx;
    s->o.log(s->o.log_ctx, line);
}

// A PEM file for HTTPS, read whole into `b` (which the caller frees).
static ft_status pem_read(const char *what, const char *path, ft_buf *b, ft_err *err)
{
    ft_err e;
    ft_err_clear(&e);
    ft_buf_init(b, 0);
    ft_status st = ft_file_read(path, 1u << 20, b, &e);
    if (st != FT_OK)
        return ft_err_set(err, st == FT_E_NOMEM ? st : FT_E_IO, "cannot read the TLS %s: %s",
                          what, ft_err_msg(&e, st));
    if (ft_buf_append(b, "", 1) != FT_OK) // NUL-terminated for libmicrohttpd
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    if (!strstr((const char *)b->data, "-----BEGIN "))
        return ft_err_set(err, FT_E_FORMAT, "%s %s is not a PEM file (-----BEGIN ... missing)",
                          what, path);
    return FT_OK;
}

ft_status ft_server_start(const ft_server_opts *o, ft_server **out, ft_err *err)
{
    ft_status st;
    ft_server *s = ft_calloc(1, sizeof *s);
    if (!s)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    s->t_start_ms = ft_now_ms();
#ifdef __GLIBC__
    // glibc raises its mmap threshold each time a large mmapped block is
    // freed (up to 32 MiB), after which per-request buffers of a few MiB
    // (decoded photos, resized copies) come from the heaps of the worker
    // threads and are not given back: resident memory crept from 118 to
    // 150 MiB over a few dozen 1920-px photos. A fixed threshold keeps
    // them mmapped and returned on free, for ~400 page faults a request
    // (no measurable CPU).
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    s->o = o ? *o : ft_server_opts_default();
    s->net = s->o.descriptor ? ft_descriptor_net_find(s->o.descriptor)
                             : ft_descriptor_net_default();
    if (!s->net) {
        ft_free(s);
        return ft_err_set(err, FT_E_INVALID, "descriptor network %s: unknown (resnet128, faceres)",
                          o->descriptor);
    }
    if (s->o.threads <= 0)
        s->o.threads = ft_cpu_count();
    if (s->o.max_body_bytes == 0)
        s->o.max_body_bytes = 10u << 20;
    if (s->o.max_pixels == 0)
        s->o.max_pixels = 40000000;
    pthread_rwlock_init(&s->mx_lock, NULL);
    pthread_mutex_init(&s->load_mu, NULL);
    pthread_cond_init(&s->load_cv, NULL);
    atomic_init(&s->state, FT_SERVER_LOADING);
    ft_err_clear(&s->load_err);
    s->bind = ft_strdup(s->o.bind && *s->o.bind ? s->o.bind : "127.0.0.1");
    s->db_path = ft_strdup(s->o.db_path ? s->o.db_path : FT_GALLERY_DEFAULT_PATH);
    s->models_dir = ft_strdup(s->o.models_dir ? s->o.models_dir : ft_models_default_dir());
    s->trained_model = s->o.trained_model ? ft_strdup(s->o.trained_model) : NULL;
    if (!s->bind || !s->db_path || !s->models_dir || (s->o.trained_model && !s->trained_model)) {
        st = ft_err_set(err, FT_E_NOMEM, "out of memory");
        goto fail;
    }
    s->o.bind = s->bind;
    s->o.db_path = s->db_path;
    s->o.models_dir = s->models_dir;
    s->o.trained_model = s->trained_model;

    {
        struct in_addr a4;
        struct in6_addr a6;
        if (strcmp(s->bind, "localhost") != 0 && inet_pton(AF_INET, s->bind, &a4) != 1 &&
            inet_pton(AF_INET6, s->bind, &a6) != 1) {
            st = ft_err_set(err, FT_E_INVALID, "bind address '%s' is not an IP address", s->bind);
            goto fail;
        }
    }
    // The bind rule: without any key, loopback only (unless --insecure).
    {
        ft_gallery *g = NULL;
        ft_gallery_counts c;
        st = ft_gallery_open(s->db_path, NULL, &g, err);
        if (st == FT_OK)
            st = ft_gallery_counts_get(g, &c, err);
        ft_gallery_close(g);
        if (st != FT_OK)
            goto fail;
        if (c.api_keys == 0 && !ft_server_is_loopback(s->bind) && !s->o.insecure) {
            st = ft_err_set(err, FT_E_AUTH,
                            "refusing to listen on %s with no API key defined: create one with "
                            "`facetracker keys create NAME --role admin`, bind to 127.0.0.1, "
                            "or pass --insecure",
                            s->bind);
            goto fail;
        }
    }

    if ((st = models_present(s->models_dir, err)) != FT_OK)
        goto fail;
    // A PostgreSQL gallery: follow its change feed, spool events while it
    // is away. Before any worker opens its connection (they attach to it).
    if (strncmp(s->db_path, "postgresql://", 13) == 0 ||
        strncmp(s->db_path, "postgres://", 11) == 0) {
        ft_gallery_sync_opts so = ft_gallery_sync_opts_default();
        s->spool_path = ft_strdup(s->o.spool_path ? s->o.spool_path : "./facetracker-spool.db");
        if (!s->spool_path) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory");
            goto fail;
        }
        s->o.spool_path = s->spool_path;
        so.spool_path = s->spool_path;
        so.on_change = sync_changed;
        so.arg = s;
        if ((st = ft_gallery_sync_start(s->db_path, &so, &s->sync, err)) != FT_OK)
            goto fail;
    }
    // door_stop undoes even a failed start (it frees what was made).
    st = ft_http__door_start(s, err);
    s->door_started = true;
    if (st != FT_OK)
        goto fail;
    if (!s->o.load_in_background && (st = models_load(s, err)) != FT_OK)
        goto fail;

    s->app.routes = ft_http__routes;
    s->app.n_routes = ft_http__n_routes;
    s->app.ctx = s;
    s->app.worker_init = worker_init;
    s->app.worker_deinit = worker_deinit;
    s->app.auth = auth;
    s->app.gauges = gauges;
    s->app.unavailable = unavailable;

    if (s->o.verbose && s->o.log)
        s->app.log = request_log;

    ft_http_limits lim = ft_http_limits_default();
    // Requests from elsewhere and failed keys (docs/SECURITY.md).
    lim.check_host = true;
    lim.check_origin = true;
    lim.allowed_origins = s->o.allow_origins;
    lim.n_allowed_origins = s->o.n_allow_origins;
    lim.server_names = s->o.server_names;
    lim.n_server_names = s->o.n_server_names;
    lim.trusted_proxies = s->o.trusted_proxies;
    lim.n_trusted_proxies = s->o.n_trusted_proxies;
    lim.auth_fail_max = s->o.auth_fail_max;
    lim.auth_fail_window_s = s->o.auth_fail_window_s;
    lim.auth_block_s = s->o.auth_block_s;
    ft_buf cert, key;
    ft_buf_init(&cert, 0);
    ft_buf_init(&key, 0);
    if (s->o.tls_cert || s->o.tls_key) {
        if (!s->o.tls_cert || !s->o.tls_key) {
            st = ft_err_set(err, FT_E_INVALID, "HTTPS needs both --tls-cert and --tls-key");
            goto fail;
        }
        if ((st = pem_read("certificate", s->o.tls_cert, &cert, err)) != FT_OK ||
            (st = pem_read("key", s->o.tls_key, &key, err)) != FT_OK) {
            ft_buf_deinit(&cert);
            ft_buf_deinit(&key);
            goto fail;
        }
        lim.tls_cert_pem = (const char *)cert.data;
        lim.tls_key_pem = (const char *)key.data;
    }
    // Multipart framing adds a little to the largest accepted file.
    lim.max_body_bytes = s->o.max_body_bytes + 64 * 1024;
    lim.header_timeout_ms = s->o.header_timeout_ms ? s->o.header_timeout_ms : 10000;
    lim.body_timeout_ms = s->o.body_timeout_ms ? s->o.body_timeout_ms : 60000;
    lim.conn_timeout_s = s->o.conn_timeout_s ? s->o.conn_timeout_s : 30;
    lim.threads[FT_POOL_INFER] = s->o.threads;
    // The queue bounds the wait, not memory (MHD holds the bodies of all
    // connections anyway): 16 jobs a worker is 1-2 s of work at ~100 ms of
    // CPU a request, and lets 32 clients send back to back without a 503.
    size_t qdef = 16 * (size_t)s->o.threads < 32 ? 32 : 16 * (size_t)s->o.threads;
    lim.queue_max[FT_POOL_INFER] = s->o.queue_max ? s->o.queue_max : qdef;
    lim.threads[FT_POOL_DB] = 1;
    st = ft_httpd_start(&s->app, s->bind, s->o.port, &lim, &s->httpd, err);
    // The key's bytes do not outlive their use.
    if (key.data)
        memset(key.data, 0, key.len);
    ft_buf_deinit(&cert);
    ft_buf_deinit(&key);
    // The lists were copied by ft_httpd_start; the caller's may go.
    s->o.allow_origins = s->o.server_names = s->o.trusted_proxies = NULL;
    s->o.n_allow_origins = s->o.n_server_names = s->o.n_trusted_proxies = 0;
    s->o.tls_cert = s->o.tls_key = NULL;
    if (st != FT_OK)
        goto fail;
    if (s->o.load_in_background) {
        if (pthread_create(&s->loader, NULL, loader_main, s) != 0) {
            st = ft_err_set(err, FT_E_INTERNAL, "cannot start the model loading thread");
            goto fail;
        }
        s->loader_started = true;
    }
    *out = s;
    return FT_OK;
fail:
    ft_server_stop(s);
    return st;
}

uint16_t ft_server_port(const ft_server *s)
{
    return ft_httpd_port(s->httpd);
}

void ft_server_stop(ft_server *s)
{
    if (!s)
        return;
    // Loading cannot be interrupted; it takes well under a second.
    if (s->loader_started)
        pthread_join(s->loader, NULL);
    ft_httpd_stop(s->httpd);
    // The feed's thread reloads the door's matrix: it goes first.
    ft_gallery_sync_stop(s->sync);
    ft_gallery_close(s->sync_g);
    if (s->door_started)
        ft_http__door_stop(s);
    ft_match_matrix_free(s->matrix);
    ft_faceres_free(s->faceres);
    ft_face_models_free(s->models);
    pthread_rwlock_destroy(&s->mx_lock);
    pthread_mutex_destroy(&s->load_mu);
    pthread_cond_destroy(&s->load_cv);
    ft_free(s->bind);
    ft_free(s->db_path);
    ft_free(s->models_dir);
    ft_free(s->trained_model);
    ft_free(s->spool_path);
    ft_free(s);
}
